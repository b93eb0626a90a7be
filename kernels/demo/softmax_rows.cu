// One block of 128 threads per row: stage the row in dynamic shared memory, reduce the max and the
// sum of exp(x - max) with warp shuffles and a shared array of warp results, then normalize.
// Rows longer than 48 KiB / 4 = 12288 floats opt in to more shared memory with
// cudaFuncSetAttribute, as a GPU requires.
#include "kernels/common/launch.cuh"
#include "kernels/demo/softmax_rows.h"

#include <cfloat>

namespace mvit {
namespace demo {

namespace {

constexpr int kThreads = 128;  // 4 warps: rows in the demo are 100s of elements
constexpr int kWarps = kThreads / 32;
constexpr unsigned kFullMask = 0xffffffffu;

template <bool kMax>
__device__ float block_reduce(float v, float* warp_results) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const float other = __shfl_xor_sync(kFullMask, v, offset);
    v = kMax ? fmaxf(v, other) : v + other;
  }
  if (threadIdx.x % 32 == 0) warp_results[threadIdx.x / 32] = v;
  __syncthreads();
  float r = warp_results[0];
  for (int w = 1; w < kWarps; ++w) r = kMax ? fmaxf(r, warp_results[w]) : r + warp_results[w];
  __syncthreads();  // warp_results is reused by the next reduction
  return r;
}

}  // namespace

__global__ void softmax_rows_smem_kernel(SoftmaxRowsParams p) {
  MVIT_DYNAMIC_SHARED(float, row);
  MVIT_SHARED(float, warp_results, kWarps);
  const float* x = p.x + static_cast<size_t>(blockIdx.x) * p.cols;
  float* y = p.y + static_cast<size_t>(blockIdx.x) * p.cols;
  float m = -FLT_MAX;
  for (int c = threadIdx.x; c < p.cols; c += kThreads) {
    row[c] = x[c];
    m = fmaxf(m, row[c]);
  }
  m = block_reduce<true>(m, warp_results);
  float s = 0.0f;
  for (int c = threadIdx.x; c < p.cols; c += kThreads) {
    row[c] = __expf(row[c] - m);
    s += row[c];
  }
  s = block_reduce<false>(s, warp_results);
  const float inv = 1.0f / s;
  for (int c = threadIdx.x; c < p.cols; c += kThreads) y[c] = row[c] * inv;
}

void softmax_rows_forward(const SoftmaxRowsParams& p, cudaStream_t stream) {
  MVIT_CHECK(p.rows > 0 && p.cols > 0, "softmax_rows: shape must be positive, got %d x %d", p.rows,
             p.cols);
  const size_t smem = static_cast<size_t>(p.cols) * sizeof(float);
  if (smem > 48 * 1024) {
    MVIT_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(softmax_rows_smem_kernel),
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(smem)));
  }
  mvit::launch(softmax_rows_smem_kernel, dim3(p.rows), dim3(kThreads), smem, stream, p);
}

}  // namespace demo
}  // namespace mvit
