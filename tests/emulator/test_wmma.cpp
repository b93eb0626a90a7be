// nvcuda::wmma in the emulator: GEMM tiles against naive loops for every supported shape and
// input type, tf32 input handling, and the scrambled fragment layout catching layout-dependent
// code (Note [scrambled fragments] in emulator/include/mvit_emu/wmma.h).
#include <cuda_bf16.h>

#include <cmath>
#include <random>

#include "tests/support/random.h"
#include "tests/emulator/test_kernels.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

using test::random_floats;

// c[16 x 16] = a[16 x k] * b^T, b stored [16 x k] (row n holds column n of B).
std::vector<double> tile_ref(const std::vector<float>& a, const std::vector<float>& b, int k) {
  std::vector<double> c(256);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      double s = 0;
      for (int l = 0; l < k; ++l) s += static_cast<double>(a[i * k + l]) * b[j * k + l];
      c[i * 16 + j] = s;
    }
  return c;
}

template <class T, class Convert, class Back>
void check_tile(void (*run)(const T*, const T*, float*, cudaStream_t), int k, Convert to, Back back,
                double tolerance) {
  const std::vector<float> af = random_floats(16 * k, 1), bf = random_floats(16 * k, 2);
  std::vector<T> a(af.size()), b(bf.size());
  std::vector<float> ar(af.size()), br(bf.size());  // the values the device actually multiplies
  for (size_t i = 0; i < a.size(); ++i) a[i] = to(af[i]), ar[i] = back(a[i]);
  for (size_t i = 0; i < b.size(); ++i) b[i] = to(bf[i]), br[i] = back(b[i]);
  DeviceBuffer<T> da(a), db(b);
  DeviceBuffer<float> dc(256);
  run(da.get(), db.get(), dc.get(), nullptr);
  const std::vector<float> got = dc.download();
  const std::vector<double> want = tile_ref(ar, br, k);
  for (int i = 0; i < 256; ++i) ASSERT_NEAR(got[i], want[i], tolerance) << "element " << i;
}

TEST(Wmma, HalfTileMatchesNaiveLoop) {
  check_tile<__half>(
      wmma_tile_half, 16, [](float x) { return __float2half(x); },
      [](__half h) { return __half2float(h); }, 1e-5);
}

TEST(Wmma, Bf16TileMatchesNaiveLoop) {
  auto run = [](const __nv_bfloat16* a, const __nv_bfloat16* b, float* c, cudaStream_t s) {
    wmma_tile_bf16(a, b, c, s);
  };
  check_tile<__nv_bfloat16>(
      +run, 16, [](float x) { return __float2bfloat16(x); },
      [](__nv_bfloat16 h) { return __bfloat162float(h); }, 1e-5);
}

TEST(Wmma, Tf32TileUsesTruncatedInputs) {
  // The reference multiplies the inputs with their low 13 mantissa bits cleared, as the hardware
  // does; fp32 inputs would differ from that by ~1e-3 relative, far above the tolerance.
  auto truncate = [](float x) {
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    bits &= ~0x1FFFu;
    std::memcpy(&x, &bits, 4);
    return x;
  };
  check_tile<float>(
      wmma_tile_tf32, 8, [](float x) { return x; }, truncate, 1e-6);
  const std::vector<float> af = random_floats(128, 1), bf = random_floats(128, 2);
  DeviceBuffer<float> da(af), db(bf), dc(256);
  wmma_tile_tf32(da.get(), db.get(), dc.get(), nullptr);
  const std::vector<float> got = dc.download();
  const std::vector<double> full = tile_ref(af, bf, 8);
  double max_diff = 0;
  for (int i = 0; i < 256; ++i) max_diff = std::fmax(max_diff, std::fabs(got[i] - full[i]));
  EXPECT_GT(max_diff, 1e-5) << "full fp32 precision would mean the inputs were not reduced";
}

TEST(Wmma, FloatToTf32RoundsToNearest) {
  const float x = 1.0f + 0x1.8p-11f;  // between two tf32 values, nearer the upper one
  EXPECT_EQ(float_to_tf32(x), 1.0f + 0x1p-10f);
  EXPECT_EQ(float_to_tf32(1.0f + 0x1p-12f), 1.0f);
}

// Known-bad: storing acc.x[i] to c[lane * 8 + i] assumes a row-major fragment layout. On a GPU
// the layout is unspecified; the emulator's scrambled layout makes such code fail.
TEST(Wmma, KnownBadLayoutDependentKernelFails) {
  const std::vector<float> af = random_floats(256, 5), bf = random_floats(256, 6);
  std::vector<__half> a(256), b(256);
  std::vector<float> ar(256), br(256);
  for (int i = 0; i < 256; ++i) {
    a[i] = __float2half(af[i]), ar[i] = __half2float(a[i]);
    b[i] = __float2half(bf[i]), br[i] = __half2float(b[i]);
  }
  DeviceBuffer<__half> da(a), db(b);
  DeviceBuffer<float> bad(256), good(256);
  wmma_layout_dependent(da.get(), db.get(), bad.get(), nullptr);
  wmma_tile_half(da.get(), db.get(), good.get(), nullptr);
  const std::vector<double> want = tile_ref(ar, br, 16);
  int wrong = 0;
  const std::vector<float> got_bad = bad.download(), got_good = good.download();
  for (int i = 0; i < 256; ++i) {
    wrong += std::fabs(got_bad[i] - want[i]) > 1e-3;
    ASSERT_NEAR(got_good[i], want[i], 1e-5);
  }
  EXPECT_GT(wrong, 200) << "the layout-dependent store must scramble almost every element";
}

// Host-side dispatch between architecture-specific paths (bf16 tensor cores exist from sm_80)
// follows the compute capability the emulated device reports, so both sides get tested.
enum class TilePath { kHalf, kBf16 };
TilePath pick_tile_path() {
  cudaDeviceProp prop;
  MVIT_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  return prop.major >= 8 ? TilePath::kBf16 : TilePath::kHalf;
}

TEST(Wmma, DispatchFollowsTheEmulatedComputeCapability) {
  const emu::Config saved = emu::config();
  const std::vector<float> af = random_floats(256, 7), bf = random_floats(256, 8);
  for (auto cc : {std::pair<int, int>{7, 5}, {8, 0}, {9, 0}}) {
    emu::set_compute_capability(cc.first, cc.second);
    const TilePath path = pick_tile_path();
    EXPECT_EQ(path, cc.first >= 8 ? TilePath::kBf16 : TilePath::kHalf) << cc.first << cc.second;
    DeviceBuffer<float> dc(256);
    std::vector<float> ar(256), br(256);
    if (path == TilePath::kBf16) {
      std::vector<__nv_bfloat16> a(256), b(256);
      for (int i = 0; i < 256; ++i) {
        a[i] = __float2bfloat16(af[i]), ar[i] = __bfloat162float(a[i]);
        b[i] = __float2bfloat16(bf[i]), br[i] = __bfloat162float(b[i]);
      }
      DeviceBuffer<__nv_bfloat16> da(a), db(b);
      wmma_tile_bf16(da.get(), db.get(), dc.get(), nullptr);
    } else {
      std::vector<__half> a(256), b(256);
      for (int i = 0; i < 256; ++i) {
        a[i] = __float2half(af[i]), ar[i] = __half2float(a[i]);
        b[i] = __float2half(bf[i]), br[i] = __half2float(b[i]);
      }
      DeviceBuffer<__half> da(a), db(b);
      wmma_tile_half(da.get(), db.get(), dc.get(), nullptr);
    }
    const std::vector<float> got = dc.download();
    const std::vector<double> want = tile_ref(ar, br, 16);
    for (int i = 0; i < 256; ++i) ASSERT_NEAR(got[i], want[i], 1e-5);
  }
  emu::set_compute_capability(saved.cc_major, saved.cc_minor);
}

TEST(Wmma, MisalignedLoadIsReported) {
  ASSERT_EQ(cudaDeviceReset(), cudaSuccess);
  DeviceBuffer<__half> a(16 * 16 + 8), b(256);
  DeviceBuffer<float> c(256);
  try {
    wmma_tile_half(a.get() + 8, b.get(), c.get(), nullptr);  // 16 bytes off the 32-byte alignment
  } catch (const mvit::Error&) {
    // The fault may already surface at the launch check.
  }
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  EXPECT_TRUE(contains(emu::error_detail(cudaErrorLaunchFailure), "not 256-bit (32-byte) aligned"));
  ASSERT_EQ(cudaDeviceReset(), cudaSuccess);
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
