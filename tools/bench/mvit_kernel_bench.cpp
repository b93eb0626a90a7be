// mvit-kernel-bench: times every kernel case of the project (tests/cases/: the same list the kernel
// tests run), beside its baseline where it has one, and checks each against its CPU reference.
//
//   mvit-kernel-bench [--family F[,F...]] [--case SUBSTRING] [--skip-full] [--samples N]
//                     [--min-sample-us US] [--json FILE] [--csv FILE] [--list]
//
// Method (the CUTLASS / nvbench practice, shared/STYLE.md): each case is prepared with enough
// replicas of its inputs and outputs that one pass over them exceeds 2x the device's L2, so every
// launch reads from DRAM; after a warm-up pass, each sample times a batch of consecutive launches
// (rotating through the replicas) between two CUDA events, the batch long enough that the events'
// own cost is small (--min-sample-us, default 200); the table gives the median, p10 and p90 of the
// per-launch time over --samples samples (default 30). Bytes are the least traffic of one launch
// (inputs + weights + outputs), so GB/s is a lower bound on what the kernel moves; % of peak uses
// the DRAM bandwidth computed from the device's memory clock and bus width. After timing, the
// case's output (and its baseline's) is checked against the reference once.
//
// In the emulated build the same code runs on the CPU emulator: one replica, one launch per
// sample, 3 samples by default, and every timing is labelled "emulated (CPU)": emulator wall
// times, which say nothing about a GPU.
//
// Exit status: 0 every check passed, 1 a check failed, 2 an error (bad option, CUDA error).
#include <cuda_runtime_api.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "tests/cases/registry.h"
#include "tools/bench/bench_report.h"

namespace mvit {
namespace bench {
namespace {

#if defined(MVIT_EMULATED)
constexpr bool kEmulated = true;
#else
constexpr bool kEmulated = false;
#endif

struct Options {
  std::vector<std::string> families;
  std::string case_filter;
  bool skip_full = false;
  bool list = false;
  int samples = kEmulated ? 3 : 30;
  double min_sample_us = 200;
  std::string json, csv;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "mvit-kernel-bench: %s\n"
               "usage: mvit-kernel-bench [--family F[,F...]] [--case SUBSTRING] [--skip-full]\n"
               "                         [--samples N] [--min-sample-us US] [--json FILE]\n"
               "                         [--csv FILE] [--list]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("option " + a + " needs a value").c_str());
      return argv[++i];
    };
    if (a == "--family") {
      std::stringstream ss(value());
      for (std::string f; std::getline(ss, f, ',');) o.families.push_back(f);
    } else if (a == "--case") {
      o.case_filter = value();
    } else if (a == "--skip-full") {
      o.skip_full = true;
    } else if (a == "--list") {
      o.list = true;
    } else if (a == "--samples") {
      o.samples = std::atoi(value().c_str());
      if (o.samples < 1) usage("--samples must be >= 1");
    } else if (a == "--min-sample-us") {
      o.min_sample_us = std::atof(value().c_str());
      if (!(o.min_sample_us > 0)) usage("--min-sample-us must be > 0");
    } else if (a == "--json") {
      o.json = value();
    } else if (a == "--csv") {
      o.csv = value();
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  return o;
}

bool selected(const Options& o, const test::KernelCase& c) {
  if (!o.families.empty() &&
      std::find(o.families.begin(), o.families.end(), c.family) == o.families.end()) {
    return false;
  }
  if (!o.case_filter.empty() && c.name.find(o.case_filter) == std::string::npos) return false;
  if (o.skip_full && c.name.find("Full") != std::string::npos) return false;
  return true;
}

// Device facts for the header and the % of peak column.
DeviceInfo device_info() {
  DeviceInfo d;
  cudaDeviceProp prop;
  MVIT_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  d.name = prop.name;
  d.cc = std::to_string(prop.major) + "." + std::to_string(prop.minor);
  d.sms = prop.multiProcessorCount;
  d.l2_bytes = prop.l2CacheSize;
  int runtime = 0, driver = 0;
  MVIT_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  if (cudaDriverGetVersion(&driver) != cudaSuccess) cudaGetLastError();
  d.runtime_version = runtime;
  d.driver_version = driver;
  if (!kEmulated) {
    int mem_khz = 0, bus_bits = 0, sm_khz = 0;
    if (cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, 0) == cudaSuccess &&
        cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, 0) == cudaSuccess) {
      // Double data rate: two transfers per memory clock.
      d.peak_bytes_per_s = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0);
      d.memory_clock_mhz = mem_khz / 1000;
    }
    if (cudaDeviceGetAttribute(&sm_khz, cudaDevAttrClockRate, 0) == cudaSuccess) {
      d.sm_clock_mhz = sm_khz / 1000;
    }
    cudaGetLastError();
  }
  return d;
}

// Replicas so that one pass over the case's buffers exceeds 2x L2 (at least one; at most 1 GiB of
// buffers, and 512 replicas).
int replicas_for(const DeviceInfo& d, double bytes) {
  if (kEmulated || d.l2_bytes <= 0 || bytes <= 0) return 1;
  const double want = std::ceil(2.0 * d.l2_bytes / bytes) + 1;
  const double cap = std::max(1.0, std::floor(double(1 << 30) / bytes));
  return static_cast<int>(std::min({want, cap, 512.0}));
}

// Times `launch` (one launch of replica r) as described at the top; returns per-launch
// microseconds of each sample.
template <class Launch>
std::vector<double> time_launches(const Options& o, cudaStream_t stream, int replicas,
                                  Launch launch) {
  cudaEvent_t start, stop;
  MVIT_CUDA_CHECK(cudaEventCreate(&start));
  MVIT_CUDA_CHECK(cudaEventCreate(&stop));
  auto timed = [&](int launches) {
    MVIT_CUDA_CHECK(cudaEventRecord(start, stream));
    for (int i = 0; i < launches; ++i) launch(i % replicas);
    MVIT_CUDA_CHECK(cudaEventRecord(stop, stream));
    MVIT_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    MVIT_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return 1e3 * ms / launches;
  };
  // Warm-up: one pass over the replicas (first-launch costs, cuDNN/cuBLAS heuristics, caches).
  const double first_us = timed(replicas);
  int per_sample = 1;
  if (!kEmulated) {
    per_sample = static_cast<int>(std::ceil(o.min_sample_us / std::max(first_us, 1e-3)));
    per_sample = std::max(replicas, std::min(per_sample, 10000));
  }
  std::vector<double> us;
  for (int s = 0; s < o.samples; ++s) us.push_back(timed(per_sample));
  MVIT_CUDA_CHECK(cudaEventDestroy(start));
  MVIT_CUDA_CHECK(cudaEventDestroy(stop));
  return us;
}

Row run_case(const Options& o, const DeviceInfo& d, cudaStream_t stream,
             const test::KernelCase& c) {
  Row row;
  row.family = c.family;
  row.name = c.name;
  // Probe bytes with one replica, then prepare the real set.
  std::unique_ptr<test::PreparedCase> run = c.prepare(1);
  const int replicas = replicas_for(d, run->bytes);
  if (replicas > 1) run = c.prepare(replicas);
  row.replicas = run->replicas();
  row.bytes = run->bytes;
  row.flops = run->flops;
  row.us = time_launches(o, stream, run->replicas(), [&](int r) { run->launch(stream, r); });
  row.impl = run->dispatched.impl;
  row.vec = run->dispatched.vec;
  MVIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  run->launch(stream, 0);
  MVIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  const test::Comparison r = run->check();
  row.ok = r.ok();
  row.max_error = r.max_error;
  row.tolerance = r.tolerance;
  if (!r.ok()) row.failure = r.describe();
  if (!run->baseline.empty()) {
    row.baseline = run->baseline;
    row.baseline_us = time_launches(o, stream, run->replicas(),
                                    [&](int rep) { run->launch_baseline(stream, rep); });
    run->launch_baseline(stream, 0);
    MVIT_CUDA_CHECK(cudaStreamSynchronize(stream));
    const test::Comparison b = run->check();
    row.baseline_ok = b.ok();
    if (!b.ok()) row.failure += (row.failure.empty() ? "" : "; ") + ("baseline: " + b.describe());
  }
  return row;
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::vector<test::KernelCase> cases;
  for (test::KernelCase& c : test::all_kernel_cases()) {
    if (selected(o, c)) cases.push_back(std::move(c));
  }
  if (o.list) {
    for (const test::KernelCase& c : cases)
      std::printf("%s/%s\n", c.family.c_str(), c.name.c_str());
    return 0;
  }
  if (cases.empty()) usage("no case matches the filters (see --list)");
  const DeviceInfo d = device_info();
  Report report;
  report.device = d;
  report.emulated = kEmulated;
  cudaStream_t stream;
  MVIT_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  // Progress on stderr, when it is a terminal.
  const bool tty = isatty(fileno(stderr)) != 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < cases.size(); ++i) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (tty) {
      std::fprintf(stderr, "\r[%zu/%zu, %.0f s] %s/%s\033[K", i + 1, cases.size(), s,
                   cases[i].family.c_str(), cases[i].name.c_str());
    }
    report.rows.push_back(run_case(o, d, stream, cases[i]));
  }
  if (tty) std::fprintf(stderr, "\r\033[K");
  MVIT_CUDA_CHECK(cudaStreamDestroy(stream));
  print_table(report, stdout);
  if (!o.json.empty()) write_json(report, o.json);
  if (!o.csv.empty()) write_csv(report, o.csv);
  return report.all_ok() ? 0 : 1;
}

}  // namespace
}  // namespace bench
}  // namespace mvit

int main(int argc, char** argv) {
  try {
    return mvit::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nmvit-kernel-bench: %s\n", e.what());
    return 2;
  }
}
