// The engine's view of the device: memory, copies, streams, library handles and CUDA graphs,
// behind a CUDA-free header (runtime/ never includes a CUDA header outside device.cpp, so the
// engine's planning code reads as plain C++ and the fuzz preset's loader stays CUDA-free).
// Every function throws mvit::Error naming what it was doing and the runtime's description of
// the failure (MVIT_CUDA_CHECK), except the destroy functions, which log and never throw.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common/dtype.h"
#include "kernels/common/handles.h"
#include "mvit/stream.h"

struct CUgraphExec_st;
struct CUevent_st;

namespace mvit {
namespace device {

// Devices the runtime sees; 0 when there is no usable driver or device (the error is cleared).
int device_count();
// Makes `ordinal` the calling thread's current device; throws naming it and the count.
void set_device(int ordinal);
int current_device();
// 10 * major + minor of `ordinal`.
int compute_capability(int ordinal);

void* allocate(size_t bytes, const char* what);  // throws naming `what` and the size
void release(void* p) noexcept;

void copy_to_device(void* dst, const void* src, size_t bytes);             // synchronous
void copy_async(void* dst, const void* src, size_t bytes, Stream stream);  // any direction
void synchronize(Stream stream);

Stream create_stream();  // non-blocking with respect to the legacy default stream
void destroy_stream(Stream stream) noexcept;

// cuBLAS (default math and host pointer mode: exact fp32 unless a call asks for tf32) and, where
// the build links it, cuDNN; workspace left empty.
LibraryHandles create_handles();
void destroy_handles(LibraryHandles& h) noexcept;

// Stream capture into an instantiated graph. begin_capture uses the thread-local mode, so work
// other threads issue meanwhile neither joins nor invalidates the capture.
using GraphExec = CUgraphExec_st*;
void begin_capture(Stream stream);
GraphExec end_capture(Stream stream);  // ends, instantiates, and destroys the captured graph
void launch_graph(GraphExec graph, Stream stream);
void destroy_graph(GraphExec graph) noexcept;

// What `mvit bench` prints in its header. Clocks and bus width are 0 where the runtime does not
// report them (the emulator); peak_bandwidth() is then 0 too.
struct Facts {
  char name[256] = {0};
  int compute_capability = 0, multiprocessors = 0;
  int sm_clock_khz = 0, memory_clock_khz = 0, memory_bus_bits = 0;
  int driver_version = 0, runtime_version = 0, cublas_version = 0, cudnn_version = 0;
  double peak_bandwidth() const {  // bytes/s: 2 transfers per memory clock (DDR)
    return 2.0 * memory_clock_khz * 1e3 * memory_bus_bits / 8.0;
  }
};
Facts facts(int ordinal);

// Timing events (cudaEventDefault: timing enabled), for `mvit bench` and Context::profile.
using Event = CUevent_st*;
Event create_event();
void record_event(Event event, Stream stream);
void synchronize_event(Event event);
float elapsed_ms(Event start, Event end);  // both recorded and complete
void destroy_event(Event event) noexcept;

// Host conversion of fp32 values to `dtype` storage, rounding to nearest even (the CUDA headers'
// host conversions); `dst` holds n * dtype_size(dtype) bytes.
void convert_from_f32(const float* src, size_t n, DType dtype, void* dst);

}  // namespace device
}  // namespace mvit
