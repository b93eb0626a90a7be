#include "fiber.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define MVIT_EMU_ASAN 1
#endif

namespace bctx = boost::context::detail;

namespace mvit {
namespace emu {

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "mvit emulator: %s\n", what);
  std::abort();
}

inline void resumed(bctx::transfer_t t) {
  static_cast<FiberContext*>(t.data)->fctx = t.fctx;
}

}  // namespace

namespace fiber_detail {
__thread Fiber* t_entering = nullptr;

void before_switch(FiberContext& from, const FiberContext& to) {
#if defined(MVIT_EMU_ASAN)
  __sanitizer_start_switch_fiber(&from.fake_stack, to.stack_bottom, to.stack_size);
#else
  (void)from, (void)to;
#endif
}

void after_switch(FiberContext& from) {
#if defined(MVIT_EMU_ASAN)
  __sanitizer_finish_switch_fiber(from.fake_stack, nullptr, nullptr);
#else
  (void)from;
#endif
}
}  // namespace fiber_detail

FiberContext& thread_context() {
  thread_local FiberContext ctx = [] {
    FiberContext c;
#if defined(MVIT_EMU_ASAN)
    // ASan must be told this stack's bounds whenever a fiber switches back to it.
    pthread_attr_t attr;
    void* addr = nullptr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &addr, &size);
      pthread_attr_destroy(&attr);
    }
    c.stack_bottom = addr;
    c.stack_size = size;
#endif
    return c;
  }();
  return ctx;
}

// Note [fiber stacks]
// Each fiber's stack is one mmap: a PROT_NONE guard region of kGuardBytes, then the stack
// (MVIT_EMU_STACK_KB, default 576 KiB: a GPU's 512 KiB local-memory limit per thread plus the
// emulator's frames). MAP_NORESERVE and lazy commit: only the pages a thread touches cost memory,
// so 1024 threads x 2 workers reserve ~2 GiB of address space but commit a few MiB for ordinary
// kernels. A frame that runs past the stack's end lands in the guard region (no GPU-legal frame
// is larger), faults, and block_run.cpp's SIGSEGV handler names kernel, block and thread.
Fiber::Fiber(size_t stack_bytes, unsigned color) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t size = (stack_bytes + page - 1) / page * page;
  guard_bytes_ = (kGuardBytes + page - 1) / page * page;
  stack_bytes_ = size;
  stack_total_ = size + guard_bytes_;
  stack_base_ = mmap(nullptr, stack_total_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (stack_base_ == MAP_FAILED) die("cannot map a fiber stack");
  // Guard below the stack: an overflow faults instead of corrupting a neighbour.
  if (mprotect(stack_base_, guard_bytes_, PROT_NONE) != 0) {
    die("cannot protect a fiber stack's guard region");
  }
  ctx_.stack_bottom = static_cast<char*>(stack_base_) + guard_bytes_;
  ctx_.stack_size = size;
  // Stacks are page-aligned, so without an offset the hot top frames of every fiber would map to
  // the same L1 cache sets; a different multiple of 64 bytes per fiber spreads them.
  const size_t offset = (color * 64u * 7u) % page;
  ctx_.fctx = bctx::make_fcontext(static_cast<char*>(stack_base_) + stack_total_ - offset,
                                  size - offset, &Fiber::trampoline);
}

Fiber::~Fiber() {
  // Let the fiber leave its loop so that ASan forgets its fake stack, then release the stack.
  exiting_ = true;
  switch_to_fiber(thread_context(), *this);
  munmap(stack_base_, stack_total_);
}

void Fiber::trampoline(bctx::transfer_t t) {
  Fiber* self = fiber_detail::t_entering;
  resumed(t);
#if defined(MVIT_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  self->loop();
}

void Fiber::loop() {
  for (;;) {
    if (exiting_) break;
    if (task_ == nullptr) die("a fiber was entered without a task");
    task_(arg_);
    task_ = nullptr;
    if (Fiber* next = leave_(*this)) {
      switch_to_fiber(ctx_, *next);
    } else {
      switch_context(ctx_, thread_context());
    }
  }
  // Final switch: this fiber never runs again, so ASan may drop its fake stack (save = nullptr).
  FiberContext& to = thread_context();
#if defined(MVIT_EMU_ASAN)
  __sanitizer_start_switch_fiber(nullptr, to.stack_bottom, to.stack_size);
#endif
  bctx::jump_fcontext(to.fctx, &ctx_);
  die("a finished fiber was resumed");
}

}  // namespace emu
}  // namespace mvit
