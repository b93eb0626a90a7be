// layernorm cases: every LayerNorm of the MobileViT transformers at a 256x256 input, as (C, rows):
// the transformer dims of XXS 64 / 80 / 96, XS 96 / 120 / 144 and S 144 / 192 / 240 at their
// stages' rows = B * P * N (P = 4, N = 256 / 64 / 16: rows 1024 / 256 / 64 at batch 1),
// deduplicated, in three forms: plain (the first LN of a layer), residual + sum (the fused
// x + attention / FFN output feeding the next LN and the next residual) and residual without sum
// (the final LN of the official flavour), for f32, f16, bf16; batch 8 (Full). Edge cases: odd C
// (1, 3, 33, 250), rows = 1, no beta, unaligned pointers (scalar fallback), every template
// instance (kPacks 1 .. 8 on both paths, the block-per-row kernel for C > 1024 / > 256 scalar, up
// to C = 2^16), large-mean rows (1000 + small noise: E[s^2] - E[s]^2 in fp32 loses the variance
// there, the centred variance must not), constant rows (variance 0, y = beta), and 2^20 rows x 64
// (Full). In-place aliasing and NaN rows are dedicated tests (test_layernorm.cpp): an in-place
// case cannot be launched twice with the same result.
//
// Tolerance (tests/support/tolerance.h). Outputs checked: y, and the stored sum when there is
// one. y's scale per element is |gamma_c| (|z| + 1 + mean|s| / sd) + |beta_c|
// (layernorm_ref.h): the output rounding acts on |gamma z| + |beta|; the fp32 mean is off by a few
// ulp of mean|s|, which moves z by that / sd; rstd and s - mean are off by a few ulp of z. The
// sum's scale is |x| + |residual|. fp32 within 1e-5; f16 / bf16 within 2x the error of
// layernorm_lowp (the same op in the kernels' precision, sum rounded to dtype as stored).
//
// Bench: bytes = x + residual + gamma + beta read, y + sum written; flops = 8 per element (add
// the residual, sum, subtract the mean, square-accumulate, scale by rstd, FMA gamma and beta).
//
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/common/cuda_check.h"
#include "kernels/layernorm.h"
#include "tests/cases/family_cases.h"
#include "tests/reference/layernorm_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

enum class Residual { kNone, kAdd, kAddAndStore };  // plain, residual, residual + sum
enum class Input { kRandom, kLargeMean, kConstantRows };

struct LnCase {
  int64_t rows;
  int C;
  DType dtype;
  Residual residual = Residual::kNone;
  bool beta = true;
  Input input = Input::kRandom;
  size_t x_offset = 0, y_offset = 0;  // elements past 256-byte alignment
};

// x for the case's input kind. Large mean: 1000 + noise of a few ulp of 1000 in the storage type
// (f32 0.05, f16 1, bf16 8), so mean^2 / var ~ 1e9 / 3e6 / 5e4. Constant rows: every even row
// one value k / 4 (exact sums, so mean is exact and var 0), odd rows random.
std::vector<float> make_x(const LnCase& d, uint32_t seed) {
  const size_t n = static_cast<size_t>(d.rows) * d.C;
  std::vector<float> x = random_floats(n, seed);
  if (d.input == Input::kLargeMean) {
    const float noise = d.dtype == DType::kF32 ? 0.05f : d.dtype == DType::kF16 ? 1.0f : 8.0f;
    for (float& v : x) v = 1000.0f + noise * v;
  } else if (d.input == Input::kConstantRows) {
    for (int64_t r = 0; r < d.rows; r += 2) {
      for (int c = 0; c < d.C; ++c) x[static_cast<size_t>(r) * d.C + c] = (r % 7 - 3) * 0.25f;
    }
  }
  return round_to(d.dtype, x);
}

class LayerNormRun final : public PreparedCase {
 public:
  LayerNormRun(const LnCase& d, uint32_t seed, int replicas) : d_(d) {
    const size_t n = static_cast<size_t>(d.rows) * d.C, C = static_cast<size_t>(d.C);
    x_ = make_x(d, seed);
    if (d.residual != Residual::kNone) {
      r_ = round_to(d.dtype, random_floats(n, seed + 1));
      if (d.input == Input::kConstantRows) {
        for (int64_t row = 0; row < d.rows; row += 2) {
          for (size_t c = 0; c < C; ++c) r_[static_cast<size_t>(row) * C + c] = 0.5f;
        }
      }
    }
    // gamma in [-1.5, 1.5), beta in [-0.5, 0.5): y is O(1), signs of both exercised.
    gamma_ = round_to(d.dtype, random_floats(C, seed + 2, -1.5f, 1.5f));
    if (d.beta) beta_ = round_to(d.dtype, random_floats(C, seed + 3, -0.5f, 0.5f));
    const LayerNormShape shape{d.rows, d.C, 1e-5f};
    sum_ = layernorm_stored_sum(d.dtype, x_, r_);
    want_ = layernorm_ref(shape, sum_, gamma_, beta_);
    if (d.dtype != DType::kF32) lowp_ = layernorm_lowp(shape, sum_, gamma_, beta_, d.dtype);
    if (d.residual == Residual::kAddAndStore) {
      const Reference s = residual_sum_ref(x_, r_);
      want_.value.insert(want_.value.end(), s.value.begin(), s.value.end());
      want_.scale.insert(want_.scale.end(), s.scale.begin(), s.scale.end());
      if (d.dtype != DType::kF32) lowp_.insert(lowp_.end(), sum_.begin(), sum_.end());
    }
    dx_ = std::make_unique<DeviceTensor>(d.dtype, x_, replicas, d.x_offset);
    if (!r_.empty()) dr_ = std::make_unique<DeviceTensor>(d.dtype, r_, replicas);
    dg_ = std::make_unique<DeviceTensor>(d.dtype, gamma_, replicas);
    if (d.beta) db_ = std::make_unique<DeviceTensor>(d.dtype, beta_, replicas);
    dy_ = std::make_unique<DeviceTensor>(d.dtype, n, replicas, d.y_offset);
    if (d.residual == Residual::kAddAndStore) {
      dsum_ = std::make_unique<DeviceTensor>(d.dtype, n, replicas, d.y_offset);
    }
    replicas_ = replicas;
    const size_t io = dx_->bytes() + (dr_ ? dr_->bytes() : 0) + dg_->bytes() +
                      (db_ ? db_->bytes() : 0) + dy_->bytes() + (dsum_ ? dsum_->bytes() : 0);
    bytes = static_cast<double>(io);
    flops = 8.0 * static_cast<double>(n);
  }

  void launch(Stream stream, int replica) override {
    LayerNormParams p;
    p.x = dx_->get(replica);
    p.residual = dr_ ? dr_->get(replica) : nullptr;
    p.sum = dsum_ ? dsum_->get(replica) : nullptr;
    p.gamma = dg_->get(replica);
    p.beta = db_ ? db_->get(replica) : nullptr;
    p.y = dy_->get(replica);
    p.rows = d_.rows;
    p.channels = d_.C;
    p.eps = 1e-5f;
    p.dtype = d_.dtype;
    dispatched = layernorm_forward(p, stream);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> got = dy_->download();
    if (dsum_) {
      const std::vector<float> s = dsum_->download();
      got.insert(got.end(), s.begin(), s.end());
    }
    return compare_rule(d_.dtype, false, got, want_, lowp_);
  }

 private:
  LnCase d_;
  std::vector<float> x_, r_, gamma_, beta_, sum_, lowp_;
  Reference want_;
  std::unique_ptr<DeviceTensor> dx_, dr_, dg_, db_, dy_, dsum_;
};

int vec_of(DType t) {
  return t == DType::kF32 ? 4 : 8;
}

KernelCase make(const std::string& name, const LnCase& d, bool demo = false) {
  KernelCase k;
  k.family = "layernorm";
  k.name = name;
  k.tolerance = kFp32Tolerance;
  k.demo = demo;
  k.prepare = [d, seed = seed_of(name)](int replicas) {
    return std::make_unique<LayerNormRun>(d, seed, replicas);
  };
  // The contract of layernorm.h: the 128-bit path iff C % kVec == 0 and every pointer is
  // 16-byte aligned (DeviceTensor's allocations are 256-byte aligned before the offset).
  const size_t es = dtype_size(d.dtype);
  const bool vec =
      d.C % vec_of(d.dtype) == 0 && d.x_offset * es % 16 == 0 && d.y_offset * es % 16 == 0;
  k.expect_vec = vec ? vec_of(d.dtype) : 1;
  const int warp_max = vec ? kLayerNormWarpMaxChannelsVec : kLayerNormWarpMaxChannelsScalar;
  k.expect_impl = d.C <= warp_max ? "layernorm_warp_per_row" : "layernorm_block_per_row";
  return k;
}

const char* residual_name(Residual r) {
  return r == Residual::kNone ? "" : r == Residual::kAdd ? "_res" : "_res_sum";
}

std::string name_of(const LnCase& d) {
  return "c" + std::to_string(d.C) + "_r" + std::to_string(d.rows) + "_" + dtype_name(d.dtype) +
         residual_name(d.residual);
}

}  // namespace

std::vector<KernelCase> layernorm_cases() {
  std::vector<KernelCase> cases;
  const DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16;
  const Residual kNone = Residual::kNone, kAdd = Residual::kAdd, kSum = Residual::kAddAndStore;

  // (C, rows at batch 1) of every transformer LN at 256x256: XXS (64, 1024) (80, 256) (96, 64),
  // XS (96, 1024) (120, 256) (144, 64), S (144, 1024) (192, 256) (240, 64); every dtype and
  // form in CI, except at rows = 1024 where CI runs f16 with residual + sum (the production
  // form), f32 plain and bf16 with a residual (the other six forms there are the same instances
  // as at the smaller rows, and a third of the family's ASan time: Full); batch 8 in Full.
  struct Shape {
    int C;
    int64_t rows;
  };
  const Shape shapes[] = {{64, 1024}, {80, 256},   {96, 64},   {96, 1024}, {120, 256},
                          {144, 64},  {144, 1024}, {192, 256}, {240, 64}};
  for (const Shape& s : shapes) {
    for (DType t : {kF16, kF32, kBF16}) {
      for (Residual r : {kSum, kNone, kAdd}) {
        const bool ci = s.rows < 1024 || (t == kF16 && r == kSum) || (t == kF32 && r == kNone) ||
                        (t == kBF16 && r == kAdd);
        const LnCase d{s.rows, s.C, t, r};
        const bool demo = s.C == 144 && s.rows == 1024 && t == kF16 && r == kSum;
        cases.push_back(make((ci ? "" : "Full_") + name_of(d), d, demo));
      }
    }
    const LnCase b8{8 * s.rows, s.C, kF16, kSum};
    cases.push_back(make("Full_" + name_of(b8), b8));
  }
  // The other inputs' stages (f16, residual + sum): 224x224 (maps 28x28, 14x14, 7x7 resized to
  // 8x8: N = 196, 49, 16) and 192x320 (24x40, 12x20, 6x10: N = 240, 60, 15); rows = 4 N.
  const Shape other_inputs[] = {{64, 784}, {80, 196}, {96, 784}, {120, 196}, {144, 784}, {192, 196},
                                {64, 960}, {80, 240}, {96, 60},  {144, 960}, {192, 240}, {240, 60}};
  for (const Shape& s : other_inputs) {
    const LnCase d{s.rows, s.C, kF16, kSum};
    cases.push_back(make(name_of(d), d));
  }

  // Every warp-path instance: kPacks = 1, 2, 4, 8 (f32 vec: C <= 128, 256, 512, 1024;
  // f16 / bf16 vec: <= 256, 512, 1024; scalar: <= 32, 64, 128, 256), with odd C for the scalar
  // ones (1, 3, 33, 250), rows = 1, and some without beta.
  for (DType t : {kF32, kF16, kBF16}) {
    const std::string tn = dtype_name(t);
    cases.push_back(make("c1_r5_" + tn + "_res_sum", {5, 1, t, kSum}));
    cases.push_back(make("c3_r1_" + tn, {1, 3, t, kNone}));
    cases.push_back(make("c33_r9_" + tn + "_res", {9, 33, t, kAdd}));
    LnCase c250{6, 250, t, kSum};
    c250.beta = false;
    cases.push_back(make("c250_r6_" + tn + "_res_sum_nobeta", c250));
    // The scalar fallback from misaligned x or y at a vector-friendly C (kPacks 4 scalar).
    LnCase ux{12, 96, t, kSum};
    ux.x_offset = 1;
    cases.push_back(make("c96_r12_" + tn + "_res_sum_unaligned_x", ux));
    LnCase uy{7, 128, t, kNone};
    uy.y_offset = 3;
    cases.push_back(make("c128_r7_" + tn + "_unaligned_y", uy));
  }
  cases.push_back(make("c384_r5_f32_res_sum", {5, 384, kF32, kSum}));      // f32 vec kPacks 4
  cases.push_back(make("c1024_r3_f32", {3, 1024, kF32, kNone}));           // f32 vec kPacks 8
  cases.push_back(make("c320_r1_f16_res_sum", {1, 320, kF16, kSum}));      // 16-bit vec kPacks 2
  cases.push_back(make("c512_r6_bf16", {6, 512, kBF16, kNone}));           //   (bf16)
  cases.push_back(make("c768_r4_f16_res", {4, 768, kF16, kAdd}));          // 16-bit vec kPacks 4
  cases.push_back(make("c1024_r2_bf16_res_sum", {2, 1024, kBF16, kSum}));  //   (bf16)

  // The block-per-row kernel: C beyond the warp path's bound, vec and scalar, every dtype.
  cases.push_back(make("c2048_r3_f32_res_sum", {3, 2048, kF32, kSum}));
  cases.push_back(make("c333_r2_f32_res", {2, 333, kF32, kAdd}));
  cases.push_back(make("c65536_r2_f16_res_sum", {2, 65536, kF16, kSum}));
  cases.push_back(make("c1001_r3_f16", {3, 1001, kF16, kNone}));
  LnCase b1032{2, 1032, kBF16, kSum};
  b1032.beta = false;
  cases.push_back(make("c1032_r2_bf16_res_sum_nobeta", b1032));
  cases.push_back(make("c257_r1_bf16_res", {1, 257, kBF16, kAdd}));

  // Large-mean rows: the centred variance keeps them; a one-pass E[s^2] - E[s]^2 would not
  // (test_layernorm.cpp shows it fails this rule on the f32 case).
  for (DType t : {kF32, kF16, kBF16}) {
    LnCase big{64, 144, t, kNone};
    big.input = Input::kLargeMean;
    cases.push_back(make("c144_r64_" + std::string(dtype_name(t)) + "_large_mean", big));
  }
  LnCase big_res{16, 240, kF16, kSum};
  big_res.input = Input::kLargeMean;
  cases.push_back(make("c240_r16_f16_res_sum_large_mean", big_res));
  LnCase big_block{2, 4096, kF32, kNone};
  big_block.input = Input::kLargeMean;
  cases.push_back(make("c4096_r2_f32_large_mean", big_block));

  // Constant rows (every other row): variance 0, y = beta there.
  for (DType t : {kF32, kBF16}) {
    LnCase k{16, 96, t, kSum};
    k.input = Input::kConstantRows;
    cases.push_back(make("c96_r16_" + std::string(dtype_name(t)) + "_res_sum_constant_rows", k));
  }
  LnCase k_block{4, 1100, kF16, kNone};
  k_block.input = Input::kConstantRows;
  cases.push_back(make("c1100_r4_f16_constant_rows", k_block));

  // The largest: a million rows (batch 1024 of the XXS first stage).
  cases.push_back(make("Full_c64_r1048576_f16_res_sum", {int64_t{1} << 20, 64, kF16, kSum}));
  return cases;
}

}  // namespace test
}  // namespace mvit
