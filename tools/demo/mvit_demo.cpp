// mvit-demo: runs one case of every kernel family (the demonstration kernels, and the MobileViT
// kernel families: depthwise conv, GEMM with fused epilogue, dense 3x3 conv, resize, pool +
// classifier) on the device (a GPU, or the CPU emulator in the emulated build), checks each
// against its CPU reference and prints a table. The cases are the ones marked `demo` in the
// families' case lists (tests/cases/), which the kernel tests also run, with the same tolerances.
// Exit status 0 when all match, 1 on a mismatch, 2 on an error.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "tests/cases/registry.h"

namespace {

#if defined(MVIT_EMULATED)
constexpr bool kEmulated = true;
#else
constexpr bool kEmulated = false;
#endif

std::vector<mvit::test::KernelCase> demo_cases() {
  std::vector<mvit::test::KernelCase> shown;
  for (mvit::test::KernelCase& c : mvit::test::all_kernel_cases()) {
    if (c.demo) shown.push_back(std::move(c));
  }
  return shown;
}

}  // namespace

int main() {
  try {
    cudaDeviceProp prop;
    MVIT_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s (compute capability %d.%d)\n\n", prop.name, prop.major, prop.minor);
    const std::vector<mvit::test::KernelCase> cases = demo_cases();
    int failed = 0;
    std::printf("%-15s %-34s %-22s %12s %10s %9s\n", "kernel", "case", "impl", "max error",
                "tolerance", "time ms");
    for (const mvit::test::KernelCase& c : cases) {
      std::unique_ptr<mvit::test::PreparedCase> run = c.prepare(1);
      const auto t0 = std::chrono::steady_clock::now();
      run->launch(nullptr);
      MVIT_CUDA_CHECK(cudaDeviceSynchronize());
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      const mvit::test::Comparison r = run->check();
      failed += !r.ok();
      const std::string impl = run->dispatched.impl[0] != '\0' ? run->dispatched.impl : "-";
      std::printf("%-15s %-34s %-22s %12.3g %10.3g %9.1f  %s\n", c.family.c_str(), c.name.c_str(),
                  impl.c_str(), r.max_error, r.tolerance, ms, r.ok() ? "ok" : "MISMATCH");
      if (!r.ok()) std::printf("  %s\n", r.describe().c_str());
    }
    std::printf("\n%zu of %zu kernels match their CPU reference%s\n", cases.size() - failed,
                cases.size(),
                kEmulated ? " (emulated: times are wall times of one launch on the CPU)"
                          : " (time: one launch, not warmed up)");
    return failed == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mvit-demo: %s\n", e.what());
    return 2;
  }
}
