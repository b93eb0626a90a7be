// The block a worker thread is running (Note [strict scheduling] in block_scheduler.cpp): each
// emulated thread's slot and scheduling state, the warp collectives in progress, and the steps by
// which one thread hands the OS thread to the next. Internal to the scheduler's files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fiber.h"
#include "mvit_emu/device.h"
#include "grid_run.h"

namespace mvit {
namespace emu {
namespace sched {

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
  // Static shared memory of the kernel known at launch (shared_memory.cpp); grows when a block
  // touches a site the launch could not attribute to the kernel beforehand.
  size_t static_shared = 0;
  Slot* current = nullptr;
  // kGather results, one row of 32 values per warp; kept apart from Slot so the slots that every
  // barrier walks stay small.
  std::vector<uint64_t> gathered;
  // Off the hot path, after everything a barrier touches (so its fields keep their cache lines):
  // the bound on static + dynamic shared memory for this launch, and the kernel's shared-memory
  // record (shared_memory.cpp).
  size_t shared_cap = 0;
  void* kernel_shared = nullptr;
};

// The block the current OS thread is running (a plain pointer: no thread_local guard on the hot
// path of every barrier).
extern __thread BlockRun* t_run;

// ---- messages (block_run.cpp) ----
std::string dim_text(unsigned x, unsigned y, unsigned z);
std::string site(const char* file, int line);
const char* barrier_name(BarrierKind k);
// Records the launch's first error, naming kernel, block and (if `s`) thread, and marks the block
// as aborting.
void record_error(BlockRun& b, const Slot* s, const std::string& what);
// From inside a fiber: report and unwind this thread.
[[noreturn]] void fail(const std::string& what);

// Makes a fiber's stack overflow a clear report naming kernel, block and thread instead of a bare
// SIGSEGV (Note [fiber stacks] in fiber.cpp): installs the process's SIGSEGV handler once and
// this OS thread's alternate signal stack, on which the handler runs. Call before running blocks.
void prepare_stack_overflow_report();

// ---- a thread's life (block_run.cpp) ----
// Every fiber's task: runs the kernel for one thread, then records its exit.
void thread_main(void* arg);
// Where a thread goes when its kernel body has returned.
Fiber* leave_thread(Fiber&);

// ---- the hand-off, on the hot path of every barrier and warp collective ----
// Inline in this header rather than out of line in block_run.cpp: block_barrier and
// warp_collective (barriers.cpp, warp_collectives.cpp) run them on every thread's wait, where a
// call across translation units would cost time on every resume (inlining the switch into the
// barrier path was measured: emulator/README.md). Seen here, g++ -O2 inlines all three into
// block_barrier, warp_collective and leave_thread.

// Makes `s` the running thread (the caller then switches to its fiber).
inline void enter(BlockRun& b, Slot& s) {
  if (!s.started) {
    s.fiber->start(&thread_main, &s, &leave_thread);
    s.started = true;
  }
  t_thread = &s.info;
  b.current = &s;
}

// The next ready thread after the running one in this pass's order, or nullptr at the pass's end
// (or when the launch is aborting).
inline Slot* next_ready(BlockRun& b) {
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

}  // namespace sched
}  // namespace emu
}  // namespace mvit
