#include "runtime/model_json.h"

#include "kernels/common/check.h"
#include "runtime/strict_json.h"

namespace mvit {

using detail::json;
using detail::JsonObject;

namespace {

// model.json is a few KB plus labels; 16 levels is far beyond its 5.
constexpr int kMaxJsonDepth = 16;
constexpr int64_t kMaxDimension = 65536;

Mv2Spec parse_mv2(const JsonObject& o) {
  o.reject_unknown(
      {"type", "in_channels", "out_channels", "hidden_channels", "expansion", "stride"});
  Mv2Spec b;
  b.in_channels = static_cast<int>(o.integer("in_channels", 1, kMaxDimension));
  b.out_channels = static_cast<int>(o.integer("out_channels", 1, kMaxDimension));
  b.hidden_channels = static_cast<int>(o.integer("hidden_channels", 1, kMaxDimension));
  b.expansion = o.number("expansion", 0, 1024);
  b.stride = static_cast<int>(o.integer("stride", 1, 16));
  return b;
}

MobileVitSpec parse_mvit(const JsonObject& o) {
  o.reject_unknown({"type", "channels", "transformer_dim", "depth", "heads", "head_dim", "ffn_dim",
                    "kernel", "patch_size", "qkv_bias", "conv_1x1_bn_act", "final_layernorm",
                    "concat_order"});
  MobileVitSpec b;
  b.channels = static_cast<int>(o.integer("channels", 1, kMaxDimension));
  b.dim = static_cast<int>(o.integer("transformer_dim", 1, kMaxDimension));
  b.depth = static_cast<int>(o.integer("depth", 1, 1024));
  b.heads = static_cast<int>(o.integer("heads", 1, 1024));
  b.head_dim = static_cast<int>(o.integer("head_dim", 1, kMaxDimension));
  b.ffn_dim = static_cast<int>(o.integer("ffn_dim", 1, kMaxDimension));
  b.kernel = static_cast<int>(o.integer("kernel", 1, 64));
  const auto patch = o.integers("patch_size", 2, 2, 1, 1024);
  b.patch_h = static_cast<int>(patch[0]);
  b.patch_w = static_cast<int>(patch[1]);
  b.qkv_bias = o.boolean("qkv_bias");
  b.conv_1x1_bn_act = o.boolean("conv_1x1_bn_act");
  b.final_layernorm = o.boolean("final_layernorm");
  b.concat = o.choice("concat_order", {"input_branch", "branch_input"}) == "input_branch"
                 ? ConcatOrder::kInputBranch
                 : ConcatOrder::kBranchInput;
  return b;
}

std::vector<StageSpec> parse_stages(const JsonObject& arch) {
  std::vector<StageSpec> stages;
  for (const JsonObject& s : arch.objects("stages", 1, 64)) {
    s.reject_unknown({"blocks"});
    StageSpec stage;
    for (const JsonObject& b : s.objects("blocks", 1, 64)) {
      BlockSpec block;
      if (b.choice("type", {"mv2", "mobilevit"}) == "mv2") {
        block.kind = BlockKind::kMv2;
        block.mv2 = parse_mv2(b);
      } else {
        block.kind = BlockKind::kMobileVit;
        block.mvit = parse_mvit(b);
      }
      stage.blocks.push_back(block);
    }
    stages.push_back(std::move(stage));
  }
  return stages;
}

void parse_head(const JsonObject& arch, ModelSpec& spec) {
  const JsonObject head = arch.object("head");
  head.reject_unknown({"channels", "classifier_bias", "pool", "pool_size"});
  spec.head.channels = static_cast<int>(head.integer("channels", 1, kMaxDimension));
  spec.head.classifier_bias = head.boolean("classifier_bias");
  spec.head.pool = head.choice("pool", {"global_mean", "avg_pool"}) == "global_mean"
                       ? PoolKind::kGlobalMean
                       : PoolKind::kAvgPool;
  if (spec.head.pool == PoolKind::kAvgPool) {
    spec.head.pool_size = static_cast<int>(head.integer("pool_size", 1, kMaxDimension));
  } else if (head.has("pool_size")) {
    head.fail("pool_size", "no pool_size with pool 'global_mean'", head.raw("pool_size"));
  }
}

void parse_architecture(const JsonObject& arch, ModelSpec& spec) {
  arch.reject_unknown({"flavour", "variant", "in_channels", "input_size", "stem", "stages", "head",
                       "num_classes", "activation", "bn_eps", "ln_eps",
                       "interpolate_if_indivisible"});
  spec.flavour = arch.choice("flavour", {"official", "seed"}) == "official" ? Flavour::kOfficial
                                                                            : Flavour::kSeed;
  spec.variant = arch.string("variant", 64);
  spec.in_channels = static_cast<int>(arch.integer("in_channels", 1, 64));
  const auto input = arch.integers("input_size", 2, 2, 1, kMaxDimension);
  spec.input_h = static_cast<int>(input[0]);
  spec.input_w = static_cast<int>(input[1]);
  const JsonObject stem = arch.object("stem");
  stem.reject_unknown({"channels", "kernel", "stride"});
  spec.stem_channels = static_cast<int>(stem.integer("channels", 1, kMaxDimension));
  spec.stem_kernel = static_cast<int>(stem.integer("kernel", 1, 64));
  spec.stem_stride = static_cast<int>(stem.integer("stride", 1, 64));
  spec.stages = parse_stages(arch);
  parse_head(arch, spec);
  spec.num_classes = static_cast<int>(arch.integer("num_classes", 1, 1 << 20));
  // Every flavour uses SiLU (mobilevit.md section 2.1); the field exists so a file says so.
  arch.choice("activation", {"silu"});
  spec.bn_eps = arch.number("bn_eps", 0, 1);
  spec.ln_eps = arch.number("ln_eps", 0, 1);
  spec.interpolate_if_indivisible = arch.boolean("interpolate_if_indivisible");
}

void parse_preprocessing(const JsonObject& o, Preprocessing& p) {
  o.reject_unknown({"resize_shortest_edge", "interpolation", "crop_size", "scale", "mean", "std",
                    "channel_order"});
  p.resize_shortest_edge = static_cast<int>(o.integer("resize_shortest_edge", 0, kMaxDimension));
  p.interpolation =
      o.choice("interpolation", {"nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"});
  const auto crop = o.integers("crop_size", 2, 2, 0, kMaxDimension);
  p.crop_h = static_cast<int>(crop[0]);
  p.crop_w = static_cast<int>(crop[1]);
  p.scale = o.number("scale", 0, 1e12);
  const auto mean = o.numbers("mean", 3, 3, -1e6, 1e6);
  const auto std = o.numbers("std", 3, 3, 0, 1e6);
  for (int i = 0; i < 3; ++i) p.mean[i] = mean[i], p.std[i] = std[i];
  p.channel_order =
      o.choice("channel_order", {"rgb", "bgr"}) == "rgb" ? ChannelOrder::kRgb : ChannelOrder::kBgr;
}

std::vector<std::string> parse_labels(const JsonObject& root) {
  const json& a = root.raw("labels");
  if (!a.is_array() || a.size() > (1u << 20)) root.fail("labels", "an array of strings", a);
  std::vector<std::string> labels;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].is_string() || a[i].get_ref<const std::string&>().size() > 1024) {
      MVIT_FAIL("%s: field 'labels[%zu]': expected a string of at most 1024 bytes, found %s",
                root.source().c_str(), i, detail::json_type(a[i]).c_str());
    }
    labels.push_back(a[i].get<std::string>());
  }
  return labels;
}

}  // namespace

ModelSpec parse_model_json(std::string_view text, const std::string& source) {
  const json doc = detail::parse_strict_json(text, source, kMaxJsonDepth);
  const JsonObject root(doc, source, "");
  root.reject_unknown(
      {"format", "format_version", "architecture", "preprocessing", "labels", "source"});
  root.choice("format", {"mobilevit-cuda"});
  const int64_t version = root.integer("format_version", 0, INT32_MAX);
  MVIT_CHECK(version == kModelFormatVersion,
             "%s: field 'format_version': expected %d (the version this build reads), found %lld",
             source.c_str(), kModelFormatVersion, static_cast<long long>(version));
  ModelSpec spec;
  parse_architecture(root.object("architecture"), spec);
  parse_preprocessing(root.object("preprocessing"), spec.preprocessing);
  if (root.has("labels")) spec.labels = parse_labels(root);
  if (root.has("source")) {
    // Provenance written by the exporters (tool, versions, original checkpoint); informational.
    const JsonObject src = root.object("source");
    for (auto it = doc["source"].begin(); it != doc["source"].end(); ++it) {
      if (!it.value().is_string()) src.fail(it.key().c_str(), "a string", it.value());
    }
  }
  validate_spec(spec, source);
  return spec;
}

namespace {

json block_json(const BlockSpec& b) {
  if (b.kind == BlockKind::kMv2) {
    return {{"type", "mv2"},
            {"in_channels", b.mv2.in_channels},
            {"out_channels", b.mv2.out_channels},
            {"hidden_channels", b.mv2.hidden_channels},
            {"expansion", b.mv2.expansion},
            {"stride", b.mv2.stride}};
  }
  const MobileVitSpec& m = b.mvit;
  return {{"type", "mobilevit"},
          {"channels", m.channels},
          {"transformer_dim", m.dim},
          {"depth", m.depth},
          {"heads", m.heads},
          {"head_dim", m.head_dim},
          {"ffn_dim", m.ffn_dim},
          {"kernel", m.kernel},
          {"patch_size", {m.patch_h, m.patch_w}},
          {"qkv_bias", m.qkv_bias},
          {"conv_1x1_bn_act", m.conv_1x1_bn_act},
          {"final_layernorm", m.final_layernorm},
          {"concat_order", to_string(m.concat)}};
}

json architecture_json(const ModelSpec& spec) {
  json stages = json::array();
  for (const StageSpec& s : spec.stages) {
    json blocks = json::array();
    for (const BlockSpec& b : s.blocks) blocks.push_back(block_json(b));
    stages.push_back({{"blocks", blocks}});
  }
  json head = {{"channels", spec.head.channels},
               {"classifier_bias", spec.head.classifier_bias},
               {"pool", to_string(spec.head.pool)}};
  if (spec.head.pool == PoolKind::kAvgPool) head["pool_size"] = spec.head.pool_size;
  return {{"flavour", to_string(spec.flavour)},
          {"variant", spec.variant},
          {"in_channels", spec.in_channels},
          {"input_size", {spec.input_h, spec.input_w}},
          {"stem",
           {{"channels", spec.stem_channels},
            {"kernel", spec.stem_kernel},
            {"stride", spec.stem_stride}}},
          {"stages", stages},
          {"head", head},
          {"num_classes", spec.num_classes},
          {"activation", "silu"},
          {"bn_eps", spec.bn_eps},
          {"ln_eps", spec.ln_eps},
          {"interpolate_if_indivisible", spec.interpolate_if_indivisible}};
}

}  // namespace

json model_json(const ModelSpec& spec) {
  const Preprocessing& p = spec.preprocessing;
  json doc = {{"format", "mobilevit-cuda"},
              {"format_version", kModelFormatVersion},
              {"architecture", architecture_json(spec)},
              {"preprocessing",
               {{"resize_shortest_edge", p.resize_shortest_edge},
                {"interpolation", p.interpolation},
                {"crop_size", {p.crop_h, p.crop_w}},
                {"scale", p.scale},
                {"mean", {p.mean[0], p.mean[1], p.mean[2]}},
                {"std", {p.std[0], p.std[1], p.std[2]}},
                {"channel_order", to_string(p.channel_order)}}}};
  if (!spec.labels.empty()) doc["labels"] = spec.labels;
  return doc;
}

}  // namespace mvit
