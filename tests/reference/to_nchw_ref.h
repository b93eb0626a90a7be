// Reference of kernels/to_nchw: NHWC to NCHW as PyTorch's x.permute(0, 3, 1, 2).contiguous() on
// the stored values, a plain loop.
#pragma once

#include <vector>

#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

struct ToNchwShape {
  int B, H, W, C;
};

// x: [B, H, W, C] (values as stored, any DType read back as floats); result [B, C, H, W]:
// value[((b C + c) H + h) W + w] = x[((b H + h) W + w) C + c], scale 1. Every value is an exact
// copy, so the kernel's output must equal it exactly (tolerance 0).
Reference to_nchw_ref(const ToNchwShape& s, const std::vector<float>& x);

}  // namespace test
}  // namespace mvit
