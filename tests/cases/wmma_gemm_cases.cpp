// wmma_gemm: metric |got - want| / sum_l |a_il b_lj| (the error relative to the magnitude the
// rounding acts on). The inputs are fp16, so every product is exact in fp32; the accumulation adds
// k products, each step with at most 1 ulp = 2u (u = 2^-24) of error relative to that magnitude
// (tensor cores may truncate instead of round within an mma). Tolerance 2 k u, analytic (no GPU
// measurement yet). One missing product would be off by about 1 / k, far above it.
#include <cmath>

#include <cuda_fp16.h>

#include "kernels/common/cuda_check.h"
#include "kernels/demo/wmma_gemm.h"
#include "tests/cases/demo_cases.h"
#include "tests/reference/demo_ref.h"
#include "tests/support/device_buffer.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

std::vector<__half> to_half(const std::vector<float>& v) {
  std::vector<__half> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = __float2half_rn(v[i]);
  return h;
}

std::vector<float> abs_of(std::vector<float> v) {
  for (float& x : v) x = std::fabs(x);
  return v;
}

class WmmaGemmRun final : public PreparedCase {
 public:
  WmmaGemmRun(int m, int n, int k, uint32_t seed, double tolerance)
      : m_(m),
        n_(n),
        k_(k),
        tolerance_(tolerance),
        a_(round_to_half(random_floats(static_cast<size_t>(m) * k, seed))),
        b_(round_to_half(random_floats(static_cast<size_t>(k) * n, seed + 1))),
        want_(gemm_ref(a_, b_, m, n, k)),
        scale_(gemm_ref(abs_of(a_), abs_of(b_), m, n, k)),
        da_(to_half(a_)),
        db_(to_half(b_)),
        dc_(static_cast<size_t>(m) * n) {
    bytes = 2.0 * (m * k + k * n) + 4.0 * m * n;
    flops = 2.0 * m * n * k;
  }

  void launch(Stream stream, int) override {
    demo::wmma_gemm_forward({da_.get(), db_.get(), dc_.get(), m_, n_, k_, DType::kF16}, stream);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    return compare(dc_.download(), want_, tolerance_, scale_);
  }

 private:
  int m_, n_, k_;
  double tolerance_;
  std::vector<float> a_, b_;
  std::vector<double> want_, scale_;
  DeviceBuffer<__half> da_, db_;
  DeviceBuffer<float> dc_;
};

KernelCase make(int m, int n, int k, bool demo = false) {
  const double tol = 2.0 * k * 0x1p-24;
  return {"wmma_gemm",
          "m" + std::to_string(m) + "_n" + std::to_string(n) + "_k" + std::to_string(k), tol, demo,
          [=](int) { return std::make_unique<WmmaGemmRun>(m, n, k, m + n + k, tol); }};
}

}  // namespace

std::vector<KernelCase> wmma_gemm_cases() {
  return {
      make(16, 16, 16),  // one tile, one mma
      make(48, 80, 64),  // 5 tiles along n: the second block is partly empty
      make(64, 48, 96, /*demo=*/true),
  };
}

}  // namespace test
}  // namespace mvit
