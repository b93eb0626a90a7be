// Loading a model: write -> read round trips, the tensor-level rules (missing, unknown, shape,
// non-finite, counters, size caps), the directory rules (fixed names, regular files, symlinks),
// and the published parameter counts and measured MACs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/model.h"
#include "runtime/model_json.h"
#include "runtime/safetensors.h"
#include "tests/weights/fuzz/fuzz_input.h"
#include "tests/weights/weights_test_util.h"

namespace mvit {
namespace {

using test::TempDir;

ModelFiles tiny_files(Flavour f = Flavour::kOfficial, WeightDType dtype = WeightDType::kF32) {
  const ModelSpec s = test::tiny_spec(f);
  return test::model_files(s, test::random_tensors(s, 1, dtype));
}

// Rebuilds the safetensors of `f` after `edit` changes the tensor list.
ModelFiles with_tensors(
    ModelFiles f,
    const std::function<void(std::vector<TensorEntry>&, std::vector<std::string>&)>& edit) {
  const SafetensorsIndex idx = parse_safetensors(f.weights, "w");
  std::vector<TensorEntry> entries = idx.tensors;
  std::vector<std::string> data;
  for (const TensorEntry& e : entries) {
    data.push_back(f.weights.substr(idx.data_offset + e.begin, e.end - e.begin));
  }
  edit(entries, data);
  f.weights = write_safetensors(entries, data, {});
  return f;
}

std::string load_error(const ModelFiles& f, const std::string& seed, LoadOptions o = {}) {
  test::save_fuzz_seed("dir_" + seed, fuzz::encode(f));
  return test::error_of([&] { Model::from_files(f, o); });
}

TEST(ModelLoad, RoundTripThroughDisk) {
  for (Flavour fl : {Flavour::kOfficial, Flavour::kSeed}) {
    for (WeightDType dt : {WeightDType::kF32, WeightDType::kBF16}) {
      const ModelSpec s = test::tiny_spec(fl);
      const std::vector<HostTensor> w = test::random_tensors(s, 2, dt);
      TempDir dir;
      save_model_dir(dir.path(), s, w, {{"exporter", "test"}});
      const Model m = Model::load(dir.path());
      EXPECT_EQ(m.format(), SourceFormat::kModelDir);
      EXPECT_EQ(model_json(m.spec()).dump(), model_json(s).dump());
      ASSERT_EQ(m.tensors().size(), w.size());
      for (size_t i = 0; i < w.size(); ++i) {
        EXPECT_EQ(m.tensors()[i].name, w[i].name);
        EXPECT_EQ(m.tensors()[i].dtype, dt);
        EXPECT_EQ(m.tensors()[i].bytes, w[i].bytes) << w[i].name;
      }
      EXPECT_TRUE(m.warnings().empty());
      ASSERT_EQ(m.metadata().size(), 1u);
      EXPECT_EQ(m.metadata()[0].second, "test");
    }
  }
}

TEST(ModelLoad, ToFloatWidensExactly) {
  HostTensor t;
  t.shape = {4};
  t.dtype = WeightDType::kF16;
  const uint16_t h[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF};  // 1, -2, 2^-24, 65504
  t.bytes.assign(reinterpret_cast<const char*>(h), 8);
  EXPECT_EQ(t.to_float(), (std::vector<float>{1.0f, -2.0f, std::ldexp(1.0f, -24), 65504.0f}));
  t.dtype = WeightDType::kBF16;
  const uint16_t b[4] = {0x3F80, 0xC040, 0x0000, 0x7F7F};  // 1, -3, 0, max
  t.bytes.assign(reinterpret_cast<const char*>(b), 8);
  EXPECT_EQ(t.to_float()[1], -3.0f);
  EXPECT_EQ(t.to_float()[0], 1.0f);
}

TEST(ModelLoad, MissingTensor) {
  const ModelFiles f = with_tensors(tiny_files(), [](auto& e, auto& d) {
    e.pop_back();
    d.pop_back();
  });
  const std::string msg = load_error(f, "missing");
  EXPECT_NE(msg.find("model.safetensors: the tensors do not match the architecture in model.json: "
                     "1 missing (canonical names): "),
            std::string::npos)
      << msg;
}

TEST(ModelLoad, UnknownTensorsListed) {
  const ModelFiles f = with_tensors(tiny_files(), [](auto& e, auto& d) {
    e.push_back({"extra.weight", WeightDType::kF32, {1}, 0, 0});
    d.push_back(std::string(4, '\0'));
    e.push_back({"stem.conv.bias", WeightDType::kF32, {4}, 0, 0});
    d.push_back(std::string(16, '\0'));
  });
  const std::string msg = load_error(f, "unknown");
  EXPECT_NE(msg.find("2 unknown: 'extra.weight', 'stem.conv.bias';"), std::string::npos) << msg;
}

TEST(ModelLoad, WrongShape) {
  const ModelFiles f = with_tensors(tiny_files(), [](auto& e, auto& d) {
    for (size_t i = 0; i < e.size(); ++i) {
      if (e[i].name == "stem.conv.weight") e[i].shape = {4, 3, 9}, d[i].resize(4 * 3 * 9 * 4);
    }
  });
  EXPECT_NE(load_error(f, "shape")
                .find("model.safetensors: tensor 'stem.conv.weight': expected "
                      "shape [4, 3, 3, 3] (from model.json), found [4, 3, 9]"),
            std::string::npos);
}

ModelFiles with_value(WeightDType dt, const std::string& name, size_t index, float value) {
  return with_tensors(tiny_files(Flavour::kOfficial, dt), [&](auto& e, auto& d) {
    for (size_t i = 0; i < e.size(); ++i) {
      if (e[i].name != name) continue;
      const std::string bytes = test::encode({value}, dt);
      d[i].replace(index * bytes.size(), bytes.size(), bytes);
    }
  });
}

TEST(ModelLoad, NaNRejectedNamingTheTensor) {
  const ModelFiles f = with_value(WeightDType::kF32, "stages.0.0.dw.conv.weight", 5, NAN);
  EXPECT_NE(load_error(f, "nan").find("model.safetensors: tensor 'stages.0.0.dw.conv.weight': "
                                      "expected finite weights, found 1 non-finite (first: element "
                                      "5 = NaN) (load with allow_non_finite"),
            std::string::npos);
}

TEST(ModelLoad, InfRejectedInBf16) {
  const ModelFiles f = with_value(WeightDType::kBF16, "head.fc.weight", 2, -INFINITY);
  EXPECT_NE(load_error(f, "inf").find("tensor 'head.fc.weight': expected finite weights, found 1 "
                                      "non-finite (first: element 2 = -Inf)"),
            std::string::npos);
}

TEST(ModelLoad, AllowNonFiniteLoadsWithAWarning) {
  const ModelFiles f = with_value(WeightDType::kF32, "head.fc.weight", 0, INFINITY);
  LoadOptions o;
  o.allow_non_finite = true;
  const Model m = Model::from_files(f, o);
  ASSERT_EQ(m.warnings().size(), 1u);
  EXPECT_NE(m.warnings()[0].find("loaded anyway (allow_non_finite)"), std::string::npos);
  EXPECT_TRUE(std::isinf(m.tensor("head.fc.weight").to_float()[0]));
}

TEST(ModelLoad, BatchNormCountersIgnored) {
  const ModelFiles f = with_tensors(tiny_files(), [](auto& e, auto& d) {
    e.push_back({"stem.bn.num_batches_tracked", WeightDType::kI64, {}, 0, 0});
    d.push_back(std::string(8, '\7'));
  });
  const Model m = Model::from_files(f);
  ASSERT_EQ(m.warnings().size(), 1u);
  EXPECT_EQ(m.warnings()[0], "1 BatchNorm num_batches_tracked counters ignored (training state)");
}

TEST(ModelLoad, CounterOnANonBatchNormIsUnknown) {
  const ModelFiles f = with_tensors(tiny_files(), [](auto& e, auto& d) {
    e.push_back({"stages.2.1.norm.num_batches_tracked", WeightDType::kI64, {}, 0, 0});
    d.push_back(std::string(8, '\0'));
  });
  EXPECT_NE(load_error(f, "counter_ln").find("1 unknown: 'stages.2.1.norm.num_batches_tracked'"),
            std::string::npos);
}

TEST(ModelLoad, WeightsSizeCap) {
  LoadOptions o;
  o.max_weights_bytes = 100;
  EXPECT_NE(load_error(tiny_files(), "cap", o)
                .find("model.safetensors: expected at most 100 bytes, found"),
            std::string::npos);
}

TEST(ModelLoad, BadModelJsonStopsBeforeTheWeights) {
  ModelFiles f = tiny_files();
  f.weights = "garbage";
  f.config = "{}";
  EXPECT_NE(
      load_error(f, "json_first").find("model.json: field 'format': expected it to be present"),
      std::string::npos);
}

TEST(ModelDir, NotADirectory) {
  TempDir dir;
  test::write_file(dir.file("f"), "x");
  EXPECT_MVIT_ERROR(Model::load(dir.file("f")), "expected a model directory", "Not a directory");
  EXPECT_MVIT_ERROR(Model::load(dir.file("absent")), "No such file or directory");
}

TEST(ModelDir, NeitherDescriptor) {
  TempDir dir;
  test::write_file(dir.file("model.safetensors"), "");
  EXPECT_MVIT_ERROR(Model::load(dir.path()),
                    "expected model.json (this project's format) or "
                    "config.json (a Hugging Face checkpoint), found neither");
}

TEST(ModelDir, ModelJsonWithoutWeights) {
  TempDir dir;
  test::write_file(dir.file("model.json"), tiny_files().config);
  EXPECT_MVIT_ERROR(Model::load(dir.path()),
                    "expected model.safetensors beside model.json, found none");
}

void write_tiny(const TempDir& dir) {
  const ModelFiles f = tiny_files();
  test::write_file(dir.file("model.json"), f.config);
  test::write_file(dir.file("model.safetensors"), f.weights);
}

TEST(ModelDir, SymlinkOutsideRejected) {
  TempDir outside, dir;
  write_tiny(outside);
  test::write_file(dir.file("model.json"), tiny_files().config);
  ASSERT_EQ(
      ::symlink(outside.file("model.safetensors").c_str(), dir.file("model.safetensors").c_str()),
      0);
  EXPECT_MVIT_ERROR(Model::load(dir.path()),
                    "/model.safetensors: expected a file inside the model "
                    "directory, found a symlink to",
                    "outside it");
}

TEST(ModelDir, SymlinkInsideFollowed) {
  TempDir dir;
  const ModelFiles f = tiny_files();
  test::write_file(dir.file("model.json"), f.config);
  test::write_file(dir.file("weights.bin"), f.weights);
  ASSERT_EQ(::symlink("weights.bin", dir.file("model.safetensors").c_str()), 0);
  EXPECT_EQ(Model::load(dir.path()).tensors().size(),
            expected_tensors(test::tiny_spec(Flavour::kOfficial)).size());
}

TEST(ModelDir, HubCacheSnapshotLayout) {
  // huggingface_hub keeps files in <repo>/blobs/<hash> and links them from snapshots/<rev>/.
  TempDir repo;
  const ModelFiles f = tiny_files();
  ASSERT_EQ(::mkdir(repo.file("blobs").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(repo.file("snapshots").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(repo.file("snapshots/abc123").c_str(), 0755), 0);
  test::write_file(repo.file("blobs/1111"), f.config);
  test::write_file(repo.file("blobs/2222"), f.weights);
  ASSERT_EQ(::symlink("../../blobs/1111", repo.file("snapshots/abc123/model.json").c_str()), 0);
  ASSERT_EQ(::symlink("../../blobs/2222", repo.file("snapshots/abc123/model.safetensors").c_str()),
            0);
  EXPECT_NO_THROW(Model::load(repo.file("snapshots/abc123")));
}

TEST(ModelDir, FifoIsNotARegularFile) {
  TempDir dir;
  test::write_file(dir.file("model.json"), tiny_files().config);
  ASSERT_EQ(::mkfifo(dir.file("model.safetensors").c_str(), 0600), 0);
  EXPECT_MVIT_ERROR(Model::load(dir.path()),
                    "/model.safetensors: expected a regular file, found "
                    "another kind of file");
}

TEST(ModelDir, JsonFileSizeCap) {
  TempDir dir;
  write_tiny(dir);
  ASSERT_EQ(::truncate(dir.file("model.json").c_str(), 9 << 20), 0);  // sparse, 9 MiB
  EXPECT_MVIT_ERROR(Model::load(dir.path()),
                    "/model.json: expected at most 8388608 bytes, found 9437184");
}

TEST(ModelDir, WeightsFileSizeCap) {
  TempDir dir;
  write_tiny(dir);
  LoadOptions o;
  o.max_weights_bytes = 64;
  EXPECT_MVIT_ERROR(Model::load(dir.path(), o),
                    "/model.safetensors: expected at most 64 bytes, found");
}

TEST(Counts, SeedParametersArePublished) {
  // chinhsuanwu/mobilevit-pytorch with 1000 classes (issue 3; mobilevit.md section 7).
  EXPECT_EQ(parameter_count(test::seed_spec("xxs")), 1331472);
  EXPECT_EQ(parameter_count(test::seed_spec("xs")), 2382944);
  EXPECT_EQ(parameter_count(test::seed_spec("s")), 5636720);
}

TEST(Counts, OfficialParametersArePublished) {
  EXPECT_EQ(parameter_count(test::official_spec("xxs")), 1272024);
  EXPECT_EQ(parameter_count(test::official_spec("xs")), 2317848);
  EXPECT_EQ(parameter_count(test::official_spec("s")), 5578632);
}

TEST(Counts, MacsMatchTheMeasuredCounts) {
  // mobilevit.md section 7: forward-hook counts at 256x256 (convs, linears, attention matmuls),
  // quoted to 3 decimals of a GMAC.
  const struct {
    const char* v;
    double official, seed;
  } rows[] = {{"xxs", 0.407, 0.363}, {"xs", 1.026, 0.916}, {"s", 2.001, 1.760}};
  for (const auto& r : rows) {
    EXPECT_NEAR(mac_count(test::official_spec(r.v)) * 1e-9, r.official, 0.0005) << r.v;
    EXPECT_NEAR(mac_count(test::seed_spec(r.v)) * 1e-9, r.seed, 0.0005) << r.v;
  }
}

TEST(Counts, StageShapesAt256) {
  const std::vector<StageShape> s = stage_shapes(test::official_spec("s"));
  ASSERT_EQ(s.size(), 8u);
  EXPECT_EQ(s[0].name, "stem");
  EXPECT_EQ(s[0].height, 128);
  EXPECT_EQ(s[3].channels, 96);
  EXPECT_EQ(s[3].height, 32);
  EXPECT_EQ(s[5].channels, 160);
  EXPECT_EQ(s[5].height, 8);
  EXPECT_EQ(s[6].channels, 640);
}

}  // namespace
}  // namespace mvit
