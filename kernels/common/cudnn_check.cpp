#include "kernels/common/cudnn_check.h"

namespace mvit {
namespace detail {
namespace {

// What each category of cudnnStatus_t means (cuDNN 9 groups the codes by thousands,
// CUDNN_STATUS_CATEGORY; paraphrased from the cudnnStatus_t reference).
const char* category_description(cudnnStatus_t status) {
  switch (CUDNN_STATUS_CATEGORY(static_cast<int>(status))) {
    case CUDNN_STATUS_SUCCESS:
      return "success";
    case CUDNN_STATUS_NOT_INITIALIZED:
      return status == CUDNN_STATUS_NOT_INITIALIZED
                 ? "the cuDNN library was not initialized properly"
                 : "the cuDNN installation, version or licence is not usable";
    case CUDNN_STATUS_BAD_PARAM:
      return "an incorrect value or parameter was passed to the function";
    case CUDNN_STATUS_NOT_SUPPORTED:
      return "the functionality requested is not presently supported by cuDNN";
    case CUDNN_STATUS_INTERNAL_ERROR:
      return "an internal cuDNN operation failed";
    case CUDNN_STATUS_EXECUTION_FAILED:
      return "the GPU program failed to execute";
    default:
      return "unknown status";
  }
}

}  // namespace

std::string cudnn_error_text(cudnnStatus_t status) {
  std::string s =
      std::string(cudnnGetErrorString(status)) + " (" + category_description(status) + ")";
  char last[1024] = {0};
  cudnnGetLastErrorString(last, sizeof last);
  if (last[0] != '\0') s += std::string(": ") + last;
  return s;
}

void throw_cudnn_error(cudnnStatus_t status, const char* expr, const char* file, int line) {
  throw_error(expr, file, line, cudnn_error_text(status));
}

void discard_cudnn_error_text() {
  // cuDNN 9 clears the text when it is read, also with no buffer (probed with 9.19).
  cudnnGetLastErrorString(nullptr, 0);
}

}  // namespace detail
}  // namespace mvit
