// Launchers for the kernels of test_intrinsics.cpp (intrinsics_kernels.cu): the approximate and
// IEEE-exact float intrinsics, half and bfloat16 math, shuffles and atomics of the 16-bit types,
// warp match/reduce, the asynchronous copies of cuda_pipeline.h, and misused warp intrinsics
// whose reports must name the source line. 16-bit values travel as their bits (uint16_t).
// Each launcher runs one kernel on the legacy stream; pointers come from cudaMalloc.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace mvit {
namespace emutest {
namespace intrin {

// out[i] = fn(x[i]) or fn(x[i], y[i]), n threads (read with __ldg and __ldcs, written with
// __stcs).
enum class FloatFn : int {
  kExpf,
  kExp10f,
  kLogf,
  kLog2f,
  kLog10f,
  kSinf,
  kCosf,
  kTanf,
  kSincosfSin,
  kPowf,
  kTanhf,
  kFdividef,
  kRsqrtf,
  kFrsqrtRn,
  kFdivRn,
  kFrcpRn,
  kFsqrtRn
};
void float_fn(FloatFn fn, const float* x, const float* y, float* out, int n);

// out[4 i + {0,1,2,3}] = __float2int_rn, _rz, _rd, _ru of x[i]; n threads.
void float_to_int(const float* x, int* out, int n);
extern const int kLineFloat2Int;  // the __float2int_rn call of float_to_int

// out[i] = fn(in[i]) and out2[i] = the h2 form applied to the pair (in[i], in[i]) (its low half
// goes to out2[i]); `bf16` picks __nv_bfloat16 over __half. n threads.
enum class NarrowFn : int { kExp, kExp2, kLog, kSqrt, kRsqrt, kRcp, kSin, kCos };
void narrow_fn(NarrowFn fn, bool bf16, const uint16_t* in, uint16_t* out, uint16_t* out2, int n);

// out[i] = __hfma(a[i], b[i], c[i]); out2[i] and out2[n + i] = the low and high halves of
// __hfma2 on the pairs (a, b), (b, a), (c, c) (so both equal out[i]). n threads.
void narrow_fma(bool bf16, const uint16_t* a, const uint16_t* b, const uint16_t* c, uint16_t* out,
                uint16_t* out2, int n);

// Fixed cases of the header-provided functions (see narrow_misc_kernel): out[k] the bits.
constexpr int kNarrowMiscResults = 24;
void narrow_misc(uint32_t* out);

// Thread t of a `threads`-thread block holds the __half2 and __nv_bfloat162 whose bits are
// in[t]; out[k * threads + t]: k = 0 __shfl_xor_sync(h2, 1), 1 __shfl_sync(b2, 3),
// 2 __shfl_down_sync(h2, 1), 3 __shfl_up_sync(b2, 2). Full masks (so threads must be 32).
void narrow_shuffles(const uint32_t* in, uint32_t* out, int threads);

// Every thread of blocks x threads: atomicAdd(h2, (1, 0.5)) and atomicAdd(bf, 1).
void narrow_atomics(uint32_t* h2, uint16_t* bf, int blocks, int threads);

// One block of `threads` threads (a multiple of 32), value v = in[t]; out[k * threads + t] for
// k = 0 __activemask(), 1 __match_any_sync(full, v % 3), 2 __match_all_sync(full, v / 64) and
// 3 its pred, 4 __match_any_sync(full, float 0.0f, -0.0f for odd lanes), 5 __reduce_add_sync(int),
// 6 __reduce_min_sync(int), 7 __reduce_min_sync(unsigned), 8 __reduce_max_sync(int),
// 9 __reduce_max_sync(unsigned), 10 __reduce_and_sync, 11 __reduce_or_sync,
// 12 __reduce_xor_sync, 13 __reduce_add_sync over mask 0x0000ffff (lanes 0-15 only, others 0),
// 14 __match_any_sync on the 64-bit value v * 2^32, 15 __ballot_sync(0x0000ffff, t odd) (lanes
// 0-15 only, others 0). 13 and 15 come last (lanes 16-31 exit without them).
constexpr int kWarpResults = 16;
void warp_match_reduce(const int* in, uint32_t* out, int threads);

// Known-bad warp collectives (32-thread blocks unless said): each faults before writing
// out[thread] (32 ints).
enum class WarpMisuse : int {
  kShflAbsentLanes,    // a 16-thread block calls __shfl_sync with the full mask
  kShflBadWidth,       // __shfl_xor_sync width 3
  kShflMaskWithoutMe,  // all lanes call with mask 0x0000ffff
  kShflExitedLanes,    // lane 0 returns, the others call with the full mask
  kReduceAbsentLanes,  // a 16-thread block calls __reduce_add_sync with the full mask
  kMatchEmptyMask,     // __match_any_sync with mask 0 (so not naming the caller)
  kReduceMixedTypes,   // lanes 0-15 __reduce_min_sync(int), 16-31 (unsigned), full mask
  kReduceVsShuffle     // lanes 0-15 __reduce_add_sync, 16-31 __shfl_sync, full mask
};
void warp_misuse(WarpMisuse what, int* out);
extern const int kLineShflAbsentLanes, kLineShflBadWidth, kLineShflMaskWithoutMe,
    kLineShflExitedLanes, kLineReduceAbsentLanes, kLineMatchEmptyMask, kLineReduceMixedInt,
    kLineReduceMixedUnsigned;

// One block of `threads` threads; thread t copies the 4 floats src[4t..4t+3] into shared memory
// with __pipeline_memcpy_async (16 bytes), then per mode:
//   kWaitThenBarrier: commit, wait_prior(0), __syncthreads, out[4t..] = the copy of thread t+1
//   kNoWait:          commit, __syncthreads, out[4t..] = the copy of thread t+1 (a race; no
//                     thread ever waits)
//   kReadBeforeWait:  commit, out[4t..] = own copy read before the wait, then wait
//   kTwoBatches:      a second copy (src[4t] + 100...) into a second array, commit each;
//                     wait_prior(1); out[8t..8t+3] = first, out[8t+4..] = second (not landed);
//                     then wait_prior(0)
//   kZfill:           the copy with zfill 8: out[4t..] = src[4t], src[4t+1], 0, 0
enum class CopyMode : int { kWaitThenBarrier, kNoWait, kReadBeforeWait, kTwoBatches, kZfill };
void pipeline_copy(CopyMode mode, const float* src, float* out, int threads);

enum class CopyMisuse : int { kSize12, kMisaligned, kZfillTooLarge };
void pipeline_misuse(CopyMisuse what, const float* src);
extern const int kLineCopySize12, kLineCopyMisaligned, kLineCopyZfill;

}  // namespace intrin
}  // namespace emutest
}  // namespace mvit
