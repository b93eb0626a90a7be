// The asynchronous shared-memory copies of cuda_pipeline.h (__pipeline_memcpy_async,
// __pipeline_commit, __pipeline_wait_prior), the only part of that header the portable subset
// allows (shared/DESIGN.md section 6). The real header does not compile under g++, so its include
// guards are defined here and a kernel's `#include <cuda_pipeline.h>` finds these instead; its
// C++ interface (nvcuda::experimental::pipeline) stays undeclared. Included by emulator/prelude.h.
//
// Note [asynchronous copies land at the wait]
// On a GPU a copy may land at any time between __pipeline_memcpy_async and the
// __pipeline_wait_prior that covers its batch; reading the destination earlier, or from another
// thread without that wait and then a barrier, is a race. The emulator takes the latest moment:
// the source is read at the call (as the copy may already have started) and the destination is
// written only when the issuing thread's wait covers the batch, so until then it keeps its poison
// (NaN) and a missing wait shows as NaN. Each thread has its own sequence of batches, as on a GPU;
// __pipeline_commit closes the current batch (an empty one counts), __pipeline_wait_prior(n)
// completes all but the newest n committed batches (n above 8 counts as 8, as in the header), and
// copies not yet committed are not waited for. Checked, with the call's source line: size 4, 8 or
// 16, zfill <= size, both pointers aligned to the size. Not checked: that the destination is
// shared and the source global memory. Copies still pending when the block ends are dropped.
#pragma once

#include <cstddef>

#define _CUDA_PIPELINE_H_ 1
#define _CUDA_PIPELINE_PRIMITIVES_H_ 1
#define _CUDA_PIPELINE_HELPERS_H_ 1

namespace mvit {
namespace emu {
void pipeline_memcpy_async(void* dst, const void* src, size_t size, size_t zfill, const char* file,
                           int line);
void pipeline_commit();
void pipeline_wait_prior(size_t prior);
}  // namespace emu
}  // namespace mvit

inline void __pipeline_memcpy_async(void* dst_shared, const void* src_global, size_t size_and_align,
                                    size_t zfill = 0, const char* file = __builtin_FILE(),
                                    int line = __builtin_LINE()) {
  ::mvit::emu::pipeline_memcpy_async(dst_shared, src_global, size_and_align, zfill, file, line);
}
inline void __pipeline_commit() {
  ::mvit::emu::pipeline_commit();
}
inline void __pipeline_wait_prior(size_t prior) {
  ::mvit::emu::pipeline_wait_prior(prior);
}
