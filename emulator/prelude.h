// Force-included (g++ -include) before every .cu file of the emulated build.
//
// It makes CUDA C++ kernel code compile as ordinary C++ that runs on the emulator:
//  - a raw `__shared__` becomes a compile error (use MVIT_SHARED / MVIT_DYNAMIC_SHARED, which give
//    each shared array its own NaN-filled heap object that AddressSanitizer can see). It must be
//    defined before any CUDA header: crt/host_defines.h only defines __shared__ when it is absent.
//  - the real toolkit headers supply dim3, the vector types, __half and __nv_bfloat16 (their host
//    code paths); <mma.h> and the device intrinsics are empty under g++, so mvit_emu/device.h and
//    mvit_emu/wmma.h supply what the portable subset allows (shared/DESIGN.md section 6).
#pragma once

#if defined(__CUDACC__)
#error "emulator/prelude.h is for the emulated build (g++/clang++ compiling .cu as C++)"
#endif

#define __shared__ mvit_raw_shared_is_not_portable_use_MVIT_SHARED
// A raw __launch_bounds__ is an error too: unenforceable here (use MVIT_LAUNCH_BOUNDS, launch.cuh).
#define __launch_bounds__(...) mvit_raw_launch_bounds_is_not_enforced_use_MVIT_LAUNCH_BOUNDS::error
#define MVIT_EMULATED 1

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "mvit_emu/device.h"
#include "mvit_emu/fast_math.h"
#include "mvit_emu/half_math.h"
#include "mvit_emu/pipeline.h"
#include "mvit_emu/runtime_overloads.h"
#include "mvit_emu/wmma.h"

// __forceinline__: the toolkit's host definition is `__inline__ __attribute__((always_inline))`,
// and g++ rejects an always_inline function it cannot inline at the call ("indirect function call
// with a yet undetermined callee": one passed by pointer or reference to a generic reduce, a
// load/store functor), as it does at -O1, the sanitizer build's level. nvcc accepts such code:
// there the keyword asks for inlining wherever the call is direct. Here it is `inline`: the same
// meaning for the program, only the inliner's choice differs.
#undef __forceinline__
#define __forceinline__ __inline__
