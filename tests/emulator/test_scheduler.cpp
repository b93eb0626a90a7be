// The execution model: built-in variables, warp collectives, barriers, atomics, shared memory,
// and thread-order sensitivity. (The demonstration kernels are tested in tests/kernels/.)
#include <cmath>
#include <random>

#include "tests/emulator/test_kernels.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

TEST(Scheduler, BuiltInVariablesCoverEveryThreadOf3dGrid) {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  const int threads = 4 * 3 * 2, blocks = 3 * 2 * 2;
  DeviceBuffer<int> out(2 * threads * blocks);
  thread_indices(out.get(), grid, block, nullptr);
  const std::vector<int> got = out.download();
  for (int bz = 0; bz < 2; ++bz)
    for (int by = 0; by < 2; ++by)
      for (int bx = 0; bx < 3; ++bx)
        for (int tz = 0; tz < 2; ++tz)
          for (int ty = 0; ty < 3; ++ty)
            for (int tx = 0; tx < 4; ++tx) {
              const int b = bx + 3 * (by + 2 * bz), t = tx + 4 * (ty + 3 * tz);
              EXPECT_EQ(got[2 * (b * threads + t)], tx + 1000 * ty + 1000000 * tz);
              EXPECT_EQ(got[2 * (b * threads + t) + 1], bx + 1000 * by + 1000000 * bz);
            }
}

TEST(Scheduler, WarpShufflesAndVotesMatchTheProgrammingGuide) {
  const int n = 64;
  std::vector<int> in(n);
  for (int t = 0; t < n; ++t) in[t] = 100 + t * 7;
  DeviceBuffer<int> din(in), dout(kWarpOpResults * n);
  warp_ops(din.get(), dout.get(), n, nullptr);
  const std::vector<int> out = dout.download();
  for (int t = 0; t < n; ++t) {
    const int lane = t % 32, base = t - lane;
    SCOPED_TRACE("thread " + std::to_string(t));
    EXPECT_EQ(out[0 * n + t], in[base + 3]);
    EXPECT_EQ(out[1 * n + t], lane >= 1 ? in[t - 1] : in[t]);
    EXPECT_EQ(out[2 * n + t], lane + 2 < 32 ? in[t + 2] : in[t]);
    EXPECT_EQ(out[3 * n + t], in[base + (lane ^ 5)]);
    EXPECT_EQ(out[4 * n + t], (lane % 8) + 1 < 8 ? in[t + 1] : in[t]);
    EXPECT_EQ(static_cast<unsigned>(out[5 * n + t]), 0xAAAAAAAAu);
    EXPECT_EQ(out[6 * n + t], 1);
    EXPECT_EQ(out[7 * n + t], 1);
    EXPECT_EQ(out[8 * n + t], 0);
  }
}

TEST(Scheduler, MathAndBitIntrinsicsMatchTheirDefinitions) {
  DeviceBuffer<float> in(std::vector<float>{2.0f, std::nanf("")}), out(kIntrinsicResults);
  intrinsics(in.get(), out.get(), nullptr);
  const std::vector<float> want = {0.5f,  1.0f, std::exp(1.0f), 7.0f, 0.25f, 1.0f,  0.0f,
                                   0.0f,  8.0f, 31.0f,          5.0f, 1.0f,  -4.0f, 4.0f,
                                   -1.0f, 5.0f, 1.0f,           1.0f, 4.0f,  4.0f};
  const std::vector<float> got = out.download();
  for (int i = 0; i < kIntrinsicResults; ++i) EXPECT_FLOAT_EQ(got[i], want[i]) << "result " << i;
}

TEST(Scheduler, BarrierReductionsCountAndOr) {
  const int blocks = 3, threads = 96;
  std::vector<int> pred(blocks * threads, 0);
  for (int t = 0; t < threads; ++t) pred[t] = t % 3 == 0;   // block 0: 32 of 96
  for (int t = 0; t < threads; ++t) pred[threads + t] = 1;  // block 1: all
  DeviceBuffer<int> din(pred), dout(3 * blocks);            // block 2: none
  barrier_reductions(din.get(), dout.get(), blocks, threads, nullptr);
  EXPECT_EQ(dout.download(), (std::vector<int>{32, 0, 1, 96, 1, 1, 0, 0, 0}));
}

TEST(Scheduler, AtomicsAreAtomicAcrossParallelBlocks) {
  const int blocks = 64, threads = 128;
  DeviceBuffer<int> counters(std::vector<int>{0, -1, 1 << 30, 0, 0});
  DeviceBuffer<float> fsum(std::vector<float>{0.0f});
  atomics(counters.get(), fsum.get(), blocks, threads, nullptr);
  const std::vector<int> c = counters.download();
  EXPECT_EQ(c[0], blocks * threads);
  EXPECT_EQ(c[1], blocks * threads - 1);
  EXPECT_EQ(c[2], 0);
  EXPECT_EQ(c[3], 1) << "exactly one atomicCAS claim succeeds";
  EXPECT_EQ(fsum.download()[0], 0.5f * blocks * threads);  // exact: multiples of 0.5 below 2^24
}

TEST(Scheduler, SharedMemoryStartsAsNaNInEveryBlock) {
  emu::ScopedPoison nan(emu::Poison::kNan);  // the suite's reverse run uses the finite one
  DeviceBuffer<int> out(128);
  shared_poison(out.get(), 128, nullptr);
  for (int v : out.download()) EXPECT_EQ(v, 1);
}

// A shared-memory race (no barrier between write and read) is visible as an order-dependent
// result: the emulator's thread orders are what makes such a bug fail in CI.
TEST(Scheduler, KnownBadSharedMemoryRaceDependsOnThreadOrder) {
  emu::ScopedPoison nan(emu::Poison::kNan);  // the suite's reverse run uses the finite one
  const int n = 64;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i);
  DeviceBuffer<float> din(in);
  auto run = [&](emu::ThreadOrder order) {
    emu::ScopedThreadOrder scoped(order);
    DeviceBuffer<float> dout(n);
    shared_race(din.get(), dout.get(), n, nullptr);
    return dout.download();
  };
  const std::vector<float> forward = run(emu::ThreadOrder::kForward);
  const std::vector<float> reverse = run(emu::ThreadOrder::kReverse);
  EXPECT_TRUE(std::isnan(forward[0]))
      << "forward order reads the neighbour's slot before it is written";
  EXPECT_EQ(reverse[0], 1.0f) << "reverse order happens to write it first";
  EXPECT_NE(std::memcmp(forward.data(), reverse.data(), n * sizeof(float)), 0);
}

TEST(Scheduler, RandomOrderIsSeededAndDeterministic) {
  emu::ScopedPoison nan(emu::Poison::kNan);  // the suite's reverse run uses the finite one
  const int n = 64;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i);
  DeviceBuffer<float> din(in);
  auto run = [&](uint64_t seed) {
    emu::ScopedThreadOrder scoped(emu::ThreadOrder::kRandom, seed);
    DeviceBuffer<float> dout(n);
    shared_race(din.get(), dout.get(), n, nullptr);
    std::vector<int> nan_mask;
    for (float v : dout.download()) nan_mask.push_back(std::isnan(v));
    return nan_mask;
  };
  EXPECT_EQ(run(11), run(11));
  EXPECT_NE(run(11), run(12));
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
