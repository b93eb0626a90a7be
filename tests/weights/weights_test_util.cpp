#include "tests/weights/weights_test_util.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "runtime/model_json.h"
#include "runtime/safetensors.h"

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

ModelSpec seed_spec(const std::string& variant) {
  // mobilevit.md section 3.3: dims, the 11 channels, expansion, FFN 2d / 4d / 4d.
  std::vector<int> dims, ch;
  int e = 4;
  if (variant == "xxs") {
    dims = {64, 80, 96}, ch = {16, 16, 24, 24, 48, 48, 64, 64, 80, 80, 320}, e = 2;
  } else if (variant == "xs") {
    dims = {96, 120, 144}, ch = {16, 32, 48, 48, 64, 64, 80, 80, 96, 96, 384};
  } else {
    dims = {144, 192, 240}, ch = {16, 32, 64, 64, 96, 96, 128, 128, 160, 160, 640};
  }
  ModelSpec s;
  s.flavour = Flavour::kSeed;
  s.variant = variant;
  s.stem_channels = ch[0];
  s.stages.resize(5);
  s.stages[0].blocks = {mv2(ch[0], ch[1], 1, e, ch[0] * e)};
  s.stages[1].blocks = {mv2(ch[1], ch[2], 2, e, ch[1] * e), mv2(ch[2], ch[3], 1, e, ch[2] * e),
                        mv2(ch[2], ch[3], 1, e, ch[2] * e)};
  const int depth[3] = {2, 4, 3}, ffn_mult[3] = {2, 4, 4};
  for (int i = 0; i < 3; ++i) {
    const int in = ch[3 + 2 * i], out = ch[4 + 2 * i];
    s.stages[2 + i].blocks = {
        mv2(in, out, 2, e, in * e),
        mvit_block(Flavour::kSeed, out, dims[i], depth[i], 4, 8, dims[i] * ffn_mult[i])};
  }
  s.head.channels = ch[10];
  s.num_classes = 1000;
  set_flavour_head(s, 8);
  return s;
}

ModelSpec official_spec(const std::string& variant) {
  // mobilevit.md section 3.1: transformer dims, conv channels, expansion; heads 4 x d/4, FFN 2d.
  std::vector<int> dims, neck;
  double e = 4.0;
  if (variant == "xxs") {
    dims = {64, 80, 96}, neck = {16, 16, 24, 48, 64, 80, 320}, e = 2.0;
  } else if (variant == "xs") {
    dims = {96, 120, 144}, neck = {16, 32, 48, 64, 80, 96, 384};
  } else {
    dims = {144, 192, 240}, neck = {16, 32, 64, 96, 128, 160, 640};
  }
  auto hid = [&](int in) { return std::max(8, (static_cast<int>(in * e) + 4) / 8 * 8); };
  ModelSpec s;
  s.variant = variant;
  s.stem_channels = neck[0];
  s.stages.resize(5);
  s.stages[0].blocks = {mv2(neck[0], neck[1], 1, e, hid(neck[0]))};
  s.stages[1].blocks = {mv2(neck[1], neck[2], 2, e, hid(neck[1])),
                        mv2(neck[2], neck[2], 1, e, hid(neck[2])),
                        mv2(neck[2], neck[2], 1, e, hid(neck[2]))};
  const int depth[3] = {2, 4, 3};
  for (int i = 0; i < 3; ++i) {
    s.stages[2 + i].blocks = {mv2(neck[2 + i], neck[3 + i], 2, e, hid(neck[2 + i])),
                              mvit_block(Flavour::kOfficial, neck[3 + i], dims[i], depth[i], 4,
                                         dims[i] / 4, 2 * dims[i])};
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
