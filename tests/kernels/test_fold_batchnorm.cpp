// kernels/fold_batchnorm: conv(x, w', b') with the folded weights equals BN(conv(x, w, b)), the
// unfused computation of tests/reference/fold_batchnorm_ref (fp64), for a dense 3x3 (stride 1 and
// 2), a 1x1 and a depthwise conv, with and without a conv bias; and every validation error.
//
// Tolerance: the fold is exact in double, then rounds each w' and b' to float (relative error
// <= 2^-24 each), so |conv(x, w', b') - BN(conv(x, w, b))| <= 2^-24 (sum |w' x| + |b'|); the
// comparison rounds the result to float once more: 4 * 2^-24 of that scale covers both with room.
// A wrong formula (a missing sqrt, eps, mean or beta) is off by O(1) of it.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/fold_batchnorm.h"
#include "tests/reference/fold_batchnorm_ref.h"
#include "tests/support/compare.h"
#include "tests/support/error_text.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

std::vector<double> to_double(const std::vector<float>& v, bool absolute = false) {
  std::vector<double> d(v.begin(), v.end());
  if (absolute) {
    for (double& x : d) x = std::fabs(x);
  }
  return d;
}

BatchNorm2d random_bn(int C, uint32_t seed) {
  BatchNorm2d bn;
  bn.gamma = random_floats(C, seed, -1.5f, 1.5f);
  bn.beta = random_floats(C, seed + 1);
  bn.running_mean = random_floats(C, seed + 2);
  bn.running_var = random_floats(C, seed + 3, 0.01f, 2.0f);
  bn.running_var[0] = 0.0f;  // a dead channel: the scale is gamma / sqrt(eps)
  bn.eps = 1e-5;
  return bn;
}

struct FoldCase {
  const char* name;
  Conv2dShape s;
  bool conv_bias;
};

class FoldBatchnormTest : public ::testing::TestWithParam<FoldCase> {};

TEST_P(FoldBatchnormTest, FoldedConvEqualsConvThenBatchnorm) {
  const Conv2dShape& s = GetParam().s;
  const uint32_t seed = static_cast<uint32_t>(s.Cin * 131 + s.Cout * 17 + s.k + s.groups);
  const std::vector<float> x = random_floats(static_cast<size_t>(s.B) * s.Cin * s.H * s.W, seed);
  const std::vector<float> w =
      random_floats(static_cast<size_t>(s.Cout) * (s.Cin / s.groups) * s.k * s.k, seed + 1);
  const std::vector<float> b =
      GetParam().conv_bias ? random_floats(s.Cout, seed + 2) : std::vector<float>();
  const BatchNorm2d bn = random_bn(s.Cout, seed + 3);

  const std::vector<double> want = batchnorm2d_ref(
      conv2d_ref(s, to_double(x), to_double(w), to_double(b)), s.B, s.Cout, s.Ho() * s.Wo(), bn);
  const FoldedConv f = fold_batchnorm(w, b, s.Cout, bn);
  ASSERT_EQ(f.weight.size(), w.size());
  ASSERT_EQ(f.bias.size(), static_cast<size_t>(s.Cout));
  const std::vector<double> got =
      conv2d_ref(s, to_double(x), to_double(f.weight), to_double(f.bias));
  const std::vector<double> scale =
      conv2d_ref(s, to_double(x, true), to_double(f.weight, true), to_double(f.bias, true));
  const Comparison r =
      compare(std::vector<float>(got.begin(), got.end()), want, 4 * 0x1p-24, scale);
  EXPECT_TRUE(r.ok()) << GetParam().name << ": " << r.describe();
}

INSTANTIATE_TEST_SUITE_P(
    Convs, FoldBatchnormTest,
    ::testing::Values(FoldCase{"dense3x3_s1_bias", {2, 4, 7, 6, 6, 3, 1, 1, 1}, true},
                      FoldCase{"dense3x3_s2_stem", {1, 3, 9, 9, 5, 3, 2, 1, 1}, false},
                      FoldCase{"pointwise1x1", {2, 8, 5, 5, 12, 1, 1, 0, 1}, false},
                      FoldCase{"pointwise1x1_bias", {1, 5, 3, 4, 7, 1, 1, 0, 1}, true},
                      FoldCase{"depthwise3x3_s2", {1, 6, 8, 8, 6, 3, 2, 1, 6}, false},
                      FoldCase{"depthwise3x3_s1_bias", {2, 5, 6, 7, 5, 3, 1, 1, 5}, true}),
    [](const ::testing::TestParamInfo<FoldCase>& info) { return std::string(info.param.name); });

// The folded values themselves, on one channel worked by hand: gamma 2, var 3, eps 1 -> s = 1;
// w' = w, b' = (b - mean) + beta.
TEST(FoldBatchnorm, WorkedExample) {
  BatchNorm2d bn{{2.0f, 0.5f}, {0.25f, -1.0f}, {1.0f, 2.0f}, {3.0f, 0.0f}, 1.0};
  const FoldedConv f = fold_batchnorm({1.0f, -2.0f, 4.0f, 8.0f}, {3.0f, 6.0f}, 2, bn);
  EXPECT_EQ(f.weight, (std::vector<float>{1.0f, -2.0f, 2.0f, 4.0f}));  // channel 1: s = 0.5
  EXPECT_EQ(f.bias, (std::vector<float>{2.25f, 1.0f}));  // (3 - 1) + 0.25, (6 - 2) * 0.5 - 1
  const FoldedConv nobias = fold_batchnorm({1.0f, 1.0f}, {}, 2, bn);
  EXPECT_EQ(nobias.bias, (std::vector<float>{-0.75f, -2.0f}));  // -mean * s + beta
}

TEST(FoldBatchnorm, RejectsBadSizesNamingTheField) {
  const BatchNorm2d bn{{1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}, 1e-5};
  const std::vector<float> w(6, 1.0f);
  struct Bad {
    std::string message;
    std::string got;
  };
  auto fold = [&](const std::vector<float>& weight, const std::vector<float>& bias, int cout,
                  const BatchNorm2d& b) {
    return error_text([&] { (void)fold_batchnorm(weight, bias, cout, b); });
  };
  BatchNorm2d short_gamma = bn, long_beta = bn, short_mean = bn, short_var = bn, negative = bn,
              nan_var = bn;
  short_gamma.gamma.pop_back();
  long_beta.beta.push_back(0);
  short_mean.running_mean.clear();
  short_var.running_var.pop_back();
  negative.running_var[2] = -1.0f;
  nan_var.running_var[1] = std::nanf("");
  const Bad bad[] = {
      {"out_channels must be > 0, got 0", fold(w, {}, 0, bn)},
      {"weight has 7 elements, expected a positive multiple of out_channels = 3",
       fold(std::vector<float>(7, 1.0f), {}, 3, bn)},
      {"weight has 0 elements", fold({}, {}, 3, bn)},
      {"bias has 2 elements, expected 0 (no bias) or out_channels = 3", fold(w, {1, 2}, 3, bn)},
      {"gamma has 2 elements, expected out_channels = 3", fold(w, {}, 3, short_gamma)},
      {"beta has 4 elements, expected out_channels = 3", fold(w, {}, 3, long_beta)},
      {"running_mean has 0 elements, expected out_channels = 3", fold(w, {}, 3, short_mean)},
      {"running_var has 2 elements, expected out_channels = 3", fold(w, {}, 3, short_var)},
      {"running_var[2] + eps must be > 0, got -1 + 1e-05", fold(w, {}, 3, negative)},
      {"running_var[1] + eps must be > 0, got nan", fold(w, {}, 3, nan_var)},
  };
  for (const Bad& b : bad) {
    EXPECT_NE(b.got.find("fold_batchnorm: " + b.message), std::string::npos)
        << "want: " << b.message << "\ngot: " << b.got;
  }
  EXPECT_EQ(fold(w, {}, 3, bn), "");
}

}  // namespace
}  // namespace test
}  // namespace mvit
