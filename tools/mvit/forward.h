// The forward the CLI runs: host input in, host outputs out, through an Engine and a Context on
// the current device (emulated where the build is). Shared by `mvit run` and `mvit verify`.
#pragma once

#include <cstdint>
#include <vector>

#include "mvit/mvit.h"
#include "runtime/model.h"
#include "runtime/npy.h"
#include "runtime/engine/device.h"

namespace mvit::cli {

// n floats of device memory (at least one), freed at scope exit; `what` names it in errors.
struct DeviceArray {
  float* p = nullptr;
  explicit DeviceArray(size_t n, const char* what = "mvit") {
    p = static_cast<float*>(device::allocate((n > 0 ? n : 1) * sizeof(float), what));
  }
  ~DeviceArray() { device::release(p); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
};

struct ForwardOptions {
  Precision precision = Precision::kFp32;
  AttentionPath attention = AttentionPath::kAuto;
  int batch_size = 0;  // images per run (the engine's max_batch); 0: all of the input at once
};

struct ForwardResult {
  // Per requested output (logits first, then `outputs` in order): [B, ...] fp32, with its shape.
  std::vector<std::vector<float>> values;
  std::vector<std::vector<int64_t>> shapes;
  ArenaFigures arena;
  size_t steps = 0;
};

// `input` must be float32 [B, 3, H, W]; throws mvit::Error naming `input_name` otherwise.
ForwardResult host_forward(const Model& model, const NpyArray& input, const char* input_name,
                           const std::vector<Output>& outputs, const ForwardOptions& options);

// "emulated (CPU)" or the device's name, for the lines the CLI prints.
const char* build_kind();

}  // namespace mvit::cli
