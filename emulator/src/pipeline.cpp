// The asynchronous shared-memory copies (Note [asynchronous copies land at the wait] in
// mvit_emu/pipeline.h): per emulated thread, the copies of the batch being filled and the
// committed batches not yet waited for.
#include "mvit_emu/pipeline.h"

#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "block_run.h"
#include "kernels/common/check.h"

namespace mvit {
namespace emu {

using detail::format;
using namespace sched;

namespace {

struct Copy {
  unsigned char* dst;
  unsigned char bytes[16];  // the source as read at the call, then the zero fill
  size_t size;
};
struct ThreadCopies {
  std::vector<Copy> open;                 // issued since the last commit
  std::deque<std::vector<Copy>> batches;  // committed, oldest first
};

// One per worker: the running block's threads. Reset when the worker starts another block.
struct BlockCopies {
  uint64_t serial = 0;
  std::vector<ThreadCopies> threads;
};
thread_local BlockCopies t_copies;

ThreadCopies& this_thread() {
  BlockRun& b = *t_run;
  if (t_copies.serial != b.serial) {
    t_copies.serial = b.serial;
    t_copies.threads.assign(b.n, ThreadCopies{});
  }
  return t_copies.threads[b.current->info.linear];
}

}  // namespace

void pipeline_memcpy_async(void* dst, const void* src, size_t size, size_t zfill, const char* file,
                           int line) {
  if (size != 4 && size != 8 && size != 16) {
    device_fault(
        format("__pipeline_memcpy_async: size_and_align %zu is not 4, 8 or 16", size).c_str(), file,
        line);
  }
  if (zfill > size) {
    device_fault(
        format("__pipeline_memcpy_async: zfill %zu exceeds size_and_align %zu", zfill, size)
            .c_str(),
        file, line);
  }
  if (reinterpret_cast<uintptr_t>(dst) % size != 0 ||
      reinterpret_cast<uintptr_t>(src) % size != 0) {
    device_fault(format("__pipeline_memcpy_async: dst %p and src %p must be aligned to "
                        "size_and_align %zu",
                        dst, src, size)
                     .c_str(),
                 file, line);
  }
  Copy c;
  c.dst = static_cast<unsigned char*>(dst);
  c.size = size;
  std::memcpy(c.bytes, src, size - zfill);
  std::memset(c.bytes + (size - zfill), 0, zfill);
  this_thread().open.push_back(c);
}

void pipeline_commit() {
  ThreadCopies& t = this_thread();
  t.batches.push_back(std::move(t.open));
  t.open.clear();
}

void pipeline_wait_prior(size_t prior) {
  ThreadCopies& t = this_thread();
  const size_t keep = prior < 8 ? prior : 8;
  while (t.batches.size() > keep) {
    for (const Copy& c : t.batches.front()) std::memcpy(c.dst, c.bytes, c.size);
    t.batches.pop_front();
  }
}

}  // namespace emu
}  // namespace mvit
