// Demonstration kernel: C = A * B with tensor-core fragments (nvcuda::wmma, 16x16x16, half
// inputs, fp32 accumulation).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

namespace mvit {
namespace demo {

struct WmmaGemmParams {
  const __half* a;  // [m, k] row-major, device
  const __half* b;  // [k, n] row-major, device
  float* c;         // [m, n] row-major, device
  int m, n, k;      // multiples of 16; pointers 32-byte aligned (wmma's rules)
};

void wmma_gemm_forward(const WmmaGemmParams& p, cudaStream_t stream);

}  // namespace demo
}  // namespace mvit
