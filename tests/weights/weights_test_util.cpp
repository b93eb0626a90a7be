#include "tests/weights/weights_test_util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "runtime/model_json.h"
#include "runtime/safetensors.h"
#include "runtime/variants.h"

namespace mvit::test {

namespace {

BlockSpec mv2(int in, int out, int stride, double expansion, int hidden) {
  BlockSpec b;
  b.kind = BlockKind::kMv2;
  b.mv2 = {in, out, hidden, stride, expansion};
  return b;
}

BlockSpec mvit_block(Flavour f, int c, int d, int depth, int heads, int head_dim, int ffn) {
  BlockSpec b;
  b.kind = BlockKind::kMobileVit;
  MobileVitSpec& m = b.mvit;
  m.channels = c, m.dim = d, m.depth = depth, m.heads = heads, m.head_dim = head_dim;
  m.ffn_dim = ffn;
  const bool official = f == Flavour::kOfficial;
  m.qkv_bias = official;
  m.conv_1x1_bn_act = !official;
  m.final_layernorm = official;
  m.concat = official ? ConcatOrder::kInputBranch : ConcatOrder::kBranchInput;
  return b;
}

void set_flavour_head(ModelSpec& s, int pool_size) {
  const bool official = s.flavour == Flavour::kOfficial;
  s.head.classifier_bias = official;
  s.head.pool = official ? PoolKind::kGlobalMean : PoolKind::kAvgPool;
  s.head.pool_size = official ? 0 : pool_size;
  s.interpolate_if_indivisible = official;
}

}  // namespace

ModelSpec tiny_spec(Flavour flavour) {
  ModelSpec s;
  s.flavour = flavour;
  s.variant = "tiny";
  s.input_h = s.input_w = 32;
  s.stem_channels = 4;
  s.stages.resize(3);
  s.stages[0].blocks = {mv2(4, 4, 1, 2.0, 8)};
  s.stages[1].blocks = {mv2(4, 8, 2, 2.0, 8), mv2(8, 8, 1, 2.0, 16)};
  const bool official = flavour == Flavour::kOfficial;
  s.stages[2].blocks = {mv2(8, 8, 2, 2.0, 16),
                        mvit_block(flavour, 8, 8, 2, official ? 2 : 1, official ? 4 : 8, 16)};
  s.head.channels = 16;
  s.num_classes = 3;
  s.labels = {"cat", "dog", "bird"};
  set_flavour_head(s, 4);  // the final map of a 32x32 input is 4x4
  return s;
}

namespace {

const VariantSizes& variant_sizes(const std::string& variant) {
  const VariantSizes* v = find_variant(variant);
  if (v == nullptr) ADD_FAILURE() << "no published MobileViT size " << variant;
  return v ? *v : kVariants[0];
}

}  // namespace

ModelSpec seed_spec(const std::string& variant) {
  // mobilevit.md section 3.3: the seed lists 11 channels, the 7 of the table with each of stages
  // 2..5 opening at its predecessor's width; hidden width in * e unrounded, FFN d * {2, 4, 4}.
  const VariantSizes& v = variant_sizes(variant);
  const int* neck = v.channels;
  const int e = static_cast<int>(v.expansion);
  ModelSpec s;
  s.flavour = Flavour::kSeed;
  s.variant = variant;
  s.stem_channels = neck[0];
  s.stages.resize(5);
  s.stages[0].blocks = {mv2(neck[0], neck[1], 1, e, neck[0] * e)};
  s.stages[1].blocks = {mv2(neck[1], neck[2], 2, e, neck[1] * e),
                        mv2(neck[2], neck[2], 1, e, neck[2] * e),
                        mv2(neck[2], neck[2], 1, e, neck[2] * e)};
  for (int i = 0; i < 3; ++i) {
    const int in = neck[2 + i], out = neck[3 + i], d = v.dims[i];
    s.stages[2 + i].blocks = {mv2(in, out, 2, e, in * e),
                              mvit_block(Flavour::kSeed, out, d, kVariantDepths[i], kSeedHeads,
                                         kSeedHeadDim, d * kSeedFfnMultipliers[i])};
  }
  s.head.channels = neck[6];
  s.num_classes = 1000;
  set_flavour_head(s, 8);
  return s;
}

ModelSpec official_spec(const std::string& variant) {
  // mobilevit.md section 3.1: heads 4 x d/4, FFN 2d, hidden make_divisible(round(in * e), 8).
  const VariantSizes& v = variant_sizes(variant);
  const int* neck = v.channels;
  const double e = v.expansion;
  auto hid = [&](int in) { return make_divisible(static_cast<int>(std::lround(in * e))); };
  ModelSpec s;
  s.variant = variant;
  s.stem_channels = neck[0];
  s.stages.resize(5);
  s.stages[0].blocks = {mv2(neck[0], neck[1], 1, e, hid(neck[0]))};
  s.stages[1].blocks = {mv2(neck[1], neck[2], 2, e, hid(neck[1])),
                        mv2(neck[2], neck[2], 1, e, hid(neck[2])),
                        mv2(neck[2], neck[2], 1, e, hid(neck[2]))};
  for (int i = 0; i < 3; ++i) {
    const int d = v.dims[i];
    s.stages[2 + i].blocks = {
        mv2(neck[2 + i], neck[3 + i], 2, e, hid(neck[2 + i])),
        mvit_block(Flavour::kOfficial, neck[3 + i], d, kVariantDepths[i], kOfficialHeads,
                   d / kOfficialHeads, static_cast<int>(d * kOfficialMlpRatio))};
  }
  s.head.channels = neck[6];
  s.num_classes = 1000;
  set_flavour_head(s, 0);
  return s;
}

std::string encode(const std::vector<float>& values, WeightDType dtype) {
  std::string out;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    if (dtype == WeightDType::kF32) {
      out.append(reinterpret_cast<const char*>(&bits), 4);
    } else if (dtype == WeightDType::kBF16) {
      const uint16_t h = static_cast<uint16_t>(bits >> 16);  // truncation: test values only
      out.append(reinterpret_cast<const char*>(&h), 2);
    } else {
      ADD_FAILURE() << "encode: F32 and BF16 only";
    }
  }
  return out;
}

std::vector<HostTensor> random_tensors(const ModelSpec& spec, uint32_t seed, WeightDType dtype) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<HostTensor> out;
  for (const ExpectedTensor& e : expected_tensors(spec)) {
    HostTensor t;
    t.name = e.name;
    t.shape = e.shape;
    t.dtype = dtype;
    std::vector<float> v(static_cast<size_t>(t.elements()));
    // running_var must be positive to be a plausible variance; the loader does not require it.
    for (float& x : v) x = dist(rng);
    t.bytes = encode(v, dtype);
    out.push_back(std::move(t));
  }
  return out;
}

ModelFiles model_files(const ModelSpec& spec, const std::vector<HostTensor>& tensors) {
  ModelFiles f;
  f.format = SourceFormat::kModelDir;
  f.config = model_json(spec).dump(2);
  f.config_name = "model.json";
  std::vector<TensorEntry> entries;
  std::vector<std::string> data;
  for (const HostTensor& t : tensors) {
    entries.push_back({t.name, t.dtype, t.shape, 0, 0});
    data.push_back(t.bytes);
  }
  f.weights = write_safetensors(entries, data, {});
  f.weights_name = "model.safetensors";
  return f;
}

TempDir::TempDir() {
  const char* root = std::getenv("TMPDIR");
  std::string tmpl = std::string(root && *root ? root : "/tmp") + "/mvit-weights-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) ADD_FAILURE() << "mkdtemp failed";
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!f) ADD_FAILURE() << "cannot write " << path;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void save_fuzz_seed(const std::string& name, const std::string& bytes) {
  const char* dir = std::getenv("MVIT_WRITE_FUZZ_SEEDS");
  if (dir && *dir) write_file(std::string(dir) + "/" + name, bytes);
}

}  // namespace mvit::test
