// One warp per 16x16 output tile: walk k in steps of 16, load the A and B fragments, accumulate
// with mma_sync, store. Touches fragments only through load/store/mma (their element layout is
// unspecified, and the emulator scrambles it to catch code that assumes one).
#include "kernels/common/launch.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/demo/wmma_gemm.h"

#include <mma.h>

#include <string>

namespace mvit {
namespace demo {

namespace {
constexpr int kTile = 16;
constexpr int kWarpsPerBlock = 4;  // 4 tiles per block along n: enough for the demo's sizes
constexpr size_t kWmmaAlign = 32;  // load/store_matrix_sync need 256-bit aligned pointers
}  // namespace

// MVIT_LAUNCH_BOUNDS takes a literal (the resource report reads it): the launcher's block.
static_assert(32 * kWarpsPerBlock == 128, "MVIT_LAUNCH_BOUNDS(128) below is the launch block");

// a: [m, k] fp16, b: [k, n] fp16, c: [m, n] fp32, all row-major; m is the grid's y extent.
__global__ void MVIT_LAUNCH_BOUNDS(128)
    wmma_gemm_tile_kernel(const __half* a, const __half* b, float* c, int n, int k) {
  namespace wmma = nvcuda::wmma;
  const int warp = threadIdx.x / 32;
  const int tile_n = blockIdx.x * kWarpsPerBlock + warp;
  const int tile_m = blockIdx.y;
  if (tile_n * kTile >= n) return;  // whole warps leave together, no barrier follows
  wmma::fragment<wmma::matrix_a, kTile, kTile, kTile, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, kTile, kTile, kTile, __half, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, kTile, kTile, kTile, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k0 = 0; k0 < k; k0 += kTile) {
    wmma::load_matrix_sync(fa, a + tile_m * kTile * k + k0, k);
    wmma::load_matrix_sync(fb, b + k0 * n + tile_n * kTile, n);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(c + tile_m * kTile * n + tile_n * kTile, acc, n, wmma::mem_row_major);
}

namespace {

std::string unsupported_reason(const WmmaGemmParams& p) {
  if (p.dtype != DType::kF16) {
    return detail::format("dtype %s is not supported (supported: f16)", dtype_name(p.dtype));
  }
  if (p.m <= 0 || p.n <= 0 || p.k <= 0 || p.m % kTile || p.n % kTile || p.k % kTile) {
    return detail::format("m, n, k must be positive multiples of 16, got %d, %d, %d", p.m, p.n,
                          p.k);
  }
  if (!is_aligned(p.a, kWmmaAlign) || !is_aligned(p.b, kWmmaAlign) ||
      !is_aligned(p.c, kWmmaAlign) || p.a == nullptr || p.b == nullptr || p.c == nullptr) {
    return detail::format("a, b, c must be non-null and 32-byte aligned, got %p, %p, %p", p.a, p.b,
                          static_cast<void*>(p.c));
  }
  return std::string();
}

}  // namespace

bool wmma_gemm_supported(const WmmaGemmParams& p) {
  return unsupported_reason(p).empty();
}

void wmma_gemm_forward(const WmmaGemmParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "wmma_gemm: %s", why.c_str());
  const int tiles_n = p.n / kTile;
  const dim3 grid((tiles_n + kWarpsPerBlock - 1) / kWarpsPerBlock, p.m / kTile);
  mvit::launch(wmma_gemm_tile_kernel, grid, dim3(32 * kWarpsPerBlock), 0, stream,
               static_cast<const __half*>(p.a), static_cast<const __half*>(p.b), p.c, p.n, p.k);
}

}  // namespace demo
}  // namespace mvit
