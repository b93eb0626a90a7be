// What the rest of the emulated runtime needs from streams.cpp: waiting for streams, and the
// checks stream capture imposes on other APIs (shared/reference/ecosystem.md section 4). Putting
// an operation on a stream is enqueue() in mvit_emu/device_ops.h.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>

namespace mvit {
namespace emu {

// Resolves a handle (0 and cudaStreamLegacy are the legacy stream); nullptr if unknown.
std::shared_ptr<CUstream_st> find_stream(cudaStream_t handle);
// Waits until everything queued so far on `s` has executed.
void drain(CUstream_st& s);
void drain_all();

// An API that is unsafe during capture (allocation) was called: invalidates the captures it
// conflicts with and returns cudaErrorStreamCaptureUnsupported, or cudaSuccess.
[[nodiscard]] cudaError_t check_unsafe_during_capture(const char* api);
// A synchronous legacy-stream operation was called: returns cudaErrorStreamCaptureImplicit (and
// invalidates) while a blocking stream is being captured.
[[nodiscard]] cudaError_t check_legacy_sync_during_capture(const char* api);

}  // namespace emu
}  // namespace mvit
