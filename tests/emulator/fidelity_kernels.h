// Launchers for the fidelity tests' kernels (fidelity_kernels.cu): pairs of a kernel a GPU or
// compute-sanitizer rejects and a correct control. Device pointers come from cudaMalloc.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstddef>

namespace mvit {
namespace emutest {

// Known-bad (cross-block race): block b writes out[b] = out[b - 1] + 1 (block 0 writes 1), read
// in the same launch; only ascending block order makes out[b] == b + 1. One thread per block.
void chained_blocks(float* out, int blocks, cudaStream_t stream);
// Control: out[b] = b + 1 per block; then a second launch reads the neighbour: next[b] = out[b-1].
void independent_blocks(float* out, float* next, int blocks, cudaStream_t stream);
// Each block's thread 0 appends blockIdx.x to order[atomicAdd(count, 1)].
void record_block_order(int* order, int* count, int blocks, cudaStream_t stream);

// WMMA (half in, fp32 out) on a 16 x 16 x 16 tile staged in shared memory: A and B are copied to
// alignas(32) MVIT_SHARED tiles and loaded from there (WMMA needs 32-byte aligned pointers).
void wmma_from_shared(const __half* a, const __half* b, float* c, cudaStream_t stream);
// out[0..2]: the address modulo 256 of an alignas(64) MVIT_SHARED array, of a plain float one,
// and of the dynamic shared memory base (launched with 64 bytes of it).
void shared_addresses(int* out, cudaStream_t stream);
// Known-bad: a WMMA load from dynamic shared memory at its base, which a GPU guarantees only
// 16-byte alignment for.
void wmma_from_dynamic_base(const __half* a, float* c, cudaStream_t stream);

// 16 KiB of static shared memory (a [4096] float array) plus `dynamic` bytes of dynamic.
void static_plus_dynamic(float* out, size_t dynamic, cudaStream_t stream);
const void* static_plus_dynamic_kernel();
// 16 KiB static in a branch no block takes (flag == 0): still counted, as on a GPU.
void unreached_static(float* out, int flag, size_t dynamic, cudaStream_t stream);
// 16 KiB static declared in a __device__ helper (only learned when a block touches it).
void helper_static(float* out, size_t dynamic, cudaStream_t stream);

// A per-thread local array of `kLocalWords` ints (78 KiB): out[t] = sum of in[0] + i over it.
constexpr int kLocalWords = 78 * 1024 / 4;
void big_local_array(const int* in, int* out, int threads, cudaStream_t stream);

// out[i] = fminf(fmaxf(in[i], 0), 6) (a ReLU6): reads whatever `in` holds.
void clamp6(const float* in, float* out, int n, cudaStream_t stream);
// Known-bad: the same clamp over a fresh shared array nobody wrote; one block of n threads.
void clamp6_unwritten_shared(float* out, int n, cudaStream_t stream);
// Control: writes the shared array from `in` (and a barrier) before clamping it.
void clamp6_written_shared(const float* in, float* out, int n, cudaStream_t stream);

}  // namespace emutest
}  // namespace mvit
