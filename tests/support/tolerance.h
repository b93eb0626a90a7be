// The tolerance rule of the kernel families (issue 8 on), written once and held by every case:
//
//   fp32 storage and math:   max_i |got_i - want_i| / scale_i  <=  1e-5
//   fp16, bf16 storage; tf32 math:
//                            max_i |got_i - want_i| / scale_i  <=  max(2 * E, 1e-5),
//                            E = max_i |lowp_i - want_i| / scale_i
//
// want is the fp64 reference computed from the inputs the kernel reads (already rounded to the
// storage type); lowp is the same computation done by the reference in the kernel's precision:
// inputs as stored, fp32 accumulation, and every value the kernel stores (the output, and any
// intermediate its implementation writes to memory) rounded to the storage type. This is the rule
// flash-attention's tests use (error at most 2x that of the same math in the same precision), with
// the fp32 bound as a floor: no reduced-precision path is asked to beat fp32.
//
// scale_i is the magnitude the rounding acts on, supplied by the family's reference: for a dot
// product plus bias, sum_l |w_l x_l| + |bias| (a tiny floor keeps it positive), so that an output
// near zero after cancellation is not held to a relative bound its inputs cannot give. Non-finite
// outputs always fail (compare.h).
#pragma once

#include <vector>

#include "kernels/common/dtype.h"
#include "tests/support/compare.h"

namespace mvit {
namespace test {

// A family reference's answer: the fp64 values and the per-element scale of the rule.
struct Reference {
  std::vector<double> value;
  std::vector<double> scale;
};

constexpr double kFp32Tolerance = 1e-5;

// The fp32 rule.
Comparison compare_fp32(const std::vector<float>& got, const Reference& want);

// The reduced-precision rule; `lowp` is the reference's own computation in that precision.
Comparison compare_lowp(const std::vector<float>& got, const Reference& want,
                        const std::vector<float>& lowp);

// compare_fp32 for kF32 without tf32 math, compare_lowp otherwise.
Comparison compare_rule(DType storage, bool tf32, const std::vector<float>& got,
                        const Reference& want, const std::vector<float>& lowp);

// Rounds every value to `t` (round to nearest even) and back to float: what storing it does.
std::vector<float> round_to(DType t, std::vector<float> v);
float round_to(DType t, float v);
// Rounds to tf32 (10 explicit mantissa bits, to nearest with ties away from zero, as cvt.rna and
// the emulated cuBLAS do): what a tf32 tensor-core product does to each fp32 input.
float round_to_tf32(float v);

// Storage conversions for uploads and downloads: floats to the raw 16-bit patterns of f16/bf16
// (or the floats' own bytes for f32), and back.
std::vector<unsigned char> to_storage(DType t, const std::vector<float>& v);
std::vector<float> from_storage(DType t, const std::vector<unsigned char>& bytes);

}  // namespace test
}  // namespace mvit
