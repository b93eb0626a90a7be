// End to end: the engine's forward of every fixture of tests/fixtures/e2e (outputs of timm,
// Hugging Face transformers and the seed implementation, computed in fp64 by
// tools/make_reference.py with mvit-counter-v1 weights) against those outputs, stage by stage.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kernels/common/cuda_check.h"
#include "mvit/mvit.h"
#include "runtime/model.h"
#include "runtime/model_json.h"
#include "runtime/npy.h"
#include "tests/e2e/e2e_cases.h"
#include "tests/support/counter_weights.h"
#include "tests/support/device_buffer.h"
#include "tests/support/reference_outputs.h"
#include "tests/support/temp_dir.h"

namespace mvit {
namespace test {
namespace {

const std::string kFixtures = MVIT_E2E_FIXTURES;

struct Fixture {
  nlohmann::json ref;
  std::string dir;
  Model model;
  NpyArray input;
};

Fixture load_fixture(const std::string& name, const TempDir& tmp) {
  Fixture f;
  f.dir = kFixtures + "/" + name;
  f.ref = nlohmann::json::parse(read_text(f.dir + "/reference.json"));
  if (f.ref.at("source") == "hf") {
    f.model = Model::load(f.dir + "/hf");
  } else {
    const std::string json_path = f.dir + "/model.json";
    const ModelSpec spec = parse_model_json(read_text(json_path), json_path);
    f.model = counter_model(spec, f.ref.at("generator").at("seed").get<uint64_t>(), tmp.path());
  }
  f.input = read_npy(kFixtures + "/" + f.ref.at("input").get<std::string>());
  return f;
}

struct Forward {
  std::vector<std::vector<float>> outputs;  // per reference tensor, NCHW fp32
};

Forward run_engine(const Fixture& f, const std::vector<ReferenceTensor>& ref, Precision p,
                   AttentionPath a, bool graphs = true) {
  const int B = static_cast<int>(f.input.shape[0]);
  EngineOptions o;
  o.max_batch = B;
  o.input_h = static_cast<int>(f.input.shape[2]);
  o.input_w = static_cast<int>(f.input.shape[3]);
  o.precision = p;
  o.attention = a;
  std::vector<Output> wanted;
  for (const ReferenceTensor& t : ref) {
    const Output out = parse_output(t.name);
    if (out != Output::kLogits) o.outputs.push_back(out);
    wanted.push_back(out);
  }
  const Engine engine = Engine::create(f.model, o);
  ContextOptions co;
  co.use_graphs = graphs;
  Context context(engine, co);
  DeviceBuffer<float> input(f.input.f32);
  std::vector<std::unique_ptr<DeviceBuffer<float>>> buffers;
  OutputBuffers ob;
  for (Output out : wanted) {
    int64_t n = B;
    for (int64_t d : engine.output_shape(out)) n *= d;
    buffers.push_back(std::make_unique<DeviceBuffer<float>>(static_cast<size_t>(n)));
    ob[out] = buffers.back()->get();
  }
  cudaStream_t stream = nullptr;
  MVIT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  context.run(input.get(), B, ob, stream);
  MVIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  MVIT_CUDA_CHECK(cudaStreamDestroy(stream));
  Forward fw;
  for (auto& b : buffers) fw.outputs.push_back(b->download());
  return fw;
}

int argmax(const float* v, int n) {
  return static_cast<int>(std::max_element(v, v + n) - v);
}

class E2e : public ::testing::TestWithParam<E2eCase> {};

TEST_P(E2e, MatchesPyTorchStageByStage) {
  const E2eCase& c = GetParam();
  TempDir tmp;
  const Fixture f = load_fixture(c.fixture, tmp);
  const std::vector<ReferenceTensor> ref = load_reference(f.dir);
  const Forward fw = run_engine(f, ref, c.precision, c.attention);
  const double tol = e2e_tolerance(c.precision);
  const std::vector<StageError> rows = compare_to_reference(ref, fw.outputs, tol);
  const std::string table = format_error_table(rows);
  std::printf("%s (%s, %s, attention %s)\n%s", c.fixture.c_str(),
              f.ref.at("source").get<std::string>().c_str(), to_string(c.precision),
              to_string(c.attention), table.c_str());
  for (const StageError& e : rows) EXPECT_TRUE(e.ok) << e.name << "\n" << table;
  // The same top-1 wherever the reference's top-1 / top-2 margin exceeds the logits' tolerance.
  const ReferenceTensor& logits = ref.back();
  ASSERT_EQ(logits.name, "logits");
  const int classes = static_cast<int>(logits.shape[0]);
  const double logit_tol = rows.back().tolerance;
  for (int b = 0; b < logits.batch; ++b) {
    const float* r = logits.values.data() + static_cast<size_t>(b) * classes;
    std::vector<float> sorted(r, r + classes);
    std::sort(sorted.rbegin(), sorted.rend());
    if (sorted[0] - sorted[1] <= logit_tol) continue;
    EXPECT_EQ(argmax(fw.outputs.back().data() + static_cast<size_t>(b) * classes, classes),
              argmax(r, classes))
        << "image " << b << ": margin " << sorted[0] - sorted[1] << " > tolerance " << logit_tol;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, E2e, ::testing::ValuesIn(e2e_cases()),
                         [](const ::testing::TestParamInfo<E2eCase>& i) { return i.param.name(); });

// The fixtures discriminate: the two images' logits differ by far more than the fp32 tolerance,
// so a forward that ignored its input, or mixed the images of a batch, fails every case.
TEST(E2eFixtures, ImagesOfABatchDiscriminate) {
  for (const E2eCase& c : e2e_cases()) {
    if (c.precision != Precision::kFp32 || c.attention != AttentionPath::kAuto) continue;
    const std::vector<ReferenceTensor> ref = load_reference(kFixtures + "/" + c.fixture);
    const ReferenceTensor& l = ref.back();
    ASSERT_EQ(l.batch, 2) << c.fixture;
    const size_t n = l.values.size() / 2;
    double diff = 0.0, peak = 0.0;
    for (size_t i = 0; i < n; ++i) {
      diff = std::max(diff, std::fabs(double(l.values[i]) - l.values[n + i]));
      peak = std::max({peak, std::fabs(double(l.values[i])), std::fabs(double(l.values[n + i]))});
    }
    EXPECT_GT(diff, 100 * e2e_tolerance(Precision::kFp32) * std::max(1.0, peak)) << c.fixture;
  }
}

// mvit-counter-v1 in C++ reproduces numpy's values bit for bit (tools/counter_weights.py wrote
// the vectors), on every rule.
TEST(E2eGenerator, MatchesTheNumpyVectors) {
  const nlohmann::json v = nlohmann::json::parse(read_text(kFixtures + "/generator_vectors.json"));
  ASSERT_GE(v.at("vectors").size(), 6u);
  for (const nlohmann::json& e : v.at("vectors")) {
    const std::string name = e.at("name");
    const std::vector<float> t =
        counter_tensor(name, e.at("shape").get<std::vector<int64_t>>(),
                       std::stoull(e.at("seed_hex").get<std::string>(), nullptr, 16));
    const std::vector<std::string> bits = e.at("first8_bits");
    for (size_t i = 0; i < bits.size(); ++i) {
      uint32_t got;
      std::memcpy(&got, &t[i], 4);
      EXPECT_EQ(got, std::stoul(bits[i], nullptr, 16)) << name << "[" << i << "]";
    }
    double sum = 0.0;
    for (float x : t) sum += x;
    EXPECT_EQ(sum, e.at("sum").get<double>()) << name;
  }
}

// The Hugging Face fixture folder (as save_pretrained wrote it: separate query / key / value,
// num_batches_tracked) loads into exactly the generator's tensors.
TEST(E2eGenerator, HuggingFaceFolderHoldsTheGeneratedWeights) {
  const std::string dir = kFixtures + "/hf_xxs_256";
  const nlohmann::json ref = nlohmann::json::parse(read_text(dir + "/reference.json"));
  const Model hf = Model::load(dir + "/hf");
  const std::vector<HostTensor> want =
      counter_weights(hf.spec(), ref.at("generator").at("seed").get<uint64_t>());
  ASSERT_EQ(hf.tensors().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(hf.tensors()[i].name, want[i].name);
    EXPECT_TRUE(hf.tensors()[i].to_float() == want[i].to_float()) << want[i].name;
  }
}

}  // namespace
}  // namespace test
}  // namespace mvit
