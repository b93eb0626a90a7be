// block_reduce: outputs [partials..., total], metric |got - want| (absolute), tolerance 0.
// Note [exact sums]: the inputs are multiples of 2^-6 in [-1, 1], so every sum the kernel forms,
// in any order, is exact in fp32 as long as its magnitude stays below 2^24 * 2^-6 = 2^18. Partial
// sums of one block are at most 256 in magnitude; the atomic accumulation of the total adds the
// block partials in an unspecified order, and every intermediate is bounded by the sum of their
// magnitudes, which prepare() checks is below 2^18. So the right answer is exact whatever the order
// of the atomics, and any dropped, doubled or misplaced element shows.
#include <cmath>

#include "kernels/common/cuda_check.h"
#include "kernels/demo/block_reduce.h"
#include "tests/cases/demo_cases.h"
#include "tests/reference/demo_ref.h"
#include "tests/support/device_buffer.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

constexpr float kStep = 0x1p-6f;

class BlockReduceRun final : public PreparedCase {
 public:
  BlockReduceRun(int n, uint32_t seed, double tolerance)
      : n_(n),
        tolerance_(tolerance),
        x_(quantize(random_floats(n, seed), kStep)),
        dx_(x_),
        partials_(demo::block_reduce_blocks(n)),
        total_(1) {
    const int blocks = demo::block_reduce_blocks(n);
    double magnitude = 0;
    for (int b = 0; b < blocks; ++b) {
      want_.push_back(sum_ref(x_, size_t{256} * b, size_t{256} * (b + 1)));
      magnitude += std::fabs(want_.back());
    }
    want_.push_back(sum_ref(x_, 0, n));
    MVIT_CHECK(magnitude < 0x1p18,
               "block_reduce case: partials sum to %g in magnitude, beyond "
               "the 2^18 that keeps every sum exact (Note [exact sums])",
               magnitude);
    bytes = 4.0 * n + 4.0 * blocks + 8.0;
    flops = n;
  }

  void launch(Stream stream, int) override {
    MVIT_CUDA_CHECK(cudaMemsetAsync(total_.get(), 0, sizeof(float), stream));
    demo::block_reduce_forward({dx_.get(), partials_.get(), total_.get(), n_}, stream);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> got = partials_.download();
    got.push_back(total_.download()[0]);
    return compare(got, want_, tolerance_);
  }

 private:
  int n_;
  double tolerance_;
  std::vector<float> x_;
  std::vector<double> want_;
  DeviceBuffer<float> dx_, partials_, total_;
};

KernelCase make(const std::string& name, int n, uint32_t seed, bool demo = false) {
  return {"block_reduce", name, 0.0, demo,
          [=](int) { return std::make_unique<BlockReduceRun>(n, seed, 0.0); }};
}

}  // namespace

std::vector<KernelCase> block_reduce_cases() {
  return {
      make("n1", 1, 1),
      make("n256_one_full_block", 256, 2),
      make("n257_one_element_over", 257, 3),
      make("n100000_ragged_last_block", 100000, 7),
      make("n262144", 1 << 18, 1, /*demo=*/true),
      // 4096 blocks: about 2 s emulated, over a minute under ASan, so a `full` case (the "Full"
      // in its name, cmake/MvitTesting.cmake); on a GPU it is the size worth timing.
      make("n1048576_Full", 1 << 20, 1),
  };
}

}  // namespace test
}  // namespace mvit
