// The case lists of the demonstration kernels (kernels/demo/), one per family. Each feeds the
// family's test (tests/kernels/test_<family>.cpp, both builds), mvit-demo (the case marked demo)
// and the benchmark harness. Building a list touches no device; KernelCase::prepare does.
#pragma once

#include <vector>

#include "tests/cases/kernel_case.h"

namespace mvit {
namespace test {

std::vector<KernelCase> block_reduce_cases();
std::vector<KernelCase> transpose_cases();
std::vector<KernelCase> softmax_rows_cases();
std::vector<KernelCase> wmma_gemm_cases();

}  // namespace test
}  // namespace mvit
