// Launchers for test_compat.cpp (compat_kernels.cu): the CUDA C++ that nvcc accepts and the
// emulated build had to learn (issue 12): atomicInc / atomicDec, atomicAdd on __nv_bfloat162,
// __trap(), and the runtime calls that take a kernel (cudaFuncSetAttribute, cudaFuncGetAttributes,
// the occupancy calculator). Each launcher runs on the legacy stream; pointers come from
// cudaMalloc.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace mvit {
namespace emutest {
namespace compat {

// blocks x threads threads each apply atomicInc(p, val) (inc) or atomicDec(p, val) (!inc) once
// and store the old value in olds[thread].
void inc_dec(bool inc, unsigned* p, unsigned val, unsigned* olds, int blocks, int threads);

// blocks x threads threads each atomicAdd (1, 0.5) to the __nv_bfloat162 at p (its bits).
void bf162_add(uint32_t* p, int blocks, int threads);

// Thread (5,0,0) of block (1,0,0) calls __trap() at the line kTrapLine; the others write out.
extern const int kTrapLine;
void trap(int* out);

// out[0..5] = min(m1, 1u), max(m1, 1u), min((long long)m1, 1ull), max((long long)m1, 1ull),
// min((long)m1, 1ul), max(0.5f, 0.25) * 4: CUDA's mixed overloads (pass m1 = -1).
void mixed_min_max(int m1, uint64_t* out);

// out[0] = v[0] + ... + v[n-1] folded by a __forceinline__ function passed by reference, out[1]
// the same passed by value, out[2] the max through a functor whose operator() is __forceinline__.
void forceinline_folds(const float* v, int n, float* out);

// The kernels the runtime calls below take: `plain` has no launch bounds, `bounded` has
// MVIT_LAUNCH_BOUNDS(256).
enum class Kernel : int { kPlain, kBounded };
cudaError_t func_set_max_dynamic_smem(Kernel k, int bytes);
cudaError_t func_get_attributes(Kernel k, cudaFuncAttributes* attr);
cudaError_t max_active_blocks(Kernel k, int* blocks, int block_size, size_t dynamic_smem);
cudaError_t max_potential_block_size(Kernel k, int* min_grid, int* block, size_t dynamic_smem,
                                     int block_size_limit);

}  // namespace compat
}  // namespace emutest
}  // namespace mvit
