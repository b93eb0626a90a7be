#include "runtime/engine/device.h"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>

#include "kernels/common/cuda_check.h"
#if MVIT_HAVE_CUDNN
#include <cudnn.h>

#include "kernels/common/cudnn_check.h"
#endif

namespace mvit {
namespace device {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

void set_device(int ordinal) {
  const int n = device_count();
  MVIT_CHECK(ordinal >= 0 && ordinal < n,
             "device %d: expected an ordinal in [0, %d) (%d CUDA device%s visible)", ordinal, n, n,
             n == 1 ? "" : "s");
  MVIT_CUDA_CHECK(cudaSetDevice(ordinal));
}

int current_device() {
  int d = 0;
  MVIT_CUDA_CHECK(cudaGetDevice(&d));
  return d;
}

int compute_capability(int ordinal) {
  int major = 0, minor = 0;
  MVIT_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, ordinal));
  MVIT_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, ordinal));
  return 10 * major + minor;
}

void* allocate(size_t bytes, const char* what) {
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, bytes);
  MVIT_CHECK(status == cudaSuccess, "allocating %zu bytes of device memory for %s: %s", bytes, what,
             detail::cuda_error_text(status).c_str());
  return p;
}

void release(void* p) noexcept {
  if (p) MVIT_CUDA_CHECK_LOG(cudaFree(p));
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
  MVIT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void copy_async(void* dst, const void* src, size_t bytes, Stream stream) {
  MVIT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
}

void synchronize(Stream stream) {
  MVIT_CUDA_CHECK(cudaStreamSynchronize(stream));
}

Stream create_stream() {
  cudaStream_t s = nullptr;
  MVIT_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

void destroy_stream(Stream stream) noexcept {
  if (stream) MVIT_CUDA_CHECK_LOG(cudaStreamDestroy(stream));
}

Facts facts(int ordinal) {
  Facts f;
  cudaDeviceProp prop{};
  MVIT_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal));
  std::snprintf(f.name, sizeof f.name, "%s", prop.name);
  f.compute_capability = 10 * prop.major + prop.minor;
  f.multiprocessors = prop.multiProcessorCount;
#ifndef MVIT_EMULATED  // the emulator has no clocks to report
  MVIT_CUDA_CHECK(cudaDeviceGetAttribute(&f.sm_clock_khz, cudaDevAttrClockRate, ordinal));
  MVIT_CUDA_CHECK(cudaDeviceGetAttribute(&f.memory_clock_khz, cudaDevAttrMemoryClockRate, ordinal));
  MVIT_CUDA_CHECK(
      cudaDeviceGetAttribute(&f.memory_bus_bits, cudaDevAttrGlobalMemoryBusWidth, ordinal));
#endif
  MVIT_CUDA_CHECK(cudaDriverGetVersion(&f.driver_version));
  MVIT_CUDA_CHECK(cudaRuntimeGetVersion(&f.runtime_version));
  cublasHandle_t blas = nullptr;
  MVIT_CUBLAS_CHECK(cublasCreate(&blas));
  const cublasStatus_t st = cublasGetVersion(blas, &f.cublas_version);
  cublasDestroy(blas);
  MVIT_CUBLAS_CHECK(st);
#if MVIT_HAVE_CUDNN
  f.cudnn_version = static_cast<int>(cudnnGetVersion());
#endif
  return f;
}

Event create_event() {
  cudaEvent_t e = nullptr;
  MVIT_CUDA_CHECK(cudaEventCreate(&e));
  return e;
}

void record_event(Event event, Stream stream) {
  MVIT_CUDA_CHECK(cudaEventRecord(event, stream));
}

void synchronize_event(Event event) {
  MVIT_CUDA_CHECK(cudaEventSynchronize(event));
}

float elapsed_ms(Event start, Event end) {
  float ms = 0;
  MVIT_CUDA_CHECK(cudaEventElapsedTime(&ms, start, end));
  return ms;
}

void destroy_event(Event event) noexcept {
  if (event) MVIT_CUDA_CHECK_LOG(cudaEventDestroy(event));
}

LibraryHandles create_handles() {
  LibraryHandles h;
  cublasHandle_t blas = nullptr;
  MVIT_CUBLAS_CHECK(cublasCreate(&blas));
  h.cublas = blas;
#if MVIT_HAVE_CUDNN
  cudnnHandle_t dnn = nullptr;
  const cudnnStatus_t status = cudnnCreate(&dnn);
  if (status != CUDNN_STATUS_SUCCESS) {
    cublasDestroy(blas);
    MVIT_CUDNN_CHECK(status);
  }
  h.cudnn = dnn;
#endif
  return h;
}

void destroy_handles(LibraryHandles& h) noexcept {
#if MVIT_HAVE_CUDNN
  if (h.cudnn) {
    MVIT_CUDNN_CHECK_LOG(cudnnDestroy(h.cudnn));
  }
#endif
  if (h.cublas) {
    const cublasStatus_t status = cublasDestroy(h.cublas);
    if (status != CUBLAS_STATUS_SUCCESS) {
      detail::log_error("cublasDestroy(h.cublas)", __FILE__, __LINE__,
                        detail::cublas_error_text(status));
    }
  }
  h = LibraryHandles{};
}

void begin_capture(Stream stream) {
  MVIT_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
}

GraphExec end_capture(Stream stream) {
  cudaGraph_t graph = nullptr;
  MVIT_CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec = nullptr;
  const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
  MVIT_CUDA_CHECK_LOG(cudaGraphDestroy(graph));
  MVIT_CUDA_CHECK(status);
  return exec;
}

void launch_graph(GraphExec graph, Stream stream) {
  MVIT_CUDA_CHECK(cudaGraphLaunch(graph, stream));
}

void destroy_graph(GraphExec graph) noexcept {
  if (graph) MVIT_CUDA_CHECK_LOG(cudaGraphExecDestroy(graph));
}

void convert_from_f32(const float* src, size_t n, DType dtype, void* dst) {
  if (dtype == DType::kF32) {
    std::memcpy(dst, src, n * sizeof(float));
    return;
  }
  unsigned char* out = static_cast<unsigned char*>(dst);
  for (size_t i = 0; i < n; ++i) {
    if (dtype == DType::kF16) {
      const __half h = __float2half_rn(src[i]);
      std::memcpy(out + 2 * i, &h, 2);
    } else {
      const __nv_bfloat16 h = __float2bfloat16_rn(src[i]);
      std::memcpy(out + 2 * i, &h, 2);
    }
  }
}

}  // namespace device
}  // namespace mvit
