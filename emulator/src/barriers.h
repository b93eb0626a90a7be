// The block barrier's release (barriers.cpp), called by the block scheduler at the end of a pass
// in which every live thread arrived at the barrier; block_barrier itself is in device.h.
#pragma once

#include "block_run.h"

namespace mvit {
namespace emu {
namespace sched {

// Computes the barrier's result (__syncthreads_count/_and/_or) and makes its waiters ready.
void release_barrier(BlockRun& b);

}  // namespace sched
}  // namespace emu
}  // namespace mvit
