// The __half and __nv_bfloat16 functions of the portable subset that the CUDA headers define only
// for the device (Note [half and bfloat16 under g++]), and atomicAdd on them. Included by
// emulator/prelude.h after mvit_emu/fast_math.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "mvit_emu/device.h"
#include "mvit_emu/fast_math.h"

// Note [half and bfloat16 under g++]
// Under g++ cuda_fp16.hpp and cuda_bf16.hpp give host code for the conversions
// (__float2half_rn, __float22half2_rn, __halves2half2, __low2float, __high2float...), the
// comparisons and __hmax/__hmin(2) (NaN-aware: the other operand, or the canonical NaN; +0 above
// -0), and +, -, *, / with __hadd, __hmul, __hdiv, __h2div... Those compute in float and round
// once, which is the correctly rounded result: float has 24 bits, at least 2p + 2 for p = 11
// (half) and p = 8 (bfloat16), so rounding twice cannot differ from rounding once. That is what
// the GPU's add, sub and mul instructions return. Its __hdiv/__h2div instead multiply by an
// approximate float reciprocal and round that to half, which can differ from the host's by one
// ulp when the quotient lies within about 2^-22 of a rounding midpoint; the headers define both
// versions, so the emulator cannot replace the host one (a documented gap).
//
// What the headers leave to the device, defined here:
//  - __hfma, __hfma2 (and _sat, _relu): one rounding of the exact a*b + c, as fma.rn.f16/bf16.
//    a*b is exact in double; a two-sum gives the rounding error of the addition, which decides
//    the rare case where the double sum lands exactly on a midpoint of the narrow format.
//  - hexp, hexp2, hexp10, hlog, hlog2, hlog10, hsqrt, hrsqrt, hrcp, hsin, hcos and their h2
//    forms: on a GPU the float approximation (ex2.approx.ftz.f32, rsqrt.approx.ftz.f32...)
//    rounded to half, so within one ulp of the correctly rounded result, and equal to it except
//    near a midpoint. Modelled as the exact value times (1 + d), |d| <= 2^-20 chosen by a hash of
//    the argument (Note [approximate intrinsics]), rounded to float and then to the narrow format.
//    The float instructions flush denormals, which only a bfloat16 can be (half's range lies
//    inside float's normal range): bfloat16 denormal inputs and results become zeros of the same
//    sign.
//  - NaN results are the canonical NaN (0x7fff for both formats), as the instructions return.

namespace mvit {
namespace emu {
namespace narrow {

template <class H>
struct Format;
template <>
struct Format<__half> {
  static constexpr int kDigits = 11, kMinExp = -14, kMaxExp = 15;
  static constexpr bool kFlushes = false;
  static float to_float(__half h) { return __half2float(h); }
  static __half from_float(float f) { return __float2half_rn(f); }
};
template <>
struct Format<__nv_bfloat16> {
  static constexpr int kDigits = 8, kMinExp = -126, kMaxExp = 127;
  static constexpr bool kFlushes = true;
  static float to_float(__nv_bfloat16 h) { return __bfloat162float(h); }
  static __nv_bfloat16 from_float(float f) { return __float2bfloat16_rn(f); }
};

template <class H>
inline H canonical_nan() {
  return from_bits<H>(uint16_t{0x7fff});
}

// v + err (err the exact rounding error of v, |err| <= ulp(v)/2) rounded once to nearest even in
// the format of H. v is finite.
template <class H>
inline H round_once(double v, double err) {
  using F = Format<H>;
  if (v == 0.0) return F::from_float(static_cast<float>(v));
  const int e = std::max(std::ilogb(v), F::kMinExp);
  const double ulp = std::ldexp(1.0, e - (F::kDigits - 1));
  const double q = v / ulp;  // exact: a power-of-two scaling
  double k = std::nearbyint(q);
  if (q - std::floor(q) == 0.5 && err != 0.0) k = err > 0.0 ? std::ceil(q) : std::floor(q);
  const double r = k * ulp;
  const double limit = std::ldexp(1.0, F::kMaxExp + 1);
  if (std::fabs(r) >= limit) return F::from_float(std::copysign(INFINITY, static_cast<float>(v)));
  // r is representable in H, so both conversions are exact; k == 0 keeps the sign of v.
  return F::from_float(static_cast<float>(k == 0.0 ? std::copysign(0.0, v) : r));
}

template <class H>
inline H fma_once(H a, H b, H c) {
  using F = Format<H>;
  const double p = static_cast<double>(F::to_float(a)) * F::to_float(b);  // exact
  const double cd = F::to_float(c);
  const double s = p + cd;
  if (std::isnan(s)) return canonical_nan<H>();
  if (std::isinf(s)) return F::from_float(static_cast<float>(s));
  const double bp = s - cd;  // two-sum: s + err == p + cd exactly
  const double err = (p - bp) + (cd - (s - bp));
  return round_once<H>(s, err);
}

template <class H>
inline float flush_if_needed(float v) {
  return Format<H>::kFlushes ? ::mvit::emu::fast::flush_denormal(v) : v;
}

template <class H>
inline H approx(H a, double (*f)(double), uint64_t fn) {
  using F = Format<H>;
  const float x = flush_if_needed<H>(F::to_float(a));
  const double exact = f(x);
  if (std::isnan(exact)) return canonical_nan<H>();
  double v = exact;
  if (std::isfinite(exact) && exact != 0.0) {
    const uint64_t k =
        ::mvit::emu::fast::mix((fn << 48) ^ (uint64_t{F::kDigits} << 40) ^ to_bits(a));
    v = exact * (1.0 + ::mvit::emu::fast::unit(k) * 0x1p-20);
  }
  return F::from_float(flush_if_needed<H>(static_cast<float>(v)));
}

inline double rsqrt(double x) {
  return 1.0 / std::sqrt(x);
}
inline double rcp(double x) {
  return 1.0 / x;
}
inline double exp10(double x) {
  return std::pow(10.0, x);
}
inline double sqrt(double x) {
  return std::sqrt(x);
}
inline double exp(double x) {
  return std::exp(x);
}
inline double exp2(double x) {
  return std::exp2(x);
}
inline double log(double x) {
  return std::log(x);
}
inline double log2(double x) {
  return std::log2(x);
}
inline double log10(double x) {
  return std::log10(x);
}
inline double sin(double x) {
  return std::sin(x);
}
inline double cos(double x) {
  return std::cos(x);
}

template <class H>
inline H saturate(H v) {  // [0, 1], NaN to +0 (fma.rn.sat)
  const float f = Format<H>::to_float(v);
  if (!(f > 0.0f)) return Format<H>::from_float(0.0f);
  return f > 1.0f ? Format<H>::from_float(1.0f) : v;
}
template <class H>
inline H relu(H v) {  // negative to +0, NaN stays the canonical NaN (fma.rn.relu)
  const float f = Format<H>::to_float(v);
  if (std::isnan(f)) return canonical_nan<H>();
  return f < 0.0f ? Format<H>::from_float(0.0f) : v;
}

}  // namespace narrow
}  // namespace emu
}  // namespace mvit

#define MVIT_EMU_NARROW_MATH_(H, H2, low, high, pack)                                           \
  inline H2 mvit_emu_apply2_(H2 a, H (*f)(H)) {                                                 \
    return pack(f(low(a)), f(high(a)));                                                         \
  }                                                                                             \
  inline H hexp(H a) {                                                                          \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::exp, 1);                         \
  }                                                                                             \
  inline H hexp2(H a) {                                                                         \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::exp2, 2);                        \
  }                                                                                             \
  inline H hexp10(H a) {                                                                        \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::exp10, 3);                       \
  }                                                                                             \
  inline H hlog(H a) {                                                                          \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::log, 4);                         \
  }                                                                                             \
  inline H hlog2(H a) {                                                                         \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::log2, 5);                        \
  }                                                                                             \
  inline H hlog10(H a) {                                                                        \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::log10, 6);                       \
  }                                                                                             \
  inline H hsqrt(H a) {                                                                         \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::sqrt, 7);                        \
  }                                                                                             \
  inline H hrsqrt(H a) {                                                                        \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::rsqrt, 8);                       \
  }                                                                                             \
  inline H hrcp(H a) {                                                                          \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::rcp, 9);                         \
  }                                                                                             \
  inline H hsin(H a) {                                                                          \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::sin, 10);                        \
  }                                                                                             \
  inline H hcos(H a) {                                                                          \
    return ::mvit::emu::narrow::approx(a, ::mvit::emu::narrow::cos, 11);                        \
  }                                                                                             \
  inline H2 h2exp(H2 a) {                                                                       \
    return mvit_emu_apply2_(a, hexp);                                                           \
  }                                                                                             \
  inline H2 h2exp2(H2 a) {                                                                      \
    return mvit_emu_apply2_(a, hexp2);                                                          \
  }                                                                                             \
  inline H2 h2exp10(H2 a) {                                                                     \
    return mvit_emu_apply2_(a, hexp10);                                                         \
  }                                                                                             \
  inline H2 h2log(H2 a) {                                                                       \
    return mvit_emu_apply2_(a, hlog);                                                           \
  }                                                                                             \
  inline H2 h2log2(H2 a) {                                                                      \
    return mvit_emu_apply2_(a, hlog2);                                                          \
  }                                                                                             \
  inline H2 h2log10(H2 a) {                                                                     \
    return mvit_emu_apply2_(a, hlog10);                                                         \
  }                                                                                             \
  inline H2 h2sqrt(H2 a) {                                                                      \
    return mvit_emu_apply2_(a, hsqrt);                                                          \
  }                                                                                             \
  inline H2 h2rsqrt(H2 a) {                                                                     \
    return mvit_emu_apply2_(a, hrsqrt);                                                         \
  }                                                                                             \
  inline H2 h2rcp(H2 a) {                                                                       \
    return mvit_emu_apply2_(a, hrcp);                                                           \
  }                                                                                             \
  inline H2 h2sin(H2 a) {                                                                       \
    return mvit_emu_apply2_(a, hsin);                                                           \
  }                                                                                             \
  inline H2 h2cos(H2 a) {                                                                       \
    return mvit_emu_apply2_(a, hcos);                                                           \
  }                                                                                             \
  inline H __hfma(H a, H b, H c) {                                                              \
    return ::mvit::emu::narrow::fma_once(a, b, c);                                              \
  }                                                                                             \
  inline H __hfma_sat(H a, H b, H c) {                                                          \
    return ::mvit::emu::narrow::saturate(__hfma(a, b, c));                                      \
  }                                                                                             \
  inline H __hfma_relu(H a, H b, H c) {                                                         \
    return ::mvit::emu::narrow::relu(__hfma(a, b, c));                                          \
  }                                                                                             \
  inline H2 __hfma2(H2 a, H2 b, H2 c) {                                                         \
    return pack(__hfma(low(a), low(b), low(c)), __hfma(high(a), high(b), high(c)));             \
  }                                                                                             \
  inline H2 __hfma2_sat(H2 a, H2 b, H2 c) {                                                     \
    return pack(__hfma_sat(low(a), low(b), low(c)), __hfma_sat(high(a), high(b), high(c)));     \
  }                                                                                             \
  inline H2 __hfma2_relu(H2 a, H2 b, H2 c) {                                                    \
    return pack(__hfma_relu(low(a), low(b), low(c)), __hfma_relu(high(a), high(b), high(c)));   \
  }                                                                                             \
  /* atomicAdd: each 16-bit half is atomic on a GPU; one 32-bit CAS here is stronger. */        \
  inline H atomicAdd(H* p, H v) {                                                               \
    return ::mvit::emu::atomic_float_rmw<H, uint16_t>(p, [v](H x) { return __hadd(x, v); });    \
  }                                                                                             \
  inline H2 atomicAdd(H2* p, H2 v) {                                                            \
    return ::mvit::emu::atomic_float_rmw<H2, uint32_t>(p, [v](H2 x) { return __hadd2(x, v); }); \
  }
MVIT_EMU_NARROW_MATH_(__half, __half2, __low2half, __high2half, __halves2half2)
MVIT_EMU_NARROW_MATH_(__nv_bfloat16, __nv_bfloat162, __low2bfloat16, __high2bfloat16,
                      __halves2bfloat162)
#undef MVIT_EMU_NARROW_MATH_
