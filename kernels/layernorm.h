// LayerNorm over the channels of each row, with an optional fused residual add: the pre-norm of
// every transformer layer in a MobileViT block (shared/reference/mobilevit.md 4.2 / 4.3, PyTorch's
// nn.LayerNorm(C, eps): biased variance, eps inside the square root), and its final LayerNorm:
//
//   s[i, c] = x[i, c] + residual[i, c]    (s = x when residual is null)
//   y[i, c] = (s[i, c] - mean_i) / sqrt(var_i + eps) * gamma[c] + beta[c]
//   mean_i = (1/C) sum_c s[i, c],  var_i = (1/C) sum_c (s[i, c] - mean_i)^2
//
// With a residual, s is rounded to dtype BEFORE it is normalised: the row normalised is the sum
// as stored, round(x + r) (the fp32 sum of the two stored values rounded to dtype), which is what
// PyTorch computes for `LN(x + r)` on fp16 / bf16 tensors and what the next residual reads back
// from `sum`. Statistics and arithmetic are fp32 in every dtype. Rows are tokens (B * P * N in the
// [B, P, N, C] patch-major layout), C the transformer dim. Plain C++.
#pragma once

#include <cstdint>

#include "kernels/common/dispatch.h"
#include "kernels/common/dtype.h"
#include "mvit/stream.h"

namespace mvit {

struct LayerNormParams {
  const void* x = nullptr;         // [rows, C] dtype
  const void* residual = nullptr;  // [rows, C] dtype, or null: the normalised row is x + residual
  void* sum = nullptr;             // [rows, C] dtype, or null: x + residual stored (needs residual)
  const void* gamma = nullptr;     // [C] dtype
  const void* beta = nullptr;      // [C] dtype, or null (zero)
  void* y = nullptr;               // [rows, C] dtype
  int64_t rows = 0;
  int channels = 0;  // C
  float eps = 1e-5f;
  DType dtype = DType::kF32;  // storage of every tensor above; statistics are fp32
};

// The warp-per-row kernel handles C up to these bounds (one row in one warp's registers); larger C
// go to the block-per-row kernel, up to kLayerNormMaxChannels. `vec` is the Dispatch's vector
// width: 1 for the scalar fallback.
constexpr int kLayerNormWarpMaxChannelsVec = 1024;
constexpr int kLayerNormWarpMaxChannelsScalar = 256;
constexpr int kLayerNormMaxChannels = 1 << 16;

// Packs of `vec` elements each lane of the warp-per-row kernel holds for C channels: the next power
// of two >= ceil(C / (32 vec)). Which template instance runs; tests use it to assert coverage.
constexpr int layernorm_packs_per_lane(int channels, int vec) {
  int packs = 1;
  while (packs * 32 * vec < channels) packs *= 2;
  return packs;
}

// Non-null x, gamma, y; residual when sum is given; rows in [1, 2^31 - 1]; C in
// [1, kLayerNormMaxChannels]; eps finite and > 0; a DType; every pointer aligned to its element
// size. Aliasing: y may equal x or residual exactly, sum may equal x or residual exactly (in-place
// residual accumulation); any other overlap of an output with another tensor is rejected (inputs
// may overlap each other). No side effects, never throws.
[[nodiscard]] bool layernorm_supported(const LayerNormParams& p);
// Throws mvit::Error naming the bad field, what was expected and what was found, when
// !layernorm_supported(p); nothing is launched then. impl "layernorm_warp_per_row" for C up to the
// bounds above, "layernorm_block_per_row" beyond; vec kVec<T> (4 floats or 8 halves / bf16s per
// 128-bit access) when C % kVec == 0 and every given pointer is 16-byte aligned, else 1.
Dispatch layernorm_forward(const LayerNormParams& p, Stream stream);

}  // namespace mvit
