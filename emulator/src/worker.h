// What each OS worker thread keeps between blocks and launches. Internal to the scheduler's files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

#include "block_run.h"
#include "fiber.h"

namespace mvit {
namespace emu {
namespace sched {

// One shared-memory object (shared_memory.cpp).
struct SharedBuf {
  unsigned char* ptr = nullptr;
  size_t bytes = 0;
  uint64_t serial = 0;  // the block it was last refilled for
};

// Frees a shared-memory object (shared_memory.cpp allocates them 16-byte aligned).
inline void free_shared(unsigned char* p) {
  ::operator delete (p, std::align_val_t{16});
}

// Per OS worker thread: the fibers, the shared-memory objects and the block being run.
struct Worker {
  std::vector<std::unique_ptr<Fiber>> fibers;
  std::vector<SharedBuf> shared;  // indexed by site
  SharedBuf dynamic;
  BlockRun block;
  ~Worker() {
    for (SharedBuf& b : shared) free_shared(b.ptr);
    free_shared(dynamic.ptr);
  }
};

// This OS thread's worker. Inline: shared_storage() calls it each time a thread reaches an
// MVIT_SHARED declaration.
inline Worker& worker() {
  thread_local Worker w;
  return w;
}

}  // namespace sched
}  // namespace emu
}  // namespace mvit
