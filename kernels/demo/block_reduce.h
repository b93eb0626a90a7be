// Demonstration kernel: the sum of a float array, by a block reduction (warp shuffles, then one
// shared-memory pass; kernels/common/reduce.cuh) and a cross-block atomicAdd. It exercises
// __syncthreads, __shfl_xor_sync, static shared memory and float atomics, in the emulator and on a
// GPU alike.
#pragma once

#include "mvit/stream.h"

namespace mvit {
namespace demo {

struct BlockReduceParams {
  const float* x;   // [n] device
  float* partials;  // [block_reduce_blocks(n)] device: each block's sum
  float* total;     // [1] device: accumulated into (the caller zeroes it first)
  int n;
};

// Blocks of this many threads; each block reduces this many elements.
constexpr int kBlockReduceThreads = 256;

inline int block_reduce_blocks(int n) {
  return (n + kBlockReduceThreads - 1) / kBlockReduceThreads;
}

// n > 0 and no null pointer. No side effects.
[[nodiscard]] bool block_reduce_supported(const BlockReduceParams& p);
// Throws mvit::Error naming the bad field when !block_reduce_supported(p).
void block_reduce_forward(const BlockReduceParams& p, Stream stream);

}  // namespace demo
}  // namespace mvit
