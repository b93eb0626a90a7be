// Multi-head self-attention (the op, its params and layouts: kernels/attention_params.h), and the
// choice between its two implementations (shared/DESIGN.md section 4), both always built and
// tested against each other and the reference:
//   "cublas+softmax"  kernels/attention_cublas.h: cublasGemmStridedBatchedEx for Q K^T (fp32
//                     scores in the workspace), the row softmax of kernels/softmax.h (P stored in
//                     the dtype), a second strided-batched GEMM for P V into o.
//   fused             kernels/attention_fused.h: one kernel, online softmax, scores on chip only.
// attention_forward resolves AttentionImpl::kAuto by the rule of Note [attention selection rule]
// (attention.cpp). Plain C++ (includable from runtime/).
#pragma once

#include <cstddef>

#include "kernels/attention_params.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/handles.h"
#include "mvit/stream.h"

namespace mvit {

// Whether attention_forward accepts p (given handles with a cuBLAS handle and
// attention_workspace_bytes(p) of workspace when it resolves to the cuBLAS path). No side effects
// beyond reading the current device's compute capability.
[[nodiscard]] bool attention_supported(const AttentionParams& p);

// What p.impl resolves to (kFused or kCublas). Throws mvit::Error naming the bad field when
// !attention_supported(p).
AttentionImpl attention_select(const AttentionParams& p);

// Workspace the resolved implementation needs in LibraryHandles::workspace (0 for the fused
// kernel). Throws like attention_select.
size_t attention_workspace_bytes(const AttentionParams& p);

// Runs the resolved implementation on `stream`; returns what ran (the fused kernel's instance, or
// "cublas+softmax"). Throws mvit::Error naming the bad field (params, handle, workspace) before
// launching anything.
Dispatch attention_forward(const AttentionParams& p, const LibraryHandles& handles, Stream stream);

}  // namespace mvit
