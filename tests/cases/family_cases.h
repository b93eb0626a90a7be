// The case lists of the kernel families (kernels/<family>.{h,cu}), one per family. Each feeds the
// family's test (tests/kernels/test_<family>.cpp, both builds) and mvit-kernel-bench. Building a
// list touches no device; KernelCase::prepare does. Each list's source file states its tolerance
// reasoning and which cases are `Full` (slow; CI leaves them out).
#pragma once

#include <vector>

#include "tests/cases/kernel_case.h"

namespace mvit {
namespace test {

std::vector<KernelCase> depthwise_conv_cases();
std::vector<KernelCase> gemm_epilogue_cases();
std::vector<KernelCase> conv3x3_cases();
std::vector<KernelCase> resize_cases();
std::vector<KernelCase> pool_classifier_cases();
std::vector<KernelCase> layernorm_cases();
std::vector<KernelCase> softmax_cases();
std::vector<KernelCase> attention_cases();
std::vector<KernelCase> to_nchw_cases();

}  // namespace test
}  // namespace mvit
