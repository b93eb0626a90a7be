// Sum of x[0..n): each block of 256 threads reduces 256 elements with block_reduce
// (kernels/common/reduce.cuh: shuffles within each warp, the 8 warp sums through shared memory)
// and writes its partial; thread 0 of each block also adds the partial to *total with atomicAdd
// (the order across blocks is nondeterministic, as on a GPU). Accumulation in fp32.
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"
#include "kernels/demo/block_reduce.h"

#include <string>

namespace mvit {
namespace demo {

// MVIT_LAUNCH_BOUNDS takes a literal (the resource report reads it): the launcher's block.
static_assert(kBlockReduceThreads == 256, "MVIT_LAUNCH_BOUNDS(256) below is the launch block");

__global__ void MVIT_LAUNCH_BOUNDS(256) block_reduce_sum_kernel(BlockReduceParams p) {
  MVIT_SHARED(float, scratch, kBlockReduceThreads / kWarpSize);
  const int i = blockIdx.x * kBlockReduceThreads + threadIdx.x;
  const float v = block_reduce<kBlockReduceThreads>(i < p.n ? p.x[i] : 0.0f, SumOp(), scratch);
  if (threadIdx.x == 0) {
    p.partials[blockIdx.x] = v;
    atomicAdd(p.total, v);
  }
}

namespace {

std::string unsupported_reason(const BlockReduceParams& p) {
  if (p.n <= 0) return detail::format("n must be positive, got %d", p.n);
  if (p.x == nullptr || p.partials == nullptr || p.total == nullptr) {
    return detail::format("null pointer (x %p, partials %p, total %p)",
                          static_cast<const void*>(p.x), static_cast<void*>(p.partials),
                          static_cast<void*>(p.total));
  }
  return std::string();
}

}  // namespace

bool block_reduce_supported(const BlockReduceParams& p) {
  return unsupported_reason(p).empty();
}

void block_reduce_forward(const BlockReduceParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "block_reduce: %s", why.c_str());
  mvit::launch(block_reduce_sum_kernel, dim3(block_reduce_blocks(p.n)), dim3(kBlockReduceThreads),
               0, stream, p);
}

}  // namespace demo
}  // namespace mvit
