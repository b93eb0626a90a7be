// The emulated side of mvit::launch and of the shared-memory macros (kernels/common/launch.cuh).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

namespace mvit {
namespace emu {

// A type-erased kernel launch: the grid shape plus a function that runs one emulated thread.
struct KernelLaunch {
  const void* kernel = nullptr;  // the __global__ function, for its name and attributes
  dim3 grid, block;
  size_t dynamic_smem = 0;
  virtual ~KernelLaunch() = default;
  // Runs the kernel body for the current emulated thread with its own copy of the arguments.
  virtual void run_thread() const = 0;
};

// Validates the launch like the CUDA runtime does and queues it on `stream` (or records it into
// the stream's capture). A rejected launch sets the last error, as a failed <<<>>> does.
void submit(std::shared_ptr<const KernelLaunch> launch, cudaStream_t stream);

template <class Kernel, class Tuple>
struct KernelLaunchOf final : KernelLaunch {
  Kernel fn;
  Tuple args;  // converted once to the kernel's parameter types, as the GPU's parameter buffer is
  KernelLaunchOf(Kernel f, Tuple a) : fn(f), args(std::move(a)) {}
  void run_thread() const override {
    Tuple mine = args;  // every thread has its own by-value parameters
    std::apply(fn, std::move(mine));
  }
};

template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t dynamic_smem,
            cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "kernel launched with wrong argument count");
  static_assert((std::is_trivially_copyable<std::decay_t<Params>>::value && ...),
                "kernel parameters must be trivially copyable values");
  using Tuple = std::tuple<std::decay_t<Params>...>;
  auto l = std::make_shared<KernelLaunchOf<void (*)(Params...), Tuple>>(
      kernel, Tuple(std::forward<Args>(args)...));
  l->kernel = reinterpret_cast<const void*>(kernel);
  l->grid = grid;
  l->block = block;
  l->dynamic_smem = dynamic_smem;
  submit(std::move(l), stream);
}

// Shared memory (MVIT_SHARED): each declaration site is registered once and gets, per worker,
// its own heap object of exactly `bytes`, refilled with 0xFF (NaN) when a block first touches it.
int register_shared_site(const char* name, const char* file, int line, size_t bytes);
void* shared_storage(int site);
// MVIT_DYNAMIC_SHARED: the block's buffer of exactly the launch's dynamic_smem bytes, NaN-filled.
void* dynamic_shared();

}  // namespace emu
}  // namespace mvit
