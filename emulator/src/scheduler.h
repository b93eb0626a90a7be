// Executes kernel launches: blocks on a pool of OS worker threads, each block's threads as fibers
// under a strict scheduler that checks what compute-sanitizer's synccheck checks. Defined in
// worker_pool.cpp.
#pragma once

#include "grid_run.h"

namespace mvit {
namespace emu {

// Runs every block of `run` (the calling thread helps); returns when all have finished or one
// failed (run.failed, run.error).
void run_grid(GridRun& run);

// Number of worker OS threads (including the caller of run_grid).
int worker_count();

}  // namespace emu
}  // namespace mvit
