// mvit-demo: runs the demonstration kernels (block reduction, tiled transpose, row softmax with
// dynamic shared memory, WMMA GEMM) on the device (a GPU, or the CPU emulator in the emulated
// build), checks each against its CPU reference and prints a table. Exit status 0 when all match.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "kernels/demo/block_reduce.h"
#include "kernels/demo/reference.h"
#include "kernels/demo/softmax_rows.h"
#include "kernels/demo/transpose.h"
#include "kernels/demo/wmma_gemm.h"

namespace {

#if defined(MVIT_EMULATED)
constexpr bool kEmulated = true;
#else
constexpr bool kEmulated = false;
#endif

using mvit::demo::BlockReduceParams;

template <class T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) {
    MVIT_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr), count * sizeof(T)));
  }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
    MVIT_CUDA_CHECK(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() { MVIT_CUDA_CHECK_LOG(cudaFree(ptr)); }
  std::vector<T> download() const {
    std::vector<T> host(n);
    MVIT_CUDA_CHECK(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
};

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    m = std::fmax(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return std::isfinite(m) ? m : INFINITY;
}

using mvit::demo::random_floats;

struct Result {
  double error;
  double tolerance;
};

Result run_reduce() {
  const int n = 1 << 20;
  const std::vector<float> x = random_floats(n, 1, -1.0f, 1.0f);
  DeviceBuffer<float> dx(x), partials(mvit::demo::block_reduce_blocks(n)), total(1);
  MVIT_CUDA_CHECK(cudaMemset(total.ptr, 0, sizeof(float)));
  mvit::demo::block_reduce_forward(BlockReduceParams{dx.ptr, partials.ptr, total.ptr, n}, nullptr);
  const float got = total.download()[0];
  // fp32 accumulation in a nondeterministic order: allow 1e-6 relative to sum |x| ~ n / 2.
  return {std::fabs(got - mvit::demo::sum_ref(x, 0, n)), 1e-6 * n / 2};
}

Result run_transpose() {
  const int rows = 1000, cols = 777;  // ragged in both directions
  const std::vector<float> in = random_floats(static_cast<size_t>(rows) * cols, 2, -1, 1);
  DeviceBuffer<float> din(in), dout(in.size());
  mvit::demo::transpose_forward({din.ptr, dout.ptr, rows, cols}, nullptr);
  return {max_abs_diff(dout.download(), mvit::demo::transpose_ref(in, rows, cols)), 0.0};
}

Result run_softmax() {
  const int rows = 64, cols = 197;
  const std::vector<float> x = random_floats(static_cast<size_t>(rows) * cols, 3, -8, 8);
  DeviceBuffer<float> dx(x), dy(x.size());
  mvit::demo::softmax_rows_forward({dx.ptr, dy.ptr, rows, cols}, nullptr);
  return {max_abs_diff(dy.download(), mvit::demo::softmax_rows_ref(x, rows, cols)), 1e-6};
}

Result run_wmma() {
  const int m = 64, n = 48, k = 96;
  const std::vector<float> af = random_floats(static_cast<size_t>(m) * k, 4, -1, 1);
  const std::vector<float> bf = random_floats(static_cast<size_t>(k) * n, 5, -1, 1);
  std::vector<__half> a(af.size()), b(bf.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = __float2half(af[i]);
  for (size_t i = 0; i < b.size(); ++i) b[i] = __float2half(bf[i]);
  DeviceBuffer<__half> da(a), db(b);
  DeviceBuffer<float> dc(static_cast<size_t>(m) * n);
  mvit::demo::wmma_gemm_forward({da.ptr, db.ptr, dc.ptr, m, n, k}, nullptr);
  // Exact half products, fp32 accumulation of 96 terms of magnitude <= 1.
  return {max_abs_diff(dc.download(), mvit::demo::gemm_ref(a, b, m, n, k)), 1e-4};
}

}  // namespace

int main() {
  try {
    cudaDeviceProp prop;
    MVIT_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    std::printf("device: %s (compute capability %d.%d)\n\n", prop.name, prop.major, prop.minor);
    const std::pair<const char*, std::function<Result()>> cases[] = {
        {"block_reduce  sum of 2^20 floats (shuffles, atomics)", run_reduce},
        {"transpose     1000x777 via 32x33 shared tile", run_transpose},
        {"softmax_rows  64x197, dynamic shared memory", run_softmax},
        {"wmma_gemm     64x48x96, half in, fp32 accumulate", run_wmma},
    };
    int failed = 0;
    std::printf("%-56s %12s %10s %9s  %s\n", "kernel", "max |error|", "tolerance", "time ms", "");
    for (const auto& c : cases) {
      const auto t0 = std::chrono::steady_clock::now();
      const Result r = c.second();
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      const bool ok = r.error <= r.tolerance;
      failed += !ok;
      std::printf("%-56s %12.3g %10.3g %9.1f  %s\n", c.first, r.error, r.tolerance, ms,
                  ok ? "ok" : "MISMATCH");
    }
    std::printf("\n%d of %zu kernels match their CPU reference%s\n",
                static_cast<int>(std::size(cases)) - failed, std::size(cases),
                kEmulated ? " (emulated: times are CPU times)" : "");
    return failed == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mvit-demo: %s\n", e.what());
    return 2;
  }
}
