// Reference of kernels/depthwise_conv: the depthwise 3x3 convolution (padding 1, stride 1 or 2)
// with bias and optional SiLU, as plain loops over the definition in depthwise_conv.h (PyTorch's
// Conv2d(C, C, 3, stride, padding=1, groups=C) followed by SiLU).
#pragma once

#include <vector>

#include "kernels/common/activation.h"
#include "kernels/common/dtype.h"
#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

struct DepthwiseConvShape {
  int B, H, W, C;
  int stride;  // 1 or 2
  Activation act;
};

// fp64: value = act(bias[c] + sum_taps w x), scale = sum_taps |w x| + |bias[c]| (floor 1e-30).
// x [B, H, W, C], w [C, 3, 3], bias [C] or empty (none); result [B, Ho, Wo, C].
Reference depthwise_conv_ref(const DepthwiseConvShape& s, const std::vector<float>& x,
                             const std::vector<float>& w, const std::vector<float>& bias);

// The same computation in the kernels' precision (tolerance.h): the stored values, fp32
// accumulation over the taps in (dy, dx) order, + bias, SiLU in fp32, the output rounded to
// `dtype`. round_conv: the raw convolution is also rounded to `dtype` before bias and SiLU, as the
// cuDNN path stores it between cudnnConvolutionForward and its epilogue.
std::vector<float> depthwise_conv_lowp(const DepthwiseConvShape& s, const std::vector<float>& x,
                                       const std::vector<float>& w, const std::vector<float>& bias,
                                       DType dtype, bool round_conv);

}  // namespace test
}  // namespace mvit
