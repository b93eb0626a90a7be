// pool_classifier cases: the head of XXS, XS and S (C6 = 320, 384, 640) on the last map of a
// 256x256 (8x8), 224x224 (7x7) and 192x320 (6x10) input, with 1000 classes (ImageNet; official
// with bias, seed without) and 10 (a fine-tuned head); batch 1, 8 and 256; plus edge cases (C = 1,
// classes = 1, a 1x1 map, odd C, C not a multiple of the vector width, a partial batch tile and
// class block, unaligned x, weight or pooled, unaligned bias, no softmax).
//
// Tolerance (tests/support/tolerance.h). Logits: scale sum_c |w| mean_p |x| + |b|
// (pool_classifier_ref.h); fp32 within 1e-5; f16 / bf16 within max(2 E, 1e-5) with E the
// reference's own fp32 computation from the stored values (nothing in between is stored in the
// reduced type, so E is fp32 rounding and the floor holds). Probabilities: within 1e-5 relative of
// the fp64 softmax of the logits the kernel wrote (softmax_ref), checked beside the logits.
//
// Full: batch 256 (the largest: 328 MFLOP of emulated SIMT Linear, ~11 s), and batch 8 at the
// 7x7 and 6x10 maps (the same kernels as at 8x8; ~1 s each under ASan).
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/common/cuda_check.h"
#include "kernels/pool_classifier.h"
#include "tests/cases/family_cases.h"
#include "tests/reference/pool_classifier_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

struct PcCase {
  PoolClassifierShape shape;
  DType dtype;
  bool bias = true;
  size_t x_offset = 0, w_offset = 0, bias_offset = 0, pooled_offset = 0;  // elements
};

class PoolClassifierRun final : public PreparedCase {
 public:
  PoolClassifierRun(const PcCase& d, uint32_t seed, int replicas) : d_(d) {
    const PoolClassifierShape& s = d.shape;
    const size_t hw = static_cast<size_t>(s.H) * s.W;
    // x in [-0.25, 1), like the SiLU outputs the head reads (>= -0.28): the pool averages without
    // cancelling (mean ~0.375), so the logits' scale stays close to their size and the rule stays
    // tight. Weights in [-a, a) with a = sqrt(3) / (0.375 sqrt(C)) give logits of standard
    // deviation ~1: the softmax is neither flat nor one-hot.
    const float a = std::sqrt(3.0f) / (0.375f * std::sqrt(static_cast<float>(s.C)));
    x_ = round_to(d.dtype, random_floats(s.B * hw * s.C, seed, -0.25f, 1.0f));
    w_ = round_to(d.dtype, random_floats(static_cast<size_t>(s.classes) * s.C, seed + 1, -a, a));
    if (d.bias) bias_ = round_to(d.dtype, random_floats(s.classes, seed + 2, -0.5f, 0.5f));
    want_ = pool_classifier_ref(s, x_, w_, bias_);
    if (d.dtype != DType::kF32) lowp_ = pool_classifier_lowp(s, x_, w_, bias_);
    const size_t out = static_cast<size_t>(s.B) * s.classes;
    dx_ = std::make_unique<DeviceTensor>(d.dtype, x_, replicas, d.x_offset);
    dw_ = std::make_unique<DeviceTensor>(d.dtype, w_, replicas, d.w_offset);
    if (d.bias) db_ = std::make_unique<DeviceTensor>(d.dtype, bias_, replicas, d.bias_offset);
    dpooled_ = std::make_unique<DeviceTensor>(DType::kF32, static_cast<size_t>(s.B) * s.C, replicas,
                                              d.pooled_offset);
    dlogits_ = std::make_unique<DeviceTensor>(DType::kF32, out, replicas);
    if (s.softmax) dprobs_ = std::make_unique<DeviceTensor>(DType::kF32, out, replicas);
    replicas_ = replicas;
    // Minimal traffic: x, weight, bias in; logits (and probs) out. pooled is scratch (B C floats
    // written and read once more), counted as well since it does move.
    bytes = static_cast<double>(dx_->bytes() + dw_->bytes() + (db_ ? db_->bytes() : 0) +
                                2 * dpooled_->bytes() + dlogits_->bytes() +
                                (dprobs_ ? dprobs_->bytes() : 0));
    flops = static_cast<double>(s.B) * (hw * s.C + 2.0 * s.classes * s.C);
  }

  void launch(Stream stream, int r) override {
    PoolClassifierParams p;
    p.x = dx_->get(r);
    p.weight = dw_->get(r);
    p.bias = db_ ? db_->get(r) : nullptr;
    p.pooled = static_cast<float*>(dpooled_->get(r));
    p.logits = static_cast<float*>(dlogits_->get(r));
    p.probs = dprobs_ ? static_cast<float*>(dprobs_->get(r)) : nullptr;
    const PoolClassifierShape& s = d_.shape;
    p.B = s.B, p.H = s.H, p.W = s.W, p.C = s.C, p.classes = s.classes;
    p.dtype = d_.dtype;
    dispatched = pool_classifier_forward(p, stream);
  }

  // The logits against the reference; the probabilities against the softmax of the logits the
  // kernel wrote (the softmax stage alone, held to 1e-5 relative: measured against the reference's
  // probabilities instead, they would inherit the logits' whole tolerance). Reports the worse.
  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<float> logits = dlogits_->download();
    const Comparison l = compare_rule(d_.dtype, false, logits, want_, lowp_);
    if (!dprobs_) return l;
    const PoolClassifierShape& s = d_.shape;
    const Comparison p = compare_fp32(dprobs_->download(), softmax_ref(logits, s.B, s.classes));
    if (!l.ok()) return l;
    return !p.ok() || p.max_error / p.tolerance > l.max_error / l.tolerance ? p : l;
  }

 private:
  PcCase d_;
  std::vector<float> x_, w_, bias_, lowp_;
  Reference want_;
  std::unique_ptr<DeviceTensor> dx_, dw_, db_, dpooled_, dlogits_, dprobs_;
};

KernelCase make(const std::string& name, const PcCase& d, bool demo = false) {
  KernelCase k;
  k.family = "pool_classifier";
  k.name = name;
  k.tolerance = kFp32Tolerance;
  k.demo = demo;
  k.prepare = [d, seed = seed_of(name)](int replicas) {
    return std::make_unique<PoolClassifierRun>(d, seed, replicas);
  };
  // The contract of pool_classifier.h: 128-bit path iff C % kVec == 0 and x, weight, pooled are
  // 16-byte aligned (bias is read by scalar loads).
  const int vec = d.dtype == DType::kF32 ? 4 : 8;
  const size_t es = dtype_size(d.dtype);
  const bool aligned =
      d.x_offset * es % 16 == 0 && d.w_offset * es % 16 == 0 && d.pooled_offset * 4 % 16 == 0;
  k.expect_impl = d.shape.softmax ? "pool_linear_softmax" : "pool_linear";
  k.expect_vec = d.shape.C % vec == 0 && aligned ? vec : 1;
  return k;
}

std::string shape_name(const PcCase& d) {
  const PoolClassifierShape& s = d.shape;
  return "c" + std::to_string(s.C) + "_" + std::to_string(s.H) + "x" + std::to_string(s.W) + "_k" +
         std::to_string(s.classes) + "_b" + std::to_string(s.B) + "_" + dtype_name(d.dtype) +
         (d.bias ? "" : "_nobias") + (s.softmax ? "_softmax" : "");
}

}  // namespace

std::vector<KernelCase> pool_classifier_cases() {
  const DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16;
  std::vector<KernelCase> cases;
  auto add = [&](const PcCase& d, const std::string& suffix = "", bool demo = false,
                 bool full = false) {
    cases.push_back(make((full ? "Full_" : "") + shape_name(d) + suffix, d, demo));
  };
  struct Map {
    int H, W;
  };
  for (int C : {320, 384, 640}) {                       // XXS, XS, S
    for (Map m : {Map{8, 8}, Map{7, 7}, Map{6, 10}}) {  // 256x256, 224x224, 192x320 inputs
      add({{1, m.H, m.W, C, 1000, true}, kF16}, "", C == 640 && m.H == 8);
      add({{8, m.H, m.W, C, 1000, false}, kF32}, "", false, m.H != 8);  // Full off 8x8
      add({{1, m.H, m.W, C, 10, true}, kBF16});
    }
  }
  PcCase seed{{1, 8, 8, 640, 1000, true}, kF16};  // the seed's fc: no bias
  seed.bias = false;
  add(seed);
  add({{256, 8, 8, 640, 1000, true}, kF16}, "", false, true);

  // Edge cases.
  add({{1, 1, 1, 1, 1, true}, kF32});     // one of everything: probs is exactly 1
  add({{3, 1, 1, 8, 5, true}, kF16});     // 1x1 map: the pool is a copy
  add({{2, 3, 5, 37, 13, true}, kBF16});  // odd C: scalar
  add({{1, 4, 4, 12, 7, false}, kF16});   // C % 8 != 0: scalar
  add({{9, 2, 3, 4, 17, true}, kF32});    // a batch tile of 1 after 8, a class block of 1 after 16
  add({{17, 7, 7, 64, 33, true}, kBF16}, "_partial_tiles");
  PcCase nob{{2, 5, 5, 48, 1, true}, kF16};  // classes = 1, no bias
  nob.bias = false;
  add(nob);
  PcCase ux{{2, 7, 7, 640, 100, true}, kF16};
  ux.x_offset = 1;
  add(ux, "_unaligned_x");
  PcCase uw{{2, 8, 8, 384, 100, false}, kF32};
  uw.w_offset = 2;
  add(uw, "_unaligned_weight");
  PcCase up{{2, 6, 10, 320, 64, true}, kBF16};
  up.pooled_offset = 1;
  add(up, "_unaligned_pooled");
  PcCase ub{{2, 6, 10, 320, 64, true}, kF16};
  ub.bias_offset = 3;  // bias is read by scalar loads: still the 128-bit path
  add(ub, "_unaligned_bias");
  return cases;
}

}  // namespace test
}  // namespace mvit
