// kWmmaInput<T>: whether the current compilation pass declares nvcuda::wmma's 16x16x16 fragments
// with inputs of type T. Device-only (included from .cu files).
//
// Note [bf16 fragments before sm_80]
// The toolkit's crt/mma.h declares the __nv_bfloat16 fragments only under __CUDA_AMPERE_MMA__
// (host pass, or __CUDA_ARCH__ >= 800), so the sm_75 pass of a kernel template instantiated for
// bf16 fails with "incomplete type nvcuda::wmma::fragment<..., __nv_bfloat16, ...>". Kernel bodies
// may not branch on __CUDA_ARCH__ (shared/DESIGN.md section 6), so a kernel wraps its wmma code in
//
//   if constexpr (kWmmaInput<T>) { ... }
//
// and its sm_75 bf16 instance compiles to an empty kernel, which the host never launches: bf16
// WMMA is dispatched on the host by compute capability (>= 8.0). The emulated build and nvcc's
// host pass see every fragment type.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

namespace mvit {
namespace detail {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
constexpr bool kWmmaBf16Declared = false;
#else
constexpr bool kWmmaBf16Declared = true;
#endif
}  // namespace detail

template <class T>
inline constexpr bool kWmmaInput = std::is_same_v<T, __half> ||
                                   (std::is_same_v<T, __nv_bfloat16> && detail::kWmmaBf16Declared);

}  // namespace mvit
