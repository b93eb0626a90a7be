// The cuBLAS attention path (kernels/attention_params.h has the op, the layouts and Note [attention
// layouts]): for every (sequence, head)
//
//   scores = Q K^T              cublasGemmStridedBatchedEx, fp32 output in the workspace [S, H, N,
//   N] P      = softmax(scale * scores)   kernels/softmax.h, P stored in the dtype (workspace) O =
//   P V                cublasGemmStridedBatchedEx into o (fp32 compute)
//
// and the padded lanes D .. Dp-1 of o set to zero. One strided-batched call per product where its
// operands are uniform over (s, h), else one per head (or per sequence when S < H): see
// attention_cublas_calls. Plain C++ (includable from runtime/).
#pragma once

#include <cstddef>
#include <string>

#include "kernels/attention_params.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/handles.h"
#include "mvit/stream.h"

namespace mvit {

// attention_params_problem(p) plus this path's own limits; empty when supported.
std::string attention_cublas_problem(const AttentionParams& p);
[[nodiscard]] bool attention_cublas_supported(const AttentionParams& p);

// fp32 scores and dtype probabilities for all S * H * N * N pairs, each part rounded up to 256
// bytes.
size_t attention_cublas_workspace_bytes(const AttentionParams& p);

// Strided-batched GEMM calls this path makes for Q K^T and for P V (Note [attention layouts]).
struct AttentionCublasCalls {
  int qk = 0;
  int pv = 0;
};
AttentionCublasCalls attention_cublas_calls(const AttentionParams& p);

// Sets handles.cublas's stream, needs CUBLAS_POINTER_MODE_HOST and (f32 without allow_tf32) a
// math mode that does not round fp32 inputs. Throws mvit::Error naming the bad field (params,
// handle, workspace) before launching anything. impl "cublas+softmax", vec: the softmax kernel's.
Dispatch attention_cublas_forward(const AttentionParams& p, const LibraryHandles& handles,
                                  Stream stream);

}  // namespace mvit
