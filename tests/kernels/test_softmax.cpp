// kernels/softmax: the case list against the fp64 reference; that the list reaches every instance
// of softmax.cu's table (f32 -> f16) and both kernels on both paths for every dtype pair; the
// numerics the issue names (all-equal rows, |s| ~ 100 in fp16, n = 1, NaN confined to its row),
// in place; and the argument checks with their messages.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kernels/softmax.h"
#include "tests/cases/family_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/reference/softmax_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/error_text.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

using SoftmaxTest = KernelCaseTest;
TEST_P(SoftmaxTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, SoftmaxTest, ::testing::ValuesIn(softmax_cases()), CaseName());

// The n in a case name "n<n>_r<rows>_<x>_<y>[...]".
int n_of(const std::string& name) {
  const size_t at = name.find('n', has(name, "Full_") ? 5 : 0);
  return std::stoi(name.substr(at + 1));
}

// softmax.cu's instance table (its file comment): values per lane and lanes per row for n on a
// path of `pack` elements per access; lanes 128 for the block kernel.
std::string instance_of(int n, int pack) {
  if (n > kSoftmaxGroupMaxCols) return std::string("block/") + (n <= 2048 ? "16" : "32");
  for (int lanes = 4; lanes <= 32; lanes *= 2) {
    if (n <= lanes * pack) return "group/" + std::to_string(pack) + "x" + std::to_string(lanes);
  }
  int cols = 2;
  while (32 * cols < n) cols *= 2;
  return "group/" + std::to_string(std::max(cols, pack)) + "x32";
}

TEST(SoftmaxCases, ReachEveryInstance) {
  std::set<std::string> reached_f32_f16, pairs;
  for (const KernelCase& c : softmax_cases()) {
    if (has(c.name, "Full")) continue;
    const int n = n_of(c.name);
    const std::string path = c.expect_vec > 1 ? "vec" : "scalar";
    if (has(c.name, "_f32_f16")) reached_f32_f16.insert(path + "/" + instance_of(n, c.expect_vec));
    for (const char* pair : {"_f32_f32", "_f32_f16", "_f32_bf16", "_f16_f32", "_f16_f16",
                             "_f16_bf16", "_bf16_f32", "_bf16_f16", "_bf16_bf16"}) {
      if (has(c.name, pair)) pairs.insert(std::string(pair) + "/" + path + "/" + c.expect_impl);
    }
  }
  std::set<std::string> want;
  for (int n = 1; n <= kSoftmaxMaxCols; ++n) {
    want.insert("scalar/" + instance_of(n, 1));
    if (n % 4 == 0) want.insert("vec/" + instance_of(n, 4));
  }
  EXPECT_EQ(want.size(), 20u);  // 9 + 2 scalar, 7 + 2 vector instances
  for (const std::string& w : want) EXPECT_TRUE(reached_f32_f16.count(w)) << "f32 -> f16: " << w;
  for (const char* pair : {"_f32_f32", "_f32_f16", "_f32_bf16", "_f16_f32", "_f16_f16", "_f16_bf16",
                           "_bf16_f32", "_bf16_f16", "_bf16_bf16"}) {
    for (const char* path : {"vec", "scalar"}) {
      for (const char* impl : {"softmax_group_per_row", "softmax_block_per_row"}) {
        const std::string key = std::string(pair) + "/" + path + "/" + impl;
        EXPECT_TRUE(pairs.count(key)) << "no CI case reaches " << key;
      }
    }
  }
}

// Runs the softmax over dense [rows, n] x on the device and returns y (as floats).
std::vector<float> run_softmax(const std::vector<float>& x, int64_t rows, int n, float scale,
                               DType xt, DType yt, size_t offset = 0, Dispatch* ran = nullptr) {
  DeviceTensor dx(xt, x, 1, offset), dy(yt, x.size(), 1, offset);
  SoftmaxParams p;
  p.x = dx.get();
  p.y = dy.get();
  p.rows = rows;
  p.n = n;
  p.scale = scale;
  p.x_dtype = xt;
  p.y_dtype = yt;
  const Dispatch d = softmax_forward(p, nullptr);
  if (ran != nullptr) *ran = d;
  return dy.download();
}

class SoftmaxNumerics : public DeviceTest {};

// Every score of a row equal: exactly uniform (1/n within one rounding of y's type), for rows of
// different constants, on both kernels and both paths.
TEST_F(SoftmaxNumerics, AllEqualRowsAreUniform) {
  for (int n : {16, 100, 1024, 3, 4096, 4095}) {
    const int64_t rows = 6;
    std::vector<float> x(static_cast<size_t>(rows) * n);
    for (int64_t r = 0; r < rows; ++r) {
      for (int j = 0; j < n; ++j) x[r * n + j] = -3.0f + 1.25f * static_cast<float>(r);
    }
    for (DType yt : {DType::kF32, DType::kF16}) {
      const std::vector<float> y = run_softmax(x, rows, n, 0.5f, DType::kF32, yt);
      const double want = 1.0 / n, tol = yt == DType::kF32 ? 1e-6 * want : 1e-3 * want;
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_NEAR(y[i], want, tol) << "n " << n << " " << dtype_name(yt) << " at " << i;
      }
    }
  }
}

// fp16 scores of magnitude ~100 (and scale 1): exp(100) = 2.7e43 overflows fp32 (max 3.4e38), so
// only the max subtraction keeps the row finite; the result must match the reference. Rows hold
// one dominant score, a near tie, and ordinary spread.
TEST_F(SoftmaxNumerics, LargeFp16ScoresDoNotOverflow) {
  const int64_t rows = 40;
  for (int n : {64, 256, 2048}) {
    std::vector<float> x = round_to(DType::kF16, random_floats(rows * n, 11u + n, 90.0f, 110.0f));
    for (int64_t r = 0; r < rows; r += 2) {
      for (int j = 0; j < n; ++j) x[r * n + j] = -x[r * n + j];  // |s| ~ 100 with both signs
    }
    x[3 * n + 5] = 112.0f;
    x[3 * n + 6] = 111.9375f;  // a near tie above the rest (fp16 steps are 1/16 there)
    const SoftmaxRefShape s{rows, n, 1.0f};
    const Reference want = softmax_ref(s, x);
    for (DType yt : {DType::kF16, DType::kF32}) {
      const std::vector<float> y = run_softmax(x, rows, n, 1.0f, DType::kF16, yt);
      const Comparison c = compare_rule(yt, false, y, want, softmax_lowp(s, x, yt));
      EXPECT_TRUE(c.ok()) << "n " << n << " " << dtype_name(yt) << ": " << c.describe();
      double row_sum = 0;
      for (int j = 0; j < n; ++j) row_sum += y[3 * n + j];
      EXPECT_NEAR(row_sum, 1.0, 1e-2);
    }
  }
}

// A row of one element is exactly 1, whatever its (finite) value, the scale and the dtypes.
TEST_F(SoftmaxNumerics, SingleColumnIsExactlyOne) {
  for (DType xt : {DType::kF32, DType::kF16, DType::kBF16}) {
    std::vector<float> x = {-60000.0f, -1.0f, 0.0f, 1e-3f, 2.5f, 65504.0f};
    if (xt != DType::kF16) x.push_back(1e38f);  // not an fp16 value
    for (DType yt : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (float scale : {1.0f, 0.125f}) {
        const std::vector<float> y =
            run_softmax(x, static_cast<int64_t>(x.size()), 1, scale, xt, yt);
        for (size_t i = 0; i < y.size(); ++i) {
          EXPECT_EQ(y[i], 1.0f) << dtype_name(xt) << " -> " << dtype_name(yt) << " at " << i;
        }
      }
    }
  }
}

// A NaN in one row makes that whole row NaN and leaves every other row finite and correct: a
// kernel that read outside its row (neighbouring rows share a warp, a block, a pack) would
// spread it. Both kernels, vector and scalar paths, NaN at the first, a middle and the last
// column, in rows at different places in their blocks and groups.
TEST_F(SoftmaxNumerics, NanStaysInItsRow) {
  struct Where {
    int n;
    size_t offset;  // 1: the scalar path
  };
  for (const Where& w : {Where{16, 0}, Where{16, 1}, Where{64, 0}, Where{1000, 0}, Where{17, 0},
                         Where{4096, 0}, Where{2049, 1}}) {
    const int n = w.n;
    const int64_t rows = 70;
    std::vector<float> x = random_floats(rows * n, 3u + n, -4.0f, 4.0f);
    const int64_t nan_rows[] = {0, 33, 69};
    const int nan_cols[] = {0, n / 2, n - 1};
    for (int i = 0; i < 3; ++i) x[nan_rows[i] * n + nan_cols[i]] = std::nanf("");
    Dispatch ran;
    const std::vector<float> y =
        run_softmax(x, rows, n, 0.25f, DType::kF32, DType::kF16, w.offset, &ran);
    EXPECT_EQ(ran.vec, w.offset == 0 && n % 4 == 0 ? 4 : 1);
    std::vector<float> clean = x;
    for (int i = 0; i < 3; ++i) clean[nan_rows[i] * n + nan_cols[i]] = 0.0f;
    const SoftmaxRefShape s{rows, n, 0.25f};
    const Reference want = softmax_ref(s, clean);
    const std::vector<float> lowp = softmax_lowp(s, clean, DType::kF16);
    for (int64_t r = 0; r < rows; ++r) {
      const bool poisoned = r == 0 || r == 33 || r == 69;
      for (int j = 0; j < n; ++j) {
        const float got = y[r * n + j];
        if (poisoned) {
          ASSERT_TRUE(std::isnan(got)) << "n " << n << " row " << r << " col " << j << ": " << got;
        } else {
          ASSERT_TRUE(std::isfinite(got)) << "n " << n << " row " << r << " col " << j;
        }
      }
    }
    // The clean rows match the reference (the poisoned ones compared as clean copies are
    // skipped by taking their reference values).
    std::vector<float> got = y;
    for (int64_t r : nan_rows) {
      for (int j = 0; j < n; ++j) got[r * n + j] = lowp[r * n + j];
    }
    const Comparison c = compare_rule(DType::kF16, false, got, want, lowp);
    EXPECT_TRUE(c.ok()) << "n " << n << ": " << c.describe();
  }
}

// y == x: each thread writes exactly the elements it read, after reading them all.
TEST_F(SoftmaxNumerics, InPlace) {
  for (int n : {64, 17, 4096, 1031}) {
    for (DType t : {DType::kF32, DType::kF16}) {
      const int64_t rows = 33;
      const std::vector<float> x = round_to(t, random_floats(rows * n, 21u + n, -4.0f, 4.0f));
      DeviceTensor d(t, x);
      SoftmaxParams p;
      p.x = d.get();
      p.y = d.get();
      p.rows = rows;
      p.n = n;
      p.scale = 0.25f;
      p.x_dtype = p.y_dtype = t;
      (void)softmax_forward(p, nullptr);
      const SoftmaxRefShape s{rows, n, 0.25f};
      const Comparison c =
          compare_rule(t, false, d.download(), softmax_ref(s, x), softmax_lowp(s, x, t));
      EXPECT_TRUE(c.ok()) << "n " << n << " " << dtype_name(t) << ": " << c.describe();
    }
  }
}

class SoftmaxArgs : public DeviceTest {
 protected:
  // [4, 64] f32 in, f16 out: x and y far apart in one allocation.
  SoftmaxParams valid() const {
    SoftmaxParams p;
    p.x = x_->get();
    p.y = y_->get();
    p.rows = 4;
    p.n = 64;
    p.scale = 0.25f;
    p.x_dtype = DType::kF32;
    p.y_dtype = DType::kF16;
    return p;
  }
  std::string error(const SoftmaxParams& p) const {
    return error_text([&] { (void)softmax_forward(p, nullptr); });
  }
  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped()) return;
    x_ = std::make_unique<DeviceTensor>(DType::kF32, std::vector<float>(4 * 64, 0.5f));
    y_ = std::make_unique<DeviceTensor>(DType::kF16, 4 * 64);
  }
  std::unique_ptr<DeviceTensor> x_, y_;
};

TEST_F(SoftmaxArgs, AcceptsValidParams) {
  EXPECT_TRUE(softmax_supported(valid()));
  EXPECT_EQ(error(valid()), "");
  SoftmaxParams p = valid();
  p.y = const_cast<void*>(p.x);
  p.y_dtype = DType::kF32;
  EXPECT_TRUE(softmax_supported(p)) << "in place";
  p.ld_x = p.ld_y = 64;
  EXPECT_TRUE(softmax_supported(p)) << "ld equal to n";
}

TEST_F(SoftmaxArgs, RejectsBadFieldsNamingThem) {
  struct Bad {
    void (*mutate)(SoftmaxParams&);
    const char* message;
  };
  const Bad bad[] = {
      {[](SoftmaxParams& p) { p.x = nullptr; }, "x is null"},
      {[](SoftmaxParams& p) { p.y = nullptr; }, "y is null"},
      {[](SoftmaxParams& p) { p.rows = 0; }, "rows must be >= 1, got 0"},
      {[](SoftmaxParams& p) { p.n = 0; }, "n must be in [1, 4096], got 0"},
      {[](SoftmaxParams& p) { p.n = 4097; }, "n must be in [1, 4096], got 4097"},
      {[](SoftmaxParams& p) { p.ld_x = 63; }, "ld_x must be 0 (meaning n) or >= n 64, got 63"},
      {[](SoftmaxParams& p) { p.ld_y = -1; }, "ld_y must be 0 (meaning n) or >= n 64, got -1"},
      {[](SoftmaxParams& p) { p.x_dtype = static_cast<DType>(5); },
       "x_dtype 5 is not a DType (supported: f32, f16, bf16)"},
      {[](SoftmaxParams& p) { p.y_dtype = static_cast<DType>(6); },
       "y_dtype 6 is not a DType (supported: f32, f16, bf16)"},
      {[](SoftmaxParams& p) { p.scale = std::nanf(""); }, "scale must be finite"},
      {[](SoftmaxParams& p) { p.scale = 3e38f; }, "scale must be finite"},
      {[](SoftmaxParams& p) { p.x = static_cast<const char*>(p.x) + 2; },
       "x must be aligned to its 4-byte elements"},
      {[](SoftmaxParams& p) { p.y = static_cast<char*>(p.y) + 1; },
       "y must be aligned to its 2-byte elements"},
      {[](SoftmaxParams& p) { p.y = const_cast<void*>(p.x); },
       "y == x (in place) needs x_dtype == y_dtype and ld_x == ld_y, got f32 -> f16"},
      {[](SoftmaxParams& p) {
         p.y = const_cast<void*>(p.x);
         p.y_dtype = DType::kF32;
         p.ld_y = 65;
         p.rows = 3;
       },
       "ld_x 64, ld_y 65"},
      {[](SoftmaxParams& p) {
         p.y = static_cast<char*>(const_cast<void*>(p.x)) + 64;
         p.y_dtype = DType::kF32;
       },
       "y must be x itself (in place) or not overlap it"},
      {[](SoftmaxParams& p) {
         p.rows = int64_t{1} << 40;
         p.ld_x = p.ld_y = int64_t{1} << 30;
       },
       "exceed int64 element offsets"},
      {[](SoftmaxParams& p) {
         p.rows = int64_t{1} << 40;
         p.n = 2048;
       },
       "rows must fit the grid: 1099511627776 rows of n 2048 need 1099511627776 blocks"},
  };
  for (const Bad& b : bad) {
    SoftmaxParams p = valid();
    b.mutate(p);
    EXPECT_FALSE(softmax_supported(p)) << b.message;
    const std::string e = error(p);
    EXPECT_TRUE(has(e, "softmax: ") && has(e, b.message))
        << "want: " << b.message << "\ngot: " << e;
  }
}

}  // namespace
}  // namespace test
}  // namespace mvit
