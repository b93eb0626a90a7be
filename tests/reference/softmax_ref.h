// Reference of kernels/softmax: the row softmax of softmax.h (torch.softmax(scale * x, dim=-1)
// over each row) as plain loops over the definition.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/common/dtype.h"
#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

struct SoftmaxRefShape {
  int64_t rows;
  int n;
  float scale;
};

// fp64 over dense x [rows, n] (the values as stored): value = exp(s_j - m) / sum_l exp(s_l - m)
// with s = scale * x, m = max_l s_l. scale_j = value_j * (1 + |s_j| + |m|) + 1e-30: the exponent
// s_j - m is computed from fp32 products of magnitude |s_j| and |m|, whose rounding (relative
// 2^-24 each) moves y_j by y_j times that absolute error (d y / y = d(s - m)); the floor keeps
// the scale positive where y underflows fp32 (exp(-200) at |s| ~ 100), so an output that became
// 0 or a subnormal there is held to an absolute bound far below anything a bug would produce.
Reference softmax_ref(const SoftmaxRefShape& s, const std::vector<float>& x);

// The same computation in the kernel's precision (tolerance.h): the stored x, s = fp32(scale * x),
// m = max s, e = expf(s - m), the fp32 sum of e in column order, y = e / sum rounded to y_dtype.
std::vector<float> softmax_lowp(const SoftmaxRefShape& s, const std::vector<float>& x,
                                DType y_dtype);

}  // namespace test
}  // namespace mvit
