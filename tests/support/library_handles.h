// The cuBLAS and cuDNN handles (and a cuDNN workspace) that tests and benchmarks pass to the
// kernel families' library paths: created once per process on first use, destroyed at exit.
#pragma once

#include "kernels/common/handles.h"

namespace mvit {
namespace test {

// Workspace of the shared handles: enough for the cuDNN algorithms the conv families pick at the
// case lists' largest shapes (IMPLICIT_PRECOMP_GEMM needs a few MiB there).
constexpr size_t kTestWorkspaceBytes = size_t{64} << 20;

// Throws mvit::Error if a handle cannot be created (no device). `cudnn` is null where the build
// has no cuDNN (cudnn_available()).
const LibraryHandles& test_handles();

}  // namespace test
}  // namespace mvit
