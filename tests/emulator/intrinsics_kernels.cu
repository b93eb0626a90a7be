// Kernels for test_intrinsics.cpp: each applies intrinsics of the portable subset to inputs the
// test chooses, or misuses a warp intrinsic or an asynchronous copy on purpose. Valid CUDA (they
// compile with nvcc for sm_80: __reduce_*_sync needs it), run in the emulated build.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>

#include "kernels/common/launch.cuh"
#include "tests/emulator/intrinsics_kernels.h"

namespace mvit {
namespace emutest {
namespace intrin {

namespace {

constexpr unsigned kFull = 0xffffffffu;

int blocks_for(int n) {
  return (n + 127) / 128;
}

template <class H>
__device__ H from_raw(uint16_t bits) {
  return __ushort_as_half(bits);
}
template <>
__device__ __nv_bfloat16 from_raw<__nv_bfloat16>(uint16_t bits) {
  return __ushort_as_bfloat16(bits);
}
__device__ uint16_t to_raw(__half h) {
  return __half_as_ushort(h);
}
__device__ uint16_t to_raw(__nv_bfloat16 h) {
  return __bfloat16_as_ushort(h);
}
__device__ __half2 pair(__half lo, __half hi) {
  return __halves2half2(lo, hi);
}
__device__ __nv_bfloat162 pair(__nv_bfloat16 lo, __nv_bfloat16 hi) {
  return __halves2bfloat162(lo, hi);
}
__device__ uint32_t to_raw2(__half2 h) {
  return to_raw(__low2half(h)) | (uint32_t{to_raw(__high2half(h))} << 16);
}
__device__ uint32_t to_raw2(__nv_bfloat162 h) {
  return to_raw(__low2bfloat16(h)) | (uint32_t{to_raw(__high2bfloat16(h))} << 16);
}
__device__ __half low(__half2 h) {
  return __low2half(h);
}
__device__ __nv_bfloat16 low(__nv_bfloat162 h) {
  return __low2bfloat16(h);
}
__device__ __half high(__half2 h) {
  return __high2half(h);
}
__device__ __nv_bfloat16 high(__nv_bfloat162 h) {
  return __high2bfloat16(h);
}

}  // namespace

// ---- float intrinsics ---------------------------------------------------------------------------

__device__ float apply(FloatFn fn, float x, float y) {
  float s = 0.0f, c = 0.0f;
  switch (fn) {
    case FloatFn::kExpf:
      return __expf(x);
    case FloatFn::kExp10f:
      return __exp10f(x);
    case FloatFn::kLogf:
      return __logf(x);
    case FloatFn::kLog2f:
      return __log2f(x);
    case FloatFn::kLog10f:
      return __log10f(x);
    case FloatFn::kSinf:
      return __sinf(x);
    case FloatFn::kCosf:
      return __cosf(x);
    case FloatFn::kTanf:
      return __tanf(x);
    case FloatFn::kSincosfSin:
      __sincosf(x, &s, &c);
      return s;
    case FloatFn::kPowf:
      return __powf(x, y);
    case FloatFn::kTanhf:
      return __tanhf(x);
    case FloatFn::kFdividef:
      return __fdividef(x, y);
    case FloatFn::kRsqrtf:
      return rsqrtf(x);
    case FloatFn::kFrsqrtRn:
      return __frsqrt_rn(x);
    case FloatFn::kFdivRn:
      return __fdiv_rn(x, y);
    case FloatFn::kFrcpRn:
      return __frcp_rn(x);
    case FloatFn::kFsqrtRn:
      return __fsqrt_rn(x);
  }
  return 0.0f;
}

__global__ void float_fn_kernel(FloatFn fn, const float* x, const float* y, float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) __stcs(&out[i], apply(fn, __ldg(&x[i]), __ldcs(&y[i])));  // the cache hints too
}

void float_fn(FloatFn fn, const float* x, const float* y, float* out, int n) {
  mvit::launch(float_fn_kernel, blocks_for(n), 128, 0, nullptr, fn, x, y, out, n);
}

const int kLineFloat2Int = __LINE__ + 4;
__global__ void float_to_int_kernel(const float* x, int* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  out[4 * i + 0] = __float2int_rn(x[i]);
  out[4 * i + 1] = __float2int_rz(x[i]);
  out[4 * i + 2] = __float2int_rd(x[i]);
  out[4 * i + 3] = __float2int_ru(x[i]);
}

void float_to_int(const float* x, int* out, int n) {
  mvit::launch(float_to_int_kernel, blocks_for(n), 128, 0, nullptr, x, out, n);
}

// ---- half and bfloat16 math ---------------------------------------------------------------------

template <class H, class H2>
__device__ void narrow_apply(NarrowFn fn, H a, H* r, H2* r2) {
  const H2 a2 = pair(a, a);
  switch (fn) {
    case NarrowFn::kExp:
      *r = hexp(a), *r2 = h2exp(a2);
      break;
    case NarrowFn::kExp2:
      *r = hexp2(a), *r2 = h2exp2(a2);
      break;
    case NarrowFn::kLog:
      *r = hlog(a), *r2 = h2log(a2);
      break;
    case NarrowFn::kSqrt:
      *r = hsqrt(a), *r2 = h2sqrt(a2);
      break;
    case NarrowFn::kRsqrt:
      *r = hrsqrt(a), *r2 = h2rsqrt(a2);
      break;
    case NarrowFn::kRcp:
      *r = hrcp(a), *r2 = h2rcp(a2);
      break;
    case NarrowFn::kSin:
      *r = hsin(a), *r2 = h2sin(a2);
      break;
    case NarrowFn::kCos:
      *r = hcos(a), *r2 = h2cos(a2);
      break;
  }
}

template <class H, class H2>
__global__ void narrow_fn_kernel(NarrowFn fn, const uint16_t* in, uint16_t* out, uint16_t* out2,
                                 int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  H r;
  H2 r2;
  narrow_apply(fn, from_raw<H>(in[i]), &r, &r2);
  out[i] = to_raw(r);
  out2[i] = to_raw(low(r2));
}

void narrow_fn(NarrowFn fn, bool bf16, const uint16_t* in, uint16_t* out, uint16_t* out2, int n) {
  if (bf16) {
    mvit::launch(narrow_fn_kernel<__nv_bfloat16, __nv_bfloat162>, blocks_for(n), 128, 0, nullptr,
                 fn, in, out, out2, n);
  } else {
    mvit::launch(narrow_fn_kernel<__half, __half2>, blocks_for(n), 128, 0, nullptr, fn, in, out,
                 out2, n);
  }
}

template <class H>
__global__ void narrow_fma_kernel(const uint16_t* a, const uint16_t* b, const uint16_t* c,
                                  uint16_t* out, uint16_t* out2, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const H x = from_raw<H>(a[i]), y = from_raw<H>(b[i]), z = from_raw<H>(c[i]);
  out[i] = to_raw(__hfma(x, y, z));
  const auto r2 = __hfma2(pair(x, y), pair(y, x), pair(z, z));
  out2[i] = to_raw(low(r2));
  out2[n + i] = to_raw(high(r2));
}

void narrow_fma(bool bf16, const uint16_t* a, const uint16_t* b, const uint16_t* c, uint16_t* out,
                uint16_t* out2, int n) {
  if (bf16) {
    mvit::launch(narrow_fma_kernel<__nv_bfloat16>, blocks_for(n), 128, 0, nullptr, a, b, c, out,
                 out2, n);
  } else {
    mvit::launch(narrow_fma_kernel<__half>, blocks_for(n), 128, 0, nullptr, a, b, c, out, out2, n);
  }
}

__global__ void narrow_misc_kernel(uint32_t* out) {
  const __half one = __float2half(1.0f), nan = __ushort_as_half(0x7e01);
  const __half pz = __ushort_as_half(0x0000), nz = __ushort_as_half(0x8000);
  out[0] = to_raw2(__hmax2(pair(nan, nan), pair(one, nan)));                // (1, canonical NaN)
  out[1] = to_raw2(__hmax2(pair(pz, nz), pair(nz, pz)));                    // (+0, +0)
  out[2] = to_raw2(__h2div(pair(one, one), pair(__float2half(3.0f), pz)));  // (1/3, +inf)
  out[3] = to_raw2(__h2div(pair(pz, one), pair(pz, nz)));                   // (NaN, -inf)
  out[4] = to_raw2(__float22half2_rn(make_float2(1.0f / 3.0f, 65520.0f)));  // (1/3, inf: a tie)
  out[5] = to_raw2(__float22half2_rn(make_float2(65519.0f, 0x1p-25f)));     // (65504, 0: a tie)
  out[6] = to_raw2(__halves2half2(one, nz));
  out[7] = __float_as_uint(__low2float(pair(__float2half(0.1f), one)));
  out[8] = __float_as_uint(__high2float(pair(one, __float2half(0.1f))));
  out[9] = to_raw2(__hmax2(pair(one, __float2half(-2.0f)), pair(__float2half(2.0f), pz)));
  const __nv_bfloat16 bone = __float2bfloat16(1.0f), bnan = __ushort_as_bfloat16(0x7fc1);
  const __nv_bfloat16 bpz = __ushort_as_bfloat16(0x0000), bnz = __ushort_as_bfloat16(0x8000);
  out[10] = to_raw2(__hmax2(pair(bnan, bnan), pair(bone, bnan)));
  out[11] = to_raw2(__hmax2(pair(bpz, bnz), pair(bnz, bpz)));
  out[12] = to_raw2(__h2div(pair(bone, bone), pair(__float2bfloat16(3.0f), bpz)));
  out[13] = to_raw2(__float22bfloat162_rn(make_float2(1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f)));
  out[14] = to_raw2(__float22bfloat162_rn(make_float2(0x1.ff8p127f, 0x1p-133f)));
  out[15] = to_raw2(__halves2bfloat162(bone, bnz));
  out[16] = __float_as_uint(__low2float(pair(__float2bfloat16(0.1f), bone)));
  out[17] = __float_as_uint(__high2float(pair(bone, __float2bfloat16(0.1f))));
  out[18] = to_raw2(__hfma2(pair(__float2half(3.0f), __float2half(65504.0f)),
                            pair(__float2half(683.0f), __float2half(2.0f)),
                            pair(__ushort_as_half(0x0001), __float2half(-65504.0f))));
  out[19] = to_raw2(__hfma2(pair(__float2half(3.0f), one), pair(__float2half(683.0f), nan),
                            pair(__ushort_as_half(0x8001), one)));
  out[20] = to_raw2(__hfma2(pair(one, __ushort_as_half(0x7c00)), pair(nz, pz), pair(nz, one)));
  out[21] = to_raw2(
      __hfma2_sat(pair(one, __float2half(-1.0f)), pair(__float2half(2.0f), one), pair(pz, pz)));
  out[22] = to_raw2(
      __hfma2_relu(pair(one, __float2half(-1.0f)), pair(__float2half(0.5f), one), pair(pz, pz)));
  out[23] = to_raw2(__hfma2(pair(__float2bfloat16(7.0f), __float2bfloat16(3.0f)),
                            pair(__float2bfloat16(37.0f), __float2bfloat16(43.0f)),
                            pair(__float2bfloat16(-0x1p-100f), bnz)));
}

void narrow_misc(uint32_t* out) {
  mvit::launch(narrow_misc_kernel, 1, 1, 0, nullptr, out);
}

__global__ void narrow_shuffles_kernel(const uint32_t* in, uint32_t* out, int threads) {
  const int t = threadIdx.x;
  const uint32_t bits = in[t];
  const __half2 h2 = pair(__ushort_as_half(bits & 0xffffu), __ushort_as_half(bits >> 16));
  const __nv_bfloat162 b2 =
      pair(__ushort_as_bfloat16(bits & 0xffffu), __ushort_as_bfloat16(bits >> 16));
  out[0 * threads + t] = to_raw2(__shfl_xor_sync(kFull, h2, 1));
  out[1 * threads + t] = to_raw2(__shfl_sync(kFull, b2, 3));
  out[2 * threads + t] = to_raw2(__shfl_down_sync(kFull, h2, 1));
  out[3 * threads + t] = to_raw2(__shfl_up_sync(kFull, b2, 2));
}

void narrow_shuffles(const uint32_t* in, uint32_t* out, int threads) {
  mvit::launch(narrow_shuffles_kernel, 1, threads, 0, nullptr, in, out, threads);
}

__global__ void narrow_atomics_kernel(__half2* h2, __nv_bfloat16* bf) {
  atomicAdd(h2, __halves2half2(__float2half(1.0f), __float2half(0.5f)));
  atomicAdd(bf, __float2bfloat16(1.0f));
}

void narrow_atomics(uint32_t* h2, uint16_t* bf, int blocks, int threads) {
  mvit::launch(narrow_atomics_kernel, blocks, threads, 0, nullptr, reinterpret_cast<__half2*>(h2),
               reinterpret_cast<__nv_bfloat16*>(bf));
}

// ---- warp match, reduce, activemask
// ---------------------------------------------------------------

__global__ void warp_match_reduce_kernel(const int* in, uint32_t* out, int threads) {
  const int t = threadIdx.x;
  const int v = in[t];
  const unsigned u = static_cast<unsigned>(v);
  uint32_t* o = out + t;
  int pred = -1;
  o[0 * threads] = __activemask();
  o[1 * threads] = __match_any_sync(kFull, v % 3);
  o[2 * threads] = __match_all_sync(kFull, v / 64, &pred);
  o[3 * threads] = static_cast<uint32_t>(pred);
  o[4 * threads] = __match_any_sync(kFull, (t % 2) ? -0.0f : 0.0f);
  o[5 * threads] = static_cast<uint32_t>(__reduce_add_sync(kFull, v));
  o[6 * threads] = static_cast<uint32_t>(__reduce_min_sync(kFull, v));
  o[7 * threads] = __reduce_min_sync(kFull, u);
  o[8 * threads] = static_cast<uint32_t>(__reduce_max_sync(kFull, v));
  o[9 * threads] = __reduce_max_sync(kFull, u);
  o[10 * threads] = __reduce_and_sync(kFull, u);
  o[11 * threads] = __reduce_or_sync(kFull, u);
  o[12 * threads] = __reduce_xor_sync(kFull, u);
  o[14 * threads] = __match_any_sync(kFull, static_cast<long long>(u) << 32);
  // Lanes 16-31 may not have read the result above yet when 0-15 start these.
  o[13 * threads] = 0u;
  o[15 * threads] = 0u;
  if (t % 32 < 16) {
    o[15 * threads] = __ballot_sync(0x0000ffffu, t % 2);
    o[13 * threads] = __reduce_add_sync(0x0000ffffu, u);
  }
}

void warp_match_reduce(const int* in, uint32_t* out, int threads) {
  mvit::launch(warp_match_reduce_kernel, 1, threads, 0, nullptr, in, out, threads);
}

// ---- misused warp intrinsics (each call's line is exported) -------------------------------------

const int kLineShflAbsentLanes = __LINE__ + 2;
__global__ void shfl_absent_lanes_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(kFull, 1, 0);
}
const int kLineShflBadWidth = __LINE__ + 2;
__global__ void shfl_bad_width_kernel(int* out) {
  out[threadIdx.x] = __shfl_xor_sync(kFull, 1, 1, 3);
}
const int kLineShflMaskWithoutMe = __LINE__ + 2;
__global__ void shfl_mask_without_me_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1, 0);
}
const int kLineShflExitedLanes = __LINE__ + 3;
__global__ void shfl_exited_lanes_kernel(int* out) {
  if (threadIdx.x == 0) return;
  out[threadIdx.x] = __shfl_sync(kFull, 1, 0);
}
const int kLineReduceAbsentLanes = __LINE__ + 2;
__global__ void reduce_absent_lanes_kernel(int* out) {
  out[threadIdx.x] = __reduce_add_sync(kFull, 1);
}
const int kLineMatchEmptyMask = __LINE__ + 2;
__global__ void match_empty_mask_kernel(int* out) {
  out[threadIdx.x] = __match_any_sync(0u, 1);
}
const int kLineReduceMixedInt = __LINE__ + 4;
const int kLineReduceMixedUnsigned = __LINE__ + 5;
__global__ void reduce_mixed_types_kernel(int* out) {
  if (threadIdx.x < 16) {
    out[threadIdx.x] = __reduce_min_sync(kFull, 1);
  } else {
    out[threadIdx.x] = static_cast<int>(__reduce_min_sync(kFull, 1u));
  }
}
__global__ void reduce_vs_shuffle_kernel(int* out) {
  if (threadIdx.x < 16) {
    out[threadIdx.x] = __reduce_add_sync(kFull, 1);
  } else {
    out[threadIdx.x] = __shfl_sync(kFull, 1, 0);
  }
}

void warp_misuse(WarpMisuse what, int* out) {
  switch (what) {
    case WarpMisuse::kShflAbsentLanes:
      return mvit::launch(shfl_absent_lanes_kernel, 1, 16, 0, nullptr, out);
    case WarpMisuse::kShflBadWidth:
      return mvit::launch(shfl_bad_width_kernel, 1, 32, 0, nullptr, out);
    case WarpMisuse::kShflMaskWithoutMe:
      return mvit::launch(shfl_mask_without_me_kernel, 1, 32, 0, nullptr, out);
    case WarpMisuse::kShflExitedLanes:
      return mvit::launch(shfl_exited_lanes_kernel, 1, 32, 0, nullptr, out);
    case WarpMisuse::kReduceAbsentLanes:
      return mvit::launch(reduce_absent_lanes_kernel, 1, 16, 0, nullptr, out);
    case WarpMisuse::kMatchEmptyMask:
      return mvit::launch(match_empty_mask_kernel, 1, 32, 0, nullptr, out);
    case WarpMisuse::kReduceMixedTypes:
      return mvit::launch(reduce_mixed_types_kernel, 1, 32, 0, nullptr, out);
    case WarpMisuse::kReduceVsShuffle:
      return mvit::launch(reduce_vs_shuffle_kernel, 1, 32, 0, nullptr, out);
  }
}

// ---- asynchronous copies ------------------------------------------------------------------------

constexpr int kMaxCopyThreads = 128;

__global__ void pipeline_copy_kernel(CopyMode mode, const float* src, float* out, int threads) {
  MVIT_SHARED(float4, first, kMaxCopyThreads);
  MVIT_SHARED(float4, second, kMaxCopyThreads);
  const int t = threadIdx.x;
  const size_t zfill = mode == CopyMode::kZfill ? 8 : 0;
  __pipeline_memcpy_async(&first[t], &src[4 * t], sizeof(float4), zfill);
  __pipeline_commit();
  if (mode == CopyMode::kTwoBatches) {
    __pipeline_memcpy_async(&second[t], &src[4 * (threads + t)], sizeof(float4));
    __pipeline_commit();
    __pipeline_wait_prior(1);
    const float4 a = first[t], b = second[t];
    const float got[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
    for (int k = 0; k < 8; ++k) out[8 * t + k] = got[k];
    __pipeline_wait_prior(0);
    return;
  }
  if (mode == CopyMode::kReadBeforeWait) {
    const float4 early = first[t];
    __pipeline_wait_prior(0);
    out[4 * t + 0] = early.x, out[4 * t + 1] = early.y;
    out[4 * t + 2] = early.z, out[4 * t + 3] = early.w;
    return;
  }
  if (mode != CopyMode::kNoWait) __pipeline_wait_prior(0);
  __syncthreads();
  const int from = mode == CopyMode::kZfill ? t : (t + 1) % threads;
  const float4 v = first[from];
  out[4 * t + 0] = v.x, out[4 * t + 1] = v.y, out[4 * t + 2] = v.z, out[4 * t + 3] = v.w;
}

void pipeline_copy(CopyMode mode, const float* src, float* out, int threads) {
  mvit::launch(pipeline_copy_kernel, 1, threads, 0, nullptr, mode, src, out, threads);
}

const int kLineCopySize12 = __LINE__ + 3;
__global__ void copy_size12_kernel(const float* src) {
  MVIT_SHARED(float4, dst, 1);
  __pipeline_memcpy_async(&dst[0], src, 12);
}
const int kLineCopyMisaligned = __LINE__ + 3;
__global__ void copy_misaligned_kernel(const float* src) {
  MVIT_SHARED(float4, dst, 2);
  __pipeline_memcpy_async(&dst[0], src + 1, 16);
}
const int kLineCopyZfill = __LINE__ + 3;
__global__ void copy_zfill_kernel(const float* src) {
  MVIT_SHARED(float4, dst, 1);
  __pipeline_memcpy_async(&dst[0], src, 8, 12);
}

void pipeline_misuse(CopyMisuse what, const float* src) {
  switch (what) {
    case CopyMisuse::kSize12:
      return mvit::launch(copy_size12_kernel, 1, 1, 0, nullptr, src);
    case CopyMisuse::kMisaligned:
      return mvit::launch(copy_misaligned_kernel, 1, 1, 0, nullptr, src);
    case CopyMisuse::kZfillTooLarge:
      return mvit::launch(copy_zfill_kernel, 1, 1, 0, nullptr, src);
  }
}

}  // namespace intrin
}  // namespace emutest
}  // namespace mvit
