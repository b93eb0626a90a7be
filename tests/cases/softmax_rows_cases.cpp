// softmax_rows: metric |got - want| / want (relative; every softmax output is positive).
// Tolerance, per case, from the analytic bound (no GPU measurement yet): __expf has at most
// 2 + floor(1.173 |x|) ulp of error (CUDA C++ Programming Guide, intrinsic functions), about 21 ulp
// for the inputs' x - max in [-16, 0]; the row sum adds ceil(cols / 128) terms in each thread and
// 7 more levels in block_reduce, each at most 1 ulp relative to the sum; and one division. Twice
// that total, in units of u = 2^-24, is the tolerance. A case whose kernel dropped one term of a
// row would be off by about 1 / cols relative, more than 3x the tolerance at the longest row.
#include <cmath>

#include "kernels/common/cuda_check.h"
#include "kernels/demo/softmax_rows.h"
#include "tests/cases/demo_cases.h"
#include "tests/reference/demo_ref.h"
#include "tests/support/device_buffer.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

double softmax_tolerance(int cols) {
  const double ulps = 24 + 2 * ((cols + 127) / 128 + 7 + 1);
  return 2 * ulps * 0x1p-24;
}

class SoftmaxRowsRun final : public PreparedCase {
 public:
  SoftmaxRowsRun(int rows, int cols, uint32_t seed, double tolerance)
      : rows_(rows),
        cols_(cols),
        tolerance_(tolerance),
        x_(random_floats(static_cast<size_t>(rows) * cols, seed, -8.0f, 8.0f)),
        want_(softmax_rows_ref(x_, rows, cols)),
        dx_(x_),
        dy_(x_.size()) {
    bytes = 8.0 * rows * cols;
    flops = 4.0 * rows * cols;  // max, subtract + exp, sum, scale
  }

  void launch(Stream stream, int) override {
    demo::softmax_rows_forward({dx_.get(), dy_.get(), rows_, cols_}, stream);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    return compare(dy_.download(), want_, tolerance_, want_);
  }

 private:
  int rows_, cols_;
  double tolerance_;
  std::vector<float> x_;
  std::vector<double> want_;
  DeviceBuffer<float> dx_, dy_;
};

KernelCase make(int rows, int cols, bool demo = false) {
  const double tol = softmax_tolerance(cols);
  return {"softmax_rows", "rows" + std::to_string(rows) + "_cols" + std::to_string(cols), tol, demo,
          [=](int) { return std::make_unique<SoftmaxRowsRun>(rows, cols, cols, tol); }};
}

}  // namespace

std::vector<KernelCase> softmax_rows_cases() {
  return {
      make(8, 1),                    // a row of one: every output is exactly 1
      make(64, 197, /*demo=*/true),  // ViT-like token count, not a multiple of the block
      make(8, 1000),
      make(2, 16384),  // 64 KiB of dynamic shared memory: beyond 48 KiB, needs the opt-in
  };
}

}  // namespace test
}  // namespace mvit
