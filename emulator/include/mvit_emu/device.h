// Device-side names of the portable subset, implemented for the emulator: the built-in variables,
// block and warp synchronization, warp shuffles and votes, atomics, and the math intrinsics.
// Included by emulator/prelude.h; kernels never include it themselves.
//
// Barriers and warp intrinsics take the caller's source location as hidden default arguments
// (__builtin_FILE / __builtin_LINE), so an error names the exact call in the kernel.
#pragma once

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mvit {
namespace emu {

// What the scheduler publishes for the emulated thread that runs now on this OS thread. Fibers
// never migrate between OS threads, so thread-local pointers stay right across switches.
struct ThreadInfo {
  uint3 thread_idx;
  unsigned linear;  // x + y*Dx + z*Dx*Dy
  unsigned lane;    // linear % 32
  unsigned warp;    // linear / 32
};
struct BlockInfo {
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};
extern __thread ThreadInfo* t_thread;
extern __thread const BlockInfo* t_block;

enum class BarrierKind : int { kSync, kCount, kAnd, kOr };
// Block-wide barrier (__syncthreads and its _count/_and/_or forms). Returns the reduction.
int block_barrier(BarrierKind kind, int predicate, const char* file, int line);

enum class WarpOp : int {
  kSyncwarp,
  kShfl,
  kShflUp,
  kShflDown,
  kShflXor,
  kBallot,
  kAny,
  kAll,
  kGather,
  kMatchAny,   // value: the lane's value's bits; param: its size
  kMatchAll,   // as kMatchAny
  kReduceAdd,  // value: the lane's 32 bits; param: 1 for int, 0 for unsigned
  kReduceMin,
  kReduceMax,
  kReduceAnd,
  kReduceOr,
  kReduceXor
};
const char* to_string(WarpOp op);

// One warp-synchronous collective: all lanes named in `mask` must reach a collective with the same
// mask and op; the caller must be in the mask and every lane in it must exist and not have exited.
// Returns this lane's result: the shuffled value's bits, or the vote's result.
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                         const char* file, int line);
// After a kGather collective: the 32 values the lanes published (entries of lanes outside the mask
// are 0). Valid until this lane's next collective.
const uint64_t* gathered_values();

// Reports a violation of the execution model from kernel code and aborts the launch.
[[noreturn]] void device_fault(const char* what, const char* file, int line);

// __half2 and __nv_bfloat162 declare their own copy operations (so they are not trivially
// copyable), yet CUDA shuffles them by their bits like any 4-byte value.
template <class T>
struct shuffles_by_bits : std::is_trivially_copyable<T> {};
template <>
struct shuffles_by_bits<__half2> : std::true_type {};
template <>
struct shuffles_by_bits<__nv_bfloat162> : std::true_type {};

template <class T>
inline uint64_t to_bits(const T& v) {
  static_assert(sizeof(T) <= 8 && shuffles_by_bits<T>::value,
                "warp shuffles take 2-, 4- or 8-byte trivially copyable values");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <class T>
inline T from_bits(uint64_t bits) {
  T v;
  std::memcpy(static_cast<void*>(&v), &bits, sizeof(T));  // void*: __half2 has its own copies
  return v;
}

}  // namespace emu
}  // namespace mvit

#define threadIdx (::mvit::emu::t_thread->thread_idx)
#define blockIdx (::mvit::emu::t_block->block_idx)
#define blockDim (::mvit::emu::t_block->block_dim)
#define gridDim (::mvit::emu::t_block->grid_dim)
constexpr int warpSize = 32;

// ---- block synchronization -------------------------------------------------------------------
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::mvit::emu::block_barrier(::mvit::emu::BarrierKind::kSync, 0, file, line);
}
inline int __syncthreads_count(int pred, const char* file = __builtin_FILE(),
                               int line = __builtin_LINE()) {
  return ::mvit::emu::block_barrier(::mvit::emu::BarrierKind::kCount, pred != 0, file, line);
}
inline int __syncthreads_and(int pred, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  return ::mvit::emu::block_barrier(::mvit::emu::BarrierKind::kAnd, pred != 0, file, line);
}
inline int __syncthreads_or(int pred, const char* file = __builtin_FILE(),
                            int line = __builtin_LINE()) {
  return ::mvit::emu::block_barrier(::mvit::emu::BarrierKind::kOr, pred != 0, file, line);
}

// ---- warp synchronization, shuffles, votes -----------------------------------------------------
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  ::mvit::emu::warp_collective(::mvit::emu::WarpOp::kSyncwarp, mask, 0, 0, 32, file, line);
}
template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::mvit::emu::from_bits<T>(::mvit::emu::warp_collective(
      ::mvit::emu::WarpOp::kShfl, mask, ::mvit::emu::to_bits(var), src_lane, width, file, line));
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32,
                        const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::mvit::emu::from_bits<T>(
      ::mvit::emu::warp_collective(::mvit::emu::WarpOp::kShflUp, mask, ::mvit::emu::to_bits(var),
                                   static_cast<int>(delta), width, file, line));
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::mvit::emu::from_bits<T>(
      ::mvit::emu::warp_collective(::mvit::emu::WarpOp::kShflDown, mask, ::mvit::emu::to_bits(var),
                                   static_cast<int>(delta), width, file, line));
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32,
                         const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return ::mvit::emu::from_bits<T>(::mvit::emu::warp_collective(::mvit::emu::WarpOp::kShflXor, mask,
                                                                ::mvit::emu::to_bits(var),
                                                                lane_mask, width, file, line));
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return static_cast<unsigned>(::mvit::emu::warp_collective(::mvit::emu::WarpOp::kBallot, mask,
                                                            pred != 0, 0, 32, file, line));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return static_cast<int>(
      ::mvit::emu::warp_collective(::mvit::emu::WarpOp::kAny, mask, pred != 0, 0, 32, file, line));
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return static_cast<int>(
      ::mvit::emu::warp_collective(::mvit::emu::WarpOp::kAll, mask, pred != 0, 0, 32, file, line));
}

// Note [__activemask]: on a GPU it returns the lanes that happen to execute the call together,
// which independent thread scheduling lets be any set containing the caller, and it does not make
// them converge. The emulator returns the strictest legal answer, the calling lane alone, so code
// that mistakes it for "the whole warp" computes wrong results here instead of passing by luck.
inline unsigned __activemask() {
  return 1u << ::mvit::emu::t_thread->lane;
}

// __match_any_sync: the lanes of `mask` whose value equals this lane's. __match_all_sync: `mask`
// when all of them are equal (*pred = 1), else 0 (*pred = 0). Values compare by their bits, as
// the hardware does (so +0.0f and -0.0f differ and a NaN matches an identical NaN).
template <class T>
inline unsigned __match_any_sync(unsigned mask, T value, const char* file = __builtin_FILE(),
                                 int line = __builtin_LINE()) {
  static_assert(std::is_arithmetic<T>::value && (sizeof(T) == 4 || sizeof(T) == 8),
                "__match_any_sync takes a 32- or 64-bit integer or floating-point value");
  return static_cast<unsigned>(::mvit::emu::warp_collective(::mvit::emu::WarpOp::kMatchAny, mask,
                                                            ::mvit::emu::to_bits(value), sizeof(T),
                                                            32, file, line));
}
template <class T>
inline unsigned __match_all_sync(unsigned mask, T value, int* pred,
                                 const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(std::is_arithmetic<T>::value && (sizeof(T) == 4 || sizeof(T) == 8),
                "__match_all_sync takes a 32- or 64-bit integer or floating-point value");
  const unsigned r = static_cast<unsigned>(
      ::mvit::emu::warp_collective(::mvit::emu::WarpOp::kMatchAll, mask,
                                   ::mvit::emu::to_bits(value), sizeof(T), 32, file, line));
  *pred = r != 0;
  return r;
}

// __reduce_*_sync (compute capability 8.0): every lane of `mask` gets the reduction over the
// mask. add/min/max take int or unsigned (add wraps modulo 2^32); and/or/xor take unsigned.
#define MVIT_EMU_REDUCE_(name, op, T, is_signed)                                                   \
  inline T name(unsigned mask, T value, const char* file = __builtin_FILE(),                       \
                int line = __builtin_LINE()) {                                                     \
    return static_cast<T>(static_cast<uint32_t>(::mvit::emu::warp_collective(                      \
        ::mvit::emu::WarpOp::op, mask, static_cast<uint32_t>(value), is_signed, 32, file, line))); \
  }
MVIT_EMU_REDUCE_(__reduce_add_sync, kReduceAdd, unsigned, 0)
MVIT_EMU_REDUCE_(__reduce_add_sync, kReduceAdd, int, 1)
MVIT_EMU_REDUCE_(__reduce_min_sync, kReduceMin, unsigned, 0)
MVIT_EMU_REDUCE_(__reduce_min_sync, kReduceMin, int, 1)
MVIT_EMU_REDUCE_(__reduce_max_sync, kReduceMax, unsigned, 0)
MVIT_EMU_REDUCE_(__reduce_max_sync, kReduceMax, int, 1)
MVIT_EMU_REDUCE_(__reduce_and_sync, kReduceAnd, unsigned, 0)
MVIT_EMU_REDUCE_(__reduce_or_sync, kReduceOr, unsigned, 0)
MVIT_EMU_REDUCE_(__reduce_xor_sync, kReduceXor, unsigned, 0)
#undef MVIT_EMU_REDUCE_

// ---- memory fences -----------------------------------------------------------------------------
// A block's threads share one OS thread (fibers never preempt), so a block fence only has to stop
// the compiler; blocks run on different OS threads, so device and system fences are real fences.
inline void __threadfence_block() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
}
inline void __threadfence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void __threadfence_system() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// ---- atomics: real atomics, since blocks run in parallel on OS threads --------------------------
#define MVIT_EMU_INT_ATOMICS_(T)                                                                 \
  inline T atomicAdd(T* p, T v) {                                                                \
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);                                           \
  }                                                                                              \
  inline T atomicSub(T* p, T v) {                                                                \
    return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED);                                           \
  }                                                                                              \
  inline T atomicExch(T* p, T v) {                                                               \
    return __atomic_exchange_n(p, v, __ATOMIC_RELAXED);                                          \
  }                                                                                              \
  inline T atomicAnd(T* p, T v) {                                                                \
    return __atomic_fetch_and(p, v, __ATOMIC_RELAXED);                                           \
  }                                                                                              \
  inline T atomicOr(T* p, T v) {                                                                 \
    return __atomic_fetch_or(p, v, __ATOMIC_RELAXED);                                            \
  }                                                                                              \
  inline T atomicXor(T* p, T v) {                                                                \
    return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED);                                           \
  }                                                                                              \
  inline T atomicCAS(T* p, T compare, T v) {                                                     \
    __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);      \
    return compare;                                                                              \
  }                                                                                              \
  inline T atomicMax(T* p, T v) {                                                                \
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);                                                \
    while (old < v &&                                                                            \
           !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) { \
    }                                                                                            \
    return old;                                                                                  \
  }                                                                                              \
  inline T atomicMin(T* p, T v) {                                                                \
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);                                                \
    while (v < old &&                                                                            \
           !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) { \
    }                                                                                            \
    return old;                                                                                  \
  }
MVIT_EMU_INT_ATOMICS_(int)
MVIT_EMU_INT_ATOMICS_(unsigned int)
MVIT_EMU_INT_ATOMICS_(unsigned long long int)
#undef MVIT_EMU_INT_ATOMICS_

// atomicInc / atomicDec with CUDA's wrap-around: atomicInc stores (old >= val) ? 0 : old + 1,
// atomicDec stores (old == 0 || old > val) ? val : old - 1; both return old.
inline unsigned int atomicInc(unsigned int* p, unsigned int val) {
  unsigned int old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &old, old >= val ? 0u : old + 1u, true, __ATOMIC_RELAXED,
                                      __ATOMIC_RELAXED)) {
  }
  return old;
}
inline unsigned int atomicDec(unsigned int* p, unsigned int val) {
  unsigned int old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(p, &old, (old == 0u || old > val) ? val : old - 1u, true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}

// ---- __trap ------------------------------------------------------------------------------------
// A GPU aborts the whole launch (cudaErrorLaunchFailure, sticky until cudaDeviceReset); here the
// launch fails the same way, and the report names the kernel, block, thread and the call's line.
[[noreturn]] inline void __trap(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  ::mvit::emu::device_fault("__trap() called: the kernel aborted the launch", file, line);
}

namespace mvit {
namespace emu {
// Floating-point read-modify-write through a compare-and-swap loop on the value's bits.
template <class F, class Bits, class Op>
inline F atomic_float_rmw(F* p, Op op) {
  static_assert(sizeof(F) == sizeof(Bits), "bit width");
  Bits* bp = reinterpret_cast<Bits*>(p);
  Bits old_bits = __atomic_load_n(bp, __ATOMIC_RELAXED);
  for (;;) {
    F old_value;
    std::memcpy(static_cast<void*>(&old_value), &old_bits, sizeof(F));
    const F new_value = op(old_value);
    Bits new_bits;
    std::memcpy(&new_bits, &new_value, sizeof(F));
    if (__atomic_compare_exchange_n(bp, &old_bits, new_bits, true, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
      return old_value;
    }
  }
}
}  // namespace emu
}  // namespace mvit

inline float atomicAdd(float* p, float v) {
  return ::mvit::emu::atomic_float_rmw<float, uint32_t>(p, [v](float x) { return x + v; });
}
inline double atomicAdd(double* p, double v) {
  return ::mvit::emu::atomic_float_rmw<double, uint64_t>(p, [v](double x) { return x + v; });
}
inline float atomicExch(float* p, float v) {
  return ::mvit::emu::atomic_float_rmw<float, uint32_t>(p, [v](float) { return v; });
}
// The GPU's float atomicMax/Min do not exist in CUDA; these are the integer ones above.

// ---- loads and bit manipulation ----------------------------------------------------------------
// The cache-hinted loads and stores: the hint changes only caching on a GPU, so each is a plain
// access here (and AddressSanitizer checks it like any other).
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
template <class T>
inline T __ldcg(const T* p) {
  return *p;
}
template <class T>
inline T __ldca(const T* p) {
  return *p;
}
template <class T>
inline T __ldcs(const T* p) {
  return *p;
}
template <class T>
inline T __ldlu(const T* p) {
  return *p;
}
template <class T>
inline T __ldcv(const T* p) {
  return *p;
}
template <class T>
inline void __stwb(T* p, T v) {
  *p = v;
}
template <class T>
inline void __stcg(T* p, T v) {
  *p = v;
}
template <class T>
inline void __stcs(T* p, T v) {
  *p = v;
}
template <class T>
inline void __stwt(T* p, T v) {
  *p = v;
}
inline int __popc(unsigned x) {
  return __builtin_popcount(x);
}
inline int __popcll(unsigned long long x) {
  return __builtin_popcountll(x);
}
inline int __clz(int x) {
  return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x));
}
inline int __ffs(int x) {
  return __builtin_ffs(x);
}
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
  return (x >> 16) | (x << 16);
}

// ---- math -------------------------------------------------------------------------------------
// CUDA's host/device overloads of min/max and the float math library (the host's libm, within the
// CUDA bounds of these functions). The intrinsics (__expf, __fdividef, rsqrtf, __frsqrt_rn...)
// are in mvit_emu/fast_math.h, the half and bfloat16 math in mvit_emu/half_math.h.
using ::ceilf;
using ::erff;
using ::exp2f;
using ::expf;
using ::fabsf;
using ::floorf;
using ::fmaf;
using ::fmaxf;
using ::fminf;
using ::log2f;
using ::logf;
using ::powf;
using ::roundf;
using ::sqrtf;
using ::tanhf;
using std::abs;
using std::ceil;
using std::exp;
using std::floor;
using std::fmax;
using std::fmin;
using std::log;
using std::sqrt;
// min / max: CUDA's overload set (crt/math_functions.h), so a mixed call such as
// min(C - 1, threadIdx.x) means what it means under nvcc: a signed and an unsigned operand of the
// same width compare as the unsigned type (-1 becomes its maximum), and float with double is
// double. umin / umax / llmin / llmax / ullmin / ullmax are CUDA's named forms.
#define MVIT_EMU_MIN_MAX_(R, A, B)                                                        \
  inline R min(A a, B b) {                                                                \
    return static_cast<R>(a) < static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); \
  }                                                                                       \
  inline R max(A a, B b) {                                                                \
    return static_cast<R>(a) > static_cast<R>(b) ? static_cast<R>(a) : static_cast<R>(b); \
  }
MVIT_EMU_MIN_MAX_(int, int, int)
MVIT_EMU_MIN_MAX_(unsigned int, unsigned int, unsigned int)
MVIT_EMU_MIN_MAX_(unsigned int, int, unsigned int)
MVIT_EMU_MIN_MAX_(unsigned int, unsigned int, int)
MVIT_EMU_MIN_MAX_(long int, long int, long int)
MVIT_EMU_MIN_MAX_(unsigned long int, unsigned long int, unsigned long int)
MVIT_EMU_MIN_MAX_(unsigned long int, long int, unsigned long int)
MVIT_EMU_MIN_MAX_(unsigned long int, unsigned long int, long int)
MVIT_EMU_MIN_MAX_(long long int, long long int, long long int)
MVIT_EMU_MIN_MAX_(unsigned long long int, unsigned long long int, unsigned long long int)
MVIT_EMU_MIN_MAX_(unsigned long long int, long long int, unsigned long long int)
MVIT_EMU_MIN_MAX_(unsigned long long int, unsigned long long int, long long int)
#undef MVIT_EMU_MIN_MAX_
inline float min(float a, float b) {
  return std::fmin(a, b);
}
inline float max(float a, float b) {
  return std::fmax(a, b);
}
inline double min(double a, double b) {
  return std::fmin(a, b);
}
inline double max(double a, double b) {
  return std::fmax(a, b);
}
inline double min(float a, double b) {
  return std::fmin(static_cast<double>(a), b);
}
inline double max(float a, double b) {
  return std::fmax(static_cast<double>(a), b);
}
inline double min(double a, float b) {
  return std::fmin(a, static_cast<double>(b));
}
inline double max(double a, float b) {
  return std::fmax(a, static_cast<double>(b));
}
inline unsigned int umin(unsigned int a, unsigned int b) {
  return min(a, b);
}
inline unsigned int umax(unsigned int a, unsigned int b) {
  return max(a, b);
}
inline long long int llmin(long long int a, long long int b) {
  return min(a, b);
}
inline long long int llmax(long long int a, long long int b) {
  return max(a, b);
}
inline unsigned long long int ullmin(unsigned long long int a, unsigned long long int b) {
  return min(a, b);
}
inline unsigned long long int ullmax(unsigned long long int a, unsigned long long int b) {
  return max(a, b);
}
inline float __int_as_float(int x) {
  return ::mvit::emu::from_bits<float>(static_cast<uint32_t>(x));
}
inline int __float_as_int(float x) {
  return static_cast<int>(::mvit::emu::to_bits(x));
}
inline float __uint_as_float(unsigned x) {
  return ::mvit::emu::from_bits<float>(x);
}
inline unsigned __float_as_uint(float x) {
  return static_cast<unsigned>(::mvit::emu::to_bits(x));
}
