// The worker pool: blocks of a launch on MVIT_EMU_WORKERS OS threads (default: all cores), the
// thread that calls run_grid being one of them; each takes the next block until none is left,
// in the order of Note [block order].
#include "scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "block_scheduler.h"
#include "mvit_emu/emu.h"
#include "worker.h"

namespace mvit {
namespace emu {

using namespace sched;

namespace {

// Note [block order]
// A GPU runs a launch's blocks in no promised order, concurrently, on whichever SM is free: a
// kernel whose block reads what another block of the same launch writes is racy, even if it
// works when blocks happen to run in ascending order. The emulator hands blocks out (to however
// many workers) in the order the thread order names: ascending (forward), descending (reverse),
// or a permutation drawn from the seed (random). The suite runs every kernel test forward and
// reverse (cmake/MvitTesting.cmake), so a kernel that reads a lower block's output of the same
// launch sees unwritten (poisoned) memory in the reverse run, and one that reads a higher
// block's output in the forward run. The permutation is computed, not stored (a grid may hold
// 2^31 x 65535 x 65535 blocks): a 4-round Feistel network on the smallest even number of bits
// covering the grid, cycle-walked into [0, blocks) (at most 4 rounds on average).
class BlockOrder {
 public:
  BlockOrder(ThreadOrder order, uint64_t seed, uint64_t blocks) : order_(order), n_(blocks) {
    if (order_ != ThreadOrder::kRandom) return;
    unsigned bits = 2;
    while (bits < 64 && (uint64_t{1} << bits) < blocks) bits += 2;
    half_ = bits / 2;
    mask_ = (uint64_t{1} << half_) - 1;
    for (unsigned r = 0; r < 4; ++r) keys_[r] = mix(seed * 0x9E3779B97F4A7C15ull + r + 1);
  }
  // The block dispatched at position `pos` (< blocks).
  uint64_t operator()(uint64_t pos) const {
    switch (order_) {
      case ThreadOrder::kForward:
        return pos;
      case ThreadOrder::kReverse:
        return n_ - 1 - pos;
      case ThreadOrder::kRandom:
        break;
    }
    uint64_t x = pos;
    do x = permute(x);
    while (x >= n_);
    return x;
  }

 private:
  static uint64_t mix(uint64_t z) {  // splitmix64's finaliser
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t permute(uint64_t x) const {
    uint64_t l = x >> half_, r = x & mask_;
    for (uint64_t k : keys_) {
      const uint64_t f = mix(r ^ k) & mask_;
      const uint64_t t = l ^ f;
      l = r;
      r = t;
    }
    return (l << half_) | r;
  }

  ThreadOrder order_;
  uint64_t n_;
  unsigned half_ = 1;
  uint64_t mask_ = 1;
  uint64_t keys_[4] = {};
};

void work_on(GridRun& g) {
  Worker& w = worker();
  const BlockOrder order(g.order, g.seed, g.total_blocks);
  for (;;) {
    const uint64_t pos = g.next_block.fetch_add(1);
    if (pos >= g.total_blocks) break;
    if (!g.failed.load()) run_block(w, g, order(pos));
    g.finished_blocks.fetch_add(1);
  }
}

class Pool {
 public:
  Pool() {
    const int n = config().workers;
    for (int i = 1; i < n; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  int size() const { return static_cast<int>(threads_.size()) + 1; }

  void run(GridRun& g) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(&g);
    }
    wake_.notify_all();
    work_on(g);
    std::unique_lock<std::mutex> lock(mutex_);
    jobs_.erase(std::find(jobs_.begin(), jobs_.end(), &g));
    done_.wait(lock, [&] { return g.active_workers.load() == 0; });
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      GridRun* job = nullptr;
      wake_.wait(lock, [&] {
        if (stop_) return true;
        for (GridRun* g : jobs_) {
          if (g->next_block.load() < g->total_blocks) {
            job = g;
            return true;
          }
        }
        return false;
      });
      if (stop_) return;
      job->active_workers.fetch_add(1);
      lock.unlock();
      work_on(*job);
      lock.lock();
      job->active_workers.fetch_sub(1);
      done_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<GridRun*> jobs_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void run_grid(GridRun& g) {
  pool().run(g);
}

int worker_count() {
  return pool().size();
}

}  // namespace emu
}  // namespace mvit
