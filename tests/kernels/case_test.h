// The parameterized fixture every kernel family's test instantiates over its case list:
//
//   using DepthwiseConvTest = KernelCaseTest;
//   TEST_P(DepthwiseConvTest, MatchesReference) { run_case(GetParam()); }
//   INSTANTIATE_TEST_SUITE_P(Cases, DepthwiseConvTest,
//                            ::testing::ValuesIn(depthwise_conv_cases()), CaseName());
//
// Runs on the emulator in the emulated build (under both thread orders, see
// cmake/MvitTesting.cmake) and on the GPU in the cuda build, skipping there without one.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/cases/kernel_case.h"
#include "tests/support/device_test.h"

namespace mvit {
namespace test {

class KernelCaseTest : public DeviceTestOf<::testing::TestWithParam<KernelCase>> {};

// Whether `part` occurs in `s`: the case-name and error-message checks of the family tests.
inline bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

struct CaseName {
  std::string operator()(const ::testing::TestParamInfo<KernelCase>& info) const {
    return info.param.name;
  }
};

// Prepares the case, launches it twice (a second launch must give the same outputs: benchmarks
// rely on it), asserts the dispatch the case expects, and checks the result against the reference
// with the case's tolerance; then the same for the baseline, if the case has one.
inline void run_case(const KernelCase& c) {
  std::unique_ptr<PreparedCase> run = c.prepare(1);
  run->launch(nullptr);
  run->launch(nullptr);
  if (!c.expect_impl.empty()) {
    EXPECT_EQ(std::string(run->dispatched.impl), c.expect_impl) << c << ": dispatch";
  }
  if (c.expect_vec != 0) {
    EXPECT_EQ(run->dispatched.vec, c.expect_vec) << c << ": vector width";
  }
  const Comparison r = run->check();
  EXPECT_TRUE(r.ok()) << c << ": " << r.describe();
  if (!run->baseline.empty()) {
    run->launch_baseline(nullptr);
    const Comparison b = run->check();
    EXPECT_TRUE(b.ok()) << c << " (baseline " << run->baseline << "): " << b.describe();
  }
}

}  // namespace test
}  // namespace mvit
