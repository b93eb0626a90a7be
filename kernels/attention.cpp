// The choice between the two attention paths (kernels/attention.h).
//
// Note [attention selection rule]
// kAuto runs the fused kernel wherever attention_fused_supported(p) holds (every head dim up to 64,
// which covers every flavour: 8 .. 60), else the cuBLAS path. Analytic, unmeasured (no GPU run
// yet); the numbers behind it, per transformer layer of one image (P = 4 sequences, H = 4 heads,
// f16 storage; QKV read + O written = 4 * P * N * H * D * 2 bytes, the scores path adds fp32
// scores written and read and f16 probabilities written and read = 12 bytes per score,
// P * H * N^2 scores, performance.md section 7.2):
//
//   stage (256x256 input)  N     scores    fused bytes              cuBLAS path bytes
//   32x32 map             256   1.05 M    0.52 / 0.79 / 1.18 MB     +12.6 MB (25x .. 11x more)
//   16x16 map              64   65.5 K    0.16 / 0.25 / 0.39 MB     +0.79 MB (6x .. 3x more)
//    8x8 map               16    4.1 K    0.05 / 0.07 / 0.12 MB     +0.05 MB (2x .. 1.4x more)
//
// (XXS / XS / S head dims 16-24 / 24-36 / 36-60 at the three stages). The fused kernel is also
// one launch against the cuBLAS path's nine (Note [attention layouts]), and at batch 1 launches
// set the latency (performance.md section 9.5). The first GPU run must time both side by side
// (mvit-kernel-bench --family attention) and move this rule where the numbers say: the one place
// the cuBLAS path could win is the 32x32 stage at large batch if its tensor-core GEMMs outrun the
// fused kernel's per-warp tiles by more than the 12 bytes per score cost.
#include "kernels/attention.h"

#include <string>

#include "kernels/attention_cublas.h"
#include "kernels/attention_fused.h"
#include "kernels/common/check.h"

namespace mvit {

namespace {

// The resolved implementation, or the reason there is none.
AttentionImpl resolve(const AttentionParams& p, std::string* why) {
  *why = attention_params_problem(p);
  if (!why->empty()) return AttentionImpl::kAuto;
  switch (p.impl) {
    case AttentionImpl::kFused:
      *why = attention_fused_problem(p);
      if (!why->empty()) *why = "impl fused: " + *why;
      return AttentionImpl::kFused;
    case AttentionImpl::kCublas:
      *why = attention_cublas_problem(p);
      if (!why->empty()) *why = "impl cublas: " + *why;
      return AttentionImpl::kCublas;
    case AttentionImpl::kAuto:
      break;
  }
  if (attention_fused_supported(p)) return AttentionImpl::kFused;
  *why = attention_cublas_problem(p);
  if (!why->empty()) *why = "impl auto (no path supports it; cublas: " + *why + ")";
  return AttentionImpl::kCublas;
}

}  // namespace

bool attention_supported(const AttentionParams& p) {
  std::string why;
  (void)resolve(p, &why);
  return why.empty();
}

AttentionImpl attention_select(const AttentionParams& p) {
  std::string why;
  const AttentionImpl impl = resolve(p, &why);
  MVIT_CHECK(why.empty(), "attention: %s", why.c_str());
  return impl;
}

size_t attention_workspace_bytes(const AttentionParams& p) {
  return attention_select(p) == AttentionImpl::kCublas ? attention_cublas_workspace_bytes(p) : 0;
}

Dispatch attention_forward(const AttentionParams& p, const LibraryHandles& handles, Stream stream) {
  return attention_select(p) == AttentionImpl::kCublas
             ? attention_cublas_forward(p, handles, stream)
             : attention_fused_forward(p, stream);
}

}  // namespace mvit
