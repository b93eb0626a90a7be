// Bilinear resize, exactly PyTorch's F.interpolate(x, size=(Ho, Wo), mode="bilinear",
// align_corners=False) without antialiasing (shared/reference/mobilevit.md section 6: the official
// MobileViT block resizes an odd map up to even before the unfold and back after the fold). Per
// axis, for an input extent n and output extent m (scale = n / m, PyTorch's value when no
// scale_factor is given):
//
//   src = max((dst + 0.5) * scale - 0.5, 0),  i0 = floor(src),  i1 = min(i0 + 1, n - 1),
//   l1 = src - i0,  l0 = 1 - l1
//   y[b, oy, ox, c] = lh0 (lw0 x[b, h0, w0, c] + lw1 x[b, h0, w1, c])
//                   + lh1 (lw0 x[b, h1, w0, c] + lw1 x[b, h1, w1, c])
//
// Layouts: x is [B, H, W, C] with its pixels in `in_order`, y [B, Ho, Wo, C] in `out_order`
// (kernels/common/layout.h, Note [patch-major tokens]). Resizing up before the transformer with
// out_order = kPatchMajor IS the unfold of that path; resizing down after it with in_order =
// kPatchMajor is the fold. Plain C++.
#pragma once

#include "kernels/common/dispatch.h"
#include "kernels/common/dtype.h"
#include "kernels/common/layout.h"
#include "mvit/stream.h"

namespace mvit {

struct ResizeParams {
  const void* x = nullptr;  // [B, H, W, C], pixels in in_order, dtype
  void* y = nullptr;        // [B, Ho, Wo, C], pixels in out_order, dtype; must not overlap x
  int B = 0, C = 0;
  int H = 0, W = 0;                          // input map
  int Ho = 0, Wo = 0;                        // output map
  PixelOrder in_order = PixelOrder::kNhwc;   // kPatchMajor needs H, W even
  PixelOrder out_order = PixelOrder::kNhwc;  // kPatchMajor needs Ho, Wo even
  DType dtype = DType::kF32;                 // storage of x and y; arithmetic is fp32
};

// Positive sizes, B * max(H * W, Ho * Wo) * C below 2^31, even extents for a patch-major side, no
// null pointer, y not overlapping x. No side effects.
[[nodiscard]] bool resize_supported(const ResizeParams& p);
// Throws mvit::Error naming the bad field when !resize_supported(p). impl "bilinear_nhwc"; vec
// kVec<T> (128-bit accesses) when C % kVec == 0 and x, y are 16-byte aligned, else 1.
Dispatch resize_forward(const ResizeParams& p, Stream stream);

}  // namespace mvit
