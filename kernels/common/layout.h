// Pixel orders of the activations (shared/DESIGN.md section 3). Plain C++; the index functions are
// host and device code (kernels include this from .cu files, tests from their references).
//
// Note [patch-major tokens]
// Outside the transformer an activation is NHWC: pixel (b, y, x) is row (b * H + y) * W + x of a
// [rows, C] matrix. Inside a MobileViT block the same pixels are tokens in patch-major order
// [B, P, N, C] with 2x2 patches (shared/reference/mobilevit.md section 5): for y = 2i + py,
// x = 2j + px, the pixel is row ((b * 4 + p) * N + n) with p = 2 * py + px and n = i * (W / 2) + j,
// N = H * W / 4. Attention runs over the N rows of each (b, p). The permutation is a bijection on
// the rows of the [B * H * W, C] matrix, so the kernel next to the transformer (the 1x1 conv that
// enters it, the one that leaves it, a resize) applies it in its addressing: that is the unfold
// and the fold, and neither exists as a separate pass. H and W must be even.
#pragma once

#include <cstdint>

// Host and device code where a CUDA header (nvcc, or the emulated build's prelude) defines the
// qualifiers; plain host functions in a .cpp that includes none.
#if defined(__host__)
#define MVIT_HOST_DEVICE __host__ __device__
#else
#define MVIT_HOST_DEVICE
#endif

namespace mvit {

enum class PixelOrder {
  kNhwc,        // [B, H, W, C]
  kPatchMajor,  // [B, P = 4, N = H * W / 4, C], Note [patch-major tokens]; H, W even
};

constexpr const char* pixel_order_name(PixelOrder o) {
  return o == PixelOrder::kNhwc ? "nhwc" : "patch_major";
}

// The row of pixel (b, y, x) of an H x W map in order `o`.
MVIT_HOST_DEVICE inline int64_t pixel_row(PixelOrder o, int64_t b, int y, int x, int H, int W) {
  if (o == PixelOrder::kNhwc) return (b * H + y) * W + x;
  const int p = 2 * (y & 1) + (x & 1);
  const int64_t n = static_cast<int64_t>(y >> 1) * (W >> 1) + (x >> 1);
  return (b * 4 + p) * (static_cast<int64_t>(H) * W / 4) + n;
}

// The row in order `o` of NHWC row `r` (r = (b * H + y) * W + x).
MVIT_HOST_DEVICE inline int64_t pixel_row_of_nhwc(PixelOrder o, int64_t r, int H, int W) {
  if (o == PixelOrder::kNhwc) return r;
  const int64_t hw = static_cast<int64_t>(H) * W;
  const int64_t b = r / hw;
  const int rem = static_cast<int>(r - b * hw);
  return pixel_row(o, b, rem / W, rem % W, H, W);
}

}  // namespace mvit
