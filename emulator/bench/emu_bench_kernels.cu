// Kernels for emu-bench: a block that does nothing but `iterations` barriers, and one whose
// warps do nothing but `iterations` shuffle steps.
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

}  // namespace bench
}  // namespace mvit
