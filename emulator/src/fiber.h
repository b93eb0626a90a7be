// Stackful fibers on Boost.Context's fcontext (jump_fcontext / make_fcontext), one per emulated
// CUDA thread, with AddressSanitizer fiber annotations so ASan stays quiet on correct code and
// exact on bad code (shared/reference/emulation.md sections 6-8).
//
// A fiber is persistent: it loops, running one task per resume() until the task returns, so it
// is created once per worker and reused by every block and launch.
#pragma once

#include <boost/context/detail/fcontext.hpp>
#include <cstddef>

namespace mvit {
namespace emu {

class Fiber {
 public:
  using Task = void (*)(void* arg);

  explicit Fiber(size_t stack_bytes);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Gives the fiber a task to run from the start at the next resume().
  void start(Task task, void* arg) {
    task_ = task;
    arg_ = arg;
    finished_ = false;
  }
  // From the scheduler: runs the fiber until it yields or its task returns.
  void resume();
  // From inside the fiber: back to the scheduler that resumed it.
  void yield();
  bool finished() const { return finished_; }

  // Default stack sizes: 64 KiB; 256 KiB under sanitizers, whose own reports need > 16 KiB.
  static size_t default_stack_bytes();

 private:
  static void trampoline(boost::context::detail::transfer_t t);
  void loop();

  void* stack_base_ = nullptr;  // mmap'd region, guard page at the bottom
  size_t stack_total_ = 0;
  void* stack_bottom_ = nullptr;  // usable stack: [stack_bottom_, stack_bottom_ + stack_size_)
  size_t stack_size_ = 0;
  void* ctx_ = nullptr;        // the fiber's saved context
  void* caller_ctx_ = nullptr; // the scheduler's saved context while the fiber runs
  Task task_ = nullptr;
  void* arg_ = nullptr;
  bool finished_ = true;
  bool exiting_ = false;
  // AddressSanitizer bookkeeping.
  void* fake_stack_ = nullptr;
  const void* caller_stack_bottom_ = nullptr;
  size_t caller_stack_size_ = 0;
};

}  // namespace emu
}  // namespace mvit
