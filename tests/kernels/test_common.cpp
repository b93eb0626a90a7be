// kernels/common: the warp and block reductions, the vector packs, DType, and the launch check's
// report of the calling file and line. Both builds (emulated: every thread order; cuda: on a GPU).

#include <algorithm>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/common/dtype.h"
#include "tests/kernels/common_test_kernels.h"
#include "tests/support/device_buffer.h"
#include "tests/support/device_test.h"
#include "tests/support/error_text.h"
#include "tests/support/random.h"
#include "tests/support/tolerance.h"

namespace mvit {
namespace test {
namespace {

using Reductions = DeviceTestOf<::testing::TestWithParam<int>>;

// Inputs are multiples of 2^-6 in [-1, 1]: every sum of up to 1024 of them is exact in fp32 in
// any order (Note [exact sums] in tests/cases/block_reduce_cases.cpp), so results compare equal.
TEST_P(Reductions, WarpAndBlockSumAndMaxReachEveryThread) {
  const int threads = GetParam();
  std::vector<float> x = quantize(random_floats(threads, threads), 0x1p-6f);
  x[threads / 3] = 7.5f;  // one clear maximum, away from warp 0's lane 0
  DeviceBuffer<float> dx(x), dout(4 * threads);
  reductions(dx.get(), dout.get(), threads, nullptr);
  const std::vector<float> out = dout.download();
  double block_sum = 0;
  for (float v : x) block_sum += v;
  const float block_max = *std::max_element(x.begin(), x.end());
  for (int t = 0; t < threads; ++t) {
    const int w = t / 32;
    double warp_sum = 0;
    for (int l = 0; l < 32; ++l) warp_sum += x[w * 32 + l];
    const float warp_max = *std::max_element(x.begin() + w * 32, x.begin() + w * 32 + 32);
    SCOPED_TRACE("thread " + std::to_string(t));
    ASSERT_EQ(out[t], static_cast<float>(warp_sum));
    ASSERT_EQ(out[threads + t], warp_max);
    ASSERT_EQ(out[2 * threads + t], static_cast<float>(block_sum));
    ASSERT_EQ(out[3 * threads + t], block_max);
  }
}
INSTANTIATE_TEST_SUITE_P(Threads, Reductions, ::testing::Values(32, 64, 256, 1024));

// Element i of raw storage of type t, as a float.
float element(const std::vector<unsigned char>& raw, size_t i, DType t) {
  const size_t es = dtype_size(t);
  return from_storage(
      t, std::vector<unsigned char>(raw.begin() + i * es, raw.begin() + (i + 1) * es))[0];
}

struct PackCase {
  DType in, out;
  int pack;
  int offset;  // elements: 0 keeps the pointers aligned to the pack, 1 misaligns them
};

std::string pack_case_name(const ::testing::TestParamInfo<PackCase>& info) {
  const PackCase& c = info.param;
  return std::string(dtype_name(c.in)) + "_to_" + dtype_name(c.out) + "_pack" +
         std::to_string(c.pack) + (c.offset ? "_misaligned" : "_aligned");
}

std::ostream& operator<<(std::ostream& os, const PackCase& c) {
  return os << dtype_name(c.in) << " -> " << dtype_name(c.out) << ", pack " << c.pack << ", offset "
            << c.offset;
}

std::vector<PackCase> pack_cases() {
  std::vector<PackCase> cases;
  for (DType in : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (DType out : {DType::kF32, DType::kF16, DType::kBF16}) {
      const int widest = 16 / static_cast<int>(std::max(dtype_size(in), dtype_size(out)));
      for (int pack = 1; pack <= widest; pack *= 2) {
        for (int offset : {0, 1}) {
          if (pack > 1 || offset == 0) cases.push_back({in, out, pack, offset});
        }
      }
    }
  }
  return cases;
}

using VectorPacks = DeviceTestOf<::testing::TestWithParam<PackCase>>;

// Every element arrives converted exactly as the host's round-to-nearest-even conversion does,
// through the wide access (aligned) and the scalar fallback (misaligned) alike.
TEST_P(VectorPacks, ConvertEveryElementWithRoundToNearestEven) {
  const PackCase c = GetParam();
  const int n = 1024;
  // Values with more mantissa bits than f16/bf16 keep, of both signs and varied magnitude.
  std::vector<float> x = random_floats(n, 17, -300.0f, 300.0f);
  for (int i = 0; i < n; i += 7) x[i] *= 1e-3f;
  const std::vector<unsigned char> in = to_storage(c.in, x);
  const size_t in_size = dtype_size(c.in), out_size = dtype_size(c.out);
  std::vector<unsigned char> padded_in((n + c.offset) * in_size, 0);
  std::copy(in.begin(), in.end(), padded_in.begin() + c.offset * in_size);
  DeviceBuffer<unsigned char> dx(padded_in), dy((n + c.offset) * out_size);
  convert_through_packs(dx.get() + c.offset * in_size, c.in, dy.get() + c.offset * out_size, c.out,
                        n, c.pack, nullptr);
  const std::vector<unsigned char> y = dy.download();
  const std::vector<unsigned char> want = to_storage(c.out, from_storage(c.in, in));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(std::memcmp(&y[(c.offset + i) * out_size], &want[i * out_size], out_size), 0)
        << "element " << i << ": got " << element(y, c.offset + i, c.out) << ", want "
        << element(want, i, c.out);
  }
}
INSTANTIATE_TEST_SUITE_P(Types, VectorPacks, ::testing::ValuesIn(pack_cases()), pack_case_name);

TEST(DTypeTest, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::kF32), 4u);
  EXPECT_EQ(dtype_size(DType::kF16), 2u);
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_STREQ(dtype_name(DType::kF32), "f32");
  EXPECT_STREQ(dtype_name(DType::kF16), "f16");
  EXPECT_STREQ(dtype_name(DType::kBF16), "bf16");
}

// The _LOG checks are for destructors: they print the same message as the throwing checks and go
// on.
TEST(CheckLog, LogVariantsPrintTheFailureAndDoNotThrow) {
  ::testing::internal::CaptureStderr();
  EXPECT_NO_THROW(MVIT_CUBLAS_CHECK_LOG(CUBLAS_STATUS_INVALID_VALUE));
  EXPECT_NO_THROW(MVIT_CUDA_CHECK_LOG(cudaErrorInvalidValue));
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("check `CUBLAS_STATUS_INVALID_VALUE` failed: CUBLAS_STATUS_INVALID_VALUE"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("check `cudaErrorInvalidValue` failed: cudaErrorInvalidValue"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("test_common.cpp:"), std::string::npos) << err;
}

// Note [launch call site] in kernels/common/launch.cuh: a failed launch names the line of the
// mvit::launch call in the launcher's own file, not the header that implements the check.
using LaunchCheck = DeviceTest;
TEST_F(LaunchCheck, AFailedLaunchNamesTheCallingFileAndLine) {
  int line = 0;
  const std::string message = error_text([&] { launch_oversized_block(&line, nullptr); });
  ASSERT_GT(line, 0);
  const std::string site = "tests/kernels/common_test_kernels.cu:" + std::to_string(line) + ": ";
  EXPECT_NE(message.find(site), std::string::npos) << "want " << site << " in: " << message;
  EXPECT_NE(message.find("launch of "), std::string::npos) << message;
  EXPECT_NE(message.find("empty_test_kernel"), std::string::npos) << message;
  EXPECT_EQ(message.find("launch.cuh"), std::string::npos) << message;
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the launch check consumes the launch error";
}

// Issue 12, item 6: NULL, an int literal for a float and a derived-class pointer for a base-class
// one pass through mvit::launch as through a direct call (this file does not compile otherwise).
TEST_F(LaunchCheck, ArgumentsConvertAsInADirectCall) {
  const LaunchDerived host{{1.5f}, 7.0f};
  DeviceBuffer<LaunchDerived> derived(std::vector<LaunchDerived>{host});
  DeviceBuffer<float> out(1);
  converting_launch(derived.get(), out.get(), nullptr);
  EXPECT_EQ(out.download()[0], 4.5f);
}

}  // namespace
}  // namespace test
}  // namespace mvit
