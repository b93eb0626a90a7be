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
// Every operation is warp-synchronous: the whole warp must call it (checked through __syncwarp
// with the full mask), and load/store check the documented pointer alignment and ldm rules.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
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

template <class Storage, int Size>
struct __frag_base {
  Storage x[Size];
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

constexpr int inverse_scramble(int count) {
  for (int i = 1; i < count; ++i) {
    if ((kScramble * i) % count == 1) return i;
  }
  return 0;
}
// First slot holding logical element e.
constexpr int slot_of_element(int e, int count) {
  return (((e - kOffset) % count + count) % count) * inverse_scramble(count) % count;
}

template <class S>
inline float to_float(S v) {
  return static_cast<float>(v);
}
inline float to_float(__half v) {
  return __half2float(v);
}
inline float to_float(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
inline float truncate_tf32(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits &= ~0x1FFFu;
  std::memcpy(&v, &bits, 4);
  return v;
}

// The whole warp must take part in every wmma operation.
inline void require_warp(const char* file, int line) {
  __syncwarp(0xffffffffu, file, line);
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

}  // namespace detail

template <class Use, int M, int N, int K, class T, class L, class V>
inline void fill_fragment(fragment<Use, M, N, K, T, L>& f, const V& v) {
  using S = typename fragment<Use, M, N, K, T, L>::storage_element_type;
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = static_cast<S>(v);
}

// matrix_a / matrix_b: layout from the fragment type.
template <class Use, int M, int N, int K, class T, class L, class P>
inline void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const P* p, unsigned ldm,
                             const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  static_assert(!std::is_same<Use, accumulator>::value, "accumulator loads take a layout_t");
  detail::require_warp(file, line);
  detail::check_alignment(p, ldm, sizeof(P), file, line);
  using D = detail::dims<Use, M, N, K>;
  constexpr int count = D::rows * D::cols;
  const int lane = static_cast<int>(mvit::emu::t_thread->lane);
  for (int i = 0; i < f.num_elements; ++i) {
    const int e = detail::element_of_slot(lane * f.num_elements + i, count);
    const int r = e / D::cols, c = e % D::cols;
    f.x[i] = std::is_same<L, row_major>::value ? p[r * ldm + c] : p[c * ldm + r];
  }
  detail::require_warp(file, line);
}

template <int M, int N, int K>
inline void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm,
                             layout_t layout, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  detail::require_warp(file, line);
  detail::check_alignment(p, ldm, sizeof(float), file, line);
  const int lane = static_cast<int>(mvit::emu::t_thread->lane);
  for (int i = 0; i < f.num_elements; ++i) {
    const int e = detail::element_of_slot(lane * f.num_elements + i, M * N);
    const int r = e / N, c = e % N;
    f.x[i] = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
  }
  detail::require_warp(file, line);
}

template <int M, int N, int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f,
                              unsigned ldm, layout_t layout, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  detail::require_warp(file, line);
  detail::check_alignment(p, ldm, sizeof(float), file, line);
  const int lane = static_cast<int>(mvit::emu::t_thread->lane);
  for (int i = 0; i < f.num_elements; ++i) {
    const int e = detail::element_of_slot(lane * f.num_elements + i, M * N);
    const int r = e / N, c = e % N;
    (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[i];
  }
  detail::require_warp(file, line);
}

// d = a * b + c, warp-wide. Each lane publishes where its fragments are, reads the operands it
// needs from every lane, and writes its own d slots after the warp has finished reading (d may
// alias c).
template <int M, int N, int K, class T, class LA, class LB>
inline void mma_sync(fragment<accumulator, M, N, K, float>& d,
                     const fragment<matrix_a, M, N, K, T, LA>& a,
                     const fragment<matrix_b, M, N, K, T, LB>& b,
                     const fragment<accumulator, M, N, K, float>& c,
                     const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using FA = fragment<matrix_a, M, N, K, T, LA>;
  using FB = fragment<matrix_b, M, N, K, T, LB>;
  using FC = fragment<accumulator, M, N, K, float>;
  struct Operands {
    const FA* a;
    const FB* b;
    const FC* c;
  } mine{&a, &b, &c};
  mvit::emu::warp_collective(mvit::emu::WarpOp::kGather, 0xffffffffu,
                             reinterpret_cast<uintptr_t>(&mine), 0, 32, file, line);
  const uint64_t* all = mvit::emu::gathered_values();
  auto operands = [&](int lane) { return reinterpret_cast<const Operands*>(all[lane]); };
  constexpr bool tf32 = std::is_same<T, precision::tf32>::value;
  auto a_at = [&](int r, int k) {
    const int s = detail::slot_of_element(r * K + k, M * K);
    const float v = detail::to_float(operands(s / FA::num_elements)->a->x[s % FA::num_elements]);
    return tf32 ? detail::truncate_tf32(v) : v;
  };
  auto b_at = [&](int k, int col) {
    const int s = detail::slot_of_element(k * N + col, K * N);
    const float v = detail::to_float(operands(s / FB::num_elements)->b->x[s % FB::num_elements]);
    return tf32 ? detail::truncate_tf32(v) : v;
  };
  auto c_at = [&](int r, int col) {
    const int s = detail::slot_of_element(r * N + col, M * N);
    return operands(s / FC::num_elements)->c->x[s % FC::num_elements];
  };
  const int lane = static_cast<int>(mvit::emu::t_thread->lane);
  float out[FC::num_elements];
  for (int i = 0; i < FC::num_elements; ++i) {
    const int e = detail::element_of_slot(lane * FC::num_elements + i, M * N);
    const int r = e / N, col = e % N;
    float acc = c_at(r, col);
    for (int k = 0; k < K; ++k) acc += a_at(r, k) * b_at(k, col);
    out[i] = acc;
  }
  __syncwarp(0xffffffffu, file, line);
  for (int i = 0; i < FC::num_elements; ++i) d.x[i] = out[i];
}

}  // namespace wmma
}  // namespace nvcuda
