#include "runtime/hf_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "kernels/common/check.h"
#include "runtime/strict_json.h"
#include "runtime/variants.h"

namespace mvit {

using detail::json;
using detail::JsonObject;
using detail::quote;

namespace {

// id2label of a 21k-class head nests 2 levels; 16 leaves room for anything a real config holds.
constexpr int kMaxJsonDepth = 16;

void reject_other_models(const JsonObject& cfg) {
  const std::string& src = cfg.source();
  if (!cfg.has("model_type")) {
    if (cfg.has("architecture") && cfg.raw("architecture").is_string()) {
      MVIT_FAIL(
          "%s: this is a timm checkpoint folder (architecture %s, no model_type); it is not "
          "read directly: convert it with tools/export_weights.py --timm",
          src.c_str(), quote(cfg.raw("architecture").get<std::string>()).c_str());
    }
    MVIT_FAIL(
        "%s: field 'model_type': expected 'mobilevit' (a Hugging Face MobileViT config), "
        "found it missing",
        src.c_str());
  }
  const std::string type = cfg.string("model_type", 64);
  MVIT_CHECK(type != "mobilevitv2",
             "%s: model_type 'mobilevitv2': MobileViTV2 (separable self-attention) is a different "
             "architecture; this project runs MobileViT v1 (apple/mobilevit-xx-small, -x-small, "
             "-small)",
             src.c_str());
  MVIT_CHECK(type == "mobilevit", "%s: field 'model_type': expected 'mobilevit', found %s",
             src.c_str(), quote(type).c_str());
  if (cfg.has("architectures")) {
    const json& a = cfg.raw("architectures");
    if (!a.is_array()) cfg.fail("architectures", "an array of class names", a);
    for (const json& name : a) {
      const std::string n = name.is_string() ? name.get<std::string>() : name.dump();
      MVIT_CHECK(n != "MobileViTForSemanticSegmentation",
                 "%s: architectures lists MobileViTForSemanticSegmentation: this is a DeepLabV3 "
                 "segmentation checkpoint (apple/deeplabv3-mobilevit-*); only the "
                 "MobileViTForImageClassification classifiers are supported",
                 src.c_str());
      MVIT_CHECK(n != "MobileViTModel",
                 "%s: architectures lists MobileViTModel: a backbone without classifier; only "
                 "MobileViTForImageClassification checkpoints are supported",
                 src.c_str());
      MVIT_CHECK(n == "MobileViTForImageClassification",
                 "%s: field 'architectures': expected 'MobileViTForImageClassification', found %s",
                 src.c_str(), quote(n).c_str());
    }
  }
  const int64_t stride = cfg.has("output_stride") ? cfg.integer("output_stride", 1, 1024) : 32;
  MVIT_CHECK(stride == 32,
             "%s: field 'output_stride': expected 32 (classification), found %lld: output strides "
             "8 and 16 are the dilated DeepLabV3 segmentation backbones, which are not supported",
             src.c_str(), static_cast<long long>(stride));
}

// Optional member with the MobileViTConfig default that transformers itself would use.
int64_t int_or(const JsonObject& o, const char* key, int64_t def, int64_t lo, int64_t hi) {
  return o.has(key) ? o.integer(key, lo, hi) : def;
}

// The published size whose dims, channels and expansion the config repeats, else "custom".
std::string variant_name(const std::vector<int64_t>& hidden, const std::vector<int64_t>& neck,
                         double expand) {
  for (const VariantSizes& v : kVariants) {
    if (std::equal(hidden.begin(), hidden.end(), std::begin(v.dims), std::end(v.dims)) &&
        std::equal(neck.begin(), neck.end(), std::begin(v.channels), std::end(v.channels)) &&
        v.expansion == expand) {
      return v.name;
    }
  }
  return "custom";
}

BlockSpec hf_mv2(int in, int out, int stride, double ratio) {
  BlockSpec b;
  b.kind = BlockKind::kMv2;
  b.mv2.in_channels = in;
  b.mv2.out_channels = out;
  b.mv2.stride = stride;
  b.mv2.expansion = ratio;
  // transformers: make_divisible(int(round(in_channels * expand_ratio)), 8).
  b.mv2.hidden_channels = make_divisible(static_cast<int>(std::lround(in * ratio)));
  return b;
}

void build_stages(ModelSpec& spec, const std::vector<int64_t>& hidden,
                  const std::vector<int64_t>& neck, const JsonObject& cfg) {
  const double expand = cfg.number("expand_ratio", 0.125, 16);
  const double mlp = cfg.number("mlp_ratio", 0.125, 16);
  const int heads = static_cast<int>(cfg.integer("num_attention_heads", 1, 64));
  const int patch = static_cast<int>(int_or(cfg, "patch_size", 2, 1, 16));
  const int kernel = static_cast<int>(int_or(cfg, "conv_kernel_size", 3, 1, 7));
  spec.stages.assign(5, StageSpec{});
  spec.stages[0].blocks.push_back(hf_mv2(neck[0], neck[1], 1, expand));
  spec.stages[1].blocks.push_back(hf_mv2(neck[1], neck[2], 2, expand));
  for (int j = 0; j < 2; ++j) spec.stages[1].blocks.push_back(hf_mv2(neck[2], neck[2], 1, expand));
  for (int s = 0; s < 3; ++s) {
    spec.stages[2 + s].blocks.push_back(hf_mv2(neck[2 + s], neck[3 + s], 2, expand));
    BlockSpec b;
    b.kind = BlockKind::kMobileVit;
    MobileVitSpec& m = b.mvit;
    m.channels = neck[3 + s];
    m.dim = hidden[s];
    m.depth = kVariantDepths[s];  // not in config.json: MobileViTEncoder hard-codes them
    m.heads = heads;
    MVIT_CHECK(m.dim % heads == 0,
               "%s: hidden_sizes[%d] = %d: expected a multiple of num_attention_heads (%d)",
               cfg.source().c_str(), s, m.dim, heads);
    m.head_dim = m.dim / heads;
    m.ffn_dim = static_cast<int>(m.dim * mlp);  // transformers: int(hidden_size * mlp_ratio)
    m.kernel = kernel;
    m.patch_h = m.patch_w = patch;
    m.qkv_bias = cfg.has("qkv_bias") ? cfg.boolean("qkv_bias") : true;
    spec.stages[2 + s].blocks.push_back(b);
  }
}

std::vector<std::string> hf_labels(const JsonObject& cfg) {
  const JsonObject map = cfg.object("id2label");
  const size_t n = map.value().size();
  MVIT_CHECK(n >= 1 && n <= (1u << 20), "%s: field 'id2label': expected 1 to %u labels, found %zu",
             cfg.source().c_str(), 1u << 20, n);
  std::vector<std::string> labels(n);
  std::vector<bool> seen(n, false);
  for (auto it = map.value().begin(); it != map.value().end(); ++it) {
    const std::string& k = it.key();
    size_t id = n;
    if (!k.empty() && k.size() <= 7 && k.find_first_not_of("0123456789") == std::string::npos) {
      id = std::stoul(k);
    }
    MVIT_CHECK(id < n && !seen[id],
               "%s: field 'id2label': expected keys \"0\" to \"%zu\", found %s",
               cfg.source().c_str(), n - 1, quote(k).c_str());
    MVIT_CHECK(it.value().is_string(), "%s: field 'id2label.%s': expected a string label, found %s",
               cfg.source().c_str(), k.c_str(), detail::json_type(it.value()).c_str());
    seen[id] = true;
    labels[id] = it.value().get<std::string>();
  }
  return labels;
}

}  // namespace

namespace {

// The values recorded from the hub's apple/mobilevit-* preprocessor_config.json (and written by
// transformers' conversion script): resize shortest edge 288, bilinear, center crop 256, x 1/255,
// RGB -> BGR (mobilevit.md section 11).
Preprocessing apple_preprocessing() {
  Preprocessing p;
  p.resize_shortest_edge = 288;
  p.interpolation = "bilinear";
  p.crop_h = p.crop_w = 256;
  p.scale = 1.0 / 255.0;
  p.channel_order = ChannelOrder::kBgr;
  return p;
}

bool flag_or(const JsonObject& o, const char* key, bool def, std::vector<std::string>& defaulted) {
  if (o.has(key)) return o.boolean(key);
  defaulted.push_back(key);
  return def;
}

int resize_edge(const JsonObject& o) {
  const json& v = o.raw("size");
  if (v.is_number()) return static_cast<int>(o.integer("size", 1, 16384));  // the hub's older form
  const JsonObject size = o.object("size");
  if (!size.has("shortest_edge")) {
    o.fail("size", "an integer or {\"shortest_edge\": N} (MobileViT resizes the shortest edge)", v);
  }
  return static_cast<int>(size.integer("shortest_edge", 1, 16384));
}

void crop_size(const JsonObject& o, Preprocessing& p) {
  const json& v = o.raw("crop_size");
  if (v.is_number()) {
    p.crop_h = p.crop_w = static_cast<int>(o.integer("crop_size", 1, 16384));
    return;
  }
  const JsonObject c = o.object("crop_size");
  p.crop_h = static_cast<int>(c.integer("height", 1, 16384));
  p.crop_w = static_cast<int>(c.integer("width", 1, 16384));
}

Preprocessing hf_preprocessing(const std::string_view* text, const std::string& source,
                               std::vector<std::string>& warnings) {
  Preprocessing p = apple_preprocessing();
  if (text == nullptr) {
    warnings.push_back(source +
                       " is absent: using the preprocessing recorded for "
                       "apple/mobilevit-* (resize 288 bilinear, center crop 256, x1/255, BGR)");
    return p;
  }
  const json doc = detail::parse_strict_json(*text, source, kMaxJsonDepth);
  const JsonObject o(doc, source, "");
  std::vector<std::string> defaulted;
  p.resize_shortest_edge = flag_or(o, "do_resize", true, defaulted) ? resize_edge(o) : 0;
  if (o.has("resample")) {
    static const char* const kFilters[] = {"nearest", "lanczos", "bilinear",
                                           "bicubic", "box",     "hamming"};
    p.interpolation = kFilters[o.integer("resample", 0, 5)];  // PIL's numbering
  } else {
    defaulted.push_back("resample");
  }
  const bool rescale = flag_or(o, "do_rescale", true, defaulted);
  if (rescale && o.has("rescale_factor")) p.scale = o.number("rescale_factor", 1e-12, 1e12);
  if (!rescale) p.scale = 1.0;
  if (flag_or(o, "do_center_crop", true, defaulted)) {
    crop_size(o, p);
  } else {
    p.crop_h = p.crop_w = 0;
  }
  // transformers renamed do_flip_channels (the hub files) to do_flip_channel_order.
  const char* flip_key =
      o.has("do_flip_channel_order") ? "do_flip_channel_order" : "do_flip_channels";
  p.channel_order = flag_or(o, flip_key, true, defaulted) ? ChannelOrder::kBgr : ChannelOrder::kRgb;
  if (!defaulted.empty()) {
    std::string list;
    for (const std::string& k : defaulted) list += (list.empty() ? "" : ", ") + k;
    warnings.push_back(source + ": absent keys (" + list + ") take the apple/mobilevit values");
  }
  return p;
}

}  // namespace

ModelSpec spec_from_hf_config(std::string_view config, const std::string& config_source,
                              const std::string_view* preprocessor,
                              const std::string& preprocessor_source,
                              std::vector<std::string>& warnings) {
  const json doc = detail::parse_strict_json(config, config_source, kMaxJsonDepth);
  const JsonObject cfg(doc, config_source, "");
  reject_other_models(cfg);
  const std::string act = cfg.has("hidden_act") ? cfg.choice("hidden_act", {"silu", "swish"}) : "";
  (void)act;  // both names are SiLU; anything else is rejected by choice()
  const auto hidden = cfg.integers("hidden_sizes", 3, 3, 1, 8192);
  const auto neck = cfg.integers("neck_hidden_sizes", 7, 7, 1, 8192);
  ModelSpec spec;
  spec.flavour = Flavour::kOfficial;
  spec.in_channels = static_cast<int>(int_or(cfg, "num_channels", 3, 1, 16));
  spec.input_h = spec.input_w = static_cast<int>(int_or(cfg, "image_size", 256, 1, 4096));
  spec.stem_channels = static_cast<int>(neck[0]);
  build_stages(spec, hidden, neck, cfg);
  spec.variant = variant_name(hidden, neck, spec.stages[0].blocks[0].mv2.expansion);
  spec.head.channels = static_cast<int>(neck[6]);
  spec.ln_eps = cfg.has("layer_norm_eps") ? cfg.number("layer_norm_eps", 0, 1) : 1e-5;
  if (cfg.has("id2label")) {
    spec.labels = hf_labels(cfg);
    spec.num_classes = static_cast<int>(spec.labels.size());
  } else {
    spec.num_classes = static_cast<int>(int_or(cfg, "num_labels", 2, 1, 1 << 20));
    warnings.push_back(config_source + ": no id2label; num_classes " +
                       std::to_string(spec.num_classes) + " (transformers' default is 2)");
  }
  spec.preprocessing = hf_preprocessing(preprocessor, preprocessor_source, warnings);
  validate_spec(spec, config_source);
  return spec;
}

namespace {

struct UnitPair {
  std::string canonical, hf;  // prefixes without the trailing dot
};

void add_transformer_units(std::vector<UnitPair>& u, const std::string& c, const std::string& h,
                           int depth) {
  for (int l = 0; l < depth; ++l) {
    const std::string cl = c + "transformer." + std::to_string(l) + ".";
    const std::string hl = h + "transformer.layer." + std::to_string(l) + ".";
    u.push_back({cl + "norm1", hl + "layernorm_before"});
    u.push_back({cl + "attn.proj", hl + "attention.output.dense"});
    u.push_back({cl + "norm2", hl + "layernorm_after"});
    u.push_back({cl + "mlp.fc1", hl + "intermediate.dense"});
    u.push_back({cl + "mlp.fc2", hl + "output.dense"});
  }
  u.push_back({c + "norm", h + "layernorm"});
  u.push_back({c + "conv_kxk", h + "conv_kxk"});
  u.push_back({c + "conv_1x1", h + "conv_1x1"});
  u.push_back({c + "conv_proj", h + "conv_projection"});
  u.push_back({c + "fusion", h + "fusion"});
}

std::vector<UnitPair> hf_units(const ModelSpec& spec) {
  std::vector<UnitPair> u = {{"stem", "mobilevit.conv_stem"},
                             {"head.fc", "classifier"},
                             {"head", "mobilevit.conv_1x1_exp"}};
  for (size_t s = 0; s < spec.stages.size(); ++s) {
    const std::string hs = "mobilevit.encoder.layer." + std::to_string(s) + ".";
    for (size_t j = 0; j < spec.stages[s].blocks.size(); ++j) {
      const std::string c = "stages." + std::to_string(s) + "." + std::to_string(j) + ".";
      const BlockSpec& b = spec.stages[s].blocks[j];
      if (b.kind == BlockKind::kMobileVit) {
        add_transformer_units(u, c, hs, b.mvit.depth);
        continue;
      }
      // Stages 1-2 are MobileViTMobileNetLayer (layer.J); stages 3-5 open with one stride-2
      // block called downsampling_layer.
      const std::string h =
          s < 2 ? hs + "layer." + std::to_string(j) + "." : hs + "downsampling_layer.";
      u.push_back({c + "expand", h + "expand_1x1"});
      u.push_back({c + "dw", h + "conv_3x3"});
      u.push_back({c + "project", h + "reduce_1x1"});
    }
  }
  return u;
}

std::string hf_suffix(const std::string& suffix) {
  if (suffix == "conv.weight") return "convolution.weight";
  if (suffix.compare(0, 3, "bn.") == 0) return "normalization." + suffix.substr(3);
  return suffix;
}

}  // namespace

std::map<std::string, NameTarget> hf_name_map(const ModelSpec& spec) {
  const std::vector<UnitPair> units = hf_units(spec);
  std::map<std::string, NameTarget> map;
  for (const ExpectedTensor& t : expected_tensors(spec)) {
    const size_t qkv = t.name.find(".attn.qkv.");
    if (qkv != std::string::npos) {
      // transformers keeps query, key and value as three Linear(d, d); the canonical tensor
      // stacks their rows [q; k; v] (FORMAT.md section 4). Canonical stages.S.J.transformer.L.
      // is HF mobilevit.encoder.layer.S.transformer.layer.L.
      const size_t s0 = 7, s1 = t.name.find('.', s0);
      const size_t l0 = t.name.find(".transformer.") + 13;
      const std::string h = "mobilevit.encoder.layer." + t.name.substr(s0, s1 - s0) +
                            ".transformer.layer." + t.name.substr(l0, qkv - l0) +
                            ".attention.attention.";
      const std::string leaf = t.name.substr(qkv + 10);  // weight | bias
      const char* parts[3] = {"query.", "key.", "value."};
      for (int p = 0; p < 3; ++p) map[h + parts[p] + leaf] = {t.name, p, 3};
      continue;
    }
    size_t best = 0;
    const UnitPair* match = nullptr;
    for (const UnitPair& u : units) {
      if (t.name.compare(0, u.canonical.size() + 1, u.canonical + ".") == 0 &&
          u.canonical.size() > best) {
        best = u.canonical.size();
        match = &u;
      }
    }
    MVIT_CHECK(match != nullptr, "no Hugging Face name for canonical tensor %s", t.name.c_str());
    map[match->hf + "." + hf_suffix(t.name.substr(best + 1))] = {t.name, 0, 1};
  }
  return map;
}

std::string hf_explain_unknown(const std::vector<std::string>& unknown) {
  for (const std::string& n : unknown) {
    if (n.compare(0, 18, "segmentation_head.") == 0) {
      return "the file holds a DeepLabV3 segmentation head (segmentation_head.*): segmentation "
             "checkpoints are not supported, only MobileViTForImageClassification";
    }
    if (n.compare(0, 8, "encoder.") == 0 || n.compare(0, 10, "conv_stem.") == 0) {
      return "the names carry no 'mobilevit.' prefix: this is a MobileViTModel backbone without "
             "classifier; only MobileViTForImageClassification checkpoints are supported";
    }
  }
  return "";
}

}  // namespace mvit
