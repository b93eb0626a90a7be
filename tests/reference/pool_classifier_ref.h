// Reference of kernels/pool_classifier: global average pool over H, W (PyTorch's x.mean((2, 3))),
// Linear (x W^T + b), and softmax over the classes, as plain loops in fp64.
#pragma once

#include <vector>

#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

struct PoolClassifierShape {
  int B, H, W, C, classes;
  bool softmax;
};

// Logits [B, classes] from x [B, H, W, C], weight [classes, C], bias [classes] or empty. A logit
// is the linear map sum_{p, c} x[p, c] w[k, c] / (H W) + b[k] of the stored values, so its scale
// is sum_c |w[k, c]| sum_p |x[p, c]| / (H W) + |b[k]|.
Reference pool_classifier_ref(const PoolClassifierShape& s, const std::vector<float>& x,
                              const std::vector<float>& weight, const std::vector<float>& bias);

// The same in fp32 from the stored values: the kernels' precision (nothing between the pool and
// the logits is stored in the reduced type).
std::vector<float> pool_classifier_lowp(const PoolClassifierShape& s, const std::vector<float>& x,
                                        const std::vector<float>& weight,
                                        const std::vector<float>& bias);

// The softmax stage alone, over each row of `logits` [rows, cols] (the logits the kernel wrote and
// its softmax read): value p, scale p (floor 1e-30), so the rule holds p to a relative bound
// independent of how far the logits are from their own reference.
// The kernel's softmax is fp32 math for every storage type: the fp32 rule applies.
Reference softmax_ref(const std::vector<float>& logits, int rows, int cols);

}  // namespace test
}  // namespace mvit
