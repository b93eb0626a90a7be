// The control for the must-not-compile tests: the portable spelling of the same kernel compiles
// with the very same command line.
#include "kernels/common/launch.cuh"

__global__ void portable_shared_kernel(float* out) {
  MVIT_SHARED(float, tile, 32);
  tile[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = tile[31 - threadIdx.x];
}

void launch(float* out) { mvit::launch(portable_shared_kernel, dim3(1), dim3(32), 0, nullptr, out); }
