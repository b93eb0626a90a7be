// The published MobileViT v1 sizes (shared/reference/mobilevit.md section 3: paper Table 4, timm
// model_cfgs, transformers' get_mobilevit_config) and the width rounding of the official flavour.
//
// The one C++ table of the sizes; tools/mvit_variants.py is the one Python table, and
// tests/weights/test_variants.cpp checks that the two agree. Plain C++, no other runtime header.
#pragma once

#include <algorithm>
#include <string_view>

namespace mvit {

struct VariantSizes {
  const char* name;  // "xxs", "xs", "s": the `variant` of model.json
  int dims[3];       // d: transformer width of the MobileViT blocks of stages 3, 4, 5
  int channels[7];   // stem, stage 1..5 outputs, head (Hugging Face's neck_hidden_sizes)
  double expansion;  // MV2 expansion ratio (HF expand_ratio)
};

inline constexpr VariantSizes kVariants[] = {
    {"xxs", {64, 80, 96}, {16, 16, 24, 48, 64, 80, 320}, 2.0},
    {"xs", {96, 120, 144}, {16, 32, 48, 64, 80, 96, 384}, 4.0},
    {"s", {144, 192, 240}, {16, 32, 64, 96, 128, 160, 640}, 4.0},
};

// What every size shares. Transformer layers of the MobileViT blocks of stages 3, 4, 5: also
// hard-coded in transformers' MobileViTEncoder, not in config.json (ecosystem.md section 9.1).
inline constexpr int kVariantDepths[3] = {2, 4, 3};
// Official (ml-cvnets = HF = timm): 4 heads of d / 4, FFN width d * 2.
inline constexpr int kOfficialHeads = 4;
inline constexpr double kOfficialMlpRatio = 2.0;
// Seed (chinhsuanwu/mobilevit-pytorch, since 2022-01-17): 4 heads of 8, FFN width d * {2, 4, 4}
// by stage; MV2 hidden width int(in_channels * expansion), unrounded.
inline constexpr int kSeedHeads = 4;
inline constexpr int kSeedHeadDim = 8;
inline constexpr int kSeedFfnMultipliers[3] = {2, 4, 4};

// The row of `name`, or nullptr when it is not one of the published sizes.
constexpr const VariantSizes* find_variant(std::string_view name) {
  for (const VariantSizes& v : kVariants) {
    if (name == v.name) return &v;
  }
  return nullptr;
}

// ml-cvnets / transformers make_divisible(value, divisor) for value >= 0: the nearest multiple of
// `divisor`, at least `divisor`, never more than 10% below `value`. The official MV2 hidden width
// is make_divisible(round(in_channels * expansion), 8).
constexpr int make_divisible(int value, int divisor = 8) {
  const int d = std::max(divisor, (value + divisor / 2) / divisor * divisor);
  return d < 0.9 * value ? d + divisor : d;
}

}  // namespace mvit
