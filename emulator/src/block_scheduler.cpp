// The block scheduler: runs one block's threads as fibers, pass after pass.
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
#include "block_scheduler.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "barriers.h"
#include "block_run.h"
#include "kernels/common/check.h"
#include "shared_memory.h"

namespace mvit {
namespace emu {

using detail::format;

namespace sched {
namespace {

std::atomic<uint64_t> g_block_serial{0};

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
  // Fibers persist across blocks; a changed stack size (set_stack_kb) remakes them.
  const size_t stack = config().stack_kb * 1024;
  if (!w.fibers.empty() && w.fibers[0]->stack_bytes() != stack) w.fibers.clear();
  while (w.fibers.size() < b.n) {
    w.fibers.push_back(std::make_unique<Fiber>(stack, static_cast<unsigned>(w.fibers.size())));
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
  const StaticShared shared = static_shared_of(l.kernel);
  b.static_shared = shared.bytes;
  b.kernel_shared = shared.record;
  b.shared_cap = g.shared_limit;
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
                          "exited while %u others wait in %s at %s (CUDA C++ requires "
                          "__syncthreads to be reached by every thread of the block; hardware "
                          "barrier.sync would ignore exited threads: emulator/README.md, \"What "
                          "stays stricter than a GPU, on purpose\")",
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

}  // namespace

void run_block(Worker& w, GridRun& g, uint64_t linear) {
  prepare_stack_overflow_report();
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

}  // namespace sched
}  // namespace emu
}  // namespace mvit
