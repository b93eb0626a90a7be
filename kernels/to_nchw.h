// NHWC activations to the NCHW fp32 tensors the user receives, as PyTorch hands out features and
// stage outputs:
//
//   y[b, c, h, w] = float(x[b, h, w, c])
//
// Per image this is a transpose of [H*W, C] into [C, H*W]; the conversion to fp32 is exact for
// every DType, so y holds x's values bit for bit. Plain C++.
#pragma once

#include "kernels/common/dispatch.h"
#include "kernels/common/dtype.h"
#include "mvit/stream.h"

namespace mvit {

struct ToNchwParams {
  const void* x = nullptr;  // [B, H, W, C] NHWC, dtype
  float* y = nullptr;       // [B, C, H, W] NCHW fp32; must not overlap x
  int B = 0, H = 0, W = 0, C = 0;
  DType dtype = DType::kF32;
};

// Positive sizes, B * H * W * C at most 2^31 - 33, B and ceil(C / 32) at most 65535 (grid limits),
// no null pointer, x aligned to its elements, y to 4 bytes, y not overlapping x. No side effects.
[[nodiscard]] bool to_nchw_supported(const ToNchwParams& p);
// Throws mvit::Error naming the bad field when !to_nchw_supported(p). impl "tiled_transpose",
// vec 1 (element-wide accesses, coalesced through a shared-memory tile; any alignment).
Dispatch to_nchw_forward(const ToNchwParams& p, Stream stream);

}  // namespace mvit
