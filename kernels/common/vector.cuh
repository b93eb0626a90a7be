// Vector packs: how a kernel reads and writes any storage type (DType) with fp32 arithmetic.
//
//   float x[8];
//   load_floats(row + c, x);     // 8 elements of T at row + c, converted to float
//   ...                          // fp32 math
//   store_floats(out + c, x);    // rounded to T (round to nearest even) and stored
//
// A pack of N elements of T moves as one access of sizeof(T) * N bytes (up to 128 bits: 4 floats,
// 8 halves or bf16s) when its address is aligned to that size, and as N scalar accesses otherwise,
// so the same kernel is correct for any pointer and fast for aligned ones; a kernel that knows its
// alignment at dispatch (is_aligned on the host) can use load_pack/store_pack, which always make
// the wide access. kVec<T> is the element count of a 128-bit pack. Device-only (included from .cu
// files).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstddef>
#include <cstdint>

namespace mvit {

__device__ inline float to_float(float x) {
  return x;
}
__device__ inline float to_float(__half x) {
  return __half2float(x);
}
__device__ inline float to_float(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <class T>
__device__ T from_float(float x);
template <>
__device__ inline float from_float<float>(float x) {
  return x;
}
template <>
__device__ inline __half from_float<__half>(float x) {
  return __float2half_rn(x);
}
template <>
__device__ inline __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Elements of T in one 128-bit access.
template <class T>
constexpr int kVec = static_cast<int>(16 / sizeof(T));

__host__ __device__ inline bool is_aligned(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

namespace detail {
// The integer vector type a pack of kBytes moves as: one ld/st.global of that width.
template <int kBytes>
struct RawVec;
template <>
struct RawVec<16> {
  using type = uint4;
};
template <>
struct RawVec<8> {
  using type = uint2;
};
template <>
struct RawVec<4> {
  using type = unsigned int;
};
template <>
struct RawVec<2> {
  using type = unsigned short;
};
}  // namespace detail

// N elements of T that move together. N a power of two, sizeof(T) * N in [2, 16] bytes.
template <class T, int N>
union Pack {
  static_assert((N & (N - 1)) == 0, "Pack: N must be a power of two");
  static_assert(sizeof(T) * N >= 2 && sizeof(T) * N <= 16, "Pack: 2 to 16 bytes");
  static constexpr int kBytes = static_cast<int>(sizeof(T) * N);
  typename detail::RawVec<kBytes>::type raw;
  T v[N];
};

// p must be aligned to sizeof(T) * N bytes.
template <int N, class T>
__device__ void load_pack(const T* p, float (&out)[N]) {
  Pack<T, N> pack;
  pack.raw = *reinterpret_cast<const decltype(pack.raw)*>(p);
  for (int i = 0; i < N; ++i) out[i] = to_float(pack.v[i]);
}

template <int N, class T>
__device__ void store_pack(T* p, const float (&in)[N]) {
  Pack<T, N> pack;
  for (int i = 0; i < N; ++i) pack.v[i] = from_float<T>(in[i]);
  *reinterpret_cast<decltype(pack.raw)*>(p) = pack.raw;
}

// Any p: one wide access when aligned, N scalar ones otherwise.
template <int N, class T>
__device__ void load_floats(const T* p, float (&out)[N]) {
  if (is_aligned(p, Pack<T, N>::kBytes)) {
    load_pack(p, out);
  } else {
    for (int i = 0; i < N; ++i) out[i] = to_float(p[i]);
  }
}

template <int N, class T>
__device__ void store_floats(T* p, const float (&in)[N]) {
  if (is_aligned(p, Pack<T, N>::kBytes)) {
    store_pack(p, in);
  } else {
    for (int i = 0; i < N; ++i) p[i] = from_float<T>(in[i]);
  }
}

}  // namespace mvit
