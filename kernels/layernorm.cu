// LayerNorm over channels with a fused residual add (formula and semantics in layernorm.h).
//
// Layout: x, residual, sum, y are [rows, C] row-major (a token's C channels adjacent: the
// [B, P, N, C] patch-major tokens of a MobileViT block, any B * P * N); gamma, beta are [C].
//
// Variants (Dispatch.impl), chosen on the host from C and the alignment:
// - layernorm_warp_per_row_kernel<T, kV, kPacks> ("layernorm_warp_per_row"), C <= 1024 (128-bit
//   path) or C <= 256 (scalar path): one warp per row, 4 rows per 128-thread block. Lane l holds
//   kPacks packs of kV channels, pack i at channels (32 i + l) kV .. + kV - 1, so every load and
//   store instruction of the warp covers 32 adjacent packs (512 contiguous bytes on the 128-bit
//   path). kPacks is the next power of two >= C / (32 kV) (layernorm_packs_per_lane), which keeps
//   the instance count at <= 4 per (dtype, kV) and the row in registers: at most 32 fp32 values per
//   lane (8 x 4 floats, 4 x 8 halves, 8 x 1 scalar). Every MobileViT dim (64 .. 240) takes one or
//   two packs. The row is read from global memory once (x and residual), the sum written once,
//   y written once: the least traffic the op allows. ptxas (sm_75 / 80 / 90): 22-32 registers
//   for the scalar instances, 24-70 for the 128-bit ones (f32 kPacks 8 the most), 29-52 for the
//   block path; no spills.
// - layernorm_block_per_row_kernel<T, kV> ("layernorm_block_per_row"), larger C up to 2^16: one
//   256-thread block per row, the row too large for one warp's registers. Pass 1 reads x (+
//   residual), writes sum, and folds the row into per-thread moments; pass 2 reads the row again
//   (from `sum` when it was written, else x and residual, recomputing the same rounded sum) and
//   writes y. Each thread reads and writes the same elements in both passes. The second read of a
//   row (at most 256 KB) usually hits L2. Analytic, unmeasured; no MobileViT shape takes this path.
// kV = kVec<T> (one 128-bit access: 4 floats, 8 halves or bf16s) when C % kVec == 0 and every
// given pointer is 16-byte aligned (then every row and every pack is aligned), else kV = 1: the
// scalar fallback, element accesses, from the same code.
//
// Numerics. The sum is rounded to T as soon as it is formed (layernorm.h: the row normalised is
// the sum as stored). Statistics are fp32.
// - Warp path: exact two-pass statistics from registers: mean = (sum of the row) / C, then
//   var = (sum of (s - mean)^2) / C over the same registers, both sums warp butterflies
//   (kernels/common/reduce.cuh, the same bits in every lane). No Welford is needed: the row is
//   already on chip, so the centred second pass costs C FMAs and 5 shuffles, and it has none of the
//   cancellation of E[s^2] - E[s]^2, which loses everything when mean^2 / var approaches 2^24
//   (values 1000 + noise 0.05: ratio 1.2e9; tested by the large-mean cases). The division by C is
//   IEEE (a constant row of exactly representable sums gives mean exactly, var 0, y = beta).
// - Block path: the values do not fit in registers, so one pass keeps (count, mean, M2) per
//   thread: each pack's own moments are computed exactly (two-pass over its kV registers) and
//   merged into the thread's with Chan et al.'s pairwise update (Welford over chunks: one division
//   per pack, not per element), then threads are merged by a warp butterfly and warps in index
//   order through shared memory. Every merge takes the lower-indexed operand first, so all
//   threads end with bitwise the same statistics. Chan's update combines centred moments, so it
//   has no E[s^2] - E[s]^2 cancellation either (the large-mean block case tests it).
// rstd = rsqrtf(var + eps) (2 ulp); y = (s - mean) * rstd * gamma + beta in fp32, rounded once.
// A NaN in a row makes that row's statistics, and so its whole y, NaN; no other row reads it.
//
// Cost (analytic, unmeasured): 4 B per element for f16 without residual (read x, write y), 8 B
// with residual and sum, ~8 flops per element. A batch-1 LN of the S model's first transformer
// stage (1024 x 144 f16, 0.3 MB) is latency-bound, ~2-4 us (shared/reference/performance.md 5.1);
// at batch 256 (75 MB) it is bandwidth-bound, which the one-pass warp path with 128-bit accesses
// is built for (a warp-per-row float4 RMSNorm reaches 92.8% of HBM there, performance.md 5.1).
// Unmeasured here: no GPU yet.
//
// Limits: rows in [1, 2^31 - 1] (the block path's grid.x; the warp path's grid is rows / 4);
// C in [1, 2^16] (fp32 counts are exact to 2^24; 2^16 is the largest C tested); element indices
// are 64-bit.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/layernorm.h"

namespace mvit {

namespace {

// 4 rows per block: rows = 64 (the smallest MobileViT stage at batch 1) still spreads over 16
// blocks, and 1024 rows over 256 (~2 per SM of an H100). Analytic, unmeasured.
constexpr int kWarpRowThreads = 128;
constexpr int kRowsPerBlock = kWarpRowThreads / kWarpSize;
// 8 warps: a 2^16-channel row is 32 packs of 8 (or 256 scalars) per thread, C = 1025 still 4+.
// Analytic, unmeasured (no MobileViT shape takes this path).
constexpr int kBlockRowThreads = 256;
constexpr int kBlockRowWarps = kBlockRowThreads / kWarpSize;
constexpr const char* kImplWarp = "layernorm_warp_per_row";
constexpr const char* kImplBlock = "layernorm_block_per_row";
static_assert(kWarpRowThreads == 128 && kBlockRowThreads == 256,
              "the kernels' launch-bounds literals must equal their launchers' block sizes");

template <class T>
struct LayerNormArgs {
  const T* x;         // [rows, C]
  const T* residual;  // [rows, C] or null
  T* sum;             // [rows, C] or null
  const T* gamma;     // [C]
  const T* beta;      // [C] or null
  T* y;               // [rows, C]
  int64_t rows;
  int C;
  float eps;
};

template <class T>
__device__ float round_to_storage(float v) {
  return to_float(from_float<T>(v));
}

// s = x (+ residual, rounded to T) for the kV channels at element offset i; the sum stored when
// the caller wants it.
template <class T, int kV>
__device__ void load_sum(const LayerNormArgs<T>& a, int64_t i, float (&s)[kV]) {
  load_pack<kV>(a.x + i, s);
  if (a.residual == nullptr) return;
  float r[kV];
  load_pack<kV>(a.residual + i, r);
  for (int j = 0; j < kV; ++j) s[j] = round_to_storage<T>(s[j] + r[j]);
  if (a.sum != nullptr) store_pack<kV>(a.sum + i, s);
}

// y = (s - mean) * rstd * gamma + beta for the kV channels at channel c of the row at `row0`.
template <class T, int kV>
__device__ void store_normalised(const LayerNormArgs<T>& a, int64_t row0, int c,
                                 const float (&s)[kV], float mean, float rstd) {
  float g[kV], b[kV] = {};
  load_pack<kV>(a.gamma + c, g);
  if (a.beta != nullptr) load_pack<kV>(a.beta + c, b);
  float o[kV];
  for (int j = 0; j < kV; ++j) o[j] = fmaf((s[j] - mean) * rstd, g[j], b[j]);
  store_pack<kV>(a.y + row0 + c, o);
}

}  // namespace

template <class T, int kV, int kPacks>
__global__ void MVIT_LAUNCH_BOUNDS(128) layernorm_warp_per_row_kernel(LayerNormArgs<T> a) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  if (row >= a.rows) return;  // the whole warp: no shuffle or barrier follows for it
  const int64_t row0 = row * a.C;
  float s[kPacks][kV] = {};
  float local = 0.0f;
  for (int i = 0; i < kPacks; ++i) {
    const int c = (i * kWarpSize + lane) * kV;
    if (c >= a.C) continue;  // kV divides C on the vector path: a pack is all in or all out
    load_sum<T, kV>(a, row0 + c, s[i]);
    for (int j = 0; j < kV; ++j) local += s[i][j];
  }
  const float mean = warp_reduce(local, SumOp()) / static_cast<float>(a.C);
  local = 0.0f;
  for (int i = 0; i < kPacks; ++i) {
    if ((i * kWarpSize + lane) * kV >= a.C) continue;
    for (int j = 0; j < kV; ++j) {
      const float d = s[i][j] - mean;
      local = fmaf(d, d, local);
    }
  }
  const float var = warp_reduce(local, SumOp()) / static_cast<float>(a.C);
  const float rstd = rsqrtf(var + a.eps);
  for (int i = 0; i < kPacks; ++i) {
    const int c = (i * kWarpSize + lane) * kV;
    if (c < a.C) store_normalised<T, kV>(a, row0, c, s[i], mean, rstd);
  }
}

namespace {

// The moments of `n` values: their mean and the sum of squared deviations from it.
struct Moments {
  float n, mean, m2;
};

// Chan, Golub and LeVeque's pairwise combination. Callers pass the lower-indexed part first, so
// the result is the same wherever it is computed.
__device__ Moments merge(const Moments& a, const Moments& b) {
  if (b.n == 0.0f) return a;
  if (a.n == 0.0f) return b;
  const float n = a.n + b.n, d = b.mean - a.mean, fb = b.n / n;
  return {n, fmaf(d, fb, a.mean), a.m2 + b.m2 + d * d * a.n * fb};
}

// Exact two-pass moments of one pack held in registers.
template <int kV>
__device__ Moments pack_moments(const float (&s)[kV]) {
  float total = 0.0f;
  for (int j = 0; j < kV; ++j) total += s[j];
  const float mean = total / static_cast<float>(kV);
  float m2 = 0.0f;
  for (int j = 0; j < kV; ++j) m2 = fmaf(s[j] - mean, s[j] - mean, m2);
  return {static_cast<float>(kV), mean, m2};
}

// Every thread of the block gets the block's merged moments. scratch: [warps][3] shared floats.
__device__ Moments block_moments(Moments m, float (&scratch)[kBlockRowWarps][3]) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    const Moments o = {__shfl_xor_sync(kFullWarpMask, m.n, offset),
                       __shfl_xor_sync(kFullWarpMask, m.mean, offset),
                       __shfl_xor_sync(kFullWarpMask, m.m2, offset)};
    m = (lane & offset) != 0 ? merge(o, m) : merge(m, o);
  }
  if (lane == 0) {
    scratch[warp][0] = m.n;
    scratch[warp][1] = m.mean;
    scratch[warp][2] = m.m2;
  }
  __syncthreads();
  Moments all = {0.0f, 0.0f, 0.0f};
  for (int w = 0; w < kBlockRowWarps; ++w) {
    all = merge(all, Moments{scratch[w][0], scratch[w][1], scratch[w][2]});
  }
  return all;
}

}  // namespace

template <class T, int kV>
__global__ void MVIT_LAUNCH_BOUNDS(256) layernorm_block_per_row_kernel(LayerNormArgs<T> a) {
  MVIT_SHARED(float, scratch, kBlockRowWarps, 3);  // [warp][n, mean, M2]
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * a.C;
  constexpr int kStride = kBlockRowThreads * kV;
  Moments m = {0.0f, 0.0f, 0.0f};
  for (int c = threadIdx.x * kV; c < a.C; c += kStride) {
    float s[kV];
    load_sum<T, kV>(a, row0 + c, s);
    m = merge(m, pack_moments<kV>(s));
  }
  m = block_moments(m, scratch);
  const float rstd = rsqrtf(m.m2 / static_cast<float>(a.C) + a.eps);
  for (int c = threadIdx.x * kV; c < a.C; c += kStride) {
    float s[kV];
    if (a.sum != nullptr) {
      load_pack<kV>(a.sum + row0 + c, s);  // this thread's own pass-1 store
    } else {
      load_sum<T, kV>(a, row0 + c, s);
    }
    store_normalised<T, kV>(a, row0, c, s, m.mean, rstd);
  }
}

namespace {

template <class T>
LayerNormArgs<T> args_of(const LayerNormParams& p) {
  return {static_cast<const T*>(p.x),
          static_cast<const T*>(p.residual),
          static_cast<T*>(p.sum),
          static_cast<const T*>(p.gamma),
          static_cast<const T*>(p.beta),
          static_cast<T*>(p.y),
          p.rows,
          p.channels,
          p.eps};
}

template <class T, int kV, int kPacks>
void launch_layernorm_warp_per_row(const LayerNormParams& p, Stream stream) {
  const dim3 grid(static_cast<unsigned>((p.rows + kRowsPerBlock - 1) / kRowsPerBlock));
  mvit::launch(layernorm_warp_per_row_kernel<T, kV, kPacks>, grid, dim3(kWarpRowThreads), 0, stream,
               args_of<T>(p));
}

template <class T, int kV>
void launch_layernorm_block_per_row(const LayerNormParams& p, Stream stream) {
  mvit::launch(layernorm_block_per_row_kernel<T, kV>, dim3(static_cast<unsigned>(p.rows)),
               dim3(kBlockRowThreads), 0, stream, args_of<T>(p));
}

// The instances that exist: kPacks in {1, 2, 4, 8} up to the warp path's bound for kV.
template <class T, int kV>
Dispatch layernorm_with_vec(const LayerNormParams& p, Stream stream) {
  constexpr int kMaxChannels =
      kV == 1 ? kLayerNormWarpMaxChannelsScalar : kLayerNormWarpMaxChannelsVec;
  constexpr int kMaxPacks = kMaxChannels / (kWarpSize * kV);
  static_assert(kMaxPacks == 4 || kMaxPacks == 8, "layernorm: the switch below lists 1 .. 8 packs");
  if (p.channels > kMaxChannels) {
    launch_layernorm_block_per_row<T, kV>(p, stream);
    return {kImplBlock, kV};
  }
  switch (layernorm_packs_per_lane(p.channels, kV)) {
    case 1:
      launch_layernorm_warp_per_row<T, kV, 1>(p, stream);
      break;
    case 2:
      launch_layernorm_warp_per_row<T, kV, 2>(p, stream);
      break;
    case 4:
      launch_layernorm_warp_per_row<T, kV, 4>(p, stream);
      break;
    default:
      if constexpr (kMaxPacks == 8) launch_layernorm_warp_per_row<T, kV, 8>(p, stream);
      break;
  }
  return {kImplWarp, kV};
}

bool all_aligned(const LayerNormParams& p, size_t bytes) {
  for (const void* q : {p.x, p.residual, static_cast<const void*>(p.sum), p.gamma, p.beta,
                        static_cast<const void*>(p.y)}) {
    if (q != nullptr && !is_aligned(q, bytes)) return false;
  }
  return true;
}

template <class T>
Dispatch layernorm_typed(const LayerNormParams& p, Stream stream) {
  constexpr int kV = kVec<T>;
  if (p.channels % kV == 0 && all_aligned(p, 16)) return layernorm_with_vec<T, kV>(p, stream);
  return layernorm_with_vec<T, 1>(p, stream);
}

using detail::overlaps;
using detail::Span;

// Outputs against everything else: an exact alias is allowed only where the kernels read an
// element before any thread writes it (y or sum over x or residual), nothing else may overlap.
std::string overlap_reason(const LayerNormParams& p) {
  const size_t es = dtype_size(p.dtype);
  const size_t row_bytes = static_cast<size_t>(p.rows) * p.channels * es;
  const size_t vec_bytes = static_cast<size_t>(p.channels) * es;
  const Span x{"x", p.x, row_bytes}, r{"residual", p.residual, row_bytes};
  const Span g{"gamma", p.gamma, vec_bytes}, b{"beta", p.beta, vec_bytes};
  const Span sum{"sum", p.sum, row_bytes}, y{"y", p.y, row_bytes};
  struct Rule {
    Span out, other;
    bool may_equal;
  };
  const Rule rules[] = {{y, x, true},   {y, r, true},    {y, g, false},
                        {y, b, false},  {y, sum, false}, {sum, x, true},
                        {sum, r, true}, {sum, g, false}, {sum, b, false}};
  for (const Rule& rule : rules) {
    if (rule.out.p == nullptr || rule.other.p == nullptr || !overlaps(rule.out, rule.other)) {
      continue;
    }
    if (rule.may_equal && rule.out.p == rule.other.p) continue;
    return detail::format(
        "%s %p overlaps %s %p (%s)", rule.out.name, rule.out.p, rule.other.name, rule.other.p,
        rule.may_equal ? "allowed only when the two are equal" : "no overlap is allowed there");
  }
  return std::string();
}

std::string unsupported_reason(const LayerNormParams& p) {
  if (p.dtype != DType::kF32 && p.dtype != DType::kF16 && p.dtype != DType::kBF16) {
    return detail::format("dtype %d is not a DType (supported: f32, f16, bf16)",
                          static_cast<int>(p.dtype));
  }
  if (p.x == nullptr) return "x is null";
  if (p.gamma == nullptr) return "gamma is null";
  if (p.y == nullptr) return "y is null";
  if (p.sum != nullptr && p.residual == nullptr) {
    return "sum is given but residual is null (sum stores x + residual)";
  }
  if (p.rows < 1 || p.rows > INT32_MAX) {
    return detail::format("rows must be in [1, 2147483647], got %lld",
                          static_cast<long long>(p.rows));
  }
  if (p.channels < 1 || p.channels > kLayerNormMaxChannels) {
    return detail::format("channels must be in [1, %d], got %d", kLayerNormMaxChannels, p.channels);
  }
  if (!std::isfinite(p.eps) || p.eps <= 0.0f) {
    return detail::format("eps must be finite and > 0, got %g", static_cast<double>(p.eps));
  }
  const size_t es = dtype_size(p.dtype);
  const Span spans[] = {{"x", p.x, 0},         {"residual", p.residual, 0}, {"sum", p.sum, 0},
                        {"gamma", p.gamma, 0}, {"beta", p.beta, 0},         {"y", p.y, 0}};
  for (const Span& s : spans) {
    if (s.p != nullptr && !is_aligned(s.p, es)) {
      return detail::format("%s must be aligned to its %zu-byte %s elements, got address %p",
                            s.name, es, dtype_name(p.dtype), s.p);
    }
  }
  return overlap_reason(p);
}

}  // namespace

bool layernorm_supported(const LayerNormParams& p) {
  return unsupported_reason(p).empty();
}

Dispatch layernorm_forward(const LayerNormParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "layernorm: %s", why.c_str());
  switch (p.dtype) {
    case DType::kF32:
      return layernorm_typed<float>(p, stream);
    case DType::kF16:
      return layernorm_typed<__half>(p, stream);
    case DType::kBF16:
      return layernorm_typed<__nv_bfloat16>(p, stream);
  }
  MVIT_FAIL("layernorm: unreachable dtype %d", static_cast<int>(p.dtype));
}

}  // namespace mvit
