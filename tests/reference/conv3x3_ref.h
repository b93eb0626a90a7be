// References for kernels/conv3x3: naive loops from the definition (PyTorch's Conv2d with
// kernel 3, padding 1, cross-correlation; the fusion conv over torch.cat([in0, in1], dim=1)), fp64
// accumulation, plus the same computation in the kernels' precision that the tolerance rule
// (tests/support/tolerance.h) needs. Inputs are floats already rounded to the storage type (what
// the kernels read). Written from mobilevit.md sections 4.1-4.3, not from the kernels.
#pragma once

#include <vector>

#include "kernels/common/activation.h"
#include "kernels/common/dtype.h"
#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

// The stem: x [B, 3, H, W] (NCHW), w [16, 3, 3, 3] (PyTorch OIHW), bias [16], stride 2, pad 1;
// output [B, Ho, Wo, 16] (NHWC), Ho = (H - 1) / 2 + 1. value = act(z), scale = sum |w x| + |bias|.
Reference conv3x3_stem_ref(const std::vector<float>& x, const std::vector<float>& w,
                           const std::vector<float>& bias, int B, int H, int W, Activation act);

// The stem in fp32 (products and sums in float, bias first), the output rounded to `storage`.
std::vector<float> conv3x3_stem_lowp(const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& bias, int B, int H, int W,
                                     Activation act, DType storage);

// The stride-1 conv over cat([in0, in1], channel). in0 [B, H, W, C0], in1 [B, H, W, C1] (NHWC;
// empty with C1 = 0), weights as PyTorch's [Cout, C0 + C1, 3, 3] (OIHW over the concatenated
// channels), bias [Cout]; output [B, H, W, Cout] (NHWC).
struct Conv3x3Problem {
  std::vector<float> in0, in1;
  std::vector<float> weight;  // [Cout, C0 + C1, 3, 3]
  std::vector<float> bias;    // [Cout]
  int B = 0, H = 0, W = 0, C0 = 0, C1 = 0, Cout = 0;
  Activation act = Activation::kNone;
};

Reference conv3x3_ref(const Conv3x3Problem& p);

// The kernels' precision: fp32 products and sums, act(sum + bias) rounded to `storage` once (the
// implicit GEMM and direct kernels).
std::vector<float> conv3x3_lowp(const Conv3x3Problem& p, DType storage);

// The cuDNN path's stored intermediates: conv(in0) rounded to `storage` (what the first
// cudnnConvolutionForward stores); with in1, round(conv(in1) + that) (the second call, beta = 1);
// then act(that + bias) rounded (the bias_act pass). All sums in fp32.
std::vector<float> conv3x3_cudnn_lowp(const Conv3x3Problem& p, DType storage);

// PyTorch's weight [Cout, C0 + C1, 3, 3] split at input channel `first` and permuted to KRSC:
// channels [first, first + count) as [Cout, 3, 3, count] (what the Engine gives w0 and w1).
std::vector<float> split_weight_krsc(const std::vector<float>& weight, int Cout, int Cin, int first,
                                     int count);

}  // namespace test
}  // namespace mvit
