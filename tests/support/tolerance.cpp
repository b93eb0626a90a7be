#include "tests/support/tolerance.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/common/check.h"

namespace mvit {
namespace test {

Comparison compare_fp32(const std::vector<float>& got, const Reference& want) {
  return compare(got, want.value, kFp32Tolerance, want.scale);
}

Comparison compare_lowp(const std::vector<float>& got, const Reference& want,
                        const std::vector<float>& lowp) {
  // E: the reference's own error in this precision, measured exactly as the kernel's is.
  const Comparison own = compare(lowp, want.value, 0.0, want.scale);
  MVIT_CHECK(own.nonfinite == 0,
             "tolerance rule: the low-precision reference has %zu non-finite values (first at "
             "[%zu]): the case's inputs overflow the storage type",
             own.nonfinite, own.worst);
  return compare(got, want.value, std::max(2.0 * own.max_error, kFp32Tolerance), want.scale);
}

Comparison compare_rule(DType storage, bool tf32, const std::vector<float>& got,
                        const Reference& want, const std::vector<float>& lowp) {
  if (storage == DType::kF32 && !tf32) return compare_fp32(got, want);
  return compare_lowp(got, want, lowp);
}

float round_to(DType t, float v) {
  switch (t) {
    case DType::kF32:
      return v;
    case DType::kF16:
      return __half2float(__float2half_rn(v));
    case DType::kBF16:
      return __bfloat162float(__float2bfloat16_rn(v));
  }
  return v;
}

float round_to_tf32(float v) {
  // Add half of the dropped part's range to the magnitude and truncate (ties away from zero); a
  // carry into the exponent is the correct result.
  if (!std::isfinite(v)) return v;
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits = (bits + 0x1000u) & 0xffffe000u;
  std::memcpy(&v, &bits, sizeof bits);
  return v;
}

std::vector<float> round_to(DType t, std::vector<float> v) {
  for (float& x : v) x = round_to(t, x);
  return v;
}

std::vector<unsigned char> to_storage(DType t, const std::vector<float>& v) {
  std::vector<unsigned char> out(v.size() * dtype_size(t));
  for (size_t i = 0; i < v.size(); ++i) {
    unsigned char* dst = out.data() + i * dtype_size(t);
    if (t == DType::kF32) {
      std::memcpy(dst, &v[i], 4);
    } else if (t == DType::kF16) {
      const __half h = __float2half_rn(v[i]);
      std::memcpy(dst, &h, 2);
    } else {
      const __nv_bfloat16 h = __float2bfloat16_rn(v[i]);
      std::memcpy(dst, &h, 2);
    }
  }
  return out;
}

std::vector<float> from_storage(DType t, const std::vector<unsigned char>& bytes) {
  const size_t n = bytes.size() / dtype_size(t);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char* src = bytes.data() + i * dtype_size(t);
    if (t == DType::kF32) {
      std::memcpy(&out[i], src, 4);
    } else if (t == DType::kF16) {
      __half h;
      std::memcpy(&h, src, 2);
      out[i] = __half2float(h);
    } else {
      __nv_bfloat16 h;
      std::memcpy(&h, src, 2);
      out[i] = __bfloat162float(h);
    }
  }
  return out;
}

}  // namespace test
}  // namespace mvit
