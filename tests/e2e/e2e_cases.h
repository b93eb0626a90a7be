// The end-to-end cases: a fixture of tests/fixtures/e2e (PyTorch outputs of timm, Hugging Face
// transformers or the seed implementation, tools/make_reference.py), a precision and an attention
// path. One list feeds the e2e test (test_e2e.cpp) and `mvit verify`'s documentation.
#pragma once

#include <string>
#include <vector>

#include "mvit/mvit.h"
#include "tests/support/reference_outputs.h"

namespace mvit {
namespace test {

struct E2eCase {
  std::string fixture;  // directory under tests/fixtures/e2e
  Precision precision = Precision::kFp32;
  AttentionPath attention = AttentionPath::kAuto;
  bool full = false;         // slow: label `full`, left out of CI
  std::string name() const;  // "timm_xxs_256_fp32_auto" (+ "_Full")
};

std::vector<E2eCase> e2e_cases();

// The tolerance of each precision: precision_tolerance (tests/support/reference_outputs.h).
inline double e2e_tolerance(Precision p) {
  return precision_tolerance(p);
}

}  // namespace test
}  // namespace mvit
