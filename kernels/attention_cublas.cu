// The cuBLAS attention path (the op and the layouts: kernels/attention_params.h; the contract:
// kernels/attention_cublas.h). For every member (s, h), s < S sequences, h < H heads:
//
//   scores[s, h] = Q K^T             [N, N] fp32 in the workspace   cublasGemmStridedBatchedEx
//   P[s, h]      = softmax(scale * scores), scale = D^-0.5   [N, N] in the dtype (workspace)
//                                                             kernels/softmax.h, one launch
//   O[s, h]      = P V               [N, D] into o                   cublasGemmStridedBatchedEx
//   o lanes D .. Dp-1 = 0 attention_zero_pad_lanes_kernel
//
// Workspace: [S, H, N, N] fp32 scores, then [S, H, N, N] P in the dtype, each part rounded up to
// 256 bytes (so P starts 256-byte aligned whenever the workspace does, and the softmax can take
// its vector path). The scores stay fp32 so that softmax sees the accumulation unrounded; P is
// stored in the dtype because the second GEMM takes both operands in one type.
//
// Note [attention in column-major cuBLAS]
// cuBLAS is column-major: a row-major matrix X [r, c] with leading dimension ld is, byte for
// byte, the column-major matrix X^T [c, r] with the same ld. Per member:
//   Q [N, D] row-major, ld = q_strides.row: column-major Q^T [D, N]. Likewise K, V.
//   scores [N, N] row-major, ld N: column-major scores^T = (Q K^T)^T = K Q^T.
//     So C = scores^T [m = N keys, n = N queries], op(A) = K [N, k = D]: A is the stored K^T
//     [D, N] with OP_T, lda = k_strides.row; op(B) = Q^T [D, N]: B is the stored Q^T with OP_N,
//     ldb = q_strides.row; ldc = N. C[j, i] at j + i N is row-major scores[i, j]. k = D, the true
//     head dim: lanes D .. Dp-1 of q and k are never read.
//   O [N, Dp] row-major, ld = o_strides.row: column-major O^T [Dp, N] = (P V)^T = V^T P^T.
//     So C = O^T restricted to its first m = D rows (lanes), n = N queries, k = N keys;
//     op(A) = V^T [D, N]: the stored V^T with OP_N, lda = v_strides.row; op(B) = P^T [N, N]: the
//     stored row-major P with OP_N, ldb = N; ldc = o_strides.row. Lanes D .. Dp-1 of o are not
//     written by the GEMM (m = D); the zero kernel writes them.
// cuBLAS wants lda >= the stored rows (D) even for a single column, so with N = 1 (where the row
// stride may be anything) each leading dimension is max(row stride, D).
//
// Calls (Note [attention layouts] in attention_params.h): a product makes one strided-batched call
// over all S * H members when both of its strided operands are uniform over (s, h) (member s * H +
// h at s * seq + h * head == (s * H + h) * stride: seq == H * head, or H == 1, or S == 1; the
// scores and P are [S, H, N, N], always uniform). Otherwise one call per head h, batching the S
// sequences at stride seq (scores / P at stride H N^2), or, when S < H, one call per sequence
// batching the H heads at stride head: min(S, H) calls. In the model (packed QKV in, token-major O
// out, H = 4) that is 4 + 4 calls, the softmax and the zero kernel when Dp > D.
//
// Numerics: fp32 accumulation in both products (CUBLAS_COMPUTE_32F; f32 with allow_tf32:
// CUBLAS_COMPUTE_32F_FAST_TF32, inputs rounded to tf32 in both products, P included); the scores
// unrounded fp32; P rounded once to the dtype (the softmax's numerics: kernels/softmax.cu); O
// rounded once to the dtype by cuBLAS's epilogue. bf16 runs on every device, as in
// gemm_epilogue.cu's cuBLAS path (cuBLAS computes bf16 GEMMs below sm_80 without tensor cores;
// pytorch/pytorch#57773 reports them passing on a T4).
// Limits: cuBLAS's int sizes: row strides (the leading dimensions) < 2^31; S * H * N < 2^31 score
// rows (the softmax grid; also bounds the batch count).
#include <cublas_v2.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>

#include "kernels/attention_cublas.h"
#include "kernels/common/check.h"
#include "kernels/common/launch.cuh"
#include "kernels/softmax.h"

namespace mvit {

namespace {

constexpr int kZeroThreads = 256;         // the zero kernel's block: plain 8-warp blocks
constexpr int64_t kZeroMaxBlocks = 4096;  // grid-stride beyond: ~30 blocks per SM on 132 SMs
                                          // already cover every SM many times (analytic)
constexpr size_t kWorkspaceAlign = 256;
constexpr const char* kImpl = "cublas+softmax";

// Where o's padded lanes are.
struct PadShape {
  int64_t seq, head, row;            // o_strides
  int heads, tokens, head_dim, pad;  // H, N, D, Dp - D
  int64_t total;                     // S * H * N * pad
};

}  // namespace

// o[s, h, i, D + l] = 0 for l < pad, as the bits of Word (the storage size of the dtype: +0.0 is
// all zero bits in f32, f16 and bf16). Grid-stride over the S * H * N * pad elements.
template <class Word>
__global__ void MVIT_LAUNCH_BOUNDS(256) attention_zero_pad_lanes_kernel(Word* o, PadShape s) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * kZeroThreads;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * kZeroThreads + threadIdx.x; e < s.total;
       e += step) {
    const int lane = s.head_dim + static_cast<int>(e % s.pad);
    int64_t r = e / s.pad;
    const int64_t i = r % s.tokens;
    r /= s.tokens;
    const int64_t h = r % s.heads, seq = r / s.heads;
    o[seq * s.seq + h * s.head + i * s.row + lane] = Word(0);
  }
}

namespace {

using detail::format;

size_t round_up(size_t bytes) {
  return (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
}

int64_t score_count(const AttentionParams& p) {
  return static_cast<int64_t>(p.sequences) * p.heads * p.tokens * p.tokens;
}

size_t scores_bytes(const AttentionParams& p) {
  return round_up(static_cast<size_t>(score_count(p)) * sizeof(float));
}

size_t probs_bytes(const AttentionParams& p) {
  return round_up(static_cast<size_t>(score_count(p)) * dtype_size(p.dtype));
}

// The single batch stride of member s * H + h, if there is one.
bool uniform_stride(const AttentionStrides& t, const AttentionParams& p, int64_t* stride) {
  if (p.heads == 1) {
    *stride = t.seq;
  } else if (p.sequences == 1 || t.seq == p.heads * t.head) {
    *stride = t.head;
  } else {
    return false;
  }
  return true;
}

// One product's batched calls: `count` calls of `batch` members; in call c, member b of an operand
// sits at c * call + b * member elements from its base. a, b: the two strided operands (k and q,
// or v and o); c: the [S, H, N, N] scores or P.
struct Batching {
  int count, batch;
  int64_t a_call, a_member, b_call, b_member;
  int64_t c_call, c_member;
};

Batching batching(const AttentionStrides& a, const AttentionStrides& b, const AttentionParams& p) {
  const int64_t nn = static_cast<int64_t>(p.tokens) * p.tokens;
  int64_t sa = 0, sb = 0;
  if (uniform_stride(a, p, &sa) && uniform_stride(b, p, &sb)) {
    // S * H < 2^31 once attention_cublas_problem passed; clamped for attention_cublas_calls,
    // which may see any params.
    const int members =
        static_cast<int>(std::min<int64_t>(static_cast<int64_t>(p.sequences) * p.heads, INT_MAX));
    return {1, members, 0, sa, 0, sb, 0, nn};
  }
  if (p.sequences < p.heads) {  // per sequence, the heads batched
    return {p.sequences, p.heads, a.seq, a.head, b.seq, b.head, p.heads * nn, nn};
  }
  return {p.heads, p.sequences, a.head, a.seq, b.head, b.seq, nn, p.heads * nn};  // per head
}

int leading_dim(const AttentionStrides& t, int rows) {
  return static_cast<int>(std::max<int64_t>(t.row, rows));
}

cudaDataType cuda_type(DType t) {
  return t == DType::kF32 ? CUDA_R_32F : t == DType::kF16 ? CUDA_R_16F : CUDA_R_16BF;
}

// Byte range [first, last] of one tensor's addressed elements.
struct Range {
  uintptr_t first, last;
};
Range range_of(const void* ptr, const AttentionStrides& t, const AttentionParams& p, int lanes) {
  const size_t es = dtype_size(p.dtype);
  const int64_t last = (p.sequences - 1) * t.seq + (p.heads - 1) * t.head +
                       static_cast<int64_t>(p.tokens - 1) * t.row + (lanes - 1);
  const uintptr_t base = reinterpret_cast<uintptr_t>(ptr);
  return {base, base + static_cast<uintptr_t>(last) * es + es - 1};
}

SoftmaxParams softmax_params(const AttentionParams& p, void* workspace) {
  SoftmaxParams s;
  s.x = workspace;
  s.y = static_cast<unsigned char*>(workspace) + scores_bytes(p);
  s.rows = static_cast<int64_t>(p.sequences) * p.heads * p.tokens;
  s.n = p.tokens;
  s.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.head_dim)));
  s.x_dtype = DType::kF32;
  s.y_dtype = p.dtype;
  return s;
}

// The handle's state this path relies on, and the workspace; throws naming what is wrong.
void check_handles(const AttentionParams& p, const LibraryHandles& h) {
  MVIT_CHECK(h.cublas != nullptr, "attention: impl cublas: handles.cublas is null");
  const size_t need = attention_cublas_workspace_bytes(p);
  MVIT_CHECK(h.workspace != nullptr && h.workspace_bytes >= need,
             "attention: impl cublas: needs %zu bytes of workspace (fp32 scores %zu + %s "
             "probabilities %zu), handles have %zu at %p",
             need, scores_bytes(p), dtype_name(p.dtype), probs_bytes(p), h.workspace_bytes,
             h.workspace);
  MVIT_CHECK(reinterpret_cast<uintptr_t>(h.workspace) % sizeof(float) == 0,
             "attention: impl cublas: handles.workspace must be aligned to 4 bytes (fp32 scores), "
             "got %p",
             h.workspace);
  const uintptr_t w0 = reinterpret_cast<uintptr_t>(h.workspace), w1 = w0 + need - 1;
  const int dp = attention_padded_dim(p);
  const struct {
    const char* name;
    Range r;
  } tensors[] = {{"q", range_of(p.q, p.q_strides, p, p.head_dim)},
                 {"k", range_of(p.k, p.k_strides, p, p.head_dim)},
                 {"v", range_of(p.v, p.v_strides, p, p.head_dim)},
                 {"o", range_of(p.o, p.o_strides, p, dp)}};
  for (const auto& t : tensors) {
    MVIT_CHECK(w1 < t.r.first || t.r.last < w0,
               "attention: impl cublas: handles.workspace (%p, %zu bytes used) overlaps %s",
               h.workspace, need, t.name);
  }
  check_cublas_modes(h.cublas, p.dtype == DType::kF32 && !p.allow_tf32, "attention: impl cublas");
}

// The GEMM settings both products share.
struct GemmTypes {
  cudaDataType t;  // q, k, v, P, o
  cublasComputeType_t compute;
  size_t es;  // bytes per element of t
};

GemmTypes gemm_types(const AttentionParams& p) {
  return {cuda_type(p.dtype), p.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
          dtype_size(p.dtype)};
}

template <class T>
T* at(T* base, int64_t elements, size_t es) {
  using Byte = std::conditional_t<std::is_const_v<T>, const unsigned char, unsigned char>;
  return reinterpret_cast<T*>(reinterpret_cast<Byte*>(base) + elements * static_cast<int64_t>(es));
}

// scores^T = K Q^T per member (Note [attention in column-major cuBLAS]): A = k (OP_T), B = q,
// C = the fp32 scores.
void launch_scores(cublasHandle_t h, const AttentionParams& p, float* scores) {
  const GemmTypes g = gemm_types(p);
  const Batching b = batching(p.k_strides, p.q_strides, p);
  const int n = p.tokens, d = p.head_dim;
  const float one = 1.0f, zero = 0.0f;
  for (int c = 0; c < b.count; ++c) {
    MVIT_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, d, &one, at(p.k, c * b.a_call, g.es), g.t,
        leading_dim(p.k_strides, d), b.a_member, at(p.q, c * b.b_call, g.es), g.t,
        leading_dim(p.q_strides, d), b.b_member, &zero, scores + c * b.c_call, CUDA_R_32F, n,
        b.c_member, b.batch, g.compute, CUBLAS_GEMM_DEFAULT));
  }
}

// O^T = V^T P^T per member, lanes < D: A = v, B = P (in the dtype), C = o.
void launch_output(cublasHandle_t h, const AttentionParams& p, const void* probs) {
  const GemmTypes g = gemm_types(p);
  const Batching b = batching(p.v_strides, p.o_strides, p);
  const int n = p.tokens, d = p.head_dim;
  const float one = 1.0f, zero = 0.0f;
  for (int c = 0; c < b.count; ++c) {
    MVIT_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        h, CUBLAS_OP_N, CUBLAS_OP_N, d, n, n, &one, at(p.v, c * b.a_call, g.es), g.t,
        leading_dim(p.v_strides, d), b.a_member, at(probs, c * b.c_call, g.es), g.t, n, b.c_member,
        &zero, at(p.o, c * b.b_call, g.es), g.t, leading_dim(p.o_strides, attention_padded_dim(p)),
        b.b_member, b.batch, g.compute, CUBLAS_GEMM_DEFAULT));
  }
}

void launch_zero_pad(const AttentionParams& p, Stream stream) {
  const int dp = attention_padded_dim(p);
  if (dp == p.head_dim) return;
  PadShape s{p.o_strides.seq, p.o_strides.head, p.o_strides.row, p.heads,
             p.tokens,        p.head_dim,       dp - p.head_dim, 0};
  s.total = static_cast<int64_t>(p.sequences) * p.heads * p.tokens * s.pad;
  const int64_t blocks = std::min(kZeroMaxBlocks, (s.total + kZeroThreads - 1) / kZeroThreads);
  if (p.dtype == DType::kF32) {
    mvit::launch(attention_zero_pad_lanes_kernel<uint32_t>, static_cast<unsigned>(blocks),
                 dim3(kZeroThreads), 0, stream, static_cast<uint32_t*>(p.o), s);
  } else {
    mvit::launch(attention_zero_pad_lanes_kernel<uint16_t>, static_cast<unsigned>(blocks),
                 dim3(kZeroThreads), 0, stream, static_cast<uint16_t*>(p.o), s);
  }
}

}  // namespace

std::string attention_cublas_problem(const AttentionParams& p) {
  std::string why = attention_params_problem(p);
  if (!why.empty()) return why;
  const struct {
    const char* name;
    int64_t row;
  } lds[] = {{"q", p.q_strides.row},
             {"k", p.k_strides.row},
             {"v", p.v_strides.row},
             {"o", p.o_strides.row}};
  for (const auto& ld : lds) {
    if (ld.row > INT_MAX) {
      return format("%s_strides.row must be < 2^31 (cuBLAS's int leading dimension), got %lld",
                    ld.name, static_cast<long long>(ld.row));
    }
  }
  const int64_t rows = static_cast<int64_t>(p.sequences) * p.heads * p.tokens;
  if (rows > INT_MAX) {
    return format(
        "sequences * heads * tokens must be < 2^31 (score rows of the softmax grid), got %lld",
        static_cast<long long>(rows));
  }
  return std::string();
}

bool attention_cublas_supported(const AttentionParams& p) {
  return attention_cublas_problem(p).empty();
}

size_t attention_cublas_workspace_bytes(const AttentionParams& p) {
  return scores_bytes(p) + probs_bytes(p);
}

AttentionCublasCalls attention_cublas_calls(const AttentionParams& p) {
  return {batching(p.k_strides, p.q_strides, p).count, batching(p.v_strides, p.o_strides, p).count};
}

Dispatch attention_cublas_forward(const AttentionParams& p, const LibraryHandles& handles,
                                  Stream stream) {
  const std::string why = attention_cublas_problem(p);
  MVIT_CHECK(why.empty(), "attention: impl cublas: %s", why.c_str());
  check_handles(p, handles);
  const SoftmaxParams sp = softmax_params(p, handles.workspace);
  MVIT_CHECK(softmax_supported(sp),
             "attention: impl cublas: internal: softmax rejects %lld rows "
             "of %d",
             static_cast<long long>(sp.rows), sp.n);
  MVIT_CUBLAS_CHECK(cublasSetStream(handles.cublas, stream));
  launch_scores(handles.cublas, p, static_cast<float*>(handles.workspace));
  const Dispatch softmax = softmax_forward(sp, stream);
  launch_output(handles.cublas, p, sp.y);
  launch_zero_pad(p, stream);
  return {kImpl, softmax.vec};
}

}  // namespace mvit
