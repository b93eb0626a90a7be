#include "tests/support/library_handles.h"

#include <cublas_v2.h>

#include "kernels/common/cuda_check.h"
#include "tests/support/device_buffer.h"
#if MVIT_HAVE_CUDNN
#include <cudnn.h>

#include "kernels/common/cudnn_check.h"
#endif

namespace mvit {
namespace test {
namespace {

class Handles {
 public:
  Handles() : workspace_(kTestWorkspaceBytes) {
    MVIT_CUBLAS_CHECK(cublasCreate(&h_.cublas));
#if MVIT_HAVE_CUDNN
    MVIT_CUDNN_CHECK(cudnnCreate(&h_.cudnn));
#endif
    h_.workspace = workspace_.get();
    h_.workspace_bytes = workspace_.bytes();
  }
  ~Handles() {
#if MVIT_HAVE_CUDNN
    MVIT_CUDNN_CHECK_LOG(cudnnDestroy(h_.cudnn));
#endif
    MVIT_CUBLAS_CHECK_LOG(cublasDestroy(h_.cublas));
  }
  const LibraryHandles& get() const {
    return h_;
  }

 private:
  DeviceBuffer<unsigned char> workspace_;
  LibraryHandles h_;
};

}  // namespace

const LibraryHandles& test_handles() {
  static const Handles handles;
  return handles.get();
}

}  // namespace test
}  // namespace mvit
