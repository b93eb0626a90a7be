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

// One cache line per thread: a barrier touches each thread's slot once, and a slot that straddles
// two lines costs a second miss per thread (measured: ~10% of a 256-thread barrier).
struct alignas(64) Slot {
  ThreadInfo info;
  Fiber* fiber = nullptr;
  const char* file = nullptr;  // where the thread waits (barrier or warp collective)
  int line = 0;
  unsigned mask = 0;  // warp collective
  int width = 32;     // warp collective
  BarrierKind kind = BarrierKind::kSync;
  WarpOp op = WarpOp::kSyncwarp;
  bool started = false;
};
static_assert(sizeof(Slot) == 64, "Slot is meant to fill exactly one cache line");

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
  // Per thread, dense and apart from the slots: the scheduler scans and updates these on every
  // barrier, and 256 bytes stay in L1 where 256 slots would not.
  std::vector<State> states;
  // Per thread, dense: what each lane publishes to and receives from a warp collective.
  std::vector<uint64_t> values, results;
  std::vector<int> params;
  int pred_count = 0;      // sum of the predicates of the threads waiting at the block barrier
  int barrier_result = 0;  // what the last released barrier returns (read before the next one)
  std::vector<unsigned> order;
  std::vector<std::vector<WarpGroup>> groups;  // per warp: collectives in progress
  std::vector<unsigned> present;               // per warp: lanes that exist
  std::vector<unsigned> exited;                // per warp: lanes that have exited
  unsigned alive = 0;
  unsigned at_barrier = 0;
  size_t pos = 0;  // position in `order` of the running thread during a pass
  const Slot* barrier_first = nullptr;
  bool aborting = false;
  size_t static_shared = 0;
  Slot* current = nullptr;
  // kGather results, one row of 32 values per thread; kept apart from Slot so the slots that every
  // barrier walks stay small.
  std::vector<uint64_t> gathered;
};

// The block the current OS thread is running (a plain pointer: no thread_local guard on the hot
// path of every barrier).
__thread BlockRun* t_run = nullptr;

void free_shared(unsigned char* p) {
  ::operator delete (p, std::align_val_t{16});
}

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

std::string dim_text(unsigned x, unsigned y, unsigned z) {
  return format("(%u,%u,%u)", x, y, z);
}

std::string where(const BlockRun& b, const Slot* s) {
  std::string text =
      format("kernel %s, block %s", symbol_name(b.grid->launch->kernel).c_str(),
             dim_text(b.info.block_idx.x, b.info.block_idx.y, b.info.block_idx.z).c_str());
  if (s != nullptr) {
    text +=
        format(", thread %s",
               dim_text(s->info.thread_idx.x, s->info.thread_idx.y, s->info.thread_idx.z).c_str());
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
  BlockRun& b = *t_run;
  record_error(b, b.current, what);
  throw FiberAbort{};
}

std::string site(const char* file, int line) {
  return format("%s:%d", file, line);
}

const char* barrier_name(BarrierKind k) {
  switch (k) {
    case BarrierKind::kSync:
      return "__syncthreads";
    case BarrierKind::kCount:
      return "__syncthreads_count";
    case BarrierKind::kAnd:
      return "__syncthreads_and";
    case BarrierKind::kOr:
      return "__syncthreads_or";
  }
  return "?";
}

Slot* next_ready(BlockRun& b);
void enter(BlockRun& b, Slot& s);

// The thread blocks: switch straight to the next ready thread of this pass (or back to the
// scheduler at its end); on return, unwind if the launch was aborted meanwhile.
inline __attribute__((always_inline)) void wait_in_scheduler(Slot& s) {
  BlockRun& b = *t_run;
  if (Slot* next = next_ready(b)) {
    enter(b, *next);
    switch_to_fiber(s.fiber->context(), *next->fiber);
  } else {
    switch_context(s.fiber->context(), thread_context());
  }
  if (t_run->aborting) throw FiberAbort{};
}

// Where a thread goes when its kernel body has returned.
Fiber* leave_thread(Fiber&) {
  BlockRun& b = *t_run;
  Slot* next = next_ready(b);
  if (next == nullptr) return nullptr;
  enter(b, *next);
  return next->fiber;
}

void thread_main(void* arg) {
  Slot& s = *static_cast<Slot*>(arg);
  BlockRun& b = *t_run;
  try {
    b.grid->launch->run_thread();
  } catch (const FiberAbort&) {
  } catch (const std::exception& e) {
    record_error(b, &s, format("exception thrown in kernel code: %s", e.what()));
  } catch (...) {
    record_error(b, &s, "unknown exception thrown in kernel code");
  }
  b.states[s.info.linear] = State::kDone;
  --b.alive;
  b.exited[s.info.warp] |= 1u << s.info.lane;
  if (b.aborting) return;
  for (const WarpGroup& g : b.groups[s.info.warp]) {
    if (g.mask & (1u << s.info.lane)) {
      record_error(
          b, &s,
          format("Divergent thread(s) in warp: lane %u exited while lanes 0x%08x wait "
                 "for it in %s (mask 0x%08x) at %s",
                 s.info.lane, g.arrived, to_string(g.op), g.mask, site(g.file, g.line).c_str()));
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
  b.states.assign(b.n, State::kReady);
  b.values.resize(b.n);
  b.results.resize(b.n);
  b.params.resize(b.n);
  b.pred_count = 0;
  b.groups.resize(warps);  // cleared, not reallocated: their capacity serves the next block
  for (std::vector<WarpGroup>& g : b.groups) g.clear();
  b.present.assign(warps, 0);
  b.exited.assign(warps, 0);
  while (w.fibers.size() < b.n) {
    w.fibers.push_back(std::make_unique<Fiber>(Fiber::default_stack_bytes(),
                                               static_cast<unsigned>(w.fibers.size())));
  }
  for (unsigned i = 0; i < b.n; ++i) {
    Slot& s = b.slots[i];
    s.info.thread_idx.x = i % l.block.x;
    s.info.thread_idx.y = (i / l.block.x) % l.block.y;
    s.info.thread_idx.z = i / (l.block.x * l.block.y);
    s.info.linear = i;
    s.info.lane = i % 32;
    s.info.warp = i / 32;
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

// Makes `s` the running thread (the caller then switches to its fiber).
void enter(BlockRun& b, Slot& s) {
  if (!s.started) {
    s.fiber->start(&thread_main, &s, &leave_thread);
    s.started = true;
  }
  t_thread = &s.info;
  b.current = &s;
}

// The next ready thread after the running one in this pass's order, or nullptr at the pass's end
// (or when the launch is aborting).
Slot* next_ready(BlockRun& b) {
  if (b.aborting) return nullptr;
  for (size_t p = b.pos + 1; p < b.order.size(); ++p) {
    if (b.states[b.order[p]] == State::kReady) {
      b.pos = p;
      return &b.slots[b.order[p]];
    }
  }
  b.pos = b.order.size();
  return nullptr;
}

// Runs one pass: every ready thread in order, each until it blocks or exits. Returns whether any
// thread ran.
bool run_pass(BlockRun& b) {
  b.pos = static_cast<size_t>(-1);
  Slot* first = next_ready(b);
  if (first == nullptr) return false;
  enter(b, *first);
  switch_to_fiber(thread_context(), *first->fiber);
  b.current = nullptr;
  return true;
}

void release_barrier(BlockRun& b) {
  const int count = b.pred_count;
  int result = count;
  if (b.barrier_first->kind == BarrierKind::kAnd) result = count == static_cast<int>(b.at_barrier);
  if (b.barrier_first->kind == BarrierKind::kOr) result = count != 0;
  b.barrier_result = result;
  for (State& st : b.states) {
    if (st == State::kBarrier) st = State::kReady;
  }
  b.at_barrier = 0;
  b.pred_count = 0;
  b.barrier_first = nullptr;
}

// "; 16 threads (first (0,0,0)) wait in __shfl_sync at f.cu:12 (mask 0xffffffff); ..." — one
// entry per distinct wait site.
std::string describe_waiters(const BlockRun& b) {
  struct Site {
    const Slot* first;
    int count;
  };
  std::vector<Site> sites;
  auto state = [&](const Slot& s) { return b.states[s.info.linear]; };
  for (const Slot& s : b.slots) {
    if (state(s) != State::kBarrier && state(s) != State::kWarp) continue;
    auto same = [&](const Site& x) {
      return state(*x.first) == state(s) && x.first->line == s.line &&
             std::strcmp(x.first->file, s.file) == 0 &&
             (state(s) == State::kBarrier || x.first->mask == s.mask);
    };
    auto it = std::find_if(sites.begin(), sites.end(), same);
    if (it == sites.end()) {
      sites.push_back(Site{&s, 1});
    } else {
      ++it->count;
    }
  }
  std::string text;
  for (const Site& x : sites) {
    const Slot& s = *x.first;
    text += format("; %d thread(s) (first %s) wait in %s at %s", x.count,
                   dim_text(s.info.thread_idx.x, s.info.thread_idx.y, s.info.thread_idx.z).c_str(),
                   state(s) == State::kBarrier ? barrier_name(s.kind) : to_string(s.op),
                   site(s.file, s.line).c_str());
    if (state(s) == State::kWarp) text += format(" (mask 0x%08x)", s.mask);
  }
  return text;
}

// Called when no thread can run: either the barrier can be released, or it is an error.
bool settle(BlockRun& b) {
  if (b.at_barrier > 0 && b.at_barrier == b.alive) {
    if (b.alive < b.n) {
      const Slot* gone = nullptr;
      for (const Slot& s : b.slots) {
        if (b.states[s.info.linear] == State::kDone) gone = &s;
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
               "different barriers or warp collectives)" +
                   describe_waiters(b));
  return false;
}

// Runs one block to completion (or to its first error).
void run_block(Worker& w, GridRun& g, uint64_t linear) {
  setup_block(w, g, linear);
  BlockRun& b = w.block;
  t_block = &b.info;
  t_run = &b;
  for (;;) {
    const bool progress = run_pass(b);
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
      if (!s.started || b.states[s.info.linear] == State::kDone) continue;
      enter(b, s);
      switch_to_fiber(thread_context(), *s.fiber);
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

void run_grid(GridRun& g) {
  pool().run(g);
}

int worker_count() {
  return pool().size();
}

const char* to_string(WarpOp op) {
  switch (op) {
    case WarpOp::kSyncwarp:
      return "__syncwarp";
    case WarpOp::kShfl:
      return "__shfl_sync";
    case WarpOp::kShflUp:
      return "__shfl_up_sync";
    case WarpOp::kShflDown:
      return "__shfl_down_sync";
    case WarpOp::kShflXor:
      return "__shfl_xor_sync";
    case WarpOp::kBallot:
      return "__ballot_sync";
    case WarpOp::kAny:
      return "__any_sync";
    case WarpOp::kAll:
      return "__all_sync";
    case WarpOp::kGather:
      return "a WMMA warp operation";
  }
  return "?";
}

// ---- block barrier -----------------------------------------------------------------------------

int block_barrier(BarrierKind kind, int predicate, const char* file, int line) {
  BlockRun& b = *t_run;
  Slot& s = *b.current;
  // The same call site passes the same literal, so comparing pointers first avoids strcmp.
  if (b.barrier_first != nullptr &&
      (b.barrier_first->line != line || b.barrier_first->kind != kind ||
       (b.barrier_first->file != file && std::strcmp(b.barrier_first->file, file) != 0))) {
    const Slot& f = *b.barrier_first;
    fail(
        format("Barrier error detected. Divergent thread(s) in block: this thread waits in %s "
               "at %s while thread %s waits in %s at %s",
               barrier_name(kind), site(file, line).c_str(),
               dim_text(f.info.thread_idx.x, f.info.thread_idx.y, f.info.thread_idx.z).c_str(),
               barrier_name(f.kind), site(f.file, f.line).c_str()));
  }
  s.file = file;
  s.line = line;
  s.kind = kind;
  b.pred_count += predicate;
  b.states[s.info.linear] = State::kBarrier;
  if (b.barrier_first == nullptr) b.barrier_first = &s;
  ++b.at_barrier;
  wait_in_scheduler(s);
  return b.barrier_result;
}

// ---- warp collectives --------------------------------------------------------------------------

namespace {

bool is_shuffle(WarpOp op) {
  return op == WarpOp::kShfl || op == WarpOp::kShflUp || op == WarpOp::kShflDown ||
         op == WarpOp::kShflXor;
}

// The lane whose value `lane` receives, per the CUDA Programming Guide's shuffle definitions.
unsigned source_lane(WarpOp op, int param, int width, unsigned lane) {
  const unsigned w = static_cast<unsigned>(width);
  const unsigned p = static_cast<unsigned>(param);
  const unsigned segment = lane & ~(w - 1);
  switch (op) {
    case WarpOp::kShfl:
      return segment + (p & (w - 1));
    case WarpOp::kShflUp:
      return (lane - segment) >= p ? lane - p : lane;
    case WarpOp::kShflDown:
      return (lane - segment) + p < w ? lane + p : lane;
    case WarpOp::kShflXor: {
      const unsigned src = lane ^ p;
      return src >= segment + w || src >= 32 ? lane : src;  // later segments: own value
    }
    default:
      return lane;
  }
}

// The last lane of `g` has arrived: compute every lane's result and release the waiting ones.
void complete_group(BlockRun& b, unsigned warp, const WarpGroup& g, int width) {
  const unsigned base = warp * 32;
  const uint64_t* values = &b.values[base];
  uint64_t* results = &b.results[base];
  if (g.op == WarpOp::kBallot || g.op == WarpOp::kAny || g.op == WarpOp::kAll) {
    uint64_t vote = 0;
    for (unsigned l = 0; l < 32; ++l) {
      if ((g.mask >> l) & 1u) vote |= (values[l] != 0 ? 1ull : 0ull) << l;
    }
    const uint64_t r = g.op == WarpOp::kBallot ? vote
                       : g.op == WarpOp::kAny  ? uint64_t{vote != 0}
                                               : uint64_t{vote == g.mask};
    for (unsigned l = 0; l < 32; ++l) results[l] = r;
  } else if (g.op == WarpOp::kGather) {
    if (b.gathered.size() < static_cast<size_t>(b.n) * 32) b.gathered.resize(b.n * 32);
    for (unsigned l = 0; l < 32; ++l) {
      if (!((g.mask >> l) & 1u)) continue;
      uint64_t* row = &b.gathered[(base + l) * 32];
      for (unsigned k = 0; k < 32; ++k) row[k] = ((g.mask >> k) & 1u) ? values[k] : 0;
    }
  } else if (g.op != WarpOp::kSyncwarp) {
    for (unsigned l = 0; l < 32; ++l) {
      if (!((g.mask >> l) & 1u)) continue;
      const unsigned src = source_lane(g.op, b.params[base + l], width, l);
      if (!((g.mask >> src) & 1u)) {
        const Slot& t = b.slots[base + l];
        fail(
            format("%s: lane %u reads lane %u, which is not in mask 0x%08x (undefined value "
                   "on a GPU) at %s",
                   to_string(g.op), l, src, g.mask, site(t.file, t.line).c_str()));
      }
      results[l] = values[src];
    }
  }
  for (unsigned l = 0; l < 32; ++l) {
    State& st = b.states[base + l];
    if (((g.mask >> l) & 1u) && st == State::kWarp) st = State::kReady;
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
    fail(
        format("Invalid arguments: %s mask 0x%08x names lanes 0x%08x that do not exist (warp %u "
               "of a %u-thread block has lanes 0x%08x)",
               to_string(op), mask, mask & ~b.present[warp], warp, b.n, b.present[warp]));
  }
  if (mask & b.exited[warp]) {
    fail(format("Invalid arguments: %s mask 0x%08x names exited lanes 0x%08x", to_string(op), mask,
                mask & b.exited[warp]));
  }
  if (is_shuffle(op) && (width < 1 || width > 32 || (width & (width - 1)) != 0)) {
    fail(format("Invalid arguments: %s width %d is not a power of two in [1, 32]", to_string(op),
                width));
  }
}

}  // namespace

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                         const char* file, int line) {
  BlockRun& b = *t_run;
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
      fail(format(
          "Divergent thread(s) in warp: this lane calls %s with mask 0x%08x at %s while "
          "lanes 0x%08x wait in %s with mask 0x%08x at %s",
          to_string(op), mask, site(file, line).c_str(), candidate.arrived, to_string(candidate.op),
          candidate.mask, site(candidate.file, candidate.line).c_str()));
    }
  }
  if (g == nullptr) {
    groups.push_back(WarpGroup{mask, 0, op, file, line});
    g = &groups.back();
  } else if (g->op != op) {
    fail(
        format("Divergent thread(s) in warp: this lane calls %s at %s while lanes 0x%08x wait in "
               "%s at %s (mask 0x%08x)",
               to_string(op), site(file, line).c_str(), g->arrived, to_string(g->op),
               site(g->file, g->line).c_str(), mask));
  }
  s.op = op;
  s.mask = mask;
  s.width = width;
  b.values[s.info.linear] = value;
  b.params[s.info.linear] = param;
  g->arrived |= 1u << s.info.lane;
  if (g->arrived == mask) {
    const WarpGroup done = *g;
    groups.erase(groups.begin() + (g - groups.data()));
    complete_group(b, s.info.warp, done, width);
    return b.results[s.info.linear];
  }
  b.states[s.info.linear] = State::kWarp;
  wait_in_scheduler(s);
  return b.results[s.info.linear];
}

const uint64_t* gathered_values() {
  BlockRun& b = *t_run;
  return &b.gathered[static_cast<size_t>(b.current->info.linear) * 32];
}

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
    buf.ptr = static_cast<unsigned char*>(::operator new (bytes, std::align_val_t{16}));
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
      fail(
          format("static shared memory exceeds the 48 KiB limit: MVIT_SHARED %s (%zu bytes) at "
                 "%s brings the block to %zu bytes",
                 info.name, info.bytes, site(info.file, info.line).c_str(), b.static_shared));
    }
    if (b.static_shared + b.grid->launch->dynamic_smem > b.grid->shared_limit) {
      fail(
          format("too much shared memory: %zu bytes static (MVIT_SHARED %s at %s) + %zu bytes "
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
