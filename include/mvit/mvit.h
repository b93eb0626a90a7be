// The public C++ API: an Engine built once from a loaded Model, and a Context per thread or stream
// that runs it. Plain C++: no CUDA type beyond mvit::Stream (exactly cudaStream_t).
//
//   mvit::Model model = mvit::Model::load("models/xxs");
//   mvit::EngineOptions options;
//   options.max_batch = 8;
//   options.precision = mvit::Precision::kFp16;
//   mvit::Engine engine = mvit::Engine::create(model, options);
//   mvit::Context context(engine);            // allocates its arena once
//   mvit::OutputBuffers out;
//   out.logits = d_logits;                    // device memory, [batch, classes] fp32
//   context.run(d_input, batch, out, stream); // d_input: [batch, 3, H, W] fp32 NCHW, preprocessed
//
// An Engine is immutable and may be shared between threads; Contexts and Engines are handles to
// shared state, so a Context keeps what it runs alive even after its Engine is destroyed. A
// Context is used by one thread at a time. run() is asynchronous on the caller's stream: it
// allocates nothing and does not synchronize; every failure is an mvit::Error (error.h) thrown
// before anything is enqueued.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mvit/error.h"
#include "mvit/stream.h"

namespace mvit {

class Model;  // runtime/model.h: Model::load(path)

enum class Precision {
  kFp32,  // fp32 storage and arithmetic (the reference precision)
  kTf32,  // fp32 storage; cuBLAS products with tf32 inputs
  kFp16,  // fp16 storage, fp32 accumulation, tensor cores
  kBf16,  // bf16 storage, fp32 accumulation, tensor cores from compute capability 8.0
};
enum class AttentionPath {
  kAuto,    // Note [attention selection rule] (kernels/attention.cpp)
  kFused,   // one kernel per layer, scores on chip
  kCublas,  // strided-batched GEMMs around a row softmax
};
const char* to_string(Precision p);      // "fp32", "tf32", "fp16", "bf16"
const char* to_string(AttentionPath a);  // "auto", "fused", "cublas"
// Throw mvit::Error listing the accepted names.
Precision parse_precision(const std::string& name);
AttentionPath parse_attention_path(const std::string& name);

// What a forward can hand back. kLogits always; the others when EngineOptions::outputs asks for
// them at creation (they need arena space of their own).
enum class Output { kLogits, kFeatures, kStem, kStage1, kStage2, kStage3, kStage4, kStage5 };
inline constexpr int kOutputCount = 8;
const char* output_name(Output o);  // "logits", "features", "stem", "stage1".."stage5"
Output parse_output(const std::string& name);

struct EngineOptions {
  int max_batch = 1;
  int input_h = 0, input_w = 0;  // 0: the model's own input_size
  Precision precision = Precision::kFp32;
  AttentionPath attention = AttentionPath::kAuto;
  int device = 0;
  std::vector<Output> outputs;  // besides kLogits: features and stage outputs to provide
};

// Device pointers, fp32. logits [batch, classes]; features [batch, C, h, w] and stage outputs
// [batch, C, h, w] NCHW, as PyTorch returns them. Null: not wanted.
struct OutputBuffers {
  float* logits = nullptr;
  float* features = nullptr;
  float* stem = nullptr;
  float* stages[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  float*& operator[](Output o);
  float* operator[](Output o) const;
};

// One kernel launch or library call family entry of the forward, for `mvit info` and benches.
struct StepInfo {
  std::string name;   // "stages.2.1.transformer.0.attn"
  std::string op;     // "gemm_epilogue", "attention", ...
  std::string stage;  // "stem", "stage1".."stage5", "head"
  uint64_t bytes_read = 0, bytes_written = 0, weight_bytes = 0;  // modelled DRAM traffic
  uint64_t flops = 0;  // arithmetic at max_batch (a multiply-add counts 2)
};

struct StepTiming {
  double ms = 0;     // event to event
  std::string impl;  // the kernel or library path that ran ("wmma_fused", "cublas+epilogue")
};

struct ArenaFigures {
  size_t arena_bytes = 0;        // what a Context allocates (activations + workspace)
  size_t activation_bytes = 0;   // the planned activation region
  size_t lower_bound_bytes = 0;  // max over steps of the bytes live at that step
  size_t workspace_bytes = 0;    // library workspace, shared by every step
  size_t weight_bytes = 0;       // device weights (owned by the Engine, shared by Contexts)
};

namespace detail {
struct EngineState;
struct ContextState;
}  // namespace detail

class Engine {
 public:
  // Folds BatchNorm, converts and pads the weights, plans the steps and the arena, and uploads the
  // weights to options.device. Throws mvit::Error for an unsupported model, size, precision or
  // device, saying what is supported.
  static Engine create(const Model& model, const EngineOptions& options = {});

  const EngineOptions& options() const;  // input_h / input_w resolved
  int classes() const;
  // Shape of one image's output (classes; or C, h, w).
  std::vector<int64_t> output_shape(Output o) const;
  bool provides(Output o) const;
  ArenaFigures arena() const;
  std::vector<StepInfo> steps() const;

 private:
  friend class Context;
  std::shared_ptr<const detail::EngineState> state_;
};

struct ContextOptions {
  bool use_graphs = true;  // capture the forward once per batch size and replay it
  // Caller-provided device memory of at least Engine::arena().arena_bytes, 256-byte aligned; null:
  // the Context allocates its own.
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

class Context {
 public:
  explicit Context(const Engine& engine, const ContextOptions& options = {});
  ~Context();
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // input: device [batch, 3, H, W] fp32 NCHW; 1 <= batch <= max_batch; outputs not provided by
  // the engine must be null. Asynchronous on `stream`.
  void run(const float* input, int batch, const OutputBuffers& outputs, Stream stream);

  // For benchmarks: one forward of `batch` images from `input` (as run) with the steps enqueued
  // one by one, uncaptured, a timing event before each and after the last; waits for the stream
  // and returns each step's time and implementation, in Engine::steps() order. Not for the
  // serving path: it synchronizes and records an event per step.
  std::vector<StepTiming> profile(const float* input, int batch, Stream stream);

 private:
  std::unique_ptr<detail::ContextState> state_;
};

}  // namespace mvit
