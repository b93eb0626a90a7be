// Tiled transpose: a 32x8 block moves a 32x32 tile, each thread 4 rows, through a shared tile
// padded to 33 columns so that the column reads hit 32 different banks. Ragged edges are guarded.
#include "kernels/common/launch.cuh"
#include "kernels/demo/transpose.h"

namespace mvit {
namespace demo {

namespace {
constexpr int kTile = 32;
constexpr int kRowsPerPass = 8;  // block is 32 x 8: each thread copies kTile / 8 = 4 elements
}  // namespace

__global__ void transpose_tiled_kernel(TransposeParams p) {
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

void transpose_forward(const TransposeParams& p, cudaStream_t stream) {
  MVIT_CHECK(p.rows > 0 && p.cols > 0, "transpose: shape must be positive, got %d x %d", p.rows,
             p.cols);
  const dim3 grid((p.cols + kTile - 1) / kTile, (p.rows + kTile - 1) / kTile);
  mvit::launch(transpose_tiled_kernel, grid, dim3(kTile, kRowsPerPass), 0, stream, p);
}

}  // namespace demo
}  // namespace mvit
