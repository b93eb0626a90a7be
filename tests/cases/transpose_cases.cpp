// transpose: metric |got - want| (absolute), tolerance 0: a transpose moves values, it computes
// nothing, so every element must arrive bit for bit.
#include "kernels/common/cuda_check.h"
#include "kernels/demo/transpose.h"
#include "tests/cases/demo_cases.h"
#include "tests/reference/demo_ref.h"
#include "tests/support/device_buffer.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

class TransposeRun final : public PreparedCase {
 public:
  TransposeRun(int rows, int cols, uint32_t seed)
      : rows_(rows),
        cols_(cols),
        in_(random_floats(static_cast<size_t>(rows) * cols, seed)),
        want_(transpose_ref(in_, rows, cols)),
        din_(in_),
        dout_(in_.size()) {
    bytes = 8.0 * rows * cols;
  }

  void launch(Stream stream, int) override {
    demo::transpose_forward({din_.get(), dout_.get(), rows_, cols_}, stream);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    return compare(dout_.download(), want_, 0.0);
  }

 private:
  int rows_, cols_;
  std::vector<float> in_;
  std::vector<double> want_;
  DeviceBuffer<float> din_, dout_;
};

KernelCase make(int rows, int cols, bool demo = false) {
  return {"transpose", "rows" + std::to_string(rows) + "_cols" + std::to_string(cols), 0.0, demo,
          [=](int) { return std::make_unique<TransposeRun>(rows, cols, rows * 31 + cols); }};
}

}  // namespace

std::vector<KernelCase> transpose_cases() {
  return {
      make(1, 1), make(32, 32),        // exactly one tile
      make(33, 65),                    // one past a tile in both directions
      make(1000, 777, /*demo=*/true),  // ragged in both directions, many tiles
  };
}

}  // namespace test
}  // namespace mvit
