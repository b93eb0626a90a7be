// kernels/demo/block_reduce: the case list against the fp64 reference, and the argument checks.
#include "kernels/demo/block_reduce.h"
#include "tests/cases/demo_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/support/error_text.h"

namespace mvit {
namespace test {
namespace {

using BlockReduceTest = KernelCaseTest;
TEST_P(BlockReduceTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, BlockReduceTest, ::testing::ValuesIn(block_reduce_cases()),
                         CaseName());

TEST(BlockReduceArgs, RejectsEmptyInputAndNullPointers) {
  float dummy = 0;
  EXPECT_FALSE(demo::block_reduce_supported({&dummy, &dummy, &dummy, 0}));
  EXPECT_FALSE(demo::block_reduce_supported({nullptr, &dummy, &dummy, 4}));
  EXPECT_TRUE(demo::block_reduce_supported({&dummy, &dummy, &dummy, 1}));
  const std::string e = error_text([&] {
    demo::block_reduce_forward({&dummy, &dummy, &dummy, -3}, nullptr);
  });
  EXPECT_NE(e.find("block_reduce: n must be positive, got -3"), std::string::npos) << e;
}

}  // namespace
}  // namespace test
}  // namespace mvit
