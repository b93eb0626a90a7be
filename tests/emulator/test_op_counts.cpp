// The emulator's operation counters (mvit::emu::op_counts, emu.h): kernels, cuBLAS GEMMs, cuDNN
// convolutions, copies and fills are counted when they execute, so capture counts nothing and
// each graph replay counts every node again; operations that never run count nothing.
#include <cublas_v2.h>
#include <cudnn.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/emulator/test_kernels.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

using OpCountsTest = DeviceFaultTest;

// Synchronizes and zeroes the counters: what a test counts starts here (its buffers' uploads
// and cublasCreate's own work come before).
void start_counting() {
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  emu::reset_op_counts();
}

// The count recorded under a name containing `part` (kernel names are demangled signatures);
// 0 if none. Fails the test if several names match.
uint64_t count_named(const std::string& part) {
  uint64_t found = 0;
  int matches = 0;
  for (const auto& entry : emu::op_counts_by_name()) {
    if (contains(entry.first, part)) {
      found = entry.second;
      ++matches;
    }
  }
  EXPECT_LE(matches, 1) << part;
  return found;
}

// Counts equal field by field (the message lists both).
void expect_counts(const emu::OpCounts& got, uint64_t kernels, uint64_t cublas, uint64_t cudnn,
                   uint64_t memcpys, uint64_t memsets) {
  EXPECT_EQ(got.kernel_launches, kernels);
  EXPECT_EQ(got.cublas_calls, cublas);
  EXPECT_EQ(got.cudnn_calls, cudnn);
  EXPECT_EQ(got.memcpys, memcpys);
  EXPECT_EQ(got.memsets, memsets);
  EXPECT_EQ(got.total(), kernels + cublas + cudnn + memcpys + memsets);
}

TEST_F(OpCountsTest, EachExecutedLaunchCountsOnce) {
  const int n = 200;
  DeviceBuffer<float> x(std::vector<float>(n, 1.0f)), y(n);
  start_counting();
  for (int i = 0; i < 7; ++i) scale_add(x.get(), y.get(), n, nullptr);
  for (int i = 0; i < 3; ++i) empty_kernel(dim3(2, 3), dim3(32), nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  expect_counts(emu::op_counts(), 10, 0, 0, 0, 0);
  EXPECT_EQ(count_named("scale_add_kernel"), 7u);
  EXPECT_EQ(count_named("empty_kernel_impl"), 3u);
}

TEST_F(OpCountsTest, ByNameIsSortedAndSumsToTheTotals) {
  const int n = 64;
  DeviceBuffer<float> x(std::vector<float>(n, 1.0f)), y(n);
  std::vector<float> host(n);
  start_counting();
  scale_add(x.get(), y.get(), n, nullptr);
  ASSERT_EQ(cudaMemcpy(host.data(), y.get(), n * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  ASSERT_EQ(cudaMemset(y.get(), 0, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const auto by_name = emu::op_counts_by_name();
  EXPECT_TRUE(std::is_sorted(by_name.begin(), by_name.end()));
  uint64_t sum = 0;
  for (const auto& entry : by_name) sum += entry.second;
  EXPECT_EQ(sum, emu::op_counts().total());
  EXPECT_EQ(count_named("cudaMemcpy"), 1u);
  EXPECT_EQ(count_named("cudaMemset"), 1u);
}

TEST_F(OpCountsTest, RejectedLaunchesCountNothing) {
  start_counting();
  // mvit::launch's launch check throws for each: an empty grid, then too many threads.
  EXPECT_THROW(empty_kernel(dim3(0), dim3(32), nullptr), mvit::Error);
  EXPECT_THROW(empty_kernel(dim3(1), dim3(2048), nullptr), mvit::Error);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  expect_counts(emu::op_counts(), 0, 0, 0, 0, 0);
  EXPECT_TRUE(emu::op_counts_by_name().empty());
}

TEST_F(OpCountsTest, CapturedGraphCountsAtEveryReplayAndNotAtCapture) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  const int n = 300;
  DeviceBuffer<float> x(std::vector<float>(n, 1.0f)), y(n), z(n), w(n);
  start_counting();
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  scale_add(x.get(), y.get(), n, s);
  scale_add(y.get(), z.get(), n, s);
  empty_kernel(dim3(1), dim3(64), s);
  ASSERT_EQ(cudaMemsetAsync(w.get(), 0, n * sizeof(float), s), cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  expect_counts(emu::op_counts(), 0, 0, 0, 0, 0);
  for (int replay = 0; replay < 2; ++replay) ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  expect_counts(emu::op_counts(), 6, 0, 0, 0, 2);
  EXPECT_EQ(count_named("scale_add_kernel"), 4u);
  EXPECT_EQ(count_named("empty_kernel_impl"), 2u);
  std::vector<float> host(n);
  ASSERT_EQ(cudaMemcpy(host.data(), z.get(), n * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(host[n - 1], 7.0f) << "the replays ran: (1 * 2 + 1) * 2 + 1";
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(OpCountsTest, CopiesAndFillsCountWhenTheyExecute) {
  const int n = 32;
  DeviceBuffer<float> d(n);
  std::vector<float> host(n, 3.0f);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  start_counting();
  {
    // Queued behind a closed gate: nothing has executed, so nothing is counted yet.
    StreamGate gate(s);
    ASSERT_EQ(cudaMemcpyAsync(d.get(), host.data(), n * sizeof(float), cudaMemcpyHostToDevice, s),
              cudaSuccess);
    ASSERT_EQ(cudaMemsetAsync(d.get(), 0, 4, s), cudaSuccess);
    ASSERT_EQ(cudaMemcpy2DAsync(host.data(), 8, d.get(), 8, 8, 4, cudaMemcpyDeviceToHost, s),
              cudaSuccess);
    ASSERT_EQ(cudaMemset2DAsync(d.get(), 16, 0, 8, 2, s), cudaSuccess);
    expect_counts(emu::op_counts(), 0, 0, 0, 0, 0);
    gate.open();
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  }
  expect_counts(emu::op_counts(), 0, 0, 0, 2, 2);
  EXPECT_EQ(count_named("cudaMemcpy2D"), 1u);
  EXPECT_EQ(count_named("cudaMemset2D"), 1u);
  // Zero-byte operations and rejected ones do no device work.
  EXPECT_EQ(cudaMemcpyAsync(d.get(), host.data(), 0, cudaMemcpyHostToDevice, s), cudaSuccess);
  EXPECT_EQ(cudaMemsetAsync(d.get(), 0, 0, s), cudaSuccess);
  EXPECT_EQ(cudaMemsetAsync(host.data(), 0, 4, s), cudaErrorInvalidValue);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  expect_counts(emu::op_counts(), 0, 0, 0, 2, 2);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(OpCountsTest, CublasGemmCountsOneCallAndAnEmptyGemmNone) {
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  const int m = 8, n = 4, k = 16;
  DeviceBuffer<float> a(std::vector<float>(m * k, 1.0f)), b(std::vector<float>(k * n, 2.0f)),
      c(m * n);
  const float alpha = 1.0f, beta = 0.0f;
  start_counting();
  ASSERT_EQ(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, a.get(), CUDA_R_32F, m,
                         b.get(), CUDA_R_32F, k, &beta, c.get(), CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 0, n, k, &alpha, a.get(), CUDA_R_32F, m,
                         b.get(), CUDA_R_32F, k, &beta, c.get(), CUDA_R_32F, m, CUBLAS_COMPUTE_32F,
                         CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  expect_counts(emu::op_counts(), 0, 1, 0, 0, 0);
  EXPECT_EQ(count_named("cublasGemmEx"), 1u);
  std::vector<float> host(m * n);
  ASSERT_EQ(cudaMemcpy(host.data(), c.get(), host.size() * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(host[0], 2.0f * k) << "the GEMM ran";
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}

TEST_F(OpCountsTest, CudnnConvolutionCountsOneCall) {
  cudnnHandle_t h = nullptr;
  ASSERT_EQ(cudnnCreate(&h), CUDNN_STATUS_SUCCESS);
  cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
  cudnnFilterDescriptor_t wd = nullptr;
  cudnnConvolutionDescriptor_t cd = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&xd), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateTensorDescriptor(&yd), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateFilterDescriptor(&wd), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateConvolutionDescriptor(&cd), CUDNN_STATUS_SUCCESS);
  const int c = 3, k = 2, hw = 4;  // a 1x1 convolution, NCHW fp32
  ASSERT_EQ(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, c, hw, hw),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, k, hw, hw),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, k, c, 1, 1),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(cd, 0, 0, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT),
            CUDNN_STATUS_SUCCESS);
  DeviceBuffer<float> x(std::vector<float>(c * hw * hw, 1.0f)), w(std::vector<float>(k * c, 0.5f)),
      y(k * hw * hw);
  const float alpha = 1.0f, beta = 0.0f;
  start_counting();
  ASSERT_EQ(cudnnConvolutionForward(h, &alpha, xd, x.get(), wd, w.get(), cd,
                                    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &beta, yd,
                                    y.get()),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  expect_counts(emu::op_counts(), 0, 0, 1, 0, 0);
  EXPECT_EQ(count_named("cudnnConvolutionForward"), 1u);
  std::vector<float> host(k * hw * hw);
  ASSERT_EQ(cudaMemcpy(host.data(), y.get(), host.size() * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(host[0], 1.5f) << "the convolution ran";
  cudnnDestroyConvolutionDescriptor(cd);
  cudnnDestroyFilterDescriptor(wd);
  cudnnDestroyTensorDescriptor(yd);
  cudnnDestroyTensorDescriptor(xd);
  EXPECT_EQ(cudnnDestroy(h), CUDNN_STATUS_SUCCESS);
}

TEST_F(OpCountsTest, ResetZeroesEverything) {
  const int n = 16;
  DeviceBuffer<float> x(std::vector<float>(n, 1.0f)), y(n);
  start_counting();
  scale_add(x.get(), y.get(), n, nullptr);
  ASSERT_EQ(cudaMemset(y.get(), 0, 4), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  ASSERT_EQ(emu::op_counts().total(), 2u);
  emu::reset_op_counts();
  expect_counts(emu::op_counts(), 0, 0, 0, 0, 0);
  EXPECT_TRUE(emu::op_counts_by_name().empty());
  scale_add(x.get(), y.get(), n, nullptr);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  expect_counts(emu::op_counts(), 1, 0, 0, 0, 0);
}

TEST_F(OpCountsTest, CountsFromSeveralStreamsAndHostThreads) {
  constexpr int kThreads = 4, kLaunches = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  start_counting();
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      cudaStream_t s;
      if (cudaStreamCreate(&s) != cudaSuccess) {
        ++failures;
        return;
      }
      for (int i = 0; i < kLaunches; ++i) empty_kernel(dim3(1), dim3(32), s);
      if (cudaStreamSynchronize(s) != cudaSuccess) ++failures;
      cudaStreamDestroy(s);
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(failures.load(), 0);
  expect_counts(emu::op_counts(), kThreads * kLaunches, 0, 0, 0, 0);
  EXPECT_EQ(count_named("empty_kernel_impl"), uint64_t{kThreads * kLaunches});
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
