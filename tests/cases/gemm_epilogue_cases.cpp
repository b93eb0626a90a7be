// gemm_epilogue: the MobileViT 1x1 convs and linears of the convolution side (official flavour,
// shared/reference/mobilevit.md section 3.2; the seed's conv_1x1 has BN + SiLU, so its unfold
// cases carry bias and SiLU), deduplicated: one case per distinct (K, N, order pair), each at
// batch 1 on one of the three input sizes (256x256: maps 128 .. 8; 224x224: 112 .. 7;
// 192x320: 96x160 .. 6x10) so that every geometry appears; batch 8 where it stays cheap, and the
// big batch-8 maps as Full cases. Then the edge cases: one row, one channel, K = 1, odd K and N
// (the scalar paths), unaligned base pointers, every order pair on both implementations, tf32.
//
// Tolerance (tests/support/tolerance.h): f32 1e-5 of the scale sum |x w| + |bias| + |residual|;
// f16, bf16 and tf32 within 2x the error of the same computation in that precision
// (gemm_epilogue_lowp: fp32 accumulation, the fp32 intermediate of both implementations, one
// rounding). Every case has at least 256 outputs in reduced precision, so that the measured E is
// close to its half-ulp maximum and the 2x bound does not depend on luck.
//
// Each case asserts the dispatch gemm_epilogue.h documents (expected() below restates that rule
// from the header, not from the .cu). The wmma_fused cases run the cuBLAS path as their baseline,
// into a separate output, so the baseline's check cannot pass on the fused kernel's result.
// Emulated cost: ~2 s per GFLOP of wmma_fused (two launches) plus the fp64 reference on the host.
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/common/cuda_check.h"
#include "kernels/gemm_epilogue.h"
#include "tests/cases/family_cases.h"
#include "tests/reference/gemm_epilogue_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/library_handles.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

constexpr auto kNhwc = PixelOrder::kNhwc;
constexpr auto kPm = PixelOrder::kPatchMajor;
constexpr auto kNone = Activation::kNone;
constexpr auto kSilu = Activation::kSilu;
constexpr auto kF32 = DType::kF32;
constexpr auto kF16 = DType::kF16;
constexpr auto kBF16 = DType::kBF16;

struct Spec {
  std::string name;
  int B, H, W;  // rows M = B * H * W (H = W = 1 for the classifier: M = B)
  int k, n;
  PixelOrder x_order = kNhwc, y_order = kNhwc;
  Activation act = kNone;
  bool bias = true, residual = false;
  DType dtype = kF16;
  bool tf32 = false;
  GemmImpl impl = GemmImpl::kAuto;
  size_t offset = 0;  // elements past 256-byte aligned bases, for every tensor: the scalar paths
  bool demo = false;
};

int64_t rows_of(const Spec& s) {
  return static_cast<int64_t>(s.B) * s.H * s.W;
}

// The dispatch gemm_epilogue.h documents (the test skips bf16 wmma cases below sm_80).
void expected(const Spec& s, std::string* impl, int* vec) {
  GemmImpl i = s.impl;
  if (i == GemmImpl::kAuto) {
    i = s.dtype == kF32 || rows_of(s) < kGemmWmmaMinRows ? GemmImpl::kCublas : GemmImpl::kWmma;
  }
  if (i == GemmImpl::kWmma) {
    *impl = "wmma_fused";
    *vec = s.k % 8 == 0 && s.n % 8 == 0 && s.offset == 0 ? kGemmWmmaVec : 1;
    return;
  }
  *impl = "cublas+epilogue";
  const int pack = static_cast<int>(16 / dtype_size(s.dtype));
  const bool epilogue =
      !(s.dtype == kF32 && s.x_order == s.y_order && !s.bias && !s.residual && s.act == kNone);
  *vec = !epilogue ? 0 : s.n % pack == 0 && s.offset == 0 ? pack : 1;
}

class GemmEpilogueRun final : public PreparedCase {
 public:
  GemmEpilogueRun(const Spec& s, int replicas) : s_(s) {
    replicas_ = replicas;
    const int64_t m = rows_of(s);
    const size_t mk = static_cast<size_t>(m) * s.k, mn = static_cast<size_t>(m) * s.n;
    const uint32_t seed = seed_of(s.name);
    // Weights in [-a, a), a = sqrt(3 / K): each output's sum has variance ~1/3, so y is O(1).
    const float a = std::sqrt(3.0f / static_cast<float>(s.k));
    in_.x = round_to(s.dtype, random_floats(mk, seed));
    in_.w = round_to(s.dtype, random_floats(static_cast<size_t>(s.n) * s.k, seed + 1, -a, a));
    if (s.bias) in_.bias = round_to(s.dtype, random_floats(s.n, seed + 2, -0.5f, 0.5f));
    if (s.residual) in_.residual = round_to(s.dtype, random_floats(mn, seed + 3));
    p_.m = m;
    p_.n = s.n;
    p_.k = s.k;
    if (s.x_order == kPm || s.y_order == kPm) {
      p_.B = s.B;
      p_.H = s.H;
      p_.W = s.W;
    }
    p_.x_order = s.x_order;
    p_.y_order = s.y_order;
    p_.act = s.act;
    p_.dtype = s.dtype;
    p_.allow_tf32 = s.tf32;
    p_.impl = s.impl;
    want_ = gemm_epilogue_ref(p_, in_);
    if (s.dtype != kF32 || s.tf32) lowp_ = gemm_epilogue_lowp(p_, in_, s.dtype, s.tf32);
    x_ = std::make_unique<DeviceTensor>(s.dtype, in_.x, replicas, s.offset);
    w_ = std::make_unique<DeviceTensor>(s.dtype, in_.w, replicas, s.offset);
    if (s.bias) bias_ = std::make_unique<DeviceTensor>(s.dtype, in_.bias, replicas, s.offset);
    if (s.residual) {
      residual_ = std::make_unique<DeviceTensor>(s.dtype, in_.residual, replicas, s.offset);
    }
    y_ = std::make_unique<DeviceTensor>(s.dtype, mn, replicas, s.offset);
    std::string impl;
    int vec = 0;
    expected(s, &impl, &vec);
    if (impl == "wmma_fused") {
      baseline = "cublas+epilogue";
      y_base_ = std::make_unique<DeviceTensor>(s.dtype, mn, replicas, s.offset);
    }
    const double es = static_cast<double>(dtype_size(s.dtype));
    bytes = es * (static_cast<double>(mk) + static_cast<double>(s.n) * s.k + (s.bias ? s.n : 0) +
                  (s.residual ? 2.0 : 1.0) * static_cast<double>(mn));
    flops = 2.0 * static_cast<double>(mn) * s.k;
  }

  void launch(Stream stream, int replica) override {
    dispatched = gemm_epilogue_forward(params(replica, *y_, p_.impl), test_handles(), stream);
    last_ = y_.get();
  }

  void launch_baseline(Stream stream, int replica) override {
    if (y_base_ == nullptr) return;
    gemm_epilogue_forward(params(replica, *y_base_, GemmImpl::kCublas), test_handles(), stream);
    last_ = y_base_.get();
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    return compare_rule(s_.dtype, s_.tf32, last_->download(), want_, lowp_);
  }

 private:
  GemmEpilogueParams params(int r, const DeviceTensor& y, GemmImpl impl) const {
    GemmEpilogueParams p = p_;
    p.x = x_->get(r);
    p.w = w_->get(r);
    p.bias = bias_ ? bias_->get(r) : nullptr;
    p.residual = residual_ ? residual_->get(r) : nullptr;
    p.y = y.get(r);
    p.impl = impl;
    return p;
  }

  Spec s_;
  GemmEpilogueHost in_;
  GemmEpilogueParams p_;
  Reference want_;
  std::vector<float> lowp_;
  std::unique_ptr<DeviceTensor> x_, w_, bias_, residual_, y_, y_base_;
  const DeviceTensor* last_ = nullptr;
};

KernelCase make(const Spec& s) {
  std::string impl;
  int vec = 0;
  expected(s, &impl, &vec);
  const double tol = kFp32Tolerance;  // f32; the reduced-precision bound is derived per run
  return {"gemm_epilogue",
          s.name,
          tol,
          s.demo,
          [s](int replicas) { return std::make_unique<GemmEpilogueRun>(s, replicas); },
          impl,
          vec};
}

// MobileViT layers, batch 1 unless the name says b8. Names: variant, stage (timm numbering),
// layer, K, N, map.
std::vector<Spec> real_shapes() {
  std::vector<Spec> v = {
      // MV2 expand: bias + SiLU, NHWC -> NHWC.
      {"XXS_s0_expand_k16_n32_112x112", 1, 112, 112, 16, 32, kNhwc, kNhwc, kSilu},
      {"S_s0_expand_k16_n64_96x160", 1, 96, 160, 16, 64, kNhwc, kNhwc, kSilu},
      {"S_s1_expand_k32_n128_112x112", 1, 112, 112, 32, 128, kNhwc, kNhwc, kSilu, true, false,
       kBF16},
      {"XXS_s1_expand_k24_n48_56x56", 1, 56, 56, 24, 48, kNhwc, kNhwc, kSilu},
      {"XS_s1_expand_k48_n192_64x64", 1, 64, 64, 48, 192, kNhwc, kNhwc, kSilu, true, false, kF32},
      {"XS_s3_expand_k64_n256_24x40", 1, 24, 40, 64, 256, kNhwc, kNhwc, kSilu, true, false, kF16,
       false, GemmImpl::kAuto, 0, /*demo=*/true},
      {"XXS_s3_expand_k48_n96_32x32", 1, 32, 32, 48, 96, kNhwc, kNhwc, kSilu, true, false, kBF16},
      {"S_s3_expand_k96_n384_28x28", 1, 28, 28, 96, 384, kNhwc, kNhwc, kSilu},
      {"XXS_s4_expand_k64_n128_12x20", 1, 12, 20, 64, 128, kNhwc, kNhwc, kSilu},
      {"XS_s4_expand_k80_n320_16x16", 1, 16, 16, 80, 320, kNhwc, kNhwc, kSilu},
      {"S_s4_expand_k128_n512_14x14", 1, 14, 14, 128, 512, kNhwc, kNhwc, kSilu, true, false, kBF16},
      // MV2 project: bias, no activation; + the block input where stride 1 and C_in == C_out.
      {"XXS_s0_project_res_k32_n16_128x128", 1, 128, 128, 32, 16, kNhwc, kNhwc, kNone, true, true},
      {"XS_s0_project_k64_n32_112x112", 1, 112, 112, 64, 32},
      {"XXS_s1_project_k32_n24_48x80", 1, 48, 80, 32, 24, kNhwc, kNhwc, kNone, true, false, kF32},
      {"XXS_s1_project_res_k48_n24_64x64", 1, 64, 64, 48, 24, kNhwc, kNhwc, kNone, true, true},
      {"XS_s1_project_k128_n48_56x56", 1, 56, 56, 128, 48, kNhwc, kNhwc, kNone, true, false, kBF16},
      {"XS_s1_project_res_k192_n48_48x80", 1, 48, 80, 192, 48, kNhwc, kNhwc, kNone, true, true},
      {"S_s1_project_k128_n64_64x64", 1, 64, 64, 128, 64},
      {"S_s1_project_res_k256_n64_56x56", 1, 56, 56, 256, 64, kNhwc, kNhwc, kNone, true, true,
       kF32},
      {"XXS_s2_project_k48_n48_24x40", 1, 24, 40, 48, 48},
      {"XS_s2_project_k192_n64_32x32", 1, 32, 32, 192, 64, kNhwc, kNhwc, kNone, true, false, kBF16},
      {"S_s2_project_k256_n96_28x28", 1, 28, 28, 256, 96},
      {"XXS_s3_project_k96_n64_12x20", 1, 12, 20, 96, 64},
      {"XS_s3_project_k256_n80_16x16", 1, 16, 16, 256, 80},
      {"S_s3_project_k384_n128_14x14", 1, 14, 14, 384, 128, kNhwc, kNhwc, kNone, true, false, kF32,
       /*tf32=*/true},
      {"XXS_s4_project_k128_n80_6x10", 1, 6, 10, 128, 80},
      {"XS_s4_project_k320_n96_8x8", 1, 8, 8, 320, 96},
      // 7x7 at batch 1: 49 rows, one partly filled row of tiles.
      {"S_s4_project_k512_n160_7x7", 1, 7, 7, 512, 160},
      {"S_s4_project_k512_n160_7x7_b8", 8, 7, 7, 512, 160},
      // conv_1x1 into the transformer, the unfold: official no bias / act, seed bias + SiLU.
      {"XXS_s2_conv1x1_unfold_k48_n64_32x32", 1, 32, 32, 48, 64, kNhwc, kPm, kNone, false},
      {"XXS_s3_conv1x1_unfold_seed_k64_n80_12x20", 1, 12, 20, 64, 80, kNhwc, kPm, kSilu},
      {"XXS_s4_conv1x1_unfold_k80_n96_8x8", 1, 8, 8, 80, 96, kNhwc, kPm, kNone, false, false,
       kBF16},
      {"XS_s2_conv1x1_unfold_k64_n96_24x40", 1, 24, 40, 64, 96, kNhwc, kPm, kNone, false},
      {"XS_s3_conv1x1_unfold_seed_k80_n120_14x14", 1, 14, 14, 80, 120, kNhwc, kPm, kSilu, true,
       false, kF32},
      {"S_s2_conv1x1_unfold_k96_n144_32x32", 1, 32, 32, 96, 144, kNhwc, kPm, kNone, false},
      {"S_s3_conv1x1_unfold_seed_k128_n192_12x20", 1, 12, 20, 128, 192, kNhwc, kPm, kSilu, true,
       false, kBF16},
      {"S_s4_conv1x1_unfold_k160_n240_6x10", 1, 6, 10, 160, 240, kNhwc, kPm, kNone, false},
      // At 224x224 the 7x7 map is resized before the unfold: conv_1x1 writes NHWC (f32: the GEMM
      // alone, no epilogue), and conv_proj reads the resized-back NHWC map.
      {"S_s4_conv1x1_k160_n240_7x7", 1, 7, 7, 160, 240, kNhwc, kNhwc, kNone, false, false, kF32},
      {"S_s4_conv_proj_k240_n160_7x7_b8", 8, 7, 7, 240, 160, kNhwc, kNhwc, kSilu},
      // conv_proj out of the transformer, the fold: bias + SiLU.
      {"XXS_s2_conv_proj_fold_k64_n48_28x28", 1, 28, 28, 64, 48, kPm, kNhwc, kSilu},
      {"XXS_s3_conv_proj_fold_k80_n64_16x16", 1, 16, 16, 80, 64, kPm, kNhwc, kSilu, true, false,
       kBF16},
      {"XXS_s4_conv_proj_fold_k96_n80_6x10", 1, 6, 10, 96, 80, kPm, kNhwc, kSilu},
      {"XS_s2_conv_proj_fold_k96_n64_24x40", 1, 24, 40, 96, 64, kPm, kNhwc, kSilu, true, false,
       kF32},
      {"XS_s3_conv_proj_fold_k120_n80_16x16", 1, 16, 16, 120, 80, kPm, kNhwc, kSilu},
      {"S_s2_conv_proj_fold_k144_n96_28x28", 1, 28, 28, 144, 96, kPm, kNhwc, kSilu},
      {"S_s3_conv_proj_fold_k192_n128_16x16", 1, 16, 16, 192, 128, kPm, kNhwc, kSilu},
      {"S_s4_conv_proj_fold_k240_n160_8x8_b8", 8, 8, 8, 240, 160, kPm, kNhwc, kSilu},
      // Head 1x1 (bias + SiLU) and classifier (official with bias, seed without; M = batch).
      {"XS_head_k96_n384_6x10_b8", 8, 6, 10, 96, 384, kNhwc, kNhwc, kSilu, true, false, kBF16},
      {"S_head_k160_n640_8x8", 1, 8, 8, 160, 640, kNhwc, kNhwc, kSilu},
      {"S_head_k160_n640_8x8_b8", 8, 8, 8, 160, 640, kNhwc, kNhwc, kSilu},
      {"XXS_fc_k320_n1000", 1, 1, 1, 320, 1000},
      {"XS_fc_seed_k384_n1000_b8_tf32", 8, 1, 1, 384, 1000, kNhwc, kNhwc, kNone, false, false, kF32,
       /*tf32=*/true},
      {"S_fc_k640_n1000_b8", 8, 1, 1, 640, 1000},
      {"S_fc_k640_n1000_b8_wmma", 8, 1, 1, 640, 1000, kNhwc, kNhwc, kNone, true, false, kF16, false,
       GemmImpl::kWmma},
      // Batch 8 on the big maps: slow in the emulator.
      {"S_s1_expand_k32_n128_128x128_b8_Full", 8, 128, 128, 32, 128, kNhwc, kNhwc, kSilu},
      {"S_s1_project_res_k256_n64_64x64_b8_Full", 8, 64, 64, 256, 64, kNhwc, kNhwc, kNone, true,
       true, kBF16},
      {"XXS_s0_project_res_k32_n16_112x112_b8_Full", 8, 112, 112, 32, 16, kNhwc, kNhwc, kNone, true,
       true},
      {"S_s2_conv1x1_unfold_seed_k96_n144_32x32_b8_Full", 8, 32, 32, 96, 144, kNhwc, kPm, kSilu},
      {"S_s2_conv_proj_fold_k144_n96_32x32_b8_Full", 8, 32, 32, 144, 96, kPm, kNhwc, kSilu},
      {"XS_s1_expand_k48_n192_64x64_b8_Full", 8, 64, 64, 48, 192, kNhwc, kNhwc, kSilu, true, false,
       kF32},
  };
  return v;
}

// Shapes at the limits, orders on both implementations, scalar paths.
std::vector<Spec> edge_shapes() {
  const GemmImpl cublas = GemmImpl::kCublas, wmma = GemmImpl::kWmma;
  return {
      // One row: kAuto takes cuBLAS; forced wmma computes one row of a 64-row tile.
      {"m1_k64_n512", 1, 1, 1, 64, 512, kNhwc, kNhwc, kSilu},
      {"m1_k64_n512_wmma", 1, 1, 1, 64, 512, kNhwc, kNhwc, kSilu, true, false, kF16, false, wmma},
      // kAuto's threshold: 15 rows go to cuBLAS, 16 (one wmma fragment) to the fused kernel.
      {"m15_k64_n256", 1, 3, 5, 64, 256, kNhwc, kNhwc, kSilu, true, true},
      {"m16_k64_n256", 1, 4, 4, 64, 256, kNhwc, kNhwc, kSilu, true, true},
      // One output channel, one input channel, odd K and N: the scalar paths.
      {"n1_k64_m320", 1, 16, 20, 64, 1, kNhwc, kNhwc, kSilu, true, true},
      {"n1_k64_m320_f32", 1, 16, 20, 64, 1, kNhwc, kNhwc, kSilu, true, true, kF32},
      {"k1_n32_m130", 1, 10, 13, 1, 32, kNhwc, kNhwc, kNone, true, false, kBF16},
      {"k3_n13_m100_res", 1, 10, 10, 3, 13, kNhwc, kNhwc, kSilu, true, true},
      {"k13_n37_m77", 1, 7, 11, 13, 37, kNhwc, kNhwc, kNone, false, false, kBF16},
      {"k37_n3_m130_f32", 1, 10, 13, 37, 3, kNhwc, kNhwc, kSilu, true, false, kF32},
      {"k37_n24_m66_tf32", 1, 6, 11, 37, 24, kNhwc, kNhwc, kSilu, true, true, kF32, true},
      {"k37_n13_unfold_6x10", 1, 6, 10, 37, 13, kNhwc, kPm, kSilu, true, true},
      {"k13_n37_fold_4x6_b3", 3, 4, 6, 13, 37, kPm, kNhwc, kSilu, true, true, kF16, false, cublas},
      // Tails: M and N not multiples of the 64 x 64 tile, K not a multiple of the 32 slice.
      {"k40_n1000_m100", 1, 10, 10, 40, 1000, kNhwc, kNhwc, kSilu},
      // Unaligned base pointers (one element past 256 bytes): scalar paths in both.
      {"unaligned_k64_n96_unfold_8x8_b2", 2, 8, 8, 64, 96, kNhwc, kPm, kSilu, true, true, kF16,
       false, GemmImpl::kAuto, 1},
      {"unaligned_k64_n96_fold_8x8_f32", 1, 8, 8, 64, 96, kPm, kNhwc, kSilu, true, true, kF32,
       false, GemmImpl::kAuto, 1},
      {"unaligned_k64_n96_m100_bf16_cublas", 1, 10, 10, 64, 96, kNhwc, kNhwc, kSilu, true, true,
       kBF16, false, cublas, 1},
      // Every order pair on both implementations (the real shapes cover the rest).
      {"tokens_pm_to_pm_k64_n128_16x16", 1, 16, 16, 64, 128, kPm, kPm, kSilu},
      {"tokens_pm_to_pm_k64_n128_16x16_f32", 1, 16, 16, 64, 128, kPm, kPm, kSilu, true, true, kF32},
      {"unfold_res_k64_n128_8x8_b2", 2, 8, 8, 64, 128, kNhwc, kPm, kNone, true, true},
      {"unfold_res_k64_n128_8x8_b2_f32", 2, 8, 8, 64, 128, kNhwc, kPm, kNone, true, true, kF32},
      {"fold_k64_n128_8x8_b2_f16_cublas", 2, 8, 8, 64, 128, kPm, kNhwc, kSilu, true, true, kF16,
       false, cublas},
      {"unfold_k64_n128_8x8_b2_bf16_cublas", 2, 8, 8, 64, 128, kNhwc, kPm, kSilu, true, false,
       kBF16, false, cublas},
      {"nhwc_k64_n128_m200_f32_no_epilogue", 1, 10, 20, 64, 128, kNhwc, kNhwc, kNone, false, false,
       kF32},
  };
}

}  // namespace

std::vector<KernelCase> gemm_epilogue_cases() {
  std::vector<KernelCase> cases;
  for (const Spec& s : real_shapes()) cases.push_back(make(s));
  for (const Spec& s : edge_shapes()) cases.push_back(make(s));
  return cases;
}

}  // namespace test
}  // namespace mvit
