// Tiled transpose: a 32x8 block moves a 32x32 tile, each thread 4 rows, through a shared tile
// padded to 33 columns so that the column reads hit 32 different banks. Ragged edges are guarded.
#include "kernels/common/launch.cuh"
#include "kernels/demo/transpose.h"

#include <string>

namespace mvit {
namespace demo {

namespace {
constexpr int kTile = 32;
constexpr int kRowsPerPass = 8;  // block is 32 x 8: each thread copies kTile / 8 = 4 elements
}  // namespace

// MVIT_LAUNCH_BOUNDS takes a literal (the resource report reads it): the launcher's block.
static_assert(kTile * kRowsPerPass == 256, "MVIT_LAUNCH_BOUNDS(256) below is the launch block");

__global__ void MVIT_LAUNCH_BOUNDS(256) transpose_tiled_kernel(TransposeParams p) {
  MVIT_SHARED(float, tile, kTile, kTile + 1);
  const int x = blockIdx.x * kTile + threadIdx.x;  // column in `in`
  const int y0 = blockIdx.y * kTile + threadIdx.y;
  for (int j = 0; j < kTile; j += kRowsPerPass) {
    if (x < p.cols && y0 + j < p.rows)
      tile[threadIdx.y + j][threadIdx.x] = p.in[(y0 + j) * p.cols + x];
  }
  __syncthreads();
  const int ox = blockIdx.y * kTile + threadIdx.x;  // column in `out` = row in `in`
  const int oy0 = blockIdx.x * kTile + threadIdx.y;
  for (int j = 0; j < kTile; j += kRowsPerPass) {
    if (ox < p.rows && oy0 + j < p.cols)
      p.out[(oy0 + j) * p.rows + ox] = tile[threadIdx.x][threadIdx.y + j];
  }
}

namespace {

std::string unsupported_reason(const TransposeParams& p) {
  if (p.rows <= 0 || p.cols <= 0) {
    return detail::format("shape must be positive, got %d x %d", p.rows, p.cols);
  }
  if (static_cast<long long>(p.rows) * p.cols > 0x7fffffff) {
    return detail::format("%d x %d elements exceed the kernel's 32-bit indexing", p.rows, p.cols);
  }
  if (p.in == nullptr || p.out == nullptr) {
    return detail::format("null pointer (in %p, out %p)", static_cast<const void*>(p.in),
                          static_cast<void*>(p.out));
  }
  return std::string();
}

}  // namespace

bool transpose_supported(const TransposeParams& p) {
  return unsupported_reason(p).empty();
}

void transpose_forward(const TransposeParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "transpose: %s", why.c_str());
  const dim3 grid((p.cols + kTile - 1) / kTile, (p.rows + kTile - 1) / kTile);
  mvit::launch(transpose_tiled_kernel, grid, dim3(kTile, kRowsPerPass), 0, stream, p);
}

}  // namespace demo
}  // namespace mvit
