// Conversions between fp32 and the storage formats the emulated libraries (cuBLAS, cuDNN) read and
// write, and the tf32 rounding of their reduced-precision modes (Note [input rounding] in
// cublas.cpp). Header only: both libraries inline these in their inner loops.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace mvit {
namespace emu {

// The nearest tf32 value (10 explicit mantissa bits, fp32's exponent range), ties away from zero
// as cvt.rna.tf32.f32 rounds. Adding half a tf32 ulp to the magnitude bits and truncating does it;
// a carry into the exponent is the correct result, up to inf. NaN is left alone: truncating its
// payload could turn it into inf.
inline float round_tf32(float x) {
  if (std::isnan(x)) return x;
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits = (bits + 0x1000u) & 0xffffe000u;
  std::memcpy(&x, &bits, sizeof bits);
  return x;
}

inline float round_f16(float x) {
  return __half2float(__float2half_rn(x));
}

inline float to_float(float v) {
  return v;
}
inline float to_float(__half v) {
  return __half2float(v);
}
inline float to_float(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

// fp32 to the storage type, round to nearest even (overflow becomes inf).
template <class T>
T from_float(float v);
template <>
inline float from_float<float>(float v) {
  return v;
}
template <>
inline __half from_float<__half>(float v) {
  return __float2half_rn(v);
}
template <>
inline __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

}  // namespace emu
}  // namespace mvit
