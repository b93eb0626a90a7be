// LibraryHandles: the cuBLAS and cuDNN handles and the workspace a kernel family's library path
// uses. The caller (the Engine's Context, a test, the benchmark) owns them; a family's _forward
// sets the handle's stream to the stream it is given before each call. Plain C++: the handle types
// are the libraries' own opaque pointers (cublasHandle_t = cublasContext*, cudnnHandle_t =
// cudnnContext*), declared here without the libraries' headers.
#pragma once

#include <cstddef>

struct cublasContext;
struct cudnnContext;

namespace mvit {

struct LibraryHandles {
  cublasContext* cublas = nullptr;  // cublasHandle_t
  cudnnContext* cudnn = nullptr;    // cudnnHandle_t; null in a cuda build without cuDNN
  void* workspace = nullptr;        // device memory for cuDNN's algorithms, 256-byte aligned
  size_t workspace_bytes = 0;
};

// True when this build links cuDNN (always in the emulated build, which implements the subset the
// library calls; in the cuda build unless configured with MVIT_WITH_CUDNN=OFF).
bool cudnn_available();

}  // namespace mvit
