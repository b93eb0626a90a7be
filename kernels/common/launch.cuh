// The portable kernel-authoring API: the only way kernel code launches kernels and declares shared
// memory, so that the same .cu compiles with nvcc for GPUs and with g++ against emulator/.
//
//   mvit::launch(kernel, grid, block, dynamic_smem_bytes, stream, args...);
//   MVIT_SHARED(float, tile, 32, 33);     // __shared__ float tile[32][33];
//   MVIT_DYNAMIC_SHARED(float, row);      // extern __shared__ float row[];  (launch's smem bytes)
//
// mvit::launch follows every launch with the project's launch check (cuda_check.h), which throws
// mvit::Error naming the kernel and the file and line of the mvit::launch call (Note [launch call
// site]). See shared/DESIGN.md section 6 for the rest of the portable subset.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/common/cuda_check.h"

#define MVIT_DIMS_1_(a) [a]
#define MVIT_DIMS_2_(a, b) [a][b]
#define MVIT_DIMS_3_(a, b, c) [a][b][c]
#define MVIT_DIMS_PICK_(_1, _2, _3, name, ...) name
// MVIT_DIMS(32, 33) -> [32][33]; one to three dimensions.
#define MVIT_DIMS(...) \
  MVIT_DIMS_PICK_(__VA_ARGS__, MVIT_DIMS_3_, MVIT_DIMS_2_, MVIT_DIMS_1_, unused)(__VA_ARGS__)

namespace mvit {

// Note [launch call site]
// A failed launch should point at the launcher that made it, not at this header. mvit::launch is a
// variadic template, so it cannot take a defaulted location parameter after the kernel's
// arguments; instead its grid parameter is a LaunchGrid, implicitly built from the dim3 (or
// unsigned) the caller passes, and the defaulted __builtin_FILE()/__builtin_LINE() arguments of
// that constructor are evaluated where the conversion happens: at the call of mvit::launch.
// (g++, clang and nvcc all provide these builtins; C++20's std::source_location is the same idea.)
struct LaunchGrid {
  dim3 dims;
  const char* file;
  int line;
  LaunchGrid(dim3 d, const char* f = __builtin_FILE(), int l = __builtin_LINE())
      : dims(d), file(f), line(l) {}
  LaunchGrid(unsigned x, const char* f = __builtin_FILE(), int l = __builtin_LINE())
      : dims(x), file(f), line(l) {}
};

namespace detail {
// Note [launch arguments convert as in a call]
// mvit::launch deduces the kernel's parameter types from the kernel alone; each argument's type is
// KernelArg<Param>, a non-deduced context, so it is converted to the parameter's type at the call
// of mvit::launch exactly as in a direct call or a <<<>>> launch: NULL or 0 to a pointer, an int
// literal to a float, a derived-class pointer to a base-class one. (Deducing the arguments'
// types separately would forward NULL as an integer and fail to match.)
template <class T>
struct KernelArgOf {
  using type = T;
};
template <class T>
using KernelArg = typename KernelArgOf<T>::type;
}  // namespace detail

}  // namespace mvit

// MVIT_UNROLL before a loop: nvcc's `#pragma unroll`, for loops over a thread's register arrays
// (each index must be a constant for the array to stay in registers); g++ in the emulated build
// would warn about the unknown pragma, and unrolling changes nothing there.
#if defined(__CUDACC__)
#define MVIT_UNROLL _Pragma("unroll")
#else
#define MVIT_UNROLL
#endif

// MVIT_LAUNCH_BOUNDS(max_threads[, min_blocks]), placed like __launch_bounds__
// (`__global__ void MVIT_LAUNCH_BOUNDS(256) kernel(...)`): nvcc gets the real __launch_bounds__;
// the emulated build records max_threads in the kernel's code so that a launch with a bigger block
// fails there as on a GPU (Note [launch bounds encoding] in emulator/src/launch_checks.cpp).
// The arguments must be integer literals (the lint checks). A raw __launch_bounds__ is rejected
// (emulator/prelude.h, the lint): the emulated build could not enforce it.
#if defined(__CUDACC__)
#define MVIT_LAUNCH_BOUNDS(...) __launch_bounds__(__VA_ARGS__)
#else
#define MVIT_LAUNCH_BOUNDS(...) MVIT_LAUNCH_BOUNDS_(__VA_ARGS__, 0)
#define MVIT_LAUNCH_BOUNDS_(max_threads, ...) \
  __attribute__((patchable_function_entry(max_threads, max_threads)))
#endif

#if defined(__CUDACC__)

#define MVIT_SHARED(T, name, ...) __shared__ T name MVIT_DIMS(__VA_ARGS__)
#define MVIT_DYNAMIC_SHARED(T, name)                                  \
  extern __shared__ __align__(16) unsigned char mvit_dynamic_smem_[]; \
  T* name = reinterpret_cast<T*>(mvit_dynamic_smem_)

namespace mvit {
template <class... Params>
void launch(void (*kernel)(Params...), LaunchGrid grid, dim3 block, size_t dynamic_smem_bytes,
            cudaStream_t stream, detail::KernelArg<Params>... args) {
  kernel<<<grid.dims, block, dynamic_smem_bytes, stream>>>(args...);
  detail::check_launch(reinterpret_cast<const void*>(kernel), stream, grid.file, grid.line);
}
}  // namespace mvit

#else  // the emulated build: emulator/prelude.h is force-included

#include "mvit_emu/launch.h"

// The local class names the site and, through its mangled name, the enclosing function; naming
// it in SharedSite<> registers the site at static initialisation (mvit_emu/launch.h).
#define MVIT_SHARED(T, name, ...)                                            \
  using name##_mvit_shared_t_ = T MVIT_DIMS(__VA_ARGS__);                    \
  struct name##_mvit_site_ {                                                 \
    static ::mvit::emu::SharedSiteInfo info() {                              \
      return {#name, __FILE__, __LINE__, sizeof(name##_mvit_shared_t_),      \
              alignof(name##_mvit_shared_t_)};                               \
    }                                                                        \
  };                                                                         \
  name##_mvit_shared_t_& name =                                              \
      *reinterpret_cast<name##_mvit_shared_t_*>(::mvit::emu::shared_storage( \
          ::mvit::emu::SharedSite<name##_mvit_site_>::id, alignof(name##_mvit_shared_t_)))
#define MVIT_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::mvit::emu::dynamic_shared())

namespace mvit {
template <class... Params>
void launch(void (*kernel)(Params...), LaunchGrid grid, dim3 block, size_t dynamic_smem_bytes,
            cudaStream_t stream, detail::KernelArg<Params>... args) {
  emu::launch(kernel, grid.dims, block, dynamic_smem_bytes, stream, args...);
  detail::check_launch(reinterpret_cast<const void*>(kernel), stream, grid.file, grid.line);
}
}  // namespace mvit

#endif
