// kernels/demo/transpose: the case list against the reference, and the argument checks.
#include "kernels/demo/transpose.h"
#include "tests/cases/demo_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/support/error_text.h"

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
  const std::string e = error_text([&] {
    demo::transpose_forward({&dummy, &dummy, 3, -1}, nullptr);
  });
  EXPECT_NE(e.find("transpose: shape must be positive, got 3 x -1"), std::string::npos) << e;
}

}  // namespace
}  // namespace test
}  // namespace mvit
