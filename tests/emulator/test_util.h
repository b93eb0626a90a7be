// Helpers shared by the emulator tests.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "tests/support/device_buffer.h"
#include "mvit_emu/device_ops.h"
#include "mvit_emu/emu.h"

namespace mvit {
namespace emutest {

using test::DeviceBuffer;

// Holds a stream back: what is queued after the gate waits until open(), or until the gate is
// destroyed, so that a failing assertion cannot leave the stream blocked forever.
class StreamGate {
 public:
  explicit StreamGate(cudaStream_t stream) : opened_(promise_.get_future().share()) {
    std::shared_future<void> opened = opened_;
    MVIT_CUDA_CHECK(emu::enqueue(
        stream, [opened] { opened.wait(); }, "test gate"));
  }
  ~StreamGate() { open(); }
  StreamGate(const StreamGate&) = delete;
  StreamGate& operator=(const StreamGate&) = delete;
  void open() {
    if (!is_open_) promise_.set_value();
    is_open_ = true;
  }

 private:
  std::promise<void> promise_;
  std::shared_future<void> opened_;
  bool is_open_ = false;
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
