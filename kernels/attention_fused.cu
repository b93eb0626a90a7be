// The fused attention kernel (op and layouts: kernels/attention_params.h): for every sequence s,
// head h and query i, o[s, h, i, :D] = softmax_j(D^-0.5 q_i . k_j) v_j in one launch, with an
// online softmax over key chunks staged in shared memory; no score leaves the SM.
//
// Instances. kDk = D rounded up to 16 (the wmma k step): d16 (D 8, 16), d32 (20, 24, 30, 32),
// d48 (36, 48), d64 (60, 64), which covers every flavour's head dim (8 .. 60); D > 64 is not
// supported here (attention_fused_problem; kAuto then takes the cuBLAS path). Lanes D .. kDk - 1
// are zero-filled in shared memory, never read from q, k, v; o's lanes D .. Dp - 1 are written as
// exact zeros. Two kernels, chosen on the host by dtype and compute capability (not cached: the
// emulated tests change the capability at run time, and it is two attribute queries):
// - attention_fused_wmma_kernel<T, kDk> ("fused_wmma_d<kDk>"): f16 on every supported device, bf16
//   on compute capability >= 8.0 (Note [bf16 fragments before sm_80], wmma_support.cuh).
// - attention_fused_simt_kernel<T, kDk> ("fused_simt_d<kDk>"): f32 (fp32 FMAs: the 1e-5 rule of
//   fp32 storage rules out tf32 fragments), and bf16 below 8.0 (converted to fp32 on load).
//
// Row space. Both kernels see a block as kTileRows = 64 "packed" query rows. rows_per_seq = N
// rounded up to 16. Packed (rows_per_seq <= 64): the block holds G = 64 / rows_per_seq whole (s, h)
// sequences (units u = s * H + h, G consecutive ones per block), packed row r is token r %
// rows_per_seq of unit r / rows_per_seq, and the same map places their keys in the staged chunk,
// so a 64-row tile is not spent on 16 tokens: N = 16 -> 4 sequences per block, N = 17 .. 32 -> 2,
// N = 33 .. 64 -> 1 (48-row sequences leave 16 rows idle). Otherwise the block holds query rows
// 64 t .. 64 t + 63 of one unit (grid: units x ceil(N / 64) query tiles, tiles fastest, so the
// blocks that share a unit's K and V run together) and walks its keys in chunks of 64. Rows and
// keys past N (and units past S * H) are zero in shared memory, never loaded; scores of keys past
// N are set to -inf by selection, and a warp or thread only ever touches the keys of its own unit,
// so neither a NaN of another (s, h) nor the zeros multiply into its rows.
//
// WMMA kernel: 4 warps, 128 threads; warp w owns packed rows 16 w .. 16 w + 15 (one unit's: 16
// divides rows_per_seq). Registers: its Q rows as kDk / 16 matrix_a fragments (loaded once from
// the Q tile staged through the K buffer), the running max m and sum l of one row per lane pair.
// Shared memory (static, < 48 KiB, so sm_75 needs no opt-in), per block:
//   K, V chunks   2 x 64 x (kDk + 8) x 2 B   (+8 lanes: 16-byte rows whose 4-word shift spreads a
//                                             fragment's rows over the banks)
//   per warp      S [16][36] fp32 (P [16][40] of T overwrites it) + O [16][kDk + 4] fp32
//   kDk 16: 6144 + 4 x 3584 = 20480 B   kDk 32: 10240 + 4 x 4608 = 28672 B
//   kDk 48: 14336 + 4 x 5632 = 36864 B  kDk 64: 18432 + 4 x 6656 = 45056 B
// Per step of kKeyStep = 32 keys of the warp's unit (16 when only 16 remain in its region):
// S = Q K^T (K rows as col_major matrix_b) -> S tile; lane pairs take one row each (16 scores a
// lane): t = S * D^-0.5 log2(e), masked, m' = max(m, max t), alpha = exp2f(m - m'), p = exp2f(t -
// m') (reference 0 while m' is -inf: no inf - inf), l = alpha l + sum p, P (rounded to T) -> P
// tile, O row *= alpha; then O (loaded as an accumulator) += P V (V rows as row_major matrix_b),
// stored back. At the end O / l, rounded once, goes to o.
// Why these tiles (analytic, unmeasured: no GPU run yet). 64 query rows per block: 4 warps of 16
// (the fragment height) is the smallest block that packs four N = 16 sequences, and each staged
// K or V element then feeds 64 query rows: 2 x 64 FLOP per 2-byte element. 64-key chunks: with 64
// query rows the block's K and V fit beside the per-warp tiles below 48 KiB at kDk 64 (45056 B),
// and one chunk covers a whole packed block. 32-key steps: the S and O tiles and their
// shared-memory round trips are per step, so 32 halves their count against 16, while a 64-key step
// needs an S tile of 4 KiB per warp (64 KiB per block at kDk 64 with K, V and O: over the static
// limit). Keeping O in shared memory rather than accumulator registers is forced by the row-wise
// rescale: a fragment's element-to-row map is unspecified, so alpha cannot be applied to an
// accumulator. Blocks per SM by shared memory (64 / 164 / 227 KiB, 1 KiB reserved per block on
// sm_80+): sm_75 3 / 2 / 1 / 1, sm_80 7 / 5 / 4 / 3, sm_90 10 / 7 / 6 / 5 for kDk 16 / 32 / 48 / 64
// (d64 on sm_90: 4 by its 118 registers).
//
// SIMT kernel: 64 threads, one packed query row each: q (kDk fp32) and the unnormalised o (kDk
// fp32) in registers, K and V chunks as fp32 in shared memory, 2 x 64 x (kDk + 4) x 4 B = 10240 /
// 18432 / 26624 / 34816 B for kDk 16 / 32 / 48 / 64 (+4 lanes: two units' rows read by one warp
// fall in different banks). Keys in blocks of kSimtKeyBlock = 16: 16 scores in registers, one
// rescale of o per block instead of per key, then o += p v. Why (analytic, unmeasured): a thread
// per row keeps every dot product a register FMA chain with K and V rows broadcast from shared
// memory to the warp (one or two rows per load in packed blocks); ~2 x 64 + 16 live floats at kDk
// 64 fit the 255-register limit at 64 threads, and 16-key blocks bound the live scores while
// amortising the exp2f of alpha 16-fold. This path is f32 and pre-sm_80 bf16 only.
//
// Registers (ptxas, CUDA 13.0; no spills, no stack frame on sm_75 / sm_80 / sm_90):
//   wmma f16   d16 / d32 / d48 / d64   sm_75 80 / 90 / 79 / 96     sm_90 80 / 96 / 90 / 99
//   wmma bf16                          sm_80 87 / 91 / 96 / 114    sm_90 103 / 103 / 107 / 118
//   simt f32                           sm_75 120 / 159 / 193 / 246 sm_90 79 / 145 / 168 / 242
//   simt bf16                          sm_75 122 / 161 / 220 / 217 sm_90 95 / 143 / 168 / 220
// (sm_75 wmma bf16 compiles to an empty kernel, never launched.) At 64 threads the SIMT d64
// kernel's ~240 registers allow 4 blocks per SM by registers; its 34816 B of shared memory allow 1
// (sm_75), 4 (sm_80), 6 (sm_90): the f32 path is the exactness path, not the model's.
//
// Global loads (Dispatch.vec): each staged row segment of q, k, v moves in packs of w elements, w
// the widest of 16 bytes (8 halves, 4 floats), 8, 4 bytes ... 1 element that divides D, every q, k,
// v stride of a dimension of extent > 1, and the element address of q, k, v; o is stored in packs
// chosen by the same rule over Dp, o's strides and o. Strides are int64 in every address.
//
// Numerics. fp32 scores, softmax and accumulation; f16 / bf16: P rounded to T for the P V product
// (the sum l is of the unrounded p), o = (sum P v) / l rounded once (tests: AttentionRounding::
// kFused); SIMT: p stays fp32. exp(t - m) = exp2(t log2(e) - m'): log2(e) folded into the scale on
// the host (one fp32 rounding; relative error ~2^-23 |t|, as the softmax kernel's). NaN: a NaN
// score (a NaN in q_i, or in a k_j of the same unit) is ignored by fmaxf, so m stays finite,
// exp2f(NaN) is NaN and so are l and that row's o; a NaN in v_j reaches only the rows of its own
// unit (P V of another unit never reads it). Masking is by selection, never by multiplying by 0.
// Limits: D <= 64, N <= kAttentionMaxTokens, S H <= 2^31 - 65 (kMaxUnits), blocks = ceil(S H / G)
// x query tiles < 2^31.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>

#include "kernels/attention_fused.h"
#include "kernels/common/check.h"
#include "kernels/common/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/common/wmma_support.cuh"

namespace mvit {

namespace {

constexpr int kTileRows = 64;      // packed query rows per block, key rows per staged chunk
constexpr int kSeqAlign = 16;      // rows_per_seq = N rounded up to the wmma fragment height
constexpr int kFrag = 16;          // wmma 16x16x16
constexpr int kWarps = 4;          // WMMA kernel: one warp per 16 packed rows
constexpr int kWmmaThreads = 128;  // kWarps warps
constexpr int kSimtThreads = 64;   // one thread per packed row
constexpr int kKeyStep = 32;       // keys per online-softmax step of a WMMA warp (file comment)
constexpr int kSimtKeyBlock = 16;  // keys per online-softmax step of a SIMT thread
constexpr int kMaxHeadDim = 64;    // the widest instance, d64
// S * H: unit indices (and a block's first unit + 64) stay 32-bit ints in the kernels, so the
// row addressing divides by H in 32 bits (a 64-bit division is a far longer sequence on the GPU).
constexpr int kMaxUnits = INT_MAX - kTileRows;
constexpr int kLdS = kKeyStep + 4;  // fp32 score rows: 144 B, a multiple of 16 B (wmma's ldm rule)
constexpr int kLdP = kKeyStep + 8;  // P rows of T: 80 B
constexpr float kLog2e = 1.4426950408889634f;
static_assert(kWmmaThreads == 32 * kWarps && kTileRows == kFrag * kWarps, "a warp per 16 rows");
static_assert(kSimtThreads == kTileRows, "a SIMT thread per packed row");
static_assert(kKeyStep == 2 * kFrag, "a step is at most two key fragments");

// What the kernels know besides their pointers.
struct FusedShape {
  AttentionStrides qs, ks, vs, os;  // elements
  int units;                        // S * H (<= kMaxUnits): unit u is sequence u / H, head u % H
  int heads, tokens, head_dim, head_dim_padded;
  int rows_per_seq;   // N rounded up to kSeqAlign
  int group;          // units per block: packed 64 / rows_per_seq, else 1
  int tiles;          // query tiles per unit and key chunks: packed 1, else ceil(N / 64)
  bool packed;        // rows_per_seq <= kTileRows
  float score_scale;  // D^-0.5 * log2(e)
  int vec, out_vec;   // pack widths of the q / k / v loads and of the o stores (file comment)
};

// Packed row r of tile `tile` (a query tile, or a key chunk: the map is the same): unit u0 + g,
// token `token`.
struct RowRef {
  int g;
  int token;
};

}  // namespace

__device__ inline RowRef tile_row(const FusedShape& s, int r, int tile) {
  if (s.packed) return {r / s.rows_per_seq, r % s.rows_per_seq};
  return {0, tile * kTileRows + r};
}

__device__ inline bool row_valid(const FusedShape& s, RowRef rr, int u0) {
  return rr.g < s.group && u0 + rr.g < s.units && rr.token < s.tokens;
}

// Element offset of lane 0 of token t of unit u.
__device__ inline int64_t row_offset(const AttentionStrides& st, const FusedShape& s, int u,
                                     int t) {
  return (u / s.heads) * st.seq + (u % s.heads) * st.head + static_cast<int64_t>(t) * st.row;
}

// dst[r][0 .. kDk) (row pitch kLd elements of TS) <- lanes 0 .. D-1 of tile row r of src in packs
// of kW, converted to TS; zero past D and for rows outside the problem.
template <int kDk, int kLd, int kW, int kThreads, class TS, class T>
__device__ void stage_rows_as(TS* dst, const T* src, const AttentionStrides& st,
                              const FusedShape& s, int u0, int tile) {
  constexpr int kPerRow = kDk / kW;
  for (int e = threadIdx.x; e < kTileRows * kPerRow; e += kThreads) {
    const int r = e / kPerRow, c = (e % kPerRow) * kW;
    const RowRef rr = tile_row(s, r, tile);
    TS* out = dst + r * kLd + c;
    if (c < s.head_dim && row_valid(s, rr, u0)) {
      Pack<T, kW> in;
      in.raw = *reinterpret_cast<const decltype(in.raw)*>(
          src + row_offset(st, s, u0 + rr.g, rr.token) + c);
      if constexpr (std::is_same_v<TS, T>) {
        *reinterpret_cast<decltype(in.raw)*>(out) = in.raw;
      } else {
        for (int i = 0; i < kW; ++i) out[i] = to_float(in.v[i]);
      }
    } else {
      for (int i = 0; i < kW; ++i) out[i] = from_float<TS>(0.0f);
    }
  }
}

template <int kDk, int kLd, int kThreads, class TS, class T>
__device__ void stage_rows(TS* dst, const T* src, const AttentionStrides& st, const FusedShape& s,
                           int u0, int tile) {
  if constexpr (kVec<T> == 8) {
    if (s.vec == 8) return stage_rows_as<kDk, kLd, 8, kThreads>(dst, src, st, s, u0, tile);
  }
  if (s.vec == 4) return stage_rows_as<kDk, kLd, 4, kThreads>(dst, src, st, s, u0, tile);
  if (s.vec == 2) return stage_rows_as<kDk, kLd, 2, kThreads>(dst, src, st, s, u0, tile);
  stage_rows_as<kDk, kLd, 1, kThreads>(dst, src, st, s, u0, tile);
}

// The keys a warp or thread of unit slot g walks in chunk c: rows first .. first + rows - 1 of the
// staged chunk (rows: a multiple of 16), whose token indices start at token0.
struct KeyRange {
  int first, rows, token0;
};

__device__ inline KeyRange key_range(const FusedShape& s, int g, int c) {
  if (s.packed) return {g * s.rows_per_seq, s.rows_per_seq, 0};
  const int left = s.tokens - c * kTileRows;
  const int rows = left >= kTileRows ? kTileRows : (left + kSeqAlign - 1) / kSeqAlign * kSeqAlign;
  return {0, rows, c * kTileRows};
}

// ---------------------------------------------------------------------------------------------
// WMMA kernel.

namespace {

template <class T, int kDk>
struct alignas(32) WmmaSmem {
  static constexpr int kLdKV = kDk + 8;  // file comment: 16-byte rows, shifted banks
  static constexpr int kLdO = kDk + 4;
  T k[kTileRows][kLdKV];  // the Q tile, then each key chunk: [packed row][lane]
  T v[kTileRows][kLdKV];
  struct alignas(32) Warp {
    union {
      float s[kFrag][kLdS];  // scores of one step
      T p[kFrag][kLdP];      // their probabilities (written after every lane read its scores)
    };
    float o[kFrag][kLdO];  // the warp's unnormalised output rows
  } warp[kWarps];
};

}  // namespace

// One online-softmax step of a warp over `frags` (1 or 2) fragments of 16 keys: kt, vt point at
// the step's first key row in the staged K and V; token0 is that row's token index. Lane pair
// (2 r, 2 r + 1) keeps m and l of row r.
template <class T, int kDk, class FragA>
__device__ void wmma_step(const FragA (&qa)[kDk / kFrag], const T* kt, const T* vt,
                          typename WmmaSmem<T, kDk>::Warp& w, int frags, int token0,
                          const FusedShape& s, float& m, float& l) {
  namespace wmma = nvcuda::wmma;
  constexpr int kLdKV = WmmaSmem<T, kDk>::kLdKV, kLdO = WmmaSmem<T, kDk>::kLdO;
  // S = Q K^T.
  MVIT_UNROLL
  for (int j = 0; j < 2; ++j) {
    if (j >= frags) break;
    wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    MVIT_UNROLL
    for (int kk = 0; kk < kDk / kFrag; ++kk) {
      wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::col_major> kb;
      wmma::load_matrix_sync(kb, kt + j * kFrag * kLdKV + kk * kFrag, kLdKV);
      wmma::mma_sync(acc, qa[kk], kb, acc);
    }
    wmma::store_matrix_sync(&w.s[0][j * kFrag], acc, kLdS, wmma::mem_row_major);
  }
  __syncwarp();

  // Online softmax of row r, columns 16 half .. 16 half + 15.
  const int lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
  float x[kFrag];
  float mx = -INFINITY;
  MVIT_UNROLL
  for (int i = 0; i < kFrag; ++i) {
    const int col = half * kFrag + i;
    const bool key = col < frags * kFrag && token0 + col < s.tokens;
    x[i] = key ? w.s[r][col] * s.score_scale : -INFINITY;
    mx = fmaxf(mx, x[i]);
  }
  mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
  const float m_new = fmaxf(m, mx);
  const float ref = m_new == -INFINITY ? 0.0f : m_new;
  const float alpha = exp2f(m - ref);
  float sum = 0.0f;
  MVIT_UNROLL
  for (int i = 0; i < kFrag; ++i) {
    x[i] = exp2f(x[i] - ref);
    sum += x[i];
  }
  sum += __shfl_xor_sync(0xffffffffu, sum, 1);
  l = alpha * l + sum;
  m = m_new;
  __syncwarp();  // every lane has read its scores: P may overwrite them
  MVIT_UNROLL
  for (int i = 0; i < kFrag; ++i) w.p[r][half * kFrag + i] = from_float<T>(x[i]);
  for (int d = half * (kDk / 2); d < (half + 1) * (kDk / 2); ++d) w.o[r][d] *= alpha;
  __syncwarp();

  // O += P V.
  wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> pa[2];
  MVIT_UNROLL
  for (int t = 0; t < 2; ++t) {
    if (t < frags) wmma::load_matrix_sync(pa[t], &w.p[0][t * kFrag], kLdP);
  }
  MVIT_UNROLL
  for (int f = 0; f < kDk / kFrag; ++f) {
    wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> acc;
    wmma::load_matrix_sync(acc, &w.o[0][f * kFrag], kLdO, wmma::mem_row_major);
    MVIT_UNROLL
    for (int t = 0; t < 2; ++t) {
      if (t >= frags) break;
      wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major> vb;
      wmma::load_matrix_sync(vb, vt + t * kFrag * kLdKV + f * kFrag, kLdKV);
      wmma::mma_sync(acc, pa[t], vb, acc);
    }
    wmma::store_matrix_sync(&w.o[0][f * kFrag], acc, kLdO, wmma::mem_row_major);
  }
  __syncwarp();
}

// o rows of the warp's 16 packed rows (from row0) <- w.o (already divided by l), lanes D .. Dp-1
// zero, in packs of kW.
template <int kW, class T, int kDk>
__device__ void wmma_store_rows_as(const typename WmmaSmem<T, kDk>::Warp& w, T* o,
                                   const FusedShape& s, int u0, int tile, int row0) {
  const int per_row = s.head_dim_padded / kW;
  for (int e = threadIdx.x % 32; e < kFrag * per_row; e += 32) {
    const int r = e / per_row, c = (e % per_row) * kW;
    const RowRef rr = tile_row(s, row0 + r, tile);
    if (!row_valid(s, rr, u0)) continue;
    float out[kW];
    for (int i = 0; i < kW; ++i) out[i] = c + i < s.head_dim ? w.o[r][c + i] : 0.0f;
    store_pack(o + row_offset(s.os, s, u0 + rr.g, rr.token) + c, out);
  }
}

template <class T, int kDk>
__device__ void wmma_store_rows(typename WmmaSmem<T, kDk>::Warp& w, float l, T* o,
                                const FusedShape& s, int u0, int tile, int row0) {
  const int lane = threadIdx.x % 32, r = lane / 2, half = lane % 2;
  for (int d = half * (kDk / 2); d < (half + 1) * (kDk / 2); ++d) w.o[r][d] = w.o[r][d] / l;
  __syncwarp();
  if constexpr (kVec<T> == 8) {
    if (s.out_vec == 8) return wmma_store_rows_as<8, T, kDk>(w, o, s, u0, tile, row0);
  }
  if (s.out_vec == 4) return wmma_store_rows_as<4, T, kDk>(w, o, s, u0, tile, row0);
  if (s.out_vec == 2) return wmma_store_rows_as<2, T, kDk>(w, o, s, u0, tile, row0);
  wmma_store_rows_as<1, T, kDk>(w, o, s, u0, tile, row0);
}

// q, k, v, o: addressed by s's strides ([S, H, N, Dp] views). Grid: ceil(S H / G) x tiles blocks,
// tiles fastest; kWmmaThreads threads. Launch bounds: at least 4 blocks per SM, i.e. at most 128
// registers a thread. Without the cap ptxas (CUDA 13.0) chose 56 - 80 registers and spilled 4 - 20
// bytes in some bf16 instances on sm_80 / sm_90; with it every instance fits (file comment) without
// spills, and the cap costs little: shared memory allows 1 - 10 blocks (file comment), registers
// at <= 118 a thread 4 or more.
template <class T, int kDk>
__global__ void MVIT_LAUNCH_BOUNDS(128, 4)
    attention_fused_wmma_kernel(const T* q, const T* k, const T* v, T* o, FusedShape s) {
  if constexpr (kWmmaInput<T>) {  // Note [bf16 fragments before sm_80] (wmma_support.cuh)
    namespace wmma = nvcuda::wmma;
    using Smem = WmmaSmem<T, kDk>;
    MVIT_SHARED(Smem, sm, 1);
    Smem& smem = sm[0];
    const int u0 = static_cast<int>(blockIdx.x / s.tiles) * s.group;
    const int tile = static_cast<int>(blockIdx.x % s.tiles);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    typename Smem::Warp& w = smem.warp[warp];
    const RowRef first = tile_row(s, warp * kFrag, tile);
    const bool active = row_valid(s, first, u0);  // warp-uniform: its first row is a query

    // Phase 1: the Q tile through the K buffer into fragments; O = 0.
    stage_rows<kDk, Smem::kLdKV, kWmmaThreads>(&smem.k[0][0], q, s.qs, s, u0, tile);
    for (int e = lane; e < kFrag * Smem::kLdO; e += 32) w.o[e / Smem::kLdO][e % Smem::kLdO] = 0.0f;
    __syncthreads();
    wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> qa[kDk / kFrag];
    if (active) {
      MVIT_UNROLL
      for (int kk = 0; kk < kDk / kFrag; ++kk) {
        wmma::load_matrix_sync(qa[kk], &smem.k[warp * kFrag][kk * kFrag], Smem::kLdKV);
      }
    }
    __syncthreads();  // the K buffer is free

    // Phase 2: key chunks; each warp steps over its own unit's keys.
    float m = -INFINITY, l = 0.0f;
    for (int c = 0; c < s.tiles; ++c) {
      stage_rows<kDk, Smem::kLdKV, kWmmaThreads>(&smem.k[0][0], k, s.ks, s, u0, c);
      stage_rows<kDk, Smem::kLdKV, kWmmaThreads>(&smem.v[0][0], v, s.vs, s, u0, c);
      __syncthreads();
      if (active) {
        const KeyRange kr = key_range(s, first.g, c);
        for (int st = 0; st < kr.rows; st += kKeyStep) {
          const int frags = kr.rows - st >= kKeyStep ? 2 : 1;
          wmma_step<T, kDk>(qa, &smem.k[kr.first + st][0], &smem.v[kr.first + st][0], w, frags,
                            kr.token0 + st, s, m, l);
        }
      }
      __syncthreads();  // the chunk is consumed
    }

    // Phase 3: o = O / l.
    if (active) wmma_store_rows<T, kDk>(w, l, o, s, u0, tile, warp * kFrag);
  }
}

// ---------------------------------------------------------------------------------------------
// SIMT kernel.

namespace {

template <int kDk>
struct alignas(16) SimtSmem {
  static constexpr int kLd = kDk + 4;  // file comment: two rows per warp load in distinct banks
  float k[kTileRows][kLd];
  float v[kTileRows][kLd];
};

}  // namespace

// x[0 .. kDk) <- lanes 0 .. D-1 of the row at p in packs of kW (zero past D).
template <int kW, int kDk, class T>
__device__ void load_row_as(const T* p, int head_dim, float (&x)[kDk]) {
  MVIT_UNROLL
  for (int c = 0; c < kDk; c += kW) {
    float in[kW];
    if (c < head_dim) {
      load_pack(p + c, in);
    } else {
      for (int i = 0; i < kW; ++i) in[i] = 0.0f;
    }
    for (int i = 0; i < kW; ++i) x[c + i] = in[i];
  }
}

template <int kDk, class T>
__device__ void load_row(const T* p, const FusedShape& s, float (&x)[kDk]) {
  if constexpr (kVec<T> == 8) {
    if (s.vec == 8) return load_row_as<8>(p, s.head_dim, x);
  }
  if (s.vec == 4) return load_row_as<4>(p, s.head_dim, x);
  if (s.vec == 2) return load_row_as<2>(p, s.head_dim, x);
  load_row_as<1>(p, s.head_dim, x);
}

// The row at p <- x / l on lanes < D, zeros on D .. Dp-1, in packs of kW.
template <int kW, int kDk, class T>
__device__ void store_row_as(T* p, const float (&x)[kDk], float l, const FusedShape& s) {
  MVIT_UNROLL
  for (int c = 0; c < kDk; c += kW) {
    if (c >= s.head_dim_padded) return;
    float out[kW];
    for (int i = 0; i < kW; ++i) out[i] = c + i < s.head_dim ? x[c + i] / l : 0.0f;
    store_pack(p + c, out);
  }
  const float zero[kW] = {};
  for (int c = kDk; c < s.head_dim_padded; c += kW) store_pack(p + c, zero);
}

template <int kDk, class T>
__device__ void store_row(T* p, const float (&x)[kDk], float l, const FusedShape& s) {
  if constexpr (kVec<T> == 8) {
    if (s.out_vec == 8) return store_row_as<8>(p, x, l, s);
  }
  if (s.out_vec == 4) return store_row_as<4>(p, x, l, s);
  if (s.out_vec == 2) return store_row_as<2>(p, x, l, s);
  store_row_as<1>(p, x, l, s);
}

// One online-softmax step of a thread over kSimtKeyBlock keys: kt, vt the first key's rows (pitch
// kLd); token0 its token index.
template <int kDk, int kLd>
__device__ void simt_step(const float (&qr)[kDk], float (&acc)[kDk], const float* kt,
                          const float* vt, int token0, const FusedShape& s, float& m, float& l) {
  float x[kSimtKeyBlock];
  float mx = -INFINITY;
  MVIT_UNROLL
  for (int j = 0; j < kSimtKeyBlock; ++j) {
    float dot = 0.0f;
    MVIT_UNROLL
    for (int d = 0; d < kDk; ++d) dot += qr[d] * kt[j * kLd + d];
    x[j] = token0 + j < s.tokens ? dot * s.score_scale : -INFINITY;
    mx = fmaxf(mx, x[j]);
  }
  const float m_new = fmaxf(m, mx);
  const float ref = m_new == -INFINITY ? 0.0f : m_new;
  const float alpha = exp2f(m - ref);
  MVIT_UNROLL
  for (int d = 0; d < kDk; ++d) acc[d] *= alpha;
  float sum = 0.0f;
  MVIT_UNROLL
  for (int j = 0; j < kSimtKeyBlock; ++j) {
    const float p = exp2f(x[j] - ref);
    sum += p;
    MVIT_UNROLL
    for (int d = 0; d < kDk; ++d) acc[d] += p * vt[j * kLd + d];
  }
  l = alpha * l + sum;
  m = m_new;
}

// Same contract as attention_fused_wmma_kernel; kSimtThreads threads.
template <class T, int kDk>
__global__ void MVIT_LAUNCH_BOUNDS(64)
    attention_fused_simt_kernel(const T* q, const T* k, const T* v, T* o, FusedShape s) {
  using Smem = SimtSmem<kDk>;
  MVIT_SHARED(Smem, sm, 1);
  Smem& smem = sm[0];
  const int u0 = static_cast<int>(blockIdx.x / s.tiles) * s.group;
  const int tile = static_cast<int>(blockIdx.x % s.tiles);
  const RowRef me = tile_row(s, threadIdx.x, tile);
  const bool active = row_valid(s, me, u0);

  float qr[kDk], acc[kDk];
  MVIT_UNROLL
  for (int d = 0; d < kDk; ++d) qr[d] = acc[d] = 0.0f;
  if (active) load_row(q + row_offset(s.qs, s, u0 + me.g, me.token), s, qr);
  float m = -INFINITY, l = 0.0f;
  for (int c = 0; c < s.tiles; ++c) {
    stage_rows<kDk, Smem::kLd, kSimtThreads>(&smem.k[0][0], k, s.ks, s, u0, c);
    stage_rows<kDk, Smem::kLd, kSimtThreads>(&smem.v[0][0], v, s.vs, s, u0, c);
    __syncthreads();
    if (active) {
      const KeyRange kr = key_range(s, me.g, c);
      for (int j = 0; j < kr.rows; j += kSimtKeyBlock) {
        simt_step<kDk, Smem::kLd>(qr, acc, &smem.k[kr.first + j][0], &smem.v[kr.first + j][0],
                                  kr.token0 + j, s, m, l);
      }
    }
    __syncthreads();  // the chunk is consumed
  }
  if (active) store_row(o + row_offset(s.os, s, u0 + me.g, me.token), acc, l, s);
}

// ---------------------------------------------------------------------------------------------
// Host side.

namespace {

using detail::format;

int dk_of(int head_dim) {
  return (head_dim + kFrag - 1) / kFrag * kFrag;
}

bool uses_wmma(DType t, int cc) {
  return t == DType::kF16 || (t == DType::kBF16 && cc >= 80);
}

bool strides_divisible(const AttentionStrides& st, const AttentionParams& p, int w) {
  return (p.sequences == 1 || st.seq % w == 0) && (p.heads == 1 || st.head % w == 0) &&
         (p.tokens == 1 || st.row % w == 0);
}

// The file comment's pack rule: the widest w that divides `lanes` and every stride, with every
// pointer aligned to w elements.
int pack_width(const AttentionParams& p, int lanes,
               std::initializer_list<std::pair<const void*, const AttentionStrides*>> tensors) {
  const int es = static_cast<int>(dtype_size(p.dtype));
  for (int w = 16 / es; w > 1; w /= 2) {
    bool ok = lanes % w == 0;
    for (const auto& [ptr, st] : tensors) {
      ok = ok && is_aligned(ptr, static_cast<size_t>(w) * es) && strides_divisible(*st, p, w);
    }
    if (ok) return w;
  }
  return 1;
}

FusedShape plan(const AttentionParams& p) {
  FusedShape s;
  s.qs = p.q_strides;
  s.ks = p.k_strides;
  s.vs = p.v_strides;
  s.os = p.o_strides;
  s.units = p.sequences * p.heads;
  s.heads = p.heads;
  s.tokens = p.tokens;
  s.head_dim = p.head_dim;
  s.head_dim_padded = attention_padded_dim(p);
  s.rows_per_seq = (p.tokens + kSeqAlign - 1) / kSeqAlign * kSeqAlign;
  s.packed = s.rows_per_seq <= kTileRows;
  s.group = s.packed ? kTileRows / s.rows_per_seq : 1;
  s.tiles = s.packed ? 1 : (p.tokens + kTileRows - 1) / kTileRows;
  s.score_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(p.head_dim))) * kLog2e;
  s.vec =
      pack_width(p, p.head_dim, {{p.q, &p.q_strides}, {p.k, &p.k_strides}, {p.v, &p.v_strides}});
  s.out_vec = pack_width(p, s.head_dim_padded, {{p.o, &p.o_strides}});
  return s;
}

int64_t block_count(const FusedShape& s) {
  return (static_cast<int64_t>(s.units) + s.group - 1) / s.group * s.tiles;
}

// p valid and supported.
const char* kernel_name(const AttentionParams& p, int cc) {
  static const char* const kWmmaNames[] = {"fused_wmma_d16", "fused_wmma_d32", "fused_wmma_d48",
                                           "fused_wmma_d64"};
  static const char* const kSimtNames[] = {"fused_simt_d16", "fused_simt_d32", "fused_simt_d48",
                                           "fused_simt_d64"};
  const int i = dk_of(p.head_dim) / kFrag - 1;
  return uses_wmma(p.dtype, cc) ? kWmmaNames[i] : kSimtNames[i];
}

template <class T, int kDk>
void launch_one(const AttentionParams& p, const FusedShape& s, bool wmma, Stream stream) {
  const unsigned blocks = static_cast<unsigned>(block_count(s));
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  T* o = static_cast<T*>(p.o);
  if constexpr (!std::is_same_v<T, float>) {
    if (wmma) {
      mvit::launch(attention_fused_wmma_kernel<T, kDk>, blocks, dim3(kWmmaThreads), 0, stream, q, k,
                   v, o, s);
      return;
    }
  }
  if constexpr (!std::is_same_v<T, __half>) {
    mvit::launch(attention_fused_simt_kernel<T, kDk>, blocks, dim3(kSimtThreads), 0, stream, q, k,
                 v, o, s);
  }
}

// The instances that exist: f16 wmma; bf16 wmma or simt; f32 simt; kDk 16 .. 64.
template <class T>
void launch_attention_fused(const AttentionParams& p, const FusedShape& s, bool wmma,
                            Stream stream) {
  switch (dk_of(p.head_dim)) {
    case 16:
      return launch_one<T, 16>(p, s, wmma, stream);
    case 32:
      return launch_one<T, 32>(p, s, wmma, stream);
    case 48:
      return launch_one<T, 48>(p, s, wmma, stream);
    default:
      return launch_one<T, 64>(p, s, wmma, stream);
  }
}

}  // namespace

std::string attention_fused_problem(const AttentionParams& p) {
  std::string why = attention_params_problem(p);
  if (!why.empty()) return why;
  if (p.head_dim > kMaxHeadDim) {
    return format(
        "head_dim must be <= %d (instances d16, d32, d48, d64: head dims rounded up to 16), got %d",
        kMaxHeadDim, p.head_dim);
  }
  const int64_t units = static_cast<int64_t>(p.sequences) * p.heads;
  if (units > kMaxUnits) {
    return format("sequences * heads must be <= %d, got %lld", kMaxUnits,
                  static_cast<long long>(units));
  }
  const FusedShape s = plan(p);
  const int64_t blocks = block_count(s);
  if (blocks > INT_MAX) {
    return format(
        "sequences * heads = %d with %d tokens needs %lld blocks (%d units per block, %d query "
        "tiles per unit), more than the grid's %d",
        s.units, p.tokens, static_cast<long long>(blocks), s.group, s.tiles, INT_MAX);
  }
  return "";
}

bool attention_fused_supported(const AttentionParams& p) {
  return attention_fused_problem(p).empty();
}

const char* attention_fused_kernel(const AttentionParams& p) {
  const std::string why = attention_fused_problem(p);
  MVIT_CHECK(why.empty(), "attention: impl fused: %s", why.c_str());
  return kernel_name(p, p.dtype == DType::kBF16 ? current_compute_capability() : 0);
}

Dispatch attention_fused_forward(const AttentionParams& p, Stream stream) {
  const std::string why = attention_fused_problem(p);
  MVIT_CHECK(why.empty(), "attention: impl fused: %s", why.c_str());
  const int cc = p.dtype == DType::kBF16 ? current_compute_capability() : 0;
  const bool wmma = uses_wmma(p.dtype, cc);
  const FusedShape s = plan(p);
  switch (p.dtype) {
    case DType::kF16:
      launch_attention_fused<__half>(p, s, wmma, stream);
      break;
    case DType::kBF16:
      launch_attention_fused<__nv_bfloat16>(p, s, wmma, stream);
      break;
    default:
      launch_attention_fused<float>(p, s, wmma, stream);
      break;
  }
  return {kernel_name(p, cc), s.vec};
}

}  // namespace mvit
