// Row softmax (formula, non-finite semantics and the vector contract in softmax.h).
//
// Layout. Row r of x starts at x + r * ld_x elements, of y at y + r * ld_y; the columns j < n are
// contiguous. Columns n .. ld - 1 are never read or written.
//
// Variants. Both keep the whole row in registers: one read of x, one write of y, no shared-memory
// staging. A thread holds kCols values of its row, kCols / kPack packs of kPack adjacent columns:
// pack i of thread t covers columns (i * kStride + t) * kPack .. + kPack - 1, where kStride is the
// number of threads sharing the row, so consecutive threads touch consecutive packs (coalesced).
// kPack = softmax_pack(x_dtype, y_dtype) (4 or 8: 16 bytes of the wider type) on the vector path,
// 1 on the scalar one; kCols is a template parameter (a power of two, kPack .. 32) so the values
// are a register array with every index known at compile time.
// - softmax_group_per_row_kernel<TX, TY, kPack, kCols, kGroup> (n <= kSoftmaxGroupMaxCols = 1024):
//   a group of kGroup = 4 .. 32 adjacent lanes of a warp per row, 128 / kGroup rows per block of
//   128 threads. Max and sum are butterflies over the group (log2 kGroup __shfl_xor_sync each, no
//   shared memory, no barrier). The host picks the smallest group, from 4 lanes, in which one pack
//   per lane covers the row, else 32 lanes and the smallest kCols that covers it:
//     scalar: n <= 4, 8, 16, 32 -> 1 value on 4, 8, 16, 32 lanes; n <= 64 .. 1024 -> 2 .. 32 values
//     pack 4: n <= 16, 32, 64, 128 -> 4 values on 4 .. 32 lanes; n <= 256, 512, 1024 -> 8, 16, 32
//     pack 8: n <= 32, 64, 128, 256 -> 8 values on 4 .. 32 lanes; n <= 512, 1024 -> 16, 32
//   The attention rows: N = 16 (f32 scores, pack 4) is 4 lanes x 4 values, 32 rows per block, no
//   idle lane; N = 64: 16 lanes x 4; N = 256: 32 lanes x 8; N = 1024: 32 lanes x 32.
// - softmax_block_per_row_kernel<TX, TY, kPack, kCols> (n > 1024, up to 4096): one block of 128
//   threads per row, kCols = 16 (n <= 2048) or 32 (n <= 4096) values per thread; max and sum with
//   block_reduce (kernels/common/reduce.cuh: two barriers each).
//
// Why these sizes (analytic, unmeasured: no GPU run yet). The op is memory-bound: per element it
// reads 4 bytes of fp32 score and writes 2 of fp16 probability for ~4 FLOP and one exp2, far below
// any GPU's ridge, so the aim is one pass over x, all of the warp's lanes loading, and enough
// loads in flight. A warp per row would idle 28 of 32 lanes at N = 16 and 16 at N = 64 (MobileViT's
// 8x8 and 16x16 stages), hence the groups; a group caps at 32 values per lane (n = 1024) because
// the 4096-long rows of the 1024x1024 input would need 128 per lane, ~150 registers: 3 blocks of
// 128 threads (12 warps) per SM at most, and every value live across two reductions. The block path
// holds 32 per thread instead; 128 threads (not 256) because rows are never scarce there: n > 1024
// only occurs as N > 1024 with S * H * N >= 16 * 1025 rows at batch 1, 124 blocks per SM on 132
// SMs, and smaller blocks mean fewer warps waiting at each of the four barriers. ptxas (CUDA
// 13.0, sm_75 .. sm_90, no spills): 16-31 registers for the instances of <= 8 values per thread,
// 40-64 for 16, 53-79 for 32 (f32 -> f16 at N = 1024: 57 on sm_75, 79 on sm_90); at 80 registers
// a 128-thread block takes 10 K registers, so 6 blocks (24 warps) fit per SM by registers, each
// with 8 independent 16-byte loads per thread in flight: ~100 KB per SM, well past what Little's
// law asks of HBM3 (3.35 TB/s x ~0.6 us / 132 SMs ~ 15 KB).
//
// Numerics. exp(scale x - m) = exp2(scale log2(e) x - m'): the host folds log2(e) into the scale
// (c = scale * log2e, one fp32 rounding) and the kernel computes t = c x, m' = max t, e = exp2f(t -
// m') (CUDA's exp2f: 2 ulp, full range, no fast-math), the fp32 sum of the e (each thread in column
// order, then the butterfly), y = e * (1 / sum), rounded once to y_dtype. Relative error of y_j in
// fp32: ~2^-23 (|t_j| + |m'|) from the rounding of c and of the products, plus the exp2f and sum
// roundings; the tests' scale (tests/reference/softmax_ref.h) accounts for the first term.
// NaN: fmaxf ignores NaN, so m' is the max of the row's other values; exp2f(NaN - m') is NaN, the
// sum is NaN, and so is every y of that row. Columns past n are never loaded (no value, not even
// the poison of unwritten memory, enters a row from outside it) and add an exact 0 to the sum.
// Limits: rows < 2^31 blocks of rows; (rows - 1) * ld + n fits int64.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/common/check.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/softmax.h"

namespace mvit {

namespace {

constexpr int kThreads = 128;  // both kernels' block (file comment: why these sizes)
constexpr int kMinGroup = 4;   // smallest group: 32 rows per block; n <= 4 packs rows 4 lanes wide
constexpr int kMaxPerLane = 32;  // values per thread, both kernels (file comment)
constexpr float kLog2e = 1.4426950408889634f;
constexpr const char* kImplGroup = "softmax_group_per_row";
constexpr const char* kImplBlock = "softmax_block_per_row";

static_assert(kSoftmaxGroupMaxCols == kWarpSize * kMaxPerLane, "group path: 32 lanes x 32");
static_assert(kSoftmaxMaxCols == kThreads * kMaxPerLane, "block path: 128 threads x 32");

// What the kernels need besides their pointers.
struct SoftmaxShape {
  int64_t rows;
  int64_t ld_x, ld_y;  // resolved (never 0)
  int n;
  float c;  // scale * log2(e)
};

}  // namespace

// The per-thread helpers take the row pointer already advanced to the thread's first column
// (first = t * kPack for thread t of the kStride sharing the row), so pack i sits a compile-time
// offset i * kStride * kPack past it: one address register per row instead of one per pack
// (ptxas spilled a per-pack address of the bf16 -> f32, 32-value instance otherwise).

// v[i * kPack + k] = c * x[first + i * kStride * kPack + k], -inf for columns >= n (and when the
// row is not this thread's: inactive).
template <int kPack, int kCols, int kStride, class TX>
__device__ void load_row(const TX* x, int first, int n, float c, bool active, float (&v)[kCols]) {
  MVIT_UNROLL
  for (int i = 0; i < kCols / kPack; ++i) {
    float pack[kPack];
    if (active && first + i * kStride * kPack < n) {
      load_pack<kPack>(x + i * kStride * kPack, pack);
      MVIT_UNROLL
      for (int k = 0; k < kPack; ++k) pack[k] *= c;
    } else {
      MVIT_UNROLL
      for (int k = 0; k < kPack; ++k) pack[k] = -INFINITY;
    }
    MVIT_UNROLL
    for (int k = 0; k < kPack; ++k) v[i * kPack + k] = pack[k];
  }
}

// v[i] <- exp2f(v[i] - m) for the row's columns (exact 0 past n); returns this thread's sum.
template <int kPack, int kCols, int kStride>
__device__ float exp_and_sum(float (&v)[kCols], int first, int n, float m) {
  float sum = 0.0f;
  MVIT_UNROLL
  for (int i = 0; i < kCols / kPack; ++i) {
    const bool in_row = first + i * kStride * kPack < n;
    MVIT_UNROLL
    for (int k = 0; k < kPack; ++k) {
      float& e = v[i * kPack + k];
      e = in_row ? exp2f(e - m) : 0.0f;
      sum += e;
    }
  }
  return sum;
}

// y[first + i * kStride * kPack + k] = v[i * kPack + k] * inv for the row's columns.
template <int kPack, int kCols, int kStride, class TY>
__device__ void store_row(TY* y, int first, int n, float inv, const float (&v)[kCols]) {
  MVIT_UNROLL
  for (int i = 0; i < kCols / kPack; ++i) {
    if (first + i * kStride * kPack >= n) continue;
    float pack[kPack];
    MVIT_UNROLL
    for (int k = 0; k < kPack; ++k) pack[k] = v[i * kPack + k] * inv;
    store_pack<kPack>(y + i * kStride * kPack, pack);
  }
}

// Butterfly over the kGroup adjacent lanes of a group (xor offsets below kGroup never leave it).
// The whole warp calls it (full mask): lanes of inactive rows take part with their identities.
template <int kGroup, class Op>
__device__ float group_reduce(float v, Op op) {
  MVIT_UNROLL
  for (int offset = kGroup / 2; offset > 0; offset /= 2) {
    v = op(v, __shfl_xor_sync(kFullWarpMask, v, offset));
  }
  return v;
}

// x: [rows, n] at ld_x; y: [rows, n] at ld_y (may be x). Grid: ceil(rows / (128 / kGroup)) blocks
// of 128 threads; group g of block b takes row b * (128 / kGroup) + g.
template <class TX, class TY, int kPack, int kCols, int kGroup>
__global__ void MVIT_LAUNCH_BOUNDS(128)
    softmax_group_per_row_kernel(const TX* x, TY* y, SoftmaxShape s) {
  static_assert(kGroup >= kMinGroup && kGroup <= kWarpSize && kCols % kPack == 0, "instance");
  constexpr int kRowsPerBlock = kThreads / kGroup;
  const int first = static_cast<int>(threadIdx.x) % kGroup * kPack;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kGroup;
  const bool active = r < s.rows;
  const int64_t row = active ? r : 0;
  float v[kCols];
  load_row<kPack, kCols, kGroup>(x + row * s.ld_x + first, first, s.n, s.c, active, v);
  float m = -INFINITY;
  MVIT_UNROLL
  for (int i = 0; i < kCols; ++i) m = fmaxf(m, v[i]);
  m = group_reduce<kGroup>(m, MaxOp());
  const float sum =
      group_reduce<kGroup>(exp_and_sum<kPack, kCols, kGroup>(v, first, s.n, m), SumOp());
  if (active) store_row<kPack, kCols, kGroup>(y + row * s.ld_y + first, first, s.n, 1.0f / sum, v);
}

// x, y as above. Grid: rows blocks of 128 threads, block b takes row b.
template <class TX, class TY, int kPack, int kCols>
__global__ void MVIT_LAUNCH_BOUNDS(128)
    softmax_block_per_row_kernel(const TX* x, TY* y, SoftmaxShape s) {
  static_assert(kCols % kPack == 0, "instance");
  MVIT_SHARED(float, scratch, kThreads / kWarpSize);
  const int first = static_cast<int>(threadIdx.x) * kPack;
  const int64_t row = blockIdx.x;
  float v[kCols];
  load_row<kPack, kCols, kThreads>(x + row * s.ld_x + first, first, s.n, s.c, true, v);
  float m = -INFINITY;
  MVIT_UNROLL
  for (int i = 0; i < kCols; ++i) m = fmaxf(m, v[i]);
  m = block_reduce<kThreads>(m, MaxOp(), scratch);
  const float sum = block_reduce<kThreads>(exp_and_sum<kPack, kCols, kThreads>(v, first, s.n, m),
                                           SumOp(), scratch);
  store_row<kPack, kCols, kThreads>(y + row * s.ld_y + first, first, s.n, 1.0f / sum, v);
}

namespace {

using detail::format;

bool valid_dtype(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}

int64_t resolved(int64_t ld, int n) {
  return ld == 0 ? n : ld;
}

// Rows per block of the scalar instance for n: its group is the largest any instance uses for
// this n (a pack of kPack > 1 per lane needs fewer lanes), so its grid bounds every instance's.
int64_t min_rows_per_block(int n) {
  if (n > kSoftmaxGroupMaxCols) return 1;
  int group = kMinGroup;
  while (group < kWarpSize && group < n) group *= 2;
  return kThreads / group;
}

std::string layout_reason(const SoftmaxParams& p) {
  const int64_t ld_x = resolved(p.ld_x, p.n), ld_y = resolved(p.ld_y, p.n);
  if (p.ld_x < 0 || (p.ld_x != 0 && p.ld_x < p.n)) {
    return format("ld_x must be 0 (meaning n) or >= n %d, got %lld", p.n,
                  static_cast<long long>(p.ld_x));
  }
  if (p.ld_y < 0 || (p.ld_y != 0 && p.ld_y < p.n)) {
    return format("ld_y must be 0 (meaning n) or >= n %d, got %lld", p.n,
                  static_cast<long long>(p.ld_y));
  }
  int64_t span_x = 0, span_y = 0;
  if (__builtin_mul_overflow(p.rows - 1, std::max(ld_x, ld_y), &span_x) ||
      __builtin_add_overflow(span_x, static_cast<int64_t>(p.n), &span_y)) {
    return format("rows %lld at ld_x %lld, ld_y %lld exceed int64 element offsets",
                  static_cast<long long>(p.rows), static_cast<long long>(ld_x),
                  static_cast<long long>(ld_y));
  }
  const int64_t per_block = min_rows_per_block(p.n);
  const int64_t blocks = (p.rows + per_block - 1) / per_block;
  if (blocks > INT_MAX) {
    return format("rows must fit the grid: %lld rows of n %d need %lld blocks, the limit is %d",
                  static_cast<long long>(p.rows), p.n, static_cast<long long>(blocks), INT_MAX);
  }
  return std::string();
}

std::string pointer_reason(const SoftmaxParams& p) {
  const size_t ex = dtype_size(p.x_dtype), ey = dtype_size(p.y_dtype);
  if (!is_aligned(p.x, ex)) {
    return format("x must be aligned to its %zu-byte elements, got address %p", ex, p.x);
  }
  if (!is_aligned(p.y, ey)) {
    return format("y must be aligned to its %zu-byte elements, got address %p", ey, p.y);
  }
  const int64_t ld_x = resolved(p.ld_x, p.n), ld_y = resolved(p.ld_y, p.n);
  if (p.y == p.x) {
    if (p.x_dtype != p.y_dtype || ld_x != ld_y) {
      return format(
          "y == x (in place) needs x_dtype == y_dtype and ld_x == ld_y, got %s -> %s, ld_x %lld, "
          "ld_y %lld",
          dtype_name(p.x_dtype), dtype_name(p.y_dtype), static_cast<long long>(ld_x),
          static_cast<long long>(ld_y));
    }
    return std::string();
  }
  const uintptr_t x0 = reinterpret_cast<uintptr_t>(p.x), y0 = reinterpret_cast<uintptr_t>(p.y);
  const uintptr_t x1 = x0 + static_cast<uintptr_t>((p.rows - 1) * ld_x + p.n) * ex;
  const uintptr_t y1 = y0 + static_cast<uintptr_t>((p.rows - 1) * ld_y + p.n) * ey;
  if (x0 < y1 && y0 < x1) {
    return format("y must be x itself (in place) or not overlap it, got x %p .. %p, y %p .. %p",
                  p.x, reinterpret_cast<const void*>(x1), p.y, reinterpret_cast<const void*>(y1));
  }
  return std::string();
}

std::string unsupported_reason(const SoftmaxParams& p) {
  if (p.x == nullptr) return "x is null";
  if (p.y == nullptr) return "y is null";
  if (p.rows < 1) return format("rows must be >= 1, got %lld", static_cast<long long>(p.rows));
  if (p.n < 1 || p.n > kSoftmaxMaxCols) {
    return format("n must be in [1, %d], got %d", kSoftmaxMaxCols, p.n);
  }
  if (!valid_dtype(p.x_dtype)) {
    return format("x_dtype %d is not a DType (supported: f32, f16, bf16)",
                  static_cast<int>(p.x_dtype));
  }
  if (!valid_dtype(p.y_dtype)) {
    return format("y_dtype %d is not a DType (supported: f32, f16, bf16)",
                  static_cast<int>(p.y_dtype));
  }
  if (!std::isfinite(p.scale * kLog2e)) {
    return format("scale must be finite with |scale * log2(e)| < FLT_MAX, got %g", p.scale);
  }
  std::string why = layout_reason(p);
  if (why.empty()) why = pointer_reason(p);
  return why;
}

// The vector contract of softmax.h.
bool vector_path(const SoftmaxParams& p) {
  const int pack = softmax_pack(p.x_dtype, p.y_dtype);
  return p.n % pack == 0 && resolved(p.ld_x, p.n) % pack == 0 &&
         resolved(p.ld_y, p.n) % pack == 0 && is_aligned(p.x, pack * dtype_size(p.x_dtype)) &&
         is_aligned(p.y, pack * dtype_size(p.y_dtype));
}

template <class TX, class TY, int kPack, int kCols, int kGroup>
void launch_group(const void* x, void* y, const SoftmaxShape& s, Stream stream) {
  constexpr int64_t kRowsPerBlock = kThreads / kGroup;
  const unsigned blocks = static_cast<unsigned>((s.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  mvit::launch(softmax_group_per_row_kernel<TX, TY, kPack, kCols, kGroup>, blocks, dim3(kThreads),
               0, stream, static_cast<const TX*>(x), static_cast<TY*>(y), s);
}

template <class TX, class TY, int kPack, int kCols>
void launch_block(const void* x, void* y, const SoftmaxShape& s, Stream stream) {
  mvit::launch(softmax_block_per_row_kernel<TX, TY, kPack, kCols>, static_cast<unsigned>(s.rows),
               dim3(kThreads), 0, stream, static_cast<const TX*>(x), static_cast<TY*>(y), s);
}

// The instance table of the file comment. Branches whose kCols collapses to kPack repeat an
// instance above them and are never taken (n is past them), so they cost no code.
template <class TX, class TY, int kPack>
const char* launch_softmax_as(const void* x, void* y, const SoftmaxShape& s, Stream stream) {
  const int n = s.n;
  if (n > kSoftmaxGroupMaxCols) {
    n <= kThreads * 16 ? launch_block<TX, TY, kPack, 16>(x, y, s, stream)
                       : launch_block<TX, TY, kPack, 32>(x, y, s, stream);
    return kImplBlock;
  }
  if (n <= 4 * kPack) {
    launch_group<TX, TY, kPack, kPack, 4>(x, y, s, stream);
  } else if (n <= 8 * kPack) {
    launch_group<TX, TY, kPack, kPack, 8>(x, y, s, stream);
  } else if (n <= 16 * kPack) {
    launch_group<TX, TY, kPack, kPack, 16>(x, y, s, stream);
  } else if (n <= 32 * kPack) {
    launch_group<TX, TY, kPack, kPack, 32>(x, y, s, stream);
  } else if (n <= 32 * 2) {
    launch_group<TX, TY, kPack, std::max(kPack, 2), 32>(x, y, s, stream);
  } else if (n <= 32 * 4) {
    launch_group<TX, TY, kPack, std::max(kPack, 4), 32>(x, y, s, stream);
  } else if (n <= 32 * 8) {
    launch_group<TX, TY, kPack, std::max(kPack, 8), 32>(x, y, s, stream);
  } else if (n <= 32 * 16) {
    launch_group<TX, TY, kPack, 16, 32>(x, y, s, stream);
  } else {
    launch_group<TX, TY, kPack, 32, 32>(x, y, s, stream);
  }
  return kImplGroup;
}

template <class TX, class TY>
Dispatch launch_softmax_types(const SoftmaxParams& p, const SoftmaxShape& s, Stream stream) {
  constexpr int kPack = 16 / static_cast<int>(std::max(sizeof(TX), sizeof(TY)));
  if (vector_path(p)) return {launch_softmax_as<TX, TY, kPack>(p.x, p.y, s, stream), kPack};
  return {launch_softmax_as<TX, TY, 1>(p.x, p.y, s, stream), 1};
}

template <class TX>
Dispatch launch_softmax_x(const SoftmaxParams& p, const SoftmaxShape& s, Stream stream) {
  switch (p.y_dtype) {
    case DType::kF32:
      return launch_softmax_types<TX, float>(p, s, stream);
    case DType::kF16:
      return launch_softmax_types<TX, __half>(p, s, stream);
    case DType::kBF16:
      return launch_softmax_types<TX, __nv_bfloat16>(p, s, stream);
  }
  MVIT_FAIL("softmax: internal: y_dtype %d passed validation", static_cast<int>(p.y_dtype));
}

}  // namespace

bool softmax_supported(const SoftmaxParams& p) {
  return unsupported_reason(p).empty();
}

Dispatch softmax_forward(const SoftmaxParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "softmax: %s", why.c_str());
  const SoftmaxShape s{p.rows, resolved(p.ld_x, p.n), resolved(p.ld_y, p.n), p.n, p.scale * kLog2e};
  static_assert(
      softmax_pack(DType::kF32, DType::kF16) == 4 && softmax_pack(DType::kF16, DType::kBF16) == 8,
      "softmax_pack: 16 bytes of the wider type");
  switch (p.x_dtype) {
    case DType::kF32:
      return launch_softmax_x<float>(p, s, stream);
    case DType::kF16:
      return launch_softmax_x<__half>(p, s, stream);
    case DType::kBF16:
      return launch_softmax_x<__nv_bfloat16>(p, s, stream);
  }
  MVIT_FAIL("softmax: internal: x_dtype %d passed validation", static_cast<int>(p.x_dtype));
}

}  // namespace mvit
