// Errors a GPU (with compute-sanitizer) would report, reported by the emulator as a failing
// launch: they must be caught, never hang, and name the kernel, block, thread and source line.
#include "tests/emulator/test_kernels.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

using FaultTest = DeviceFaultTest;

TEST_F(FaultTest, DivergentBarrierIsCaughtAndNamesKernelBlockThreadAndLine) {
  const std::string text = fault_text([&] { divergent_barrier(64, 16, nullptr); });
  EXPECT_TRUE(contains(text, "cudaErrorLaunchFailure")) << text;
  EXPECT_TRUE(contains(text, "Barrier error detected. Divergent thread(s) in block")) << text;
  EXPECT_TRUE(contains(text, "mvit::emutest::divergent_barrier_kernel(int)")) << text;
  EXPECT_TRUE(contains(text, "block (0,0,0)")) << text;
  EXPECT_TRUE(contains(text, "thread (")) << text;
  EXPECT_TRUE(contains(text, "emulator_test_kernels.cu:")) << text;
}

TEST_F(FaultTest, ThreadsWaitingAtDifferentBarriersAreDivergent) {
  const std::string text = fault_text([&] { split_barriers(32, nullptr); });
  EXPECT_TRUE(contains(text, "Divergent thread(s) in block")) << text;
  EXPECT_TRUE(contains(text, "split_barriers_kernel")) << text;
}

TEST_F(FaultTest, EarlyExitBeforeBarrierIsReported) {
  const std::string text = fault_text([&] { early_exit_barrier(64, 40, nullptr); });
  EXPECT_TRUE(contains(text, "exited while 40 others wait in __syncthreads")) << text;
}

TEST_F(FaultTest, ShuffleMaskWithoutTheCallingLane) {
  const std::string text = fault_text([&] { shuffle_with_mask(0x0000ffffu, 20, 32, nullptr); });
  EXPECT_TRUE(contains(text,
                       "Invalid arguments: __shfl_sync mask 0x0000ffff does not name the "
                       "calling lane 20"))
      << text;
  EXPECT_TRUE(contains(text, "thread (20,0,0)")) << text;
}

TEST_F(FaultTest, ShuffleMaskNamingAnAbsentLaneOfAPartialWarp) {
  const std::string text = fault_text([&] { shuffle_with_mask(0xffffffffu, 40, 48, nullptr); });
  EXPECT_TRUE(contains(text, "names lanes 0xffff0000 that do not exist")) << text;
}

TEST_F(FaultTest, LanesWaitingForALaneThatReachedSyncthreadsDeadlock) {
  const std::string text = fault_text([&] { warp_block_deadlock(nullptr); });
  EXPECT_TRUE(contains(text, "Deadlock")) << text;
  EXPECT_TRUE(contains(text, "__shfl_sync")) << text;
  EXPECT_TRUE(contains(text, "__syncthreads")) << text;
}

TEST_F(FaultTest, LaneExitingWhileItsWarpWaitsInSyncwarp) {
  const std::string text = fault_text([&] { exit_during_syncwarp(nullptr); });
  // Forward order: lane 0 exits first, so the others name an exited lane; reverse order: the
  // others wait first and lane 0's exit is the divergence. Both are the same bug.
  EXPECT_TRUE(contains(text, "Divergent thread(s) in warp: lane 0 exited") ||
              contains(text, "names exited lanes 0x00000001"))
      << text;
  EXPECT_TRUE(contains(text, "__syncwarp")) << text;
}

TEST_F(FaultTest, FaultIsStickyUntilReset) {
  EXPECT_TRUE(contains(fault_text([&] { divergent_barrier(32, 1, nullptr); }), "Divergent"));
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 16), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure) << "sticky: not cleared by reading it";
  ASSERT_EQ(cudaDeviceReset(), cudaSuccess);
  EXPECT_EQ(cudaMalloc(&p, 16), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
}

TEST_F(FaultTest, BlockOver1024ThreadsIsALaunchError) {
  try {
    empty_kernel(dim3(1), dim3(1025), nullptr);
    FAIL() << "expected a launch error";
  } catch (const mvit::Error& e) {
    EXPECT_TRUE(contains(e.what(), "cudaErrorInvalidConfiguration")) << e.what();
    EXPECT_TRUE(contains(e.what(), "empty_kernel_impl")) << e.what();
    EXPECT_TRUE(contains(e.what(), "1025 threads exceeds the limits")) << e.what();
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the launch check consumed the error";
  // Without the launch check: the error stays until read, Peek leaves it, Get clears it.
  EXPECT_EQ(cudaMalloc(nullptr, 4), cudaErrorInvalidValue);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "launch and argument errors are not sticky";
}

TEST_F(FaultTest, OtherLaunchGeometryLimits) {
  EXPECT_THROW(empty_kernel(dim3(1), dim3(1, 1, 65), nullptr), mvit::Error);
  EXPECT_THROW(empty_kernel(dim3(1), dim3(32, 33), nullptr), mvit::Error);
  EXPECT_THROW(empty_kernel(dim3(1, 65536), dim3(32), nullptr), mvit::Error);
  EXPECT_NO_THROW(empty_kernel(dim3(1), dim3(1024), nullptr));
  EXPECT_NO_THROW(empty_kernel(dim3(1), dim3(16, 8, 8), nullptr));
}

TEST_F(FaultTest, ZeroSizedLaunchesAreErrors) {
  for (dim3 grid : {dim3(0), dim3(1, 0), dim3(1, 1, 0)}) {
    try {
      empty_kernel(grid, dim3(32), nullptr);
      FAIL() << "expected a launch error";
    } catch (const mvit::Error& e) {
      EXPECT_TRUE(contains(e.what(), "empty grid")) << e.what();
    }
  }
  EXPECT_THROW(empty_kernel(dim3(1), dim3(0), nullptr), mvit::Error);
}

TEST_F(FaultTest, StaticSharedMemoryOver48KiB) {
  DeviceBuffer<float> out(32);
  const std::string text = fault_text([&] { too_much_static_shared(out.get(), nullptr); });
  EXPECT_TRUE(contains(text, "static shared memory exceeds the 48 KiB limit")) << text;
  EXPECT_TRUE(contains(text, "MVIT_SHARED big (53248 bytes)")) << text;
}

TEST_F(FaultTest, DynamicSharedMemoryNeedsTheOptInAttribute) {
  DeviceBuffer<float> out(64);
  EXPECT_NO_THROW(dynamic_shared(out.get(), 48 * 1024, nullptr));
  try {
    dynamic_shared(out.get(), 48 * 1024 + 4, nullptr);
    FAIL() << "expected a launch error";
  } catch (const mvit::Error& e) {
    EXPECT_TRUE(contains(e.what(), "cudaErrorInvalidValue")) << e.what();
    EXPECT_TRUE(contains(e.what(), "exceed the kernel's limit of 49152")) << e.what();
  }
  ASSERT_EQ(cudaFuncSetAttribute(dynamic_shared_kernel(),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 96 * 1024),
            cudaSuccess);
  EXPECT_NO_THROW(dynamic_shared(out.get(), 96 * 1024, nullptr));
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const float count = 96 * 1024 / 4;
  float want = 0;  // thread 0 sums s[count-1-i] for i = 0, 64, 128, ... = values count-1-i
  for (int i = 0; i < count; i += 64) want += count - 1 - i;
  EXPECT_EQ(out.download()[0], want);
}

TEST_F(FaultTest, OptInLimitFollowsTheEmulatedComputeCapability) {
  const emu::Config saved = emu::config();
  emu::set_compute_capability(7, 5);
  EXPECT_EQ(cudaFuncSetAttribute(dynamic_shared_kernel(),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 96 * 1024),
            cudaErrorInvalidValue)
      << "sm_75 allows 64 KiB";
  cudaGetLastError();
  EXPECT_EQ(cudaFuncSetAttribute(dynamic_shared_kernel(),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 64 * 1024),
            cudaSuccess);
  emu::set_compute_capability(9, 0);
  EXPECT_EQ(cudaFuncSetAttribute(dynamic_shared_kernel(),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024),
            cudaSuccess);
  EXPECT_EQ(cudaFuncSetAttribute(dynamic_shared_kernel(),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 227 * 1024 + 1),
            cudaErrorInvalidValue);
  cudaGetLastError();
  emu::set_compute_capability(saved.cc_major, saved.cc_minor);
}

TEST_F(FaultTest, SyncLaunchModeMakesTheLaunchCheckThrow) {
  // MVIT_SYNC_LAUNCHES is read once per process; the death-test child sets it before starting.
  // "threadsafe" re-executes the binary: a plain fork() would lose the emulator's worker threads.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("MVIT_SYNC_LAUNCHES", "1", 1);
        try {
          divergent_barrier(64, 16, nullptr);
        } catch (const mvit::Error& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::exit(contains(e.what(),
                             "launch of mvit::emutest::divergent_barrier_kernel(int) "
                             "failed")
                        ? 7
                        : 8);
        }
        std::exit(9);
      },
      ::testing::ExitedWithCode(7), "Divergent thread");
}

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer, out-of-bounds accesses in kernels are caught like compute-sanitizer's
// memcheck would catch them: each shared array is its own heap object, device memory exact-size.
TEST(SanitizerDeathTest, SharedMemoryOutOfBoundsWrite) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        DeviceBuffer<float> out(32);
        shared_out_of_bounds(out.get(), nullptr);
        cudaDeviceSynchronize();
      },
      "heap-buffer-overflow");
}

TEST(SanitizerDeathTest, GlobalMemoryOutOfBoundsWrite) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        DeviceBuffer<float> out(100);
        global_out_of_bounds(out.get(), 100, nullptr);
        cudaDeviceSynchronize();
      },
      "heap-buffer-overflow");
}
#endif

}  // namespace
}  // namespace emutest
}  // namespace mvit
