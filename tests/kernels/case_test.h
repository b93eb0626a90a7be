// The parameterized fixture every kernel family's test instantiates over its case list:
//
//   using TransposeTest = KernelCaseTest;
//   TEST_P(TransposeTest, MatchesReference) { run_case(GetParam()); }
//   INSTANTIATE_TEST_SUITE_P(Cases, TransposeTest, ::testing::ValuesIn(transpose_cases()),
//                            CaseName());
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

struct CaseName {
  std::string operator()(const ::testing::TestParamInfo<KernelCase>& info) const {
    return info.param.name;
  }
};

// Prepares the case, launches it twice (a second launch must give the same outputs: benchmarks
// rely on it), and checks the result against the reference with the case's tolerance.
inline void run_case(const KernelCase& c) {
  std::unique_ptr<PreparedCase> run = c.prepare();
  run->launch(nullptr);
  run->launch(nullptr);
  const Comparison r = run->check();
  EXPECT_TRUE(r.ok()) << c << ": " << r.describe();
}

}  // namespace test
}  // namespace mvit
