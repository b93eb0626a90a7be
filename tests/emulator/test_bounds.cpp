// Issue 7: what the emulator catches beyond the execution model's rules. Pointer arguments that
// do not point into device memory fault like a GPU's illegal address (Note [pointer arguments]
// in emulator/src/launch_checks.cpp); MVIT_LAUNCH_BOUNDS is enforced at launch; the sanitizers'
// reports name the emulated kernel, block and thread (Note [sanitizer context]); WMMA calls must
// be warp-uniform (Note [one lane per warp] in emulator/include/mvit_emu/wmma.h).
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "mvit_emu/emu.h"
#include "tests/emulator/bounds_kernels.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

using BoundsTest = DeviceFaultTest;

// ---- pointer arguments -------------------------------------------------------------------------

TEST_F(BoundsTest, DevicePointerArgumentRuns) {
  DeviceBuffer<int> out(64);
  write_index(out.get(), 64, nullptr);
  const std::vector<int> got = out.download();
  for (int t = 0; t < 64; ++t) ASSERT_EQ(got[t], t);
}

TEST_F(BoundsTest, HostPointerArgumentIsAnIllegalAddress) {
  std::vector<int> host(64);
  const std::string text = fault_text([&] { write_index(host.data(), 64, nullptr); });
  EXPECT_TRUE(contains(text, "cudaErrorIllegalAddress")) << text;
  EXPECT_TRUE(contains(text, "write_index_kernel")) << text;
  EXPECT_TRUE(contains(text, "argument 0")) << text;
  char pointer[32];
  std::snprintf(pointer, sizeof pointer, "%p", static_cast<void*>(host.data()));
  EXPECT_TRUE(contains(text, pointer)) << text;
  // Sticky, as an asynchronous fault is on a GPU.
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorIllegalAddress);
  for (int v : host) ASSERT_EQ(v, 0) << "the kernel must not have run";
}

TEST_F(BoundsTest, FreedPointerArgumentIsAnIllegalAddress) {
  int* p = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&p), 64 * sizeof(int)), cudaSuccess);
  ASSERT_EQ(cudaFree(p), cudaSuccess);
  const std::string text = fault_text([&] { write_index(p, 64, nullptr); });
  EXPECT_TRUE(contains(text, "cudaErrorIllegalAddress")) << text;
  EXPECT_TRUE(contains(text, "argument 0")) << text;
}

TEST_F(BoundsTest, PinnedHostPointerArgumentIsRejected) {
  int* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&pinned), 64 * sizeof(int)), cudaSuccess);
  const std::string text = fault_text([&] { write_index(pinned, 64, nullptr); });
  EXPECT_TRUE(contains(text, "cudaErrorIllegalAddress")) << text;
  cudaDeviceReset();
  cudaFreeHost(pinned);
}

TEST_F(BoundsTest, NullAndOnePastTheEndArgumentsAreAccepted) {
  DeviceBuffer<int> values(std::vector<int>{1, 2, 3, 4});
  DeviceBuffer<int> out(1);
  range_sum(values.get(), values.get() + 4, out.get(), nullptr);
  EXPECT_EQ(out.download()[0], 10);
  optional_read(nullptr, out.get(), nullptr);
  EXPECT_EQ(out.download()[0], -1);
  // A stray pointer two past the end is not.
  const std::string text =
      fault_text([&] { range_sum(values.get(), values.get() + 5, out.get(), nullptr); });
  EXPECT_TRUE(contains(text, "argument 1")) << text;
}

// ---- launch bounds ------------------------------------------------------------------------------

TEST_F(BoundsTest, LaunchWithinBoundsRuns) {
  DeviceBuffer<int> out(128);
  bounded_128(out.get(), dim3(128), nullptr);
  bounded_64_2(out.get(), dim3(8, 4, 2), nullptr);
  bounded_template_96(out.get(), dim3(96), nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(out.download()[127], 1);
}

TEST_F(BoundsTest, LaunchBeyondBoundsFailsLikeAGpu) {
  DeviceBuffer<int> out(1024);
  struct Case {
    void (*launch)(int*, dim3, cudaStream_t);
    dim3 block;
    const char* kernel;
    const char* bound;
  };
  for (const Case& c :
       {Case{bounded_128, dim3(129), "bounded_128_kernel", "of 128 threads"},
        Case{bounded_64_2, dim3(8, 4, 3), "bounded_64_2_kernel", "of 64 threads"},
        Case{bounded_template_96, dim3(128), "bounded_template_kernel<0>", "of 96 threads"}}) {
    std::string text;
    try {
      c.launch(out.get(), c.block, nullptr);
    } catch (const mvit::Error& e) {
      text = e.what();
    }
    EXPECT_TRUE(contains(text, "cudaErrorLaunchOutOfResources")) << text;
    EXPECT_TRUE(contains(text, c.kernel)) << text;
    EXPECT_TRUE(contains(text, std::string("MVIT_LAUNCH_BOUNDS ") + c.bound)) << text;
    // A launch error, not a sticky fault: the device keeps working.
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  }
  // Kernels without bounds keep the device's limit.
  write_index(out.get(), 1024, nullptr);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

// ---- WMMA
// -----------------------------------------------------------------------------------------

std::vector<__half> tile_and_identity() {
  std::vector<__half> a(512);
  for (int i = 0; i < 256; ++i) a[i] = __float2half(static_cast<float>(i % 17 - 8));
  for (int i = 0; i < 256; ++i) a[256 + i] = __float2half(i / 16 == i % 16 ? 1.0f : 0.0f);
  return a;
}

TEST_F(BoundsTest, WmmaUniformCallsCompute) {
  DeviceBuffer<__half> a(tile_and_identity());
  DeviceBuffer<float> c(256);
  wmma_copy_tile(a.get(), c.get(), -1, nullptr);
  const std::vector<float> got = c.download();
  for (int i = 0; i < 256; ++i) ASSERT_EQ(got[i], static_cast<float>(i % 17 - 8)) << i;
}

TEST_F(BoundsTest, WmmaLoadWithLaneDependentPointerFaults) {
  DeviceBuffer<__half> a(tile_and_identity());
  DeviceBuffer<float> c(256);
  const std::string text = fault_text([&] { wmma_copy_tile(a.get(), c.get(), 5, nullptr); });
  EXPECT_TRUE(contains(text, "must be the same in every lane")) << text;
  EXPECT_TRUE(contains(text, "operand a of lane 5")) << text;
  EXPECT_TRUE(contains(text, "bounds_kernels.cu")) << text;
}

TEST_F(BoundsTest, WmmaLanesAtDifferentOperationsFault) {
  DeviceBuffer<__half> a(tile_and_identity());
  DeviceBuffer<float> c(256);
  const std::string text = fault_text([&] { wmma_mixed_loads(a.get(), c.get(), nullptr); });
  EXPECT_TRUE(contains(text, "operand a of lane 16 comes from a different call")) << text;
  EXPECT_TRUE(contains(text, "never loaded or filled")) << text;
}

// Many mma_sync in a row on one accumulator: the one-lane-per-warp path keeps every lane's view of
// the fragment. Its speed is emu-bench's business (emulator/README.md), not a test's.
TEST_F(BoundsTest, WmmaRepeatedMmaSyncAccumulates) {
  constexpr int kIterations = 40;
  DeviceBuffer<float> c(256);
  wmma_mma_loop(c.get(), kIterations, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  for (float v : c.download()) ASSERT_EQ(v, 16.0f * kIterations);
}

// ---- sanitizer reports name the emulated thread
// ---------------------------------------------------

#if defined(__SANITIZE_ADDRESS__)
// Each statement runs in a re-executed child ("threadsafe": fork() would lose the worker
// threads). Whether the sanitizer halts depends on its options, so the child exits by itself when
// it survives, and only the report text is checked.
bool any_status(int) {
  return true;
}

TEST(BoundsDeathTest, GlobalOverrunReportNamesKernelBlockAndThread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DeviceBuffer<float> in(64);
        DeviceBuffer<float> out(64);
        shifted_copy(in.get(), out.get(), 1, nullptr);
        cudaDeviceSynchronize();
        std::_Exit(3);
      },
      any_status,
      "mvit emulator: this AddressSanitizer report comes from kernel "
      "mvit::emutest::shifted_copy_kernel\\(float const\\*, float\\*, int\\), block \\(1,0,0\\), "
      "thread \\(31,0,0\\)(.|\n)*heap-buffer-overflow");
}

TEST(BoundsDeathTest, SharedOverrunReportNamesKernelBlockAndThread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DeviceBuffer<float> out(32);
        shared_overrun(out.get(), 7, nullptr);
        cudaDeviceSynchronize();
        std::_Exit(3);
      },
      any_status,
      // UBSan's bounds check sees the array's type and reports first; ASan would otherwise.
      "(AddressSanitizer|UndefinedBehaviorSanitizer) report comes from kernel "
      "mvit::emutest::shared_overrun_kernel\\(float\\*, int, int\\), block \\(0,0,0\\), thread "
      "\\(7,0,0\\)");
}

TEST(BoundsDeathTest, MisalignedVectorLoadReportNamesKernelBlockAndThread) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        DeviceBuffer<float> in(4 * 32 + 4);
        DeviceBuffer<float> out(32);
        vector_load(in.get(), out.get(), 3, nullptr);
        cudaDeviceSynchronize();
        std::_Exit(3);
      },
      any_status,
      "misaligned address(.|\n)*UndefinedBehaviorSanitizer report comes from kernel "
      "mvit::emutest::vector_load_kernel\\(float const\\*, float\\*, int\\), block \\(0,0,0\\), "
      "thread \\(3,0,0\\)|UndefinedBehaviorSanitizer report comes from kernel "
      "mvit::emutest::vector_load_kernel\\(float const\\*, float\\*, int\\), block \\(0,0,0\\), "
      "thread \\(3,0,0\\)(.|\n)*misaligned address");
}

#endif

// The controls: the same kernels used correctly run cleanly (also under the sanitizers).
TEST_F(BoundsTest, SanitizerControlsRunCleanly) {
  DeviceBuffer<float> in(std::vector<float>(4 * 32 + 4, 1.0f)), out(64);
  shifted_copy(in.get(), out.get(), 0, nullptr);
  shared_overrun(out.get(), -1, nullptr);
  vector_load(in.get(), out.get(), -1, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(out.download()[0], 4.0f);
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
