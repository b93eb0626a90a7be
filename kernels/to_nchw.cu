// NHWC (any DType) to NCHW fp32: y[b, c, h, w] = float(x[b, h, w, c]) (to_nchw.h), the layout in
// which the engine hands features and stage outputs to the user, as PyTorch does.
//
// Per image the op is a transpose of x's [H*W, C] matrix into y's [C, H*W]. A direct loop
// coalesces only one side: threads along c read x contiguously but write y with a stride of H*W
// floats (one 32-byte sector per 4-byte store, 8x the write traffic), and threads along the pixels
// do the reverse. to_nchw_tiled_transpose_kernel<T> moves a tile of 32 pixels x 32 channels
// through shared memory instead:
//
//   read:   warp w, pass i: pixel p0 + w + 8 i, channels c0 .. c0 + 31   (consecutive in x)
//   write:  warp w, pass i: channel c0 + w + 8 i, pixels p0 .. p0 + 31   (consecutive in y)
//
// so every warp access is 32 consecutive elements: 128 bytes of fp32, 64 bytes (two whole 32-byte
// sectors) of f16 / bf16. The tile is stored as fp32 (converted as it is read: the conversion is
// exact) in a [32][33] array: the padding column puts element [p][c] in bank (p + c) % 32, so the
// write phase's column reads (fixed c, p = lane) hit 32 different banks, and the read phase's row
// writes are conflict-free anyway. Edge tiles (C or H*W not multiples of 32) guard both phases by
// the same condition, so no unwritten tile entry is ever read. Grid: x = pixel tiles (up to
// 2^31 - 1, so any H*W), y = channel tiles (C = 640 gives 20), z = images.
//
// Not vectorised (Dispatch vec 1; no alignment beyond the elements' own): each warp access is
// already whole sectors, and 128-bit accesses would need C % 8 (f16 reads) and H*W % 4 (fp32
// writes) plus aligned pointers, which 7x7 maps and odd channel counts do not give; a transpose at
// this granularity is bound by bytes in flight, not by instructions.
//
// Tuned constants (analytic, unmeasured: no GPU has run this yet): the 32 x 32 tile matches the
// warp width on both axes (the smallest tile with whole-warp coalescing on both sides); 32 x 8
// threads, 4 elements each, the classic transpose block (256 threads, 4.2 KB of shared memory:
// occupancy limited by neither). The stem's C = 16 fills half of each channel tile: half the
// threads idle, the same sectors moved.
//
// Cost: x read once, y written once: B * H * W * C * (sizeof(T) + 4) bytes. The largest MobileViT
// output, a 32-channel 128x128 stage-1 map, is 1 MB (f16) + 2 MB per image: ~1 us per image at
// 3 TB/s; the 8x8 feature maps (320..640 channels, 80-160 KB per image) are launch-bound at
// small batch.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "kernels/common/launch.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/to_nchw.h"

namespace mvit {

namespace {

constexpr int kTile = 32;          // pixels x channels per block: one warp width on each axis
constexpr int kRowsPerPass = 8;    // block 32 x 8: each thread moves kTile / 8 = 4 elements
constexpr int kMaxGridYZ = 65535;  // CUDA's limit on grid.y (channel tiles) and grid.z (images)
// 32-bit indexing: with at most 2^31 - 33 elements, H*W and C are too, so a tile edge's index
// (p0 + 31, c0 + 31) cannot overflow an int either.
constexpr int kMaxElements = INT32_MAX - kTile;
constexpr const char* kImpl = "tiled_transpose";

template <class T>
struct ToNchwArgs {
  const T* x;  // [B, H*W, C]
  float* y;    // [B, C, H*W]
  int HW, C;
};

}  // namespace

// MVIT_LAUNCH_BOUNDS takes a literal (the resource report reads it): the launcher's block.
static_assert(kTile * kRowsPerPass == 256, "MVIT_LAUNCH_BOUNDS(256) below is the launch block");

template <class T>
__global__ void MVIT_LAUNCH_BOUNDS(256) to_nchw_tiled_transpose_kernel(ToNchwArgs<T> a) {
  MVIT_SHARED(float, tile, kTile, kTile + 1);  // [pixel][channel], padded against bank conflicts
  const int p0 = blockIdx.x * kTile, c0 = blockIdx.y * kTile;
  // B * H*W * C <= kMaxElements (to_nchw_supported): 32-bit offsets cannot overflow.
  const int image = blockIdx.z * a.HW * a.C;
  const T* x = a.x + image;  // [H*W, C]
  float* y = a.y + image;    // [C, H*W]
  const int c = c0 + threadIdx.x;
  MVIT_UNROLL
  for (int i = 0; i < kTile / kRowsPerPass; ++i) {
    const int j = threadIdx.y + i * kRowsPerPass;
    if (p0 + j < a.HW && c < a.C) tile[j][threadIdx.x] = to_float(x[(p0 + j) * a.C + c]);
  }
  __syncthreads();
  const int p = p0 + threadIdx.x;
  MVIT_UNROLL
  for (int i = 0; i < kTile / kRowsPerPass; ++i) {
    const int j = threadIdx.y + i * kRowsPerPass;
    if (p < a.HW && c0 + j < a.C) y[(c0 + j) * a.HW + p] = tile[threadIdx.x][j];
  }
}

namespace {

template <class T>
Dispatch launch_to_nchw_tiled(const ToNchwParams& p, Stream stream) {
  ToNchwArgs<T> a;
  a.x = static_cast<const T*>(p.x);
  a.y = p.y;
  a.HW = p.H * p.W;
  a.C = p.C;
  const dim3 grid((a.HW + kTile - 1) / kTile, (p.C + kTile - 1) / kTile, p.B);
  mvit::launch(to_nchw_tiled_transpose_kernel<T>, grid, dim3(kTile, kRowsPerPass), 0, stream, a);
  return {kImpl, 1};
}

std::string unsupported_reason(const ToNchwParams& p) {
  if (p.dtype != DType::kF32 && p.dtype != DType::kF16 && p.dtype != DType::kBF16) {
    return detail::format("dtype %d is not a DType (supported: f32, f16, bf16)",
                          static_cast<int>(p.dtype));
  }
  if (p.B <= 0 || p.H <= 0 || p.W <= 0 || p.C <= 0) {
    return detail::format("B, H, W, C must be > 0, got B %d, H %d, W %d, C %d", p.B, p.H, p.W, p.C);
  }
  const int64_t n = static_cast<int64_t>(p.B) * p.H * p.W * p.C;
  if (n > kMaxElements) {
    return detail::format(
        "B * H * W * C = %lld elements: more than the kernel's limit of %d (2^31 - 33)",
        static_cast<long long>(n), kMaxElements);
  }
  if (p.B > kMaxGridYZ) {
    return detail::format("B %d is more than the grid's limit of %d images", p.B, kMaxGridYZ);
  }
  // 65535 channel tiles hold C up to 2,097,120; a larger C is within the element limit only when
  // B * H * W <= 1024, but then it is.
  if ((p.C + kTile - 1) / kTile > kMaxGridYZ) {
    return detail::format("C %d needs more than the grid's %d channel tiles of %d", p.C, kMaxGridYZ,
                          kTile);
  }
  if (p.x == nullptr) return "x is null";
  if (p.y == nullptr) return "y is null";
  const size_t es = dtype_size(p.dtype);
  if (!is_aligned(p.x, es)) {
    return detail::format("x %p is not aligned to its %zu-byte %s elements", p.x, es,
                          dtype_name(p.dtype));
  }
  if (!is_aligned(p.y, sizeof(float))) {
    return detail::format("y %p is not aligned to its 4-byte f32 elements",
                          static_cast<void*>(p.y));
  }
  const detail::Span x{"x", p.x, static_cast<size_t>(n) * es};
  const detail::Span y{"y", p.y, static_cast<size_t>(n) * sizeof(float)};
  if (detail::overlaps(x, y)) {
    return detail::format("y %p overlaps x %p (the op cannot run in place)",
                          static_cast<void*>(p.y), p.x);
  }
  return std::string();
}

}  // namespace

bool to_nchw_supported(const ToNchwParams& p) {
  return unsupported_reason(p).empty();
}

Dispatch to_nchw_forward(const ToNchwParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "to_nchw: %s", why.c_str());
  switch (p.dtype) {
    case DType::kF32:
      return launch_to_nchw_tiled<float>(p, stream);
    case DType::kF16:
      return launch_to_nchw_tiled<__half>(p, stream);
    case DType::kBF16:
      return launch_to_nchw_tiled<__nv_bfloat16>(p, stream);
  }
  MVIT_FAIL("to_nchw: unreachable dtype %d", static_cast<int>(p.dtype));
}

}  // namespace mvit
