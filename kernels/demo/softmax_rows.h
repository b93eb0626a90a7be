// Demonstration kernel: y = softmax(x) along each row, with the row staged in dynamic shared
// memory sized at launch (cols floats), opting in to more than 48 KiB where the row needs it.
#pragma once

#include "mvit/stream.h"

namespace mvit {
namespace demo {

struct SoftmaxRowsParams {
  const float* x;  // [rows, cols] device
  float* y;        // [rows, cols] device
  int rows, cols;
};

// rows, cols > 0, no null pointer, and cols * 4 bytes within the current device's opt-in shared
// memory per block (99 KiB on sm_86/89, 163 KiB on sm_80, 227 KiB on sm_90). No side effects.
[[nodiscard]] bool softmax_rows_supported(const SoftmaxRowsParams& p);
// Throws mvit::Error naming the bad field when !softmax_rows_supported(p).
void softmax_rows_forward(const SoftmaxRowsParams& p, Stream stream);

}  // namespace demo
}  // namespace mvit
