// depthwise_conv cases: every MV2 depthwise layer of MobileViT XXS, XS and S (official and seed
// alike: the MV2 hidden widths of mobilevit.md 3.2 / 3.3) at 256x256, 224x224 and 192x320 inputs,
// deduplicated by (C, map, stride), plus edge cases (C = 1, odd C, C not a multiple of the vector
// width, 1x1 / 1xN / Nx1 maps, odd maps at stride 2, unaligned x or y, unaligned w and bias, no
// bias, SiLU off, forced impls, C = 640).
//
// Tolerance (tests/support/tolerance.h): scale = sum |w x| + |bias|; fp32 within 1e-5 of the fp64
// reference; f16 / bf16 within 2x the error of the reference's own computation in that precision
// (depthwise_conv_lowp), which for the cuDNN baseline also rounds the raw convolution to the
// storage type (that path stores it before the epilogue).
//
// Full (CI skips them): batch 8; f32 and bf16 at the 128x128 / 112x112 / 96x160 maps of stages
// 0-1 and at every map of the 224x224 and 192x320 inputs (the f16 ones stay in CI, the largest
// maps of the list among them; f32 and bf16 run in CI at the 256x256 input's smaller maps).
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/common/cuda_check.h"
#include "kernels/depthwise_conv.h"
#include "tests/cases/family_cases.h"
#include "tests/reference/depthwise_conv_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/library_handles.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

struct DwCase {
  DepthwiseConvShape shape;
  DType dtype;
  DepthwiseImpl impl = DepthwiseImpl::kAuto;
  bool bias = true;
  size_t x_offset = 0, w_offset = 0, bias_offset = 0, y_offset = 0;  // elements past alignment
};

class DepthwiseConvRun final : public PreparedCase {
 public:
  DepthwiseConvRun(const DwCase& d, uint32_t seed, int replicas) : d_(d) {
    const DepthwiseConvShape& s = d.shape;
    const size_t nx = static_cast<size_t>(s.B) * s.H * s.W * s.C;
    const size_t ny = static_cast<size_t>(s.B) * depthwise_out_extent(s.H, s.stride) *
                      depthwise_out_extent(s.W, s.stride) * s.C;
    // x, w in [-1, 1): the 9-tap sums have a standard deviation of about 1; bias in [-0.5, 0.5).
    x_ = round_to(d.dtype, random_floats(nx, seed));
    w_ = round_to(d.dtype, random_floats(static_cast<size_t>(s.C) * 9, seed + 1));
    if (d.bias) {
      bias_ = round_to(d.dtype, random_floats(static_cast<size_t>(s.C), seed + 2, -0.5f, 0.5f));
    }
    want_ = depthwise_conv_ref(s, x_, w_, bias_);
    dx_ = std::make_unique<DeviceTensor>(d.dtype, x_, replicas, d.x_offset);
    dw_ = std::make_unique<DeviceTensor>(d.dtype, w_, replicas, d.w_offset);
    if (d.bias) db_ = std::make_unique<DeviceTensor>(d.dtype, bias_, replicas, d.bias_offset);
    dy_ = std::make_unique<DeviceTensor>(d.dtype, ny, replicas, d.y_offset);
    replicas_ = replicas;
    bytes =
        static_cast<double>(dx_->bytes() + dw_->bytes() + (db_ ? db_->bytes() : 0) + dy_->bytes());
    flops = 2.0 * 9.0 * static_cast<double>(ny);
    const DepthwiseConvParams cudnn = params(DepthwiseImpl::kCudnn, *dy_, 0);
    if (depthwise_conv_supported(cudnn)) {  // bf16 needs sm_80 there
      baseline = "cudnn";
      // Its own output, so that a baseline that wrote nothing cannot pass on the op's result.
      dy_baseline_ = std::make_unique<DeviceTensor>(d.dtype, ny, replicas, d.y_offset);
    }
  }

  void launch(Stream stream, int replica) override {
    dispatched = run(d_.impl, *dy_, stream, replica);
  }
  void launch_baseline(Stream stream, int replica) override {
    (void)run(DepthwiseImpl::kCudnn, *dy_baseline_, stream, replica);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float>& lowp = last_cudnn_ ? lowp_cudnn_ : lowp_direct_;
    if (d_.dtype != DType::kF32 && lowp.empty()) {
      lowp = depthwise_conv_lowp(d_.shape, x_, w_, bias_, d_.dtype, last_cudnn_);
    }
    const DeviceTensor& y = last_baseline_ ? *dy_baseline_ : *dy_;
    return compare_rule(d_.dtype, false, y.download(), want_, lowp);
  }

 private:
  DepthwiseConvParams params(DepthwiseImpl impl, const DeviceTensor& y, int r) const {
    DepthwiseConvParams p;
    p.x = dx_->get(r);
    p.w = dw_->get(r);
    p.bias = db_ ? db_->get(r) : nullptr;
    p.y = y.get(r);
    p.B = d_.shape.B, p.H = d_.shape.H, p.W = d_.shape.W, p.C = d_.shape.C;
    p.stride = d_.shape.stride;
    p.act = d_.shape.act;
    p.dtype = d_.dtype;
    p.impl = impl;
    return p;
  }

  Dispatch run(DepthwiseImpl impl, const DeviceTensor& y, Stream stream, int r) {
    const DepthwiseConvParams p = params(impl, y, r);
    const LibraryHandles& h = impl == DepthwiseImpl::kCudnn ? test_handles() : LibraryHandles{};
    const Dispatch ran = depthwise_conv_forward(p, h, stream);
    last_cudnn_ = impl == DepthwiseImpl::kCudnn;
    last_baseline_ = &y == dy_baseline_.get();
    return ran;
  }

  DwCase d_;
  std::vector<float> x_, w_, bias_;
  Reference want_;
  std::vector<float> lowp_direct_, lowp_cudnn_;
  std::unique_ptr<DeviceTensor> dx_, dw_, db_, dy_, dy_baseline_;
  bool last_cudnn_ = false, last_baseline_ = false;
};

int vec_of(DType t) {
  return t == DType::kF32 ? 4 : 8;
}

KernelCase make(const std::string& name, const DwCase& d, bool demo = false) {
  KernelCase k;
  k.family = "depthwise_conv";
  k.name = name;
  k.tolerance = kFp32Tolerance;
  k.demo = demo;
  k.prepare = [d, seed = seed_of(name)](int replicas) {
    return std::make_unique<DepthwiseConvRun>(d, seed, replicas);
  };
  if (d.impl == DepthwiseImpl::kCudnn) {
    k.expect_impl = "cudnn";  // vec: the epilogue's, not asserted here
  } else {
    // The contract of depthwise_conv.h: 128-bit path iff C % kVec == 0 and x, y 16-byte aligned
    // (DeviceTensor's allocations are 256-byte aligned before the offset).
    const size_t es = dtype_size(d.dtype);
    const bool vec =
        d.shape.C % vec_of(d.dtype) == 0 && d.x_offset * es % 16 == 0 && d.y_offset * es % 16 == 0;
    k.expect_impl = "dwconv3x3_nhwc";
    k.expect_vec = vec ? vec_of(d.dtype) : 1;
  }
  return k;
}

std::string shape_name(const DepthwiseConvShape& s, DType t) {
  return "c" + std::to_string(s.C) + "_" + std::to_string(s.H) + "x" + std::to_string(s.W) + "_s" +
         std::to_string(s.stride) + "_b" + std::to_string(s.B) + "_" + dtype_name(t);
}

// One MV2 depthwise layer: hidden width C on an H x W input map.
struct Layer {
  int C, H, W, stride;
};

// The MV2 depthwise layers of XXS, XS and S on the stem's output map (H0 x W0 = input / 2):
// stage 1 at H0, stage 2 entry at H0 and its two repeats at H0 / 2, the entries of stages 3-5 at
// H0 / 2, H0 / 4, H0 / 8 (mobilevit.md 3.2; the seed's are the same, 3.3).
void add_network_layers(std::vector<Layer>& out, int H0, int W0) {
  struct Widths {
    int s1, s2_entry, s2, s3, s4, s5;
  };
  const Widths variants[] = {
      {32, 32, 48, 48, 96, 128},      // XXS (expansion 2)
      {64, 128, 192, 192, 256, 320},  // XS (expansion 4)
      {64, 128, 256, 256, 384, 512},  // S (expansion 4)
  };
  for (const Widths& v : variants) {
    const Layer layers[] = {{v.s1, H0, W0, 1},         {v.s2_entry, H0, W0, 2},
                            {v.s2, H0 / 2, W0 / 2, 1}, {v.s3, H0 / 2, W0 / 2, 2},
                            {v.s4, H0 / 4, W0 / 4, 2}, {v.s5, H0 / 8, W0 / 8, 2}};
    for (const Layer& l : layers) {
      bool seen = false;
      for (const Layer& o : out) {
        seen = seen || (o.C == l.C && o.H == l.H && o.W == l.W && o.stride == l.stride);
      }
      if (!seen) out.push_back(l);
    }
  }
}

}  // namespace

std::vector<KernelCase> depthwise_conv_cases() {
  std::vector<KernelCase> cases;
  const Activation kSilu = Activation::kSilu, kNone = Activation::kNone;
  const DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16;

  std::vector<Layer> layers;
  add_network_layers(layers, 128, 128);  // 256 x 256 input
  const size_t at_256 = layers.size();
  add_network_layers(layers, 112, 112);  // 224 x 224
  add_network_layers(layers, 96, 160);   // 192 x 320
  for (size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    // In CI: f16 at every layer of the 256 x 256 input and at the other inputs' maps below
    // 56 x 56; f32 and bf16 at the 256 x 256 input's maps below 128 x 128. The rest (the same
    // kernel instances on larger maps) only in Full, which keeps this family's CI share (two
    // thread orders, plain and ASan) to about a minute of the 2-core machine.
    const bool large = l.H * l.W >= 112 * 112;
    for (DType t : {kF16, kF32, kBF16}) {
      const DepthwiseConvShape s{1, l.H, l.W, l.C, l.stride, kSilu};
      const bool full = t != kF16 ? (large || i >= at_256) : (i >= at_256 && l.H * l.W >= 56 * 56);
      const bool demo = l.C == 48 && l.H == 64 && l.stride == 1 && t == kF16;
      cases.push_back(make((full ? "Full_" : "") + shape_name(s, t), {s, t}, demo));
    }
    const DepthwiseConvShape s8{8, l.H, l.W, l.C, l.stride, kSilu};
    cases.push_back(make("Full_" + shape_name(s8, kF16), {s8, kF16}));
  }
  const DepthwiseConvShape s8_f32{8, 64, 64, 48, 1, kSilu}, s8_bf16{8, 32, 32, 256, 2, kSilu};
  cases.push_back(make("Full_" + shape_name(s8_f32, kF32), {s8_f32, kF32}));
  cases.push_back(make("Full_" + shape_name(s8_bf16, kBF16), {s8_bf16, kBF16}));

  // Edge cases. Scalar fallback: C = 1, odd C, C not a multiple of kVec (f32 6, f16 12).
  cases.push_back(make("c1_1x1_s1_f32", {{1, 1, 1, 1, 1, kSilu}, kF32}));
  cases.push_back(make("c1_1x1_s2_f16", {{1, 1, 1, 1, 2, kSilu}, kF16}));
  cases.push_back(make("c1_5x5_s1_bf16_nosilu", {{2, 5, 5, 1, 1, kNone}, kBF16}));
  cases.push_back(make("c3_5x9_s2_bf16", {{1, 5, 9, 3, 2, kSilu}, kBF16}));
  cases.push_back(make("c13_7x7_s1_f16_nosilu", {{1, 7, 7, 13, 1, kNone}, kF16}));
  cases.push_back(make("c37_9x6_s2_f32", {{2, 9, 6, 37, 2, kSilu}, kF32}));
  cases.push_back(make("c6_8x8_s1_f32", {{1, 8, 8, 6, 1, kSilu}, kF32}));
  cases.push_back(make("c12_6x7_s2_f16", {{1, 6, 7, 12, 2, kSilu}, kF16}));
  // Vector path on degenerate maps: one group per pixel (C = kVec), 1xN and Nx1 maps.
  cases.push_back(make("c8_1x17_s1_f16", {{1, 1, 17, 8, 1, kSilu}, kF16}));
  cases.push_back(make("c16_17x1_s2_bf16", {{1, 17, 1, 16, 2, kSilu}, kBF16}));
  cases.push_back(make("c4_1x1_s2_f32_nosilu", {{3, 1, 1, 4, 2, kNone}, kF32}));
  // Partial channel tiles (40 f16 = 5 groups of a tile of 8) and several tiles (640 f16 = 5
  // tiles of 16 groups): C = 640 is the upper bound (the widest MV2 layer is 512).
  cases.push_back(make("c40_9x9_s1_f16", {{1, 9, 9, 40, 1, kSilu}, kF16}));
  cases.push_back(make("c640_16x16_s2_f16", {{1, 16, 16, 640, 2, kSilu}, kF16}));
  cases.push_back(make("c640_8x8_s1_f32_nosilu", {{1, 8, 8, 640, 1, kNone}, kF32}));
  // Alignment: x or y off 16 bytes -> scalar; w and bias off -> still vectorized (staged in
  // shared memory by scalar loads).
  DwCase ux{{1, 16, 16, 32, 1, kSilu}, kF16};
  ux.x_offset = 1;
  cases.push_back(make("c32_16x16_s1_f16_unaligned_x", ux));
  DwCase uy{{1, 15, 15, 48, 2, kSilu}, kF32};
  uy.y_offset = 2;
  cases.push_back(make("c48_15x15_s2_f32_unaligned_y", uy));
  DwCase uwb{{1, 16, 16, 64, 2, kSilu}, kBF16};
  uwb.w_offset = 3;
  uwb.bias_offset = 1;
  cases.push_back(make("c64_16x16_s2_bf16_unaligned_w_bias", uwb));
  DwCase nob{{1, 12, 12, 96, 1, kSilu}, kF16};
  nob.bias = false;
  cases.push_back(make("c96_12x12_s1_f16_nobias", nob));
  DwCase nob_noact{{1, 10, 10, 24, 2, kNone}, kF32};
  nob_noact.bias = false;
  cases.push_back(make("c24_10x10_s2_f32_nobias_nosilu", nob_noact));
  // Forced impls.
  DwCase direct{{1, 14, 14, 128, 2, kSilu}, kF16, DepthwiseImpl::kDirect};
  cases.push_back(make("c128_14x14_s2_f16_direct", direct));
  if (cudnn_available()) {
    DwCase cudnn{{1, 14, 14, 128, 1, kSilu}, kF16, DepthwiseImpl::kCudnn};
    cases.push_back(make("c128_14x14_s1_f16_cudnn", cudnn));
    DwCase cudnn_odd{{2, 7, 9, 13, 2, kNone}, kF32, DepthwiseImpl::kCudnn};
    cudnn_odd.bias = false;
    cases.push_back(make("c13_7x9_s2_f32_cudnn_nobias_nosilu", cudnn_odd));
  }
  return cases;
}

}  // namespace test
}  // namespace mvit
