// Executes kernel launches: blocks on a pool of OS worker threads, each block's threads as fibers
// under a strict scheduler that checks what compute-sanitizer's synccheck checks.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "mvit_emu/emu.h"
#include "mvit_emu/launch.h"

namespace mvit {
namespace emu {

// One kernel launch being executed.
struct GridRun {
  std::shared_ptr<const KernelLaunch> launch;
  ThreadOrder order = ThreadOrder::kForward;
  uint64_t seed = 1;
  size_t shared_limit = 0;  // static + dynamic shared memory a block may use (opt-in limit)
  uint64_t total_blocks = 0;
  std::atomic<uint64_t> next_block{0};
  std::atomic<uint64_t> finished_blocks{0};
  std::atomic<int> active_workers{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::string error;  // the first fault, naming kernel, block, thread and source line
};

// Runs every block of `run` (the calling thread helps); returns when all have finished or one
// failed (run.failed, run.error).
void run_grid(GridRun& run);

// Number of worker OS threads (including the caller of run_grid).
int worker_count();

// The demangled name of a kernel (a function's symbol), or "kernel at 0x..." if unknown.
std::string symbol_name(const void* fn);
// The mangled symbol (what cudaFuncGetName returns), or nullptr if unknown. Cached; stable.
const char* mangled_symbol(const void* fn);

}  // namespace emu
}  // namespace mvit
