// Compiled with -ffp-contract=off (tests/CMakeLists.txt): a fused multiply-add in the float64
// expressions below would change the last bit and break the agreement with numpy.
#include "tests/support/counter_weights.h"

#include <cmath>
#include <cstring>

#include "kernels/common/check.h"

namespace mvit {
namespace test {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  uint64_t z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a64(const std::string& name) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char b : name) h = (h ^ b) * 0x100000001B3ull;
  return h;
}

namespace {

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

double u(uint64_t base, uint64_t i, uint64_t j) {
  return static_cast<double>(splitmix64(base + 4 * i + j) >> 11) * 0x1p-53;
}

}  // namespace

std::vector<float> counter_tensor(const std::string& name, const std::vector<int64_t>& shape,
                                  uint64_t seed) {
  uint64_t count = 1;
  for (int64_t d : shape) count *= static_cast<uint64_t>(d);
  const uint64_t base = splitmix64(seed ^ fnv1a64(name));
  // The first matching rule of tools/counter_weights.py RULES.
  bool is_uniform = false;
  double mean = 0.0, scale = 0.0;
  if (ends_with(name, ".bn.running_var")) {
    is_uniform = true, mean = 0.5;
  } else if (ends_with(name, ".bn.running_mean")) {
    scale = 0.1;
  } else if (ends_with(name, ".bn.weight")) {
    mean = 1.0, scale = 0.2;
  } else if (ends_with(name, ".bn.bias")) {
    scale = 0.1;
  } else if (shape.size() >= 2) {
    uint64_t fan_in = 1;
    for (size_t d = 1; d < shape.size(); ++d) fan_in *= static_cast<uint64_t>(shape[d]);
    scale = std::sqrt(2.0 / static_cast<double>(fan_in));
  } else if (shape.size() == 1 && ends_with(name, ".weight")) {
    mean = 1.0, scale = 0.1;
  } else if (shape.size() == 1 && ends_with(name, ".bias")) {
    scale = 0.05;
  } else {
    MVIT_CHECK(false, "mvit-counter-v1: no rule for tensor '%s' of rank %zu", name.c_str(),
               shape.size());
  }
  std::vector<float> out(count);
  for (uint64_t i = 0; i < count; ++i) {
    if (is_uniform) {
      out[i] = static_cast<float>(mean + u(base, i, 0));
      continue;
    }
    const double z = ((((u(base, i, 0) + u(base, i, 1)) + u(base, i, 2)) + u(base, i, 3)) - 2.0) *
                     1.7320508075688772;
    const double t = scale * z;
    out[i] = static_cast<float>(mean + t);
  }
  return out;
}

std::vector<HostTensor> counter_weights(const ModelSpec& spec, uint64_t seed) {
  std::vector<HostTensor> out;
  for (const ExpectedTensor& e : expected_tensors(spec)) {
    const std::vector<float> v = counter_tensor(e.name, e.shape, seed);
    HostTensor t;
    t.name = e.name;
    t.dtype = WeightDType::kF32;
    t.shape = e.shape;
    t.bytes.assign(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
    out.push_back(std::move(t));
  }
  return out;
}

Model counter_model(const ModelSpec& spec, uint64_t seed, const std::string& dir) {
  save_model_dir(dir, spec, counter_weights(spec, seed),
                 {{"generator", "mvit-counter-v1"}, {"generator_seed", std::to_string(seed)}});
  return Model::load(dir);
}

}  // namespace test
}  // namespace mvit
