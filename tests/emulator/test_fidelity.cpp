// The emulator is at least as strict as a GPU plus compute-sanitizer (issue 7): block order,
// shared-memory alignment and limits, thread stacks, the second poison. Each known-bad kernel is
// rejected (or its result visibly wrong) and its correct control passes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "tests/emulator/fidelity_kernels.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

using FidelityTest = DeviceFaultTest;

int worker_count() {
  cudaDeviceProp p;
  EXPECT_EQ(cudaGetDeviceProperties(&p, 0), cudaSuccess);
  return p.multiProcessorCount;  // the emulator reports one "SM" per worker
}

// ---- 1. block order ----

TEST(BlockOrder, KnownBadCrossBlockReadIsWrongInReverseAndRandomOrder) {
  const int blocks = 64;
  auto wrong = [&](emu::ThreadOrder order, uint64_t seed) {
    emu::ScopedThreadOrder scoped(order, seed);
    DeviceBuffer<float> out(blocks);
    chained_blocks(out.get(), blocks, nullptr);
    const std::vector<float> got = out.download();
    int bad = 0;
    for (int b = 0; b < blocks; ++b) bad += !(got[b] == static_cast<float>(b + 1));
    return bad;
  };
  EXPECT_GT(wrong(emu::ThreadOrder::kReverse, 1), blocks / 2)
      << "in reverse order each block reads its predecessor before it runs";
  EXPECT_GT(wrong(emu::ThreadOrder::kRandom, 5), 0);
}

TEST(BlockOrder, ControlBlocksOrderedByLaunchesPassInEveryOrder) {
  const int blocks = 64;
  for (auto order :
       {emu::ThreadOrder::kForward, emu::ThreadOrder::kReverse, emu::ThreadOrder::kRandom}) {
    emu::ScopedThreadOrder scoped(order, 3);
    DeviceBuffer<float> out(blocks), next(blocks);
    independent_blocks(out.get(), next.get(), blocks, nullptr);
    const std::vector<float> o = out.download(), n = next.download();
    for (int b = 0; b < blocks; ++b) {
      EXPECT_EQ(o[b], b + 1) << to_string(order) << " block " << b;
      EXPECT_EQ(n[b], b) << to_string(order) << " block " << b;
    }
  }
}

std::vector<int> block_order(emu::ThreadOrder order, uint64_t seed, int blocks) {
  emu::ScopedThreadOrder scoped(order, seed);
  DeviceBuffer<int> seen(blocks), count(std::vector<int>{0});
  record_block_order(seen.get(), count.get(), blocks, nullptr);
  EXPECT_EQ(count.download()[0], blocks);
  return seen.download();
}

TEST(BlockOrder, BlocksAreDispatchedInTheThreadOrder) {
  const int blocks = 200, workers = worker_count();
  std::vector<int> all(blocks);
  std::iota(all.begin(), all.end(), 0);
  for (auto order :
       {emu::ThreadOrder::kForward, emu::ThreadOrder::kReverse, emu::ThreadOrder::kRandom}) {
    std::vector<int> seen = block_order(order, 7, blocks);
    const int first = seen[0];
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, all) << to_string(order) << ": every block runs exactly once";
    if (order == emu::ThreadOrder::kForward) {
      EXPECT_LT(first, workers);
    } else if (order == emu::ThreadOrder::kReverse) {
      EXPECT_GE(first, blocks - workers);
    }
  }
  const std::vector<int> a = block_order(emu::ThreadOrder::kRandom, 7, blocks);
  int ascending = 0, descending = 0;
  for (int i = 1; i < blocks; ++i) {
    ascending += a[i] > a[i - 1];
    descending += a[i] < a[i - 1];
  }
  EXPECT_LT(ascending, blocks * 3 / 4) << "a random order is neither ascending";
  EXPECT_LT(descending, blocks * 3 / 4) << "nor descending";
  EXPECT_NE(a, block_order(emu::ThreadOrder::kRandom, 8, blocks)) << "the seed chooses it";
}

// ---- 2. shared-memory alignment ----

TEST(SharedAlignment, WmmaOnAlignas32SharedTilesWorks) {
  std::vector<__half> a(256), b(256);
  for (int i = 0; i < 256; ++i) {
    a[i] = __float2half(static_cast<float>(i % 7) - 3.0f);
    b[i] = __float2half(static_cast<float>(i % 5) - 2.0f);
  }
  DeviceBuffer<__half> da(a), db(b);
  DeviceBuffer<float> dc(256);
  ASSERT_NO_THROW(wmma_from_shared(da.get(), db.get(), dc.get(), nullptr));
  const std::vector<float> c = dc.download();
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      float want = 0;
      for (int k = 0; k < 16; ++k) {
        want += __half2float(a[i * 16 + k]) * __half2float(b[k * 16 + j]);
      }
      EXPECT_EQ(c[i * 16 + j], want) << i << "," << j;
    }
}

TEST(SharedAlignment, ArraysHaveExactlyTheirAlignmentAndDynamicOnly16Bytes) {
  DeviceBuffer<int> out(3);
  shared_addresses(out.get(), nullptr);
  const std::vector<int> got = out.download();
  EXPECT_EQ(got[0] % 128, 64) << "alignas(64): a multiple of 64, and no more";
  EXPECT_EQ(got[1] % 32, 16) << "float: 16 bytes, the least MVIT_SHARED gives";
  EXPECT_EQ(got[2] % 32, 16) << "dynamic: the 16 bytes a GPU guarantees, no more";
}

TEST_F(FidelityTest, KnownBadWmmaAtTheDynamicBaseIsRejected) {
  DeviceBuffer<__half> a(std::vector<__half>(256, __float2half(1.0f)));
  DeviceBuffer<float> c(256);
  const std::string text = fault_text([&] { wmma_from_dynamic_base(a.get(), c.get(), nullptr); });
  EXPECT_TRUE(contains(text, "32-byte")) << text;
}

// ---- 3. shared-memory limits ----

TEST_F(FidelityTest, StaticPlusDynamicOver48KiBNeedsTheOptInAttribute) {
  DeviceBuffer<float> out(32);
  EXPECT_EQ(fault_text([&] { static_plus_dynamic(out.get(), 32 * 1024, nullptr); }), "");
  for (float v : out.download()) EXPECT_EQ(v, 3.0f);
  const std::string text = fault_text([&] { static_plus_dynamic(out.get(), 40 * 1024, nullptr); });
  EXPECT_TRUE(contains(text, "cudaErrorInvalidValue")) << text;
  EXPECT_TRUE(contains(text, "exceed the kernel's limit of 32768")) << text;
  EXPECT_TRUE(contains(text, "MVIT_SHARED fixed (16384 bytes)")) << text;
  ASSERT_EQ(cudaFuncSetAttribute(static_plus_dynamic_kernel(),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 40 * 1024),
            cudaSuccess);
  EXPECT_EQ(fault_text([&] { static_plus_dynamic(out.get(), 40 * 1024, nullptr); }), "");
  // The attribute plus the static bytes may not exceed the opt-in limit (227 KiB on sm_90).
  ASSERT_EQ(cudaFuncSetAttribute(static_plus_dynamic_kernel(),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 220 * 1024),
            cudaSuccess);
  const std::string over = fault_text([&] { static_plus_dynamic(out.get(), 1024, nullptr); });
  EXPECT_TRUE(contains(over, "exceed the device's opt-in limit of 232448")) << over;
  ASSERT_EQ(cudaFuncSetAttribute(static_plus_dynamic_kernel(),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 48 * 1024),
            cudaSuccess);
}

TEST_F(FidelityTest, StaticSharedInABranchNoBlockTakesIsCounted) {
  DeviceBuffer<float> out(32);
  EXPECT_EQ(fault_text([&] { unreached_static(out.get(), 0, 32 * 1024, nullptr); }), "");
  const std::string text = fault_text([&] { unreached_static(out.get(), 0, 40 * 1024, nullptr); });
  EXPECT_TRUE(contains(text, "exceed the kernel's limit of 32768")) << text;
  EXPECT_TRUE(contains(text, "MVIT_SHARED rarely (16384 bytes)")) << text;
}

// A helper's MVIT_SHARED cannot be attributed before the kernel first reaches it (Note [static
// shared memory per kernel]): the first launch fails where a block touches it, later ones at the
// launch, as a GPU's would.
TEST_F(FidelityTest, StaticSharedInADeviceHelperIsCountedFromItsFirstTouch) {
  float* first_out = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&first_out), 32 * sizeof(float)), cudaSuccess);
  const std::string first = fault_text([&] { helper_static(first_out, 40 * 1024, nullptr); });
  EXPECT_TRUE(contains(first, "MVIT_SHARED helper_tile (16384 bytes)")) << first;
  EXPECT_TRUE(contains(first, "declared outside the kernel's body")) << first;
  ASSERT_EQ(cudaDeviceReset(), cudaSuccess);  // clears the sticky fault and frees first_out
  DeviceBuffer<float> out(32);
  const std::string later = fault_text([&] { helper_static(out.get(), 40 * 1024, nullptr); });
  EXPECT_TRUE(contains(later, "cudaErrorInvalidValue")) << later;
  EXPECT_TRUE(contains(later, "exceed the kernel's limit of 32768")) << later;
  EXPECT_EQ(fault_text([&] { helper_static(out.get(), 32 * 1024, nullptr); }), "");
  for (float v : out.download()) EXPECT_EQ(v, 2.0f);
}

// ---- 4. thread stacks ----

TEST(Stack, ALocalArrayAGpuAllowsFitsTheDefaultStack) {
  const int threads = 64;
  DeviceBuffer<int> in(std::vector<int>{1}), out(threads);
  big_local_array(in.get(), out.get(), threads, nullptr);
  const long long words = kLocalWords;
  const int want = static_cast<int>(words + words * (words - 1) / 2);
  for (int v : out.download()) EXPECT_EQ(v, want);
}

TEST(Stack, OverflowIsReportedNamingKernelBlockThreadAndTheGpuLimit) {
  // "threadsafe": the child re-executes the binary, so the emulator's threads exist there too.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        emu::set_stack_kb(64);
        DeviceBuffer<int> in(std::vector<int>{1});
        DeviceBuffer<int> out(32);
        big_local_array(in.get(), out.get(), 32, nullptr);
        cudaDeviceSynchronize();
      },
      "stack overflow in kernel mvit::emutest::big_local_array_kernel\\(int const\\*, int\\*\\), "
      "block \\(0,0,0\\), thread \\([0-9]+,0,0\\): the emulated thread ran past the end of its 64 "
      "KiB stack.*MVIT_EMU_STACK_KB.*512 KiB of local memory per thread");
}

// ---- 5. the finite poison ----

TEST(Poison, FinitePatternIsLargeAndOfBothSignsInEveryFormat) {
  emu::ScopedPoison finite(emu::Poison::kFinite);
  DeviceBuffer<unsigned char> raw(64);
  const std::vector<unsigned char> bytes = raw.download();
  std::vector<float> f(16);
  std::vector<__half> h(32);
  std::vector<double> d(8);
  std::memcpy(f.data(), bytes.data(), 64);
  std::memcpy(h.data(), bytes.data(), 64);
  std::memcpy(d.data(), bytes.data(), 64);
  int fneg = 0, hneg = 0;
  for (float v : f) {
    EXPECT_TRUE(std::isfinite(v) && std::fabs(v) > 1e30f) << v;
    fneg += v < 0;
  }
  for (__half v : h) {
    const float x = __half2float(v);
    EXPECT_TRUE(std::isfinite(x) && std::fabs(x) == 65504.0f) << x;
    hneg += x < 0;
  }
  for (double v : d) EXPECT_TRUE(std::isfinite(v) && std::fabs(v) > 1e280) << v;
  EXPECT_EQ(fneg, 8);
  EXPECT_EQ(hneg, 16);
}

// fmaxf/fminf drop NaN: a ReLU6 over unwritten memory gives plausible zeros with the NaN poison,
// and visibly wrong values with the finite one.
TEST(Poison, KnownBadClampOverUnwrittenDeviceMemoryShowsWithTheFinitePoison) {
  const int n = 256;
  auto run = [&](emu::Poison poison) {
    emu::ScopedPoison scoped(poison);
    DeviceBuffer<float> never_written(n), out(n);
    clamp6(never_written.get(), out.get(), n, nullptr);
    return out.download();
  };
  const std::vector<float> nan = run(emu::Poison::kNan), finite = run(emu::Poison::kFinite);
  EXPECT_EQ(std::count(nan.begin(), nan.end(), 0.0f), n) << "what NaN alone would let through";
  EXPECT_EQ(std::count(finite.begin(), finite.end(), 6.0f), n / 2);
}

TEST(Poison, KnownBadClampOverUnwrittenSharedMemoryShowsWithTheFinitePoison) {
  const int n = 256;
  emu::ScopedPoison scoped(emu::Poison::kFinite);
  DeviceBuffer<float> out(n);
  clamp6_unwritten_shared(out.get(), n, nullptr);
  const std::vector<float> got = out.download();
  EXPECT_EQ(std::count(got.begin(), got.end(), 6.0f), n / 2);
}

TEST(Poison, ControlClampOverWrittenMemoryIsRightWithEitherPoison) {
  const int n = 256;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i % 9) - 1.0f;  // -1 .. 7
  for (auto poison : {emu::Poison::kNan, emu::Poison::kFinite}) {
    emu::ScopedPoison scoped(poison);
    DeviceBuffer<float> din(in), a(n), b(n);
    clamp6(din.get(), a.get(), n, nullptr);
    clamp6_written_shared(din.get(), b.get(), n, nullptr);
    const std::vector<float> ga = a.download(), gb = b.download();
    for (int i = 0; i < n; ++i) {
      const float want = std::min(std::max(in[i], 0.0f), 6.0f);
      EXPECT_EQ(ga[i], want) << to_string(poison) << " " << i;
      EXPECT_EQ(gb[i], want) << to_string(poison) << " " << i;
    }
  }
}

// The suite runs each kernel test twice (cmake/MvitTesting.cmake); the reverse run must use the
// finite poison, or a NaN-erasing read passes both.
TEST(Poison, TheSuitesReverseRunUsesTheFinitePoison) {
  const char* order = std::getenv("MVIT_EMU_THREAD_ORDER");
  if (order == nullptr) GTEST_SKIP() << "not run by ctest (MVIT_EMU_THREAD_ORDER unset)";
  const emu::Poison want =
      std::strcmp(order, "reverse") == 0 ? emu::Poison::kFinite : emu::Poison::kNan;
  EXPECT_EQ(emu::config().poison, want) << "MVIT_EMU_THREAD_ORDER=" << order;
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
