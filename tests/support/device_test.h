// DeviceTest: the fixture of every kernel test. The same test source runs in both builds: in the
// emulated build on the CPU emulator (always present), in the cuda build on a real GPU, and where
// the cuda build finds no usable GPU every case skips and says why (no driver, no device).
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <string>

namespace mvit {
namespace test {

// Empty when a device can run kernels, else the reason (for GTEST_SKIP).
inline std::string no_device_reason() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable GPU: cudaGetDeviceCount returned ") + cudaGetErrorName(e) + " (" +
           cudaGetErrorString(e) + ")";
  }
  if (count == 0) return "no usable GPU: cudaGetDeviceCount found 0 devices";
  return std::string();
}

template <class Base = ::testing::Test>
class DeviceTestOf : public Base {
 protected:
  void SetUp() override {
    const std::string why = no_device_reason();
    if (!why.empty()) GTEST_SKIP() << why;
  }
};

using DeviceTest = DeviceTestOf<>;

}  // namespace test
}  // namespace mvit
