// The worker pool: blocks of a launch on MVIT_EMU_WORKERS OS threads (default: all cores), the
// thread that calls run_grid being one of them; each takes the next block until none is left.
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

void work_on(GridRun& g) {
  Worker& w = worker();
  for (;;) {
    const uint64_t blk = g.next_block.fetch_add(1);
    if (blk >= g.total_blocks) break;
    if (!g.failed.load()) run_block(w, g, blk);
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
