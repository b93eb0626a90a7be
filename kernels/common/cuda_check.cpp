#include "kernels/common/cuda_check.h"

#include <cxxabi.h>

#include <cstdlib>
#include <cstring>

#if defined(MVIT_EMULATED)
#include "mvit_emu/emu.h"
#endif

namespace mvit {
namespace detail {

std::string cuda_error_text(cudaError_t status) {
  std::string s = format("%s (%s)", cudaGetErrorName(status), cudaGetErrorString(status));
#if defined(MVIT_EMULATED)
  const std::string detail = ::mvit::emu::error_detail(status);
  if (!detail.empty()) s += ": " + detail;
#endif
  return s;
}

std::string cublas_error_text(cublasStatus_t status) {
  return format("%s (%s)", cublasGetStatusName(status), cublasGetStatusString(status));
}

void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line) {
  throw_error(expr, file, line, cuda_error_text(status));
}

void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line) {
  throw_error(expr, file, line, cublas_error_text(status));
}

std::string kernel_name(const void* kernel) {
  const char* name = nullptr;
  if (cudaFuncGetName(&name, kernel) == cudaSuccess && name != nullptr) {
    int demangle_status = 0;
    char* demangled = abi::__cxa_demangle(name, nullptr, nullptr, &demangle_status);
    if (demangled == nullptr) return name;
    std::string s(demangled);
    std::free(demangled);
    return s;
  }
  cudaGetLastError();
  return format("kernel at %p", kernel);
}

static bool sync_launches() {
  static const bool on = [] {
    const char* v = std::getenv("MVIT_SYNC_LAUNCHES");
    return v != nullptr && std::strcmp(v, "0") != 0 && v[0] != '\0';
  }();
  return on;
}

void check_launch(const void* kernel, cudaStream_t stream, const char* file, int line) {
  cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess && sync_launches()) {
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    status = cudaStreamIsCapturing(stream, &capture);
    if (status == cudaSuccess && capture == cudaStreamCaptureStatusNone) {
      status = cudaStreamSynchronize(stream);
    }
  }
  if (status != cudaSuccess) {
    throw_error(nullptr, file, line,
                format("launch of %s failed: %s", kernel_name(kernel).c_str(),
                       cuda_error_text(status).c_str()));
  }
}

}  // namespace detail
int current_compute_capability() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return 10 * major + minor;
}

void check_cublas_modes(cublasHandle_t handle, bool exact_fp32, const char* who) {
  cublasPointerMode_t pointer_mode;
  MVIT_CUBLAS_CHECK(cublasGetPointerMode(handle, &pointer_mode));
  MVIT_CHECK(pointer_mode == CUBLAS_POINTER_MODE_HOST,
             "%s: handles.cublas must be in CUBLAS_POINTER_MODE_HOST", who);
  cublasMath_t math;
  MVIT_CUBLAS_CHECK(cublasGetMathMode(handle, &math));
  const int base =
      static_cast<int>(math) & ~static_cast<int>(CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
  MVIT_CHECK(!exact_fp32 || base == CUBLAS_DEFAULT_MATH || base == CUBLAS_PEDANTIC_MATH,
             "%s: handles.cublas math mode %d rounds fp32 inputs; f32 without allow_tf32 needs "
             "CUBLAS_DEFAULT_MATH or CUBLAS_PEDANTIC_MATH",
             who, static_cast<int>(math));
}

}  // namespace mvit
