// The stream type of the public API and of every kernel header, without a CUDA header.
//
// mvit::Stream is exactly cudaStream_t (both are `CUstream_st*`), so a caller passes its own CUDA
// stream, or nullptr for the legacy default stream, with no cast; code that never includes a CUDA
// header (runtime/, the public headers) can still name and hold one.
#pragma once

struct CUstream_st;

namespace mvit {

using Stream = CUstream_st*;

}  // namespace mvit
