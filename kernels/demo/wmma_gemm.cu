// One warp per 16x16 output tile: walk k in steps of 16, load the A and B fragments, accumulate
// with mma_sync, store. Touches fragments only through load/store/mma (their element layout is
// unspecified, and the emulator scrambles it to catch code that assumes one).
#include "kernels/common/launch.cuh"
#include "kernels/demo/wmma_gemm.h"

#include <mma.h>

namespace mvit {
namespace demo {

namespace {
constexpr int kTile = 16;
constexpr int kWarpsPerBlock = 4;  // 4 tiles per block along n: enough for the demo's sizes
}  // namespace

__global__ void wmma_gemm_tile_kernel(WmmaGemmParams p) {
  namespace wmma = nvcuda::wmma;
  const int warp = threadIdx.x / 32;
  const int tile_n = blockIdx.x * kWarpsPerBlock + warp;
  const int tile_m = blockIdx.y;
  if (tile_n * kTile >= p.n) return;  // whole warps leave together, no barrier follows
  wmma::fragment<wmma::matrix_a, kTile, kTile, kTile, __half, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, kTile, kTile, kTile, __half, wmma::row_major> b;
  wmma::fragment<wmma::accumulator, kTile, kTile, kTile, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k0 = 0; k0 < p.k; k0 += kTile) {
    wmma::load_matrix_sync(a, p.a + tile_m * kTile * p.k + k0, p.k);
    wmma::load_matrix_sync(b, p.b + k0 * p.n + tile_n * kTile, p.n);
    wmma::mma_sync(acc, a, b, acc);
  }
  wmma::store_matrix_sync(p.c + tile_m * kTile * p.n + tile_n * kTile, acc, p.n,
                          wmma::mem_row_major);
}

void wmma_gemm_forward(const WmmaGemmParams& p, cudaStream_t stream) {
  MVIT_CHECK(
      p.m > 0 && p.n > 0 && p.k > 0 && p.m % kTile == 0 && p.n % kTile == 0 && p.k % kTile == 0,
      "wmma_gemm: m, n, k must be positive multiples of 16, got %d, %d, %d", p.m, p.n, p.k);
  const int tiles_n = p.n / kTile;
  const dim3 grid((tiles_n + kWarpsPerBlock - 1) / kWarpsPerBlock, p.m / kTile);
  mvit::launch(wmma_gemm_tile_kernel, grid, dim3(32 * kWarpsPerBlock), 0, stream, p);
}

}  // namespace demo
}  // namespace mvit
