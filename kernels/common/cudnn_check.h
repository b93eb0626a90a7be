// MVIT_CUDNN_CHECK(expr): throws mvit::Error naming the expression, file and line, cuDNN's name of
// the status (cudnnGetErrorString) with a description of its category, and cuDNN's own text for
// the failure (cudnnGetLastErrorString), which for a bad argument says which one. A message left
// pending by an earlier, unchecked failure is discarded before `expr` runs, so the text is always
// this call's. MVIT_CUDNN_CHECK_LOG: the log-only variant for destructors. Only in builds that link
// cuDNN (MVIT_HAVE_CUDNN, kernels/CMakeLists.txt).
#pragma once

#include <cudnn.h>

#include <string>

#include "kernels/common/check.h"

namespace mvit {
namespace detail {

// "CUDNN_STATUS_BAD_PARAM (an incorrect value or parameter was passed to the function): <cuDNN's
// last error text>". Reading the last error text clears it.
std::string cudnn_error_text(cudnnStatus_t status);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* expr, const char* file,
                                    int line);
// Drops the calling thread's pending cudnnGetLastErrorString text.
void discard_cudnn_error_text();

}  // namespace detail
}  // namespace mvit

#define MVIT_CUDNN_CHECK(expr)                                                    \
  do {                                                                            \
    ::mvit::detail::discard_cudnn_error_text();                                   \
    const cudnnStatus_t mvit_status_ = (expr);                                    \
    if (mvit_status_ != CUDNN_STATUS_SUCCESS) {                                   \
      ::mvit::detail::throw_cudnn_error(mvit_status_, #expr, __FILE__, __LINE__); \
    }                                                                             \
  } while (0)

#define MVIT_CUDNN_CHECK_LOG(expr)                                               \
  do {                                                                           \
    ::mvit::detail::discard_cudnn_error_text();                                  \
    const cudnnStatus_t mvit_status_ = (expr);                                   \
    if (mvit_status_ != CUDNN_STATUS_SUCCESS) {                                  \
      ::mvit::detail::log_error(#expr, __FILE__, __LINE__,                       \
                                ::mvit::detail::cudnn_error_text(mvit_status_)); \
    }                                                                            \
  } while (0)
