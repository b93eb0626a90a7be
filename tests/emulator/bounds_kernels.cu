// Kernels for test_bounds.cpp (declarations and contracts in bounds_kernels.h).
#include <mma.h>

#include "kernels/common/launch.cuh"
#include "tests/emulator/bounds_kernels.h"

namespace mvit {
namespace emutest {

__global__ void write_index_kernel(int* out) {
  out[threadIdx.x] = static_cast<int>(threadIdx.x);
}

__global__ void range_sum_kernel(const int* begin, const int* end, int* out) {
  int sum = 0;
  for (const int* p = begin; p < end; ++p) sum += *p;
  *out = sum;
}

__global__ void optional_read_kernel(const int* maybe, int* out) {
  *out = maybe != nullptr ? *maybe : -1;
}

void write_index(int* out, int threads, cudaStream_t stream) {
  mvit::launch(write_index_kernel, dim3(1), dim3(threads), 0, stream, out);
}

void range_sum(const int* begin, const int* end, int* out, cudaStream_t stream) {
  mvit::launch(range_sum_kernel, dim3(1), dim3(1), 0, stream, begin, end, out);
}

void optional_read(const int* maybe, int* out, cudaStream_t stream) {
  mvit::launch(optional_read_kernel, dim3(1), dim3(1), 0, stream, maybe, out);
}

namespace {
__device__ inline unsigned linear_thread() {
  return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
}
}  // namespace

__global__ void MVIT_LAUNCH_BOUNDS(128) bounded_128_kernel(int* out) {
  out[linear_thread()] = 1;
}

__global__ void MVIT_LAUNCH_BOUNDS(64, 2) bounded_64_2_kernel(int* out) {
  out[linear_thread()] = 1;
}

template <int kUnused>
__global__ void MVIT_LAUNCH_BOUNDS(96) bounded_template_kernel(int* out) {
  out[linear_thread()] = 1 + kUnused;
}

void bounded_128(int* out, dim3 block, cudaStream_t stream) {
  mvit::launch(bounded_128_kernel, dim3(1), block, 0, stream, out);
}

void bounded_64_2(int* out, dim3 block, cudaStream_t stream) {
  mvit::launch(bounded_64_2_kernel, dim3(1), block, 0, stream, out);
}

void bounded_template_96(int* out, dim3 block, cudaStream_t stream) {
  mvit::launch(bounded_template_kernel<0>, dim3(1), block, 0, stream, out);
}

__global__ void shifted_copy_kernel(const float* in, float* out, int overrun) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < 64 - 1 + overrun) out[i] = in[i + 1];
}

// The bad index comes in as an argument, so that the compiler cannot see the overrun.
__global__ void shared_overrun_kernel(float* out, int bad_thread, int bad_index) {
  MVIT_SHARED(float, s, 32);
  const int t = static_cast<int>(threadIdx.x);
  s[t == bad_thread ? bad_index : t] = 1.0f;
  __syncthreads();
  out[t] = t == bad_thread ? 0.0f : s[t];
}

__global__ void vector_load_kernel(const float* in, float* out, int bad_thread) {
  const int t = static_cast<int>(threadIdx.x);
  const float4 v = *reinterpret_cast<const float4*>(in + 4 * t + (t == bad_thread ? 1 : 0));
  out[t] = v.x + v.y + v.z + v.w;
}

void shifted_copy(const float* in, float* out, int overrun, cudaStream_t stream) {
  mvit::launch(shifted_copy_kernel, dim3(2), dim3(32), 0, stream, in, out, overrun);
}

void shared_overrun(float* out, int bad_thread, cudaStream_t stream) {
  mvit::launch(shared_overrun_kernel, dim3(1), dim3(32), 0, stream, out, bad_thread, 32);
}

void vector_load(const float* in, float* out, int bad_thread, cudaStream_t stream) {
  mvit::launch(vector_load_kernel, dim3(1), dim3(32), 0, stream, in, out, bad_thread);
}

namespace wmma = nvcuda::wmma;

__global__ void wmma_copy_tile_kernel(const __half* a, float* c, int odd_lane) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> identity;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  const bool odd = static_cast<int>(threadIdx.x) == odd_lane;
  wmma::load_matrix_sync(fa, odd ? a + 16 : a, 16);
  // c = a * I: the identity tile follows a's 16x16 tile in memory.
  wmma::load_matrix_sync(identity, a + 256, 16);
  wmma::fill_fragment(acc, 0.0f);
  wmma::mma_sync(acc, fa, identity, acc);
  wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

__global__ void wmma_mixed_loads_kernel(const __half* a, float* c) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  if (threadIdx.x < 16) {
    wmma::load_matrix_sync(fa, a, 16);
  } else {
    wmma::load_matrix_sync(fb, a, 16);
  }
  wmma::fill_fragment(acc, 0.0f);
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

__global__ void wmma_mma_loop_kernel(float* c, int iterations) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(fa, __float2half(1.0f));
  wmma::fill_fragment(fb, __float2half(1.0f));
  wmma::fill_fragment(acc, 0.0f);
  for (int i = 0; i < iterations; ++i) wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

void wmma_copy_tile(const __half* a, float* c, int odd_lane, cudaStream_t stream) {
  mvit::launch(wmma_copy_tile_kernel, dim3(1), dim3(32), 0, stream, a, c, odd_lane);
}

void wmma_mixed_loads(const __half* a, float* c, cudaStream_t stream) {
  mvit::launch(wmma_mixed_loads_kernel, dim3(1), dim3(32), 0, stream, a, c);
}

void wmma_mma_loop(float* c, int iterations, cudaStream_t stream) {
  mvit::launch(wmma_mma_loop_kernel, dim3(1), dim3(32), 0, stream, c, iterations);
}

}  // namespace emutest
}  // namespace mvit
