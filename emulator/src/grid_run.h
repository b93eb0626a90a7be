// One kernel launch being executed: what the runtime hands the scheduler (scheduler.h) and what
// every block of the launch reads and reports its first fault to. Header only.
#pragma once

#include <atomic>
#include <cstddef>
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

}  // namespace emu
}  // namespace mvit
