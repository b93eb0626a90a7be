#include "runtime/model_spec.h"

#include <cctype>
#include <cmath>

#include "kernels/common/check.h"
#include "runtime/variants.h"

namespace mvit {

const char* to_string(Flavour f) {
  return f == Flavour::kOfficial ? "official" : "seed";
}
const char* to_string(ConcatOrder c) {
  return c == ConcatOrder::kInputBranch ? "input_branch" : "branch_input";
}
const char* to_string(PoolKind p) {
  return p == PoolKind::kGlobalMean ? "global_mean" : "avg_pool";
}
const char* to_string(ChannelOrder c) {
  return c == ChannelOrder::kRgb ? "rgb" : "bgr";
}

namespace {

// Upper bounds far above any MobileViT (largest: S, 640 channels, d 240) that keep every size
// product below 2^53, so the arithmetic below cannot overflow.
constexpr int kMaxChannels = 8192;
constexpr int kMaxStages = 8;
constexpr int kMaxBlocksPerStage = 16;
constexpr int kMaxDepth = 32;
constexpr int kMaxHeads = 64;
constexpr int kMaxInput = 4096;
constexpr int kMaxClasses = 100000;

void check_range(const std::string& source, const std::string& field, double value, double lo,
                 double hi) {
  if (!(value >= lo && value <= hi)) {
    MVIT_FAIL("%s: field '%s': expected a value in [%g, %g], found %g", source.c_str(),
              field.c_str(), lo, hi, value);
  }
}

int conv_out(int in, int kernel, int stride) {
  return (in + 2 * (kernel / 2) - kernel) / stride + 1;
}

struct MapState {
  int c, h, w;
};

void validate_mv2(const Mv2Spec& b, const std::string& source, const std::string& at, MapState& m) {
  MVIT_CHECK(b.in_channels == m.c,
             "%s: %s.in_channels: expected %d (the previous block's output channels), found %d",
             source.c_str(), at.c_str(), m.c, b.in_channels);
  check_range(source, at + ".out_channels", b.out_channels, 1, kMaxChannels);
  check_range(source, at + ".hidden_channels", b.hidden_channels, 1, 4 * kMaxChannels);
  check_range(source, at + ".expansion", b.expansion, 0.125, 16);
  MVIT_CHECK(b.stride == 1 || b.stride == 2, "%s: %s.stride: expected 1 or 2, found %d",
             source.c_str(), at.c_str(), b.stride);
  const int plain = static_cast<int>(b.in_channels * b.expansion);
  const int rounded = make_divisible(static_cast<int>(std::lround(b.in_channels * b.expansion)));
  MVIT_CHECK(
      b.hidden_channels == plain || b.hidden_channels == rounded,
      "%s: %s.hidden_channels: expected int(in_channels * expansion) = %d or "
      "make_divisible(round(in_channels * expansion), 8) = %d (in_channels %d, expansion %g), "
      "found %d",
      source.c_str(), at.c_str(), plain, rounded, b.in_channels, b.expansion, b.hidden_channels);
  m = {b.out_channels, conv_out(m.h, 3, b.stride), conv_out(m.w, 3, b.stride)};
}

void validate_mvit_flags(const MobileVitSpec& b, Flavour flavour, const std::string& source,
                         const std::string& at) {
  const bool official = flavour == Flavour::kOfficial;
  auto flag = [&](const char* field, bool value, bool want) {
    MVIT_CHECK(value == want, "%s: %s.%s: the %s flavour requires %s, found %s", source.c_str(),
               at.c_str(), field, to_string(flavour), want ? "true" : "false",
               value ? "true" : "false");
  };
  flag("qkv_bias", b.qkv_bias, official);
  flag("conv_1x1_bn_act", b.conv_1x1_bn_act, !official);
  flag("final_layernorm", b.final_layernorm, official);
  const ConcatOrder want = official ? ConcatOrder::kInputBranch : ConcatOrder::kBranchInput;
  MVIT_CHECK(b.concat == want, "%s: %s.concat_order: the %s flavour requires '%s', found '%s'",
             source.c_str(), at.c_str(), to_string(flavour), to_string(want), to_string(b.concat));
  if (official) {
    MVIT_CHECK(b.heads * b.head_dim == b.dim,
               "%s: %s: official blocks split the transformer dim over the heads: expected heads * "
               "head_dim == transformer_dim (%d), found %d * %d = %d",
               source.c_str(), at.c_str(), b.dim, b.heads, b.head_dim, b.heads * b.head_dim);
  }
}

void validate_mvit(const MobileVitSpec& b, const ModelSpec& spec, const std::string& source,
                   const std::string& at, const MapState& m) {
  MVIT_CHECK(b.channels == m.c,
             "%s: %s.channels: expected %d (the previous block's output channels), found %d",
             source.c_str(), at.c_str(), m.c, b.channels);
  check_range(source, at + ".transformer_dim", b.dim, 1, kMaxChannels);
  check_range(source, at + ".depth", b.depth, 1, kMaxDepth);
  check_range(source, at + ".heads", b.heads, 1, kMaxHeads);
  check_range(source, at + ".head_dim", b.head_dim, 1, 1024);
  check_range(source, at + ".ffn_dim", b.ffn_dim, 1, 4 * kMaxChannels);
  check_range(source, at + ".patch_size[0]", b.patch_h, 1, 16);
  check_range(source, at + ".patch_size[1]", b.patch_w, 1, 16);
  MVIT_CHECK(b.kernel >= 1 && b.kernel <= 7 && b.kernel % 2 == 1,
             "%s: %s.kernel: expected an odd size in [1, 7], found %d", source.c_str(), at.c_str(),
             b.kernel);
  validate_mvit_flags(b, spec.flavour, source, at);
  if (!spec.interpolate_if_indivisible) {
    MVIT_CHECK(m.h % b.patch_h == 0 && m.w % b.patch_w == 0,
               "%s: %s: without interpolation the %dx%d map at the default input %dx%d must be "
               "divisible by the patch %dx%d",
               source.c_str(), at.c_str(), m.h, m.w, spec.input_h, spec.input_w, b.patch_h,
               b.patch_w);
  }
}

MapState validate_stages(const ModelSpec& spec, const std::string& source) {
  check_range(source, "architecture.stages (count)", static_cast<double>(spec.stages.size()), 1,
              kMaxStages);
  MapState m{spec.stem_channels, conv_out(spec.input_h, spec.stem_kernel, spec.stem_stride),
             conv_out(spec.input_w, spec.stem_kernel, spec.stem_stride)};
  for (size_t s = 0; s < spec.stages.size(); ++s) {
    const auto& blocks = spec.stages[s].blocks;
    const std::string stage = "architecture.stages[" + std::to_string(s) + "]";
    check_range(source, stage + ".blocks (count)", static_cast<double>(blocks.size()), 1,
                kMaxBlocksPerStage);
    for (size_t b = 0; b < blocks.size(); ++b) {
      const std::string at = stage + ".blocks[" + std::to_string(b) + "]";
      if (blocks[b].kind == BlockKind::kMv2) {
        validate_mv2(blocks[b].mv2, source, at, m);
      } else {
        validate_mvit(blocks[b].mvit, spec, source, at, m);
      }
    }
  }
  return m;
}

void validate_head(const ModelSpec& spec, const std::string& source, const MapState& m) {
  const bool official = spec.flavour == Flavour::kOfficial;
  check_range(source, "architecture.head.channels", spec.head.channels, 1, kMaxChannels);
  check_range(source, "architecture.num_classes", spec.num_classes, 1, kMaxClasses);
  MVIT_CHECK(spec.head.classifier_bias == official,
             "%s: architecture.head.classifier_bias: the %s flavour requires %s, found %s",
             source.c_str(), to_string(spec.flavour), official ? "true" : "false",
             spec.head.classifier_bias ? "true" : "false");
  const PoolKind pool = official ? PoolKind::kGlobalMean : PoolKind::kAvgPool;
  MVIT_CHECK(spec.head.pool == pool,
             "%s: architecture.head.pool: the %s flavour requires '%s', "
             "found '%s'",
             source.c_str(), to_string(spec.flavour), to_string(pool), to_string(spec.head.pool));
  if (spec.head.pool == PoolKind::kAvgPool) {
    MVIT_CHECK(spec.head.pool_size == m.h && spec.head.pool_size == m.w,
               "%s: architecture.head.pool_size: expected %d, the final %dx%d map at the default "
               "input %dx%d (anything else is not a global average), found %d",
               source.c_str(), m.h, m.h, m.w, spec.input_h, spec.input_w, spec.head.pool_size);
  }
  MVIT_CHECK(spec.labels.empty() || static_cast<int>(spec.labels.size()) == spec.num_classes,
             "%s: labels: expected none or num_classes (%d) entries, found %zu", source.c_str(),
             spec.num_classes, spec.labels.size());
}

void validate_preprocessing(const Preprocessing& p, const std::string& source) {
  check_range(source, "preprocessing.resize_shortest_edge", p.resize_shortest_edge, 0, 16384);
  check_range(source, "preprocessing.crop_size[0]", p.crop_h, 0, 16384);
  check_range(source, "preprocessing.crop_size[1]", p.crop_w, 0, 16384);
  MVIT_CHECK(
      (p.crop_h == 0) == (p.crop_w == 0),
      "%s: preprocessing.crop_size: expected both sides 0 (no crop) or both > 0, found %dx%d",
      source.c_str(), p.crop_h, p.crop_w);
  check_range(source, "preprocessing.scale", p.scale, 1e-12, 1e12);
  for (int i = 0; i < 3; ++i) {
    check_range(source, "preprocessing.mean[" + std::to_string(i) + "]", p.mean[i], -1e6, 1e6);
    check_range(source, "preprocessing.std[" + std::to_string(i) + "]", p.std[i], 1e-12, 1e6);
  }
}

}  // namespace

void validate_spec(const ModelSpec& spec, const std::string& source) {
  MVIT_CHECK(!spec.variant.empty() && spec.variant.size() <= 64,
             "%s: architecture.variant: expected 1 to 64 characters, found %zu", source.c_str(),
             spec.variant.size());
  for (char ch : spec.variant) {
    MVIT_CHECK(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.',
               "%s: architecture.variant: expected letters, digits, '_', '-' or '.', found byte "
               "0x%02x",
               source.c_str(), static_cast<unsigned char>(ch));
  }
  check_range(source, "architecture.in_channels", spec.in_channels, 1, 16);
  check_range(source, "architecture.stem.channels", spec.stem_channels, 1, kMaxChannels);
  MVIT_CHECK(spec.stem_kernel >= 1 && spec.stem_kernel <= 7 && spec.stem_kernel % 2 == 1,
             "%s: architecture.stem.kernel: expected an odd size in [1, 7], found %d",
             source.c_str(), spec.stem_kernel);
  check_range(source, "architecture.stem.stride", spec.stem_stride, 1, 4);
  check_range(source, "architecture.input_size[0]", spec.input_h, 1, kMaxInput);
  check_range(source, "architecture.input_size[1]", spec.input_w, 1, kMaxInput);
  check_range(source, "architecture.bn_eps", spec.bn_eps, 1e-12, 0.1);
  check_range(source, "architecture.ln_eps", spec.ln_eps, 1e-12, 0.1);
  const bool official = spec.flavour == Flavour::kOfficial;
  MVIT_CHECK(spec.interpolate_if_indivisible == official,
             "%s: architecture.interpolate_if_indivisible: the %s flavour requires %s, found %s",
             source.c_str(), to_string(spec.flavour), official ? "true" : "false",
             spec.interpolate_if_indivisible ? "true" : "false");
  const MapState last = validate_stages(spec, source);
  validate_head(spec, source, last);
  validate_preprocessing(spec.preprocessing, source);
}

namespace {

using Shape = std::vector<int64_t>;

struct TensorList {
  std::vector<ExpectedTensor> out;
  void add(const std::string& name, Shape shape, bool trainable = true) {
    out.push_back({name, std::move(shape), trainable});
  }
  void conv(const std::string& unit, int cout, int cin_per_group, int k) {
    add(unit + ".conv.weight", {cout, cin_per_group, k, k});
  }
  void bn(const std::string& unit, int c) {
    add(unit + ".bn.weight", {c});
    add(unit + ".bn.bias", {c});
    add(unit + ".bn.running_mean", {c}, false);
    add(unit + ".bn.running_var", {c}, false);
  }
  void conv_bn(const std::string& unit, int cout, int cin_per_group, int k) {
    conv(unit, cout, cin_per_group, k);
    bn(unit, cout);
  }
  void linear(const std::string& unit, int out_f, int in_f, bool bias) {
    add(unit + ".weight", {out_f, in_f});
    if (bias) add(unit + ".bias", {out_f});
  }
  void layernorm(const std::string& unit, int c) {
    add(unit + ".weight", {c});
    add(unit + ".bias", {c});
  }
};

void add_mvit_tensors(TensorList& t, const std::string& p, const MobileVitSpec& b) {
  t.conv_bn(p + "conv_kxk", b.channels, b.channels, b.kernel);
  t.conv(p + "conv_1x1", b.dim, b.channels, 1);
  if (b.conv_1x1_bn_act) t.bn(p + "conv_1x1", b.dim);
  for (int l = 0; l < b.depth; ++l) {
    const std::string q = p + "transformer." + std::to_string(l) + ".";
    t.layernorm(q + "norm1", b.dim);
    t.linear(q + "attn.qkv", 3 * b.inner(), b.dim, b.qkv_bias);
    t.linear(q + "attn.proj", b.dim, b.inner(), true);
    t.layernorm(q + "norm2", b.dim);
    t.linear(q + "mlp.fc1", b.ffn_dim, b.dim, true);
    t.linear(q + "mlp.fc2", b.dim, b.ffn_dim, true);
  }
  if (b.final_layernorm) t.layernorm(p + "norm", b.dim);
  t.conv_bn(p + "conv_proj", b.channels, b.dim, 1);
  t.conv_bn(p + "fusion", b.channels, 2 * b.channels, b.kernel);
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const ModelSpec& spec) {
  TensorList t;
  t.conv_bn("stem", spec.stem_channels, spec.in_channels, spec.stem_kernel);
  int c = spec.stem_channels;
  for (size_t s = 0; s < spec.stages.size(); ++s) {
    for (size_t j = 0; j < spec.stages[s].blocks.size(); ++j) {
      const BlockSpec& b = spec.stages[s].blocks[j];
      const std::string p = "stages." + std::to_string(s) + "." + std::to_string(j) + ".";
      if (b.kind == BlockKind::kMv2) {
        t.conv_bn(p + "expand", b.mv2.hidden_channels, b.mv2.in_channels, 1);
        t.conv_bn(p + "dw", b.mv2.hidden_channels, 1, 3);
        t.conv_bn(p + "project", b.mv2.out_channels, b.mv2.hidden_channels, 1);
        c = b.mv2.out_channels;
      } else {
        add_mvit_tensors(t, p, b.mvit);
      }
    }
  }
  t.conv_bn("head", spec.head.channels, c, 1);
  t.linear("head.fc", spec.num_classes, spec.head.channels, spec.head.classifier_bias);
  return t.out;
}

int64_t parameter_count(const ModelSpec& spec) {
  int64_t n = 0;
  for (const ExpectedTensor& t : expected_tensors(spec)) {
    if (!t.trainable) continue;
    int64_t e = 1;
    for (int64_t d : t.shape) e *= d;
    n += e;
  }
  return n;
}

namespace {

int64_t mvit_macs(const MobileVitSpec& b, bool interpolate, int h, int w) {
  const int64_t hw = int64_t{h} * w;
  const int64_t k2 = int64_t{b.kernel} * b.kernel;
  int64_t macs = hw * b.channels * b.channels * k2 + hw * b.channels * b.dim;
  // Note: the official path resizes to the next multiple of the patch before unfolding
  // (mobilevit.md section 6), so the token count follows the resized map.
  const int hp = interpolate ? (h + b.patch_h - 1) / b.patch_h * b.patch_h : h;
  const int wp = interpolate ? (w + b.patch_w - 1) / b.patch_w * b.patch_w : w;
  const int64_t p = int64_t{b.patch_h} * b.patch_w;
  const int64_t n = int64_t{hp / b.patch_h} * (wp / b.patch_w);
  const int64_t tokens = p * n;
  const int64_t per_layer = tokens * b.dim * 3 * b.inner() + 2 * p * b.heads * n * n * b.head_dim +
                            tokens * b.inner() * b.dim + 2 * tokens * b.dim * b.ffn_dim;
  macs += per_layer * b.depth;
  macs += hw * b.dim * b.channels + hw * 2 * b.channels * b.channels * k2;
  return macs;
}

}  // namespace

int64_t mac_count(const ModelSpec& spec) {
  int h = conv_out(spec.input_h, spec.stem_kernel, spec.stem_stride);
  int w = conv_out(spec.input_w, spec.stem_kernel, spec.stem_stride);
  const int64_t k2 = int64_t{spec.stem_kernel} * spec.stem_kernel;
  int64_t macs = int64_t{h} * w * spec.stem_channels * spec.in_channels * k2;
  int c = spec.stem_channels;
  for (const StageSpec& stage : spec.stages) {
    for (const BlockSpec& b : stage.blocks) {
      if (b.kind == BlockKind::kMobileVit) {
        macs += mvit_macs(b.mvit, spec.interpolate_if_indivisible, h, w);
        continue;
      }
      const Mv2Spec& m = b.mv2;
      const int ho = conv_out(h, 3, m.stride), wo = conv_out(w, 3, m.stride);
      macs += int64_t{h} * w * m.hidden_channels * m.in_channels;
      macs += int64_t{ho} * wo * m.hidden_channels * 9;
      macs += int64_t{ho} * wo * m.out_channels * m.hidden_channels;
      h = ho, w = wo, c = m.out_channels;
    }
  }
  macs += int64_t{h} * w * spec.head.channels * c;
  macs += int64_t{spec.head.channels} * spec.num_classes;
  return macs;
}

std::vector<StageShape> stage_shapes(const ModelSpec& spec) {
  std::vector<StageShape> out;
  int h = conv_out(spec.input_h, spec.stem_kernel, spec.stem_stride);
  int w = conv_out(spec.input_w, spec.stem_kernel, spec.stem_stride);
  int c = spec.stem_channels;
  out.push_back({"stem", c, h, w});
  for (size_t s = 0; s < spec.stages.size(); ++s) {
    for (const BlockSpec& b : spec.stages[s].blocks) {
      if (b.kind != BlockKind::kMv2) continue;
      h = conv_out(h, 3, b.mv2.stride), w = conv_out(w, 3, b.mv2.stride);
      c = b.mv2.out_channels;
    }
    out.push_back({"stage" + std::to_string(s + 1), c, h, w});
  }
  out.push_back({"features", spec.head.channels, h, w});
  out.push_back({"logits", spec.num_classes, 1, 1});
  return out;
}

}  // namespace mvit
