// bias_act: the epilogue kernel of the library paths (cuBLAS GEMM, cuDNN convolution), which write
// the raw accumulation and leave bias, activation, residual and the pixel-order permute to us
// (shared/reference/performance.md section 12: neither has a SiLU epilogue):
//
//   dst[d(q), c] = act(src[s(q), c] + bias[c]) + residual[d(q), c]    q < rows, c < cols
//
// for every pixel q (in NHWC order): s(q) = pixel_row_of_nhwc(src_order, q, H, W) and d(q) the
// same for `order` (Note [patch-major tokens], layout.h). src_order kNhwc -> order kPatchMajor is
// the unfold, kPatchMajor -> kNhwc the fold. Plain C++.
#pragma once

#include <cstdint>

#include "kernels/common/activation.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/dtype.h"
#include "kernels/common/layout.h"
#include "mvit/stream.h"

namespace mvit {

struct BiasActParams {
  const void* src = nullptr;       // [rows, cols] rows in src_order, src_dtype
  void* dst = nullptr;             // [rows, cols] rows in `order`, dst_dtype; may be src itself
                                   // when the orders and the dtypes match (in place)
  const void* bias = nullptr;      // [cols] dst_dtype, or null
  const void* residual = nullptr;  // [rows, cols] rows in `order`, dst_dtype, or null
  int64_t rows = 0;                // B * H * W
  int cols = 0;
  int H = 0, W = 0;  // the map the rows cover (needed for kPatchMajor; H, W even there)
  PixelOrder order = PixelOrder::kNhwc;      // of dst and residual
  PixelOrder src_order = PixelOrder::kNhwc;  // of src
  Activation act = Activation::kNone;
  DType src_dtype = DType::kF32;
  DType dst_dtype = DType::kF32;
};

[[nodiscard]] bool bias_act_supported(const BiasActParams& p);
// impl "bias_act"; vec: elements per access (1 when cols or a pointer does not allow wider).
Dispatch bias_act_forward(const BiasActParams& p, Stream stream);

}  // namespace mvit
