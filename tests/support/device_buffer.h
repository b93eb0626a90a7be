// DeviceBuffer<T>: one cudaMalloc'd array of T, freed when it goes out of scope (also when a
// failed ASSERT returns from the test body). The one device-buffer helper of the tests, the demo
// and the benchmarks.
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

#include "kernels/common/cuda_check.h"

namespace mvit {
namespace test {

template <class T>
class DeviceBuffer {
 public:
  // Uninitialised: the emulator fills it with its poison, a GPU leaves whatever was there.
  explicit DeviceBuffer(size_t n) : n_(n) {
    MVIT_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), n * sizeof(T)));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() { MVIT_CUDA_CHECK_LOG(cudaFree(ptr_)); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return ptr_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(T); }

  void upload(const std::vector<T>& host) {
    MVIT_CHECK(host.size() == n_, "DeviceBuffer::upload: %zu elements into a buffer of %zu",
               host.size(), n_);
    MVIT_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), bytes(), cudaMemcpyHostToDevice));
  }
  // Synchronous (cudaMemcpy waits for the legacy stream's work).
  std::vector<T> download() const {
    std::vector<T> host(n_);
    MVIT_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, bytes(), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* ptr_ = nullptr;
  size_t n_;
};

}  // namespace test
}  // namespace mvit
