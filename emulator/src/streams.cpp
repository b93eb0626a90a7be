// Streams, events, stream capture and graphs of the emulated CUDA runtime.
//
// Each stream owns a worker thread that executes its operations in order, asynchronously to the
// host, so a missing synchronization shows up in tests (MVIT_EMU_STREAM_DELAY_US makes it
// deterministic). The legacy default stream is ordered with every blocking stream in both
// directions, as on a GPU. After a device fault the sticky error is set and no further operation
// executes. A stream being captured records operations into a graph instead of running them.
#include "streams.h"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "error_state.h"
#include "kernels/common/check.h"
#include "mvit_emu/device_ops.h"
#include "mvit_emu/emu.h"

// The runtime's handle types (declared in driver_types.h); only this file looks inside them.
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

using detail::format;

namespace {

std::mutex g_streams_mutex;  // guards the registry and every stream's capture state
std::map<CUstream_st*, std::shared_ptr<CUstream_st>> g_streams;

std::mutex g_events_mutex;
std::map<CUevent_st*, std::shared_ptr<CUevent_st>> g_events;

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

void wait_completed(CUstream_st& s, uint64_t count) {
  std::unique_lock<std::mutex> lock(s.mutex);
  s.cv_done.wait(lock, [&] { return s.completed >= count; });
}

void run_op(StreamOp& op) {
  for (auto& dep : op.after_streams) wait_completed(*dep.first, dep.second);
  if (op.after_event) {
    // A faulted device never completes the record this waits for: poll the sticky error too.
    CUevent_st& e = *op.after_event;
    std::unique_lock<std::mutex> lock(e.mutex);
    while (e.completed < op.after_event_generation && sticky_error() == cudaSuccess) {
      e.cv.wait_for(lock, std::chrono::milliseconds(1));
    }
  }
  const int delay = config().stream_delay_us;
  if (delay > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay));
  if (sticky_error() != cudaSuccess) return;  // a faulted device executes nothing more
  try {
    op.fn();
  } catch (const DeviceFault& f) {
    set_sticky_error(f.status(), f.what());
  } catch (const std::exception& e) {
    set_sticky_error(cudaErrorLaunchFailure, e.what());
  }
}

void stream_loop(CUstream_st* s) {
  for (;;) {
    StreamOp op;
    {
      std::unique_lock<std::mutex> lock(s->mutex);
      s->cv_work.wait(lock, [&] { return s->stop || !s->queue.empty(); });
      if (s->queue.empty()) return;
      op = std::move(s->queue.front());
      s->queue.pop_front();
    }
    run_op(op);
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      ++s->completed;
    }
    s->cv_done.notify_all();
  }
}

std::shared_ptr<CUstream_st> make_stream(bool legacy, bool blocking) {
  auto s = std::make_shared<CUstream_st>();
  s->legacy = legacy;
  s->blocking = blocking;
  s->worker = std::thread(stream_loop, s.get());
  return s;
}

void stop_stream(CUstream_st& s) {
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.stop = true;
  }
  s.cv_work.notify_all();
  if (s.worker.joinable()) s.worker.join();
}

struct LegacyHolder {
  std::shared_ptr<CUstream_st> stream = make_stream(true, true);
  ~LegacyHolder() { stop_stream(*stream); }
};

std::shared_ptr<CUstream_st> legacy() {
  static LegacyHolder holder;
  return holder.stream;
}

void invalidate(CUstream_st& s, const std::string& why) {
  if (!s.capture.active || s.capture.invalidated) return;
  s.capture.invalidated = true;
  s.capture.why_invalidated = why;
}

// Implicit ordering with the legacy stream: what `s`'s next operation must wait for.
std::vector<std::pair<std::shared_ptr<CUstream_st>, uint64_t>> implicit_deps(CUstream_st& s) {
  std::vector<std::pair<std::shared_ptr<CUstream_st>, uint64_t>> deps;
  if (!s.blocking) return deps;
  auto snapshot = [](const std::shared_ptr<CUstream_st>& t) {
    std::lock_guard<std::mutex> lock(t->mutex);
    return std::make_pair(t, t->enqueued);
  };
  if (s.legacy) {
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    for (auto& entry : g_streams) {
      if (entry.second->blocking) deps.push_back(snapshot(entry.second));
    }
  } else {
    deps.push_back(snapshot(legacy()));
  }
  return deps;
}

void push(CUstream_st& s, StreamOp op) {
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.queue.push_back(std::move(op));
    ++s.enqueued;
  }
  s.cv_work.notify_one();
}

// Where an operation for `s` goes: the queue, the capture's graph, or nowhere (an error).
cudaError_t route(CUstream_st& s, Op& fn, const char* api, bool* recorded) {
  *recorded = false;
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  if (s.capture.active) {
    if (s.capture.invalidated) {
      return fail_api(cudaErrorStreamCaptureInvalidated,
                      format("%s on a stream whose capture was invalidated earlier: %s", api,
                             s.capture.why_invalidated.c_str()));
    }
    s.capture.graph->ops.push_back(std::move(fn));
    *recorded = true;
    return cudaSuccess;
  }
  if (s.legacy) {
    bool conflict = false;
    for (auto& entry : g_streams) {
      CUstream_st& t = *entry.second;
      if (t.capture.active && t.blocking) {
        invalidate(t, format("%s used the legacy stream, which would depend on the capture", api));
        conflict = true;
      }
    }
    if (conflict) {
      return fail_api(
          cudaErrorStreamCaptureImplicit,
          format("%s on the legacy stream while a blocking stream is being captured", api));
    }
  }
  return cudaSuccess;
}

bool any_capture_active() {
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  for (auto& entry : g_streams) {
    if (entry.second->capture.active) return true;
  }
  return false;
}

}  // namespace

std::shared_ptr<CUstream_st> find_stream(cudaStream_t handle) {
  if (handle == nullptr || handle == cudaStreamLegacy) return legacy();
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  auto it = g_streams.find(handle);
  return it == g_streams.end() ? nullptr : it->second;
}

void drain(CUstream_st& s) {
  uint64_t target;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    target = s.enqueued;
  }
  wait_completed(s, target);
}

void drain_all() {
  std::vector<std::shared_ptr<CUstream_st>> all{legacy()};
  {
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    for (auto& entry : g_streams) all.push_back(entry.second);
  }
  for (auto& s : all) drain(*s);
}

void ensure_runtime_started() {
  (void)legacy();
}

cudaError_t enqueue(cudaStream_t handle, std::function<void()> fn, const char* api) {
  if (sticky_error() != cudaSuccess) return sticky_error();
  if (handle == cudaStreamPerThread) {
    return fail_api(cudaErrorNotSupported,
                    format("%s: cudaStreamPerThread is not modelled by the emulator", api));
  }
  std::shared_ptr<CUstream_st> s = find_stream(handle);
  if (!s) {
    return fail_api(cudaErrorInvalidResourceHandle,
                    format("%s: stream %p is not a live stream", api, static_cast<void*>(handle)));
  }
  bool recorded = false;
  if (cudaError_t e = route(*s, fn, api, &recorded); e != cudaSuccess || recorded) return e;
  StreamOp op;
  op.fn = std::move(fn);
  op.after_streams = implicit_deps(*s);
  push(*s, std::move(op));
  return cudaSuccess;
}

cudaError_t check_unsafe_during_capture(const char* api) {
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  bool conflict = false;
  for (auto& entry : g_streams) {
    CUstream_st& s = *entry.second;
    if (!s.capture.active) continue;
    const bool applies = s.capture.mode == cudaStreamCaptureModeGlobal ||
                         (s.capture.mode == cudaStreamCaptureModeThreadLocal &&
                          s.capture.thread == std::this_thread::get_id());
    if (applies) {
      invalidate(s, format("%s was called during the capture", api));
      conflict = true;
    }
  }
  if (!conflict) return cudaSuccess;
  return fail_api(cudaErrorStreamCaptureUnsupported,
                  format("%s is not permitted while a stream is being captured "
                         "(cudaStreamCaptureModeGlobal/ThreadLocal); the capture is invalidated",
                         api));
}

cudaError_t check_legacy_sync_during_capture(const char* api) {
  Op nothing = [] {};
  bool recorded = false;
  return route(*legacy(), nothing, api, &recorded);
}

}  // namespace emu
}  // namespace mvit

using namespace mvit::emu;
using mvit::detail::format;

// ---- streams
// -------------------------------------------------------------------------------------

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if (stream == nullptr || (flags & ~cudaStreamNonBlocking) != 0) {
    return fail_api(cudaErrorInvalidValue, "cudaStreamCreateWithFlags: null output or bad flags");
  }
  if (cudaError_t e = sticky_error()) return e;
  auto s = make_stream(false, (flags & cudaStreamNonBlocking) == 0);
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  g_streams[s.get()] = s;
  *stream = s.get();
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  std::shared_ptr<CUstream_st> s;
  {
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    auto it = g_streams.find(stream);
    if (it == g_streams.end()) {
      return fail_api(cudaErrorInvalidResourceHandle,
                      format("cudaStreamDestroy: %p is not a stream created by cudaStreamCreate",
                             static_cast<void*>(stream)));
    }
    if (it->second->capture.active) {
      return fail_api(cudaErrorIllegalState, "cudaStreamDestroy: the stream is being captured");
    }
    s = it->second;
    g_streams.erase(it);
  }
  // The GPU finishes the stream's work after cudaStreamDestroy returns; the emulator waits here.
  drain(*s);
  stop_stream(*s);
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  std::shared_ptr<CUstream_st> s = find_stream(stream);
  if (!s) return fail_api(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: unknown stream");
  {
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    if (s->capture.active) {
      invalidate(*s, "cudaStreamSynchronize was called on the capturing stream");
      return fail_api(cudaErrorStreamCaptureUnsupported,
                      "cudaStreamSynchronize on a stream that is being captured");
    }
  }
  if (s->legacy) {
    if (cudaError_t e = check_legacy_sync_during_capture("cudaStreamSynchronize")) return e;
  }
  drain(*s);
  return sticky_error();
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  std::shared_ptr<CUstream_st> s = find_stream(stream);
  if (!s) return fail_api(cudaErrorInvalidResourceHandle, "cudaStreamQuery: unknown stream");
  {
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    if (s->capture.active) {
      invalidate(*s, "cudaStreamQuery was called on the capturing stream");
      return fail_api(cudaErrorStreamCaptureUnsupported, "cudaStreamQuery on a capturing stream");
    }
  }
  if (cudaError_t e = sticky_error()) return e;
  std::lock_guard<std::mutex> lock(s->mutex);
  return s->completed >= s->enqueued ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaDeviceSynchronize(void) {
  if (any_capture_active()) {
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    for (auto& entry : g_streams) invalidate(*entry.second, "cudaDeviceSynchronize was called");
    return fail_api(cudaErrorStreamCaptureUnsupported,
                    "cudaDeviceSynchronize while a stream is being captured");
  }
  drain_all();
  return sticky_error();
}

// ---- events
// --------------------------------------------------------------------------------------

static std::shared_ptr<CUevent_st> find_event(cudaEvent_t e) {
  std::lock_guard<std::mutex> lock(g_events_mutex);
  auto it = g_events.find(e);
  return it == g_events.end() ? nullptr : it->second;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  if (event == nullptr) return fail_api(cudaErrorInvalidValue, "cudaEventCreate: null output");
  auto e = std::make_shared<CUevent_st>();
  e->timing = (flags & cudaEventDisableTiming) == 0;
  std::lock_guard<std::mutex> lock(g_events_mutex);
  g_events[e.get()] = e;
  *event = e.get();
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  std::lock_guard<std::mutex> lock(g_events_mutex);
  if (g_events.erase(event) == 0) {
    return fail_api(cudaErrorInvalidResourceHandle, "cudaEventDestroy: unknown event");
  }
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  std::shared_ptr<CUevent_st> e = find_event(event);
  if (!e) return fail_api(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown event");
  std::shared_ptr<CUstream_st> s = find_stream(stream);
  if (s) {
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    if (s->capture.active) {
      return fail_api(cudaErrorNotSupported,
                      "cudaEventRecord during stream capture (event nodes) is not modelled by "
                      "the emulator");
    }
  }
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(e->mutex);
    generation = ++e->recorded;
  }
  return enqueue(
      stream,
      [e, generation] {
        {
          std::lock_guard<std::mutex> lock(e->mutex);
          if (generation >= e->completed) {
            e->completed = generation;
            e->time_ms = now_ms();
          }
        }
        e->cv.notify_all();
      },
      "cudaEventRecord");
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  std::shared_ptr<CUevent_st> e = find_event(event);
  if (!e) return fail_api(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: unknown event");
  std::unique_lock<std::mutex> lock(e->mutex);
  const uint64_t target = e->recorded;
  while (e->completed < target && sticky_error() == cudaSuccess) {
    e->cv.wait_for(lock, std::chrono::milliseconds(1));
  }
  return sticky_error();
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  std::shared_ptr<CUevent_st> e = find_event(event);
  if (!e) return fail_api(cudaErrorInvalidResourceHandle, "cudaEventQuery: unknown event");
  if (cudaError_t s = sticky_error()) return s;
  std::lock_guard<std::mutex> lock(e->mutex);
  return e->completed >= e->recorded ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  std::shared_ptr<CUevent_st> a = find_event(start), b = find_event(end);
  if (ms == nullptr || !a || !b) {
    return fail_api(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: unknown event");
  }
  std::scoped_lock lock(a->mutex, b->mutex);
  if (!a->timing || !b->timing || a->recorded == 0 || b->recorded == 0) {
    return fail_api(cudaErrorInvalidResourceHandle,
                    "cudaEventElapsedTime: an event was never recorded or has timing disabled");
  }
  if (a->completed < a->recorded || b->completed < b->recorded) return cudaErrorNotReady;
  *ms = static_cast<float>(b->time_ms - a->time_ms);
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
  std::shared_ptr<CUevent_st> e = find_event(event);
  std::shared_ptr<CUstream_st> s = find_stream(stream);
  if (!e || !s || flags != 0) {
    return fail_api(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: unknown stream or event");
  }
  {
    std::lock_guard<std::mutex> lock(g_streams_mutex);
    if (s->capture.active) {
      return fail_api(cudaErrorNotSupported,
                      "cudaStreamWaitEvent during capture (cross-stream capture) is not modelled");
    }
  }
  if (cudaError_t err = sticky_error()) return err;
  StreamOp op;
  op.fn = [] {};
  op.after_streams = implicit_deps(*s);
  op.after_event = e;
  {
    std::lock_guard<std::mutex> lock(e->mutex);
    op.after_event_generation = e->recorded;
  }
  push(*s, std::move(op));
  return cudaSuccess;
}

// ---- capture and graphs
// --------------------------------------------------------------------------

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode) {
  std::shared_ptr<CUstream_st> s = find_stream(stream);
  if (!s) return fail_api(cudaErrorInvalidResourceHandle, "cudaStreamBeginCapture: unknown stream");
  if (s->legacy) {
    return fail_api(cudaErrorStreamCaptureUnsupported,
                    "cudaStreamBeginCapture: the legacy default stream cannot be captured");
  }
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  if (s->capture.active) {
    return fail_api(cudaErrorIllegalState, "cudaStreamBeginCapture: already capturing");
  }
  s->capture = Capture{};
  s->capture.active = true;
  s->capture.mode = mode;
  s->capture.thread = std::this_thread::get_id();
  s->capture.graph = std::make_unique<CUgraph_st>();
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  std::shared_ptr<CUstream_st> s = find_stream(stream);
  if (!s || graph == nullptr) {
    return fail_api(cudaErrorInvalidValue, "cudaStreamEndCapture: unknown stream or null output");
  }
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  if (!s->capture.active) {
    return fail_api(cudaErrorIllegalState, "cudaStreamEndCapture: the stream is not capturing");
  }
  if (s->capture.mode != cudaStreamCaptureModeRelaxed &&
      s->capture.thread != std::this_thread::get_id()) {
    return fail_api(cudaErrorStreamCaptureWrongThread,
                    "cudaStreamEndCapture from a thread other than the one that began it");
  }
  Capture done = std::move(s->capture);
  s->capture = Capture{};
  if (done.invalidated) {
    *graph = nullptr;
    return fail_api(cudaErrorStreamCaptureInvalidated,
                    "cudaStreamEndCapture: the capture was invalidated: " + done.why_invalidated);
  }
  *graph = done.graph.release();
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, enum cudaStreamCaptureStatus* status) {
  std::shared_ptr<CUstream_st> s = find_stream(stream);
  if (!s || status == nullptr) {
    return fail_api(cudaErrorInvalidValue, "cudaStreamIsCapturing: unknown stream or null output");
  }
  std::lock_guard<std::mutex> lock(g_streams_mutex);
  *status = !s->capture.active       ? cudaStreamCaptureStatusNone
            : s->capture.invalidated ? cudaStreamCaptureStatusInvalidated
                                     : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                 unsigned long long flags) {
  if (exec == nullptr || graph == nullptr || flags != 0) {
    return fail_api(cudaErrorInvalidValue, "cudaGraphInstantiate: null argument or flags != 0");
  }
  auto* e = new CUgraphExec_st;
  e->ops = std::make_shared<const std::vector<std::function<void()>>>(graph->ops);
  *exec = e;
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return fail_api(cudaErrorInvalidValue, "cudaGraphLaunch: null graph exec");
  auto ops = exec->ops;
  return enqueue(
      stream,
      [ops] {
        for (const auto& op : *ops) op();
      },
      "cudaGraphLaunch");
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
