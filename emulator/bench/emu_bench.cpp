// emu-bench: what the emulator costs, in CPU time (not a test; run by hand, numbers recorded in
// emulator/README.md).
//  1. One __syncthreads and one warp-shuffle step, for one block of 32, 256 and 1024 threads.
//     Each figure is (CPU time with N iterations - CPU time with 0) / N, median of 5 runs, so
//     launch overhead cancels (Note [cpu time]).
//  2. Workloads, in emulated GFLOP/s and seconds per GFLOP (the budget later issues plan with):
//     a 256^3 WMMA GEMM (fp16 in, fp32 accumulate), the same GEMM on SIMT cores (fp32, tiled
//     through shared memory), and a 1M-element axpy. Median of 5 runs, launch included; wall
//     and CPU time (Note [cpu time]).
// Prints Markdown tables.
//   build/emulated/emulator/bench/emu-bench [--sync-only | --work-only] [--filter=WMMA]  (-O2)
//   build/emulated-asan/emulator/bench/emu-bench ...                             (ASan + UBSan)
// For stable figures: MVIT_EMU_WORKERS=1 taskset -c 1 emu-bench
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/common/cuda_check.h"

namespace mvit {
namespace bench {
void barrier_loop(int threads, int iterations, int* sink);
void shuffle_loop(int threads, int iterations, int* sink);
void wmma_gemm(const __half* a, const __half* b, float* c, int n);
void simt_gemm(const float* a, const float* b, float* c, int n);
void axpy(float alpha, const float* x, float* y, int count);
}  // namespace bench
}  // namespace mvit

namespace {

struct Times {
  double wall, cpu;  // seconds; cpu: of the whole process (Note [cpu time])
};

// Note [cpu time]
// The build machines are shared: under load, wall time counts the time other processes hold the
// core. The process's CPU time does not, and with MVIT_EMU_WORKERS=1 only one thread works at a
// time (the caller and the stream thread sleep while a worker runs the grid), so it is the
// emulator's own cost. The barrier and shuffle figures use it; the workload table reports both,
// and its rates use CPU time. On an idle machine the two agree.
double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

Times timed(const std::function<void()>& run) {
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  run();
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
          cpu_seconds() - c0};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double per_step_us(void (*run)(int, int, int*), int threads, int iterations, int* sink) {
  std::vector<double> samples;
  for (int rep = 0; rep < 5; ++rep) {
    const double base = timed([&] { run(threads, 0, sink); }).cpu;
    samples.push_back((timed([&] { run(threads, iterations, sink); }).cpu - base) / iterations *
                      1e6);
  }
  return median(samples);
}

void sync_table() {
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
}

template <class T>
T* device_copy(const std::vector<T>& host) {
  T* p = nullptr;
  MVIT_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p), host.size() * sizeof(T)));
  MVIT_CUDA_CHECK(cudaMemcpy(p, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

const char* g_filter = "";  // --filter=TEXT: only the workloads whose name contains TEXT

// Returns whether the row ran (--filter).
bool work_row(const char* name, double flop, const std::function<void()>& run) {
  if (std::strstr(name, g_filter) == nullptr) return false;
  std::vector<double> wall, cpu;
  for (int rep = 0; rep < 5; ++rep) {
    const Times t = timed(run);
    wall.push_back(t.wall);
    cpu.push_back(t.cpu);
  }
  const double w = median(wall), c = median(cpu);
  std::printf("| %s | %.1f | %.1f | %.1f | %.3f | %.2f |\n", name, flop / 1e6, w * 1e3, c * 1e3,
              flop / c / 1e9, c / (flop / 1e9));
  return true;
}

// Spot-checks c = a * b (n x n, row-major) so that a broken fast path cannot post a fast time.
void check_gemm(const std::vector<float>& a, const std::vector<float>& b, const float* dc, int n) {
  std::vector<float> c(static_cast<size_t>(n) * n);
  MVIT_CUDA_CHECK(cudaMemcpy(c.data(), dc, c.size() * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; i += 37) {
    for (int j = 0; j < n; j += 41) {
      double want = 0;
      for (int k = 0; k < n; ++k) want += static_cast<double>(a[i * n + k]) * b[k * n + j];
      if (std::fabs(c[i * n + j] - want) > 1e-3 * (1 + std::fabs(want))) {
        std::fprintf(stderr, "emu-bench: wrong GEMM result at (%d, %d): %g, want %g\n", i, j,
                     c[i * n + j], want);
        std::exit(1);
      }
    }
  }
}

void work_table() {
  constexpr int n = 256;
  std::vector<float> af(n * n), bf(n * n);
  for (int i = 0; i < n * n; ++i) {
    // Small integers times 1/8: exact in fp16, so fp16 and fp32 GEMMs agree closely.
    af[i] = static_cast<float>((i * 7) % 9 - 4) / 8;
    bf[i] = static_cast<float>((i * 5) % 11 - 5) / 8;
  }
  std::vector<__half> ah(n * n), bh(n * n);
  for (int i = 0; i < n * n; ++i) ah[i] = __float2half(af[i]), bh[i] = __float2half(bf[i]);
  __half* da = device_copy(ah);
  __half* db = device_copy(bh);
  float* dfa = device_copy(af);
  float* dfb = device_copy(bf);
  float* dc = device_copy(std::vector<float>(n * n));
  constexpr int count = 1 << 20;
  float* x = device_copy(std::vector<float>(count, 1.0f));
  float* y = device_copy(std::vector<float>(count, 2.0f));
  const double gemm_flop = 2.0 * n * n * n;
  std::printf("| workload | MFLOP | wall (ms) | CPU (ms) | GFLOP/s (CPU) | s per GFLOP (CPU) |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  if (work_row("WMMA GEMM 256^3 (fp16 in, fp32 acc; 1 warp per 16x16 tile)", gemm_flop,
               [&] { mvit::bench::wmma_gemm(da, db, dc, n); })) {
    check_gemm(af, bf, dc, n);
  }
  if (work_row("SIMT GEMM 256^3 (fp32, 16x16 smem tiles)", gemm_flop,
               [&] { mvit::bench::simt_gemm(dfa, dfb, dc, n); })) {
    check_gemm(af, bf, dc, n);
  }
  work_row("axpy 2^20 elements (256 threads per block)", 2.0 * count,
           [&] { mvit::bench::axpy(0.5f, x, y, count); });
  for (void* p : {static_cast<void*>(da), static_cast<void*>(db), static_cast<void*>(dfa),
                  static_cast<void*>(dfb), static_cast<void*>(dc), static_cast<void*>(x),
                  static_cast<void*>(y)}) {
    MVIT_CUDA_CHECK(cudaFree(p));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool sync_only = false, work_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--sync-only") == 0) sync_only = true;
    if (std::strcmp(argv[i], "--work-only") == 0) work_only = true;
    if (std::strncmp(argv[i], "--filter=", 9) == 0) g_filter = argv[i] + 9;
  }
  if (!work_only) sync_table();
  if (!sync_only && !work_only) std::printf("\n");
  if (!sync_only) work_table();
  return 0;
}
