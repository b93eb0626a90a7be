// The classifier head after the last 1x1 conv (shared/reference/mobilevit.md 4.4): global average
// pool over the map, then Linear, optionally softmax:
//
//   pooled[b, c] = (1 / (H W)) sum_{y, x} x[b, y, x, c]
//   logits[b, k] = bias[k] + sum_c pooled[b, c] weight[k, c]
//   probs[b, k]  = exp(logits[b, k] - max_j logits[b, j]) / sum_j exp(logits[b, j] - max_j ...)
//
// The seed flavour's fc has no bias (bias null); its AvgPool2d(8, 1) equals this global mean only
// on the 8x8 map of a 256x256 input, the one size that flavour supports. Plain C++.
#pragma once

#include "kernels/common/dispatch.h"
#include "kernels/common/dtype.h"
#include "mvit/stream.h"

namespace mvit {

struct PoolClassifierParams {
  const void* x = nullptr;       // [B, H, W, C] NHWC, dtype
  const void* weight = nullptr;  // [classes, C] (PyTorch's Linear.weight), dtype
  const void* bias = nullptr;    // [classes] dtype, or null
  float* pooled = nullptr;  // [B, C] fp32: written (the pool's result; scratch the Linear reads)
  float* logits = nullptr;  // [B, classes] fp32
  float* probs = nullptr;   // [B, classes] fp32, or null: no softmax
  int B = 0, H = 0, W = 0, C = 0, classes = 0;
  DType dtype = DType::kF32;  // storage of x, weight, bias; accumulation and outputs are fp32
};

// Positive sizes, B <= 65535, B * H * W * C and classes * C below 2^31, no null x / weight /
// pooled / logits, and no output overlapping an input or another output. No side effects.
[[nodiscard]] bool pool_classifier_supported(const PoolClassifierParams& p);
// Throws mvit::Error naming the bad field when !pool_classifier_supported(p). impl "pool_linear"
// (or "pool_linear_softmax" with probs); vec kVec<T> (128-bit loads of x and weight) when
// C % kVec == 0 and x, weight and pooled are 16-byte aligned, else 1.
Dispatch pool_classifier_forward(const PoolClassifierParams& p, Stream stream);

}  // namespace mvit
