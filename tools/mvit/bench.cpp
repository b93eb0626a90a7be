// mvit bench --model DIR [--batch-sizes 1,8] [--precisions fp32,fp16] [--graph both|on|off]
//            [--iterations N] [--warmup N] [--attention A] [--kernels] [--json | --csv]
// End-to-end latency of Context::run between two events on one stream (median, p90, p99 over
// the timed iterations, after warm-up) and throughput, per precision x batch size x graph on/off;
// --kernels adds, per precision and batch, each kernel family's share of a forward (timed with
// Context::profile, every step between two events) against its modelled bytes and FLOPs, and
// the fused and cuBLAS attention paths side by side. In the emulated build every timing is the
// CPU emulator's wall time and every line says so.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/common/check.h"
#include "mvit/mvit.h"
#include "runtime/engine/device.h"
#include "runtime/model.h"
#include "tools/bench/bench_report.h"
#include "tools/mvit/commands.h"
#include "tools/mvit/forward.h"

#ifdef MVIT_EMULATED
#include "mvit_emu/emu.h"
#endif

#ifndef MVIT_GIT_COMMIT
#define MVIT_GIT_COMMIT "unknown"
#endif

namespace mvit::cli {

namespace {

#ifdef MVIT_EMULATED
constexpr bool kEmulated = true;
// The emulator runs a 64x64 XXS forward in ~0.05 s and a 256x256 S forward in ~1.5 s: a handful
// of iterations keeps a default run under a minute.
constexpr int kDefaultIterations = 5, kDefaultWarmup = 1;
#else
constexpr bool kEmulated = false;
// 200 timed forwards give a stable p99 (the 2nd largest sample) at well under a second per row
// for every size at batch <= 32 (S at 256x256 is ~2 GFLOP per image); 20 warm-ups cover clock
// ramp-up and the one-time graph capture. Not yet checked on a GPU.
constexpr int kDefaultIterations = 200, kDefaultWarmup = 20;
#endif

const char* kBenchUsage =
    "usage: mvit bench --model DIR [options]\n"
    "\n"
    "  --model DIR            a model directory or a Hugging Face MobileViT folder\n"
    "  --batch-sizes LIST     comma-separated (default 1,8)\n"
    "  --precisions LIST      of fp32, tf32, fp16, bf16 (default fp32,fp16)\n"
    "  --graph MODE           both (default), on (CUDA graph replay), off (steps enqueued)\n"
    "  --iterations N         timed forwards per row (default 200; 5 emulated)\n"
    "  --warmup N             untimed forwards first, after the one that captures the graph\n"
    "                         (default 20; 1 emulated)\n"
    "  --attention A          auto (default), fused, cublas\n"
    "  --input HxW            input size (default: the model's)\n"
    "  --kernels              add the per-kernel table and fused vs cuBLAS attention\n"
    "  --json | --csv         machine-readable output on stdout instead of the tables\n";

struct Row {
  std::string precision;
  int batch = 0;
  bool graph = false;
  double median = 0, p90 = 0, p99 = 0, images_per_s = 0;
  int iterations = 0;
};

struct KernelRow {
  std::string precision, attention, op, impls;
  int batch = 0, steps = 0;
  double ms = 0, share = 0;      // median per forward (sum over the op's steps), % of forward
  double bytes = 0, flops = 0;   // modelled, per forward at this batch
};

// Progress on stderr once a run has taken more than two seconds; erased when done.
class Progress {
 public:
  explicit Progress(int total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  void step(const std::string& what, int done) {
    if (std::chrono::steady_clock::now() - start_ < std::chrono::seconds(2)) return;
    std::fprintf(stderr, "\rmvit bench: %s %d/%d   ", what.c_str(), done, total_);
    shown_ = true;
  }
  ~Progress() {
    if (shown_) std::fprintf(stderr, "\r%60s\r", "");
  }

 private:
  int total_;
  std::chrono::steady_clock::time_point start_;
  bool shown_ = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size()) {
    const size_t comma = std::min(s.find(',', at), s.size());
    out.push_back(s.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

int parse_int(const std::string& what, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  MVIT_CHECK(!v.empty() && *end == '\0' && n >= lo && n <= hi, "%s: '%s': expected %ld to %ld",
             what.c_str(), v.c_str(), lo, hi);
  return static_cast<int>(n);
}

struct Options {
  std::string model_dir;
  std::vector<int> batches = {1, 8};
  std::vector<Precision> precisions = {Precision::kFp32, Precision::kFp16};
  bool graph_on = true, graph_off = true, kernels = false, json = false, csv = false;
  int iterations = kDefaultIterations, warmup = kDefaultWarmup;
  AttentionPath attention = AttentionPath::kAuto;
  int input_h = 0, input_w = 0;
};

Options parse(const std::vector<std::string>& args, bool* help) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      *help = true;
      return o;
    }
    if (a == "--kernels" || a == "--json" || a == "--csv") {
      (a == "--kernels" ? o.kernels : a == "--json" ? o.json : o.csv) = true;
      continue;
    }
    MVIT_CHECK(i + 1 < args.size(), "%s: missing its value", a.c_str());
    const std::string& v = args[++i];
    if (a == "--model") {
      o.model_dir = v;
    } else if (a == "--batch-sizes") {
      o.batches.clear();
      for (const std::string& b : split(v)) {
        o.batches.push_back(parse_int(a + " " + v, b, 1, 4096));
      }
    } else if (a == "--precisions") {
      o.precisions.clear();
      for (const std::string& p : split(v)) o.precisions.push_back(parse_precision(p));
    } else if (a == "--graph") {
      MVIT_CHECK(v == "both" || v == "on" || v == "off", "--graph %s: expected both, on or off",
                 v.c_str());
      o.graph_on = v != "off", o.graph_off = v != "on";
    } else if (a == "--iterations") {
      o.iterations = parse_int(a, v, 1, 1000000);
    } else if (a == "--warmup") {
      o.warmup = parse_int(a, v, 0, 1000000);
    } else if (a == "--attention") {
      o.attention = parse_attention_path(v);
    } else if (a == "--input") {
      const size_t x = v.find('x');
      MVIT_CHECK(x != std::string::npos, "--input %s: expected HxW", v.c_str());
      o.input_h = parse_int(a, v.substr(0, x), 1, 4096);
      o.input_w = parse_int(a, v.substr(x + 1), 1, 4096);
    } else {
      MVIT_CHECK(false, "unknown option '%s'", a.c_str());
    }
  }
  MVIT_CHECK(!o.model_dir.empty(), "--model is required");
  MVIT_CHECK(!(o.json && o.csv), "--json and --csv: choose one");
  return o;
}

// One engine and its input, output and stream for a (precision, batch, attention).
struct Setup {
  Engine engine;
  DeviceArray input, logits;
  Stream stream;
  Setup(const Model& m, const Options& o, Precision p, int batch, AttentionPath a)
      : engine(Engine::create(m, options(m, o, p, batch, a))),
        input(size_t(batch) * 3 * engine.options().input_h * engine.options().input_w, "input"),
        logits(size_t(batch) * engine.classes(), "logits"),
        stream(device::create_stream()) {
    const size_t n = size_t(batch) * 3 * engine.options().input_h * engine.options().input_w;
    std::vector<float> x(n);
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (float& v : x) v = u(rng);
    device::copy_to_device(input.p, x.data(), n * sizeof(float));
  }
  ~Setup() { device::destroy_stream(stream); }
  static EngineOptions options(const Model& m, const Options& o, Precision p, int batch,
                               AttentionPath a) {
    EngineOptions e;
    e.max_batch = batch;
    e.input_h = o.input_h ? o.input_h : m.spec().input_h;
    e.input_w = o.input_w ? o.input_w : m.spec().input_w;
    e.precision = p;
    e.attention = a;
    return e;
  }
};

Row time_forward(Setup& s, int batch, bool graph, const Options& o, Progress& progress,
                 const std::string& what) {
  ContextOptions co;
  co.use_graphs = graph;
  Context context(s.engine, co);
  OutputBuffers out;
  out.logits = s.logits.p;
  const device::Event start = device::create_event(), stop = device::create_event();
  std::vector<double> ms;
  try {
    // One untimed run first, whatever --warmup says: it captures the graph (graph on).
    context.run(s.input.p, batch, out, s.stream);
    device::synchronize(s.stream);
    for (int i = 0; i < o.warmup + o.iterations; ++i) {
      device::record_event(start, s.stream);
      context.run(s.input.p, batch, out, s.stream);
      device::record_event(stop, s.stream);
      device::synchronize_event(stop);
      if (i >= o.warmup) ms.push_back(device::elapsed_ms(start, stop));
      progress.step(what, i + 1);
    }
  } catch (...) {
    device::destroy_event(start), device::destroy_event(stop);
    throw;
  }
  device::destroy_event(start), device::destroy_event(stop);
  Row r;
  r.precision = to_string(s.engine.options().precision);
  r.batch = batch, r.graph = graph, r.iterations = o.iterations;
  r.median = bench::quantile(ms, 0.5), r.p90 = bench::quantile(ms, 0.9);
  r.p99 = bench::quantile(ms, 0.99);
  r.images_per_s = r.median > 0 ? batch * 1000.0 / r.median : 0;
  return r;
}

// Per kernel family: the median over iterations of each step's time, summed per family.
std::vector<KernelRow> time_kernels(Setup& s, int batch, const Options& o, Progress& progress,
                                    const std::string& what, const std::string& label,
                                    std::string* counted) {
  Context context(s.engine, ContextOptions{false});
  const std::vector<StepInfo> info = s.engine.steps();
  std::vector<std::vector<double>> ms(info.size());
  std::vector<std::string> impl(info.size());
  const int iterations = std::max(1, std::min(o.iterations, 50));
  for (int i = 0; i < o.warmup + iterations; ++i) {
#ifdef MVIT_EMULATED
    if (i == o.warmup) emu::reset_op_counts();
#endif
    const std::vector<StepTiming> t = context.profile(s.input.p, batch, s.stream);
#ifdef MVIT_EMULATED
    if (i == o.warmup) {
      const emu::OpCounts c = emu::op_counts();
      *counted += detail::format(
          "%s: %llu kernel launches + %llu cuBLAS + %llu cuDNN calls per forward (counted by the "
          "emulator)\n",
          label.c_str(),
          static_cast<unsigned long long>(c.kernel_launches),
          static_cast<unsigned long long>(c.cublas_calls),
          static_cast<unsigned long long>(c.cudnn_calls));
    }
#else
    (void)counted, (void)label;
#endif
    for (size_t k = 0; k < t.size() && i >= o.warmup; ++k) {
      ms[k].push_back(t[k].ms);
      impl[k] = t[k].impl;
    }
    progress.step(what, i + 1);
  }
  // The engine's byte and FLOP figures are at max_batch == batch here.
  std::map<std::string, KernelRow> by_op;
  std::vector<std::string> order;
  double total = 0;
  for (size_t k = 0; k < info.size(); ++k) {
    auto [it, fresh] = by_op.try_emplace(info[k].op);
    KernelRow& r = it->second;
    if (fresh) order.push_back(info[k].op);
    r.op = info[k].op;
    r.steps += 1;
    const double m = bench::quantile(ms[k], 0.5);
    r.ms += m, total += m;
    r.bytes += double(info[k].bytes_read + info[k].bytes_written + info[k].weight_bytes);
    r.flops += double(info[k].flops);
    if (r.impls.find(impl[k]) == std::string::npos) {
      r.impls += (r.impls.empty() ? "" : "+") + impl[k];
    }
  }
  std::vector<KernelRow> out;
  for (const std::string& op : order) {
    KernelRow r = by_op[op];
    r.precision = to_string(s.engine.options().precision);
    r.attention = to_string(s.engine.options().attention);
    r.batch = batch;
    r.share = total > 0 ? 100.0 * r.ms / total : 0;
    out.push_back(r);
  }
  return out;
}

std::string header(const Options& o, const Model& m, const device::Facts& f) {
  std::string s = detail::format(
      "mvit bench: %s (%s %s, %dx%d, %d classes), commit %s\n", o.model_dir.c_str(),
      to_string(m.spec().flavour), m.spec().variant.c_str(),
      o.input_h ? o.input_h : m.spec().input_h, o.input_w ? o.input_w : m.spec().input_w,
      m.spec().num_classes, MVIT_GIT_COMMIT);
  s += detail::format("device: %s (sm %d, %d SMs", f.name, f.compute_capability, f.multiprocessors);
  if (f.sm_clock_khz) s += detail::format(", SM clock %d MHz", f.sm_clock_khz / 1000);
  if (f.memory_clock_khz) {
    s += detail::format(", memory clock %d MHz, %d-bit, peak %.0f GB/s", f.memory_clock_khz / 1000,
                        f.memory_bus_bits, f.peak_bandwidth() / 1e9);
  }
  s += detail::format(")\nCUDA runtime %d, driver %d, cuBLAS %d, cuDNN %s\n", f.runtime_version,
                      f.driver_version, f.cublas_version,
                      f.cudnn_version ? std::to_string(f.cudnn_version).c_str() : "not linked");
  s += kEmulated ? "timings: EMULATED: wall times of the CPU emulator, not GPU performance\n"
                 : "timings: CUDA events around each Context::run on one stream\n";
  return s;
}

const char* note() {
  return kEmulated ? "emulated CPU timing" : "";
}

void print_tables(const std::vector<Row>& rows, const std::vector<KernelRow>& kernels,
                  const std::string& counted, double peak) {
  std::printf("\n%-6s %-9s %5s %5s %10s %10s %10s %10s  %s\n", "impl", "precision", "batch",
              "graph", "median ms", "p90 ms", "p99 ms", "images/s", "note");
  for (const Row& r : rows) {
    std::printf("%-6s %-9s %5d %5s %10.3f %10.3f %10.3f %10.1f  %s\n", "mvit", r.precision.c_str(),
                r.batch, r.graph ? "on" : "off", r.median, r.p90, r.p99, r.images_per_s, note());
  }
  if (kernels.empty()) return;
  std::printf("\nper kernel family (each step between two events, uncaptured; median per forward;"
              " bytes and FLOPs modelled)\n");
  if (!counted.empty()) std::printf("%s", counted.c_str());
  std::printf("%-9s %5s %-9s %-16s %5s %9s %7s %9s %9s %6s %9s %8s  %-30s %s\n", "precision",
              "batch", "attention", "kernel", "steps", "ms", "share%", "MB", "GB/s", "%peak",
              "GFLOP", "TFLOP/s", "impl", "note");
  for (const KernelRow& k : kernels) {
    const double s = k.ms * 1e-3;
    const double gbs = s > 0 ? k.bytes / s / 1e9 : 0;
    std::string pk = peak > 0 ? detail::format("%6.1f", 100.0 * gbs * 1e9 / peak) : "     -";
    std::printf("%-9s %5d %-9s %-16s %5d %9.3f %7.1f %9.3f %9.2f %6s %9.4f %8.3f  %-30s %s\n",
                k.precision.c_str(), k.batch, k.attention.c_str(), k.op.c_str(), k.steps, k.ms,
                k.share, k.bytes / 1e6, gbs, pk.c_str(), k.flops / 1e9,
                s > 0 ? k.flops / s / 1e12 : 0.0, k.impls.c_str(), note());
  }
}

void print_csv(const std::vector<Row>& rows, const std::vector<KernelRow>& kernels) {
  std::printf("impl,precision,batch,graph,median_ms,p90_ms,p99_ms,images_per_s,emulated\n");
  for (const Row& r : rows) {
    std::printf("mvit,%s,%d,%s,%.6f,%.6f,%.6f,%.3f,%d\n", r.precision.c_str(), r.batch,
                r.graph ? "on" : "off", r.median, r.p90, r.p99, r.images_per_s, kEmulated);
  }
  if (kernels.empty()) return;
  std::printf("\nprecision,batch,attention,kernel,steps,median_ms,share_percent,bytes,flops,"
              "impl,emulated\n");
  for (const KernelRow& k : kernels) {
    std::printf("%s,%d,%s,%s,%d,%.6f,%.3f,%.0f,%.0f,%s,%d\n", k.precision.c_str(), k.batch,
                k.attention.c_str(), k.op.c_str(), k.steps, k.ms, k.share, k.bytes, k.flops,
                k.impls.c_str(), kEmulated);
  }
}

void print_json(const Options& o, const device::Facts& f, const std::vector<Row>& rows,
                const std::vector<KernelRow>& kernels, const std::string& counted) {
  nlohmann::json doc = {{"tool", "mvit bench"}, {"model", o.model_dir}, {"device", f.name},
                        {"emulated", kEmulated}, {"commit", MVIT_GIT_COMMIT},
                        {"peak_bytes_per_s", f.peak_bandwidth()}, {"rows", nlohmann::json::array()}};
  for (const Row& r : rows) {
    doc["rows"].push_back({{"impl", "mvit"}, {"precision", r.precision}, {"batch", r.batch},
                           {"graph", r.graph}, {"median_ms", r.median}, {"p90_ms", r.p90},
                           {"p99_ms", r.p99}, {"images_per_s", r.images_per_s},
                           {"iterations", r.iterations}});
  }
  if (o.kernels) {
    doc["kernels"] = nlohmann::json::array();
    for (const KernelRow& k : kernels) {
      doc["kernels"].push_back({{"precision", k.precision}, {"batch", k.batch},
                                {"attention", k.attention}, {"kernel", k.op}, {"steps", k.steps},
                                {"median_ms", k.ms}, {"share_percent", k.share},
                                {"bytes", k.bytes}, {"flops", k.flops}, {"impl", k.impls}});
    }
    if (!counted.empty()) doc["launches"] = counted;
  }
  std::printf("%s\n", doc.dump(2).c_str());
}

}  // namespace

int bench_main(const std::vector<std::string>& args) {
  Options o;
  try {
    bool help = false;
    o = parse(args, &help);
    if (help) {
      std::fputs(kBenchUsage, stdout);
      return 0;
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "mvit bench: %s\n%s", e.what(), kBenchUsage);
    return 2;
  }
  try {
    const Model model = Model::load(o.model_dir);
    const device::Facts facts = device::facts(device::current_device());
    std::vector<Row> rows;
    std::vector<KernelRow> kernels;
    std::string counted;
    const int runs = int(o.precisions.size() * o.batches.size()) *
                     (int(o.graph_on) + int(o.graph_off) + (o.kernels ? 2 : 0));
    Progress progress(o.warmup + o.iterations);
    int run = 0;
    for (Precision p : o.precisions) {
      for (int b : o.batches) {
        Setup s(model, o, p, b, o.attention);
        auto what = [&](const char* kind) {
          return detail::format("%s batch %d %s (%d of %d)", to_string(p), b, kind, ++run, runs);
        };
        if (o.graph_on) rows.push_back(time_forward(s, b, true, o, progress, what("graph on")));
        if (o.graph_off) rows.push_back(time_forward(s, b, false, o, progress, what("graph off")));
        if (!o.kernels) continue;
        // Both attention paths, each on its own engine (everything else is planned the same).
        for (AttentionPath a : {AttentionPath::kFused, AttentionPath::kCublas}) {
          Setup sa(model, o, p, b, a);
          const std::string label = detail::format("%s batch %d attention %s", to_string(p), b,
                                                   to_string(a));
          const std::vector<KernelRow> k =
              time_kernels(sa, b, o, progress, what(to_string(a)), label, &counted);
          kernels.insert(kernels.end(), k.begin(), k.end());
        }
      }
    }
    if (o.json) {
      print_json(o, facts, rows, kernels, counted);
    } else if (o.csv) {
      print_csv(rows, kernels);
    } else {  // everything measured: nothing reaches stdout when a run fails
      std::fputs(header(o, model, facts).c_str(), stdout);
      print_tables(rows, kernels, counted, facts.peak_bandwidth());
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "mvit bench: %s\n", e.what());
    return 1;
  }
}

}  // namespace mvit::cli
