// Reference of kernels/resize: PyTorch's F.interpolate(mode="bilinear", align_corners=False),
// written from its definition (area_pixel_compute_source_index in ATen's UpSample.h: source
// coordinate (dst + 0.5) * in / out - 0.5 clamped at 0, neighbours clamped to the edge), on NHWC
// images whose pixels are stored in a PixelOrder (kernels/common/layout.h).
#pragma once

#include <vector>

#include "kernels/common/dtype.h"
#include "kernels/common/layout.h"
#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

struct ResizeShape {
  int B, C, H, W, Ho, Wo;
  PixelOrder in_order, out_order;
};

// x: [B, H, W, C] with pixels in s.in_order; result [B, Ho, Wo, C] in s.out_order. fp64 weights
// and blend; scale = sum of |weight * x| over the four taps (floor 1e-30).
Reference resize_ref(const ResizeShape& s, const std::vector<float>& x);

// The same in the kernel's precision: PyTorch's fp32 index and weight arithmetic (scale =
// float(in) / out), fp32 blend of the stored values, the output rounded to `dtype`.
std::vector<float> resize_lowp(const ResizeShape& s, const std::vector<float>& x, DType dtype);

}  // namespace test
}  // namespace mvit
