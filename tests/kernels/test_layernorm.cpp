// kernels/layernorm: the case list against the fp64 reference, that the list reaches every template
// instance, in-place aliasing (bitwise the same as separate buffers), NaN confined to its row,
// constant rows giving beta exactly, that the large-mean case really rejects a one-pass variance,
// and the argument checks with their messages.
#include <cmath>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kernels/layernorm.h"
#include "tests/cases/family_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/reference/layernorm_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/error_text.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

using LayerNormTest = KernelCaseTest;
TEST_P(LayerNormTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, LayerNormTest, ::testing::ValuesIn(layernorm_cases()), CaseName());

int channels_of(const std::string& name) {
  return std::stoi(name.substr(name.find('c') + 1));  // names start "c<C>_" (after "Full_")
}

// Every instance layernorm.cu's switch lists is reached by a CI case: warp path kPacks 1 .. 8
// (f16 / bf16 vec up to 4) and the block path, each vec and scalar, per dtype; and every dtype
// with no residual, a residual, and residual + sum. Names carry C, dtype and form.
TEST(LayerNormCases, ReachEveryInstance) {
  std::set<std::string> reached;
  std::set<std::string> forms;
  bool nobeta = false;
  for (const KernelCase& c : layernorm_cases()) {
    if (has(c.name, "Full")) continue;
    const std::string dtype = has(c.name, "_bf16") ? "bf16" : has(c.name, "_f16") ? "f16" : "f32";
    const std::string path = c.expect_vec > 1 ? "vec" : "scalar";
    if (c.expect_impl == "layernorm_block_per_row") {
      reached.insert(dtype + "/" + path + "/block");
    } else {
      const int packs = layernorm_packs_per_lane(channels_of(c.name), c.expect_vec);
      reached.insert(dtype + "/" + path + "/packs" + std::to_string(packs));
    }
    forms.insert(dtype + (has(c.name, "_res_sum") ? "/sum" : has(c.name, "_res") ? "/res" : ""));
    nobeta = nobeta || has(c.name, "nobeta");
  }
  for (const char* dtype : {"f32", "f16", "bf16"}) {
    const std::string d = dtype;
    for (const char* path : {"vec", "scalar"}) {
      const std::string p = path;
      const int max_packs = p == "vec" && d != "f32" ? 4 : 8;
      for (int packs = 1; packs <= max_packs; packs *= 2) {
        const std::string key = d + "/" + p + "/packs" + std::to_string(packs);
        EXPECT_TRUE(reached.count(key)) << "no CI case reaches " << key;
      }
      EXPECT_TRUE(reached.count(d + "/" + p + "/block"))
          << "no CI case reaches " << d << "/" << p << "/block";
    }
    for (const char* form : {"", "/res", "/sum"}) {
      EXPECT_TRUE(forms.count(d + form)) << "no CI case of " << d << form;
    }
  }
  EXPECT_TRUE(nobeta);
}

// Random inputs for one op on device, with the reference's own host copies.
struct Problem {
  Problem(int64_t rows_, int C_, DType t, uint32_t seed) : rows(rows_), C(C_), dtype(t) {
    const size_t n = static_cast<size_t>(rows) * C;
    x = round_to(t, random_floats(n, seed));
    r = round_to(t, random_floats(n, seed + 1));
    gamma = round_to(t, random_floats(static_cast<size_t>(C), seed + 2, -1.5f, 1.5f));
    beta = round_to(t, random_floats(static_cast<size_t>(C), seed + 3, -0.5f, 0.5f));
  }
  LayerNormParams params(const DeviceTensor& dx, const DeviceTensor* dr, DeviceTensor* dsum,
                         const DeviceTensor& dg, const DeviceTensor& db, DeviceTensor& dy) const {
    LayerNormParams p;
    p.x = dx.get();
    p.residual = dr ? dr->get() : nullptr;
    p.sum = dsum ? dsum->get() : nullptr;
    p.gamma = dg.get();
    p.beta = db.get();
    p.y = dy.get();
    p.rows = rows;
    p.channels = C;
    p.dtype = dtype;
    return p;
  }
  int64_t rows;
  int C;
  DType dtype;
  std::vector<float> x, r, gamma, beta;
};

// The paths the dedicated tests run on: warp vec, warp scalar, block vec, block scalar.
struct PathShape {
  int64_t rows;
  int C;
  DType dtype;
  const char* impl;
  int vec;
};
const PathShape kPaths[] = {
    {9, 144, DType::kF16, "layernorm_warp_per_row", 8},
    {7, 33, DType::kF32, "layernorm_warp_per_row", 1},
    {6, 2048, DType::kF32, "layernorm_block_per_row", 4},
    {5, 1001, DType::kBF16, "layernorm_block_per_row", 1},
};

class LayerNormDevice : public DeviceTest {};

// y == x, y == residual, sum == x, sum == residual and the two allowed pairs give bitwise what
// separate buffers give, on every path.
TEST_F(LayerNormDevice, InPlaceAliasesMatchSeparateBuffers) {
  enum Alias { kYX = 1, kYR = 2, kSumX = 4, kSumR = 8 };
  const int combos[] = {kYX, kYR, kSumX, kSumR, kYX | kSumR, kYR | kSumX};
  for (const PathShape& ps : kPaths) {
    const Problem pr(ps.rows, ps.C, ps.dtype, 40 + ps.C);
    const size_t n = pr.x.size();
    DeviceTensor dx(ps.dtype, pr.x), dr(ps.dtype, pr.r), dg(ps.dtype, pr.gamma),
        db(ps.dtype, pr.beta), dy(ps.dtype, n), dsum(ps.dtype, n);
    const Dispatch ran = layernorm_forward(pr.params(dx, &dr, &dsum, dg, db, dy), nullptr);
    EXPECT_EQ(std::string(ran.impl), ps.impl);
    EXPECT_EQ(ran.vec, ps.vec);
    const std::vector<float> want_y = dy.download(), want_sum = dsum.download();
    for (int combo : combos) {
      DeviceTensor ax(ps.dtype, pr.x), ar(ps.dtype, pr.r), other_y(ps.dtype, n),
          other_sum(ps.dtype, n);
      LayerNormParams p = pr.params(ax, &ar, &other_sum, dg, db, other_y);
      if (combo & kYX) p.y = ax.get();
      if (combo & kYR) p.y = ar.get();
      if (combo & kSumX) p.sum = ax.get();
      if (combo & kSumR) p.sum = ar.get();
      ASSERT_TRUE(layernorm_supported(p)) << "alias combo " << combo;
      (void)layernorm_forward(p, nullptr);
      const DeviceTensor& out_y = combo & kYX ? ax : combo & kYR ? ar : other_y;
      const DeviceTensor& out_sum = combo & kSumX ? ax : combo & kSumR ? ar : other_sum;
      EXPECT_EQ(out_y.download(), want_y) << ps.impl << " C " << ps.C << " combo " << combo;
      EXPECT_EQ(out_sum.download(), want_sum) << ps.impl << " C " << ps.C << " combo " << combo;
    }
  }
}

// A NaN in one row's x (or residual) makes that row's y all NaN and its sum NaN at that element
// only; every other row is finite and within the rule (a kernel reading across rows would spread
// it).
TEST_F(LayerNormDevice, NanStaysInItsRow) {
  for (const PathShape& ps : kPaths) {
    for (bool in_residual : {false, true}) {
      Problem pr(ps.rows, ps.C, ps.dtype, 70 + ps.C);
      const int64_t bad_row = ps.rows / 2;
      const size_t bad = static_cast<size_t>(bad_row) * ps.C + ps.C / 3;
      (in_residual ? pr.r : pr.x)[bad] = std::nanf("");
      const size_t n = pr.x.size(), C = static_cast<size_t>(ps.C);
      DeviceTensor dx(ps.dtype, pr.x), dr(ps.dtype, pr.r), dg(ps.dtype, pr.gamma),
          db(ps.dtype, pr.beta), dy(ps.dtype, n), dsum(ps.dtype, n);
      (void)layernorm_forward(pr.params(dx, &dr, &dsum, dg, db, dy), nullptr);
      const std::vector<float> y = dy.download(), sum = dsum.download();
      const LayerNormShape shape{ps.rows, ps.C, 1e-5f};
      const std::vector<float> s = layernorm_stored_sum(ps.dtype, pr.x, pr.r);
      const Reference want = layernorm_ref(shape, s, pr.gamma, pr.beta);
      const std::vector<float> lowp = layernorm_lowp(shape, s, pr.gamma, pr.beta, ps.dtype);
      Reference good_want;
      std::vector<float> good_y, good_lowp;
      for (size_t i = 0; i < n; ++i) {
        const bool in_bad_row = i / C == static_cast<size_t>(bad_row);
        if (in_bad_row) {
          EXPECT_TRUE(std::isnan(y[i])) << ps.impl << " C " << ps.C << ": y[" << i << "]";
          EXPECT_EQ(std::isnan(sum[i]), i == bad)
              << ps.impl << " C " << ps.C << ": sum[" << i << "]";
          continue;
        }
        EXPECT_TRUE(std::isfinite(sum[i]));
        good_y.push_back(y[i]);
        good_lowp.push_back(lowp[i]);
        good_want.value.push_back(want.value[i]);
        good_want.scale.push_back(want.scale[i]);
      }
      const Comparison c = compare_rule(ps.dtype, false, good_y, good_want, good_lowp);
      EXPECT_TRUE(c.ok()) << ps.impl << " C " << ps.C << ": " << c.describe();
    }
  }
}

// Rows of one exactly representable value (sums exact, mean exact, var 0) give y = beta bitwise.
TEST_F(LayerNormDevice, ConstantRowsGiveBetaExactly) {
  for (const PathShape& ps : kPaths) {
    Problem pr(ps.rows, ps.C, ps.dtype, 90 + ps.C);
    for (size_t i = 0; i < pr.x.size(); ++i) pr.x[i] = -0.75f + 0.25f * (i / ps.C);
    const size_t n = pr.x.size();
    DeviceTensor dx(ps.dtype, pr.x), dg(ps.dtype, pr.gamma), db(ps.dtype, pr.beta), dy(ps.dtype, n);
    (void)layernorm_forward(pr.params(dx, nullptr, nullptr, dg, db, dy), nullptr);
    const std::vector<float> y = dy.download();
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(y[i], pr.beta[i % ps.C]) << ps.impl << " C " << ps.C << " at " << i;
    }
  }
}

// The large-mean case is a real test: the one-pass variance E[s^2] - E[s]^2 in fp32 gets outputs
// wrong by several times their size there (z -18.5 for -2.3), which fails the fp32 rule ~50x even
// with the mean|s| / sd term of the scale (3.4e4 here), while the centred two-pass form
// (layernorm_lowp in fp32) passes. Host only.
TEST(LayerNormNumerics, LargeMeanRejectsOnePassVariance) {
  const int64_t rows = 64;
  const int C = 144;
  std::vector<float> x = random_floats(static_cast<size_t>(rows) * C, 11);
  for (float& v : x) v = 1000.0f + 0.05f * v;
  const std::vector<float> gamma = random_floats(C, 12, -1.5f, 1.5f);
  const std::vector<float> beta = random_floats(C, 13, -0.5f, 0.5f);
  const LayerNormShape shape{rows, C, 1e-5f};
  const Reference want = layernorm_ref(shape, x, gamma, beta);
  EXPECT_TRUE(compare_fp32(layernorm_lowp(shape, x, gamma, beta, DType::kF32), want).ok());
  std::vector<float> one_pass(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    float s1 = 0, s2 = 0;
    for (int c = 0; c < C; ++c) s1 += x[r * C + c], s2 += x[r * C + c] * x[r * C + c];
    const float mean = s1 / C, var = std::fmax(s2 / C - mean * mean, 0.0f);
    for (int c = 0; c < C; ++c) {
      one_pass[r * C + c] = (x[r * C + c] - mean) / std::sqrt(var + 1e-5f) * gamma[c] + beta[c];
    }
  }
  const Comparison c = compare_fp32(one_pass, want);
  EXPECT_GT(c.max_error, 10 * kFp32Tolerance) << c.describe();
}

class LayerNormArgs : public DeviceTest {
 protected:
  static constexpr int kRows = 4, kC = 8;
  LayerNormParams valid() const {
    LayerNormParams p;
    p.x = x_->get();
    p.residual = r_->get();
    p.sum = sum_->get();
    p.gamma = g_->get();
    p.beta = b_->get();
    p.y = y_->get();
    p.rows = kRows;
    p.channels = kC;
    p.dtype = DType::kF32;
    return p;
  }
  std::string error(const LayerNormParams& p) const {
    return error_text([&] { (void)layernorm_forward(p, nullptr); });
  }
  // Allocated in SetUp, after the fixture has skipped where no device exists.
  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped()) return;
    x_ = std::make_unique<DeviceTensor>(DType::kF32, random_floats(kRows * kC, 1));
    r_ = std::make_unique<DeviceTensor>(DType::kF32, random_floats(kRows * kC, 2));
    sum_ = std::make_unique<DeviceTensor>(DType::kF32, kRows * kC);
    g_ = std::make_unique<DeviceTensor>(DType::kF32, random_floats(kC, 3));
    b_ = std::make_unique<DeviceTensor>(DType::kF32, random_floats(kC, 4));
    y_ = std::make_unique<DeviceTensor>(DType::kF32, kRows * kC);
  }
  std::unique_ptr<DeviceTensor> x_, r_, sum_, g_, b_, y_;
};

TEST_F(LayerNormArgs, AcceptsValidParams) {
  EXPECT_TRUE(layernorm_supported(valid()));
  EXPECT_EQ(error(valid()), "");
  LayerNormParams p = valid();
  p.sum = nullptr;
  p.residual = nullptr;
  p.beta = nullptr;
  EXPECT_TRUE(layernorm_supported(p));
  EXPECT_EQ(error(p), "");
  p = valid();
  p.residual = p.x;  // inputs may overlap: y = LN(2 x)
  EXPECT_TRUE(layernorm_supported(p));
}

TEST_F(LayerNormArgs, RejectsBadFieldsNamingThem) {
  struct Bad {
    void (*mutate)(LayerNormParams&);
    const char* message;
  };
  const Bad bad[] = {
      {[](LayerNormParams& p) { p.x = nullptr; }, "x is null"},
      {[](LayerNormParams& p) { p.gamma = nullptr; }, "gamma is null"},
      {[](LayerNormParams& p) { p.y = nullptr; }, "y is null"},
      {[](LayerNormParams& p) { p.residual = nullptr; },
       "sum is given but residual is null (sum stores x + residual)"},
      {[](LayerNormParams& p) { p.rows = 0; }, "rows must be in [1, 2147483647], got 0"},
      {[](LayerNormParams& p) { p.rows = int64_t{1} << 31; },
       "rows must be in [1, 2147483647], got 2147483648"},
      {[](LayerNormParams& p) { p.channels = 0; }, "channels must be in [1, 65536], got 0"},
      {[](LayerNormParams& p) { p.channels = 65537; }, "channels must be in [1, 65536], got 65537"},
      {[](LayerNormParams& p) { p.eps = 0.0f; }, "eps must be finite and > 0, got 0"},
      {[](LayerNormParams& p) { p.eps = -1.0f; }, "eps must be finite and > 0, got -1"},
      {[](LayerNormParams& p) { p.eps = std::nanf(""); }, "eps must be finite and > 0, got nan"},
      {[](LayerNormParams& p) { p.eps = INFINITY; }, "eps must be finite and > 0, got inf"},
      {[](LayerNormParams& p) { p.dtype = static_cast<DType>(7); },
       "dtype 7 is not a DType (supported: f32, f16, bf16)"},
      {[](LayerNormParams& p) { p.x = static_cast<const char*>(p.x) + 2; },
       "x must be aligned to its 4-byte f32 elements, got address"},
      {[](LayerNormParams& p) { p.beta = static_cast<const char*>(p.beta) + 1; },
       "beta must be aligned to its 4-byte f32 elements"},
      {[](LayerNormParams& p) {
         p.dtype = DType::kF16;
         p.sum = static_cast<char*>(p.sum) + 1;
       },
       "sum must be aligned to its 2-byte f16 elements"},
      {[](LayerNormParams& p) { p.y = static_cast<float*>(const_cast<void*>(p.x)) + 1; },
       "overlaps x"},
      {[](LayerNormParams& p) { p.y = p.sum; }, "overlaps sum"},
      {[](LayerNormParams& p) { p.sum = static_cast<float*>(const_cast<void*>(p.residual)) + 8; },
       "overlaps residual"},
      {[](LayerNormParams& p) { p.y = const_cast<void*>(p.gamma); }, "overlaps gamma"},
      {[](LayerNormParams& p) { p.sum = const_cast<void*>(p.beta); }, "overlaps beta"},
  };
  for (const Bad& b : bad) {
    LayerNormParams p = valid();
    b.mutate(p);
    EXPECT_FALSE(layernorm_supported(p)) << b.message;
    const std::string e = error(p);
    EXPECT_TRUE(has(e, "layernorm: ") && has(e, b.message))
        << "want: " << b.message << "\ngot: " << e;
  }
}

// The overlap messages name both tensors and say what would be allowed.
TEST_F(LayerNormArgs, OverlapMessagesNameBothTensors) {
  LayerNormParams p = valid();
  p.y = p.sum;
  EXPECT_TRUE(has(error(p), "overlaps sum")) << error(p);
  EXPECT_TRUE(has(error(p), "no overlap is allowed there")) << error(p);
  p = valid();
  p.y = static_cast<float*>(const_cast<void*>(p.x)) + 1;
  EXPECT_TRUE(has(error(p), "y ") && has(error(p), "allowed only when the two are equal"))
      << error(p);
}

}  // namespace
}  // namespace test
}  // namespace mvit
