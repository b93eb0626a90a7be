// The block scheduler and the worker pool.
//
// Note [strict scheduling]
// A block's threads are persistent fibers. The scheduler resumes every ready thread in the chosen
// order (forward, reverse, seeded random) until it blocks at a barrier or a warp collective, or
// exits. A block barrier releases when every thread of the block waits at it; a warp collective
// completes when every lane of its mask has arrived with the same mask and operation. Whatever
// cannot complete is an error, reported in compute-sanitizer's terms and naming the kernel, block,
// thread and source line: threads waiting at different barriers, a thread that exited while
// others wait, a mask that omits the caller or names absent or exited lanes, lanes that wait for
// each other at different collectives (deadlock). Nothing relies on lock-step execution: lanes of
// a warp exchange data only through collectives.
#include "scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "fiber.h"
#include "mvit_emu/device.h"
#include "kernels/common/error.h"

namespace mvit {
namespace emu {

__thread ThreadInfo* t_thread = nullptr;
__thread const BlockInfo* t_block = nullptr;

namespace {

using detail::format;

constexpr size_t kStaticSharedLimit = 48 * 1024;  // CUDA's limit on static __shared__ per block

struct FiberAbort {};  // unwinds a fiber's kernel frames when its launch is aborted

enum class State : uint8_t { kReady, kBarrier, kWarp, kDone };

struct Slot {
  ThreadInfo info;
  State state = State::kReady;
  bool started = false;
  Fiber* fiber = nullptr;
  // Block barrier.
  const char* file = nullptr;
  int line = 0;
  BarrierKind kind = BarrierKind::kSync;
  int pred = 0;
  int barrier_result = 0;
  // Warp collective.
  WarpOp op = WarpOp::kSyncwarp;
  unsigned mask = 0;
  uint64_t value = 0;
  int param = 0;
  int width = 32;
  uint64_t result = 0;
  uint64_t gathered[32];
};

struct WarpGroup {
  unsigned mask;
  unsigned arrived;
  WarpOp op;
  const char* file;
  int line;
};

struct SharedBuf {
  unsigned char* ptr = nullptr;
  size_t bytes = 0;
  uint64_t serial = 0;
};

struct SiteInfo {
  const char* name;
  const char* file;
  int line;
  size_t bytes;
};

std::mutex g_sites_mutex;
std::vector<SiteInfo> g_sites;
std::atomic<uint64_t> g_block_serial{0};

struct BlockRun {
  GridRun* grid = nullptr;
  BlockInfo info;
  uint64_t serial = 0;
  unsigned n = 0;
  std::vector<Slot> slots;
  std::vector<unsigned> order;
  std::vector<std::vector<WarpGroup>> groups;  // per warp: collectives in progress
  std::vector<unsigned> present;               // per warp: lanes that exist
  std::vector<unsigned> exited;                // per warp: lanes that have exited
  unsigned alive = 0;
  unsigned at_barrier = 0;
  const Slot* barrier_first = nullptr;
  bool aborting = false;
  size_t static_shared = 0;
  Slot* current = nullptr;
};

void free_shared(unsigned char* p) { ::operator delete(p, std::align_val_t{16}); }

// Per OS worker thread: the fibers, the shared-memory objects and the block being run.
struct Worker {
  std::vector<std::unique_ptr<Fiber>> fibers;
  std::vector<SharedBuf> shared;  // indexed by site
  SharedBuf dynamic;
  BlockRun block;
  ~Worker() {
    for (SharedBuf& b : shared) free_shared(b.ptr);
    free_shared(dynamic.ptr);
  }
};

Worker& worker() {
  thread_local Worker w;
  return w;
}

std::string dim_text(unsigned x, unsigned y, unsigned z) { return format("(%u,%u,%u)", x, y, z); }

std::string where(const BlockRun& b, const Slot* s) {
  std::string text = format("kernel %s, block %s", symbol_name(b.grid->launch->kernel).c_str(),
                            dim_text(b.info.block_idx.x, b.info.block_idx.y, b.info.block_idx.z)
                                .c_str());
  if (s != nullptr) {
    text += format(", thread %s", dim_text(s->info.thread_idx.x, s->info.thread_idx.y,
                                           s->info.thread_idx.z)
                                      .c_str());
  }
  return text;
}

// Records the launch's first error and marks the block as aborting.
void record_error(BlockRun& b, const Slot* s, const std::string& what) {
  b.aborting = true;
  GridRun& g = *b.grid;
  std::lock_guard<std::mutex> lock(g.error_mutex);
  if (g.error.empty()) g.error = what + " (" + where(b, s) + ")";
  g.failed = true;
}

// From inside a fiber: report and unwind this thread.
[[noreturn]] void fail(const std::string& what) {
  BlockRun& b = worker().block;
  record_error(b, b.current, what);
  throw FiberAbort{};
}

std::string site(const char* file, int line) { return format("%s:%d", file, line); }

const char* barrier_name(BarrierKind k) {
  switch (k) {
    case BarrierKind::kSync: return "__syncthreads";
    case BarrierKind::kCount: return "__syncthreads_count";
    case BarrierKind::kAnd: return "__syncthreads_and";
    case BarrierKind::kOr: return "__syncthreads_or";
  }
  return "?";
}

// Back to the scheduler; on return, unwind if the launch was aborted meanwhile.
void wait_in_scheduler(Slot& s) {
  s.fiber->yield();
  if (worker().block.aborting) throw FiberAbort{};
}

void thread_main(void* arg) {
  Slot& s = *static_cast<Slot*>(arg);
  BlockRun& b = worker().block;
  try {
    b.grid->launch->run_thread();
  } catch (const FiberAbort&) {
  } catch (const std::exception& e) {
    record_error(b, &s, format("exception thrown in kernel code: %s", e.what()));
  } catch (...) {
    record_error(b, &s, "unknown exception thrown in kernel code");
  }
  s.state = State::kDone;
  --b.alive;
  b.exited[s.info.warp] |= 1u << s.info.lane;
  if (b.aborting) return;
  for (const WarpGroup& g : b.groups[s.info.warp]) {
    if (g.mask & (1u << s.info.lane)) {
      record_error(b, &s,
                   format("Divergent thread(s) in warp: lane %u exited while lanes 0x%08x wait "
                          "for it in %s (mask 0x%08x) at %s",
                          s.info.lane, g.arrived, to_string(g.op), g.mask,
                          site(g.file, g.line).c_str()));
      return;
    }
  }
}

std::vector<unsigned> make_order(unsigned n, ThreadOrder order, uint64_t seed, uint64_t block) {
  std::vector<unsigned> v(n);
  for (unsigned i = 0; i < n; ++i) v[i] = i;
  if (order == ThreadOrder::kReverse) std::reverse(v.begin(), v.end());
  if (order == ThreadOrder::kRandom) {
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + block);
    std::shuffle(v.begin(), v.end(), rng);
  }
  return v;
}

void setup_block(Worker& w, GridRun& g, uint64_t linear) {
  BlockRun& b = w.block;
  const KernelLaunch& l = *g.launch;
  b.grid = &g;
  b.info.grid_dim = l.grid;
  b.info.block_dim = l.block;
  b.info.block_idx.x = static_cast<unsigned>(linear % l.grid.x);
  b.info.block_idx.y = static_cast<unsigned>((linear / l.grid.x) % l.grid.y);
  b.info.block_idx.z = static_cast<unsigned>(linear / (static_cast<uint64_t>(l.grid.x) * l.grid.y));
  b.serial = ++g_block_serial;
  b.n = l.block.x * l.block.y * l.block.z;
  const unsigned warps = (b.n + 31) / 32;
  b.slots.resize(b.n);
  b.groups.assign(warps, {});
  b.present.assign(warps, 0);
  b.exited.assign(warps, 0);
  while (w.fibers.size() < b.n) {
    w.fibers.push_back(std::make_unique<Fiber>(Fiber::default_stack_bytes()));
  }
  for (unsigned i = 0; i < b.n; ++i) {
    Slot& s = b.slots[i];
    s.info.thread_idx.x = i % l.block.x;
    s.info.thread_idx.y = (i / l.block.x) % l.block.y;
    s.info.thread_idx.z = i / (l.block.x * l.block.y);
    s.info.linear = i;
    s.info.lane = i % 32;
    s.info.warp = i / 32;
    s.state = State::kReady;
    s.started = false;
    s.fiber = w.fibers[i].get();
    b.present[i / 32] |= 1u << (i % 32);
  }
  b.order = make_order(b.n, g.order, g.seed, linear);
  b.alive = b.n;
  b.at_barrier = 0;
  b.barrier_first = nullptr;
  b.aborting = false;
  b.static_shared = 0;
}

void resume(BlockRun& b, Slot& s) {
  if (!s.started) {
    s.fiber->start(&thread_main, &s);
    s.started = true;
  }
  t_thread = &s.info;
  b.current = &s;
  s.fiber->resume();
  b.current = nullptr;
}

void release_barrier(BlockRun& b) {
  int count = 0;
  for (const Slot& s : b.slots) {
    if (s.state == State::kBarrier) count += s.pred;
  }
  int result = count;
  if (b.barrier_first->kind == BarrierKind::kAnd) result = count == static_cast<int>(b.at_barrier);
  if (b.barrier_first->kind == BarrierKind::kOr) result = count != 0;
  for (Slot& s : b.slots) {
    if (s.state != State::kBarrier) continue;
    s.barrier_result = result;
    s.state = State::kReady;
  }
  b.at_barrier = 0;
  b.barrier_first = nullptr;
}

std::string describe_waiters(const BlockRun& b) {
  std::string text;
  int listed = 0;
  for (const Slot& s : b.slots) {
    if (s.state != State::kBarrier && s.state != State::kWarp) continue;
    if (++listed > 4) {
      text += "; ...";
      break;
    }
    text += format("; thread %s waits in %s at %s",
                   dim_text(s.info.thread_idx.x, s.info.thread_idx.y, s.info.thread_idx.z).c_str(),
                   s.state == State::kBarrier ? barrier_name(s.kind) : to_string(s.op),
                   site(s.file, s.line).c_str());
    if (s.state == State::kWarp) text += format(" (mask 0x%08x)", s.mask);
  }
  return text;
}

// Called when no thread can run: either the barrier can be released, or it is an error.
bool settle(BlockRun& b) {
  if (b.at_barrier > 0 && b.at_barrier == b.alive) {
    if (b.alive < b.n) {
      const Slot* gone = nullptr;
      for (const Slot& s : b.slots) {
        if (s.state == State::kDone) gone = &s;
      }
      record_error(b, gone,
                   format("Barrier error detected. Divergent thread(s) in block: this thread "
                          "exited while %u others wait in %s at %s",
                          b.at_barrier, barrier_name(b.barrier_first->kind),
                          site(b.barrier_first->file, b.barrier_first->line).c_str()));
      return false;
    }
    release_barrier(b);
    return true;
  }
  record_error(b, nullptr,
               "Deadlock: no thread of the block can proceed (threads wait for each other at "
               "different barriers or warp collectives)" + describe_waiters(b));
  return false;
}

// Runs one block to completion (or to its first error).
void run_block(Worker& w, GridRun& g, uint64_t linear) {
  setup_block(w, g, linear);
  BlockRun& b = w.block;
  t_block = &b.info;
  for (;;) {
    bool progress = false;
    for (unsigned idx : b.order) {
      Slot& s = b.slots[idx];
      if (s.state != State::kReady) continue;
      resume(b, s);
      progress = true;
      if (b.aborting) break;
    }
    if (b.aborting || b.alive == 0) break;
    if (b.at_barrier > 0 && b.at_barrier == b.alive) {
      if (!settle(b)) break;
    } else if (!progress) {
      settle(b);
      break;
    }
  }
  if (b.aborting) {
    // Unwind every thread that is inside the kernel so its frames are destroyed.
    for (Slot& s : b.slots) {
      if (s.started && s.state != State::kDone) resume(b, s);
    }
  }
  t_thread = nullptr;
  t_block = nullptr;
}

// ---- the worker pool ---------------------------------------------------------------------------

void work_on(GridRun& g) {
  Worker& w = worker();
  for (;;) {
    const uint64_t blk = g.next_block.fetch_add(1);
    if (blk >= g.total_blocks) break;
    if (!g.failed.load()) run_block(w, g, blk);
    g.finished_blocks.fetch_add(1);
  }
}

class Pool {
 public:
  Pool() {
    const int n = config().workers;
    for (int i = 1; i < n; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  int size() const { return static_cast<int>(threads_.size()) + 1; }

  void run(GridRun& g) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(&g);
    }
    wake_.notify_all();
    work_on(g);
    std::unique_lock<std::mutex> lock(mutex_);
    jobs_.erase(std::find(jobs_.begin(), jobs_.end(), &g));
    done_.wait(lock, [&] { return g.active_workers.load() == 0; });
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      GridRun* job = nullptr;
      wake_.wait(lock, [&] {
        if (stop_) return true;
        for (GridRun* g : jobs_) {
          if (g->next_block.load() < g->total_blocks) {
            job = g;
            return true;
          }
        }
        return false;
      });
      if (stop_) return;
      job->active_workers.fetch_add(1);
      lock.unlock();
      work_on(*job);
      lock.lock();
      job->active_workers.fetch_sub(1);
      done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<GridRun*> jobs_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void run_grid(GridRun& g) { pool().run(g); }

int worker_count() { return pool().size(); }

const char* to_string(WarpOp op) {
  switch (op) {
    case WarpOp::kSyncwarp: return "__syncwarp";
    case WarpOp::kShfl: return "__shfl_sync";
    case WarpOp::kShflUp: return "__shfl_up_sync";
    case WarpOp::kShflDown: return "__shfl_down_sync";
    case WarpOp::kShflXor: return "__shfl_xor_sync";
    case WarpOp::kBallot: return "__ballot_sync";
    case WarpOp::kAny: return "__any_sync";
    case WarpOp::kAll: return "__all_sync";
    case WarpOp::kGather: return "a WMMA warp operation";
  }
  return "?";
}

// ---- block barrier -----------------------------------------------------------------------------

int block_barrier(BarrierKind kind, int predicate, const char* file, int line) {
  BlockRun& b = worker().block;
  Slot& s = *b.current;
  if (b.barrier_first != nullptr &&
      (b.barrier_first->line != line || std::strcmp(b.barrier_first->file, file) != 0 ||
       b.barrier_first->kind != kind)) {
    const Slot& f = *b.barrier_first;
    fail(format("Barrier error detected. Divergent thread(s) in block: this thread waits in %s "
                "at %s while thread %s waits in %s at %s",
                barrier_name(kind), site(file, line).c_str(),
                dim_text(f.info.thread_idx.x, f.info.thread_idx.y, f.info.thread_idx.z).c_str(),
                barrier_name(f.kind), site(f.file, f.line).c_str()));
  }
  s.file = file;
  s.line = line;
  s.kind = kind;
  s.pred = predicate;
  s.state = State::kBarrier;
  if (b.barrier_first == nullptr) b.barrier_first = &s;
  ++b.at_barrier;
  wait_in_scheduler(s);
  return s.barrier_result;
}

// ---- warp collectives --------------------------------------------------------------------------

namespace {

bool is_shuffle(WarpOp op) {
  return op == WarpOp::kShfl || op == WarpOp::kShflUp || op == WarpOp::kShflDown ||
         op == WarpOp::kShflXor;
}

// The lane whose value `lane` receives, per the CUDA Programming Guide's shuffle definitions.
unsigned source_lane(const Slot& s, unsigned lane) {
  const unsigned w = static_cast<unsigned>(s.width);
  const unsigned segment = lane & ~(w - 1);
  switch (s.op) {
    case WarpOp::kShfl: return segment + (static_cast<unsigned>(s.param) & (w - 1));
    case WarpOp::kShflUp:
      return (lane - segment) >= static_cast<unsigned>(s.param) ? lane - s.param : lane;
    case WarpOp::kShflDown:
      return (lane - segment) + static_cast<unsigned>(s.param) < w ? lane + s.param : lane;
    case WarpOp::kShflXor: {
      const unsigned src = lane ^ static_cast<unsigned>(s.param);
      return src >= segment + w || src >= 32 ? lane : src;  // later segments: own value
    }
    default: return lane;
  }
}

void complete_group(BlockRun& b, unsigned warp, const WarpGroup& g) {
  Slot* lanes = &b.slots[warp * 32];
  uint64_t vote = 0;
  for (unsigned l = 0; l < 32; ++l) {
    if ((g.mask >> l) & 1u) vote |= (lanes[l].value != 0 ? 1ull : 0ull) << l;
  }
  for (unsigned l = 0; l < 32; ++l) {
    if (!((g.mask >> l) & 1u)) continue;
    Slot& t = lanes[l];
    switch (g.op) {
      case WarpOp::kBallot: t.result = vote; break;
      case WarpOp::kAny: t.result = vote != 0; break;
      case WarpOp::kAll: t.result = vote == g.mask; break;
      case WarpOp::kGather:
        for (unsigned k = 0; k < 32; ++k) t.gathered[k] = ((g.mask >> k) & 1u) ? lanes[k].value : 0;
        break;
      case WarpOp::kSyncwarp: break;
      default: {
        const unsigned src = source_lane(t, l);
        if (!((g.mask >> src) & 1u)) {
          fail(format("%s: lane %u reads lane %u, which is not in mask 0x%08x (undefined value "
                      "on a GPU) at %s",
                      to_string(g.op), l, src, g.mask, site(t.file, t.line).c_str()));
        }
        t.result = lanes[src].value;
      }
    }
    if (t.state == State::kWarp) t.state = State::kReady;
  }
}

void validate_collective(const BlockRun& b, const Slot& s, WarpOp op, unsigned mask, int width) {
  const unsigned lane = s.info.lane;
  const unsigned warp = s.info.warp;
  if (!((mask >> lane) & 1u)) {
    fail(format("Invalid arguments: %s mask 0x%08x does not name the calling lane %u",
                to_string(op), mask, lane));
  }
  if (mask & ~b.present[warp]) {
    fail(format("Invalid arguments: %s mask 0x%08x names lanes 0x%08x that do not exist (warp %u "
                "of a %u-thread block has lanes 0x%08x)",
                to_string(op), mask, mask & ~b.present[warp], warp, b.n, b.present[warp]));
  }
  if (mask & b.exited[warp]) {
    fail(format("Invalid arguments: %s mask 0x%08x names exited lanes 0x%08x", to_string(op),
                mask, mask & b.exited[warp]));
  }
  if (is_shuffle(op) && (width < 1 || width > 32 || (width & (width - 1)) != 0)) {
    fail(format("Invalid arguments: %s width %d is not a power of two in [1, 32]", to_string(op),
                width));
  }
}

}  // namespace

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                         const char* file, int line) {
  BlockRun& b = worker().block;
  Slot& s = *b.current;
  s.file = file;
  s.line = line;
  validate_collective(b, s, op, mask, width);
  std::vector<WarpGroup>& groups = b.groups[s.info.warp];
  WarpGroup* g = nullptr;
  for (WarpGroup& candidate : groups) {
    if (candidate.mask == mask) {
      g = &candidate;
    } else if (candidate.mask & mask) {
      fail(format("Divergent thread(s) in warp: this lane calls %s with mask 0x%08x at %s while "
                  "lanes 0x%08x wait in %s with mask 0x%08x at %s",
                  to_string(op), mask, site(file, line).c_str(), candidate.arrived,
                  to_string(candidate.op), candidate.mask,
                  site(candidate.file, candidate.line).c_str()));
    }
  }
  if (g == nullptr) {
    groups.push_back(WarpGroup{mask, 0, op, file, line});
    g = &groups.back();
  } else if (g->op != op) {
    fail(format("Divergent thread(s) in warp: this lane calls %s at %s while lanes 0x%08x wait in "
                "%s at %s (mask 0x%08x)",
                to_string(op), site(file, line).c_str(), g->arrived, to_string(g->op),
                site(g->file, g->line).c_str(), mask));
  }
  s.op = op;
  s.mask = mask;
  s.value = value;
  s.param = param;
  s.width = width;
  g->arrived |= 1u << s.info.lane;
  if (g->arrived == mask) {
    const WarpGroup done = *g;
    groups.erase(groups.begin() + (g - groups.data()));
    complete_group(b, s.info.warp, done);
    return s.result;
  }
  s.state = State::kWarp;
  wait_in_scheduler(s);
  return s.result;
}

const uint64_t* gathered_values() { return worker().block.current->gathered; }

void device_fault(const char* what, const char* file, int line) {
  fail(format("%s at %s", what, site(file, line).c_str()));
}

// ---- shared memory -----------------------------------------------------------------------------

int register_shared_site(const char* name, const char* file, int line, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_sites_mutex);
  g_sites.push_back(SiteInfo{name, file, line, bytes});
  return static_cast<int>(g_sites.size() - 1);
}

namespace {

// Makes `buf` hold exactly `bytes` of 0xFF (NaN in every float format) for the current block.
void refresh(SharedBuf& buf, size_t bytes, uint64_t serial) {
  if (buf.ptr == nullptr || buf.bytes != bytes) {
    free_shared(buf.ptr);
    buf.ptr = static_cast<unsigned char*>(::operator new(bytes, std::align_val_t{16}));
    buf.bytes = bytes;
  }
  std::memset(buf.ptr, 0xFF, bytes);
  buf.serial = serial;
}

}  // namespace

void* shared_storage(int site_id) {
  Worker& w = worker();
  BlockRun& b = w.block;
  if (static_cast<size_t>(site_id) >= w.shared.size()) w.shared.resize(site_id + 1);
  SharedBuf& buf = w.shared[site_id];
  if (buf.serial != b.serial) {
    SiteInfo info;
    {
      std::lock_guard<std::mutex> lock(g_sites_mutex);
      info = g_sites[site_id];
    }
    refresh(buf, info.bytes, b.serial);
    b.static_shared += info.bytes;
    if (b.static_shared > kStaticSharedLimit) {
      fail(format("static shared memory exceeds the 48 KiB limit: MVIT_SHARED %s (%zu bytes) at "
                  "%s brings the block to %zu bytes",
                  info.name, info.bytes, site(info.file, info.line).c_str(), b.static_shared));
    }
    if (b.static_shared + b.grid->launch->dynamic_smem > b.grid->shared_limit) {
      fail(format("too much shared memory: %zu bytes static (MVIT_SHARED %s at %s) + %zu bytes "
                  "dynamic exceeds the device's %zu bytes per block",
                  b.static_shared, info.name, site(info.file, info.line).c_str(),
                  b.grid->launch->dynamic_smem, b.grid->shared_limit));
    }
  }
  return buf.ptr;
}

void* dynamic_shared() {
  Worker& w = worker();
  BlockRun& b = w.block;
  if (w.dynamic.serial != b.serial) refresh(w.dynamic, b.grid->launch->dynamic_smem, b.serial);
  return w.dynamic.ptr;
}

}  // namespace emu
}  // namespace mvit
