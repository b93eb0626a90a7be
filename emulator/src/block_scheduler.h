// Runs one block of a launch on the calling worker thread (block_scheduler.cpp).
#pragma once

#include <cstdint>

#include "grid_run.h"
#include "worker.h"

namespace mvit {
namespace emu {
namespace sched {

// Runs block `linear` of `g` to completion (or to its first error, recorded in g.error) on `w`'s
// fibers; Note [strict scheduling] in block_scheduler.cpp.
void run_block(Worker& w, GridRun& g, uint64_t linear);

}  // namespace sched
}  // namespace emu
}  // namespace mvit
