#include "tests/cases/registry.h"

#include "tests/cases/demo_cases.h"
#include "tests/cases/family_cases.h"

namespace mvit {
namespace test {

std::vector<KernelCase> all_kernel_cases() {
  std::vector<KernelCase> all;
  for (auto list :
       {block_reduce_cases, transpose_cases, softmax_rows_cases, wmma_gemm_cases,
        depthwise_conv_cases, gemm_epilogue_cases, conv3x3_cases, resize_cases,
        pool_classifier_cases, layernorm_cases, softmax_cases, attention_cases, to_nchw_cases}) {
    for (KernelCase& c : list()) all.push_back(std::move(c));
  }
  return all;
}

}  // namespace test
}  // namespace mvit
