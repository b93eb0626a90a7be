// model.json: one crafted file per validation rule, each asserting its message; every one is also a
// fuzz seed (model.json alone and as a model directory with the tiny model's weights).
#include <gtest/gtest.h>

#include "runtime/model.h"
#include "runtime/model_json.h"
#include "tests/weights/fuzz/fuzz_input.h"
#include "tests/weights/weights_test_util.h"

namespace mvit {
namespace {

using nlohmann::json;

struct Case {
  const char* name;
  Flavour flavour;
  const char* pointer;  // JSON pointer into model.json; "" = replace the text with `text`
  json value;           // null = erase the member
  const char* expected;
};

// Short parameter names in test listings instead of gtest's byte dump.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

std::string edited(const Case& c) {
  json doc = model_json(test::tiny_spec(c.flavour));
  const json::json_pointer ptr(c.pointer);
  if (c.value.is_null()) {
    doc[ptr.parent_pointer()].erase(ptr.back());
  } else {
    doc[ptr] = c.value;
  }
  return doc.dump(1);
}

std::vector<Case> cases() {
  using F = Flavour;
  return {
      {"format", F::kOfficial, "/format", "onnx",
       "field 'format': expected one of 'mobilevit-cuda', found a string '\"onnx\"'"},
      {"version", F::kOfficial, "/format_version", 2,
       "field 'format_version': expected 1 (the version this build reads), found 2"},
      {"unknown_key", F::kOfficial, "/weights_file", "../x",
       "field '(top level)': unknown keys 'weights_file'"},
      {"missing", F::kOfficial, "/architecture/num_classes", nullptr,
       "field 'architecture.num_classes': expected it to be present, found it missing"},
      {"type", F::kOfficial, "/architecture/stem/channels", "16",
       "field 'architecture.stem.channels': expected an integer in [1, 65536], found a string "
       "'\"16\"'"},
      {"flavour", F::kOfficial, "/architecture/flavour", "v2",
       "field 'architecture.flavour': expected one of 'official', 'seed'"},
      {"stride", F::kOfficial, "/architecture/stages/1/blocks/0/stride", 3,
       "architecture.stages[1].blocks[0].stride: expected 1 or 2, found 3"},
      {"hidden", F::kOfficial, "/architecture/stages/1/blocks/0/hidden_channels", 9,
       "architecture.stages[1].blocks[0].hidden_channels: expected int(in_channels * expansion) = "
       "8 or make_divisible(round(in_channels * expansion), 8) = 8 (in_channels 4, expansion 2), "
       "found 9"},
      {"chain", F::kOfficial, "/architecture/stages/1/blocks/0/in_channels", 5,
       "architecture.stages[1].blocks[0].in_channels: expected 4 (the previous block's output "
       "channels), found 5"},
      {"mvit_channels", F::kOfficial, "/architecture/stages/2/blocks/1/channels", 16,
       "architecture.stages[2].blocks[1].channels: expected 8 (the previous block's output "
       "channels), found 16"},
      {"heads", F::kOfficial, "/architecture/stages/2/blocks/1/heads", 4,
       "expected heads * head_dim == transformer_dim (8), found 4 * 4 = 16"},
      {"qkv_bias", F::kOfficial, "/architecture/stages/2/blocks/1/qkv_bias", false,
       "architecture.stages[2].blocks[1].qkv_bias: the official flavour requires true, found "
       "false"},
      {"conv_1x1", F::kSeed, "/architecture/stages/2/blocks/1/conv_1x1_bn_act", false,
       "conv_1x1_bn_act: the seed flavour requires true, found false"},
      {"final_ln", F::kSeed, "/architecture/stages/2/blocks/1/final_layernorm", true,
       "final_layernorm: the seed flavour requires false, found true"},
      {"concat", F::kOfficial, "/architecture/stages/2/blocks/1/concat_order", "branch_input",
       "concat_order: the official flavour requires 'input_branch', found 'branch_input'"},
      {"concat_value", F::kOfficial, "/architecture/stages/2/blocks/1/concat_order", "both",
       "concat_order': expected one of 'input_branch', 'branch_input'"},
      {"patch", F::kOfficial, "/architecture/stages/2/blocks/1/patch_size", json::array({17, 2}),
       "field 'architecture.stages[2].blocks[1].patch_size[0]': expected a value in [1, 16], found "
       "17"},
      {"patch_zero", F::kOfficial, "/architecture/stages/2/blocks/1/patch_size",
       json::array({0, 2}),
       "patch_size[0]': expected an integer in [1, 1024], found an integer '0'"},
      {"kernel", F::kOfficial, "/architecture/stages/2/blocks/1/kernel", 2,
       "kernel: expected an odd size in [1, 7], found 2"},
      {"depth", F::kOfficial, "/architecture/stages/2/blocks/1/depth", 40,
       "depth': expected a value in [1, 32], found 40"},
      {"ffn", F::kOfficial, "/architecture/stages/2/blocks/1/ffn_dim", 0,
       "ffn_dim': expected an integer in [1, 65536], found an integer '0'"},
      {"expansion", F::kOfficial, "/architecture/stages/1/blocks/0/expansion", 0.01,
       "expansion': expected a value in [0.125, 16], found 0.01"},
      {"block_type", F::kOfficial, "/architecture/stages/1/blocks/0/type", "conv",
       "type': expected one of 'mv2', 'mobilevit'"},
      {"no_stages", F::kOfficial, "/architecture/stages", json::array(),
       "field 'architecture.stages': expected an array of 1 to 64 objects, found an array '[]'"},
      {"pool_size", F::kSeed, "/architecture/head/pool_size", 8,
       "architecture.head.pool_size: expected 4, the final 4x4 map at the default input 32x32 "
       "(anything else is not a global average), found 8"},
      {"pool_extra", F::kOfficial, "/architecture/head/pool_size", 4,
       "expected no pool_size with pool 'global_mean'"},
      {"fc_bias", F::kSeed, "/architecture/head/classifier_bias", true,
       "architecture.head.classifier_bias: the seed flavour requires false, found true"},
      {"labels", F::kOfficial, "/labels", json::array({"a", "b"}),
       "labels: expected none or num_classes (3) entries, found 2"},
      {"label_type", F::kOfficial, "/labels", json::array({"a", 2, "c"}),
       "field 'labels[1]': expected a string of at most 1024 bytes, found an integer"},
      {"bn_eps", F::kOfficial, "/architecture/bn_eps", 0.5,
       "field 'architecture.bn_eps': expected a value in [1e-12, 0.1], found 0.5"},
      {"interpolate", F::kSeed, "/architecture/interpolate_if_indivisible", true,
       "architecture.interpolate_if_indivisible: the seed flavour requires false, found true"},
      {"seed_divisible", F::kSeed, "/architecture/input_size", json::array({40, 40}),
       "without interpolation the 5x5 map at the default input 40x40 must be divisible by the "
       "patch 2x2"},
      {"activation", F::kOfficial, "/architecture/activation", "gelu",
       "field 'architecture.activation': expected one of 'silu'"},
      {"variant", F::kOfficial, "/architecture/variant", "a b",
       "architecture.variant: expected letters, digits, '_', '-' or '.', found byte 0x20"},
      {"in_channels", F::kOfficial, "/architecture/in_channels", 17,
       "field 'architecture.in_channels': expected a value in [1, 16], found 17"},
      {"stem_kernel", F::kOfficial, "/architecture/stem/kernel", 4,
       "architecture.stem.kernel: expected an odd size in [1, 7], found 4"},
      {"crop", F::kOfficial, "/preprocessing/crop_size", json::array({0, 5}),
       "preprocessing.crop_size: expected both sides 0 (no crop) or both > 0, found 0x5"},
      {"std", F::kOfficial, "/preprocessing/std/1", 0,
       "field 'preprocessing.std[1]': expected a value in [1e-12, 1e+06], found 0"},
      {"channel_order", F::kOfficial, "/preprocessing/channel_order", "rbg",
       "field 'preprocessing.channel_order': expected one of 'rgb', 'bgr'"},
      {"interpolation", F::kOfficial, "/preprocessing/interpolation", "area",
       "field 'preprocessing.interpolation': expected one of 'nearest', 'bilinear'"},
      {"source", F::kOfficial, "/source", json{{"tool", 1}},
       "field 'source.tool': expected a string, found an integer"},
  };
}

class ModelJsonRule : public ::testing::TestWithParam<Case> {};

TEST_P(ModelJsonRule, RejectedWithItsMessage) {
  const Case& c = GetParam();
  const std::string text = edited(c);
  test::save_fuzz_seed(std::string("mj_") + c.name, fuzz::encode_single(fuzz::kModelJson, text));
  EXPECT_MVIT_ERROR(parse_model_json(text, "m/model.json"), "m/model.json: ", c.expected);
}

INSTANTIATE_TEST_SUITE_P(Weights, ModelJsonRule, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ModelJson, DuplicateKey) {
  const std::string text = R"({"format": "mobilevit-cuda", "format": "mobilevit-cuda"})";
  test::save_fuzz_seed("mj_dup", fuzz::encode_single(fuzz::kModelJson, text));
  EXPECT_MVIT_ERROR(parse_model_json(text, "model.json"),
                    "model.json: duplicate key 'format' at depth 1");
}

TEST(ModelJson, NestingCap) {
  const std::string text = "{\"labels\":" + std::string(40, '[') + std::string(40, ']') + "}";
  test::save_fuzz_seed("mj_deep", fuzz::encode_single(fuzz::kModelJson, text));
  EXPECT_MVIT_ERROR(parse_model_json(text, "model.json"),
                    "expected JSON nested at most 16 levels deep");
}

TEST(ModelJson, InvalidUtf8) {
  const std::string text = "{\"labels\":[\"caf\xE9\"]}";  // Latin-1, not UTF-8
  EXPECT_MVIT_ERROR(parse_model_json(text, "model.json"),
                    "invalid UTF-8 sequence at byte 15 (0xe9)");
}

TEST(ModelJson, SyntaxError) {
  EXPECT_MVIT_ERROR(parse_model_json("{\"format\": }", "model.json"),
                    "model.json: expected valid JSON, found a syntax error");
}

TEST(ModelJson, PoolMustMatchTheFlavour) {
  json doc = model_json(test::tiny_spec(Flavour::kOfficial));
  doc["architecture"]["head"]["pool"] = "avg_pool";
  doc["architecture"]["head"]["pool_size"] = 4;
  EXPECT_MVIT_ERROR(parse_model_json(doc.dump(), "model.json"),
                    "architecture.head.pool: the official flavour requires 'global_mean', found "
                    "'avg_pool'");
}

TEST(ModelJson, TooManyStages) {
  json doc = model_json(test::tiny_spec(Flavour::kOfficial));
  for (int i = 0; i < 6; ++i)
    doc["architecture"]["stages"].push_back(doc["architecture"]["stages"][0]);
  EXPECT_MVIT_ERROR(parse_model_json(doc.dump(), "model.json"),
                    "field 'architecture.stages (count)': expected a value in [1, 8], found 9");
}

TEST(ModelJson, RoundTripsEveryPublishedSpec) {
  for (const char* v : {"xxs", "xs", "s"}) {
    for (const ModelSpec& s : {test::official_spec(v), test::seed_spec(v)}) {
      const std::string text = model_json(s).dump();
      EXPECT_EQ(model_json(parse_model_json(text, "model.json")).dump(), text) << v;
    }
  }
}

TEST(ModelJson, FuzzSeedsOfValidFiles) {
  for (Flavour f : {Flavour::kOfficial, Flavour::kSeed}) {
    const ModelSpec s = test::tiny_spec(f);
    const std::string tag = f == Flavour::kOfficial ? "official" : "seed";
    test::save_fuzz_seed("mj_valid_" + tag,
                         fuzz::encode_single(fuzz::kModelJson, model_json(s).dump()));
    test::save_fuzz_seed(
        "dir_valid_" + tag,
        fuzz::encode(test::model_files(s, test::random_tensors(s, 5, WeightDType::kBF16))));
  }
}

}  // namespace
}  // namespace mvit
