// The demonstration kernels on a real GPU, against the same CPU references as the emulated
// tests. Without a usable device every case skips and says why (no driver, no device).
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cmath>
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

class Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      GTEST_SKIP() << "no usable GPU: cudaGetDeviceCount returned " << cudaGetErrorName(e) << " ("
                   << cudaGetErrorString(e) << ")";
    }
    if (count == 0) GTEST_SKIP() << "no usable GPU: cudaGetDeviceCount found 0 devices";
  }
};

template <class T>
T* upload(const std::vector<T>& h) {
  T* d = nullptr;
  MVIT_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&d), h.size() * sizeof(T)));
  MVIT_CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

template <class T>
std::vector<T> download(const T* d, size_t n) {
  std::vector<T> h(n);
  MVIT_CUDA_CHECK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

using mvit::demo::random_floats;

TEST_F(Gpu, TransposeMatchesReference) {
  const int rows = 1000, cols = 777;
  const std::vector<float> in = random_floats(static_cast<size_t>(rows) * cols, 1);
  float* din = upload(in);
  float* dout = upload(std::vector<float>(in.size(), 0.0f));
  mvit::demo::transpose_forward({din, dout, rows, cols}, nullptr);
  EXPECT_EQ(download(dout, in.size()), mvit::demo::transpose_ref(in, rows, cols));
  cudaFree(din);
  cudaFree(dout);
}

TEST_F(Gpu, SoftmaxMatchesReference) {
  const int rows = 64, cols = 197;
  const std::vector<float> x = random_floats(static_cast<size_t>(rows) * cols, 2);
  float* dx = upload(x);
  float* dy = upload(std::vector<float>(x.size(), 0.0f));
  mvit::demo::softmax_rows_forward({dx, dy, rows, cols}, nullptr);
  const std::vector<float> got = download(dy, x.size());
  const std::vector<float> want = mvit::demo::softmax_rows_ref(x, rows, cols);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-6);
  cudaFree(dx);
  cudaFree(dy);
}

TEST_F(Gpu, BlockReduceMatchesReference) {
  const int n = 1 << 20;
  const std::vector<float> x = random_floats(n, 3);
  float* dx = upload(x);
  float* partials = upload(std::vector<float>(mvit::demo::block_reduce_blocks(n)));
  float* total = upload(std::vector<float>{0.0f});
  mvit::demo::block_reduce_forward({dx, partials, total, n}, nullptr);
  EXPECT_NEAR(download(total, 1)[0], mvit::demo::sum_ref(x, 0, n), 0.5);
  cudaFree(dx);
  cudaFree(partials);
  cudaFree(total);
}

TEST_F(Gpu, WmmaGemmMatchesReference) {
  const int m = 64, n = 48, k = 96;
  const std::vector<float> af = random_floats(m * k, 4), bf = random_floats(k * n, 5);
  std::vector<__half> a(af.size()), b(bf.size());
  for (size_t i = 0; i < a.size(); ++i) a[i] = __float2half(af[i]);
  for (size_t i = 0; i < b.size(); ++i) b[i] = __float2half(bf[i]);
  __half* da = upload(a);
  __half* db = upload(b);
  float* dc = upload(std::vector<float>(m * n, 0.0f));
  mvit::demo::wmma_gemm_forward({da, db, dc, m, n, k}, nullptr);
  const std::vector<float> got = download(dc, m * n), want = mvit::demo::gemm_ref(a, b, m, n, k);
  for (int i = 0; i < m * n; ++i) ASSERT_NEAR(got[i], want[i], 1e-3);
  cudaFree(da);
  cudaFree(db);
  cudaFree(dc);
}

}  // namespace
