// Reference of kernels/layernorm: PyTorch's nn.LayerNorm(C, eps) over each row (biased variance,
// eps inside the square root) of the residual sum as the storage type holds it, written from the
// definition in layernorm.h as plain loops.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/common/dtype.h"
#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

struct LayerNormShape {
  int64_t rows;
  int C;
  float eps;
};

// The row the op normalises: x when `residual` is empty, else round_to(dtype, x + residual) with
// the sum of the two stored values formed in fp32 (PyTorch's fp16 / bf16 add; exact for f32
// storage up to fp32's own rounding). [rows, C].
std::vector<float> layernorm_stored_sum(DType dtype, const std::vector<float>& x,
                                        const std::vector<float>& residual);

// fp64 LayerNorm of s ([rows, C], the stored sum), gamma [C], beta [C] or empty (zero).
// scale[i, c] = |gamma_c| (|z| + 1 + mean_c'|s| / sd) + |beta_c|, z = (s - mean) / sd,
// sd = sqrt(var + eps): what fp32 rounding acts on. The computed mean is off by a few ulp of the
// row's mean magnitude, which moves every z by that / sd (the mean|s| / sd term); rstd and the
// subtraction are off by a few ulp relative (the |z| term); the output rounding acts on
// |gamma z| + |beta|; the 1 keeps an O(u |gamma|) floor where z ~ 0 (floor 1e-30 overall).
Reference layernorm_ref(const LayerNormShape& s, const std::vector<float>& sum,
                        const std::vector<float>& gamma, const std::vector<float>& beta);

// fp64 x + residual with scale |x| + |residual| (floor 1e-30): the reference of the stored sum.
Reference residual_sum_ref(const std::vector<float>& x, const std::vector<float>& residual);

// The same LayerNorm in the kernels' precision (tolerance.h): s as stored, fp32 mean (sum in
// channel order, / C), fp32 centred variance, rstd = 1 / sqrt(var + eps) in fp32,
// y = (s - mean) * rstd * gamma + beta in fp32, rounded to `dtype`.
std::vector<float> layernorm_lowp(const LayerNormShape& s, const std::vector<float>& sum,
                                  const std::vector<float>& gamma, const std::vector<float>& beta,
                                  DType dtype);

}  // namespace test
}  // namespace mvit
