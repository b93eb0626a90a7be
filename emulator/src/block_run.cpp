// The running block's shared pieces (block_run.h): the thread-local pointers kernel code reads,
// the error reports every check ends in, and the entry and exit of each emulated thread's fiber.
#include "block_run.h"

#include <exception>

#include "kernels/common/check.h"
#include "symbols.h"

namespace mvit {
namespace emu {

using detail::format;

__thread ThreadInfo* t_thread = nullptr;
__thread const BlockInfo* t_block = nullptr;

namespace sched {

__thread BlockRun* t_run = nullptr;

namespace {

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

}  // namespace

std::string dim_text(unsigned x, unsigned y, unsigned z) {
  return format("(%u,%u,%u)", x, y, z);
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

void record_error(BlockRun& b, const Slot* s, const std::string& what) {
  b.aborting = true;
  GridRun& g = *b.grid;
  std::lock_guard<std::mutex> lock(g.error_mutex);
  if (g.error.empty()) g.error = what + " (" + where(b, s) + ")";
  g.failed = true;
}

void fail(const std::string& what) {
  BlockRun& b = *t_run;
  record_error(b, b.current, what);
  throw FiberAbort{};
}

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

}  // namespace sched

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

void device_fault(const char* what, const char* file, int line) {
  sched::fail(format("%s at %s", what, sched::site(file, line).c_str()));
}

}  // namespace emu
}  // namespace mvit
