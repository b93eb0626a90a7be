// Multi-head self-attention over the patches of a MobileViT transformer layer
// (shared/reference/mobilevit.md section 4.3 and 8), for every sequence s = b * P + p (batch b,
// pixel position p inside the 2x2 patch: P = 4) and head h:
//
//   o[s, h, i, :D] = sum_{j < N} softmax_j(scale * q[s, h, i, :D] . k[s, h, j, :D]) v[s, h, j, :D]
//
// with scale = D^-0.5 from the true head dim D, N tokens (patches) per sequence, no mask. This
// header has the params both implementations take and the checks they share; kernels/attention.h
// chooses between them. Plain C++ (includable from runtime/).
//
// Layouts. Every tensor is addressed through strides in elements, so the attention reads Q, K, V
// where the QKV projection wrote them and writes O where the out-projection reads it:
//
//   q[s, h, i, d] = q + s * q_strides.seq + h * q_strides.head + i * q_strides.row + d
//
// Lanes d in [D, Dp) (Dp = head_dim_padded: the storage width of a head, D rounded up so that
// every head starts 16-byte aligned, performance.md section 5.3: 20 -> 24, 30 -> 32, 36 -> 40,
// 60 -> 64) are never read from q, k, v and are written as exact zeros in o, so the
// out-projection's zero weight columns there meet zeros, never stale NaN. The layouts of the model
// (Note [attention layouts]):
//
//   packed_qkv_strides(N, H, Dp)  the QKV projection's output as gemm_epilogue writes it (one GEMM,
//                                 n = 3 * H * Dp columns ordered q heads | k heads | v heads, rows
//                                 in patch-major token order): [S, N, 3, H, Dp]; k = q + H * Dp,
//                                 v = q + 2 * H * Dp.
//   token_major_strides(N, H, Dp) [S, N, H, Dp] = the [S * N, H * Dp] rows the out-projection
//                                 reads (o's layout in the model).
//   head_major_strides(N, H, Dp)  [S, H, N, Dp]: each (s, h) sequence contiguous, the layout with
//                                 which one strided-batched GEMM covers every (s, h).
//
// Note [attention layouts]
// cublasGemmStridedBatchedEx covers a batch whose members sit one fixed stride apart. Member
// (s, h) of q sits at s * seq + h * head, so one call covers all S * H members only when
// seq == H * head for every operand: head-major tensors (seq = H * N * Dp, head = N * Dp). The
// packed QKV output has seq = N * 3 * H * Dp but head = Dp, and the out-projection's input has
// seq = N * H * Dp, head = Dp: neither is uniform, and no stride choice makes it so, because
// within a sequence the heads are interleaved along each token's row. The cuBLAS path therefore
// makes one call per head (batch over the S sequences at stride seq) for each product whose
// operands are not uniform, or one call per sequence when S < H: in the model (token-major
// operands, H = 4) that is 4 calls for Q K^T and 4 for P V, plus the softmax (9 launches, 10 with
// padded lanes to zero). Writing the QKV projection head-major would bring Q K^T to 1 call but not
// P V (whose output is the out-projection's token-major input); the fused kernel takes any strides
// at no cost, which is one reason it is the default.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/common/dtype.h"

namespace mvit {

enum class AttentionImpl {
  kAuto,    // Note [attention selection rule] (kernels/attention.cpp)
  kFused,   // kernels/attention_fused.h
  kCublas,  // kernels/attention_cublas.h, impl "cublas+softmax"
};

constexpr const char* attention_impl_name(AttentionImpl i) {
  return i == AttentionImpl::kAuto ? "auto" : i == AttentionImpl::kFused ? "fused" : "cublas";
}

// Element offsets of one tensor's sequences, heads and rows (tokens); the head lanes d are
// contiguous.
struct AttentionStrides {
  int64_t seq = 0;
  int64_t head = 0;
  int64_t row = 0;
};

// [S, N, 3, H, Dp]: q, k and v of the packed QKV projection output (k and v start H * Dp and
// 2 * H * Dp elements after q).
constexpr AttentionStrides packed_qkv_strides(int64_t n, int64_t heads, int64_t dp) {
  return {n * 3 * heads * dp, dp, 3 * heads * dp};
}
// [S, N, H, Dp].
constexpr AttentionStrides token_major_strides(int64_t n, int64_t heads, int64_t dp) {
  return {n * heads * dp, dp, heads * dp};
}
// [S, H, N, Dp].
constexpr AttentionStrides head_major_strides(int64_t n, int64_t heads, int64_t dp) {
  return {heads * n * dp, n * dp, dp};
}

struct AttentionParams {
  const void* q = nullptr;  // dtype, addressed by q_strides
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;  // dtype; overlaps none of q, k, v
  AttentionStrides q_strides, k_strides, v_strides, o_strides;
  int sequences = 0;          // S = B * P
  int heads = 0;              // H (4 in every flavour; 1 in the seed's pre-2022 form)
  int tokens = 0;             // N, 1 .. 4096 (kAttentionMaxTokens)
  int head_dim = 0;           // D: the softmax scale is D^-0.5
  int head_dim_padded = 0;    // Dp >= D: lanes of o written (D .. Dp-1 as zeros); 0 means D
  DType dtype = DType::kF32;  // storage of q, k, v, o; scores, softmax and accumulation are fp32
  bool allow_tf32 = false;    // f32, cuBLAS path: both products compute with tf32 inputs
  AttentionImpl impl = AttentionImpl::kAuto;
};

// The largest N: the first transformer stage of a 1024x1024 input (a 128x128 map, 64 x 64 patches
// of 2x2). Larger N is rejected rather than left to a path nobody tested.
constexpr int kAttentionMaxTokens = 4096;

// The checks both paths share (pointers, sizes, strides against the shape, dtype, aliasing);
// empty when p passes them. Each path adds its own (attention_cublas.h, attention_fused.h).
std::string attention_params_problem(const AttentionParams& p);

// Dp, resolving head_dim_padded == 0.
constexpr int attention_padded_dim(const AttentionParams& p) {
  return p.head_dim_padded == 0 ? p.head_dim : p.head_dim_padded;
}

}  // namespace mvit
