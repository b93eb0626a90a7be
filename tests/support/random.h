// Reproducible random inputs for tests, the demo and the benchmarks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mvit {
namespace test {

// n floats uniform in [lo, hi), the same for the same seed on every machine (std::mt19937 is
// specified exactly; the distribution is computed here, not by the library's uniform_real).
std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);

// A seed from a case's name (FNV-1a): distinct inputs per case, the same on every run.
uint32_t seed_of(const std::string& name);

// The same values rounded to multiples of `step` (a power of two): inputs whose sums are exact in
// fp32 as long as every partial sum stays below 2^24 * step in magnitude.
std::vector<float> quantize(std::vector<float> v, float step);

// The same values rounded to fp16 (round to nearest even) and back: inputs an fp16 kernel reads
// exactly, so its reference can use the floats.
std::vector<float> round_to_half(std::vector<float> v);

}  // namespace test
}  // namespace mvit
