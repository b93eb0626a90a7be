// Dense 3x3 convolutions, padding 1, BatchNorm folded into weight and bias by the caller, fp32
// accumulation, storage f32 / f16 / bf16 (shared/reference/mobilevit.md sections 4.1-4.3):
//
//   stem (3 -> 16 channels, stride 2; x NCHW fp32, the network's input; y NHWC):
//     y[b, oy, ox, n] = act(bias[n] + sum_{c < 3, r, s} w[n, c, r, s] x[b, c, 2oy+r-1, 2ox+s-1])
//   conv (stride 1; with in1 the conv over cat([in0, in1], channel), never materialised):
//     out[b, y, x, n] = act(bias[n] + sum_{r, s} (sum_{c < C0} w0[n, r, s, c] in0[b, y', x', c]
//                                                + sum_{c < C1} w1[n, r, s, c] in1[b, y', x', c]))
//     with y' = y + r - 1, x' = x + s - 1
//
// Outside the map the inputs are 0 (padding 1). Plain C++ (includable from runtime/).
//
// The fusion conv's concatenation order is the caller's choice of in0: PyTorch's weight
// [Cout, C0 + C1, 3, 3] splits at input channel C0 into w0 (channels [0, C0)) and w1 ([C0, C0+C1)),
// each transposed to KRSC [Cout, 3, 3, C] (cuDNN's NHWC filter layout); the Engine does it once.
//   official flavour, cat([input, branch]): in0 = block input (shortcut), in1 = branch
//   seed flavour,     cat([branch, input]): in0 = branch, in1 = block input
//
// Implementations (Conv3x3Impl; conv3x3.cu's file comment has the kernels, tiles and the rule):
//   "cudnn+bias_act"  cudnnConvolutionForward (one call per input, the second with beta = 1),
//                     then the bias + activation epilogue (kernels/common/bias_act.h); only
//                     where the build links cuDNN (cudnn_available())
//   "implicit_gemm"   our tensor-core (WMMA) implicit GEMM, epilogue fused; f16, and bf16 on
//                     compute capability >= 8.0
//   "direct"          our SIMT direct convolution, every dtype and device
//   "stem_direct"     the stem's kernel
// kAuto picks by an analytic rule (unmeasured; conv3x3.cu): f16 -> implicit_gemm; bf16 ->
// implicit_gemm on CC >= 8.0, else direct; f32 -> cudnn+bias_act where cuDNN is linked and
// LibraryHandles::cudnn is set, else direct.
#pragma once

#include <cstddef>

#include "kernels/common/activation.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/dtype.h"
#include "kernels/common/handles.h"
#include "mvit/stream.h"

namespace mvit {

enum class Conv3x3Impl { kAuto, kCudnn, kImplicitGemm, kDirect };

constexpr const char* conv3x3_impl_name(Conv3x3Impl i) {
  return i == Conv3x3Impl::kAuto           ? "auto"
         : i == Conv3x3Impl::kCudnn        ? "cudnn"
         : i == Conv3x3Impl::kImplicitGemm ? "implicit_gemm"
                                           : "direct";
}

constexpr int kStemCin = 3;    // RGB
constexpr int kStemCout = 16;  // every MobileViT variant's stem width

struct Conv3x3StemParams {
  const float* x = nullptr;  // [B, 3, H, W] NCHW, always fp32 (the preprocessed image)
  // [16, 3, 3, 3]: PyTorch's own [Cout, Cin, kH, kW] (the Engine converts nothing), dtype
  const void* w = nullptr;
  const void* bias = nullptr;  // [16] dtype
  void* y = nullptr;           // [B, Ho, Wo, 16] NHWC, dtype; Ho = (H - 1) / 2 + 1, Wo likewise
  int B = 0, H = 0, W = 0;     // any sizes >= 1
  Activation act = Activation::kSilu;
  DType dtype = DType::kF32;              // storage of w, bias and y
  Conv3x3Impl impl = Conv3x3Impl::kAuto;  // kAuto or kDirect: the stem has one kernel
  // Elements per output store: 0 the widest y's alignment allows; 1 scalar; kVec = 16 / dtype
  // size (4 for f32, 8 for f16 / bf16) forces 128-bit stores (y must be 16-byte aligned).
  int vec = 0;
};

// Output size of the stem along one axis (stride 2, pad 1, kernel 3).
constexpr int conv3x3_stem_out_size(int n) {
  return (n - 1) / 2 + 1;
}

[[nodiscard]] bool conv3x3_stem_supported(const Conv3x3StemParams& p);
// impl "stem_direct"; vec: elements per store of y. Throws mvit::Error naming the bad field.
Dispatch conv3x3_stem_forward(const Conv3x3StemParams& p, Stream stream);

struct Conv3x3Params {
  const void* in0 = nullptr;   // [B, H, W, C0] NHWC, dtype
  const void* in1 = nullptr;   // [B, H, W, C1] NHWC, dtype, or null (then C1 == 0, w1 null)
  const void* w0 = nullptr;    // [Cout, 3, 3, C0] KRSC, dtype
  const void* w1 = nullptr;    // [Cout, 3, 3, C1] KRSC, dtype, iff in1
  const void* bias = nullptr;  // [Cout] dtype (the folded BatchNorm shift)
  void* out = nullptr;         // [B, H, W, Cout] NHWC, dtype; must not overlap the inputs
  int B = 0, H = 0, W = 0;     // any sizes >= 1
  int C0 = 0, C1 = 0, Cout = 0;
  Activation act = Activation::kSilu;
  DType dtype = DType::kF32;
  Conv3x3Impl impl = Conv3x3Impl::kAuto;
  // Elements per global access of our kernels' main loop: 0 the widest the channel counts and
  // pointers allow; 1 the scalar path; 8 (implicit_gemm) or 16 / dtype size (direct: 4 for f32, 8
  // for f16 / bf16) forces the 128-bit path, which needs C0, C1 multiples of it and in0, in1, w0,
  // w1 16-byte aligned. Non-zero means one of our kernels: kCudnn rejects it, kAuto then chooses
  // between implicit_gemm and direct only.
  int vec = 0;
};

// No side effects beyond reading the current device's compute capability. Agrees with
// conv3x3_forward: true iff it would run (given a cuDNN algorithm that fits h's workspace).
[[nodiscard]] bool conv3x3_supported(const Conv3x3Params& p, const LibraryHandles& h);

// Runs the implementation p.impl selects on `stream`; for kCudnn it sets h.cudnn's stream first
// and uses h.workspace (h.workspace_bytes): per call, the first algorithm in the order
// cudnnGetConvolutionForwardAlgorithm_v7 ranks them whose workspace fits. Throws mvit::Error
// naming the bad field, before launching anything.
Dispatch conv3x3_forward(const Conv3x3Params& p, const LibraryHandles& h, Stream stream);

// The workspace the kCudnn path would like for p: the larger of the two calls' top-ranked
// algorithms' needs (a workspace this big gets cuDNN's first choice). 0 when p.impl resolves to
// one of our kernels, which need none. Throws like conv3x3_forward for bad params.
size_t conv3x3_workspace_bytes(const Conv3x3Params& p, const LibraryHandles& h);

}  // namespace mvit
