// mvit info --model PATH: loads and validates a model, then describes it. Exit code 1 with the
// loader's message on any failure.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "kernels/common/check.h"
#include "mvit/mvit.h"
#include "runtime/engine/device.h"
#include "runtime/model.h"
#include "tools/mvit/commands.h"

#ifdef MVIT_EMULATED
#include "mvit_emu/emu.h"
#endif

namespace mvit::cli {

namespace {

const char* kInfoUsage =
    "usage: mvit info --model PATH [--allow-non-finite]\n"
    "\n"
    "  --model PATH          a model directory (model.json + model.safetensors) or a Hugging\n"
    "                        Face MobileViT folder (config.json + model.safetensors\n"
    "                        [+ preprocessor_config.json])\n"
    "  --allow-non-finite    load weights holding NaN or Inf (rejected by default)\n"
    "  --tensors             also list every canonical tensor: dtype, shape, sum of values\n"
    "  --engine              also build the engine and report its plan: steps, launches and\n"
    "                        library calls of one forward (counted by the emulator in the\n"
    "                        emulated build), arena against its lower bound, device bytes of\n"
    "                        the weights per precision, modelled DRAM bytes per stage\n"
    "  --precision P         the engine's precision (fp32, tf32, fp16 default, bf16)\n"
    "  --attention A         auto (default), fused, cublas\n"
    "  --input HxW           the engine's input size (default: the model's)\n"
    "  --batch N             the engine's batch (default 1)\n";

// 1234567 -> "1,234,567"
std::string grouped(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

std::string describe_block(const BlockSpec& b) {
  if (b.kind == BlockKind::kMv2) {
    const Mv2Spec& m = b.mv2;
    return detail::format("mv2 %d->%d stride %d hidden %d%s", m.in_channels, m.out_channels,
                          m.stride, m.hidden_channels, m.residual() ? " +residual" : "");
  }
  const MobileVitSpec& m = b.mvit;
  return detail::format(
      "mobilevit C %d, d %d, depth %d, heads %d x %d, ffn %d, patch %dx%d, qkv bias %s, "
      "conv_1x1 %s, final LN %s, concat %s",
      m.channels, m.dim, m.depth, m.heads, m.head_dim, m.ffn_dim, m.patch_h, m.patch_w,
      m.qkv_bias ? "yes" : "no", m.conv_1x1_bn_act ? "BN+SiLU" : "plain",
      m.final_layernorm ? "yes" : "no", to_string(m.concat));
}

void print_architecture(const ModelSpec& s) {
  std::printf("flavour:        %s\n", to_string(s.flavour));
  std::printf("variant:        %s\n", s.variant.c_str());
  std::printf("input:          %d x %d x %d (default size)\n", s.in_channels, s.input_h, s.input_w);
  std::printf("classes:        %d%s\n", s.num_classes, s.labels.empty() ? "" : " (labelled)");
  std::printf("head:           1x1 -> %d, %s, classifier bias %s\n", s.head.channels,
              s.head.pool == PoolKind::kGlobalMean
                  ? "global mean"
                  : detail::format("avg pool %d", s.head.pool_size).c_str(),
              s.head.classifier_bias ? "yes" : "no");
  std::printf("eps:            BatchNorm %g, LayerNorm %g\n", s.bn_eps, s.ln_eps);
  std::printf("\nstage outputs at %dx%d (C x H x W):\n", s.input_h, s.input_w);
  for (const StageShape& st : stage_shapes(s)) {
    std::printf("  %-9s %5d x %4d x %4d\n", st.name.c_str(), st.channels, st.height, st.width);
  }
  std::printf("\nblocks:\n");
  for (size_t i = 0; i < s.stages.size(); ++i) {
    for (const BlockSpec& b : s.stages[i].blocks) {
      std::printf("  stage%zu  %s\n", i + 1, describe_block(b).c_str());
    }
  }
}

void print_weights(const Model& m) {
  std::map<std::string, std::pair<int, int64_t>> by_dtype;  // count, bytes
  for (const HostTensor& t : m.tensors()) {
    auto& e = by_dtype[to_string(t.dtype)];
    e.first += 1;
    e.second += static_cast<int64_t>(t.bytes.size());
  }
  const ModelSpec& s = m.spec();
  const int64_t macs = mac_count(s);
  std::printf("\nparameters:     %s\n", grouped(parameter_count(s)).c_str());
  std::printf("MACs:           %.3f G at %dx%d (%s; convs, linears, attention matmuls)\n",
              static_cast<double>(macs) * 1e-9, s.input_h, s.input_w, grouped(macs).c_str());
  std::printf("tensors:        %zu (canonical), %s bytes in the file\n", m.tensors().size(),
              grouped(static_cast<int64_t>(m.file_bytes())).c_str());
  for (const auto& kv : by_dtype) {
    std::printf("  %-5s %5d tensors, %s bytes\n", kv.first.c_str(), kv.second.first,
                grouped(kv.second.second).c_str());
  }
}

// One line per tensor; the fp64 sum lets a script compare two loads of the same weights (e.g. a
// Hugging Face folder and its export) without reading the files itself.
void print_tensors(const Model& m) {
  std::printf("\ntensors (canonical name, dtype, shape, sum):\n");
  for (const HostTensor& t : m.tensors()) {
    double sum = 0;
    for (float v : t.to_float()) sum += v;
    std::string shape;
    for (int64_t d : t.shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    std::printf("  %s %s [%s] %.9g\n", t.name.c_str(), to_string(t.dtype), shape.c_str(), sum);
  }
}

void print_preprocessing(const Preprocessing& p) {
  std::printf("\npreprocessing:  ");
  if (p.resize_shortest_edge > 0) {
    std::printf("resize shortest edge %d (%s), ", p.resize_shortest_edge, p.interpolation.c_str());
  }
  if (p.crop_h > 0) std::printf("center crop %dx%d, ", p.crop_h, p.crop_w);
  std::printf("x %.8g, mean [%g, %g, %g], std [%g, %g, %g], %s\n", p.scale, p.mean[0], p.mean[1],
              p.mean[2], p.std[0], p.std[1], p.std[2],
              p.channel_order == ChannelOrder::kBgr ? "BGR (channels flipped)" : "RGB");
}

std::string megabytes(double bytes) {
  return detail::format("%.2f MB", bytes * 1e-6);
}

// One forward of zeros, counted: kernels, cuBLAS and cuDNN calls, copies. The emulated build
// counts what executed (a graph replay counts each node); a cuda build cannot count here.
void print_launch_count(const Engine& engine, int batch) {
#ifdef MVIT_EMULATED
  const EngineOptions& o = engine.options();
  const size_t n = static_cast<size_t>(batch) * 3 * o.input_h * o.input_w;
  float* in = static_cast<float*>(device::allocate(n * sizeof(float), "info: input"));
  float* logits = static_cast<float*>(
      device::allocate(static_cast<size_t>(batch) * engine.classes() * sizeof(float), "logits"));
  const std::vector<float> zeros(n, 0.0f);
  device::copy_to_device(in, zeros.data(), n * sizeof(float));
  Context context(engine);
  OutputBuffers out;
  out.logits = logits;
  const Stream stream = device::create_stream();
  context.run(in, batch, out, stream);  // captures the graph
  device::synchronize(stream);
  emu::reset_op_counts();
  context.run(in, batch, out, stream);  // one replay, counted
  device::synchronize(stream);
  const emu::OpCounts c = emu::op_counts();
  device::destroy_stream(stream);
  device::release(logits);
  device::release(in);
  std::printf(
      "  per forward:    %llu kernel launches + %llu cuBLAS + %llu cuDNN calls = %llu "
      "(counted by the emulator on one graph replay), plus %llu copies (input in, "
      "outputs out)\n",
      static_cast<unsigned long long>(c.kernel_launches),
      static_cast<unsigned long long>(c.cublas_calls),
      static_cast<unsigned long long>(c.cudnn_calls),
      static_cast<unsigned long long>(c.kernel_launches + c.cublas_calls + c.cudnn_calls),
      static_cast<unsigned long long>(c.memcpys + c.memsets));
#else
  (void)engine, (void)batch;
  std::printf("  per forward:    launches are counted in the emulated build (mvit info there)\n");
#endif
}

void print_engine(const Model& m, EngineOptions o) {
  const Engine engine = Engine::create(m, o);
  const EngineOptions& r = engine.options();
  std::printf("\nengine:         %s, attention %s, batch %d, %dx%d\n", to_string(r.precision),
              to_string(r.attention), r.max_batch, r.input_h, r.input_w);
  const std::vector<StepInfo> steps = engine.steps();
  std::printf("  steps:          %zu (kernel family calls)\n", steps.size());
  print_launch_count(engine, r.max_batch);
  const ArenaFigures a = engine.arena();
  std::printf(
      "  arena:          %s activations (liveness lower bound %s, +%.1f%%) + %s library "
      "workspace = %s per context\n",
      megabytes(a.activation_bytes).c_str(), megabytes(a.lower_bound_bytes).c_str(),
      100.0 * (double(a.activation_bytes) / double(a.lower_bound_bytes) - 1.0),
      megabytes(a.workspace_bytes).c_str(), megabytes(a.arena_bytes).c_str());
  std::printf("  weights:        ");
  for (Precision p : {Precision::kFp32, Precision::kFp16, Precision::kBf16}) {
    EngineOptions q = r;
    q.precision = p;
    q.max_batch = 1;
    q.outputs.clear();
    const size_t bytes =
        p == r.precision ? a.weight_bytes : Engine::create(m, q).arena().weight_bytes;
    std::printf("%s%s %s", p == Precision::kFp32 ? "" : ", ", to_string(p),
                megabytes(bytes).c_str());
  }
  std::printf(" on the device (folded, padded, 256-byte aligned)\n");
  std::printf(
      "  modelled DRAM traffic per image (each step's inputs + weights + outputs, once):\n");
  std::map<std::string, std::pair<double, int>> by_stage;
  std::vector<std::string> order;
  double total = 0;
  for (const StepInfo& s : steps) {
    if (!by_stage.count(s.stage)) order.push_back(s.stage);
    auto& e = by_stage[s.stage];
    const double bytes = double(s.bytes_read + s.bytes_written) / r.max_batch + s.weight_bytes;
    e.first += bytes;
    e.second += 1;
    total += bytes;
  }
  for (const std::string& st : order) {
    std::printf("    %-8s %3d steps  %s\n", st.c_str(), by_stage[st].second,
                megabytes(by_stage[st].first).c_str());
  }
  std::printf("    total             %s\n", megabytes(total).c_str());
}

}  // namespace

int info_main(const std::vector<std::string>& args) {
  std::string path;
  LoadOptions options;
  bool tensors = false, engine = false;
  EngineOptions eo;
  eo.precision = Precision::kFp16;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::printf("%s", kInfoUsage);
      return 0;
    } else if (args[i] == "--model" && i + 1 < args.size()) {
      path = args[++i];
    } else if (args[i] == "--tensors") {
      tensors = true;
    } else if (args[i] == "--allow-non-finite") {
      options.allow_non_finite = true;
    } else if (args[i] == "--engine") {
      engine = true;
    } else if (i + 1 < args.size() && (args[i] == "--precision" || args[i] == "--attention" ||
                                       args[i] == "--input" || args[i] == "--batch")) {
      const std::string& v = args[++i];
      try {
        if (args[i - 1] == "--precision") {
          eo.precision = parse_precision(v);
        } else if (args[i - 1] == "--attention") {
          eo.attention = parse_attention_path(v);
        } else if (args[i - 1] == "--input") {
          MVIT_CHECK(std::sscanf(v.c_str(), "%dx%d", &eo.input_h, &eo.input_w) == 2,
                     "--input %s: expected HxW", v.c_str());
        } else {
          eo.max_batch = std::atoi(v.c_str());
        }
      } catch (const Error& e) {
        std::fprintf(stderr, "mvit info: %s\n", e.what());
        return 2;
      }
      engine = true;
    } else {
      std::fprintf(stderr, "mvit info: unexpected argument '%s'\n%s", args[i].c_str(), kInfoUsage);
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "mvit info: --model PATH is required\n%s", kInfoUsage);
    return 2;
  }
  try {
    const Model m = Model::load(path, options);
    for (const std::string& w : m.warnings())
      std::fprintf(stderr, "mvit: warning: %s\n", w.c_str());
    std::printf("model:          %s (%s)\n", path.c_str(), to_string(m.format()));
    print_architecture(m.spec());
    print_weights(m);
    print_preprocessing(m.spec().preprocessing);
    if (tensors) print_tensors(m);
    if (engine) print_engine(m, eo);
  } catch (const Error& e) {
    std::fprintf(stderr, "mvit info: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace mvit::cli
