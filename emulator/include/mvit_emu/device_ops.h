// Internal interface between the emulated CUDA runtime and the emulated libraries (cuBLAS, cuDNN):
// how a library call becomes an operation on a stream, and how it validates device pointers.
// Not for kernel code or the project's runtime.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <stdexcept>
#include <string>

namespace mvit {
namespace emu {

// Thrown by a stream operation that faults while executing (on a GPU: an asynchronous error such as
// an illegal address). The stream worker turns it into the device's sticky error, whose detail
// error_detail() returns.
class DeviceFault : public std::runtime_error {
 public:
  DeviceFault(cudaError_t status, const std::string& detail)
      : std::runtime_error(detail), status_(status) {}
  cudaError_t status() const { return status_; }

 private:
  cudaError_t status_;
};

// Puts `op` on `stream` (0 = the legacy default stream) after everything already queued there; it
// runs later on the stream's worker thread. While the stream is being captured, `op` is recorded
// into the graph instead. `api` names the call for error messages. Returns cudaSuccess, the sticky
// error, or a capture error (e.g. cudaErrorStreamCaptureImplicit for the legacy stream while
// another stream captures).
[[nodiscard]] cudaError_t enqueue(cudaStream_t stream, std::function<void()> op, const char* api);

// The kinds of operation op_counts() (mvit_emu/emu.h) counts.
enum class OpKind { kKernel, kCublas, kCudnn, kMemcpy, kMemset };

// Counts one operation as executed. Call it from the operation's body (the function given to
// enqueue), so that it counts when the operation runs, at every replay of a graph it was captured
// into, and never at capture. `kernel` is the kernel's address (named lazily, when
// op_counts_by_name() is read); `name` a string with static storage duration.
void count_kernel(const void* kernel);
void count_op(OpKind kind, const char* name);

// True when [ptr, ptr + bytes) lies inside one live allocation from cudaMalloc.
[[nodiscard]] bool is_device_range(const void* ptr, size_t bytes);

// Throws DeviceFault(cudaErrorIllegalAddress, "<api>: <what> [ptr, +bytes) is not inside one
// device allocation") unless is_device_range(ptr, bytes). Use inside stream operations.
void require_device_range(const void* ptr, size_t bytes, const char* api, const char* what);

// Records the detail text of a non-sticky error the calling API is about to return (shown by
// error_detail()).
void set_error_detail(cudaError_t status, const std::string& detail);

// Creates the runtime's lazily made state (the legacy stream) now. A library's handle create calls
// it, so that the runtime outlives an object holding a handle that is itself a static (the shared
// test handles): statics are destroyed in the reverse order of their construction, and destroying
// a handle synchronizes the device.
void ensure_runtime_started();

}  // namespace emu
}  // namespace mvit
