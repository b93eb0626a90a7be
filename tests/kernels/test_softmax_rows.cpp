// kernels/demo/softmax_rows: the case list against the fp64 reference, and the argument checks
// (including a row too long for the device's shared memory).
#include "kernels/demo/softmax_rows.h"
#include "tests/cases/demo_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/support/error_text.h"

namespace mvit {
namespace test {
namespace {

using SoftmaxRowsTest = KernelCaseTest;
TEST_P(SoftmaxRowsTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, SoftmaxRowsTest, ::testing::ValuesIn(softmax_rows_cases()),
                         CaseName());

using SoftmaxRowsArgs = DeviceTest;
TEST_F(SoftmaxRowsArgs, RejectsRowsBeyondTheOptInSharedMemory) {
  float dummy = 0;
  EXPECT_FALSE(demo::softmax_rows_supported({&dummy, &dummy, 0, 4}));
  EXPECT_FALSE(demo::softmax_rows_supported({nullptr, &dummy, 1, 4}));
  EXPECT_TRUE(demo::softmax_rows_supported({&dummy, &dummy, 1, 4}));
  // 1M floats = 4 MiB: more shared memory than any GPU has per block.
  EXPECT_FALSE(demo::softmax_rows_supported({&dummy, &dummy, 1, 1 << 20}));
  const std::string e = error_text([&] {
    demo::softmax_rows_forward({&dummy, &dummy, 1, 1 << 20}, nullptr);
  });
  EXPECT_NE(e.find("opt-in limit per block"), std::string::npos) << e;
}

}  // namespace
}  // namespace test
}  // namespace mvit
