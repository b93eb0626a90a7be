// Demonstration kernel: out = transpose(in) through a padded shared-memory tile.
#pragma once

#include <cuda_runtime_api.h>

namespace mvit {
namespace demo {

struct TransposeParams {
  const float* in;  // [rows, cols] device
  float* out;       // [cols, rows] device
  int rows, cols;
};

void transpose_forward(const TransposeParams& p, cudaStream_t stream);

}  // namespace demo
}  // namespace mvit
