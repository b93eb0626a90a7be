// Demonstration kernel: out = transpose(in) through a padded shared-memory tile.
#pragma once

#include "mvit/stream.h"

namespace mvit {
namespace demo {

struct TransposeParams {
  const float* in;  // [rows, cols] device
  float* out;       // [cols, rows] device
  int rows, cols;
};

// rows, cols > 0, rows * cols < 2^31, no null pointer. No side effects.
[[nodiscard]] bool transpose_supported(const TransposeParams& p);
// Throws mvit::Error naming the bad field when !transpose_supported(p).
void transpose_forward(const TransposeParams& p, Stream stream);

}  // namespace demo
}  // namespace mvit
