// kernels/demo/wmma_gemm: the case list against the fp64 reference, and the argument checks.
#include "kernels/demo/wmma_gemm.h"
#include "tests/cases/demo_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/support/error_text.h"

namespace mvit {
namespace test {
namespace {

using WmmaGemmTest = KernelCaseTest;
TEST_P(WmmaGemmTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, WmmaGemmTest, ::testing::ValuesIn(wmma_gemm_cases()), CaseName());

TEST(WmmaGemmArgs, RejectsUnsupportedTypesShapesAndAlignment) {
  alignas(32) float buf[64];
  const void* p = buf;
  EXPECT_TRUE(demo::wmma_gemm_supported({p, p, buf, 16, 16, 16, DType::kF16}));
  EXPECT_FALSE(demo::wmma_gemm_supported({p, p, buf, 16, 16, 16, DType::kBF16}));
  EXPECT_FALSE(demo::wmma_gemm_supported({p, p, buf, 16, 24, 16, DType::kF16}));
  EXPECT_FALSE(demo::wmma_gemm_supported({buf + 1, p, buf, 16, 16, 16, DType::kF16}));
  const std::string e = error_text([&] {
    demo::wmma_gemm_forward({p, p, buf, 16, 16, 16, DType::kF32}, nullptr);
  });
  EXPECT_NE(e.find("dtype f32 is not supported (supported: f16)"), std::string::npos) << e;
}

}  // namespace
}  // namespace test
}  // namespace mvit
