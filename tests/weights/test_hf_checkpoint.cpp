// Hugging Face MobileViT folders: the three sizes load as they are (names and shapes from
// transformers itself, tests/weights/fixtures, written by tools/gen_weights_fixtures.py), and the
// folders the project does not run are rejected with a message that says what they are.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include "runtime/hf_checkpoint.h"
#include "runtime/model.h"
#include "runtime/model_json.h"
#include "runtime/safetensors.h"
#include "tests/weights/fuzz/fuzz_input.h"
#include "tests/weights/weights_test_util.h"

namespace mvit {
namespace {

using test::TempDir;

std::string fixture(const std::string& size, const std::string& file) {
  return test::read_file(std::string(MVIT_WEIGHTS_FIXTURES) + "/hf_" + size + "/" + file);
}

struct HfFolder {
  std::vector<TensorEntry> entries;
  std::map<std::string, std::string> data;  // name -> bytes
  int64_t published_params = 0;
  std::string safetensors() const {
    std::vector<std::string> blobs;
    for (const TensorEntry& e : entries) blobs.push_back(data.at(e.name));
    return write_safetensors(entries, blobs, {{"format", "pt"}});
  }
};

// Random weights under the names and shapes transformers gave (tensors.txt).
HfFolder hf_folder(const std::string& size, uint32_t seed) {
  HfFolder f;
  std::istringstream in(fixture(size, "tensors.txt"));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# parameters ", 0) == 0) f.published_params = std::stoll(line.substr(13));
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name, dtype, dims;
    ls >> name >> dtype >> dims;
    TensorEntry e{name, dtype == "I64" ? WeightDType::kI64 : WeightDType::kF32, {}, 0, 0};
    std::istringstream ds(dims);
    for (std::string d; std::getline(ds, d, ',');) e.shape.push_back(std::stoll(d));
    std::vector<float> v(e.elements());
    for (float& x : v) x = dist(rng);
    f.data[name] = e.dtype == WeightDType::kI64 ? std::string(8, '\0') : test::encode(v, e.dtype);
    f.entries.push_back(e);
  }
  return f;
}

ModelFiles hf_files(const std::string& size, const HfFolder& folder, bool preprocessor = true) {
  ModelFiles f;
  f.format = SourceFormat::kHuggingFace;
  f.config = fixture(size, "config.json");
  f.config_name = "config.json";
  f.weights = folder.safetensors();
  f.weights_name = "model.safetensors";
  f.has_preprocessor = preprocessor;
  f.preprocessor = fixture(size, "preprocessor_config.json");
  f.preprocessor_name = "preprocessor_config.json";
  return f;
}

class HfSizes : public ::testing::TestWithParam<const char*> {};

TEST_P(HfSizes, FolderLoadsWithPublishedCounts) {
  const std::string size = GetParam();
  const HfFolder folder = hf_folder(size, 7);
  TempDir dir;
  test::write_file(dir.file("config.json"), fixture(size, "config.json"));
  test::write_file(dir.file("preprocessor_config.json"), fixture(size, "preprocessor_config.json"));
  test::write_file(dir.file("model.safetensors"), folder.safetensors());
  test::write_file(dir.file("pytorch_model.bin"), "never opened");
  const Model m = Model::load(dir.path());
  EXPECT_EQ(m.format(), SourceFormat::kHuggingFace);
  EXPECT_EQ(m.spec().variant, size);
  EXPECT_EQ(m.spec().flavour, Flavour::kOfficial);
  // Published: official XXS 1,272,024, XS 2,317,848, S 5,578,632 (issue 3, mobilevit.md 7).
  const std::map<std::string, int64_t> published = {
      {"xxs", 1272024}, {"xs", 2317848}, {"s", 5578632}};
  EXPECT_EQ(parameter_count(m.spec()), published.at(size));
  EXPECT_EQ(folder.published_params, published.at(size)) << "fixture from transformers disagrees";
  EXPECT_EQ(m.spec().num_classes, 1000);
  EXPECT_EQ(m.spec().labels.size(), 1000u);
  // transformers' 347 entries: 32 num_batches_tracked (ignored) and 315 weights; in each of the 9
  // transformer layers 6 query/key/value tensors become 2 (qkv weight, bias): 315 - 36 = 279.
  EXPECT_EQ(m.tensors().size(), 279u);
  // The table-built official spec (mobilevit.md 3.1) and the spec read from config.json agree.
  ModelSpec table = test::official_spec(size);
  table.labels = m.spec().labels;
  table.preprocessing = m.spec().preprocessing;
  EXPECT_EQ(model_json(m.spec()).dump(), model_json(table).dump());
}

TEST_P(HfSizes, EveryFileTensorLandsWhereTheMapSays) {
  const std::string size = GetParam();
  const HfFolder folder = hf_folder(size, 11);
  const Model m = Model::from_files(hf_files(size, folder));
  const auto map = hf_name_map(m.spec());
  size_t checked = 0;
  for (const TensorEntry& e : folder.entries) {
    if (e.dtype == WeightDType::kI64) continue;
    const NameTarget& t = map.at(e.name);
    const std::string& bytes = m.tensor(t.canonical).bytes;
    const size_t part_bytes = bytes.size() / static_cast<size_t>(t.parts);
    EXPECT_EQ(bytes.substr(part_bytes * static_cast<size_t>(t.part), part_bytes),
              folder.data.at(e.name))
        << e.name << " -> " << t.canonical;
    ++checked;
  }
  EXPECT_EQ(checked, 315u);
}

TEST_P(HfSizes, SpotChecksOfTheMapping) {
  const std::string size = GetParam();
  const HfFolder folder = hf_folder(size, 3);
  const Model m = Model::from_files(hf_files(size, folder));
  auto same = [&](const char* canonical, const char* hf) {
    EXPECT_EQ(m.tensor(canonical).bytes, folder.data.at(hf)) << canonical << " vs " << hf;
  };
  same("stem.conv.weight", "mobilevit.conv_stem.convolution.weight");
  same("stages.1.2.project.conv.weight",
       "mobilevit.encoder.layer.1.layer.2.reduce_1x1.convolution.weight");
  same("stages.3.0.expand.bn.running_var",
       "mobilevit.encoder.layer.3.downsampling_layer.expand_1x1.normalization.running_var");
  same("stages.4.1.conv_1x1.conv.weight", "mobilevit.encoder.layer.4.conv_1x1.convolution.weight");
  same("stages.3.1.transformer.3.mlp.fc2.bias",
       "mobilevit.encoder.layer.3.transformer.layer.3.output.dense.bias");
  same("stages.2.1.norm.weight", "mobilevit.encoder.layer.2.layernorm.weight");
  same("stages.2.1.fusion.conv.weight", "mobilevit.encoder.layer.2.fusion.convolution.weight");
  same("head.conv.weight", "mobilevit.conv_1x1_exp.convolution.weight");
  same("head.fc.bias", "classifier.bias");
  const std::string q = "mobilevit.encoder.layer.4.transformer.layer.2.attention.attention.";
  EXPECT_EQ(m.tensor("stages.4.1.transformer.2.attn.qkv.weight").bytes,
            folder.data.at(q + "query.weight") + folder.data.at(q + "key.weight") +
                folder.data.at(q + "value.weight"));
  EXPECT_EQ(m.tensor("stages.4.1.transformer.2.attn.qkv.bias").bytes,
            folder.data.at(q + "query.bias") + folder.data.at(q + "key.bias") +
                folder.data.at(q + "value.bias"));
}

INSTANTIATE_TEST_SUITE_P(Weights, HfSizes, ::testing::Values("xxs", "xs", "s"));

// The xx-small config with `edit` applied, loaded with the xx-small weights.
std::string load_error(const std::function<void(nlohmann::json&)>& edit, const std::string& seed,
                       HfFolder folder = hf_folder("xxs", 1)) {
  ModelFiles f = hf_files("xxs", folder);
  nlohmann::json cfg = nlohmann::json::parse(f.config);
  edit(cfg);
  f.config = cfg.dump();
  ModelFiles seed_files = f;  // config-sized seed: the 5 MB weights would slow the fuzzer
  seed_files.weights = write_safetensors({}, {}, {});
  test::save_fuzz_seed("hf_" + seed, fuzz::encode(seed_files));
  return test::error_of([&] { Model::from_files(f); });
}

TEST(HfReject, MobileVitV2) {
  const std::string msg = load_error([](auto& c) { c["model_type"] = "mobilevitv2"; }, "v2");
  EXPECT_NE(msg.find("config.json: model_type 'mobilevitv2': MobileViTV2 (separable "
                     "self-attention) is a different architecture"),
            std::string::npos)
      << msg;
}

TEST(HfReject, OtherModelType) {
  const std::string msg = load_error([](auto& c) { c["model_type"] = "vit"; }, "vit");
  EXPECT_NE(msg.find("field 'model_type': expected 'mobilevit', found 'vit'"), std::string::npos)
      << msg;
}

TEST(HfReject, DeepLabByArchitectures) {
  const std::string msg = load_error(
      [](auto& c) { c["architectures"] = {"MobileViTForSemanticSegmentation"}; }, "deeplab");
  EXPECT_NE(msg.find("this is a DeepLabV3 segmentation checkpoint"), std::string::npos) << msg;
}

TEST(HfReject, DeepLabByOutputStride) {
  const std::string msg = load_error(
      [](auto& c) {
        c.erase("architectures");
        c["output_stride"] = 16;
      },
      "stride16");
  EXPECT_NE(msg.find("field 'output_stride': expected 32 (classification), found 16"),
            std::string::npos)
      << msg;
}

TEST(HfReject, DeepLabBySegmentationHeadTensors) {
  HfFolder folder = hf_folder("xxs", 1);
  TensorEntry e{
      "segmentation_head.classifier.convolution.weight", WeightDType::kF32, {21, 256, 1, 1}, 0, 0};
  folder.entries.push_back(e);
  folder.data[e.name] = std::string(21 * 256 * 4, '\0');
  const std::string msg = load_error([](auto& c) { c.erase("architectures"); }, "seg_head", folder);
  EXPECT_NE(msg.find("1 unknown: 'segmentation_head.classifier.convolution.weight'"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("DeepLabV3 segmentation head"), std::string::npos) << msg;
}

TEST(HfReject, BackboneWithoutClassifier) {
  const std::string msg =
      load_error([](auto& c) { c["architectures"] = {"MobileViTModel"}; }, "backbone");
  EXPECT_NE(msg.find("MobileViTModel: a backbone without classifier"), std::string::npos) << msg;
}

TEST(HfReject, BackboneNamesWithoutPrefix) {
  HfFolder folder = hf_folder("xxs", 1);
  for (TensorEntry& e : folder.entries) {
    if (e.name.rfind("mobilevit.", 0) == 0) {
      const std::string old = e.name;
      e.name = old.substr(10);
      folder.data[e.name] = folder.data.at(old);
    }
  }
  const std::string msg =
      load_error([](auto& c) { c.erase("architectures"); }, "no_prefix", folder);
  EXPECT_NE(msg.find("no 'mobilevit.' prefix: this is a MobileViTModel backbone"),
            std::string::npos)
      << msg;
}

TEST(HfReject, HeadsMustDivideHiddenSize) {
  const std::string msg = load_error([](auto& c) { c["num_attention_heads"] = 3; }, "heads");
  EXPECT_NE(msg.find("hidden_sizes[0] = 64: expected a multiple of num_attention_heads (3)"),
            std::string::npos)
      << msg;
}

TEST(HfReject, ActivationOtherThanSilu) {
  const std::string msg = load_error([](auto& c) { c["hidden_act"] = "gelu"; }, "act");
  EXPECT_NE(
      msg.find("field 'hidden_act': expected one of 'silu', 'swish', found a string '\"gelu\"'"),
      std::string::npos)
      << msg;
}

TEST(HfReject, ShapeMismatchNamesBothNames) {
  HfFolder folder = hf_folder("xxs", 1);
  const std::string name =
      "mobilevit.encoder.layer.2.transformer.layer.0.attention.attention.key.weight";
  for (TensorEntry& e : folder.entries) {
    if (e.name == name) e.shape = {64, 32};
  }
  folder.data[name].resize(64 * 32 * 4);
  const std::string msg = load_error([](auto&) {}, "shape", folder);
  EXPECT_NE(msg.find("tensor '" + name +
                     "' (canonical 'stages.2.1.transformer.0.attn.qkv.weight'): "
                     "expected shape [64, 64] (from config.json), found [64, 32]"),
            std::string::npos)
      << msg;
}

TEST(HfReject, QueryKeyValueDtypesMustAgree) {
  HfFolder folder = hf_folder("xxs", 1);
  const std::string name =
      "mobilevit.encoder.layer.2.transformer.layer.0.attention.attention.value.bias";
  for (TensorEntry& e : folder.entries) {
    if (e.name == name) e.dtype = WeightDType::kBF16;
  }
  folder.data[name].resize(64 * 2);
  const std::string msg = load_error([](auto&) {}, "qkv_dtype", folder);
  EXPECT_NE(msg.find("form 'stages.2.1.transformer.0.attn.qkv.bias': expected one dtype, found F32 "
                     "and BF16"),
            std::string::npos)
      << msg;
}

TEST(HfFolderFiles, PickleOnlyFolder) {
  TempDir dir;
  test::write_file(dir.file("config.json"), fixture("s", "config.json"));
  test::write_file(dir.file("pytorch_model.bin"), "pickle");
  EXPECT_MVIT_ERROR(Model::load(dir.path()),
                    "holds only pytorch_model.bin; pickle files are never read",
                    "tools/export_weights.py --hf");
}

TEST(HfFolderFiles, PickleOnlyMobileVitV2SaysV2First) {
  TempDir dir;
  test::write_file(dir.file("config.json"), R"({"model_type": "mobilevitv2"})");
  test::write_file(dir.file("pytorch_model.bin"), "pickle");
  EXPECT_MVIT_ERROR(Model::load(dir.path()), "MobileViTV2");
}

TEST(HfFolderFiles, ShardedCheckpoint) {
  TempDir dir;
  test::write_file(dir.file("config.json"), fixture("s", "config.json"));
  test::write_file(dir.file("model.safetensors.index.json"), "{}");
  EXPECT_MVIT_ERROR(Model::load(dir.path()), "holds a sharded checkpoint");
}

TEST(HfFolderFiles, TimmFolder) {
  TempDir dir;
  test::write_file(dir.file("config.json"),
                   R"({"architecture": "mobilevit_xxs", "num_classes": 1000})");
  test::write_file(dir.file("model.safetensors"), "");
  EXPECT_MVIT_ERROR(Model::load(dir.path()),
                    "this is a timm checkpoint folder (architecture "
                    "'mobilevit_xxs', no model_type)",
                    "export_weights.py --timm");
}

Preprocessing preprocessing_of(const std::string& text, bool present,
                               std::vector<std::string>* warnings_out = nullptr) {
  std::vector<std::string> warnings;
  const std::string_view view(text);
  const ModelSpec s =
      spec_from_hf_config(fixture("s", "config.json"), "config.json", present ? &view : nullptr,
                          "preprocessor_config.json", warnings);
  if (warnings_out) *warnings_out = warnings;
  return s.preprocessing;
}

void expect_apple(const Preprocessing& p) {
  EXPECT_EQ(p.resize_shortest_edge, 288);
  EXPECT_EQ(p.interpolation, "bilinear");
  EXPECT_EQ(p.crop_h, 256);
  EXPECT_EQ(p.crop_w, 256);
  EXPECT_DOUBLE_EQ(p.scale, 1.0 / 255.0);
  EXPECT_EQ(p.channel_order, ChannelOrder::kBgr);
}

TEST(HfPreprocessing, CurrentForm) {
  expect_apple(preprocessing_of(fixture("s", "preprocessor_config.json"), true));
}

TEST(HfPreprocessing, OlderHubForm) {
  // The hub's apple/mobilevit-small file verbatim (ecosystem.md section 9.2).
  std::vector<std::string> warnings;
  expect_apple(preprocessing_of(R"({"crop_size":256,"do_center_crop":true,"do_flip_channels":true,)"
                                R"("do_resize":true,"resample":2,"size":288})",
                                true, &warnings));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("absent keys (do_rescale)"), std::string::npos) << warnings[0];
}

TEST(HfPreprocessing, AbsentFileWarns) {
  std::vector<std::string> warnings;
  expect_apple(preprocessing_of("", false, &warnings));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("preprocessor_config.json is absent: using the preprocessing recorded "
                             "for apple/mobilevit-*"),
            std::string::npos);
}

TEST(HfPreprocessing, FlagsAreHonoured) {
  const Preprocessing p = preprocessing_of(
      R"({"do_resize":false,"do_center_crop":false,"do_flip_channel_order":false,"resample":3,)"
      R"("do_rescale":true,"rescale_factor":0.5})",
      true);
  EXPECT_EQ(p.resize_shortest_edge, 0);
  EXPECT_EQ(p.crop_h, 0);
  EXPECT_EQ(p.channel_order, ChannelOrder::kRgb);
  EXPECT_EQ(p.interpolation, "bicubic");
  EXPECT_DOUBLE_EQ(p.scale, 0.5);
}

TEST(HfPreprocessing, SizeWithoutShortestEdge) {
  EXPECT_MVIT_ERROR(preprocessing_of(R"({"size":{"height":3,"width":4},"crop_size":256})", true),
                    "preprocessor_config.json: field 'size': expected an integer or "
                    "{\"shortest_edge\": N}");
}

TEST(HfPreprocessing, ResampleOutOfRange) {
  EXPECT_MVIT_ERROR(preprocessing_of(R"({"size":288,"crop_size":256,"resample":9})", true),
                    "field 'resample': expected an integer in [0, 5], found an integer '9'");
}

TEST(HfConfig, WithoutId2LabelWarns) {
  std::vector<std::string> warnings;
  nlohmann::json cfg = nlohmann::json::parse(fixture("xxs", "config.json"));
  cfg.erase("id2label");
  cfg.erase("label2id");
  const ModelSpec s = spec_from_hf_config(cfg.dump(), "config.json", nullptr, "p", warnings);
  EXPECT_EQ(s.num_classes, 2);
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("no id2label; num_classes 2"), std::string::npos);
}

TEST(HfFuzzSeeds, Write) {
  // The xx-small folder as a fuzz seed is 5 MB; the fuzzer gets a config-only form instead (its
  // weights are replaced by a tiny file, which fails at the tensor list, deep in the loader).
  ModelFiles f = hf_files("xxs", hf_folder("xxs", 1));
  f.weights = write_safetensors({{"classifier.bias", WeightDType::kF32, {1}, 0, 0}},
                                {std::string(4, '\0')}, {});
  test::save_fuzz_seed("hf_config", fuzz::encode(f));
  f.has_preprocessor = false;
  test::save_fuzz_seed("hf_no_preprocessor", fuzz::encode(f));
  f.config = R"({"model_type":"mobilevitv2"})";
  test::save_fuzz_seed("hf_v2", fuzz::encode(f));
}

}  // namespace
}  // namespace mvit
