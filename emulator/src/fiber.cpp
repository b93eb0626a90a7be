#include "fiber.h"

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

// Tell ASan which stack the next instructions run on. `save` keeps the leaving context's fake
// stack (nullptr when the leaving fiber will never run again); finish() must follow the switch
// (boostorg/context #65).
inline void asan_start(void** save, const void* bottom, size_t size) {
#if defined(MVIT_EMU_ASAN)
  __sanitizer_start_switch_fiber(save, bottom, size);
#else
  (void)save, (void)bottom, (void)size;
#endif
}
inline void asan_finish(void* save, const void** old_bottom, size_t* old_size) {
#if defined(MVIT_EMU_ASAN)
  __sanitizer_finish_switch_fiber(save, old_bottom, old_size);
#else
  (void)save, (void)old_bottom, (void)old_size;
#endif
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "mvit emulator: %s\n", what);
  std::abort();
}

}  // namespace

size_t Fiber::default_stack_bytes() {
#if defined(MVIT_EMU_SANITIZE) || defined(__SANITIZE_ADDRESS__)
  return 256 * 1024;
#else
  return 64 * 1024;
#endif
}

Fiber::Fiber(size_t stack_bytes) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  stack_size_ = (stack_bytes + page - 1) / page * page;
  stack_total_ = stack_size_ + page;
  // MAP_NORESERVE: only touched pages are committed, so 1024 fibers cost little real memory.
  stack_base_ = mmap(nullptr, stack_total_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (stack_base_ == MAP_FAILED) die("cannot map a fiber stack");
  // Guard page below the stack: an overflow faults instead of corrupting a neighbour.
  if (mprotect(stack_base_, page, PROT_NONE) != 0) die("cannot protect a fiber stack guard page");
  stack_bottom_ = static_cast<char*>(stack_base_) + page;
  ctx_ = bctx::make_fcontext(static_cast<char*>(stack_bottom_) + stack_size_, stack_size_,
                             &Fiber::trampoline);
  // First resume enters trampoline(), which parks in loop() waiting for a task.
}

Fiber::~Fiber() {
  if (ctx_ != nullptr && !exiting_) {
    // Let the fiber leave its loop so ASan forgets its fake stack, then release the stack.
    exiting_ = true;
    resume();
  }
  munmap(stack_base_, stack_total_);
}

void Fiber::trampoline(bctx::transfer_t t) {
  Fiber* self = static_cast<Fiber*>(t.data);
  self->caller_ctx_ = t.fctx;
  asan_finish(nullptr, &self->caller_stack_bottom_, &self->caller_stack_size_);
  self->loop();
}

void Fiber::loop() {
  for (;;) {
    if (exiting_) break;
    if (task_ != nullptr) {
      task_(arg_);
      task_ = nullptr;
    }
    finished_ = true;
    yield();
  }
  // Final switch: this fiber never runs again, so ASan may drop its fake stack (save = nullptr).
  asan_start(nullptr, caller_stack_bottom_, caller_stack_size_);
  bctx::jump_fcontext(caller_ctx_, nullptr);
  die("a finished fiber was resumed");
}

void Fiber::resume() {
  void* fake = nullptr;
  asan_start(&fake, stack_bottom_, stack_size_);
  bctx::transfer_t t = bctx::jump_fcontext(ctx_, this);
  asan_finish(fake, nullptr, nullptr);
  ctx_ = t.fctx;
}

void Fiber::yield() {
  asan_start(&fake_stack_, caller_stack_bottom_, caller_stack_size_);
  bctx::transfer_t t = bctx::jump_fcontext(caller_ctx_, nullptr);
  asan_finish(fake_stack_, &caller_stack_bottom_, &caller_stack_size_);
  caller_ctx_ = t.fctx;
}

}  // namespace emu
}  // namespace mvit
