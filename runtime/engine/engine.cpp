// Engine and Context (include/mvit/mvit.h): weights prepared and uploaded once, the plan built at
// max_batch (plan.h), and per Context an arena, library handles and one CUDA graph per batch size.
#include <algorithm>
#include <map>

#include "kernels/common/check.h"
#include "mvit/mvit.h"
#include "runtime/engine/device.h"
#include "runtime/engine/plan.h"
#include "runtime/engine/weights.h"
#include "runtime/model.h"

namespace mvit {

const char* to_string(Precision p) {
  switch (p) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kTf32:
      return "tf32";
    case Precision::kFp16:
      return "fp16";
    case Precision::kBf16:
      return "bf16";
  }
  return "?";
}

const char* to_string(AttentionPath a) {
  switch (a) {
    case AttentionPath::kAuto:
      return "auto";
    case AttentionPath::kFused:
      return "fused";
    case AttentionPath::kCublas:
      return "cublas";
  }
  return "?";
}

Precision parse_precision(const std::string& name) {
  for (Precision p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16}) {
    if (name == to_string(p)) return p;
  }
  MVIT_CHECK(false, "precision '%s': expected fp32, tf32, fp16 or bf16", name.c_str());
  return Precision::kFp32;
}

AttentionPath parse_attention_path(const std::string& name) {
  for (AttentionPath a : {AttentionPath::kAuto, AttentionPath::kFused, AttentionPath::kCublas}) {
    if (name == to_string(a)) return a;
  }
  MVIT_CHECK(false, "attention path '%s': expected auto, fused or cublas", name.c_str());
  return AttentionPath::kAuto;
}

const char* output_name(Output o) {
  static const char* const kNames[kOutputCount] = {"logits", "features", "stem",   "stage1",
                                                   "stage2", "stage3",   "stage4", "stage5"};
  const int i = static_cast<int>(o);
  return i >= 0 && i < kOutputCount ? kNames[i] : "?";
}

Output parse_output(const std::string& name) {
  for (int i = 0; i < kOutputCount; ++i) {
    if (name == output_name(static_cast<Output>(i))) return static_cast<Output>(i);
  }
  MVIT_CHECK(false,
             "output '%s': expected logits, features, stem, stage1, stage2, stage3, stage4 or "
             "stage5",
             name.c_str());
  return Output::kLogits;
}

float*& OutputBuffers::operator[](Output o) {
  switch (o) {
    case Output::kLogits:
      return logits;
    case Output::kFeatures:
      return features;
    case Output::kStem:
      return stem;
    default:
      return stages[static_cast<int>(o) - static_cast<int>(Output::kStage1)];
  }
}

float* OutputBuffers::operator[](Output o) const {
  return const_cast<OutputBuffers&>(*this)[o];
}

namespace detail {

struct EngineState {
  EngineOptions options;
  ModelSpec spec;
  plan::PlanOptions plan_options;
  plan::WeightTable weights;
  void* device_weights = nullptr;
  plan::Plan layout;  // the plan at max_batch, offsets assigned
  size_t workspace_offset = 0, arena_bytes = 0;

  EngineState(const Model& model, DType dtype) : spec(model.spec()), weights(model, dtype) {}
  ~EngineState() { device::release(device_weights); }
  EngineState(const EngineState&) = delete;
  EngineState& operator=(const EngineState&) = delete;
};

}  // namespace detail

namespace {

// Owns a LibraryHandles for the scope (workspace queries while planning).
struct ScopedHandles {
  LibraryHandles h = device::create_handles();
  ~ScopedHandles() { device::destroy_handles(h); }
};

void check_options(const Model& model, EngineOptions& o) {
  const ModelSpec& spec = model.spec();
  MVIT_CHECK(o.max_batch >= 1 && o.max_batch <= 65535,
             "EngineOptions.max_batch: expected 1 to 65535, found %d", o.max_batch);
  if (o.input_h == 0) o.input_h = spec.input_h;
  if (o.input_w == 0) o.input_w = spec.input_w;
  MVIT_CHECK(o.input_h >= 32 && o.input_w >= 32 && o.input_h <= 4096 && o.input_w <= 4096,
             "EngineOptions input %dx%d: expected each side in [32, 4096] (the network "
             "downsamples by 32; attention holds up to 4096 tokens per sequence)",
             o.input_h, o.input_w);
  const int p = static_cast<int>(o.precision);
  MVIT_CHECK(p >= 0 && p <= 3, "EngineOptions.precision: %d is not a Precision", p);
  const int a = static_cast<int>(o.attention);
  MVIT_CHECK(a >= 0 && a <= 2, "EngineOptions.attention: %d is not an AttentionPath", a);
  const int n = device::device_count();
  MVIT_CHECK(o.device >= 0 && o.device < n,
             "EngineOptions.device %d: expected an ordinal in [0, %d) (%d CUDA device%s visible)",
             o.device, n, n, n == 1 ? "" : "s");
  for (Output out : o.outputs) {
    const int i = static_cast<int>(out);
    MVIT_CHECK(i >= 0 && i < kOutputCount, "EngineOptions.outputs: %d is not an Output", i);
  }
}

plan::PlanOptions plan_options(const EngineOptions& o, int batch) {
  plan::PlanOptions p;
  p.batch = batch;
  p.input_h = o.input_h, p.input_w = o.input_w;
  p.dtype = o.precision == Precision::kFp16   ? DType::kF16
            : o.precision == Precision::kBf16 ? DType::kBF16
                                              : DType::kF32;
  p.allow_tf32 = o.precision == Precision::kTf32;
  p.attention = o.attention == AttentionPath::kFused    ? AttentionImpl::kFused
                : o.attention == AttentionPath::kCublas ? AttentionImpl::kCublas
                                                        : AttentionImpl::kAuto;
  p.want[static_cast<int>(Output::kLogits)] = true;
  for (Output out : o.outputs) p.want[static_cast<int>(out)] = true;
  return p;
}

size_t align256(size_t n) {
  return (n + 255) / 256 * 256;
}

}  // namespace

Engine Engine::create(const Model& model, const EngineOptions& options) {
  EngineOptions o = options;
  check_options(model, o);
  device::set_device(o.device);
  const plan::PlanOptions po = plan_options(o, o.max_batch);
  auto state = std::make_shared<detail::EngineState>(model, po.dtype);
  state->options = o;
  state->plan_options = po;
  state->device_weights = device::allocate(state->weights.bytes(), "the engine's weights");
  device::copy_to_device(state->device_weights, state->weights.host_blob().data(),
                         state->weights.bytes());
  state->weights.set_device_base(state->device_weights);
  {
    ScopedHandles handles;
    state->layout = plan::build_plan(state->spec, state->weights, po, handles.h);
  }
  plan::assign_offsets(state->layout);
  state->workspace_offset = align256(state->layout.activation_bytes);
  state->arena_bytes = state->workspace_offset + align256(state->layout.workspace_bytes);
  Engine e;
  e.state_ = std::move(state);
  return e;
}

const EngineOptions& Engine::options() const {
  return state_->options;
}

int Engine::classes() const {
  return state_->spec.num_classes;
}

std::vector<int64_t> Engine::output_shape(Output o) const {
  return state_->layout.output_shapes[static_cast<int>(o)];
}

bool Engine::provides(Output o) const {
  return state_->layout.outputs[static_cast<int>(o)] >= 0;
}

ArenaFigures Engine::arena() const {
  ArenaFigures f;
  f.arena_bytes = state_->arena_bytes;
  f.activation_bytes = state_->layout.activation_bytes;
  f.lower_bound_bytes = state_->layout.lower_bound_bytes;
  f.workspace_bytes = state_->layout.workspace_bytes;
  f.weight_bytes = state_->weights.bytes();
  return f;
}

std::vector<StepInfo> Engine::steps() const {
  std::vector<StepInfo> out;
  const plan::Plan& p = state_->layout;
  for (const plan::Step& s : p.steps) {
    StepInfo i;
    i.name = s.name;
    i.op = plan::op_name(s.op);
    i.stage = s.stage;
    for (int b : s.reads) i.bytes_read += p.buffers[b].bytes;
    for (int b : s.writes) i.bytes_written += p.buffers[b].bytes;
    i.weight_bytes = s.weight_bytes;
    i.flops = plan::op_flops(s.op);
    out.push_back(i);
  }
  return out;
}

namespace detail {

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

Dispatch enqueue(const plan::Step& s, const LibraryHandles& h, Stream stream) {
  try {
    return std::visit(
        Overloaded{
            [&](const Conv3x3StemParams& p) { return conv3x3_stem_forward(p, stream); },
            [&](const Conv3x3Params& p) { return conv3x3_forward(p, h, stream); },
            [&](const DepthwiseConvParams& p) { return depthwise_conv_forward(p, h, stream); },
            [&](const GemmEpilogueParams& p) { return gemm_epilogue_forward(p, h, stream); },
            [&](const ResizeParams& p) { return resize_forward(p, stream); },
            [&](const LayerNormParams& p) { return layernorm_forward(p, stream); },
            [&](const AttentionParams& p) { return attention_forward(p, h, stream); },
            [&](const PoolClassifierParams& p) { return pool_classifier_forward(p, stream); },
            [&](const ToNchwParams& p) { return to_nchw_forward(p, stream); },
        },
        s.op);
  } catch (const Error& e) {
    MVIT_CHECK(false, "step %s: %s", s.name.c_str(), e.what());
  }
  return {};
}

}  // namespace

struct ContextState {
  std::shared_ptr<const EngineState> engine;
  ContextOptions options;
  LibraryHandles handles;
  unsigned char* arena = nullptr;
  bool owns_arena = false;
  Stream capture_stream = nullptr;
  struct Forward {
    plan::Plan plan;  // steps with arena pointers
    device::GraphExec graph = nullptr;
  };
  std::map<int, Forward> forwards;

  ~ContextState() {
    for (auto& [batch, f] : forwards) device::destroy_graph(f.graph);
    device::destroy_stream(capture_stream);
    device::destroy_handles(handles);
    if (owns_arena) device::release(arena);
  }

  Forward& forward(int batch) {
    auto it = forwards.find(batch);
    if (it != forwards.end()) return it->second;
    const EngineState& e = *engine;
    Forward f;
    f.plan = plan::build_plan(e.spec, e.weights, plan_options(e.options, batch), handles);
    const plan::Plan& layout = e.layout;
    MVIT_CHECK(f.plan.buffers.size() == layout.buffers.size() &&
                   f.plan.workspace_bytes <= layout.workspace_bytes,
               "engine plan at batch %d does not fit the max_batch plan (a planner bug)", batch);
    for (size_t b = 0; b < f.plan.buffers.size(); ++b) {
      MVIT_CHECK(f.plan.buffers[b].bytes <= layout.buffers[b].bytes,
                 "engine plan: buffer '%s' at batch %d exceeds its max_batch size (a planner bug)",
                 f.plan.buffers[b].name.c_str(), batch);
      f.plan.buffers[b].offset = layout.buffers[b].offset;
    }
    for (plan::Step& s : f.plan.steps) plan::apply_fixups(s, f.plan, arena);
    if (options.use_graphs) {
      device::begin_capture(capture_stream);
      try {
        for (const plan::Step& s : f.plan.steps) enqueue(s, handles, capture_stream);
      } catch (...) {
        device::destroy_graph(device::end_capture(capture_stream));
        throw;
      }
      f.graph = device::end_capture(capture_stream);
    }
    return forwards.emplace(batch, std::move(f)).first->second;
  }
};

}  // namespace detail

Context::Context(const Engine& engine, const ContextOptions& options) {
  MVIT_CHECK(engine.state_ != nullptr, "Context: the Engine is empty (moved from?)");
  auto s = std::make_unique<detail::ContextState>();
  s->engine = engine.state_;
  s->options = options;
  const detail::EngineState& e = *s->engine;
  device::set_device(e.options.device);
  if (options.workspace) {
    MVIT_CHECK(options.workspace_bytes >= e.arena_bytes,
               "ContextOptions.workspace_bytes: %zu bytes given, the engine needs %zu "
               "(Engine::arena().arena_bytes)",
               options.workspace_bytes, e.arena_bytes);
    MVIT_CHECK(reinterpret_cast<uintptr_t>(options.workspace) % 256 == 0,
               "ContextOptions.workspace: %p is not 256-byte aligned", options.workspace);
    s->arena = static_cast<unsigned char*>(options.workspace);
  } else {
    MVIT_CHECK(options.workspace_bytes == 0,
               "ContextOptions.workspace_bytes: %zu without a workspace pointer",
               options.workspace_bytes);
    s->arena = static_cast<unsigned char*>(device::allocate(e.arena_bytes, "a context's arena"));
    s->owns_arena = true;
  }
  s->handles = device::create_handles();
  s->handles.workspace = s->arena + e.workspace_offset;
  s->handles.workspace_bytes = e.layout.workspace_bytes;
  if (options.use_graphs) s->capture_stream = device::create_stream();
  state_ = std::move(s);
}

Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

namespace {

// The checks run and profile share; returns the Context's engine.
const detail::EngineState& check_call(const char* api, const detail::ContextState* state,
                                      const float* input, int batch) {
  MVIT_CHECK(state != nullptr, "%s: the Context is empty (moved from)", api);
  const detail::EngineState& e = *state->engine;
  MVIT_CHECK(input != nullptr, "%s: input is null", api);
  MVIT_CHECK(batch >= 1 && batch <= e.options.max_batch,
             "%s: batch %d: expected 1 to %d (EngineOptions.max_batch)", api, batch,
             e.options.max_batch);
  return e;
}

}  // namespace

void Context::run(const float* input, int batch, const OutputBuffers& outputs, Stream stream) {
  const detail::EngineState& e = check_call("Context::run", state_.get(), input, batch);
  bool any = false;
  for (int i = 0; i < kOutputCount; ++i) {
    const Output o = static_cast<Output>(i);
    if (!outputs[o]) continue;
    any = true;
    MVIT_CHECK(e.layout.outputs[i] >= 0,
               "Context::run: output '%s' was not requested at engine creation "
               "(EngineOptions.outputs)",
               output_name(o));
  }
  MVIT_CHECK(any, "Context::run: every output pointer is null");
  device::set_device(e.options.device);
  detail::ContextState::Forward& f = state_->forward(batch);
  const plan::Plan& p = f.plan;
  device::copy_async(state_->arena + p.buffers[p.input].offset, input, p.buffers[p.input].bytes,
                     stream);
  if (f.graph) {
    device::launch_graph(f.graph, stream);
  } else {
    for (const plan::Step& s : p.steps) detail::enqueue(s, state_->handles, stream);
  }
  for (int i = 0; i < kOutputCount; ++i) {
    float* dst = outputs[static_cast<Output>(i)];
    if (!dst) continue;
    const plan::Buffer& b = p.buffers[p.outputs[i]];
    device::copy_async(dst, state_->arena + b.offset, b.bytes, stream);
  }
}

std::vector<StepTiming> Context::profile(const float* input, int batch, Stream stream) {
  const detail::EngineState& e = check_call("Context::profile", state_.get(), input, batch);
  device::set_device(e.options.device);
  detail::ContextState::Forward& f = state_->forward(batch);
  const plan::Plan& p = f.plan;
  std::vector<device::Event> events(p.steps.size() + 1, nullptr);
  std::vector<StepTiming> out(p.steps.size());
  try {
    for (device::Event& ev : events) ev = device::create_event();
    device::copy_async(state_->arena + p.buffers[p.input].offset, input,
                       p.buffers[p.input].bytes, stream);
    for (size_t i = 0; i < p.steps.size(); ++i) {
      device::record_event(events[i], stream);
      out[i].impl = detail::enqueue(p.steps[i], state_->handles, stream).impl;
    }
    device::record_event(events.back(), stream);
    device::synchronize_event(events.back());
    for (size_t i = 0; i < p.steps.size(); ++i) {
      out[i].ms = device::elapsed_ms(events[i], events[i + 1]);
    }
  } catch (...) {
    for (device::Event ev : events) device::destroy_event(ev);
    throw;
  }
  for (device::Event ev : events) device::destroy_event(ev);
  return out;
}

}  // namespace mvit
