// The single-precision intrinsics of the portable subset, each as the GPU defines it: the
// IEEE-exact ones (__fadd_rn, __frcp_rn, __fsqrt_rn, __fdiv_rn, __frsqrt_rn...) correctly rounded,
// the approximate ones (__expf, __logf, __fdividef, rsqrtf...) as far from the correctly rounded
// result as the CUDA documentation allows (Note [approximate intrinsics]). Included by
// emulator/prelude.h after mvit_emu/device.h.
#pragma once

#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>

#include "mvit_emu/device.h"

// Note [approximate intrinsics]
// On a GPU, __expf, __logf, __fdividef, rsqrtf and the other fast intrinsics return
// approximations; exact results here would let a tolerance tuned on the emulator fail on a GPU.
// So each computes the correctly rounded result (in double, then rounded to float) and moves it
// by a deterministic pseudo-random amount within the bound the CUDA C++ Programming Guide states
// (Mathematical Functions appendix, "Intrinsic Functions", single precision):
//   __fdividef(x, y)  2 ulp for |y| in [2^-126, 2^126]; for 2^126 < |y| < 2^128 it returns 0 (NaN
//                     for infinite x): it is x * (1/y) with the reciprocal flushed to zero
//   __expf(x)         2 + floor(|1.173 x|) ulp
//   __exp10f(x)       2 + floor(|2.95 x|) ulp
//   __logf(x)         2^-21.41 absolute for x in [0.5, 2], else 3 ulp
//   __log2f(x)        2^-22 absolute for x in [0.5, 2], else 2 ulp
//   __log10f(x)       2^-24 absolute for x in [0.5, 2], else 3 ulp
//   __sinf, __cosf    2^-21.41 and 2^-21.19 absolute for x in [-pi, pi], "larger otherwise": here
//                     the bound grows with |x|/pi (the guide gives no number)
//   __tanf(x)         __sinf(x) / __cosf(x) by the fast divide, as crt/device_functions.h says
//   __powf(x, y)      exp2f(y * __log2f(x)) as the guide describes it, exp2 within 2 ulp; so
//                     __powf(0, 0) and __powf(-2, 2) are NaN as on a GPU
//   __tanhf(x)        2^-11 relative (tanh.approx.f32)
//   rsqrtf(x)         2 ulp (standard-function table)
// The perturbation is a hash of the function and its arguments' bits, uniform over the whole
// allowed range, so the same call gives the same result in every run and thread order.
// Infinite, NaN and zero results are exact: the documented special cases (those of expf, logf,
// sinf... that the intrinsics defer to) are kept. Denormals: we do not compile with
// -use_fast_math or -ftz=true, so __expf, __logf, __fdividef and rsqrtf keep denormal inputs and
// results, as the non-ftz approximate instructions do; __sinf, __sincosf and __tanf flush a
// denormal result to a zero of the same sign, as crt/device_functions.h documents for them.

namespace mvit {
namespace emu {
namespace fast {

enum Fn : uint64_t {
  kExp = 1,
  kExp10,
  kLog,
  kLog2,
  kLog10,
  kSin,
  kCos,
  kTanh,
  kExp2,
  kDiv,
  kRsqrt
};

inline uint64_t mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
inline uint64_t key(Fn fn, float x, float y = 0.0f) {
  return mix((static_cast<uint64_t>(fn) << 56) ^ (static_cast<uint64_t>(to_bits(y)) << 32) ^
             to_bits(x));
}
// A deterministic value in [-1, 1] from `k`.
inline double unit(uint64_t k) {
  return static_cast<double>(k >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

// `v` moved by `steps` ulps, staying finite and on its side of zero.
inline float step_ulps(float v, int64_t steps) {
  if (!std::isfinite(v) || v == 0.0f || steps == 0) return v;
  const uint32_t bits = to_bits(v);
  const int64_t magnitude = bits & 0x7fffffffu;
  const int64_t moved = magnitude + (bits >> 31 ? -steps : steps);
  const int64_t max_finite = 0x7f7fffff;
  const int64_t clamped = moved < 0 ? 0 : (moved > max_finite ? max_finite : moved);
  return from_bits<float>((bits & 0x80000000u) | static_cast<uint32_t>(clamped));
}

// The correctly rounded `exact`, moved by up to `ulps` ulps (an integer number of them).
inline float within_ulps(double exact, double ulps, uint64_t k) {
  const float rounded = static_cast<float>(exact);
  if (!std::isfinite(rounded) || rounded == 0.0f) return rounded;
  // A bound past 2^30 ulps (|x| > 2^29 in __expf's) says nothing more; it also keeps the bound of
  // an infinite or NaN argument out of integer conversion.
  const int64_t bound = ulps < 0x1p30 ? static_cast<int64_t>(std::floor(ulps)) : int64_t{1} << 30;
  const int64_t span = 2 * bound + 1;
  const int64_t steps = static_cast<int64_t>(k % static_cast<uint64_t>(span)) - bound;
  return step_ulps(rounded, steps);
}

// `exact` moved by up to `abs_error`, then rounded (the rounding's half ulp is kept inside the
// bound).
inline float within_abs(double exact, double abs_error, uint64_t k) {
  const float rounded = static_cast<float>(exact);
  if (!std::isfinite(rounded) || exact == 0.0) return rounded;
  const double half_ulp = 0.5 * (std::nextafter(std::fabs(rounded), INFINITY) - std::fabs(rounded));
  const double room = abs_error > half_ulp ? abs_error - half_ulp : 0.0;
  return static_cast<float>(exact + unit(k) * room);
}

inline float within_rel(double exact, double rel_error, uint64_t k) {
  if (!std::isfinite(exact) || exact == 0.0) return static_cast<float>(exact);
  return static_cast<float>(exact * (1.0 + unit(k) * rel_error * 0.9));
}

inline float flush_denormal(float v) {
  return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v;
}

// Approximations with a bound that depends on the range of x: the absolute bound inside
// [0.5, 2] (logarithms) or [-pi, pi] (sine, cosine), else `ulps`.
inline float log_like(double exact, float x, double abs_in_range, double ulps, Fn fn) {
  if (!std::isfinite(exact)) return static_cast<float>(exact);
  if (x >= 0.5f && x <= 2.0f) return within_abs(exact, abs_in_range, key(fn, x));
  return within_ulps(exact, ulps, key(fn, x));
}
inline float trig_like(double exact, float x, double abs_in_range, Fn fn) {
  if (!std::isfinite(exact)) return static_cast<float>(exact);
  const double pi = 3.14159265358979323846;
  const double growth = std::fabs(x) > pi ? std::fabs(x) / pi : 1.0;
  return flush_denormal(within_abs(exact, abs_in_range * growth, key(fn, x)));
}
inline float exp2_approx(float x) {
  return within_ulps(std::exp2(static_cast<double>(x)), 2.0, key(kExp2, x));
}

// The correctly rounded 1/sqrt(x): the double estimate, then corrected by the sign of
// m^2 x - 1 at the midpoints m on either side (exact through fma: m has 25 bits, m^2 50).
inline float rsqrt_rn(float x) {
  if (std::isnan(x) || x < 0.0f) return std::numeric_limits<float>::quiet_NaN();
  if (x == 0.0f) return std::copysign(INFINITY, x);
  if (std::isinf(x)) return 0.0f;
  const double xd = x;
  float r = static_cast<float>(1.0 / std::sqrt(xd));
  const double up = 0.5 * (static_cast<double>(r) + std::nextafter(r, INFINITY));
  const double down = 0.5 * (static_cast<double>(r) + std::nextafter(r, 0.0f));
  if (std::fma(up * up, xd, -1.0) < 0.0) {
    r = std::nextafter(r, INFINITY);
  } else if (std::fma(down * down, xd, -1.0) > 0.0) {
    r = std::nextafter(r, 0.0f);
  }
  return r;
}

// Float to integer in the given rounding; out of range or NaN is undefined on a GPU
// (\note_fp_to_int_out_of_range_undefined in crt/device_functions.h), so it is reported.
inline long long to_integer(double rounded, double lo, double hi, const char* what,
                            const char* file, int line) {
  if (!(rounded >= lo && rounded <= hi)) device_fault(what, file, line);
  return static_cast<long long>(rounded);
}

}  // namespace fast
}  // namespace emu
}  // namespace mvit

// ---- IEEE-exact (round to nearest even) ---------------------------------------------------------
inline float __fadd_rn(float a, float b) {
  return a + b;
}
inline float __fsub_rn(float a, float b) {
  return a - b;
}
inline float __fmul_rn(float a, float b) {
  return a * b;
}
inline float __fmaf_rn(float a, float b, float c) {
  return std::fma(a, b, c);
}
inline float __fdiv_rn(float x, float y) {
  return x / y;
}
inline float __frcp_rn(float x) {
  return 1.0f / x;
}
inline float __fsqrt_rn(float x) {
  return std::sqrt(x);
}
inline float __frsqrt_rn(float x) {
  return ::mvit::emu::fast::rsqrt_rn(x);
}
inline float __saturatef(float x) {
  return x != x ? 0.0f : std::fmin(std::fmax(x, 0.0f), 1.0f);
}

// ---- approximate (Note [approximate intrinsics]) ----------------------------------------------
inline float rsqrtf(float x) {
  namespace f = ::mvit::emu::fast;
  return f::within_ulps(f::rsqrt_rn(x), 2.0, f::key(f::kRsqrt, x));
}
inline float __expf(float x) {
  namespace f = ::mvit::emu::fast;
  return f::within_ulps(std::exp(static_cast<double>(x)), 2.0 + std::floor(std::fabs(1.173 * x)),
                        f::key(f::kExp, x));
}
inline float __exp10f(float x) {
  namespace f = ::mvit::emu::fast;
  return f::within_ulps(std::pow(10.0, static_cast<double>(x)),
                        2.0 + std::floor(std::fabs(2.95 * x)), f::key(f::kExp10, x));
}
inline float __logf(float x) {
  namespace f = ::mvit::emu::fast;
  return f::log_like(std::log(static_cast<double>(x)), x, std::exp2(-21.41), 3.0, f::kLog);
}
inline float __log2f(float x) {
  namespace f = ::mvit::emu::fast;
  return f::log_like(std::log2(static_cast<double>(x)), x, std::exp2(-22.0), 2.0, f::kLog2);
}
inline float __log10f(float x) {
  namespace f = ::mvit::emu::fast;
  return f::log_like(std::log10(static_cast<double>(x)), x, std::exp2(-24.0), 3.0, f::kLog10);
}
inline float __sinf(float x) {
  namespace f = ::mvit::emu::fast;
  return f::trig_like(std::sin(static_cast<double>(x)), x, std::exp2(-21.41), f::kSin);
}
inline float __cosf(float x) {
  namespace f = ::mvit::emu::fast;
  return f::trig_like(std::cos(static_cast<double>(x)), x, std::exp2(-21.19), f::kCos);
}
inline void __sincosf(float x, float* s, float* c) {
  x = ::mvit::emu::fast::flush_denormal(x);  // "Denorm input/output is flushed"
  *s = __sinf(x);
  *c = __cosf(x);
}
inline float __fdividef(float x, float y) {
  namespace f = ::mvit::emu::fast;
  const float ay = std::fabs(y);
  if (ay > 0x1p126f && ay < INFINITY) return x * 0.0f * std::copysign(1.0f, y);  // 0, or NaN
  if (ay < 0x1p-126f) return x * (1.0f / y);  // outside the documented range: x * rcp(y)
  return f::within_ulps(static_cast<double>(x) / y, 2.0, f::key(f::kDiv, x, y));
}
inline float __tanf(float x) {
  return ::mvit::emu::fast::flush_denormal(__fdividef(__sinf(x), __cosf(x)));
}
inline float __powf(float x, float y) {
  return ::mvit::emu::fast::exp2_approx(y * __log2f(x));
}
inline float __tanhf(float x) {
  namespace f = ::mvit::emu::fast;
  return f::within_rel(std::tanh(static_cast<double>(x)), std::exp2(-11.0), f::key(f::kTanh, x));
}

// ---- conversions -------------------------------------------------------------------------------
#define MVIT_EMU_FLOAT_TO_INT_(name, T, round, lo, hi)                                       \
  inline T name(float x, const char* file = __builtin_FILE(), int line = __builtin_LINE()) { \
    return static_cast<T>(::mvit::emu::fast::to_integer(                                     \
        round(static_cast<double>(x)), lo, hi,                                               \
        #name ": the value is NaN or out of range (undefined on a GPU)", file, line));       \
  }
MVIT_EMU_FLOAT_TO_INT_(__float2int_rn, int, std::nearbyint, INT_MIN, INT_MAX)
MVIT_EMU_FLOAT_TO_INT_(__float2int_rz, int, std::trunc, INT_MIN, INT_MAX)
MVIT_EMU_FLOAT_TO_INT_(__float2int_rd, int, std::floor, INT_MIN, INT_MAX)
MVIT_EMU_FLOAT_TO_INT_(__float2int_ru, int, std::ceil, INT_MIN, INT_MAX)
MVIT_EMU_FLOAT_TO_INT_(__float2uint_rn, unsigned, std::nearbyint, 0, UINT_MAX)
MVIT_EMU_FLOAT_TO_INT_(__float2uint_rz, unsigned, std::trunc, 0, UINT_MAX)
#undef MVIT_EMU_FLOAT_TO_INT_
inline float __int2float_rn(int x) {
  return static_cast<float>(x);  // the host's default rounding: to nearest even
}
inline float __uint2float_rn(unsigned x) {
  return static_cast<float>(x);
}
