// fold_batchnorm: folds an eval-mode BatchNorm2d into the convolution before it, so that the
// kernels run one conv with bias (shared/reference/mobilevit.md 4.1: every conv unit is conv ->
// BN -> act, BN eps 1e-5). For output channel o with s = gamma[o] / sqrt(running_var[o] + eps):
//
//   w'[o, ...] = w[o, ...] * s
//   b'[o]      = (b[o] - running_mean[o]) * s + beta[o]        (b = 0 when the conv has no bias)
//
// so that conv(x, w', b') = BN(conv(x, w, b)) for every x. Computed in double, returned as float.
// Host code, plain C++ (the Engine calls it while building; no device involved).
#pragma once

#include <vector>

namespace mvit {

// The four tensors and eps of a torch.nn.BatchNorm2d in eval mode, each [C].
struct BatchNorm2d {
  std::vector<float> gamma;  // PyTorch "weight"
  std::vector<float> beta;   // PyTorch "bias"
  std::vector<float> running_mean;
  std::vector<float> running_var;
  double eps = 1e-5;
};

struct FoldedConv {
  std::vector<float> weight;  // the input weight's layout, scaled per output channel
  std::vector<float> bias;    // [Cout]
};

// weight: [Cout, ...] with each output channel's elements contiguous (PyTorch's OIHW
// [Cout, Cin / groups, kh, kw], or KRSC: any layout whose outermost dimension is Cout), so
// weight.size() / out_channels elements per channel; bias: [Cout], or empty for a conv without
// one. The BN's tensors must all be [Cout], and running_var + eps > 0 for every channel. Throws
// mvit::Error naming the offending field (and the channel) otherwise.
FoldedConv fold_batchnorm(const std::vector<float>& weight, const std::vector<float>& bias,
                          int out_channels, const BatchNorm2d& bn);

}  // namespace mvit
