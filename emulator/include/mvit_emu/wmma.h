// nvcuda::wmma for the emulator: the fragment shapes the project uses, with the element counts of
// the toolkit's crt/mma.h, and a deliberately scrambled fragment layout.
//
// Note [scrambled fragments]
// The CUDA Programming Guide leaves the mapping of matrix elements to fragment slots unspecified;
// code may touch frag.x[i] only for operations applied uniformly to every element. Here slot
// s = lane * num_elements + i holds logical element (s * 167 + 13) mod (rows * cols), a bijection
// on each run of rows*cols slots (167 is odd and the counts are powers of two), so a kernel that
// assumes any particular layout reads and writes the wrong elements and fails its test.
//
// Shapes: 16x16x16 with __half or __nv_bfloat16 inputs and float accumulators; 16x16x8 with
// precision::tf32 inputs (held as float) and float accumulators. mma_sync multiplies the inputs
// exactly and accumulates in fp32 in k order; tensor cores differ in order and rounding, so
// results are compared with a tolerance. tf32 inputs are truncated to 10 mantissa bits in
// mma_sync, as the hardware ignores the low bits; __float_to_tf32 rounds to nearest (cvt.rna).
//
// Every operation is warp-synchronous: the whole warp must make the same call, with the same
// pointer, ldm and layout (Note [fragment provenance]); load/store check the documented alignment
// and ldm rules. Note [one lane per warp] says how mma_sync and store_matrix_sync run.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "mvit_emu/device.h"

namespace nvcuda {
namespace wmma {

struct row_major;
struct col_major;
struct matrix_a;
struct matrix_b;
struct accumulator;
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32;
}

namespace detail {
// Note [fragment provenance]
// On a GPU every wmma operation is executed by the whole warp at once. Here load_matrix_sync and
// fill_fragment run lane by lane, without a hand-off (the warp's lanes write only their own
// fragments), and record in each lane's fragment which call wrote it: the operation and its
// fragment type, the pointer (or the fill value's bits), ldm and layout, and the source line. The
// collective operations that consume fragments (mma_sync and store_matrix_sync: one full-mask warp
// collective each) require every lane's operands to come from the same call. So a load that part
// of the warp skipped, made with a lane-dependent pointer, ldm or layout, or a fragment filled
// with different values, is reported at the mma_sync or store that uses it, naming both calls. A
// fragment that nobody consumes is not checked: it cannot change a result.
struct Provenance {
  const char* call = nullptr;  // "load_matrix_sync", "fill_fragment", "mma_sync"; null: none
  const void* op = nullptr;    // the call and its template arguments (OpId)
  uint64_t what = 0;           // load: the pointer; fill: the value's bits; mma_sync: its serial
  unsigned ldm = 0;
  int layout = 0;
  const char* file = nullptr;
  int line = 0;
  bool same_call(const Provenance& o) const {
    return op == o.op && what == o.what && ldm == o.ldm && layout == o.layout;
  }
};
}  // namespace detail

template <class Storage, int Size>
struct __frag_base {
  Storage x[Size];
  detail::Provenance mvit_provenance;  // Note [fragment provenance]
  enum { num_elements = Size };
  using element_type = Storage;
  using storage_element_type = Storage;
};

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment;

#define MVIT_EMU_FRAGMENT_(use, m, n, k, type, layout, storage, size) \
  template <>                                                         \
  class fragment<use, m, n, k, type, layout> : public __frag_base<storage, size> {}
MVIT_EMU_FRAGMENT_(matrix_a, 16, 16, 16, __half, row_major, __half, 16);
MVIT_EMU_FRAGMENT_(matrix_a, 16, 16, 16, __half, col_major, __half, 16);
MVIT_EMU_FRAGMENT_(matrix_b, 16, 16, 16, __half, row_major, __half, 16);
MVIT_EMU_FRAGMENT_(matrix_b, 16, 16, 16, __half, col_major, __half, 16);
MVIT_EMU_FRAGMENT_(matrix_a, 16, 16, 16, __nv_bfloat16, row_major, __nv_bfloat16, 8);
MVIT_EMU_FRAGMENT_(matrix_a, 16, 16, 16, __nv_bfloat16, col_major, __nv_bfloat16, 8);
MVIT_EMU_FRAGMENT_(matrix_b, 16, 16, 16, __nv_bfloat16, row_major, __nv_bfloat16, 8);
MVIT_EMU_FRAGMENT_(matrix_b, 16, 16, 16, __nv_bfloat16, col_major, __nv_bfloat16, 8);
MVIT_EMU_FRAGMENT_(accumulator, 16, 16, 16, float, void, float, 8);
MVIT_EMU_FRAGMENT_(matrix_a, 16, 16, 8, precision::tf32, row_major, float, 4);
MVIT_EMU_FRAGMENT_(matrix_a, 16, 16, 8, precision::tf32, col_major, float, 4);
MVIT_EMU_FRAGMENT_(matrix_b, 16, 16, 8, precision::tf32, row_major, float, 4);
MVIT_EMU_FRAGMENT_(matrix_b, 16, 16, 8, precision::tf32, col_major, float, 4);
MVIT_EMU_FRAGMENT_(accumulator, 16, 16, 8, float, void, float, 8);
#undef MVIT_EMU_FRAGMENT_

inline float __float_to_tf32(float in) {
  if (!(in == in) || in - in != 0.0f) return in;  // NaN and infinities pass through
  uint32_t bits;
  std::memcpy(&bits, &in, 4);
  bits = (bits + 0x1000u) & ~0x1FFFu;  // round half away from zero on the magnitude bits
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

namespace detail {

// Note [one lane per warp]
// mma_sync and store_matrix_sync are one warp collective each (a kGather with the full mask):
// every lane publishes a WarpCall naming its fragments and arguments. The lane that completes the
// collective runs first and performs the operation for the whole warp at once, with the
// permutation tables below, then marks every lane's WarpCall done; the others find theirs done
// when they resume and return. So an mma_sync costs one hand-off per lane and one pass over the
// tiles, where it used to cost two collectives and a lane-by-lane gather of scattered elements
// (135-190 us per mma_sync; emulator/README.md), and loads need no hand-off at all (Note [fragment
// provenance]). Nobody returns before the operation is complete, so every WarpCall (on its lane's
// stack) is live while the first lane reads it, and d may alias c: all of c is read before any of
// d is written.

template <class Use, int M, int N, int K>
struct dims;  // logical rows and columns of each operand
template <int M, int N, int K>
struct dims<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct dims<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct dims<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

constexpr int kScramble = 167;
constexpr int kOffset = 13;

// Logical element (row * cols + col) held by fragment slot s (Note [scrambled fragments]).
constexpr int element_of_slot(int slot, int count) {
  return (slot * kScramble + kOffset) % count;
}

// The scramble as a table, built at compile time: element[lane * num_elements + i] is the logical
// element that frag.x[i] of `lane` holds. Slots [0, count) hold every element once; a fragment
// with more slots than elements repeats the pattern, and mma_sync reads the first copy.
template <int Count, int Slots>
struct Scramble {
  uint16_t element[Slots];
  constexpr Scramble() : element() {
    for (int s = 0; s < Slots; ++s) element[s] = static_cast<uint16_t>(element_of_slot(s, Count));
  }
};
template <int Count, int Slots>
inline constexpr Scramble<Count, Slots> kScrambleTable{};

template <class F, class Use, int M, int N, int K>
struct FragInfo {
  using D = dims<Use, M, N, K>;
  static constexpr int rows = D::rows, cols = D::cols, count = rows * cols;
  static constexpr int num = F::num_elements;
  static constexpr const uint16_t* element = kScrambleTable<count, 32 * num>.element;
};

inline float to_float(float v) {
  return v;
}
// fp16 and bf16 widen through their bits: exact, and much cheaper than the toolkit's host path
// on the 512 values every mma_sync reads.
inline float to_float(__half v) {
  uint16_t h;
  std::memcpy(&h, &v, 2);
  uint32_t bits = static_cast<uint32_t>(h & 0x7fffu) << 13;  // exponent and mantissa
  const uint32_t exponent = bits & 0x0f800000u;
  bits += (127 - 15) << 23;  // rebias
  if (exponent == 0x0f800000u) {
    bits += (128 - 16) << 23;  // infinity or NaN
  } else if (exponent == 0) {  // zero or subnormal: renormalize exactly through the FPU
    bits += 1u << 23;
    float f;
    std::memcpy(&f, &bits, 4);
    f -= 6.103515625e-05f;  // 2^-14
    std::memcpy(&bits, &f, 4);
  }
  bits |= static_cast<uint32_t>(h & 0x8000u) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}
inline float to_float(__nv_bfloat16 v) {
  uint16_t h;
  std::memcpy(&h, &v, 2);
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}
inline float truncate_tf32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits &= ~0x1FFFu;
  std::memcpy(&v, &bits, 4);
  return v;
}

// What one lane publishes to a collective operation (Note [one lane per warp]).
struct WarpCall {
  const void* op;  // the operation and its template arguments (OpId)
  const void* a;   // store: source fragment; mma: a
  const void* b;   // mma: b
  const void* c;   // mma: c
  void* d;         // store: destination memory; mma: d
  unsigned ldm;
  int layout;
  bool done;
};

// One address per operation and set of template arguments.
template <class... T>
struct OpId {
  static constexpr char id = 0;
};
struct LoadOp;
struct FillOp;
struct StoreOp;
struct MmaOp;

[[noreturn]] inline void fault(const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
inline void fault(const char* file, int line, const char* fmt, ...) {
  char text[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  mvit::emu::device_fault(text, file, line);
}

// Runs `body(calls)` once for the warp, on the first lane to resume (Note [one lane per warp]).
template <class Body>
inline void warp_once(WarpCall& mine, const char* what, const char* file, int line, Body&& body) {
  mine.done = false;
  mvit::emu::warp_collective(mvit::emu::WarpOp::kGather, 0xffffffffu,
                             reinterpret_cast<uintptr_t>(&mine), 0, 32, file, line);
  if (mine.done) return;
  const uint64_t* all = mvit::emu::gathered_values();
  WarpCall* calls[32];
  for (int l = 0; l < 32; ++l) {
    calls[l] = reinterpret_cast<WarpCall*>(all[l]);
    if (calls[l]->op != mine.op) {
      fault(file, line,
            "wmma %s: lane %d of the warp calls a different wmma operation or fragment type "
            "(every lane must make the same call)",
            what, l);
    }
  }
  body(calls);
  for (WarpCall* c : calls) c->done = true;
}

// A store takes one pointer, ldm and layout for the whole warp: `memory` is the WarpCall member
// that holds the pointer.
template <class Member>
inline void check_uniform(WarpCall* const* calls, Member memory, const char* what, const char* file,
                          int line) {
  const WarpCall& first = *calls[0];
  for (int l = 1; l < 32; ++l) {
    const WarpCall& c = *calls[l];
    if (c.*memory != first.*memory || c.ldm != first.ldm || c.layout != first.layout) {
      fault(file, line,
            "wmma %s: pointer, ldm and layout must be the same in every lane of the warp; lane 0 "
            "passes (%p, ldm %u, layout %d), lane %d (%p, ldm %u, layout %d)",
            what, static_cast<const void*>(first.*memory), first.ldm, first.layout, l,
            static_cast<const void*>(c.*memory), c.ldm, c.layout);
    }
  }
}

inline void check_alignment(const void* p, unsigned ldm, size_t elem, const char* file, int line) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) {
    mvit::emu::device_fault("wmma load/store: pointer is not 256-bit (32-byte) aligned", file,
                            line);
  }
  if ((ldm * elem) % 16 != 0) {
    mvit::emu::device_fault("wmma load/store: ldm is not a multiple of 16 bytes", file, line);
  }
}

// Loads the calling lane's slots of f from p (row- or column-major, leading dimension ldm).
template <class Info, class F, class P>
inline void load_lane(F& f, const P* p, unsigned ldm, bool row_major) {
  const int lane = static_cast<int>(mvit::emu::t_thread->lane);
  const uint16_t* element = Info::element + lane * Info::num;
  for (int i = 0; i < Info::num; ++i) {
    const int r = element[i] / Info::cols, c = element[i] % Info::cols;
    f.x[i] = row_major ? p[r * ldm + c] : p[c * ldm + r];
  }
}

inline void describe(const Provenance& p, char* out, size_t size) {
  if (p.call == nullptr) {
    std::snprintf(out, size, "never loaded or filled");
  } else if (p.ldm != 0) {
    std::snprintf(out, size, "%s(%p, ldm %u, %s) at %s:%d", p.call,
                  reinterpret_cast<const void*>(static_cast<uintptr_t>(p.what)), p.ldm,
                  p.layout == 0 ? "row-major" : "col-major", p.file, p.line);
  } else {
    std::snprintf(out, size, "%s at %s:%d", p.call, p.file, p.line);
  }
}

// Every lane's operand `name` (the fragment at member `which` of its WarpCall) must come from the
// same call as lane 0's (Note [fragment provenance]).
template <class F>
inline void check_same_call(WarpCall* const* calls, const void* WarpCall::*which, const char* what,
                            const char* name, const char* file, int line) {
  const Provenance& first = static_cast<const F*>(calls[0]->*which)->mvit_provenance;
  for (int l = 1; l < 32; ++l) {
    const Provenance& p = static_cast<const F*>(calls[l]->*which)->mvit_provenance;
    if (p.same_call(first)) continue;
    char a[200], b[200];
    describe(first, a, sizeof a);
    describe(p, b, sizeof b);
    fault(file, line,
          "wmma %s: operand %s of lane %d comes from a different call than lane 0's; every lane "
          "of the warp must make the same load_matrix_sync / fill_fragment call (pointer, ldm and "
          "layout must be the same in every lane). Lane 0: %s; lane %d: %s",
          what, name, l, a, l, b);
  }
}

}  // namespace detail

template <class Use, int M, int N, int K, class T, class L, class V>
inline void fill_fragment(fragment<Use, M, N, K, T, L>& f, const V& v,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using F = fragment<Use, M, N, K, T, L>;
  using S = typename F::storage_element_type;
  const S value = static_cast<S>(v);
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = value;
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(S));
  f.mvit_provenance = {
      "fill_fragment", &detail::OpId<detail::FillOp, F>::id, bits, 0, 0, file, line};
}

// matrix_a / matrix_b: layout from the fragment type. Lane-local (Note [fragment provenance]).
template <class Use, int M, int N, int K, class T, class L, class P>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const P* p, unsigned ldm,
                             const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(!std::is_same<Use, accumulator>::value, "accumulator loads take a layout_t");
  using F = fragment<Use, M, N, K, T, L>;
  constexpr int layout = std::is_same<L, row_major>::value ? 0 : 1;
  detail::check_alignment(p, ldm, sizeof(P), file, line);
  detail::load_lane<detail::FragInfo<F, Use, M, N, K>>(f, p, ldm, layout == 0);
  f.mvit_provenance = {"load_matrix_sync",
                       &detail::OpId<detail::LoadOp, F, P>::id,
                       reinterpret_cast<uintptr_t>(p),
                       ldm,
                       layout,
                       file,
                       line};
}

template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm,
                             layout_t layout, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  using F = fragment<accumulator, M, N, K, float>;
  detail::check_alignment(p, ldm, sizeof(float), file, line);
  detail::load_lane<detail::FragInfo<F, accumulator, M, N, K>>(f, p, ldm, layout == mem_row_major);
  f.mvit_provenance = {"load_matrix_sync",
                       &detail::OpId<detail::LoadOp, F, float>::id,
                       reinterpret_cast<uintptr_t>(p),
                       ldm,
                       static_cast<int>(layout),
                       file,
                       line};
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f,
                              unsigned ldm, layout_t layout, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  using F = fragment<accumulator, M, N, K, float>;
  using Info = detail::FragInfo<F, accumulator, M, N, K>;
  detail::WarpCall mine{&detail::OpId<detail::StoreOp, F>::id,
                        &f,
                        nullptr,
                        nullptr,
                        p,
                        ldm,
                        static_cast<int>(layout),
                        false};
  detail::warp_once(mine, "store_matrix_sync", file, line, [&](detail::WarpCall* const* calls) {
    detail::check_uniform(calls, &detail::WarpCall::d, "store_matrix_sync", file, line);
    detail::check_same_call<F>(calls, &detail::WarpCall::a, "store_matrix_sync", "the accumulator",
                               file, line);
    detail::check_alignment(p, ldm, sizeof(float), file, line);
    const bool row_major = layout == mem_row_major;
    for (int l = 0; l < 32; ++l) {
      const F& src = *static_cast<const F*>(calls[l]->a);
      const uint16_t* element = Info::element + l * Info::num;
      for (int i = 0; i < Info::num; ++i) {
        const int r = element[i] / N, c = element[i] % N;
        (row_major ? p[r * ldm + c] : p[c * ldm + r]) = src.x[i];
      }
    }
  });
}

namespace detail {

// Serials of mma_sync calls: the provenance of their results (Note [fragment provenance]).
inline std::atomic<uint64_t> g_mma_serial{0};

// The dense row-major tile of the fragment at member `which` of every lane's WarpCall, from the
// first copy of each element (slots [0, count)); tf32 inputs lose their low 13 mantissa bits.
template <class Info, class F, bool kTf32>
inline void unscramble(WarpCall* const* calls, const void* WarpCall::*which, float* out) {
  for (int l = 0; l < Info::count / Info::num; ++l) {
    const F& f = *static_cast<const F*>(calls[l]->*which);
    const uint16_t* element = Info::element + l * Info::num;
    for (int i = 0; i < Info::num; ++i) {
      const float v = to_float(f.x[i]);
      out[element[i]] = kTf32 ? truncate_tf32(v) : v;
    }
  }
}

// acc[M][N] += a[M][K] * b[K][N], each element summed in k order with a separate multiply and
// add (exactly what the scalar loop does: the products of fp16, bf16 and tf32 inputs are exact in
// fp32, and no FMA is formed), four columns at a time: GCC -O2 leaves the scalar loop unvectorized.
template <int M, int N, int K>
inline void multiply_accumulate(const float* a, const float* b, float* acc) {
  typedef float Vec4 __attribute__((vector_size(16)));
  static_assert(N == 16, "every shape has 16 columns: four vectors, kept in registers");
  auto load = [](const float* p) {
    Vec4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  for (int r = 0; r < M; ++r) {
    float* out = acc + r * N;
    Vec4 c0 = load(out), c1 = load(out + 4), c2 = load(out + 8), c3 = load(out + 12);
    for (int k = 0; k < K; ++k) {
      const float x = a[r * K + k];
      const Vec4 xs = {x, x, x, x};
      const float* row = b + k * N;
      c0 += xs * load(row);
      c1 += xs * load(row + 4);
      c2 += xs * load(row + 8);
      c3 += xs * load(row + 12);
    }
    std::memcpy(out, &c0, sizeof c0);
    std::memcpy(out + 4, &c1, sizeof c1);
    std::memcpy(out + 8, &c2, sizeof c2);
    std::memcpy(out + 12, &c3, sizeof c3);
  }
}

}  // namespace detail

// d = a * b + c, warp-wide (Note [one lane per warp]): the operands are unscrambled into dense
// tiles, multiplied exactly and accumulated in fp32 in k order, and scattered into every lane's d.
template <int M, int N, int K, class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d,
                     const fragment<matrix_a, M, N, K, T, LA>& a,
                     const fragment<matrix_b, M, N, K, T, LB>& b,
                     const fragment<accumulator, M, N, K, float>& c,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using FA = fragment<matrix_a, M, N, K, T, LA>;
  using FB = fragment<matrix_b, M, N, K, T, LB>;
  using FC = fragment<accumulator, M, N, K, float>;
  using IA = detail::FragInfo<FA, matrix_a, M, N, K>;
  using IB = detail::FragInfo<FB, matrix_b, M, N, K>;
  using IC = detail::FragInfo<FC, accumulator, M, N, K>;
  constexpr bool tf32 = std::is_same<T, precision::tf32>::value;
  const void* op = &detail::OpId<detail::MmaOp, FA, FB>::id;
  detail::WarpCall mine{op, &a, &b, &c, &d, 0, 0, false};
  detail::warp_once(mine, "mma_sync", file, line, [&](detail::WarpCall* const* calls) {
    detail::check_same_call<FA>(calls, &detail::WarpCall::a, "mma_sync", "a", file, line);
    detail::check_same_call<FB>(calls, &detail::WarpCall::b, "mma_sync", "b", file, line);
    detail::check_same_call<FC>(calls, &detail::WarpCall::c, "mma_sync", "c", file, line);
    float ta[M * K], tb[K * N], acc[M * N];
    detail::unscramble<IA, FA, tf32>(calls, &detail::WarpCall::a, ta);
    detail::unscramble<IB, FB, tf32>(calls, &detail::WarpCall::b, tb);
    detail::unscramble<IC, FC, false>(calls, &detail::WarpCall::c, acc);
    detail::multiply_accumulate<M, N, K>(ta, tb, acc);
    const detail::Provenance result{
        "mma_sync", op,  detail::g_mma_serial.fetch_add(1, std::memory_order_relaxed) + 1, 0, 0,
        file,       line};
    for (int l = 0; l < 32; ++l) {
      FC& out = *static_cast<FC*>(calls[l]->d);
      const uint16_t* element = IC::element + l * IC::num;
      for (int i = 0; i < IC::num; ++i) out.x[i] = acc[element[i]];
      out.mvit_provenance = result;
    }
  });
}

}  // namespace wmma
}  // namespace nvcuda
