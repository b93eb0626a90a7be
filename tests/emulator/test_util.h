// Helpers shared by the emulator tests.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "mvit_emu/emu.h"

namespace mvit {
namespace emutest {

// Owns a cudaMalloc'd array of T.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t n) : n_(n) {
    MVIT_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), n * sizeof(T)));
  }
  explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
  ~DeviceArray() { cudaFree(ptr_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return ptr_; }
  size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    MVIT_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    MVIT_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  T* ptr_ = nullptr;
  size_t n_;
};

// Tests that provoke device faults: each starts and ends with a clean device (no sticky error).
class DeviceFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cudaDeviceReset(), cudaSuccess); }
  void TearDown() override { cudaDeviceReset(); }

  // Runs `launch`, synchronizes, and returns the text of the error reported (empty when none).
  // A fault surfaces either at the launch check (when the stream has already executed the kernel:
  // asynchronous errors are reported by the next runtime call) or at the synchronization.
  template <class F>
  static std::string fault_text(F&& launch) {
    try {
      launch();
      MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    } catch (const mvit::Error& e) {
      return e.what();
    }
    return std::string();
  }
};

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace emutest
}  // namespace mvit
