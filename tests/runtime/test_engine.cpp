// The Engine and Context API: CUDA graphs against direct launches, batches, threads, caller
// workspaces, lifetimes, the arena plan, and every misuse the API promises to reject. The model is
// MobileViT-XXS (official, timm's architecture) with mvit-counter-v1 weights at a 64x64 input,
// small enough to run many forwards in the emulator; correctness against PyTorch is tests/e2e's.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "kernels/common/cuda_check.h"
#include "mvit_emu/emu.h"
#include "mvit/mvit.h"
#include "runtime/model.h"
#include "runtime/model_json.h"
#include "tests/support/counter_weights.h"
#include "tests/support/device_buffer.h"
#include "tests/support/error_text.h"
#include "tests/support/temp_dir.h"

namespace mvit {
namespace test {
namespace {

const std::string kFixtures = MVIT_E2E_FIXTURES;

ModelSpec fixture_spec(const std::string& name) {
  const std::string path = kFixtures + "/" + name + "/model.json";
  return parse_model_json(read_text(path), path);
}

const Model& xxs() {
  static const Model m = [] {
    TempDir dir;
    return counter_model(fixture_spec("timm_xxs_256"), 7, dir.path());
  }();
  return m;
}

EngineOptions small_options(int max_batch = 2) {
  EngineOptions o;
  o.max_batch = max_batch;
  o.input_h = o.input_w = 64;
  o.outputs = {Output::kFeatures, Output::kStage3};
  return o;
}

std::vector<float> test_input(int batch, uint64_t seed) {
  return counter_tensor("input", {batch, 3, 64, 64}, seed);
}

struct Result {
  std::vector<float> logits, features, stage3;
};

Result run(Context& c, const Engine& e, const std::vector<float>& input, int batch,
           cudaStream_t stream) {
  DeviceBuffer<float> in(input);
  DeviceBuffer<float> logits(static_cast<size_t>(batch) * e.classes());
  const std::vector<int64_t> f = e.output_shape(Output::kFeatures);
  const std::vector<int64_t> s3 = e.output_shape(Output::kStage3);
  DeviceBuffer<float> features(static_cast<size_t>(batch) * f[0] * f[1] * f[2]);
  DeviceBuffer<float> stage3(static_cast<size_t>(batch) * s3[0] * s3[1] * s3[2]);
  OutputBuffers out;
  out.logits = logits.get();
  out.features = features.get();
  out[Output::kStage3] = stage3.get();
  c.run(in.get(), batch, out, stream);
  MVIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  return {logits.download(), features.download(), stage3.download()};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MVIT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  void TearDown() override { MVIT_CUDA_CHECK_LOG(cudaStreamDestroy(stream_)); }
  cudaStream_t stream_ = nullptr;
};

// A replayed graph computes what direct launches compute, bit for bit, also when run() gets input
// and output buffers other than those of the run that captured it (each run() allocates new ones
// here), and the outputs are finite and depend on the input.
TEST_F(EngineTest, GraphReplayMatchesDirectLaunchesBitwise) {
  for (Precision p : {Precision::kFp32, Precision::kFp16}) {
    EngineOptions o = small_options();
    o.precision = p;
    const Engine engine = Engine::create(xxs(), o);
    ContextOptions direct;
    direct.use_graphs = false;
    Context graphed(engine), plain(engine, direct);
    const std::vector<float> x = test_input(2, 1);
    const Result a = run(graphed, engine, x, 2, stream_);  // captures
    const Result b = run(graphed, engine, x, 2, stream_);  // replays, other pointers
    const Result c = run(plain, engine, x, 2, stream_);
    for (const Result* r : {&b, &c}) {
      EXPECT_TRUE(same_bits(a.logits, r->logits)) << to_string(p);
      EXPECT_TRUE(same_bits(a.features, r->features)) << to_string(p);
      EXPECT_TRUE(same_bits(a.stage3, r->stage3)) << to_string(p);
    }
    for (float v : a.logits) ASSERT_TRUE(std::isfinite(v));
    const Result d = run(graphed, engine, test_input(2, 2), 2, stream_);
    double diff = 0.0;
    for (size_t i = 0; i < a.logits.size(); ++i) {
      diff = std::max(diff, std::fabs(double(a.logits[i]) - d.logits[i]));
    }
    EXPECT_GT(diff, 1e-2) << "the logits do not depend on the input";
  }
}

// A batch smaller than max_batch runs in the same arena and gives each image what a full batch
// gives it.
TEST_F(EngineTest, SmallerBatchGivesTheSameImages) {
  const Engine engine = Engine::create(xxs(), small_options(3));
  Context c(engine);
  const std::vector<float> x3 = test_input(3, 5);
  const Result full = run(c, engine, x3, 3, stream_);
  const std::vector<float> x1(x3.begin() + 2 * 3 * 64 * 64, x3.end());
  const Result one = run(c, engine, x1, 1, stream_);
  const int k = engine.classes();
  for (int j = 0; j < k; ++j) {
    EXPECT_NEAR(one.logits[j], full.logits[2 * k + j],
                1e-5 * std::max(1.0f, std::fabs(full.logits[2 * k + j])));
  }
}

// Two contexts of one engine on two threads, each on its own stream, give identical bits.
TEST_F(EngineTest, TwoThreadsTwoContextsOneEngine) {
  const Engine engine = Engine::create(xxs(), small_options());
  const std::vector<float> x = test_input(2, 3);
  Result r[2];
  auto work = [&](int i) {
    cudaStream_t s = nullptr;
    MVIT_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    Context c(engine);
    for (int rep = 0; rep < 2; ++rep) r[i] = run(c, engine, x, 2, s);
    MVIT_CUDA_CHECK(cudaStreamDestroy(s));
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  EXPECT_TRUE(same_bits(r[0].logits, r[1].logits));
  EXPECT_TRUE(same_bits(r[0].stage3, r[1].stage3));
}

// A Context keeps what it runs alive: destroying its Engine handle is harmless.
TEST_F(EngineTest, ContextOutlivesItsEngineHandle) {
  const std::vector<float> x = test_input(2, 4);
  std::unique_ptr<Context> c;
  Result before;
  {
    const Engine engine = Engine::create(xxs(), small_options());
    c = std::make_unique<Context>(engine);
    before = run(*c, engine, x, 2, stream_);
    const Engine copy = engine;  // handles share one state
    EXPECT_EQ(copy.arena().arena_bytes, engine.arena().arena_bytes);
  }
  const Engine again = Engine::create(xxs(), small_options());  // for the output shapes only
  const Result after = run(*c, again, x, 2, stream_);
  EXPECT_TRUE(same_bits(before.logits, after.logits));
}

// A caller-provided workspace of exactly arena_bytes works and gives the same bits.
TEST_F(EngineTest, CallerWorkspace) {
  const Engine engine = Engine::create(xxs(), small_options());
  DeviceBuffer<unsigned char> ws(engine.arena().arena_bytes);
  ContextOptions co;
  co.workspace = ws.get();
  co.workspace_bytes = ws.size();
  Context mine(engine, co), own(engine);
  const std::vector<float> x = test_input(2, 6);
  EXPECT_TRUE(
      same_bits(run(mine, engine, x, 2, stream_).logits, run(own, engine, x, 2, stream_).logits));
}

// The arena plan: never below the liveness lower bound, within 10% of it (the target),
// and much smaller than giving every buffer its own memory.
TEST(EnginePlan, ArenaWithinTenPercentOfTheLowerBound) {
  for (int size : {64, 256}) {
    EngineOptions o = small_options(1);
    o.input_h = o.input_w = size;
    o.outputs.clear();
    const Engine engine = Engine::create(xxs(), o);
    const ArenaFigures a = engine.arena();
    EXPECT_GE(a.activation_bytes, a.lower_bound_bytes);
    EXPECT_LE(a.activation_bytes, a.lower_bound_bytes * 11 / 10)
        << size << ": arena " << a.activation_bytes << ", bound " << a.lower_bound_bytes;
    uint64_t sum = 0;
    for (const StepInfo& s : engine.steps()) sum += s.bytes_written;
    EXPECT_LT(a.activation_bytes * 4, sum) << "liveness reuse should save most of the memory";
  }
}

// Launches per forward, counted by the emulator on a graph replay: every step is one kernel but
// the classifier (pool + linear, 2), and fp16 calls no library; fp32 runs its 1x1 convs as a cuBLAS
// GEMM plus our epilogue (the classifier at batch < 16 and the f32 GEMMs with no epilogue: one
// call) and its dense 3x3 convs through cuDNN. The README's figures table is this count at 256x256.
TEST_F(EngineTest, LaunchesPerForwardCountedByTheEmulator) {
#ifdef MVIT_SANITIZED
  GTEST_SKIP() << "launch counts do not depend on the sanitizers; counted in the plain emulated "
                  "build (47 s here)";
#endif
  struct Expect {
    Precision p;
    uint64_t kernels, cublas, cudnn;
  };
  for (const Expect& e :
       {Expect{Precision::kFp16, 103, 0, 0}, Expect{Precision::kFp32, 103, 57, 9}}) {
    EngineOptions o = small_options(1);
    o.outputs.clear();
    o.precision = e.p;
    o.input_h = o.input_w = 256;  // at 64x64 the last stage's 4 rows take cuBLAS (kGemmWmmaMinRows)
    const Engine engine = Engine::create(xxs(), o);
    EXPECT_EQ(engine.steps().size(), 102u);
    Context c(engine);
    DeviceBuffer<float> in(counter_tensor("input", {1, 3, 256, 256}, 9)), logits(engine.classes());
    OutputBuffers out;
    out.logits = logits.get();
    c.run(in.get(), 1, out, stream_);  // captures
    MVIT_CUDA_CHECK(cudaStreamSynchronize(stream_));
    emu::reset_op_counts();
    c.run(in.get(), 1, out, stream_);
    MVIT_CUDA_CHECK(cudaStreamSynchronize(stream_));
    const emu::OpCounts n = emu::op_counts();
    EXPECT_EQ(n.kernel_launches, e.kernels) << to_string(e.p);
    EXPECT_EQ(n.cublas_calls, e.cublas) << to_string(e.p);
    EXPECT_EQ(n.cudnn_calls, e.cudnn) << to_string(e.p);
    EXPECT_EQ(n.memcpys, 2u) << "the input in, the logits out";
  }
}

template <class F>
void expect_error(F&& f, const char* what) {
  const std::string text = error_text(f);
  EXPECT_NE(text.find(what), std::string::npos)
      << "expected an error mentioning: " << what << "\ngot: " << text;
}

TEST(EngineErrors, CreationRejectsWhatItCannotRun) {
  EngineOptions o = small_options();
  o.max_batch = 0;
  expect_error([&] { Engine::create(xxs(), o); }, "max_batch");
  o = small_options();
  o.input_h = 16;
  expect_error([&] { Engine::create(xxs(), o); }, "[32, 4096]");
  o = small_options();
  o.device = 3;
  expect_error([&] { Engine::create(xxs(), o); }, "EngineOptions.device 3");
  o = small_options();
  o.precision = static_cast<Precision>(9);
  expect_error([&] { Engine::create(xxs(), o); }, "precision");
  expect_error([] { parse_precision("fp8"); }, "fp32, tf32, fp16 or bf16");
  // The seed flavour pools with a fixed AvgPool2d(8, 1): only 256x256 is a global mean.
  TempDir dir;
  const Model seed = counter_model(fixture_spec("seed_xxs_256"), 1, dir.path());
  o = small_options();
  o.input_h = o.input_w = 192;  // maps even down to a 6x6 last map
  expect_error([&] { Engine::create(seed, o); }, "AvgPool2d(8, 1)");
  // ... and has no resize path for odd maps (224 -> 7x7 at the last stage).
  o.input_h = o.input_w = 224;
  expect_error([&] { Engine::create(seed, o); }, "no resize path");
}

TEST(EngineErrors, UnsupportedArchitecture) {
  ModelSpec spec = fixture_spec("timm_xxs_256");
  spec.stages[2].blocks[1].mvit.patch_h = spec.stages[2].blocks[1].mvit.patch_w = 4;
  spec.input_h = spec.input_w = 512;  // the format's divisibility rule for 4x4 patches
  TempDir dir;
  const Model m = counter_model(spec, 1, dir.path());
  expect_error([&] { Engine::create(m, small_options()); }, "supported: 2x2");
}

TEST(EngineErrors, RunRejectsMisuse) {
  const Engine engine = Engine::create(xxs(), small_options());
  Context c(engine);
  DeviceBuffer<float> in(2 * 3 * 64 * 64), logits(2 * 1000);
  OutputBuffers out;
  out.logits = logits.get();
  expect_error([&] { c.run(in.get(), 0, out, nullptr); }, "batch 0: expected 1 to 2");
  expect_error([&] { c.run(in.get(), 3, out, nullptr); }, "batch 3: expected 1 to 2");
  expect_error([&] { c.run(nullptr, 1, out, nullptr); }, "input is null");
  expect_error([&] { c.run(in.get(), 1, OutputBuffers{}, nullptr); },
               "every output pointer is null");
  OutputBuffers stem = out;
  stem.stem = logits.get();
  expect_error([&] { c.run(in.get(), 1, stem, nullptr); }, "output 'stem' was not requested");
  ContextOptions co;
  co.workspace = in.get();
  co.workspace_bytes = 1024;
  expect_error([&] { Context small(engine, co); }, "workspace_bytes: 1024 bytes given");
  Context moved(std::move(c));
  expect_error([&] { c.run(in.get(), 1, out, nullptr); }, "moved from");
}

}  // namespace
}  // namespace test
}  // namespace mvit
