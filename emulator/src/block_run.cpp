// The running block's shared pieces (block_run.h): the thread-local pointers kernel code reads,
// the error reports every check ends in, and the entry and exit of each emulated thread's fiber.
#include "block_run.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>

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

struct sigaction g_previous_segv;

// Runs on the alternate signal stack: the faulting fiber's own stack is exhausted.
void on_segv(int sig, siginfo_t* info, void* context) {
  const BlockRun* b = t_run;
  const Slot* s = b != nullptr ? b->current : nullptr;
  if (s != nullptr && s->fiber != nullptr && s->fiber->guards(info->si_addr)) {
    // The process is about to end: formatting (which allocates) is acceptable here.
    const std::string text = format(
        "mvit emulator: stack overflow in %s: the emulated thread ran past the end of its "
        "%zu KiB stack (fault at %p). Raise MVIT_EMU_STACK_KB (KiB per thread, default %zu) if the "
        "kernel really needs more; a GPU allows at most 512 KiB of local memory per thread.\n",
        where(*b, s).c_str(), s->fiber->stack_bytes() / 1024, info->si_addr, default_stack_kb());
    ssize_t ignored = write(STDERR_FILENO, text.data(), text.size());
    (void)ignored;
    std::abort();
  }
  // Not an overflow of ours: let whoever handled SIGSEGV before (the default action, or a
  // sanitizer) see the fault again when the instruction re-executes.
  sigaction(SIGSEGV, &g_previous_segv, nullptr);
  (void)sig, (void)context;
}

// Frees the alternate signal stack when its OS thread ends.
struct AltStack {
  void* mem = nullptr;
  size_t bytes = 0;
  ~AltStack() {
    if (bytes == 0) return;  // none, or a sanitizer's
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    munmap(mem, bytes);
  }
};

}  // namespace

void prepare_stack_overflow_report() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = &on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_previous_segv);
  });
  thread_local AltStack alt;
  if (alt.mem != nullptr) return;
  stack_t current{};
  // Keep an alternate stack someone already gave this thread: AddressSanitizer gives every thread
  // one, sized for its own reports, and unmaps whatever alternate stack is set when the thread
  // ends (replacing it would have ours unmapped twice).
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) {
    alt.mem = current.ss_sp;  // not ours: the destructor must not unmap it
    alt.bytes = 0;
    return;
  }
  // Big enough for the report's formatting and symbol lookup, and for a sanitizer's handler.
  const size_t bytes = 256 * 1024;
  void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return;
  stack_t ss{};
  ss.ss_sp = mem;
  ss.ss_size = bytes;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(mem, bytes);
    return;
  }
  alt.mem = mem;
  alt.bytes = bytes;
}

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
    case WarpOp::kMatchAny:
      return "__match_any_sync";
    case WarpOp::kMatchAll:
      return "__match_all_sync";
    case WarpOp::kReduceAdd:
      return "__reduce_add_sync";
    case WarpOp::kReduceMin:
      return "__reduce_min_sync";
    case WarpOp::kReduceMax:
      return "__reduce_max_sync";
    case WarpOp::kReduceAnd:
      return "__reduce_and_sync";
    case WarpOp::kReduceOr:
      return "__reduce_or_sync";
    case WarpOp::kReduceXor:
      return "__reduce_xor_sync";
  }
  return "?";
}

void device_fault(const char* what, const char* file, int line) {
  sched::fail(format("%s at %s", what, sched::site(file, line).c_str()));
}

}  // namespace emu
}  // namespace mvit
