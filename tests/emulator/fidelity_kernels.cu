// Kernels for the fidelity tests (test_fidelity.cpp): each known-bad kernel breaks a rule a GPU
// or compute-sanitizer enforces, next to a correct control. Emulated build only.
#include <mma.h>

#include "kernels/common/launch.cuh"
#include "tests/emulator/fidelity_kernels.h"

namespace mvit {
namespace emutest {

// ---- block order ----

__global__ void chained_blocks_kernel(float* out) {
  const int b = blockIdx.x;
  out[b] = b == 0 ? 1.0f : out[b - 1] + 1.0f;  // races with block b - 1 of this launch
}

void chained_blocks(float* out, int blocks, cudaStream_t stream) {
  mvit::launch(chained_blocks_kernel, dim3(blocks), dim3(1), 0, stream, out);
}

__global__ void own_block_kernel(float* out) {
  out[blockIdx.x] = static_cast<float>(blockIdx.x + 1);
}

__global__ void neighbour_kernel(const float* out, float* next) {
  const int b = blockIdx.x;
  next[b] = b == 0 ? 0.0f : out[b - 1];  // written by the previous launch: ordered
}

void independent_blocks(float* out, float* next, int blocks, cudaStream_t stream) {
  mvit::launch(own_block_kernel, dim3(blocks), dim3(1), 0, stream, out);
  mvit::launch(neighbour_kernel, dim3(blocks), dim3(1), 0, stream, out, next);
}

__global__ void record_block_order_kernel(int* order, int* count) {
  if (threadIdx.x == 0) order[atomicAdd(count, 1)] = blockIdx.x;
}

void record_block_order(int* order, int* count, int blocks, cudaStream_t stream) {
  mvit::launch(record_block_order_kernel, dim3(blocks), dim3(32), 0, stream, order, count);
}

// ---- shared-memory alignment ----

struct alignas(32) HalfTile {
  __half v[16 * 16];
};

__global__ void wmma_from_shared_kernel(const __half* a, const __half* b, float* c) {
  using namespace nvcuda;
  MVIT_SHARED(HalfTile, ta, 1);
  MVIT_SHARED(HalfTile, tb, 1);
  for (int i = threadIdx.x; i < 256; i += 32) {
    ta[0].v[i] = a[i];
    tb[0].v[i] = b[i];
  }
  __syncwarp();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, ta[0].v, 16);
  wmma::load_matrix_sync(fb, tb[0].v, 16);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

void wmma_from_shared(const __half* a, const __half* b, float* c, cudaStream_t stream) {
  mvit::launch(wmma_from_shared_kernel, dim3(1), dim3(32), 0, stream, a, b, c);
}

struct alignas(64) Wide {
  float v[16];
};

__global__ void shared_addresses_kernel(int* out) {
  MVIT_SHARED(Wide, wide, 2);
  MVIT_SHARED(float, plain, 8);
  MVIT_DYNAMIC_SHARED(float, dyn);
  out[0] = static_cast<int>(reinterpret_cast<uintptr_t>(&wide[0]) % 256);
  out[1] = static_cast<int>(reinterpret_cast<uintptr_t>(&plain[0]) % 256);
  out[2] = static_cast<int>(reinterpret_cast<uintptr_t>(dyn) % 256);
}

void shared_addresses(int* out, cudaStream_t stream) {
  mvit::launch(shared_addresses_kernel, dim3(1), dim3(1), 64, stream, out);
}

__global__ void wmma_from_dynamic_base_kernel(const __half* a, float* c) {
  using namespace nvcuda;
  MVIT_DYNAMIC_SHARED(__half, tile);
  for (int i = threadIdx.x; i < 256; i += 32) tile[i] = a[i];
  __syncwarp();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, tile, 16);
  wmma::load_matrix_sync(fb, tile, 16);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

void wmma_from_dynamic_base(const __half* a, float* c, cudaStream_t stream) {
  mvit::launch(wmma_from_dynamic_base_kernel, dim3(1), dim3(32), 256 * sizeof(__half), stream, a,
               c);
}

// ---- shared-memory limits ----

__global__ void static_plus_dynamic_kernel_(float* out) {
  MVIT_SHARED(float, fixed, 4096);  // 16 KiB
  MVIT_DYNAMIC_SHARED(float, dyn);
  fixed[threadIdx.x] = 1.0f;
  dyn[threadIdx.x] = 2.0f;
  __syncthreads();
  out[threadIdx.x] = fixed[threadIdx.x] + dyn[threadIdx.x];
}

void static_plus_dynamic(float* out, size_t dynamic, cudaStream_t stream) {
  mvit::launch(static_plus_dynamic_kernel_, dim3(1), dim3(32), dynamic, stream, out);
}

const void* static_plus_dynamic_kernel() {
  return reinterpret_cast<const void*>(&static_plus_dynamic_kernel_);
}

__global__ void unreached_static_kernel(float* out, int flag) {
  MVIT_DYNAMIC_SHARED(float, dyn);
  dyn[threadIdx.x] = 2.0f;
  if (flag != 0) {
    MVIT_SHARED(float, rarely, 4096);  // 16 KiB, counted whether or not a block gets here
    rarely[threadIdx.x] = 1.0f;
    dyn[threadIdx.x] += rarely[threadIdx.x];
  }
  out[threadIdx.x] = dyn[threadIdx.x];
}

void unreached_static(float* out, int flag, size_t dynamic, cudaStream_t stream) {
  mvit::launch(unreached_static_kernel, dim3(1), dim3(32), dynamic, stream, out, flag);
}

__device__ float helper_with_shared(float v) {
  MVIT_SHARED(float, helper_tile, 4096);  // 16 KiB, declared outside the kernel's body
  helper_tile[threadIdx.x] = v;
  return helper_tile[threadIdx.x];
}

__global__ void helper_static_kernel(float* out) {
  MVIT_DYNAMIC_SHARED(float, dyn);
  dyn[threadIdx.x] = 2.0f;
  out[threadIdx.x] = helper_with_shared(dyn[threadIdx.x]);
}

void helper_static(float* out, size_t dynamic, cudaStream_t stream) {
  mvit::launch(helper_static_kernel, dim3(1), dim3(32), dynamic, stream, out);
}

// ---- stacks ----

__global__ void big_local_array_kernel(const int* in, int* out) {
  volatile int local[kLocalWords];  // volatile: the array stays on the thread's stack
  for (int i = 0; i < kLocalWords; ++i) local[i] = in[0] + i;
  int sum = 0;
  for (int i = 0; i < kLocalWords; ++i) sum += local[i];
  out[threadIdx.x] = sum;
}

void big_local_array(const int* in, int* out, int threads, cudaStream_t stream) {
  mvit::launch(big_local_array_kernel, dim3(1), dim3(threads), 0, stream, in, out);
}

// ---- poison ----

__device__ float relu6(float v) {
  return fminf(fmaxf(v, 0.0f), 6.0f);
}

__global__ void clamp6_kernel(const float* in, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = relu6(in[i]);
}

void clamp6(const float* in, float* out, int n, cudaStream_t stream) {
  mvit::launch(clamp6_kernel, dim3((n + 127) / 128), dim3(128), 0, stream, in, out, n);
}

__global__ void clamp6_unwritten_shared_kernel(float* out) {
  MVIT_SHARED(float, s, 256);
  out[threadIdx.x] = relu6(s[threadIdx.x]);  // never written
}

void clamp6_unwritten_shared(float* out, int n, cudaStream_t stream) {
  mvit::launch(clamp6_unwritten_shared_kernel, dim3(1), dim3(n), 0, stream, out);
}

__global__ void clamp6_written_shared_kernel(const float* in, float* out) {
  MVIT_SHARED(float, s, 256);
  s[threadIdx.x] = in[threadIdx.x];
  __syncthreads();
  out[threadIdx.x] = relu6(s[threadIdx.x]);
}

void clamp6_written_shared(const float* in, float* out, int n, cudaStream_t stream) {
  mvit::launch(clamp6_written_shared_kernel, dim3(1), dim3(n), 0, stream, in, out);
}

}  // namespace emutest
}  // namespace mvit
