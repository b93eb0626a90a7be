// kernels/demo/transpose: the case list against the reference, and the argument checks.
#include "kernels/demo/transpose.h"
#include "mvit/error.h"
#include "tests/cases/demo_cases.h"
#include "tests/kernels/case_test.h"

namespace mvit {
namespace test {
namespace {

using TransposeTest = KernelCaseTest;
TEST_P(TransposeTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, TransposeTest, ::testing::ValuesIn(transpose_cases()), CaseName());

TEST(TransposeArgs, RejectsEmptyOversizedAndNull) {
  float dummy = 0;
  EXPECT_FALSE(demo::transpose_supported({&dummy, &dummy, 0, 5}));
  EXPECT_FALSE(demo::transpose_supported({&dummy, &dummy, 65536, 65536}));
  EXPECT_FALSE(demo::transpose_supported({&dummy, nullptr, 2, 2}));
  EXPECT_TRUE(demo::transpose_supported({&dummy, &dummy, 1, 1}));
  EXPECT_THROW(demo::transpose_forward({&dummy, &dummy, 3, -1}, nullptr), Error);
}

}  // namespace
}  // namespace test
}  // namespace mvit
