// Every kernel case of the project, family by family (the demonstration kernels first): what
// mvit-kernel-bench runs.
#pragma once

#include <vector>

#include "tests/cases/kernel_case.h"

namespace mvit {
namespace test {

std::vector<KernelCase> all_kernel_cases();

}  // namespace test
}  // namespace mvit
