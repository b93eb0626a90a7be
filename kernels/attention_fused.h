// The fused attention kernel (kernels/attention_params.h has the op and the layouts): softmax(Q K^T
// * D^-0.5) V in one launch with an online softmax, no scores in global memory. Tiling, what lives
// in registers and shared memory, and the bytes per block for each head dim: attention_fused.cu's
// file comment.
// Plain C++ (includable from runtime/).
#pragma once

#include <string>

#include "kernels/attention_params.h"
#include "kernels/common/dispatch.h"
#include "mvit/stream.h"

namespace mvit {

// attention_params_problem(p) plus this path's own limits (head dim, compute capability for the
// tensor-core instances); empty when supported. Reads the current device's compute capability.
std::string attention_fused_problem(const AttentionParams& p);
[[nodiscard]] bool attention_fused_supported(const AttentionParams& p);

// The kernel instance attention_fused_forward launches for p on the current device (a static
// string, the Dispatch.impl it returns). Throws like attention_fused_forward.
const char* attention_fused_kernel(const AttentionParams& p);

// Throws mvit::Error naming the bad field before launching anything.
Dispatch attention_fused_forward(const AttentionParams& p, Stream stream);

}  // namespace mvit
