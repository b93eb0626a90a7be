#include "tools/bench/bench_report.h"

#include <cublas_v2.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "kernels/common/check.h"
#if MVIT_HAVE_CUDNN
#include <cudnn.h>
#endif

#ifndef MVIT_GIT_COMMIT
#define MVIT_GIT_COMMIT "unknown"
#endif

namespace mvit {
namespace bench {
namespace {

const char* timing_label(const Report& r) {
  return r.emulated ? "emulated (CPU)" : "GPU";
}

std::string versions(const Report& r) {
  std::string s = detail::format("CUDA runtime %d, driver %d, cuBLAS %d", r.device.runtime_version,
                                 r.device.driver_version, CUBLAS_VERSION);
#if MVIT_HAVE_CUDNN
  s += detail::format(", cuDNN %zu", cudnnGetVersion());
#else
  s += ", cuDNN: not in this build";
#endif
  return s + ", commit " MVIT_GIT_COMMIT;
}

double gbps(const Row& row, double us) {
  return us > 0 ? row.bytes / (us * 1e-6) / 1e9 : 0;
}

}  // namespace

bool Report::all_ok() const {
  for (const Row& row : rows) {
    if (!row.ok || !row.baseline_ok) return false;
  }
  return !rows.empty();
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const double pos = q * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

void print_table(const Report& r, std::FILE* out) {
  const DeviceInfo& d = r.device;
  std::fprintf(out, "device: %s (sm %s, %d SMs, L2 %d KiB", d.name.c_str(), d.cc.c_str(), d.sms,
               d.l2_bytes / 1024);
  if (d.sm_clock_mhz > 0) std::fprintf(out, ", SM clock %d MHz", d.sm_clock_mhz);
  if (d.peak_bytes_per_s > 0) {
    std::fprintf(out, ", memory clock %d MHz, peak %.0f GB/s", d.memory_clock_mhz,
                 d.peak_bytes_per_s / 1e9);
  }
  std::fprintf(out, ")\n%s\n", versions(r).c_str());
  std::fprintf(out, "timings: %s%s\n\n", timing_label(r),
               r.emulated ? ": wall times of the CPU emulator, not GPU performance" : "");
  // Column widths from the longest case and implementation names.
  int case_w = 4, impl_w = 4;
  for (const Row& row : r.rows) {
    case_w = std::max(case_w, static_cast<int>(row.name.size()));
    impl_w = std::max(impl_w, static_cast<int>(row.impl.size()) + 4);
  }
  std::fprintf(out, "%-15s %-*s %-*s %-14s %10s %10s %10s %10s %8s %6s %8s %-16s %10s %7s %s\n",
               "family", case_w, "case", impl_w, "impl", "timing", "median us", "p10 us", "p90 us",
               "MB", "GB/s", "%peak", "TFLOP/s", "baseline", "base us", "speedup", "check");
  for (const Row& row : r.rows) {
    const double med = quantile(row.us, 0.5);
    const std::string impl = row.impl + (row.vec > 0 ? "/v" + std::to_string(row.vec) : "");
    std::string peak = "-";
    if (r.device.peak_bytes_per_s > 0) {
      peak = detail::format("%.0f", 100.0 * gbps(row, med) * 1e9 / r.device.peak_bytes_per_s);
    }
    const std::string tflops =
        row.flops > 0 ? detail::format("%.3f", row.flops / (med * 1e-6) / 1e12) : "-";
    std::string base = "-", base_us = "-", speedup = "-";
    if (!row.baseline.empty()) {
      base = row.baseline;
      const double b = quantile(row.baseline_us, 0.5);
      base_us = detail::format("%.2f", b);
      speedup = detail::format("%.2fx", b / med);
    }
    std::fprintf(
        out, "%-15s %-*s %-*s %-14s %10.2f %10.2f %10.2f %10.3f %8.1f %6s %8s %-16s %10s %7s %s\n",
        row.family.c_str(), case_w, row.name.c_str(), impl_w, impl.c_str(), timing_label(r), med,
        quantile(row.us, 0.1), quantile(row.us, 0.9), row.bytes / 1e6, gbps(row, med), peak.c_str(),
        tflops.c_str(), base.c_str(), base_us.c_str(), speedup.c_str(),
        row.ok && row.baseline_ok ? "ok" : "FAIL");
    if (!row.failure.empty()) std::fprintf(out, "    %s\n", row.failure.c_str());
  }
  size_t failed = 0;
  for (const Row& row : r.rows) failed += !(row.ok && row.baseline_ok);
  std::fprintf(out, "\n%zu cases, %zu failed their check; timings %s\n", r.rows.size(), failed,
               timing_label(r));
}

void write_json(const Report& r, const std::string& path) {
  nlohmann::json j;
  j["device"] = {{"name", r.device.name},
                 {"compute_capability", r.device.cc},
                 {"sms", r.device.sms},
                 {"l2_bytes", r.device.l2_bytes},
                 {"sm_clock_mhz", r.device.sm_clock_mhz},
                 {"memory_clock_mhz", r.device.memory_clock_mhz},
                 {"peak_bytes_per_s", r.device.peak_bytes_per_s}};
  j["versions"] = versions(r);
  j["timing"] = timing_label(r);
  j["rows"] = nlohmann::json::array();
  for (const Row& row : r.rows) {
    nlohmann::json o = {{"family", row.family},
                        {"case", row.name},
                        {"impl", row.impl},
                        {"vec", row.vec},
                        {"timing", timing_label(r)},
                        {"replicas", row.replicas},
                        {"bytes", row.bytes},
                        {"flops", row.flops},
                        {"us_samples", row.us},
                        {"median_us", quantile(row.us, 0.5)},
                        {"p10_us", quantile(row.us, 0.1)},
                        {"p90_us", quantile(row.us, 0.9)},
                        {"ok", row.ok},
                        {"max_error", row.max_error},
                        {"tolerance", row.tolerance}};
    if (!row.baseline.empty()) {
      o["baseline"] = row.baseline;
      o["baseline_median_us"] = quantile(row.baseline_us, 0.5);
      o["baseline_ok"] = row.baseline_ok;
    }
    if (!row.failure.empty()) o["failure"] = row.failure;
    j["rows"].push_back(o);
  }
  std::ofstream f(path);
  MVIT_CHECK(f.good(), "mvit-kernel-bench: cannot write %s", path.c_str());
  f << j.dump(2) << "\n";
}

void write_csv(const Report& r, const std::string& path) {
  std::ofstream f(path);
  MVIT_CHECK(f.good(), "mvit-kernel-bench: cannot write %s", path.c_str());
  f << "family,case,impl,vec,timing,median_us,p10_us,p90_us,bytes,flops,gb_per_s,pct_peak,"
       "baseline,baseline_median_us,ok\n";
  for (const Row& row : r.rows) {
    const double med = quantile(row.us, 0.5);
    const double pct = r.device.peak_bytes_per_s > 0
                           ? 100.0 * gbps(row, med) * 1e9 / r.device.peak_bytes_per_s
                           : 0;
    f << row.family << "," << row.name << "," << row.impl << "," << row.vec << ","
      << timing_label(r) << "," << med << "," << quantile(row.us, 0.1) << ","
      << quantile(row.us, 0.9) << "," << row.bytes << "," << row.flops << "," << gbps(row, med)
      << "," << (r.device.peak_bytes_per_s > 0 ? std::to_string(pct) : "") << "," << row.baseline
      << "," << (row.baseline.empty() ? "" : std::to_string(quantile(row.baseline_us, 0.5))) << ","
      << (row.ok && row.baseline_ok ? "true" : "false") << "\n";
  }
}

}  // namespace bench
}  // namespace mvit
