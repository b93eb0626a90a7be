// Depthwise 3x3 convolution with fused bias and optional SiLU: the middle op of every MV2 block
// (shared/reference/mobilevit.md section 4.1; its BatchNorm already folded into w and bias,
// kernels/fold_batchnorm.h), padding 1, stride 1 or 2:
//
//   y[b, oy, ox, c] = act(bias[c] + sum_{dy, dx < 3} w[c, dy, dx] * x[b, s*oy + dy - 1, s*ox + dx -
//   1, c])
//
// with x read as 0 outside the map. Ho = (H - 1) / s + 1, Wo = (W - 1) / s + 1. Plain C++.
#pragma once

#include "kernels/common/activation.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/dtype.h"
#include "kernels/common/handles.h"
#include "mvit/stream.h"

namespace mvit {

enum class DepthwiseImpl {
  kAuto,    // the direct kernel (no measurement has shown cuDNN faster on any shape yet)
  kDirect,  // our kernel, impl "dwconv3x3_nhwc"
  kCudnn,   // cudnnConvolutionForward (groups = C) + the bias_act epilogue, impl "cudnn": the
            // benchmark baseline; only where cudnn_available()
};

constexpr const char* depthwise_impl_name(DepthwiseImpl i) {
  return i == DepthwiseImpl::kAuto ? "auto" : i == DepthwiseImpl::kDirect ? "direct" : "cudnn";
}

struct DepthwiseConvParams {
  const void* x = nullptr;     // [B, H, W, C] NHWC, dtype
  const void* w = nullptr;     // [C, 3, 3] (PyTorch's [C, 1, 3, 3]), dtype
  const void* bias = nullptr;  // [C] dtype, or null (no bias)
  void* y = nullptr;           // [B, Ho, Wo, C] NHWC, dtype; must not overlap x
  int B = 0, H = 0, W = 0, C = 0;
  int stride = 1;  // 1 or 2
  Activation act = Activation::kSilu;
  DType dtype = DType::kF32;  // storage of x, w, bias, y; accumulation is fp32
  DepthwiseImpl impl = DepthwiseImpl::kAuto;
};

// Output map size for an input extent n: (n - 1) / stride + 1.
constexpr int depthwise_out_extent(int n, int stride) {
  return (n - 1) / stride + 1;
}

// Positive sizes, C <= 2^20, B * H * W * C below 2^31, stride 1 or 2, no null x / w / y, y not
// overlapping x, and for kCudnn a build with cuDNN (and, for bf16, a device of compute capability
// >= 8.0, as cuDNN requires). No side effects.
[[nodiscard]] bool depthwise_conv_supported(const DepthwiseConvParams& p);
// Throws mvit::Error naming the bad field when !depthwise_conv_supported(p), or when kCudnn is
// asked for and `handles` has no cuDNN handle or too little workspace for every algorithm cuDNN
// offers. impl "dwconv3x3_nhwc", vec kVec<T> (8 halves or 4 floats per 128-bit access) or 1 (the
// scalar fallback, when C % kVec != 0 or x / y are not 16-byte aligned); impl "cudnn", vec of the
// bias_act epilogue that follows it (0 when there is neither bias nor activation).
Dispatch depthwise_conv_forward(const DepthwiseConvParams& p, const LibraryHandles& handles,
                                Stream stream);

}  // namespace mvit
