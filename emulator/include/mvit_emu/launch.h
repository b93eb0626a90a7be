// The emulated side of mvit::launch and of the shared-memory macros (kernels/common/launch.cuh).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace mvit {
namespace emu {

// A type-erased kernel launch: the grid shape plus a function that runs one emulated thread.
struct KernelLaunch {
  const void* kernel = nullptr;  // the __global__ function, for its name and attributes
  dim3 grid, block;
  size_t dynamic_smem = 0;
  // The non-null top-level pointer arguments (parameter index, value), checked against device
  // allocations when the kernel runs (Note [pointer arguments] in src/launch_checks.cpp).
  std::vector<std::pair<int, const void*>> pointer_args;
  virtual ~KernelLaunch() = default;
  // Runs the kernel body for the current emulated thread with its own copy of the arguments.
  virtual void run_thread() const = 0;
};

// Validates the launch like the CUDA runtime does and queues it on `stream` (or records it into
// the stream's capture). A rejected launch sets the last error, as a failed <<<>>> does.
void submit(std::shared_ptr<const KernelLaunch> launch, cudaStream_t stream);

// Called by submit() (src/launch_checks.cpp): fails the launch with
// cudaErrorLaunchOutOfResources when the block exceeds the kernel's MVIT_LAUNCH_BOUNDS.
cudaError_t check_launch_bounds(const KernelLaunch& launch);
// The kernel's MVIT_LAUNCH_BOUNDS maximum of threads per block (0: none declared).
unsigned kernel_launch_bound(const void* kernel);
// Called when the launch starts to run: throws DeviceFault(cudaErrorIllegalAddress) naming the
// argument when a pointer argument does not point into a live device allocation.
void check_pointer_arguments(const KernelLaunch& launch);

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

// Records the pointer-typed parameters of a launch (not function pointers: those are not data).
template <class Tuple, size_t... I>
void note_pointer_args(const Tuple& args, std::vector<std::pair<int, const void*>>* out,
                       std::index_sequence<I...>) {
  [[maybe_unused]] auto note = [out](int index, const auto& arg) {
    using A = std::decay_t<decltype(arg)>;
    if constexpr (std::is_pointer<A>::value && !std::is_function<std::remove_pointer_t<A>>::value) {
      if (arg != nullptr) out->emplace_back(index, static_cast<const void*>(arg));
    }
  };
  (note(static_cast<int>(I), std::get<I>(args)), ...);
}

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
  note_pointer_args(l->args, &l->pointer_args, std::index_sequence_for<Params...>{});
  submit(std::move(l), stream);
}

// Shared memory (MVIT_SHARED). Each declaration site is registered at static initialisation
// (SharedSite below), with the enclosing function's identity, so a launch knows its kernel's
// static shared memory before it runs (Note [static shared memory per kernel] in
// shared_memory.cpp). Per worker, each site gets its own heap object of exactly `bytes`, aligned
// to exactly `align` (its address is an odd multiple of it: code relying on more alignment than
// declared fails), refilled with the poison (Note [poison] in config.cpp) when a block first
// touches it.
struct SharedSiteInfo {
  const char* name;
  const char* file;
  int line;
  size_t bytes;
  size_t align;
};
// Returns the site's id (>= 1). `owner` is the mangled name of a class local to the function
// that declares the array (typeid(...).name()): it begins with that function's encoding.
int register_shared_site(const SharedSiteInfo& info, const char* owner);
void* shared_storage(int site, size_t align);
// MVIT_DYNAMIC_SHARED: the block's buffer of exactly the launch's dynamic_smem bytes, poisoned,
// at an address that is 16 bytes past a multiple of 32: the 16 bytes a GPU guarantees, no more.
void* dynamic_shared();

// Registers the MVIT_SHARED site described by `Tag` (a class local to the declaring function)
// during static initialisation; `id` stays 0 until then.
template <class Tag>
struct SharedSite {
  static inline const int id = register_shared_site(Tag::info(), typeid(Tag).name());
};

}  // namespace emu
}  // namespace mvit
