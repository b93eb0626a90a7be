// __syncthreads and its _count/_and/_or forms: a thread arrives (block_barrier, checked against
// the barrier the other waiting threads are at) and blocks; the block scheduler releases the
// barrier once every live thread waits at it (Note [strict scheduling] in block_scheduler.cpp).
#include "barriers.h"

#include <cstring>

#include "kernels/common/check.h"

namespace mvit {
namespace emu {

using detail::format;

namespace sched {

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

}  // namespace sched

using namespace sched;

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

}  // namespace emu
}  // namespace mvit
