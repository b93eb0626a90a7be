#include "tests/support/random.h"

#include <cuda_fp16.h>

#include <cmath>
#include <random>

namespace mvit {
namespace test {

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  // 24 random bits -> [0, 1): exact in float, and independent of the standard library's
  // implementation of uniform_real_distribution.
  for (float& x : v) x = lo + (hi - lo) * static_cast<float>(rng() >> 8) * 0x1p-24f;
  return v;
}

std::vector<float> quantize(std::vector<float> v, float step) {
  for (float& x : v) x = std::nearbyint(x / step) * step;
  return v;
}

std::vector<float> round_to_half(std::vector<float> v) {
  for (float& x : v) x = __half2float(__float2half_rn(x));
  return v;
}

uint32_t seed_of(const std::string& name) {
  uint32_t h = 2166136261u;
  for (char ch : name) h = (h ^ static_cast<unsigned char>(ch)) * 16777619u;
  return h;
}

}  // namespace test
}  // namespace mvit
