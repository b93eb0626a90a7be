// Launchers for the emulator's test kernels (emulator_test_kernels.cu). Each runs one kernel on
// `stream` through mvit::launch; device pointers come from cudaMalloc.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

namespace mvit {
namespace emutest {

// out[k * n + t] for thread t of a single n-thread block, k = 0..kWarpOpResults-1: the results of
// __shfl_sync(src = 3), __shfl_up_sync(delta 1), __shfl_down_sync(delta 2), __shfl_xor_sync(5),
// each with width 32, then __shfl_down_sync(delta 1, width 8), __ballot_sync(t odd),
// __any_sync(t == 7), __all_sync(t < n), __all_sync(t odd); the shuffled value is in[t].
constexpr int kWarpOpResults = 9;
void warp_ops(const int* in, int* out, int n, cudaStream_t stream);

// The math and bit intrinsics of the portable subset, each applied to fixed inputs; out[i] is
// the i-th result (see intrinsics_kernel for the list). Single thread.
constexpr int kIntrinsicResults = 20;
void intrinsics(const float* in, float* out, cudaStream_t stream);

// out[3 * b + {0,1,2}] = __syncthreads_count/_and/_or(pred) per block b, pred = in[thread] != 0.
void barrier_reductions(const int* in, int* out, int blocks, int threads, cudaStream_t stream);

// Every thread of `blocks` x `threads` adds: counters[0] += 1 (atomicAdd int), fsum += 0.5f
// (atomicAdd float), counters[1] = max(tid), counters[2] = min(tid) (atomicMax/Min), and
// counters[3] counts successful atomicCAS(0 -> 1) claims of slot counters[4] (exactly one wins).
void atomics(int* counters, float* fsum, int blocks, int threads, cudaStream_t stream);

// A 3-D block: out[linear] = x + 1000 y + 1000000 z of threadIdx, plus blockIdx encodings.
void thread_indices(int* out, dim3 grid, dim3 block, cudaStream_t stream);

// Reads every element of `out`'s fresh shared array before writing it: out[t] = isnan(s[t]).
void shared_poison(int* out, int threads, cudaStream_t stream);

// Known-bad: s[t] = in[t], NO barrier, out[t] = s[t + 1] (last thread: s[t]). Correct only if
// thread t + 1 happens to run before thread t (reverse order); forward order reads NaN.
void shared_race(const float* in, float* out, int threads, cudaStream_t stream);

// Known-bad: if (threadIdx.x < split) __syncthreads(); (a divergent barrier).
void divergent_barrier(int threads, int split, cudaStream_t stream);
// Known-bad: odd threads wait at one __syncthreads, even threads at another.
void split_barriers(int threads, cudaStream_t stream);
// Known-bad: threads >= split return early; the rest then reach __syncthreads.
void early_exit_barrier(int threads, int split, cudaStream_t stream);
// Known-bad: lane `lane` calls __shfl_sync with `mask` (which may omit it or name absent lanes).
void shuffle_with_mask(unsigned mask, int lane, int threads, cudaStream_t stream);
// Known-bad: lanes 0..15 wait in __shfl_sync(full mask) while lanes 16..31 wait in __syncthreads.
void warp_block_deadlock(cudaStream_t stream);
// Known-bad: lane 0 exits while the other lanes wait for it in __syncwarp(full mask).
void exit_during_syncwarp(cudaStream_t stream);

// Uses `bytes` of dynamic shared memory (writes then reads every float).
void dynamic_shared(float* out, size_t bytes, cudaStream_t stream);
const void* dynamic_shared_kernel();
// Declares 52 KB of static shared memory (over the 48 KiB limit; nvcc would refuse it).
void too_much_static_shared(float* out, cudaStream_t stream);
// Launches a trivial kernel with the given geometry.
void empty_kernel(dim3 grid, dim3 block, cudaStream_t stream);
const void* empty_kernel_address();

// y[i] = x[i] * 2 + 1 for i < n (a small elementwise kernel for stream and graph tests).
void scale_add(const float* x, float* y, int n, cudaStream_t stream);

// Known-bad (ASan): writes one row past a [32][32] shared tile / one element past `out[n]`.
void shared_out_of_bounds(float* out, cudaStream_t stream);
void global_out_of_bounds(float* out, int n, cudaStream_t stream);

// WMMA: C[16 x 16] = A[16 x K] * B[K x 16] for one warp; half, bf16 (K = 16) or tf32 (K = 8).
void wmma_tile_half(const __half* a, const __half* b, float* c, cudaStream_t stream);
void wmma_tile_bf16(const void* a, const void* b, float* c, cudaStream_t stream);
void wmma_tile_tf32(const float* a, const float* b, float* c, cudaStream_t stream);
// nvcuda::wmma::__float_to_tf32 (a device function) evaluated on the emulator.
float float_to_tf32(float x);
// Known-bad: computes the half tile but stores acc.x[i] to c[lane * 8 + i], assuming a layout.
void wmma_layout_dependent(const __half* a, const __half* b, float* c, cudaStream_t stream);

}  // namespace emutest
}  // namespace mvit
