// kernels/common/bias_act: the epilogue of the library paths against a plain loop, with the
// patch-major index map written here from its definition (shared/reference/mobilevit.md section
// 5), not taken from layout.h, so the test checks layout.h too. Both builds.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/common/bias_act.h"
#include "tests/support/device_tensor.h"
#include "tests/support/device_test.h"
#include "tests/support/error_text.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

struct BiasActCase {
  std::string name;
  int B, H, W, C;
  PixelOrder order, src_order;
  Activation act;
  DType src, dst;
  bool bias, residual, in_place;
  size_t offset;  // elements past an aligned base: > 0 forces the scalar path
  int expect_vec;
};

std::ostream& operator<<(std::ostream& os, const BiasActCase& c) {
  return os << c.name;
}

// Row of NHWC pixel (b, y, x) in patch-major order, from the unfold's definition: y = 2i + py,
// x = 2j + px -> [b, p = 2 py + px, n = i (W / 2) + j].
int64_t patch_major_row(int b, int y, int x, int H, int W) {
  const int i = y / 2, py = y % 2, j = x / 2, px = x % 2;
  const int64_t n_patches = static_cast<int64_t>(H / 2) * (W / 2);
  return (static_cast<int64_t>(b) * 4 + (2 * py + px)) * n_patches + i * (W / 2) + j;
}

using BiasActTest = DeviceTestOf<::testing::TestWithParam<BiasActCase>>;

TEST_P(BiasActTest, MatchesPlainLoop) {
  const BiasActCase& c = GetParam();
  const int64_t rows = static_cast<int64_t>(c.B) * c.H * c.W;
  const size_t n = static_cast<size_t>(rows) * c.C;
  const std::vector<float> src = round_to(c.src, random_floats(n, 11, -4.0f, 4.0f));
  const std::vector<float> bias = round_to(c.dst, random_floats(c.C, 12));
  const std::vector<float> res = round_to(c.dst, random_floats(n, 13));
  DeviceTensor d_src(c.src, src, 1, c.offset);
  DeviceTensor d_bias(c.dst, bias, 1, c.offset);
  DeviceTensor d_res(c.dst, res, 1, c.offset);
  DeviceTensor d_dst(c.dst, n, 1, c.offset);
  BiasActParams p;
  p.src = d_src.get();
  p.dst = c.in_place ? d_src.get() : d_dst.get();
  p.bias = c.bias ? d_bias.get() : nullptr;
  p.residual = c.residual ? d_res.get() : nullptr;
  p.rows = rows;
  p.cols = c.C;
  p.H = c.H;
  p.W = c.W;
  p.order = c.order;
  p.src_order = c.src_order;
  p.act = c.act;
  p.src_dtype = c.src;
  p.dst_dtype = c.dst;
  const Dispatch d = bias_act_forward(p, nullptr);
  EXPECT_STREQ(d.impl, "bias_act");
  EXPECT_EQ(d.vec, c.expect_vec);
  const std::vector<float> got = c.in_place ? d_src.download() : d_dst.download();
  // fp32 math on the stored values, one rounding: the kernel must match to the last bit except
  // where __expf's few-ulp error moves a value across a rounding boundary of dst (1 ulp of dst).
  std::vector<double> want(n), scale(n);
  for (int b = 0; b < c.B; ++b) {
    for (int y = 0; y < c.H; ++y) {
      for (int x = 0; x < c.W; ++x) {
        const int64_t r = (static_cast<int64_t>(b) * c.H + y) * c.W + x;
        const int64_t pm =
            c.order == PixelOrder::kPatchMajor || c.src_order == PixelOrder::kPatchMajor
                ? patch_major_row(b, y, x, c.H, c.W)
                : r;
        const int64_t o = c.order == PixelOrder::kNhwc ? r : pm;
        const int64_t i = c.src_order == PixelOrder::kNhwc ? r : pm;
        for (int ch = 0; ch < c.C; ++ch) {
          double v = src[i * c.C + ch] + (c.bias ? bias[ch] : 0.0);
          if (c.act == Activation::kSilu) v = v / (1.0 + std::exp(-v));
          if (c.residual) v += res[o * c.C + ch];
          want[o * c.C + ch] = v;
          scale[o * c.C + ch] = std::fabs(src[i * c.C + ch]) + 1.0;
        }
      }
    }
  }
  const double tol = c.dst == DType::kF32 ? 1e-5 : c.dst == DType::kF16 ? 0x1p-10 : 0x1p-7;
  const Comparison r = compare(got, want, tol, scale);
  EXPECT_TRUE(r.ok()) << r.describe();
}

constexpr auto kNhwc = PixelOrder::kNhwc;
constexpr auto kPm = PixelOrder::kPatchMajor;
constexpr auto kSilu = Activation::kSilu;
constexpr auto kNone = Activation::kNone;
constexpr auto kF32 = DType::kF32;
constexpr auto kF16 = DType::kF16;
constexpr auto kBF16 = DType::kBF16;

INSTANTIATE_TEST_SUITE_P(
    Cases, BiasActTest,
    ::testing::Values(BiasActCase{"f32_inplace_silu", 1, 6, 5, 16, kNhwc, kNhwc, kSilu, kF32, kF32,
                                  true, false, true, 0, 4},
                      BiasActCase{"f32_to_f16_unfold_residual", 2, 4, 6, 24, kPm, kNhwc, kNone,
                                  kF32, kF16, true, true, false, 0, 8},
                      BiasActCase{"f32_to_bf16_unfold_silu", 1, 4, 4, 32, kPm, kNhwc, kSilu, kF32,
                                  kBF16, true, false, false, 0, 8},
                      BiasActCase{"f16_inplace_silu_residual", 1, 3, 3, 40, kNhwc, kNhwc, kSilu,
                                  kF16, kF16, true, true, true, 0, 8},
                      BiasActCase{"bf16_odd_cols_scalar", 1, 2, 3, 13, kNhwc, kNhwc, kSilu, kBF16,
                                  kBF16, true, false, false, 0, 1},
                      BiasActCase{"f16_unaligned_scalar", 1, 2, 2, 16, kPm, kNhwc, kSilu, kF16,
                                  kF16, true, true, false, 3, 1},
                      BiasActCase{"f32_to_f16_fold_silu_residual", 2, 4, 6, 24, kNhwc, kPm, kSilu,
                                  kF32, kF16, true, true, false, 0, 8},
                      BiasActCase{"f32_fold_unaligned_scalar", 1, 2, 4, 8, kNhwc, kPm, kNone, kF32,
                                  kF32, true, false, false, 1, 1},
                      BiasActCase{"f32_no_bias", 1, 1, 7, 8, kNhwc, kNhwc, kNone, kF32, kF32, false,
                                  false, false, 0, 4}),
    [](const ::testing::TestParamInfo<BiasActCase>& i) { return i.param.name; });

using BiasActArgs = DeviceTest;
TEST_F(BiasActArgs, NamesTheBadField) {
  DeviceTensor t(DType::kF32, 64);
  BiasActParams p;
  p.src = t.get();
  p.dst = t.get();
  p.rows = 4;
  p.cols = 16;
  EXPECT_TRUE(bias_act_supported(p));
  auto why = [](BiasActParams q) { return error_text([&] { bias_act_forward(q, nullptr); }); };
  BiasActParams q = p;
  q.src = nullptr;
  EXPECT_NE(why(q).find("bias_act: src is null"), std::string::npos) << why(q);
  q = p;
  q.cols = 0;
  EXPECT_NE(why(q).find("cols must be > 0, got 0"), std::string::npos) << why(q);
  q = p;
  q.src_dtype = DType::kF16;
  EXPECT_NE(why(q).find("src dtype f16 with dst dtype f32 is not supported"), std::string::npos);
  q = p;
  q.order = PixelOrder::kPatchMajor;
  q.H = 3;
  q.W = 2;
  EXPECT_NE(why(q).find("needs an even H and W, got 3 x 2"), std::string::npos) << why(q);
  q.H = 2;
  EXPECT_NE(why(q).find("in place (src == dst) needs src_order == order"), std::string::npos)
      << why(q);
  EXPECT_FALSE(bias_act_supported(q));
}

}  // namespace
}  // namespace test
}  // namespace mvit
