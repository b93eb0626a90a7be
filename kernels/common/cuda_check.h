// Checks for CUDA runtime and cuBLAS status codes; each throws mvit::Error naming the expression,
// the file and line, and the library's own description of the status. In the emulated build the
// message also carries the emulator's detail (kernel, block, thread, source line of the fault).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "kernels/common/check.h"

namespace mvit {
namespace detail {

// "cudaErrorInvalidValue (invalid argument)" plus, in the emulated build, the emulator's detail.
std::string cuda_error_text(cudaError_t status);
std::string cublas_error_text(cublasStatus_t status);

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* expr, const char* file,
                                   int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file,
                                     int line);

// The launch check that follows every kernel launch (mvit::launch calls it with the file and line
// of its own call, Note [launch call site] in launch.cuh): reports a launch error naming the kernel
// and that call site; when the environment sets MVIT_SYNC_LAUNCHES=1 it also synchronizes the
// stream (unless it is being captured) so that a fault during execution names the kernel that
// caused it.
void check_launch(const void* kernel, cudaStream_t stream, const char* file, int line);

// The kernel's name as the runtime knows it (demangled), for messages.
std::string kernel_name(const void* kernel);

}  // namespace detail

// 10 * major + minor of the current device, 0 if it cannot be queried (the error is cleared, so
// a `_supported` can ask without throwing). Not cached: the emulated tests change the reported
// capability at run time, and two cudaDeviceGetAttribute calls are the light query
// (cudaGetDeviceProperties fills the whole struct); their cost is unmeasured.
int current_compute_capability();

// What every library path checks of a caller's cuBLAS handle before using it: host pointer mode,
// and when fp32 inputs must not be rounded (f32 without tf32), a math mode that keeps them
// (CUBLAS_DEFAULT_MATH or CUBLAS_PEDANTIC_MATH). Throws mvit::Error whose message starts with
// `who` ("gemm_epilogue", "attention: impl cublas").
void check_cublas_modes(cublasHandle_t handle, bool exact_fp32, const char* who);

}  // namespace mvit

#define MVIT_CUDA_CHECK(expr)                                                    \
  do {                                                                           \
    const cudaError_t mvit_status_ = (expr);                                     \
    if (mvit_status_ != cudaSuccess) {                                           \
      ::mvit::detail::throw_cuda_error(mvit_status_, #expr, __FILE__, __LINE__); \
    }                                                                            \
  } while (0)

#define MVIT_CUBLAS_CHECK(expr)                                                    \
  do {                                                                             \
    const cublasStatus_t mvit_status_ = (expr);                                    \
    if (mvit_status_ != CUBLAS_STATUS_SUCCESS) {                                   \
      ::mvit::detail::throw_cublas_error(mvit_status_, #expr, __FILE__, __LINE__); \
    }                                                                              \
  } while (0)

// Log-only variants for destructors: print the same message to stderr, never throw.
#define MVIT_CUDA_CHECK_LOG(expr)                                               \
  do {                                                                          \
    const cudaError_t mvit_status_ = (expr);                                    \
    if (mvit_status_ != cudaSuccess) {                                          \
      ::mvit::detail::log_error(#expr, __FILE__, __LINE__,                      \
                                ::mvit::detail::cuda_error_text(mvit_status_)); \
    }                                                                           \
  } while (0)

#define MVIT_CUBLAS_CHECK_LOG(expr)                                               \
  do {                                                                            \
    const cublasStatus_t mvit_status_ = (expr);                                   \
    if (mvit_status_ != CUBLAS_STATUS_SUCCESS) {                                  \
      ::mvit::detail::log_error(#expr, __FILE__, __LINE__,                        \
                                ::mvit::detail::cublas_error_text(mvit_status_)); \
    }                                                                             \
  } while (0)
