// Kernels for test_compat.cpp (contracts in compat_kernels.h). Valid CUDA: nvcc accepts each.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "kernels/common/launch.cuh"
#include "tests/emulator/compat_kernels.h"

namespace mvit {
namespace emutest {
namespace compat {

__global__ void inc_dec_kernel(bool inc, unsigned* p, unsigned val, unsigned* olds) {
  const unsigned t = blockIdx.x * blockDim.x + threadIdx.x;
  olds[t] = inc ? atomicInc(p, val) : atomicDec(p, val);
}

void inc_dec(bool inc, unsigned* p, unsigned val, unsigned* olds, int blocks, int threads) {
  mvit::launch(inc_dec_kernel, blocks, threads, 0, nullptr, inc, p, val, olds);
}

__global__ void bf162_add_kernel(__nv_bfloat162* p) {
  atomicAdd(p, __halves2bfloat162(__float2bfloat16(1.0f), __float2bfloat16(0.5f)));
}

void bf162_add(uint32_t* p, int blocks, int threads) {
  mvit::launch(bf162_add_kernel, blocks, threads, 0, nullptr, reinterpret_cast<__nv_bfloat162*>(p));
}

const int kTrapLine = __LINE__ + 3;
__global__ void trap_kernel(int* out) {
  if (blockIdx.x == 1 && threadIdx.x == 5) {
    __trap();
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1;
}

void trap(int* out) {
  mvit::launch(trap_kernel, 2, 32, 0, nullptr, out);
}

__global__ void mixed_min_max_kernel(int m1, uint64_t* out) {
  out[0] = min(m1, 1u);
  out[1] = max(m1, 1u);
  out[2] = min(static_cast<long long>(m1), 1ull);
  out[3] = max(static_cast<long long>(m1), 1ull);
  out[4] = min(static_cast<long>(m1), 1ul);
  out[5] = static_cast<uint64_t>(max(0.5f, 0.25) * 4);
}

void mixed_min_max(int m1, uint64_t* out) {
  mvit::launch(mixed_min_max_kernel, 1, 1, 0, nullptr, m1, out);
}

// Issue 12, item 3: __forceinline__ functions handed to generic code by reference, by value and
// as a functor; g++ -O1 (the sanitizer build) rejected these under the toolkit's always_inline.
__device__ __forceinline__ float add_op(float a, float b) {
  return a + b;
}
struct MaxFunctor {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
template <class Op>
__device__ float fold_by_reference(const Op& op, const float* v, int n) {
  float acc = v[0];
  for (int i = 1; i < n; ++i) acc = op(acc, v[i]);
  return acc;
}
template <class Op>
__device__ float fold_by_value(Op op, const float* v, int n) {
  float acc = v[0];
  for (int i = 1; i < n; ++i) acc = op(acc, v[i]);
  return acc;
}

__global__ void forceinline_kernel(const float* v, int n, float* out) {
  out[0] = fold_by_reference(add_op, v, n);
  out[1] = fold_by_value(add_op, v, n);
  out[2] = fold_by_reference(MaxFunctor(), v, n);
}

void forceinline_folds(const float* v, int n, float* out) {
  mvit::launch(forceinline_kernel, 1, 1, 0, nullptr, v, n, out);
}

__global__ void plain_kernel(float* out) {
  MVIT_DYNAMIC_SHARED(float, dyn);
  dyn[threadIdx.x] = 1.0f;
  out[threadIdx.x] = dyn[threadIdx.x];
}

__global__ void MVIT_LAUNCH_BOUNDS(256) bounded_kernel(float* out) {
  out[threadIdx.x] = 2.0f;
}

// The overloads of cuda_runtime.h that take the kernel itself (issue 12, item 2).
cudaError_t func_set_max_dynamic_smem(Kernel k, int bytes) {
  return k == Kernel::kPlain
             ? cudaFuncSetAttribute(plain_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    bytes)
             : cudaFuncSetAttribute(bounded_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    bytes);
}

cudaError_t func_get_attributes(Kernel k, cudaFuncAttributes* attr) {
  return k == Kernel::kPlain ? cudaFuncGetAttributes(attr, plain_kernel)
                             : cudaFuncGetAttributes(attr, bounded_kernel);
}

cudaError_t max_active_blocks(Kernel k, int* blocks, int block_size, size_t dynamic_smem) {
  return k == Kernel::kPlain ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(
                                   blocks, plain_kernel, block_size, dynamic_smem)
                             : cudaOccupancyMaxActiveBlocksPerMultiprocessor(
                                   blocks, bounded_kernel, block_size, dynamic_smem);
}

cudaError_t max_potential_block_size(Kernel k, int* min_grid, int* block, size_t dynamic_smem,
                                     int block_size_limit) {
  return k == Kernel::kPlain ? cudaOccupancyMaxPotentialBlockSize(min_grid, block, plain_kernel,
                                                                  dynamic_smem, block_size_limit)
                             : cudaOccupancyMaxPotentialBlockSize(min_grid, block, bounded_kernel,
                                                                  dynamic_smem, block_size_limit);
}

}  // namespace compat
}  // namespace emutest
}  // namespace mvit
