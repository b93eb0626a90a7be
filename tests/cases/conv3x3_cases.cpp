// conv3x3 cases: the dense 3x3 convolutions of MobileViT XXS, XS and S (mobilevit.md 3.2 / 4.2:
// the stem 3 -> 16 stride 2; in each MobileViT block conv_kxk C -> C and the fusion conv 2C -> C
// over cat([input, branch]), C = 48 / 64 / 80, 64 / 80 / 96, 96 / 128 / 160 at the 1/8, 1/16,
// 1/32 maps) at 256x256, 224x224 and 192x320 inputs, plus edge cases: a 1x1 map, C = 1, odd C,
// C0 != C1, Cout not a multiple of 8, unaligned pointers (the scalar paths), every dtype and
// implementation, SiLU off.
//
// Tolerance (tests/support/tolerance.h): scale = sum |w x| + |bias|; fp32 within 1e-5 of the fp64
// reference; f16 / bf16 within 2x the error of the reference's own computation in that precision:
// conv3x3_lowp for our kernels (one rounding, at the store), conv3x3_cudnn_lowp for the cuDNN path
// (which also stores the raw convolution, and with in1 the first call's partial sum, rounded).
//
// Inputs in [-1, 1), weights in [-a, a) with a = 2 / sqrt(9 (C0 + C1)) (so a sum over the 9 Cin
// products has a standard deviation of about 0.67), bias in [-0.5, 0.5): outputs O(1), with SiLU
// on both sides of 0.
//
// Full (CI skips them): batch 8, and the real shapes at batch 1 beyond the representative set in
// CI. Measured in the plain emulated build (2 workers, one process): the CI set ~3.5 s; the
// largest Full case, S fusion at 32x32 batch 8 (2.7 GFLOP), ~16 s with its fp64 references and
// baseline; all Full cases ~95 s. The implicit-GEMM cases carry the cuDNN path as baseline where
// the device supports it, except those with element-aligned pointers.
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/common/cuda_check.h"
#include "kernels/conv3x3.h"
#include "tests/cases/family_cases.h"
#include "tests/reference/conv3x3_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/library_handles.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

const DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16;
const Activation kSilu = Activation::kSilu, kNone = Activation::kNone;
const Conv3x3Impl kAuto = Conv3x3Impl::kAuto, kCudnn = Conv3x3Impl::kCudnn,
                  kIgemm = Conv3x3Impl::kImplicitGemm, kDirect = Conv3x3Impl::kDirect;

// ---------------------------------------------------------------------------------------------
// conv_kxk and fusion.

struct ConvCase {
  int B, H, W, C0, C1, Cout;
  DType dtype;
  Activation act = kSilu;
  Conv3x3Impl impl = kAuto;
  int vec = 0;
  // Elements past a 256-byte aligned allocation (nonzero: the scalar paths).
  size_t in_offset = 0, w_offset = 0, out_offset = 0;
  bool cudnn_baseline = false;  // set by make() for the implicit-GEMM cases
};

class Conv3x3Run final : public PreparedCase {
 public:
  Conv3x3Run(const ConvCase& d, uint32_t seed, int replicas) : d_(d) {
    Conv3x3Problem& p = problem_;
    p.B = d.B, p.H = d.H, p.W = d.W, p.C0 = d.C0, p.C1 = d.C1, p.Cout = d.Cout, p.act = d.act;
    const size_t pixels = static_cast<size_t>(d.B) * d.H * d.W;
    const int Cin = d.C0 + d.C1;
    const float a = 2.0f / std::sqrt(9.0f * Cin);
    p.in0 = round_to(d.dtype, random_floats(pixels * d.C0, seed));
    if (d.C1 > 0) p.in1 = round_to(d.dtype, random_floats(pixels * d.C1, seed + 1));
    p.weight =
        round_to(d.dtype, random_floats(static_cast<size_t>(d.Cout) * Cin * 9, seed + 2, -a, a));
    p.bias = round_to(d.dtype, random_floats(static_cast<size_t>(d.Cout), seed + 3, -0.5f, 0.5f));
    want_ = conv3x3_ref(p);
    // Activations are replicated (a benchmark rotates them); weights and bias are not: a network
    // reads each layer's weights once per forward, from L2 or DRAM alike.
    din0_ = std::make_unique<DeviceTensor>(d.dtype, p.in0, replicas, d.in_offset);
    if (d.C1 > 0) din1_ = std::make_unique<DeviceTensor>(d.dtype, p.in1, replicas, d.in_offset);
    dw0_ = std::make_unique<DeviceTensor>(
        d.dtype, split_weight_krsc(p.weight, d.Cout, Cin, 0, d.C0), 1, d.w_offset);
    if (d.C1 > 0) {
      dw1_ = std::make_unique<DeviceTensor>(
          d.dtype, split_weight_krsc(p.weight, d.Cout, Cin, d.C0, d.C1), 1, d.w_offset);
    }
    dbias_ = std::make_unique<DeviceTensor>(d.dtype, p.bias);
    dout_ = std::make_unique<DeviceTensor>(d.dtype, pixels * d.Cout, replicas, d.out_offset);
    replicas_ = replicas;
    bytes = static_cast<double>(din0_->bytes() + (din1_ ? din1_->bytes() : 0) + dw0_->bytes() +
                                (dw1_ ? dw1_->bytes() : 0) + dbias_->bytes() + dout_->bytes());
    flops = 2.0 * 9.0 * Cin * static_cast<double>(pixels) * d.Cout;
    // bf16 through cuDNN needs sm_80: the baseline is dropped where the device cannot run it.
    if (d.cudnn_baseline && conv3x3_supported(params(kCudnn, 0, 0), test_handles())) {
      baseline = "cudnn+bias_act";
    }
  }

  void launch(Stream stream, int replica) override { run(d_.impl, d_.vec, stream, replica); }
  void launch_baseline(Stream stream, int replica) override { run(kCudnn, 0, stream, replica); }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float>& lowp = last_cudnn_ ? lowp_cudnn_ : lowp_fused_;
    if (d_.dtype != kF32 && lowp.empty()) {
      lowp =
          last_cudnn_ ? conv3x3_cudnn_lowp(problem_, d_.dtype) : conv3x3_lowp(problem_, d_.dtype);
    }
    return compare_rule(d_.dtype, false, dout_->download(), want_, lowp);
  }

 private:
  Conv3x3Params params(Conv3x3Impl impl, int vec, int r) const {
    Conv3x3Params p;
    p.in0 = din0_->get(r);
    p.in1 = din1_ ? din1_->get(r) : nullptr;
    p.w0 = dw0_->get();
    p.w1 = dw1_ ? dw1_->get() : nullptr;
    p.bias = dbias_->get();
    p.out = dout_->get(r);
    p.B = d_.B, p.H = d_.H, p.W = d_.W, p.C0 = d_.C0, p.C1 = d_.C1, p.Cout = d_.Cout;
    p.act = d_.act;
    p.dtype = d_.dtype;
    p.impl = impl;
    p.vec = vec;
    return p;
  }

  void run(Conv3x3Impl impl, int vec, Stream stream, int r) {
    // Our forced kernels need no library handles; kAuto may pick cuDNN.
    const bool library = impl == kCudnn || impl == kAuto;
    dispatched =
        conv3x3_forward(params(impl, vec, r), library ? test_handles() : LibraryHandles{}, stream);
    last_cudnn_ = std::string(dispatched.impl) == "cudnn+bias_act";
  }

  ConvCase d_;
  Conv3x3Problem problem_;
  Reference want_;
  std::vector<float> lowp_fused_, lowp_cudnn_;
  std::unique_ptr<DeviceTensor> din0_, din1_, dw0_, dw1_, dbias_, dout_;
  bool last_cudnn_ = false;
};

// The dispatch conv3x3.h promises for d (the device's compute capability taken to be >= 8.0, as
// the emulator's default 9.0 and the project's GPUs are; bf16 at 7.5 is tested in
// test_conv3x3.cpp).
void expect_dispatch(const ConvCase& d, KernelCase* k) {
  Conv3x3Impl impl = d.impl;
  if (impl == kAuto) {
    impl = d.dtype != kF32 ? kIgemm : (d.vec == 0 && cudnn_available()) ? kCudnn : kDirect;
  }
  const size_t es = dtype_size(d.dtype);
  const bool in_aligned = d.in_offset * es % 16 == 0 && d.w_offset * es % 16 == 0;
  if (impl == kCudnn) {
    // bias_act's contract: 128-bit packs iff Cout is a multiple of them and out is aligned.
    const int wide = static_cast<int>(16 / es);
    k->expect_impl = "cudnn+bias_act";
    k->expect_vec = d.Cout % wide == 0 && d.out_offset * es % 16 == 0 ? wide : 1;
    return;
  }
  const int wide = impl == kIgemm ? 8 : static_cast<int>(16 / es);
  const bool vector = d.C0 % wide == 0 && d.C1 % wide == 0 && in_aligned;
  k->expect_impl = impl == kIgemm ? "implicit_gemm" : "direct";
  k->expect_vec = d.vec != 0 ? d.vec : vector ? wide : 1;
}

KernelCase make(const std::string& name, ConvCase d, bool demo = false) {
  KernelCase k;
  expect_dispatch(d, &k);
  // Every implicit-GEMM case is checked and timed beside cuDNN, except where a pointer is only
  // element-aligned (a configuration some cuDNN algorithms reject on a GPU).
  if (k.expect_impl == "implicit_gemm" && d.in_offset + d.w_offset + d.out_offset == 0) {
    d.cudnn_baseline = true;
  }
  k.family = "conv3x3";
  k.name = name;
  k.tolerance = kFp32Tolerance;
  k.demo = demo;
  k.prepare = [d, seed = seed_of(name)](int replicas) {
    return std::make_unique<Conv3x3Run>(d, seed, replicas);
  };
  return k;
}

// ---------------------------------------------------------------------------------------------
// The stem.

struct StemCase {
  int B, H, W;
  DType dtype;
  Activation act = kSilu;
  size_t y_offset = 0;
};

class StemRun final : public PreparedCase {
 public:
  StemRun(const StemCase& d, uint32_t seed, int replicas) : d_(d) {
    const size_t out = static_cast<size_t>(d.B) * conv3x3_stem_out_size(d.H) *
                       conv3x3_stem_out_size(d.W) * kStemCout;
    // x fp32 in [-1, 1) (a normalised image); a = 2 / sqrt(27) as for the other convs.
    x_ = random_floats(static_cast<size_t>(d.B) * kStemCin * d.H * d.W, seed);
    const float a = 2.0f / std::sqrt(27.0f);
    w_ = round_to(d.dtype, random_floats(kStemCout * kStemCin * 9, seed + 1, -a, a));
    bias_ = round_to(d.dtype, random_floats(kStemCout, seed + 2, -0.5f, 0.5f));
    want_ = conv3x3_stem_ref(x_, w_, bias_, d.B, d.H, d.W, d.act);
    if (d.dtype != kF32) lowp_ = conv3x3_stem_lowp(x_, w_, bias_, d.B, d.H, d.W, d.act, d.dtype);
    dx_ = std::make_unique<DeviceTensor>(kF32, x_, replicas);
    dw_ = std::make_unique<DeviceTensor>(d.dtype, w_);
    dbias_ = std::make_unique<DeviceTensor>(d.dtype, bias_);
    dy_ = std::make_unique<DeviceTensor>(d.dtype, out, replicas, d.y_offset);
    replicas_ = replicas;
    bytes = static_cast<double>(dx_->bytes() + dw_->bytes() + dbias_->bytes() + dy_->bytes());
    flops = 2.0 * kStemCin * 9 * static_cast<double>(out);
  }

  void launch(Stream stream, int r) override {
    Conv3x3StemParams p;
    p.x = static_cast<const float*>(dx_->get(r));
    p.w = dw_->get();
    p.bias = dbias_->get();
    p.y = dy_->get(r);
    p.B = d_.B, p.H = d_.H, p.W = d_.W;
    p.act = d_.act;
    p.dtype = d_.dtype;
    dispatched = conv3x3_stem_forward(p, stream);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    return compare_rule(d_.dtype, false, dy_->download(), want_, lowp_);
  }

 private:
  StemCase d_;
  std::vector<float> x_, w_, bias_, lowp_;
  Reference want_;
  std::unique_ptr<DeviceTensor> dx_, dw_, dbias_, dy_;
};

KernelCase make_stem(const std::string& name, const StemCase& d, bool demo = false) {
  KernelCase k;
  k.family = "conv3x3";
  k.name = name;
  k.tolerance = kFp32Tolerance;
  k.demo = demo;
  k.prepare = [d, seed = seed_of(name)](int replicas) {
    return std::make_unique<StemRun>(d, seed, replicas);
  };
  const size_t es = dtype_size(d.dtype);
  k.expect_impl = "stem_direct";
  k.expect_vec = d.y_offset * es % 16 == 0 ? static_cast<int>(16 / es) : 1;
  return k;
}

// ---------------------------------------------------------------------------------------------
// The network's shapes.

struct Map {
  int H, W;
};

std::string map_name(int B, int H, int W) {
  return std::to_string(H) + "x" + std::to_string(W) + "_b" + std::to_string(B);
}

std::string conv_name(const char* model, const char* kind, int C, int B, int H, int W, DType t) {
  return std::string(model) + "_" + kind + "_c" + std::to_string(C) + "_" + map_name(B, H, W) +
         "_" + dtype_name(t);
}

// conv_kxk and fusion of every MobileViT block of every variant and input size; `ci` the names
// kept in CI (the rest are Full).
void add_network_convs(std::vector<KernelCase>& cases) {
  struct Variant {
    const char* name;
    int C[3];  // the three MobileViT blocks' widths
  };
  const Variant variants[] = {{"xxs", {48, 64, 80}}, {"xs", {64, 80, 96}}, {"s", {96, 128, 160}}};
  struct Input {
    Map stage[3];  // the 1/8, 1/16, 1/32 maps
  };
  const Input inputs[] = {{{{32, 32}, {16, 16}, {8, 8}}},    // 256 x 256
                          {{{28, 28}, {14, 14}, {7, 7}}},    // 224 x 224
                          {{{24, 40}, {12, 20}, {6, 10}}}};  // 192 x 320
  // In CI: every batch-1 shape of the 1/32 stage (8x8, 7x7, 6x10: partial m tiles, every
  // variant's widest conv), and a representative set of the larger maps (every variant, both
  // convs, every input size), in f16 (the production precision) or bf16: about 4 s emulated.
  // The rest (up to 0.34 GFLOP at batch 1, 2.7 GFLOP at batch 8) are Full.
  const std::string ci[] = {"xxs_conv_c48_32x32_b1_f16",  "xxs_fusion_c80_8x8_b1_bf16",
                            "xs_fusion_c80_16x16_b1_f16", "xs_conv_c80_12x20_b1_f16",
                            "s_conv_c160_8x8_b1_bf16",    "s_conv_c128_14x14_b1_bf16",
                            "xxs_fusion_c64_12x20_b1_f16"};
  auto in_ci = [&](const std::string& n) {
    for (const std::string& c : ci) {
      if (c == n) return true;
    }
    return false;
  };
  for (const Variant& v : variants) {
    for (int i = 0; i < 3; ++i) {
      const int C = v.C[i];
      for (const Input& in : inputs) {
        const Map m = in.stage[i];
        for (bool fusion : {false, true}) {
          for (DType t : {kF16, kBF16}) {
            const ConvCase d{1, m.H, m.W, C, fusion ? C : 0, C, t};
            const std::string n = conv_name(v.name, fusion ? "fusion" : "conv", C, 1, m.H, m.W, t);
            // bf16 only where listed for CI: f16 is the production precision of the shapes.
            if (t == kBF16 && !in_ci(n)) continue;
            const bool ci_case = in_ci(n) || (i == 2 && t == kF16);
            cases.push_back(make(ci_case ? n : "Full_" + n, d, n == "xxs_conv_c48_32x32_b1_f16"));
          }
        }
      }
      // Batch 8 at 256 x 256 for each block.
      const Map m = inputs[0].stage[i];
      for (bool fusion : {false, true}) {
        const ConvCase d{8, m.H, m.W, C, fusion ? C : 0, C, kF16};
        cases.push_back(
            make("Full_" + conv_name(v.name, fusion ? "fusion" : "conv", C, 8, m.H, m.W, kF16), d));
      }
    }
  }
  // The fp32 paths at real shapes: cuDNN (kAuto) and the direct kernel, batch 1 and 8.
  cases.push_back(
      make(conv_name("xxs", "fusion", 64, 1, 16, 16, kF32), {1, 16, 16, 64, 64, 64, kF32}));
  ConvCase direct32{1, 8, 8, 80, 0, 80, kF32, kSilu, kDirect};
  cases.push_back(make(conv_name("xxs", "conv", 80, 1, 8, 8, kF32) + "_direct", direct32));
  cases.push_back(
      make("Full_" + conv_name("s", "fusion", 96, 8, 32, 32, kF32), {8, 32, 32, 96, 96, 96, kF32}));
  ConvCase direct32_8{8, 16, 16, 128, 128, 128, kF32, kSilu, kDirect};
  cases.push_back(
      make("Full_" + conv_name("s", "fusion", 128, 8, 16, 16, kF32) + "_direct", direct32_8));
}

// Edge cases: every implementation x dtype x vector width x activation, tails of every tile.
void add_edge_convs(std::vector<KernelCase>& cases) {
  auto add = [&](const std::string& n, ConvCase d) { cases.push_back(make(n, d)); };
  // implicit GEMM. A 1x1 map (every tap but the centre is padding); C = 1 (K = 9, one k tile of
  // 32 mostly empty, scalar gather); odd channels C0 = 3, C1 = 13, Cout = 13 (scalar, the n
  // tile's tail, scalar epilogue); C0 != C1 with the vector gather and Cout = 40 (two n tiles);
  // Cout = 20 (vector gather, scalar epilogue); C0 = 8 (K = 72: a partial third k tile), batch 3.
  add("igemm_1x1_c16_16_f16", {1, 1, 1, 16, 16, 16, kF16});
  add("igemm_c1_5x5_f16_nosilu", {1, 5, 5, 1, 0, 1, kF16, kNone});
  add("igemm_c3_13_to_13_6x7_b2_f16", {2, 6, 7, 3, 13, 13, kF16});
  add("igemm_c3_13_to_13_6x7_bf16_nosilu", {1, 6, 7, 3, 13, 13, kBF16, kNone});
  add("igemm_c16_24_to_40_9x11_f16", {1, 9, 11, 16, 24, 40, kF16});
  add("igemm_c16_24_to_40_9x11_bf16_nosilu", {1, 9, 11, 16, 24, 40, kBF16, kNone});
  add("igemm_c16_to_20_8x8_f16", {1, 8, 8, 16, 0, 20, kF16});
  add("igemm_c8_to_24_5x6_b3_bf16", {3, 5, 6, 8, 0, 24, kBF16});
  // Unaligned: in0 / in1 off 16 bytes -> scalar gather; only out off -> vector gather with
  // scalar stores (store_floats' runtime fallback); w off -> scalar gather; vec 1 forced.
  ConvCase uin{1, 8, 8, 32, 32, 32, kF16};
  uin.in_offset = 1;
  add("igemm_c32_32_8x8_f16_unaligned_in", uin);
  ConvCase uout{1, 8, 8, 32, 0, 32, kBF16};
  uout.out_offset = 3;
  add("igemm_c32_8x8_bf16_unaligned_out", uout);
  ConvCase uw{1, 7, 7, 24, 0, 24, kF16, kNone};
  uw.w_offset = 4;
  add("igemm_c24_7x7_f16_unaligned_w_nosilu", uw);
  ConvCase forced1{1, 6, 6, 16, 16, 16, kBF16, kSilu, kIgemm, 1};
  add("igemm_c16_16_6x6_bf16_vec1", forced1);

  // Direct, every dtype and width. f32 vector path needs C % 4, f16 / bf16 C % 8.
  add("direct_c12_to_20_6x6_f32", {1, 6, 6, 12, 0, 20, kF32, kSilu, kDirect});
  add("direct_c4_8_to_8_1x1_f32_nosilu", {2, 1, 1, 4, 8, 8, kF32, kNone, kDirect});
  add("direct_c3_13_to_13_5x7_f32", {1, 5, 7, 3, 13, 13, kF32, kSilu, kDirect});
  add("direct_c1_4x4_f32_nosilu", {1, 4, 4, 1, 0, 1, kF32, kNone, kDirect});
  add("direct_c16_8_to_24_7x5_f16", {1, 7, 5, 16, 8, 24, kF16, kSilu, kDirect});
  add("direct_c13_to_13_6x6_f16_nosilu", {1, 6, 6, 13, 0, 13, kF16, kNone, kDirect});
  add("direct_c8_8_to_16_5x5_b2_bf16", {2, 5, 5, 8, 8, 16, kBF16, kSilu, kDirect});
  add("direct_c3_5_to_7_4x6_bf16", {1, 4, 6, 3, 5, 7, kBF16, kSilu, kDirect});
  ConvCase dun{1, 6, 6, 16, 0, 16, kF32, kSilu, kDirect};
  dun.in_offset = 1;
  dun.out_offset = 1;
  add("direct_c16_6x6_f32_unaligned", dun);

  if (cudnn_available()) {
    // cuDNN + bias_act, every dtype, with and without in1, bias_act's vector and scalar widths.
    add("cudnn_c16_16_to_16_8x8_f32", {1, 8, 8, 16, 16, 16, kF32, kSilu, kCudnn});
    add("cudnn_c3_13_to_13_5x7_f32_nosilu", {1, 5, 7, 3, 13, 13, kF32, kNone, kCudnn});
    add("cudnn_c24_to_24_6x6_b2_f16", {2, 6, 6, 24, 0, 24, kF16, kSilu, kCudnn});
    add("cudnn_c16_16_to_20_7x7_f16_nosilu", {1, 7, 7, 16, 16, 20, kF16, kNone, kCudnn});
    add("cudnn_c32_32_to_32_8x8_bf16", {1, 8, 8, 32, 32, 32, kBF16, kSilu, kCudnn});
    add("cudnn_c1_to_1_1x1_bf16", {1, 1, 1, 1, 0, 1, kBF16, kSilu, kCudnn});
  }
}

void add_stems(std::vector<KernelCase>& cases) {
  // The real inputs (256x256, 224x224, 192x320) in each dtype at batch 1; batch 8 Full.
  cases.push_back(make_stem("stem_256x256_b1_f16", {1, 256, 256, kF16}));
  cases.push_back(make_stem("stem_224x224_b1_f32", {1, 224, 224, kF32}));
  cases.push_back(make_stem("stem_192x320_b1_bf16", {1, 192, 320, kBF16}));
  cases.push_back(make_stem("Full_stem_256x256_b8_f16", {8, 256, 256, kF16}));
  cases.push_back(make_stem("Full_stem_192x320_b8_f32", {8, 192, 320, kF32}));
  // Odd and tiny maps (Ho = (H - 1) / 2 + 1), SiLU off, an unaligned y (scalar stores).
  cases.push_back(make_stem("stem_1x1_f32_nosilu", {1, 1, 1, kF32, kNone}));
  cases.push_back(make_stem("stem_5x7_b2_f16", {2, 5, 7, kF16}));
  cases.push_back(make_stem("stem_2x9_bf16_nosilu", {1, 2, 9, kBF16, kNone}));
  StemCase uy{2, 9, 6, kF32};
  uy.y_offset = 1;
  cases.push_back(make_stem("stem_9x6_b2_f32_unaligned_y", uy));
  StemCase uy16{1, 11, 13, kF16, kNone};
  uy16.y_offset = 2;
  cases.push_back(make_stem("stem_11x13_f16_unaligned_y_nosilu", uy16));
  StemCase uyb{1, 8, 8, kBF16};
  uyb.y_offset = 5;
  cases.push_back(make_stem("stem_8x8_bf16_unaligned_y", uyb));
}

}  // namespace

std::vector<KernelCase> conv3x3_cases() {
  std::vector<KernelCase> cases;
  add_stems(cases);
  add_network_convs(cases);
  add_edge_convs(cases);
  return cases;
}

}  // namespace test
}  // namespace mvit
