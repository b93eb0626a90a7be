// Stackful fibers on Boost.Context's fcontext (jump_fcontext / make_fcontext), one per emulated
// CUDA thread, with AddressSanitizer fiber annotations so ASan stays quiet on correct code and
// exact on bad code (shared/reference/emulation.md sections 6-8).
//
// Any context may switch directly to any other (fiber to fiber, fiber to the OS thread's own
// stack), so a barrier costs one switch per thread rather than a round trip through a scheduler.
// A fiber is persistent: its loop runs one task per start(), then leaves through the task's
// `leave` function, so it is created once per worker and reused by every block and launch.
#pragma once

#include <boost/context/detail/fcontext.hpp>
#include <cstddef>

namespace mvit {
namespace emu {

// A place execution can be suspended and resumed: a fiber, or an OS thread's own stack.
struct FiberContext {
  void* fctx = nullptr;        // the suspended context (valid while not running)
  void* fake_stack = nullptr;  // AddressSanitizer's fake stack while suspended
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
};

// This OS thread's own stack as a context (what the block scheduler runs on).
FiberContext& thread_context();

// Suspends `from` (the running context) and resumes `to`; returns when something switches back.
// Inline: every call level between a barrier and the switch costs time on each thread's resume.
inline void switch_context(FiberContext& from, FiberContext& to);

class Fiber;
// The same, into a fiber (which may not have run yet).
inline void switch_to_fiber(FiberContext& from, Fiber& to);

class Fiber {
 public:
  using Task = void (*)(void* arg);
  // Where to go when the task has returned: another fiber, or nullptr for the OS thread's stack.
  using Leave = Fiber* (*)(Fiber& self);

  // `color` staggers where the stack starts (see the constructor). Note [fiber stacks].
  Fiber(size_t stack_bytes, unsigned color);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // The next switch into this fiber runs task(arg) from the start.
  void start(Task task, void* arg, Leave leave) {
    task_ = task;
    arg_ = arg;
    leave_ = leave;
  }
  FiberContext& context() { return ctx_; }

  size_t stack_bytes() const { return stack_bytes_; }
  // Whether `addr` lies in the inaccessible region below the stack (an overflow faults there).
  bool guards(const void* addr) const {
    const char* a = static_cast<const char*>(addr);
    const char* base = static_cast<const char*>(stack_base_);
    return a >= base && a < base + guard_bytes_;
  }

  // The guard region below each stack: a GPU allows at most 512 KiB of local memory per thread,
  // so no frame a GPU accepts can step over it into the next fiber's stack.
  static constexpr size_t kGuardBytes = 512 * 1024;

 private:
  static void trampoline(boost::context::detail::transfer_t t);
  void loop();

  void* stack_base_ = nullptr;  // mmap'd region, guard region at the bottom
  size_t stack_total_ = 0;
  size_t guard_bytes_ = 0;
  size_t stack_bytes_ = 0;
  FiberContext ctx_;
  Task task_ = nullptr;
  void* arg_ = nullptr;
  Leave leave_ = nullptr;
  bool exiting_ = false;
};

namespace fiber_detail {
extern __thread Fiber* t_entering;  // the fiber being entered (read on its first entry)
void before_switch(FiberContext& from, const FiberContext& to);  // AddressSanitizer bookkeeping
void after_switch(FiberContext& from);
}  // namespace fiber_detail

inline void switch_context(FiberContext& from, FiberContext& to) {
#if defined(__SANITIZE_ADDRESS__)
  fiber_detail::before_switch(from, to);
#endif
  const boost::context::detail::transfer_t t =
      boost::context::detail::jump_fcontext(to.fctx, &from);
  // Whoever switched here passed its own context: store its suspended state there (fcontext
  // handles are one-shot: every suspension makes a new one).
  static_cast<FiberContext*>(t.data)->fctx = t.fctx;
#if defined(__SANITIZE_ADDRESS__)
  fiber_detail::after_switch(from);
#endif
}

inline void switch_to_fiber(FiberContext& from, Fiber& to) {
  fiber_detail::t_entering = &to;
  switch_context(from, to.context());
}

}  // namespace emu
}  // namespace mvit
