// mvit-counter-v1: the deterministic weights of tools/counter_weights.py (its docstring is the
// definition), bit for bit, so that tests rebuild exactly the weights the PyTorch reference
// fixtures (tests/fixtures/e2e) ran with and no weight file is committed. Host C++.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model.h"

namespace mvit {
namespace test {

uint64_t splitmix64(uint64_t x);
uint64_t fnv1a64(const std::string& name);

// The canonical tensor `name` of `shape` under `seed`, row-major fp32. Throws mvit::Error when no
// rule matches the name.
std::vector<float> counter_tensor(const std::string& name, const std::vector<int64_t>& shape,
                                  uint64_t seed);

// Every tensor of expected_tensors(spec), fp32, in that order.
std::vector<HostTensor> counter_weights(const ModelSpec& spec, uint64_t seed);

// A loaded model: counter_weights(spec, seed) written as a model directory into `dir` (which
// must exist) and loaded back through Model::load, as a user's model would be.
Model counter_model(const ModelSpec& spec, uint64_t seed, const std::string& dir);

}  // namespace test
}  // namespace mvit
