// kernels/demo/block_reduce: the case list against the fp64 reference, and the argument checks.
#include "kernels/demo/block_reduce.h"
#include "mvit/error.h"
#include "tests/cases/demo_cases.h"
#include "tests/kernels/case_test.h"

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
  try {
    demo::block_reduce_forward({&dummy, &dummy, &dummy, -3}, nullptr);
    FAIL() << "n = -3 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("block_reduce: n must be positive, got -3"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace test
}  // namespace mvit
