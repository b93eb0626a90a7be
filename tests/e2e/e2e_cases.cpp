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
#ifdef MVIT_E2E_SANITIZE
  // Under the sanitizers (5-10x slower), CI keeps one case per flavour and source, the resize
  // path, fp16 and the cuBLAS attention path, all on XXS; XS and S, bf16 and tf32 run the same
  // code with other shapes and dtypes, which the kernels' own sanitizer runs cover. The plain
  // emulated build runs every CI case above.
  const char* const keep[] = {"timm_xxs_256_fp32_auto", "hf_xxs_256_fp32_auto",
                              "seed_xxs_256_fp32_auto", "timm_xxs_224_fp32_auto",
                              "timm_xxs_256_fp16_auto", "seed_xxs_256_fp16_cublas"};
  for (E2eCase& c : out) {
    bool kept = false;
    for (const char* k : keep) kept = kept || c.name() == k;
    c.full = c.full || !kept;
  }
#endif
  return out;
}

}  // namespace test
}  // namespace mvit
