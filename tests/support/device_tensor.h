// DeviceTensor: a device array of any storage type (DType), optionally replicated (the benchmark
// rotates through replicas so inputs come from DRAM) and optionally placed `offset` elements past
// a 256-byte aligned allocation (offset > 0 gives the unaligned base pointers that the scalar
// fallback paths are tested with). Values go in and out as floats, rounded to the type on upload.
#pragma once

#include <memory>
#include <vector>

#include "kernels/common/dtype.h"
#include "tests/support/device_buffer.h"
#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

class DeviceTensor {
 public:
  DeviceTensor(DType dtype, size_t n, int replicas = 1, size_t offset = 0)
      : dtype_(dtype), n_(n), offset_(offset) {
    MVIT_CHECK(replicas >= 1, "DeviceTensor: replicas must be >= 1, got %d", replicas);
    for (int r = 0; r < replicas; ++r) {
      buffers_.push_back(
          std::make_unique<DeviceBuffer<unsigned char>>((n + offset) * dtype_size(dtype)));
    }
  }
  DeviceTensor(DType dtype, const std::vector<float>& values, int replicas = 1, size_t offset = 0)
      : DeviceTensor(dtype, values.size(), replicas, offset) {
    upload(values);
  }

  DType dtype() const { return dtype_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * dtype_size(dtype_); }  // of one replica
  int replicas() const { return static_cast<int>(buffers_.size()); }
  void* get(int replica = 0) const {
    return buffers_.at(static_cast<size_t>(replica))->get() + offset_ * dtype_size(dtype_);
  }

  // The values rounded to dtype(), into every replica.
  void upload(const std::vector<float>& values) {
    MVIT_CHECK(values.size() == n_, "DeviceTensor::upload: %zu values into a tensor of %zu",
               values.size(), n_);
    const std::vector<unsigned char> raw = to_storage(dtype_, values);
    for (auto& b : buffers_) {
      MVIT_CUDA_CHECK(cudaMemcpy(b->get() + offset_ * dtype_size(dtype_), raw.data(), raw.size(),
                                 cudaMemcpyHostToDevice));
    }
  }
  // Synchronous (cudaMemcpy waits for the legacy stream's work).
  std::vector<float> download(int replica = 0) const {
    std::vector<unsigned char> raw(bytes());
    MVIT_CUDA_CHECK(cudaMemcpy(raw.data(), get(replica), raw.size(), cudaMemcpyDeviceToHost));
    return from_storage(dtype_, raw);
  }

 private:
  DType dtype_;
  size_t n_, offset_;
  std::vector<std::unique_ptr<DeviceBuffer<unsigned char>>> buffers_;
};

}  // namespace test
}  // namespace mvit
