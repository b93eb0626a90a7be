// Warp and block reductions in fp32, written once for every kernel family.
//
//   float s = warp_reduce(v, SumOp());                       // every lane of the warp gets the sum
//   MVIT_SHARED(float, scratch, kThreads / 32);
//   float m = block_reduce<kThreads>(v, MaxOp(), scratch);    // every thread of the block gets it
//
// warp_reduce is a butterfly (__shfl_xor_sync over offsets 16, 8, 4, 2, 1): the whole warp must
// be present and call it together (full mask), and every lane ends with the same value. The order
// of the additions is fixed, so a sum is bitwise the same in every lane and every run.
//
// block_reduce reduces within each warp, passes the warp results through `scratch` (one float per
// warp, shared memory the caller declares), and reduces those again in every warp, so no second
// broadcast is needed. It contains two __syncthreads, so every thread of the block must call it
// (block-uniform control flow), and `scratch` may be reused by the next call straight away.
// Device-only (included from .cu files).
#pragma once

namespace mvit {

constexpr unsigned kFullWarpMask = 0xffffffffu;
constexpr int kWarpSize = 32;

struct SumOp {
  __host__ __device__ static constexpr float identity() { return 0.0f; }
  __device__ float operator()(float a, float b) const { return a + b; }
};

// fmaxf ignores a NaN operand: a reduction over data that may hold NaN must check for it
// separately (the kernels' inputs come from the previous layer, whose NaN the tests catch).
struct MaxOp {
  __host__ __device__ static constexpr float identity() { return -3.402823466e38f; }  // -FLT_MAX
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

template <class Op>
__device__ float warp_reduce(float v, Op op) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    v = op(v, __shfl_xor_sync(kFullWarpMask, v, offset));
  }
  return v;
}

// kThreads: the block size, a multiple of 32 up to 1024. scratch: [kThreads / 32] shared floats.
template <int kThreads, class Op>
__device__ float block_reduce(float v, Op op, float* scratch) {
  static_assert(kThreads % kWarpSize == 0 && kThreads >= kWarpSize && kThreads <= 1024,
                "block_reduce: kThreads must be a multiple of 32 in [32, 1024]");
  constexpr int kWarps = kThreads / kWarpSize;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  v = warp_reduce(v, op);
  if (kWarps == 1) return v;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  // Every warp reduces the kWarps partials (padded with the identity to a full warp), so every
  // thread ends with the result without another pass through shared memory.
  v = warp_reduce(lane < kWarps ? scratch[lane] : Op::identity(), op);
  __syncthreads();  // scratch is free for the next call once every warp has read it
  return v;
}

}  // namespace mvit
