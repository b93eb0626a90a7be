// Sum of x[0..n): each block of 256 threads reduces 256 elements in two levels (shuffles within a
// warp, then the 8 warp sums through shared memory) and writes its partial; thread 0 of each block
// also adds the partial to *total with atomicAdd (order across blocks is nondeterministic, as on a
// GPU). Accumulation in fp32.
#include "kernels/common/launch.cuh"
#include "kernels/demo/block_reduce.h"

namespace mvit {
namespace demo {

namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kWarps = kBlockReduceThreads / 32;

__device__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

}  // namespace

__global__ void block_reduce_sum_kernel(BlockReduceParams p) {
  MVIT_SHARED(float, warp_sums, kWarps);
  const int i = blockIdx.x * kBlockReduceThreads + threadIdx.x;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  float v = i < p.n ? p.x[i] : 0.0f;
  v = warp_sum(v);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kWarps ? warp_sums[lane] : 0.0f;
    v = warp_sum(v);
    if (lane == 0) {
      p.partials[blockIdx.x] = v;
      atomicAdd(p.total, v);
    }
  }
}

void block_reduce_forward(const BlockReduceParams& p, cudaStream_t stream) {
  MVIT_CHECK(p.n > 0, "block_reduce: n must be positive, got %d", p.n);
  MVIT_CHECK(p.x != nullptr && p.partials != nullptr && p.total != nullptr,
             "block_reduce: null pointer (x %p, partials %p, total %p)",
             static_cast<const void*>(p.x), static_cast<void*>(p.partials),
             static_cast<void*>(p.total));
  mvit::launch(block_reduce_sum_kernel, dim3(block_reduce_blocks(p.n)), dim3(kBlockReduceThreads),
               0, stream, p);
}

}  // namespace demo
}  // namespace mvit
