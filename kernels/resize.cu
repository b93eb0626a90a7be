// Bilinear resize, align_corners = false, no antialiasing: PyTorch's F.interpolate(mode="bilinear")
// (formula in resize.h), NHWC or patch-major pixels on either side.
//
// Variants: resize_bilinear_nhwc_kernel<T, kV>, one thread per (output pixel, kV consecutive
// channels): kV = kVec<T> (128-bit loads of the four source pixels and a 128-bit store) when
// C % kVec == 0 and x and y are 16-byte aligned; otherwise kV = 1, the scalar fallback, from the
// same code. The pixel orders are a runtime branch inside pixel_row (layout.h): a few integer
// operations per thread, nothing beside the four loads of a bandwidth-bound kernel.
//
// Thread t handles channel group t % groups of output pixel t / groups (NHWC order of the
// output), so a warp covers the contiguous channels of one or a few output pixels: whole 32-byte
// sectors for C >= 16 (f16). The source indices and weights are recomputed per thread (two
// float multiply-adds, a compare, a conversion per axis) rather than read from a table: cheaper
// than the table's loads.
//
// Numerics, as PyTorch's CUDA kernel (upsample_bilinear2d_out_frame with accscalar_t = float):
// scale = float(in) / out; src = max(scale * (dst + 0.5) - 0.5, 0) in fp32; i0 = (int)src;
// i1 = i0 + (i0 < in - 1); l1 = src - i0; the blend lh0 (lw0 a + lw1 b) + lh1 (lw0 c + lw1 d) in
// fp32 and one rounding to T. Checked against torch 1.13's F.interpolate (fp64: identical to 1e-15
// for 7->8, 8->7, 5x9->6x10, 1x1->2x2, 3x5->4x6, 4x6->3x5, 14->16, identity; fp32: within 6e-7).
//
// Cost (analytic, unmeasured): 4 pixel loads per output, of which upsampling 7x7 -> 8x8 reuses
// each input pixel ~5 times through L1/L2; DRAM sees x and y once. The MobileViT sizes (7x7 or
// 8x8 maps of 96-240 channels, 10-30 KB per image) make it latency-bound at batch 1 (one launch,
// a few microseconds) and bandwidth-bound only at large batch.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "kernels/common/launch.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/resize.h"

namespace mvit {

namespace {

constexpr int kThreads = 256;  // elementwise-style kernel: 8 warps, occupancy limited by nothing
constexpr const char* kImpl = "bilinear_nhwc";

template <class T>
struct ResizeArgs {
  const T* x;  // [B, H, W, C] in in_order
  T* y;        // [B, Ho, Wo, C] in out_order
  int H, W, Ho, Wo, C;
  int groups;              // C / kV
  int total;               // B * Ho * Wo * groups: one thread each
  float scale_h, scale_w;  // float(H) / Ho, float(W) / Wo
  PixelOrder in_order, out_order;
};

// The two source indices and weights of output coordinate `dst` along an axis of n inputs.
struct AxisTaps {
  int i0, i1;
  float l0, l1;
};

__device__ inline AxisTaps axis_taps(int dst, int n, float scale) {
  float src = scale * (static_cast<float>(dst) + 0.5f) - 0.5f;
  src = src < 0.0f ? 0.0f : src;
  AxisTaps t;
  t.i0 = static_cast<int>(src);  // src >= 0: truncation is floor; src < n - 0.5 so i0 <= n - 1
  t.i1 = t.i0 + (t.i0 < n - 1 ? 1 : 0);
  t.l1 = src - static_cast<float>(t.i0);
  t.l0 = 1.0f - t.l1;
  return t;
}

}  // namespace

template <class T, int kV>
__global__ void MVIT_LAUNCH_BOUNDS(256) resize_bilinear_nhwc_kernel(ResizeArgs<T> a) {
  const int t = blockIdx.x * kThreads + threadIdx.x;
  if (t >= a.total) return;
  const int g = t % a.groups, pixel = t / a.groups;
  const int ox = pixel % a.Wo, oy = (pixel / a.Wo) % a.Ho, b = pixel / a.Wo / a.Ho;
  const AxisTaps ty = axis_taps(oy, a.H, a.scale_h), tx = axis_taps(ox, a.W, a.scale_w);
  const T* x = a.x + g * kV;
  float v00[kV], v01[kV], v10[kV], v11[kV];
  load_pack<kV>(x + pixel_row(a.in_order, b, ty.i0, tx.i0, a.H, a.W) * a.C, v00);
  load_pack<kV>(x + pixel_row(a.in_order, b, ty.i0, tx.i1, a.H, a.W) * a.C, v01);
  load_pack<kV>(x + pixel_row(a.in_order, b, ty.i1, tx.i0, a.H, a.W) * a.C, v10);
  load_pack<kV>(x + pixel_row(a.in_order, b, ty.i1, tx.i1, a.H, a.W) * a.C, v11);
  float out[kV];
  for (int j = 0; j < kV; ++j) {
    out[j] = ty.l0 * (tx.l0 * v00[j] + tx.l1 * v01[j]) + ty.l1 * (tx.l0 * v10[j] + tx.l1 * v11[j]);
  }
  store_pack<kV>(a.y + pixel_row(a.out_order, b, oy, ox, a.Ho, a.Wo) * a.C + g * kV, out);
}

namespace {

template <class T, int kV>
void launch_resize_bilinear(const ResizeParams& p, Stream stream) {
  ResizeArgs<T> a;
  a.x = static_cast<const T*>(p.x);
  a.y = static_cast<T*>(p.y);
  a.H = p.H, a.W = p.W, a.Ho = p.Ho, a.Wo = p.Wo, a.C = p.C;
  a.groups = p.C / kV;
  a.total = p.B * p.Ho * p.Wo * a.groups;
  a.scale_h = static_cast<float>(p.H) / static_cast<float>(p.Ho);
  a.scale_w = static_cast<float>(p.W) / static_cast<float>(p.Wo);
  a.in_order = p.in_order;
  a.out_order = p.out_order;
  const int blocks = (a.total + kThreads - 1) / kThreads;
  mvit::launch(resize_bilinear_nhwc_kernel<T, kV>, dim3(blocks), dim3(kThreads), 0, stream, a);
}

template <class T>
Dispatch resize_typed(const ResizeParams& p, Stream stream) {
  constexpr int kV = kVec<T>;
  if (p.C % kV == 0 && is_aligned(p.x, 16) && is_aligned(p.y, 16)) {
    launch_resize_bilinear<T, kV>(p, stream);
    return {kImpl, kV};
  }
  launch_resize_bilinear<T, 1>(p, stream);
  return {kImpl, 1};
}

bool overlaps(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const uintptr_t pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return pa < pb + b_bytes && pb < pa + a_bytes;
}

std::string order_reason(const char* side, PixelOrder o, int h, int w, const char* hw) {
  if (o != PixelOrder::kNhwc && o != PixelOrder::kPatchMajor) {
    return detail::format("%s %d is not a PixelOrder (supported: nhwc, patch_major)", side,
                          static_cast<int>(o));
  }
  if (o == PixelOrder::kPatchMajor && (h % 2 != 0 || w % 2 != 0)) {
    return detail::format("%s patch_major needs even %s, got %d x %d", side, hw, h, w);
  }
  return std::string();
}

std::string unsupported_reason(const ResizeParams& p) {
  if (p.dtype != DType::kF32 && p.dtype != DType::kF16 && p.dtype != DType::kBF16) {
    return detail::format("dtype %d is not a DType (supported: f32, f16, bf16)",
                          static_cast<int>(p.dtype));
  }
  if (p.B <= 0 || p.C <= 0 || p.H <= 0 || p.W <= 0 || p.Ho <= 0 || p.Wo <= 0) {
    return detail::format(
        "B, C, H, W, Ho, Wo must be > 0, got B %d, C %d, H %d, W %d, Ho %d, Wo %d", p.B, p.C, p.H,
        p.W, p.Ho, p.Wo);
  }
  const int64_t nx = static_cast<int64_t>(p.B) * p.H * p.W * p.C;
  const int64_t ny = static_cast<int64_t>(p.B) * p.Ho * p.Wo * p.C;
  if (nx > INT32_MAX || ny > INT32_MAX) {
    return detail::format(
        "x has %lld and y %lld elements: more than the kernel's limit of "
        "2^31 - 1",
        static_cast<long long>(nx), static_cast<long long>(ny));
  }
  std::string why = order_reason("in_order", p.in_order, p.H, p.W, "H, W");
  if (why.empty()) why = order_reason("out_order", p.out_order, p.Ho, p.Wo, "Ho, Wo");
  if (!why.empty()) return why;
  if (p.x == nullptr) return "x is null";
  if (p.y == nullptr) return "y is null";
  const size_t es = dtype_size(p.dtype);
  if (overlaps(p.x, static_cast<size_t>(nx) * es, p.y, static_cast<size_t>(ny) * es)) {
    return detail::format("y %p overlaps x %p (the op cannot run in place)", p.y, p.x);
  }
  return std::string();
}

}  // namespace

bool resize_supported(const ResizeParams& p) {
  return unsupported_reason(p).empty();
}

Dispatch resize_forward(const ResizeParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "resize: %s", why.c_str());
  switch (p.dtype) {
    case DType::kF32:
      return resize_typed<float>(p, stream);
    case DType::kF16:
      return resize_typed<__half>(p, stream);
    case DType::kBF16:
      return resize_typed<__nv_bfloat16>(p, stream);
  }
  MVIT_FAIL("resize: unreachable dtype %d", static_cast<int>(p.dtype));
}

}  // namespace mvit
