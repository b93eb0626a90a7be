// Reference for kernels/fold_batchnorm: the unfused computation it replaces, a convolution
// followed by an eval-mode BatchNorm2d, as plain loops in fp64 (PyTorch's Conv2d and BatchNorm2d
// definitions), on a small NCHW input.
#pragma once

#include <vector>

#include "kernels/fold_batchnorm.h"

namespace mvit {
namespace test {

struct Conv2dShape {
  int B, Cin, H, W;  // input [B, Cin, H, W]
  int Cout, k;       // weight [Cout, Cin / groups, k, k] (OIHW)
  int stride, pad, groups;
  int Ho() const { return (H + 2 * pad - k) / stride + 1; }
  int Wo() const { return (W + 2 * pad - k) / stride + 1; }
};

// y [B, Cout, Ho, Wo] = conv(x, w) + bias (bias empty: none), cross-correlation with zero padding,
// fp64.
std::vector<double> conv2d_ref(const Conv2dShape& s, const std::vector<double>& x,
                               const std::vector<double>& w, const std::vector<double>& bias);

// BN over channel c of y [B, C, HW]: (y - running_mean) / sqrt(running_var + eps) * gamma + beta,
// fp64.
std::vector<double> batchnorm2d_ref(const std::vector<double>& y, int B, int C, int HW,
                                    const BatchNorm2d& bn);

}  // namespace test
}  // namespace mvit
