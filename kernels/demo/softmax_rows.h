// Demonstration kernel: y = softmax(x) along each row, with the row staged in dynamic shared
// memory sized at launch (cols floats).
#pragma once

#include <cuda_runtime_api.h>

namespace mvit {
namespace demo {

struct SoftmaxRowsParams {
  const float* x;  // [rows, cols] device
  float* y;        // [rows, cols] device
  int rows, cols;  // cols * 4 bytes must fit the device's opt-in shared memory
};

void softmax_rows_forward(const SoftmaxRowsParams& p, cudaStream_t stream);

}  // namespace demo
}  // namespace mvit
