// State shared by the emulated CUDA runtime's translation units: errors, streams and capture.
#pragma once

#include <cuda_runtime_api.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mvit_emu/device_ops.h"

struct CUgraph_st {
  std::vector<std::function<void()>> ops;  // recorded in capture order
};
struct CUgraphExec_st {
  std::shared_ptr<const std::vector<std::function<void()>>> ops;
};

struct CUevent_st {
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t recorded = 0;   // generation of the most recent cudaEventRecord
  uint64_t completed = 0;  // highest generation whose record has executed
  double time_ms = 0;      // host clock when the most recent record executed
  bool timing = true;
};

namespace mvit {
namespace emu {

using Op = std::function<void()>;

struct StreamOp {
  Op fn;
  std::vector<std::pair<std::shared_ptr<CUstream_st>, uint64_t>> after_streams;  // implicit order
  std::shared_ptr<CUevent_st> after_event;  // cudaStreamWaitEvent
  uint64_t after_event_generation = 0;
};

struct Capture {
  bool active = false;
  bool invalidated = false;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id thread;
  std::unique_ptr<CUgraph_st> graph;
  std::string why_invalidated;
};

}  // namespace emu
}  // namespace mvit

struct CUstream_st {
  bool legacy = false;
  bool blocking =
      true;  // false for cudaStreamNonBlocking: no implicit order with the legacy stream
  std::mutex mutex;
  std::condition_variable cv_work, cv_done;
  std::deque<mvit::emu::StreamOp> queue;
  uint64_t enqueued = 0;
  uint64_t completed = 0;
  bool stop = false;
  std::thread worker;
  mvit::emu::Capture capture;  // guarded by the global capture mutex
};

namespace mvit {
namespace emu {

// ---- errors ----
// Records `status` as the calling thread's last error (cudaGetLastError), with a detail text.
cudaError_t fail_api(cudaError_t status, const std::string& detail);
// The sticky error of a device fault (cudaSuccess if none); every API then returns it.
cudaError_t sticky_error();
void set_sticky_error(cudaError_t status, const std::string& detail);
void clear_sticky_error();
cudaError_t set_last_error(cudaError_t status);  // returns status

// ---- streams ----
// Resolves a handle (0 and cudaStreamLegacy are the legacy stream); nullptr if unknown.
std::shared_ptr<CUstream_st> find_stream(cudaStream_t handle);
// Waits until everything queued so far on `s` has executed.
void drain(CUstream_st& s);
void drain_all();

// ---- capture (shared/reference/ecosystem.md section 4) ----
// An API that is unsafe during capture (allocation) was called: invalidates the captures it
// conflicts with and returns cudaErrorStreamCaptureUnsupported, or cudaSuccess.
cudaError_t check_unsafe_during_capture(const char* api);
// A synchronous legacy-stream operation was called: returns cudaErrorStreamCaptureImplicit (and
// invalidates) while a blocking stream is being captured.
cudaError_t check_legacy_sync_during_capture(const char* api);
bool any_capture_active();

}  // namespace emu
}  // namespace mvit
