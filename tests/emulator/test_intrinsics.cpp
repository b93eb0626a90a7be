// The intrinsics against their definitions: the approximate float intrinsics stay within the
// CUDA Programming Guide's bounds yet are not exact (Note [approximate intrinsics] in
// mvit_emu/fast_math.h), the IEEE ones are correctly rounded, half and bfloat16 math rounds as
// documented (Note [half and bfloat16 under g++] in mvit_emu/half_math.h), warp match/reduce,
// asynchronous copies that land only at the wait, and misuse reports that name the source line.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "tests/emulator/intrinsics_kernels.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

using namespace intrin;

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
// Distance in ulps between two finite floats of the same sign (or zero).
int64_t ulps_apart(float a, float b) {
  auto ordered = [](float f) {
    const int64_t m = bits(f) & 0x7fffffffu;
    return (bits(f) >> 31) ? -m : m;
  };
  const int64_t d = ordered(a) - ordered(b);
  return d < 0 ? -d : d;
}

std::vector<float> run_float_fn(FloatFn fn, const std::vector<float>& x,
                                const std::vector<float>& y) {
  DeviceBuffer<float> dx(x), dy(y), dout(x.size());
  float_fn(fn, dx.get(), dy.get(), dout.get(), static_cast<int>(x.size()));
  return dout.download();
}
std::vector<float> run_float_fn(FloatFn fn, const std::vector<float>& x) {
  return run_float_fn(fn, x, std::vector<float>(x.size(), 1.0f));
}
float one_float_fn(FloatFn fn, float x, float y = 1.0f) {
  return run_float_fn(fn, {x}, {y})[0];
}

// n values spread evenly over [lo, hi].
std::vector<float> linear(float lo, float hi, int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = lo + (hi - lo) * static_cast<float>(i) / (n - 1);
  return v;
}
// n values spread evenly in log scale over [lo, hi] (lo > 0), with odd low bits.
std::vector<float> logarithmic(double lo, double hi, int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) {
    v[i] = static_cast<float>(lo * std::pow(hi / lo, static_cast<double>(i) / (n - 1)));
  }
  return v;
}

// Checks every result against `exact` and a bound; returns how many differ from the correctly
// rounded result (an approximation must not be exact everywhere).
template <class Exact, class Within>
int check_sweep(const char* name, const std::vector<float>& x, const std::vector<float>& got,
                Exact exact, Within within) {
  int inexact = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = exact(static_cast<double>(x[i]));
    EXPECT_TRUE(within(x[i], e, got[i]))
        << name << "(" << x[i] << ") = " << got[i] << ", exact " << e;
    inexact += got[i] != static_cast<float>(e);
  }
  return inexact;
}

auto within_ulps(double (*bound)(float)) {
  return [bound](float x, double e, float got) {
    return ulps_apart(got, static_cast<float>(e)) <= static_cast<int64_t>(bound(x));
  };
}
auto log_bound(double abs_in_range, int ulps) {
  return [abs_in_range, ulps](float x, double e, float got) {
    if (x >= 0.5f && x <= 2.0f) return std::fabs(got - e) <= abs_in_range;
    return ulps_apart(got, static_cast<float>(e)) <= ulps;
  };
}

TEST(Intrinsics, ApproximateFloatIntrinsicsStayWithinTheGuidesBoundsButAreNotExact) {
  const std::vector<float> ex = linear(-80.0f, 80.0f, 2001);
  EXPECT_GT(
      check_sweep(
          "__expf", ex, run_float_fn(FloatFn::kExpf, ex), [](double x) { return std::exp(x); },
          within_ulps([](float x) { return 2 + std::floor(std::fabs(1.173 * x)); })),
      0);
  const std::vector<float> e10 = linear(-30.0f, 30.0f, 1001);
  EXPECT_GT(check_sweep(
                "__exp10f", e10, run_float_fn(FloatFn::kExp10f, e10),
                [](double x) { return std::pow(10.0, x); },
                within_ulps([](float x) { return 2 + std::floor(std::fabs(2.95 * x)); })),
            0);
  const std::vector<float> lx = logarithmic(1e-30, 1e30, 2001);
  EXPECT_GT(check_sweep(
                "__logf", lx, run_float_fn(FloatFn::kLogf, lx),
                [](double x) { return std::log(x); }, log_bound(std::exp2(-21.41), 3)),
            0);
  EXPECT_GT(check_sweep(
                "__log2f", lx, run_float_fn(FloatFn::kLog2f, lx),
                [](double x) { return std::log2(x); }, log_bound(std::exp2(-22.0), 2)),
            0);
  EXPECT_GT(check_sweep(
                "__log10f", lx, run_float_fn(FloatFn::kLog10f, lx),
                [](double x) { return std::log10(x); }, log_bound(std::exp2(-24.0), 3)),
            0);
  const std::vector<float> near1 = linear(0.5f, 2.0f, 1001);
  EXPECT_GT(check_sweep(
                "__logf", near1, run_float_fn(FloatFn::kLogf, near1),
                [](double x) { return std::log(x); }, log_bound(std::exp2(-21.41), 3)),
            0);
  const std::vector<float> tx = linear(-3.14159f, 3.14159f, 2001);
  auto abs_bound = [](double b) {
    return [b](float, double e, float got) { return std::fabs(got - e) <= b; };
  };
  EXPECT_GT(check_sweep(
                "__sinf", tx, run_float_fn(FloatFn::kSinf, tx),
                [](double x) { return std::sin(x); }, abs_bound(std::exp2(-21.41))),
            0);
  EXPECT_GT(check_sweep(
                "__cosf", tx, run_float_fn(FloatFn::kCosf, tx),
                [](double x) { return std::cos(x); }, abs_bound(std::exp2(-21.19))),
            0);
  EXPECT_GT(check_sweep(
                "__sincosf", tx, run_float_fn(FloatFn::kSincosfSin, tx),
                [](double x) { return std::sin(x); }, abs_bound(std::exp2(-21.41))),
            0);
  const std::vector<float> rx = logarithmic(1e-38, 1e38, 2001);
  EXPECT_GT(
      check_sweep(
          "rsqrtf", rx, run_float_fn(FloatFn::kRsqrtf, rx),
          [](double x) { return 1.0 / std::sqrt(x); }, within_ulps([](float) { return 2.0; })),
      0);
  const std::vector<float> hx = linear(-5.0f, 5.0f, 1001);
  EXPECT_GT(
      check_sweep(
          "__tanhf", hx, run_float_fn(FloatFn::kTanhf, hx), [](double x) { return std::tanh(x); },
          [](float, double e, float got) { return std::fabs(got - e) <= std::fabs(e) * 0x1p-11; }),
      0);
}

TEST(Intrinsics, FdividefIsTwoUlpInRangeAndZeroForHugeDivisors) {
  const std::vector<float> y = logarithmic(0x1p-126, 0x1p126, 2001);
  std::vector<float> x(y.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 2 ? -1.0f : 1.0f) * (1.0f + i * 0.37f);
  const std::vector<float> got = run_float_fn(FloatFn::kFdividef, x, y);
  int inexact = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float exact = static_cast<float>(static_cast<double>(x[i]) / y[i]);
    EXPECT_LE(ulps_apart(got[i], exact), 2) << x[i] << " / " << y[i];
    inexact += got[i] != exact;
  }
  EXPECT_GT(inexact, 0);
  // The guide's special range 2^126 < |y| < 2^128: 0 for finite x, NaN for infinite x.
  EXPECT_EQ(bits(one_float_fn(FloatFn::kFdividef, 1.0f, 3e38f)), bits(0.0f));
  EXPECT_EQ(bits(one_float_fn(FloatFn::kFdividef, -1.0f, 3e38f)), bits(-0.0f));
  EXPECT_EQ(bits(one_float_fn(FloatFn::kFdividef, 1.0f, -0x1.8p126f)), bits(-0.0f));
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kFdividef, kInf, 3e38f)));
  EXPECT_EQ(one_float_fn(FloatFn::kFdivRn, 1.0f, 3e38f), 1.0f / 3e38f) << "IEEE division is not";
  EXPECT_EQ(one_float_fn(FloatFn::kFdividef, 1.0f, 0.0f), kInf);
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kFdividef, 0.0f, 0.0f)));
  EXPECT_EQ(one_float_fn(FloatFn::kFdividef, 1.0f, kInf), 0.0f);
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kFdividef, kInf, kInf)));
}

TEST(Intrinsics, ApproximateIntrinsicsKeepTheirSpecialValues) {
  EXPECT_EQ(one_float_fn(FloatFn::kRsqrtf, 0.0f), kInf);
  EXPECT_EQ(one_float_fn(FloatFn::kRsqrtf, -0.0f), -kInf);
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kRsqrtf, -1.0f)));
  EXPECT_EQ(bits(one_float_fn(FloatFn::kRsqrtf, kInf)), bits(0.0f));
  EXPECT_EQ(one_float_fn(FloatFn::kExpf, -kInf), 0.0f);
  EXPECT_EQ(one_float_fn(FloatFn::kExpf, kInf), kInf);
  EXPECT_EQ(one_float_fn(FloatFn::kExpf, 89.0f), kInf);
  EXPECT_EQ(one_float_fn(FloatFn::kExpf, -104.0f), 0.0f);
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kExpf, kNaN)));
  EXPECT_EQ(one_float_fn(FloatFn::kLogf, 0.0f), -kInf);
  EXPECT_EQ(one_float_fn(FloatFn::kLogf, kInf), kInf);
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kLogf, -1.0f)));
  EXPECT_EQ(one_float_fn(FloatFn::kLog2f, 0.0f), -kInf);
  // sinf's zeros are exact; near them the absolute bound still applies, and no result of
  // __sinf, __sincosf or __tanf is denormal (flushed to a zero of the same sign); __sincosf
  // flushes a denormal input too.
  EXPECT_EQ(bits(one_float_fn(FloatFn::kSinf, 0.0f)), bits(0.0f));
  EXPECT_EQ(bits(one_float_fn(FloatFn::kSinf, -0.0f)), bits(-0.0f));
  EXPECT_EQ(bits(one_float_fn(FloatFn::kSincosfSin, -1e-40f)), bits(-0.0f));
  EXPECT_EQ(bits(one_float_fn(FloatFn::kTanf, -0.0f)), bits(-0.0f));
  const std::vector<float> tiny = logarithmic(1e-45, 1e-20, 501);
  for (FloatFn fn : {FloatFn::kSinf, FloatFn::kTanf, FloatFn::kSincosfSin}) {
    const std::vector<float> got = run_float_fn(fn, tiny);
    for (size_t i = 0; i < tiny.size(); ++i) {
      EXPECT_NE(std::fpclassify(got[i]), FP_SUBNORMAL) << tiny[i] << " -> " << got[i];
      if (fn != FloatFn::kTanf) {
        EXPECT_LE(std::fabs(got[i] - tiny[i]), std::exp2(-21.41));
      }
    }
  }
  // __powf is exp2(y * __log2f(x)): no special cases of powf.
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kPowf, 0.0f, 0.0f)));
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kPowf, -2.0f, 2.0f)));
  EXPECT_NEAR(one_float_fn(FloatFn::kPowf, 2.0f, 10.0f), 1024.0f, 1024.0f * 1e-5f);
}

TEST(Intrinsics, ApproximationsAreDeterministic) {
  const std::vector<float> x = linear(-10.0f, 10.0f, 513);
  for (FloatFn fn : {FloatFn::kExpf, FloatFn::kSinf, FloatFn::kRsqrtf}) {
    const std::vector<float> a = run_float_fn(fn, x), b = run_float_fn(fn, x);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  }
}

// True when r is the float nearest 1/sqrt(x): the midpoints m around r satisfy
// m_low^2 x <= 1 <= m_high^2 x (in long double, with 64 bits enough for this sweep's cases).
bool is_rounded_rsqrt(float x, float r) {
  const long double lo = 0.5L * (static_cast<long double>(r) + std::nextafter(r, 0.0f));
  const long double hi = 0.5L * (static_cast<long double>(r) + std::nextafter(r, kInf));
  return lo * lo * x <= 1.0L && hi * hi * x >= 1.0L;
}

TEST(Intrinsics, IeeeIntrinsicsAreCorrectlyRounded) {
  std::vector<float> x = logarithmic(1e-45, 3e38, 4001);
  for (int i = 0; i < 2000; ++i) x.push_back(1.0f + i * 0x1p-20f);  // dense around 1
  const std::vector<float> r = run_float_fn(FloatFn::kFrsqrtRn, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_TRUE(is_rounded_rsqrt(x[i], r[i])) << "__frsqrt_rn(" << x[i] << ") = " << r[i];
  }
  EXPECT_EQ(one_float_fn(FloatFn::kFrsqrtRn, 0.0f), kInf);
  EXPECT_EQ(one_float_fn(FloatFn::kFrsqrtRn, -0.0f), -kInf);
  EXPECT_EQ(bits(one_float_fn(FloatFn::kFrsqrtRn, kInf)), bits(0.0f));
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kFrsqrtRn, -2.0f)));
  EXPECT_TRUE(std::isnan(one_float_fn(FloatFn::kFrsqrtRn, kNaN)));
  EXPECT_EQ(one_float_fn(FloatFn::kFrsqrtRn, 4.0f), 0.5f);
  const std::vector<float> q =
      run_float_fn(FloatFn::kFdivRn, x, std::vector<float>(x.size(), 3.0f));
  const std::vector<float> rc = run_float_fn(FloatFn::kFrcpRn, x);
  const std::vector<float> sq = run_float_fn(FloatFn::kFsqrtRn, x);
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(q[i], x[i] / 3.0f);
    EXPECT_EQ(rc[i], 1.0f / x[i]);
    EXPECT_EQ(sq[i], std::sqrt(x[i]));
  }
}

class IntrinsicFaults : public DeviceFaultTest {};

TEST(Intrinsics, FloatToIntRoundsAsNamed) {
  const std::vector<float> x = {2.5f, 3.5f,  -2.5f,         -0.5f,
                                1.7f, -1.7f, 2147483520.0f, -2147483648.0f};
  DeviceBuffer<float> dx(x);
  DeviceBuffer<int> dout(4 * x.size());
  float_to_int(dx.get(), dout.get(), static_cast<int>(x.size()));
  const std::vector<int> want = {
      2,          2,          2,          3,          4,         3,         3,         4,
      -2,         -2,         -3,         -2,         0,         0,         -1,        0,
      2,          1,          1,          2,          -2,        -1,        -2,        -1,
      2147483520, 2147483520, 2147483520, 2147483520, INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
  EXPECT_EQ(dout.download(), want);
}

TEST_F(IntrinsicFaults, FloatToIntOutOfRangeOrNaNIsReportedWithItsLine) {
  for (float bad : {3e9f, -3e9f, kNaN}) {
    const std::string text = fault_text([&] {
      DeviceBuffer<float> dx(std::vector<float>{bad});
      DeviceBuffer<int> dout(4);
      float_to_int(dx.get(), dout.get(), 1);
    });
    EXPECT_TRUE(contains(text, "__float2int_rn: the value is NaN or out of range")) << text;
    EXPECT_TRUE(contains(text, "intrinsics_kernels.cu:" + std::to_string(kLineFloat2Int))) << text;
    cudaDeviceReset();
  }
}

// ---- half and bfloat16 --------------------------------------------------------------------------

struct NarrowFormat {
  bool bf16;
  int digits, min_exp, max_exp;
};
const NarrowFormat kHalf{false, 11, -14, 15}, kBf16{true, 8, -126, 127};

float narrow_to_float(uint16_t b, bool bf16) {
  if (bf16) return __bfloat162float(__ushort_as_bfloat16(b));
  return __half2float(__ushort_as_half(b));
}
uint16_t float_to_narrow(float f, bool bf16) {
  if (bf16) return __bfloat16_as_ushort(__float2bfloat16_rn(f));
  return __half_as_ushort(__float2half_rn(f));
}

// The exact value sig * 2^exp (sig an integer) rounded once to nearest even in `fmt`, as bits.
uint16_t round_exact(__int128 sig, int exp, bool negative_zero, const NarrowFormat& fmt) {
  if (sig == 0) return float_to_narrow(negative_zero ? -0.0f : 0.0f, fmt.bf16);
  const bool neg = sig < 0;
  unsigned __int128 m = neg ? -static_cast<unsigned __int128>(sig) : sig;
  int len = 0;
  for (unsigned __int128 t = m; t != 0; t >>= 1) ++len;
  const int value_exp = std::max(len - 1 + exp, fmt.min_exp);
  const int ulp_exp = value_exp - (fmt.digits - 1);
  const int shift = ulp_exp - exp;
  unsigned __int128 q = m;
  if (shift > 0) {
    q = m >> shift;
    const unsigned __int128 rem = m & ((static_cast<unsigned __int128>(1) << shift) - 1);
    const unsigned __int128 half = static_cast<unsigned __int128>(1) << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
  } else {
    q = m << -shift;
  }
  const double r = std::ldexp(static_cast<double>(q), ulp_exp);
  const float f = r >= std::ldexp(1.0, fmt.max_exp + 1) ? kInf : static_cast<float>(r);
  return float_to_narrow(neg ? -f : f, fmt.bf16);
}

// a*b + c exactly, as an integer multiple of 2^(2 unit): a and b are multiples of 2^unit, and c
// of 2^(2 unit), in the sweeps below (unit -24 for half, -19 for bfloat16 with small exponents).
uint16_t reference_fma(uint16_t a, uint16_t b, uint16_t c, const NarrowFormat& fmt, int unit) {
  auto sig = [&](uint16_t v, int u) {
    return static_cast<__int128>(std::ldexp(static_cast<double>(narrow_to_float(v, fmt.bf16)), -u));
  };
  const __int128 product = sig(a, unit) * sig(b, unit);
  const __int128 sum = product + sig(c, 2 * unit);
  const float fa = narrow_to_float(a, fmt.bf16), fb = narrow_to_float(b, fmt.bf16);
  const float fc = narrow_to_float(c, fmt.bf16);
  const bool neg_zero =
      product == 0 && fc == 0.0f && (std::signbit(fa) != std::signbit(fb)) && std::signbit(fc);
  return round_exact(sum, 2 * unit, neg_zero, fmt);
}

// Deterministic pseudo-random finite values with exponents in [lo, hi].
std::vector<uint16_t> random_narrow(int n, int lo, int hi, const NarrowFormat& fmt, uint32_t seed) {
  std::vector<uint16_t> v(n);
  uint32_t s = seed;
  for (int i = 0; i < n; ++i) {
    s = s * 1664525u + 1013904223u;
    const int e = lo + static_cast<int>((s >> 8) % static_cast<uint32_t>(hi - lo + 1));
    const double m = 1.0 + static_cast<double>((s >> 16) & 0x3ff) / 1024.0;
    const double sign = (s >> 30) & 1 ? -1.0 : 1.0;
    v[i] = float_to_narrow(static_cast<float>(sign * std::ldexp(m, e)), fmt.bf16);
  }
  return v;
}

void check_fma(const NarrowFormat& fmt, int lo, int hi, int c_lo, int c_hi, int unit) {
  const int n = 6000;
  std::vector<uint16_t> a = random_narrow(n, lo, hi, fmt, 1), b = random_narrow(n, lo, hi, fmt, 2),
                        c = random_narrow(n, c_lo, c_hi, fmt, 3);
  // Products on a midpoint of the format (3 * 683 = 2049 in half, 7 * 37 = 259 in bfloat16),
  // nudged by the smallest c of either sign: one rounding of the exact sum differs from rounding
  // a*b + c twice.
  a[0] = a[1] = float_to_narrow(fmt.bf16 ? 7.0f : 3.0f, fmt.bf16);
  b[0] = b[1] = float_to_narrow(fmt.bf16 ? 37.0f : 683.0f, fmt.bf16);
  c[0] = float_to_narrow(std::ldexp(1.0f, 2 * unit), fmt.bf16);
  c[1] = static_cast<uint16_t>(c[0] | 0x8000);
  c[2] =
      float_to_narrow(-narrow_to_float(a[2], fmt.bf16) * narrow_to_float(b[2], fmt.bf16), fmt.bf16);
  DeviceBuffer<uint16_t> da(a), db(b), dc(c), dout(n), dout2(2 * n);
  narrow_fma(fmt.bf16, da.get(), db.get(), dc.get(), dout.get(), dout2.get(), n);
  const std::vector<uint16_t> got = dout.download(), got2 = dout2.download();
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(got[i], reference_fma(a[i], b[i], c[i], fmt, unit))
        << (fmt.bf16 ? "bf16" : "half") << " fma " << i << ": " << narrow_to_float(a[i], fmt.bf16)
        << " * " << narrow_to_float(b[i], fmt.bf16) << " + " << narrow_to_float(c[i], fmt.bf16);
    EXPECT_EQ(got2[i], got[i]) << "__hfma2 low half " << i;
    EXPECT_EQ(got2[n + i], got[i]) << "__hfma2 high half " << i;
  }
}

TEST(Intrinsics, HalfFmaIsOneRoundingOfTheExactResult) {
  check_fma(kHalf, -24, 15, -24, 15, -24);
}

TEST(Intrinsics, Bfloat16FmaIsOneRoundingOfTheExactResult) {
  check_fma(kBf16, -12, 12, -24, 24, -19);
}

double narrow_exact(NarrowFn fn, double x) {
  switch (fn) {
    case NarrowFn::kExp:
      return std::exp(x);
    case NarrowFn::kExp2:
      return std::exp2(x);
    case NarrowFn::kLog:
      return std::log(x);
    case NarrowFn::kSqrt:
      return std::sqrt(x);
    case NarrowFn::kRsqrt:
      return 1.0 / std::sqrt(x);
    case NarrowFn::kRcp:
      return 1.0 / x;
    case NarrowFn::kSin:
      return std::sin(x);
    case NarrowFn::kCos:
      return std::cos(x);
  }
  return 0.0;
}

TEST(Intrinsics, HalfAndBfloat16MathIsWithinOneUlpWithExactSpecialValues) {
  int inexact = 0;
  for (const NarrowFormat& fmt : {kHalf, kBf16}) {
    std::vector<uint16_t> in;
    for (uint32_t b = 0; b < 0x10000; b += 7) in.push_back(static_cast<uint16_t>(b));
    for (uint16_t special :
         {0x0000, 0x8000, 0x0001, 0x8001, 0x3c00, 0x3f80, 0xbf80, 0x7c00, 0xfc00, 0x7f80, 0xff80})
      in.push_back(special);
    const int n = static_cast<int>(in.size());
    const double max_finite = std::ldexp(2.0 - std::ldexp(1.0, 1 - fmt.digits), fmt.max_exp);
    for (NarrowFn fn : {NarrowFn::kExp, NarrowFn::kExp2, NarrowFn::kLog, NarrowFn::kSqrt,
                        NarrowFn::kRsqrt, NarrowFn::kRcp, NarrowFn::kSin, NarrowFn::kCos}) {
      DeviceBuffer<uint16_t> din(in), dout(n), dout2(n);
      narrow_fn(fn, fmt.bf16, din.get(), dout.get(), dout2.get(), n);
      const std::vector<uint16_t> got = dout.download(), got2 = dout2.download();
      for (int i = 0; i < n; ++i) {
        float x = narrow_to_float(in[i], fmt.bf16);
        if (fmt.bf16 && std::fpclassify(x) == FP_SUBNORMAL) x = std::copysign(0.0f, x);
        const double e = narrow_exact(fn, x);
        const float g = narrow_to_float(got[i], fmt.bf16);
        const std::string what = std::string(fmt.bf16 ? "bf16" : "half") + " fn " +
                                 std::to_string(static_cast<int>(fn)) + " of " + std::to_string(x) +
                                 " = " + std::to_string(g);
        EXPECT_EQ(got2[i], got[i]) << what << " (h2 form)";
        if (std::isnan(x) || std::isnan(e)) {
          EXPECT_EQ(got[i], 0x7fff) << what << ": the canonical NaN";
        } else if (std::isinf(e) || e == 0.0) {
          EXPECT_EQ(bits(g), bits(static_cast<float>(e))) << what;
        } else if (std::fabs(e) > max_finite) {
          EXPECT_TRUE(std::isinf(g) || std::fabs(g) == max_finite) << what << ": overflow";
          EXPECT_EQ(std::signbit(g), std::signbit(e)) << what;
        } else if (fmt.bf16 && std::fabs(e) < 0x1p-126) {
          EXPECT_EQ(bits(g), bits(std::copysign(0.0f, static_cast<float>(e)))) << what << ": ftz";
        } else {
          const uint16_t rounded = float_to_narrow(static_cast<float>(e), fmt.bf16);
          const int exp = std::max(std::ilogb(e), fmt.min_exp);
          const double ulp = std::ldexp(1.0, exp - (fmt.digits - 1));
          EXPECT_LT(std::fabs(g - e), ulp) << what;
          inexact += got[i] != rounded;
        }
      }
    }
  }
  EXPECT_GT(inexact, 0) << "the approximations round like the GPU's, not exactly";
}

TEST(Intrinsics, HeaderProvidedHalfFunctionsMatchTheirDefinitions) {
  DeviceBuffer<uint32_t> dout(kNarrowMiscResults);
  narrow_misc(dout.get());
  const std::vector<uint32_t> got = dout.download();
  EXPECT_EQ(got[0], 0x7fff3c00u) << "__hmax2: the number beats NaN; two NaNs give canonical NaN";
  EXPECT_EQ(got[1], 0x00000000u) << "__hmax2(+0, -0) = +0 both ways";
  EXPECT_EQ(got[2], 0x7c003555u) << "__h2div: 1/3 rounded, 1/+0 = +inf";
  EXPECT_TRUE((got[3] & 0x7fffu) > 0x7c00u) << "__h2div 0/0 is NaN";
  EXPECT_EQ(got[3] >> 16, 0xfc00u) << "__h2div 1/-0 = -inf";
  EXPECT_EQ(got[4], 0x7c003555u) << "__float22half2_rn: 65520 ties to even, which is inf";
  EXPECT_EQ(got[5], 0x00007bffu) << "__float22half2_rn: 65519 -> 65504, 2^-25 ties to 0";
  EXPECT_EQ(got[6], 0x80003c00u) << "__halves2half2(1, -0)";
  EXPECT_EQ(got[7], bits(__half2float(__float2half_rn(0.1f)))) << "__low2float";
  EXPECT_EQ(got[8], got[7]) << "__high2float";
  EXPECT_EQ(got[9], 0x00004000u) << "__hmax2((1, -2), (2, +0))";
  EXPECT_EQ(got[10], 0x7fff3f80u) << "bf16 __hmax2 with NaNs";
  EXPECT_EQ(got[11], 0x00000000u) << "bf16 __hmax2(+0, -0)";
  EXPECT_EQ(got[12], 0x7f803eabu) << "bf16 __h2div: 1/3 rounded up, 1/+0 = +inf";
  EXPECT_EQ(got[13], 0x3f823f80u) << "__float22bfloat162_rn: both ties go to even";
  EXPECT_EQ(got[14], 0x00017f80u) << "__float22bfloat162_rn: overflow to inf, 2^-133 kept";
  EXPECT_EQ(got[15], 0x80003f80u) << "__halves2bfloat162(1, -0)";
  EXPECT_EQ(got[16], 0x3dcd0000u) << "bf16 __low2float(0.1)";
  EXPECT_EQ(got[17], got[16]) << "bf16 __high2float";
  EXPECT_EQ(got[18], 0x7bff6801u) << "__hfma2: 2049 + 2^-24 rounds up; 131008 - 65504 exact";
  EXPECT_EQ(got[19], 0x7fff6800u) << "__hfma2: 2049 - 2^-24 rounds down; NaN is canonical";
  EXPECT_EQ(got[20], 0x7fff8000u) << "__hfma2: 1 * -0 + -0 = -0; inf * 0 + 1 = NaN";
  EXPECT_EQ(got[21], 0x00003c00u) << "__hfma2_sat clamps to [0, 1]";
  EXPECT_EQ(got[22], 0x00003800u) << "__hfma2_relu clamps negatives to 0";
  EXPECT_EQ(got[23], 0x43014381u) << "bf16 __hfma2: 259 - 2^-100 rounds down to 258";
}

TEST(Intrinsics, ShufflesMoveHalf2AndBfloat162Bits) {
  const int n = 32;
  std::vector<uint32_t> in(n);
  for (int t = 0; t < n; ++t) in[t] = (0x3c00u + t) | ((0xbf80u + t) << 16);
  DeviceBuffer<uint32_t> din(in), dout(4 * n);
  narrow_shuffles(din.get(), dout.get(), n);
  const std::vector<uint32_t> got = dout.download();
  for (int t = 0; t < n; ++t) {
    EXPECT_EQ(got[0 * n + t], in[t ^ 1]) << t;
    EXPECT_EQ(got[1 * n + t], in[3]) << t;
    EXPECT_EQ(got[2 * n + t], in[t + 1 < n ? t + 1 : t]) << t;
    EXPECT_EQ(got[3 * n + t], in[t >= 2 ? t - 2 : t]) << t;
  }
}

TEST(Intrinsics, AtomicAddOnHalf2AndBfloat16RoundsEachAddition) {
  DeviceBuffer<uint32_t> h2(std::vector<uint32_t>{0});
  DeviceBuffer<uint16_t> bf(std::vector<uint16_t>{0});
  narrow_atomics(h2.get(), bf.get(), 8, 128);
  const uint32_t got = h2.download()[0];
  EXPECT_EQ(narrow_to_float(got & 0xffffu, false), 1024.0f);
  EXPECT_EQ(narrow_to_float(got >> 16, false), 512.0f);
  // From 256 on, 1 is half a bfloat16 ulp and ties to even: the sum stays at 256.
  EXPECT_EQ(narrow_to_float(bf.download()[0], true), 256.0f);
}

// ---- warp match, reduce, activemask
// --------------------------------------------------------------

TEST(Intrinsics, ActiveMaskMatchAndReduceFollowTheirDefinitions) {
  const int n = 64;
  std::vector<int> in(n);
  for (int t = 0; t < n; ++t) in[t] = t * 7 - 100;
  DeviceBuffer<int> din(in);
  DeviceBuffer<uint32_t> dout(kWarpResults * n);
  warp_match_reduce(din.get(), dout.get(), n);
  const std::vector<uint32_t> got = dout.download();
  for (int w = 0; w < n / 32; ++w) {
    const int* v = &in[w * 32];
    int sum = 0, imin = v[0], imax = v[0];
    unsigned umin = v[0], umax = v[0], uand = ~0u, uor = 0, uxor = 0, low_sum = 0;
    bool all_same = true;
    for (int l = 0; l < 32; ++l) {
      const unsigned u = static_cast<unsigned>(v[l]);
      sum += v[l], imin = std::min(imin, v[l]), imax = std::max(imax, v[l]);
      umin = std::min(umin, u), umax = std::max(umax, u);
      uand &= u, uor |= u, uxor ^= u;
      if (l < 16) low_sum += u;
      all_same = all_same && v[l] / 64 == v[0] / 64;
    }
    for (int l = 0; l < 32; ++l) {
      const int t = w * 32 + l;
      auto at = [&](int k) { return got[k * n + t]; };
      uint32_t same3 = 0, same_pos = 0;
      for (int k = 0; k < 32; ++k) {
        if (v[k] % 3 == v[l] % 3) same3 |= 1u << k;
        if (k % 2 == l % 2) same_pos |= 1u << k;
      }
      EXPECT_EQ(at(0), 1u << l) << "__activemask: only the caller (Note [__activemask])";
      EXPECT_EQ(at(1), same3) << "__match_any_sync lane " << t;
      EXPECT_EQ(at(2), all_same ? 0xffffffffu : 0u) << "__match_all_sync lane " << t;
      EXPECT_EQ(at(3), all_same ? 1u : 0u) << "__match_all_sync pred lane " << t;
      EXPECT_EQ(at(4), same_pos) << "__match_any_sync compares bits: +0 and -0 differ";
      EXPECT_EQ(at(5), static_cast<uint32_t>(sum));
      EXPECT_EQ(at(6), static_cast<uint32_t>(imin));
      EXPECT_EQ(at(7), umin);
      EXPECT_EQ(at(8), static_cast<uint32_t>(imax));
      EXPECT_EQ(at(9), umax);
      EXPECT_EQ(at(10), uand);
      EXPECT_EQ(at(11), uor);
      EXPECT_EQ(at(12), uxor);
      EXPECT_EQ(at(13), l < 16 ? low_sum : 0u);
      EXPECT_EQ(at(14), 1u << l) << "64-bit __match_any_sync: distinct values";
      EXPECT_EQ(at(15), l < 16 ? 0x0000aaaau : 0u) << "__ballot_sync over lanes 0-15";
    }
  }
}

// ---- misuse reports carry the call's source line ----------------------------------------------

class MisuseTest : public DeviceFaultTest {
 protected:
  static std::string fault_of(WarpMisuse what) {
    return fault_text([&] {
      DeviceBuffer<int> out(32);
      warp_misuse(what, out.get());
    });
  }
  static std::string line(int l) { return "intrinsics_kernels.cu:" + std::to_string(l); }
};

TEST_F(MisuseTest, AbsentLanesNameTheLine) {
  const std::string text = fault_of(WarpMisuse::kShflAbsentLanes);
  EXPECT_TRUE(contains(text,
                       "Invalid arguments: __shfl_sync mask 0xffffffff names lanes "
                       "0xffff0000 that do not exist"))
      << text;
  EXPECT_TRUE(contains(text, line(kLineShflAbsentLanes))) << text;
}

TEST_F(MisuseTest, BadWidthNamesTheLine) {
  const std::string text = fault_of(WarpMisuse::kShflBadWidth);
  EXPECT_TRUE(contains(text, "__shfl_xor_sync width 3 is not a power of two")) << text;
  EXPECT_TRUE(contains(text, line(kLineShflBadWidth))) << text;
}

TEST_F(MisuseTest, MaskWithoutTheCallerNamesTheLine) {
  const std::string text = fault_of(WarpMisuse::kShflMaskWithoutMe);
  EXPECT_TRUE(contains(text, "does not name the calling lane")) << text;
  EXPECT_TRUE(contains(text, line(kLineShflMaskWithoutMe))) << text;
}

TEST_F(MisuseTest, ExitedLanesNameTheLine) {
  const std::string text = fault_of(WarpMisuse::kShflExitedLanes);
  EXPECT_TRUE(contains(text, "exited")) << text;
  EXPECT_TRUE(contains(text, line(kLineShflExitedLanes))) << text;
}

TEST_F(MisuseTest, ReduceAndMatchAreCheckedLikeShuffles) {
  std::string text = fault_of(WarpMisuse::kReduceAbsentLanes);
  EXPECT_TRUE(contains(text,
                       "Invalid arguments: __reduce_add_sync mask 0xffffffff names lanes "
                       "0xffff0000 that do not exist"))
      << text;
  EXPECT_TRUE(contains(text, line(kLineReduceAbsentLanes))) << text;
  cudaDeviceReset();
  text = fault_of(WarpMisuse::kMatchEmptyMask);
  EXPECT_TRUE(contains(text, "__match_any_sync mask 0x00000000 does not name the calling lane"))
      << text;
  EXPECT_TRUE(contains(text, line(kLineMatchEmptyMask))) << text;
}

TEST_F(MisuseTest, ReduceWithDifferentTypesOrOpsIsDivergent) {
  std::string text = fault_of(WarpMisuse::kReduceMixedTypes);
  EXPECT_TRUE(contains(text, "__reduce_min_sync (mask 0xffffffff) with values of different types"))
      << text;
  EXPECT_TRUE(contains(text, line(kLineReduceMixedInt))) << text;
  EXPECT_TRUE(contains(text, line(kLineReduceMixedUnsigned))) << text;
  cudaDeviceReset();
  text = fault_of(WarpMisuse::kReduceVsShuffle);
  EXPECT_TRUE(contains(text, "Divergent thread(s) in warp")) << text;
  EXPECT_TRUE(contains(text, "__reduce_add_sync")) << text;
  EXPECT_TRUE(contains(text, "__shfl_sync")) << text;
}

// ---- asynchronous copies
// --------------------------------------------------------------------------

std::vector<float> copy_run(CopyMode mode, int threads, std::vector<float>* src_out) {
  std::vector<float> src(8 * threads);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i + 1);
  *src_out = src;
  DeviceBuffer<float> dsrc(src), dout(8 * threads);
  pipeline_copy(mode, dsrc.get(), dout.get(), threads);
  return dout.download();
}

TEST(Intrinsics, AsyncCopyLandsAtTheWait) {
  const int n = 64;
  std::vector<float> src;
  std::vector<float> got = copy_run(CopyMode::kWaitThenBarrier, n, &src);
  for (int t = 0; t < n; ++t) {
    for (int k = 0; k < 4; ++k) EXPECT_EQ(got[4 * t + k], src[4 * ((t + 1) % n) + k]) << t;
  }
  got = copy_run(CopyMode::kZfill, n, &src);
  for (int t = 0; t < n; ++t) {
    EXPECT_EQ(got[4 * t + 0], src[4 * t + 0]);
    EXPECT_EQ(got[4 * t + 1], src[4 * t + 1]);
    EXPECT_EQ(bits(got[4 * t + 2]), 0u) << "zfill zeroes the tail";
    EXPECT_EQ(bits(got[4 * t + 3]), 0u);
  }
}

TEST(Intrinsics, AsyncCopyWithoutItsWaitLeavesThePoison) {
  const int n = 64;
  std::vector<float> src;
  std::vector<float> got = copy_run(CopyMode::kNoWait, n, &src);
  for (int t = 0; t < n; ++t) {
    for (int k = 0; k < 4; ++k) {
      EXPECT_NE(got[4 * t + k], src[4 * ((t + 1) % n) + k])
          << "a barrier does not wait for another thread's copies";
    }
  }
  got = copy_run(CopyMode::kReadBeforeWait, n, &src);
  for (int t = 0; t < n; ++t) {
    for (int k = 0; k < 4; ++k) EXPECT_NE(got[4 * t + k], src[4 * t + k]) << "read before wait";
  }
  got = copy_run(CopyMode::kTwoBatches, n, &src);
  for (int t = 0; t < n; ++t) {
    for (int k = 0; k < 4; ++k) {
      EXPECT_EQ(got[8 * t + k], src[4 * t + k]) << "wait_prior(1) completes the older batch";
      EXPECT_NE(got[8 * t + 4 + k], src[4 * (n + t) + k]) << "but not the newest";
    }
  }
}

TEST_F(IntrinsicFaults, AsyncCopyMisuseIsReportedWithItsLine) {
  struct Case {
    CopyMisuse what;
    const char* text;
    int line;
  };
  for (const Case& c :
       {Case{CopyMisuse::kSize12, "size_and_align 12 is not 4, 8 or 16", kLineCopySize12},
        Case{CopyMisuse::kMisaligned, "must be aligned to size_and_align 16", kLineCopyMisaligned},
        Case{CopyMisuse::kZfillTooLarge, "zfill 12 exceeds size_and_align 8", kLineCopyZfill}}) {
    const std::string text = fault_text([&] {
      DeviceBuffer<float> src(8);
      pipeline_misuse(c.what, src.get());
    });
    EXPECT_TRUE(contains(text, c.text)) << text;
    EXPECT_TRUE(contains(text, "intrinsics_kernels.cu:" + std::to_string(c.line))) << text;
    cudaDeviceReset();
  }
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
