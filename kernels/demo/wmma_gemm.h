// Demonstration kernel: C = A * B with tensor-core fragments (nvcuda::wmma, 16x16x16, fp16
// inputs, fp32 accumulation and output).
#pragma once

#include "kernels/common/dtype.h"
#include "mvit/stream.h"

namespace mvit {
namespace demo {

struct WmmaGemmParams {
  const void* a;  // [m, k] row-major, device, `dtype`
  const void* b;  // [k, n] row-major, device, `dtype`
  float* c;       // [m, n] row-major, device
  int m, n, k;
  DType dtype = DType::kF16;
};

// dtype f16; m, n, k positive multiples of 16; a, b, c 32-byte aligned (wmma's load/store rules).
// No side effects.
[[nodiscard]] bool wmma_gemm_supported(const WmmaGemmParams& p);
// Throws mvit::Error naming the bad field when !wmma_gemm_supported(p).
void wmma_gemm_forward(const WmmaGemmParams& p, Stream stream);

}  // namespace demo
}  // namespace mvit
