// Kernels for emu-bench: a block that does nothing but `iterations` barriers, one whose warps do
// nothing but `iterations` shuffle steps, and three small workloads whose emulated GFLOP/s are
// the budget later issues plan with: a WMMA GEMM (one warp per 16x16 tile, as
// kernels/demo/wmma_gemm.cu), a shared-memory tiled SIMT GEMM and an elementwise axpy.
#include <mma.h>

#include "kernels/common/launch.cuh"

namespace mvit {
namespace bench {

__global__ void barrier_loop_kernel(int iterations, int* sink) {
  for (int i = 0; i < iterations; ++i) __syncthreads();
  if (threadIdx.x == 0) sink[blockIdx.x] = iterations;
}

__global__ void shuffle_loop_kernel(int iterations, int* sink) {
  int v = threadIdx.x;
  for (int i = 0; i < iterations; ++i) v = __shfl_xor_sync(0xffffffffu, v, 1);
  if (threadIdx.x == 0) sink[blockIdx.x] = v;
}

void barrier_loop(int threads, int iterations, int* sink) {
  mvit::launch(barrier_loop_kernel, dim3(1), dim3(threads), 0, nullptr, iterations, sink);
}

void shuffle_loop(int threads, int iterations, int* sink) {
  mvit::launch(shuffle_loop_kernel, dim3(1), dim3(threads), 0, nullptr, iterations, sink);
}

namespace {
constexpr int kTile = 16;
constexpr int kWarps = 4;
}  // namespace

// c[n, n] = a[n, n] * b[n, n], fp16 inputs, fp32 accumulation, all row-major; one warp per
// 16x16 tile of c, four warps per block along n.
__global__ void wmma_gemm_kernel(const __half* a, const __half* b, float* c, int n) {
  namespace wmma = nvcuda::wmma;
  const int tile_n = blockIdx.x * kWarps + threadIdx.x / 32;
  const int tile_m = blockIdx.y;
  wmma::fragment<wmma::matrix_a, kTile, kTile, kTile, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, kTile, kTile, kTile, __half, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, kTile, kTile, kTile, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k0 = 0; k0 < n; k0 += kTile) {
    wmma::load_matrix_sync(fa, a + tile_m * kTile * n + k0, n);
    wmma::load_matrix_sync(fb, b + k0 * n + tile_n * kTile, n);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(c + tile_m * kTile * n + tile_n * kTile, acc, n, wmma::mem_row_major);
}

// The same product in fp32 on the SIMT cores: 16x16 threads per block, one output each, the
// k dimension staged through shared memory 16 at a time (two barriers per stage).
__global__ void simt_gemm_kernel(const float* a, const float* b, float* c, int n) {
  MVIT_SHARED(float, ta, kTile, kTile);
  MVIT_SHARED(float, tb, kTile, kTile);
  const int row = blockIdx.y * kTile + threadIdx.y;
  const int col = blockIdx.x * kTile + threadIdx.x;
  float acc = 0.0f;
  for (int k0 = 0; k0 < n; k0 += kTile) {
    ta[threadIdx.y][threadIdx.x] = a[row * n + k0 + threadIdx.x];
    tb[threadIdx.y][threadIdx.x] = b[(k0 + threadIdx.y) * n + col];
    __syncthreads();
    for (int k = 0; k < kTile; ++k) acc += ta[threadIdx.y][k] * tb[k][threadIdx.x];
    __syncthreads();
  }
  c[row * n + col] = acc;
}

// y = alpha * x + y, one element per thread, 256 threads per block.
__global__ void axpy_kernel(float alpha, const float* x, float* y, int count) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < count) y[i] = alpha * x[i] + y[i];
}

void wmma_gemm(const __half* a, const __half* b, float* c, int n) {
  mvit::launch(wmma_gemm_kernel, dim3(n / kTile / kWarps, n / kTile), dim3(32 * kWarps), 0, nullptr,
               a, b, c, n);
}

void simt_gemm(const float* a, const float* b, float* c, int n) {
  mvit::launch(simt_gemm_kernel, dim3(n / kTile, n / kTile), dim3(kTile, kTile), 0, nullptr, a, b,
               c, n);
}

void axpy(float alpha, const float* x, float* y, int count) {
  mvit::launch(axpy_kernel, dim3((count + 255) / 256), dim3(256), 0, nullptr, alpha, x, y, count);
}

}  // namespace bench
}  // namespace mvit
