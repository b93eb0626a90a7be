// Kernels that exercise the emulator: primitives with known results, and known-bad kernels whose
// errors the emulator must report. Compiled in the emulated build only; the known-bad ones break
// the portable subset's rules on purpose.
#include <mma.h>

#include "kernels/common/launch.cuh"
#include "tests/emulator/test_kernels.h"

namespace mvit {
namespace emutest {

namespace {
constexpr unsigned kFull = 0xffffffffu;
}

__global__ void warp_ops_kernel(const int* in, int* out, int n) {
  const int t = threadIdx.x;
  const int v = in[t];
  out[0 * n + t] = __shfl_sync(kFull, v, 3);
  out[1 * n + t] = __shfl_up_sync(kFull, v, 1);
  out[2 * n + t] = __shfl_down_sync(kFull, v, 2);
  out[3 * n + t] = __shfl_xor_sync(kFull, v, 5);
  out[4 * n + t] = __shfl_down_sync(kFull, v, 1, 8);
  out[5 * n + t] = static_cast<int>(__ballot_sync(kFull, t % 2));
  out[6 * n + t] = __any_sync(kFull, (t % 32) == 7);
  out[7 * n + t] = __all_sync(kFull, t < n);
  out[8 * n + t] = __all_sync(kFull, t % 2);
}

void warp_ops(const int* in, int* out, int n, cudaStream_t stream) {
  mvit::launch(warp_ops_kernel, dim3(1), dim3(n), 0, stream, in, out, n);
}

__global__ void intrinsics_kernel(const float* in, float* out) {
  const float x = __ldg(&in[0]);                                    // 2.0
  const float nan = in[1];                                          // NaN
  out[0] = rsqrtf(x * 2.0f);                                        // 0.5
  out[1] = __expf(0.0f);                                            // 1
  out[2] = expf(1.0f);                                              // e
  out[3] = fmaf(x, 3.0f, 1.0f);                                     // 7
  out[4] = __fdividef(x, 8.0f);                                     // 0.25
  out[5] = __saturatef(1.5f);                                       // 1
  out[6] = __saturatef(-0.5f);                                      // 0
  out[7] = __saturatef(nan);                                        // 0 (NaN saturates to 0)
  out[8] = static_cast<float>(__popc(0xF0F0u));                     // 8
  out[9] = static_cast<float>(__clz(1));                            // 31
  out[10] = static_cast<float>(__ffs(0x50));                        // 5
  out[11] = static_cast<float>(__brev(1u) == 0x80000000u);          // 1
  out[12] = static_cast<float>(min(3, -4));                         // -4
  out[13] = static_cast<float>(max(3u, 4u));                        // 4
  out[14] = fminf(x, -1.0f);                                        // -1
  out[15] = max(x, 5.0f);                                           // 5
  out[16] = __int_as_float(0x3f800000);                             // 1
  out[17] = static_cast<float>(__float_as_uint(x) == 0x40000000u);  // 1
  out[18] = tanhf(0.0f) + sqrtf(16.0f);                             // 4
  out[19] = __half2float(__float2half(x) * __float2half(x));        // 4 (__half arithmetic)
}

void intrinsics(const float* in, float* out, cudaStream_t stream) {
  mvit::launch(intrinsics_kernel, dim3(1), dim3(1), 0, stream, in, out);
}

__global__ void barrier_reductions_kernel(const int* in, int* out) {
  const int pred = in[blockIdx.x * blockDim.x + threadIdx.x] != 0;
  const int count = __syncthreads_count(pred);
  const int all = __syncthreads_and(pred);
  const int any = __syncthreads_or(pred);
  if (threadIdx.x == 0) {
    out[3 * blockIdx.x + 0] = count;
    out[3 * blockIdx.x + 1] = all;
    out[3 * blockIdx.x + 2] = any;
  }
}

void barrier_reductions(const int* in, int* out, int blocks, int threads, cudaStream_t stream) {
  mvit::launch(barrier_reductions_kernel, dim3(blocks), dim3(threads), 0, stream, in, out);
}

__global__ void atomics_kernel(int* counters, float* fsum) {
  const int tid = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(&counters[0], 1);
  atomicAdd(fsum, 0.5f);
  atomicMax(&counters[1], tid);
  atomicMin(&counters[2], tid);
  if (atomicCAS(&counters[4], 0, 1) == 0) atomicAdd(&counters[3], 1);
}

void atomics(int* counters, float* fsum, int blocks, int threads, cudaStream_t stream) {
  mvit::launch(atomics_kernel, dim3(blocks), dim3(threads), 0, stream, counters, fsum);
}

__global__ void thread_indices_kernel(int* out) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int threads = blockDim.x * blockDim.y * blockDim.z;
  const int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  out[2 * (block * threads + t)] = threadIdx.x + 1000 * threadIdx.y + 1000000 * threadIdx.z;
  out[2 * (block * threads + t) + 1] = blockIdx.x + 1000 * blockIdx.y + 1000000 * blockIdx.z;
}

void thread_indices(int* out, dim3 grid, dim3 block, cudaStream_t stream) {
  mvit::launch(thread_indices_kernel, grid, block, 0, stream, out);
}

__global__ void shared_poison_kernel(int* out) {
  MVIT_SHARED(float, s, 256);
  out[threadIdx.x] = s[threadIdx.x] != s[threadIdx.x];  // NaN is the only value unequal to itself
  __syncthreads();
  s[threadIdx.x] = 1.0f;
}

void shared_poison(int* out, int threads, cudaStream_t stream) {
  mvit::launch(shared_poison_kernel, dim3(2), dim3(threads), 0, stream, out);
}

__global__ void shared_race_kernel(const float* in, float* out) {
  MVIT_SHARED(float, s, 256);
  const int t = threadIdx.x;
  s[t] = in[t];
  out[t] = t + 1 < static_cast<int>(blockDim.x) ? s[t + 1] : s[t];
}

void shared_race(const float* in, float* out, int threads, cudaStream_t stream) {
  mvit::launch(shared_race_kernel, dim3(1), dim3(threads), 0, stream, in, out);
}

__global__ void divergent_barrier_kernel(int split) {
  if (static_cast<int>(threadIdx.x) < split) __syncthreads();
}

void divergent_barrier(int threads, int split, cudaStream_t stream) {
  mvit::launch(divergent_barrier_kernel, dim3(1), dim3(threads), 0, stream, split);
}

__global__ void split_barriers_kernel() {
  if (threadIdx.x % 2) {
    __syncthreads();
  } else {
    __syncthreads();
  }
}

void split_barriers(int threads, cudaStream_t stream) {
  mvit::launch(split_barriers_kernel, dim3(1), dim3(threads), 0, stream);
}

__global__ void early_exit_barrier_kernel(int split) {
  if (static_cast<int>(threadIdx.x) >= split) return;
  __syncthreads();
}

void early_exit_barrier(int threads, int split, cudaStream_t stream) {
  mvit::launch(early_exit_barrier_kernel, dim3(1), dim3(threads), 0, stream, split);
}

__global__ void shuffle_with_mask_kernel(unsigned mask, int lane) {
  if (static_cast<int>(threadIdx.x) == lane) (void)__shfl_sync(mask, 1, 0);
}

void shuffle_with_mask(unsigned mask, int lane, int threads, cudaStream_t stream) {
  mvit::launch(shuffle_with_mask_kernel, dim3(1), dim3(threads), 0, stream, mask, lane);
}

__global__ void warp_block_deadlock_kernel() {
  if (threadIdx.x < 16) {
    (void)__shfl_sync(kFull, 1, 0);
  } else {
    __syncthreads();
  }
}

void warp_block_deadlock(cudaStream_t stream) {
  mvit::launch(warp_block_deadlock_kernel, dim3(1), dim3(32), 0, stream);
}

__global__ void exit_during_syncwarp_kernel() {
  if (threadIdx.x == 0) return;
  __syncwarp(kFull);
}

void exit_during_syncwarp(cudaStream_t stream) {
  mvit::launch(exit_during_syncwarp_kernel, dim3(1), dim3(32), 0, stream);
}

__global__ void dynamic_shared_kernel_impl(float* out, int count) {
  MVIT_DYNAMIC_SHARED(float, s);
  for (int i = threadIdx.x; i < count; i += blockDim.x) s[i] = static_cast<float>(i);
  __syncthreads();
  float sum = 0.0f;
  for (int i = threadIdx.x; i < count; i += blockDim.x) sum += s[count - 1 - i];
  out[threadIdx.x] = sum;
}

void dynamic_shared(float* out, size_t bytes, cudaStream_t stream) {
  mvit::launch(dynamic_shared_kernel_impl, dim3(1), dim3(64), bytes, stream, out,
               static_cast<int>(bytes / sizeof(float)));
}

const void* dynamic_shared_kernel() {
  return reinterpret_cast<const void*>(dynamic_shared_kernel_impl);
}

__global__ void too_much_static_shared_kernel(float* out) {
  MVIT_SHARED(float, big, 13 * 1024);  // 52 KiB
  big[threadIdx.x] = 1.0f;
  out[threadIdx.x] = big[threadIdx.x];
}

void too_much_static_shared(float* out, cudaStream_t stream) {
  mvit::launch(too_much_static_shared_kernel, dim3(1), dim3(32), 0, stream, out);
}

__global__ void empty_kernel_impl() {}

void empty_kernel(dim3 grid, dim3 block, cudaStream_t stream) {
  mvit::launch(empty_kernel_impl, grid, block, 0, stream);
}

const void* empty_kernel_address() {
  return reinterpret_cast<const void*>(empty_kernel_impl);
}

__global__ void scale_add_kernel(const float* x, float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = x[i] * 2.0f + 1.0f;
}

void scale_add(const float* x, float* y, int n, cudaStream_t stream) {
  mvit::launch(scale_add_kernel, dim3((n + 127) / 128), dim3(128), 0, stream, x, y, n);
}

__global__ void shared_out_of_bounds_kernel(float* out) {
  MVIT_SHARED(float, tile, 32, 32);
  // Through a flat pointer, so that only AddressSanitizer (not UBSan's array bounds) can see it:
  // thread 0 writes one row past the end of the tile.
  float* flat = &tile[0][0];
  flat[(threadIdx.x == 0 ? 32 * 32 : 0) + threadIdx.x] = 1.0f;
  out[threadIdx.x] = tile[0][threadIdx.x];
}

void shared_out_of_bounds(float* out, cudaStream_t stream) {
  mvit::launch(shared_out_of_bounds_kernel, dim3(1), dim3(32), 0, stream, out);
}

__global__ void global_out_of_bounds_kernel(float* out, int n) {
  out[threadIdx.x + blockIdx.x * blockDim.x] = static_cast<float>(n);  // no i < n guard
}

void global_out_of_bounds(float* out, int n, cudaStream_t stream) {
  mvit::launch(global_out_of_bounds_kernel, dim3(1), dim3(n + 1), 0, stream, out, n);
}

// ---- WMMA
// ----------------------------------------------------------------------------------------

namespace wmma = nvcuda::wmma;

template <class T, int K>
__global__ void wmma_tile_kernel(const T* a, const T* b, float* c) {
  using In =
      typename std::conditional<std::is_same<T, float>::value, wmma::precision::tf32, T>::type;
  wmma::fragment<wmma::matrix_a, 16, 16, K, In, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, K, In, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, K, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, a, K);
  wmma::load_matrix_sync(fb, b, K);  // b is [16 (n), K] row-major = [K, 16] column-major
  wmma::mma_sync(acc, fa, fb, acc);
  wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

void wmma_tile_half(const __half* a, const __half* b, float* c, cudaStream_t stream) {
  mvit::launch(wmma_tile_kernel<__half, 16>, dim3(1), dim3(32), 0, stream, a, b, c);
}

void wmma_tile_bf16(const void* a, const void* b, float* c, cudaStream_t stream) {
  mvit::launch(wmma_tile_kernel<__nv_bfloat16, 16>, dim3(1), dim3(32), 0, stream,
               static_cast<const __nv_bfloat16*>(a), static_cast<const __nv_bfloat16*>(b), c);
}

void wmma_tile_tf32(const float* a, const float* b, float* c, cudaStream_t stream) {
  mvit::launch(wmma_tile_kernel<float, 8>, dim3(1), dim3(32), 0, stream, a, b, c);
}

float float_to_tf32(float x) {
  return wmma::__float_to_tf32(x);
}

__global__ void wmma_layout_dependent_kernel(const __half* a, const __half* b, float* c) {
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::mma_sync(acc, fa, fb, acc);
  for (int i = 0; i < acc.num_elements; ++i) c[threadIdx.x * acc.num_elements + i] = acc.x[i];
}

void wmma_layout_dependent(const __half* a, const __half* b, float* c, cudaStream_t stream) {
  mvit::launch(wmma_layout_dependent_kernel, dim3(1), dim3(32), 0, stream, a, b, c);
}

}  // namespace emutest
}  // namespace mvit
