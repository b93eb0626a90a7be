// emu-bench: the emulator's cost of one __syncthreads and of one warp-shuffle step, for one block
// of 32, 256 and 1024 threads. Each figure is (time with N iterations - time with 0) / N, median
// of 5 runs, so launch overhead cancels. Prints a Markdown table.
//   build/emulated/emulator/bench/emu-bench        (plain, -O2)
//   build/emulated-asan/emulator/bench/emu-bench   (AddressSanitizer + UBSan)
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "kernels/common/cuda_check.h"

namespace mvit {
namespace bench {
void barrier_loop(int threads, int iterations, int* sink);
void shuffle_loop(int threads, int iterations, int* sink);
}  // namespace bench
}  // namespace mvit

namespace {

double seconds(void (*run)(int, int, int*), int threads, int iterations, int* sink) {
  const auto t0 = std::chrono::steady_clock::now();
  run(threads, iterations, sink);
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double per_step_us(void (*run)(int, int, int*), int threads, int iterations, int* sink) {
  std::vector<double> samples;
  for (int rep = 0; rep < 5; ++rep) {
    const double base = seconds(run, threads, 0, sink);
    samples.push_back((seconds(run, threads, iterations, sink) - base) / iterations * 1e6);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

int main() {
  int* sink = nullptr;
  MVIT_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&sink), sizeof(int)));
  std::printf("| threads per block | __syncthreads (us) | __shfl_xor_sync step (us) |\n");
  std::printf("|---:|---:|---:|\n");
  for (int threads : {32, 256, 1024}) {
    const int iterations = threads >= 1024 ? 200 : 2000;
    std::printf("| %d | %.2f | %.2f |\n", threads,
                per_step_us(mvit::bench::barrier_loop, threads, iterations, sink),
                per_step_us(mvit::bench::shuffle_loop, threads, iterations, sink));
  }
  MVIT_CUDA_CHECK(cudaFree(sink));
  return 0;
}
