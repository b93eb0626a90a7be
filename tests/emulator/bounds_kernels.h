// Launchers for the kernels of test_bounds.cpp (bounds_kernels.cu): pointer arguments, launch
// bounds, out-of-bounds and misaligned accesses for the sanitizer reports, and WMMA misuse.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

namespace mvit {
namespace emutest {

// out[t] = t for each thread t of one block of `threads`.
void write_index(int* out, int threads, cudaStream_t stream);
// One thread: *out = sum of [begin, end) (end may be one past an allocation's end).
void range_sum(const int* begin, const int* end, int* out, cudaStream_t stream);
// One thread: *out = maybe ? *maybe : -1 (maybe may be null).
void optional_read(const int* maybe, int* out, cudaStream_t stream);

// Kernels declared with MVIT_LAUNCH_BOUNDS(128), (64, 2) and, as a template, (96); each writes
// out[linear thread index] = 1 for a single block of shape `block`.
void bounded_128(int* out, dim3 block, cudaStream_t stream);
void bounded_64_2(int* out, dim3 block, cudaStream_t stream);
void bounded_template_96(int* out, dim3 block, cudaStream_t stream);

// Two blocks of 32: out[i] = in[i + 1] for i < 64 - 1 + `overrun`, so with overrun = 1 thread
// (31,0,0) of block (1,0,0) reads in[64], one past a 64-element allocation.
void shifted_copy(const float* in, float* out, int overrun, cudaStream_t stream);
// One block of 32 threads, one MVIT_SHARED float[32]; thread `bad_thread` (if >= 0) writes s[32].
void shared_overrun(float* out, int bad_thread, cudaStream_t stream);
// One block of 32: thread t loads a float4 from in + 4 t + (t == bad_thread ? 1 : 0), a misaligned
// address for bad_thread; out[t] = the sum of its four floats. in holds 4 * 32 + 4 floats.
void vector_load(const float* in, float* out, int bad_thread, cudaStream_t stream);

// One warp loads a 16x16 fp16 tile from a (ldm 16) and stores it as fp32 to c, but lane
// `odd_lane` (if >= 0) passes a + 16 to load_matrix_sync (aligned, yet not the warp's pointer).
void wmma_copy_tile(const __half* a, float* c, int odd_lane, cudaStream_t stream);
// One warp: lanes < 16 load a matrix_a fragment while lanes >= 16 load a matrix_b fragment, then
// the whole warp multiplies them into c (16x16).
void wmma_mixed_loads(const __half* a, float* c, cudaStream_t stream);
// One warp: `iterations` mma_sync on fragments filled with 1, then stores; c[0] = iterations * 16.
void wmma_mma_loop(float* c, int iterations, cudaStream_t stream);

}  // namespace emutest
}  // namespace mvit
