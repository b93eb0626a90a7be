// Launchers of the kernels that test kernels/common's device code (reduce.cuh, vector.cuh) and
// mvit::launch's error report. CUDA-free; device pointers come from cudaMalloc.
#pragma once

#include "kernels/common/dtype.h"
#include "mvit/stream.h"

namespace mvit {
namespace test {

// One block of `threads` (32, 64, 256 or 1024): out[t] = warp_reduce(x[t], Sum),
// out[threads + t] = warp_reduce(x[t], Max), out[2 threads + t] = block_reduce(x[t], Sum),
// out[3 threads + t] = block_reduce(x[t], Max), the two block reductions back to back on one
// scratch array (so a missing barrier between them would show).
void reductions(const float* x, float* out, int threads, Stream stream);

// y[i] = x[i] for i < n through load_floats / store_floats in packs of `pack` elements (1, 2, 4 or
// 8, at most 16 bytes of the wider type), converting from type `in` to `out` (round to nearest
// even). One thread per pack; n a multiple of `pack`. Either pointer may be misaligned: the
// helpers then take their scalar path.
void convert_through_packs(const void* x, DType in, void* y, DType out, int n, int pack,
                           Stream stream);

// Launches a kernel with a 2048-thread block (more than any GPU allows) and returns the line of
// that mvit::launch call in common_test_kernels.cu (the launch check throws before it returns,
// so the line is also written to *line first).
void launch_oversized_block(int* line, Stream stream);

// mvit::launch converts its arguments as a direct call does (Note [launch arguments convert as in
// a call], launch.cuh): a kernel taking (float scale, const LaunchBase*, const int* absent,
// float* out) launched with (3, a LaunchDerived*, NULL, out) writes base->value * 3 to out[0].
struct LaunchBase {
  float value;
};
struct LaunchDerived : LaunchBase {
  float extra;
};
void converting_launch(const LaunchDerived* derived, float* out, Stream stream);

}  // namespace test
}  // namespace mvit
