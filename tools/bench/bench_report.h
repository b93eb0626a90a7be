// The rows of mvit-kernel-bench and their three renderings: the table on stdout, JSON and CSV.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace mvit {
namespace bench {

struct DeviceInfo {
  std::string name, cc;
  int sms = 0;
  int l2_bytes = 0;
  int runtime_version = 0, driver_version = 0;
  int sm_clock_mhz = 0, memory_clock_mhz = 0;
  double peak_bytes_per_s = 0;  // 0: unknown (the emulated device)
};

struct Row {
  std::string family, name, impl;
  int vec = 0;
  int replicas = 1;
  double bytes = 0, flops = 0;
  std::vector<double> us;  // per-launch microseconds, one per sample
  std::string baseline;
  std::vector<double> baseline_us;
  bool ok = false, baseline_ok = true;
  double max_error = 0, tolerance = 0;
  std::string failure;
};

struct Report {
  DeviceInfo device;
  bool emulated = false;
  std::vector<Row> rows;
  bool all_ok() const;
};

// The q-quantile (0..1) of `v` by linear interpolation between order statistics; NaN if empty.
double quantile(std::vector<double> v, double q);

void print_table(const Report& r, std::FILE* out);
void write_json(const Report& r, const std::string& path);
void write_csv(const Report& r, const std::string& path);

}  // namespace bench
}  // namespace mvit
