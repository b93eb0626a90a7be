// Plain C++ reference of kernels/attention.h, from the definition (PyTorch's
// softmax(q @ k.transpose(-2, -1) * scale) @ v per (sequence, head); mobilevit.md section 4.3):
//
//   o[s, h, i, d] = sum_j p_ij v[s, h, j, d],  p_ij = exp(t_ij - max_l t_il) / sum_l exp(...),
//   t_ij = D^-0.5 sum_{e < D} q[s, h, i, e] k[s, h, j, e]
//
// on dense [S, H, N, D] tensors (the cases scatter them into the layouts the kernels read).
//
// Tolerance scale (tests/support/tolerance.h): to first order an output moves by
// sum_j p_ij (v_jd - o_id) dt_ij + sum_j p_ij dv_jd, and a score computed in precision eps moves
// by dt_ij <= eps |t|_ij with |t|_ij = D^-0.5 sum_e |q_ie k_je| (the magnitude its rounding acts
// on). So scale_id = sum_j p_ij |v_jd| (1 + |t|_ij) + 1e-30: scores of size 100 (the issue's
// overflow test) amplify the rounding of the scores a hundredfold, and the rule accounts for it
// rather than failing an exact kernel or passing a sloppy one on small scores.
#pragma once

#include <vector>

#include "kernels/common/dtype.h"
#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

struct AttentionShape {
  int S = 1;  // sequences (B * P)
  int H = 1;  // heads
  int N = 1;  // tokens
  int D = 1;  // head dim
};

// fp64; q, k, v dense [S, H, N, D]; the result dense [S, H, N, D].
Reference attention_ref(const AttentionShape& s, const std::vector<float>& q,
                        const std::vector<float>& k, const std::vector<float>& v);

// How an implementation rounds between its steps (the lowp computation of the tolerance rule):
enum class AttentionRounding {
  // the fused kernel: fp32 scores, p = exp(t - m) unnormalised and rounded to the storage type
  // for the P V product, fp32 sums, o = (sum_j P_j v_j) / l rounded once
  kFused,
  // the cuBLAS path: fp32 scores (stored fp32), p normalised in fp32 then rounded to the storage
  // type (stored for the second GEMM), o = sum_j P_j v_j in fp32 rounded once
  kCublas,
};

// The same computation in the kernel's precision: inputs as stored (already rounded to `t`;
// tf32: q, k, P and v rounded to tf32 before their products), fp32 arithmetic, the rounding
// points of `r`.
std::vector<float> attention_lowp(const AttentionShape& s, const std::vector<float>& q,
                                  const std::vector<float>& k, const std::vector<float>& v, DType t,
                                  bool tf32, AttentionRounding r);

}  // namespace test
}  // namespace mvit
