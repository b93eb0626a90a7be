#include "tests/e2e/e2e_cases.h"

namespace mvit {
namespace test {

std::string E2eCase::name() const {
  return fixture + "_" + to_string(precision) + "_" + to_string(attention) + (full ? "_Full" : "");
}

std::vector<E2eCase> e2e_cases() {
  const char* const fixtures[] = {"timm_xxs_256", "timm_xs_256",  "timm_s_256",
                                  "hf_xxs_256",   "seed_xxs_256", "seed_xs_256",
                                  "seed_s_256",   "timm_xxs_224", "timm_xxs_192x320"};
  std::vector<E2eCase> out;
  // CI: every fixture in fp32 (the attention path kAuto picks: fused everywhere, D <= 64), every
  // other precision and the cuBLAS attention path once, on the smallest model.
  for (const char* f : fixtures) out.push_back({f, Precision::kFp32, AttentionPath::kAuto, false});
  out.push_back({"timm_xxs_256", Precision::kTf32, AttentionPath::kAuto, false});
  out.push_back({"timm_xxs_256", Precision::kFp16, AttentionPath::kAuto, false});
  out.push_back({"timm_xxs_256", Precision::kBf16, AttentionPath::kAuto, false});
  out.push_back({"timm_xxs_256", Precision::kFp32, AttentionPath::kCublas, false});
  out.push_back({"seed_xxs_256", Precision::kFp16, AttentionPath::kCublas, false});
  // Full: every other (fixture, precision, path) combination.
  for (const char* f : fixtures) {
    for (Precision p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16}) {
      for (AttentionPath a : {AttentionPath::kFused, AttentionPath::kCublas}) {
        bool in_ci = false;
        for (const E2eCase& c : out) {
          const AttentionPath resolved =
              c.attention == AttentionPath::kAuto ? AttentionPath::kFused : c.attention;
          in_ci = in_ci || (c.fixture == f && c.precision == p && resolved == a);
        }
        if (!in_ci) out.push_back({f, p, a, true});
      }
    }
  }
  return out;
}

}  // namespace test
}  // namespace mvit
