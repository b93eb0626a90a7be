// Pointwise GEMM with fused epilogue (formula, orders and implementations in gemm_epilogue.h).
//
// Variants
// - gemm_wmma_fused_kernel<T, kAct, kVector> (impl "wmma_fused"; T = __half or __nv_bfloat16): one
//   block of kThreads = 128 computes a kBM x kBN = 64 x 64 tile of y, 4 warps in 2 x 2, each warp a
//   32 x 32 tile of 2 x 2 wmma fragments with fp32 accumulators. K advances in kBK = 32 slices
//   through two shared-memory stages: while the warps multiply one stage, the other is filled
//   (kVector: 16-byte cp.async copies, cuda_pipeline.h; otherwise element loads). Rows past M,
//   columns past N and k past K are zero-filled in shared memory, and a warp skips the fragments
//   (and the 16-deep k steps) that lie wholly outside them, so M, N, K need no padding. After the
//   last slice the accumulators go to shared memory (aliasing the stages), and the block applies
//   bias, activation and residual and writes each row to its place in y_order: 8 elements per
//   128-bit store (kVector), else one at a time. Each tile row's source row (x_order) and
//   destination row (y_order) are computed once per block (layout.h) into shared memory.
//   kVector iff K % 8 == 0, N % 8 == 0 and x, w, y, bias, residual are 16-byte aligned: every
//   MobileViT shape; the scalar path takes any K, N >= 1 and element-aligned pointers.
// - cuBLAS + epilogue (impl "cublas+epilogue", the baseline): cublasGemmEx in the row-major
//   transpose trick (Note [row-major GEMM in cuBLAS]) writes the raw accumulation S = x w^T as fp32
//   (Note [fp32 intermediate]), then one epilogue kernel applies bias, activation, residual and the
//   permute: bias_act (kernels/common/bias_act.h), which reads rows in x_order and writes them in
//   y_order (the unfold, the fold, or neither).
//
// Note [selection rule] (analytic: no GPU measurement yet; the bench times both paths per case)
// The fused kernel reads x and w and writes y once. The cuBLAS path also writes S (4 bytes per
// element) and reads it back, and launches a second kernel. Every MobileViT 1x1 conv is
// memory-bound: with 2-byte storage its arithmetic intensity 2MNK / (2(MK + NK + MN)) tends to
// NK / (N + K) for large M, at most 128 FLOP/B (the head's 160 -> 640) and 10-100 for most layers,
// and is about M FLOP/B for the classifier (w dominates), against a tensor-core ridge of ~295
// FLOP/B on H100 and ~150 on A100 (performance.md section 7). So bytes and launches decide:
//   S stage-2 expand, 64x64 map, batch 8, f16 (M = 32768, K = 64, N = 256, 1.07 GFLOP):
//     fused  x 4.2 MB + w 0.03 MB + y 16.8 MB = 21 MB, one launch      (~6 us at 3.35 TB/s)
//     cuBLAS 21 MB + S written and read 2 x 33.6 MB = 88 MB, two launches (~26 us)
//   S stage-4 conv_proj (fold), 8x8 map, batch 1 (M = 64, K = 240, N = 160): 128 KB vs 210 KB,
//     both latency-bound (~0.04 us of traffic): the second launch (1-3 us on a stream, 0.5-1 us
//     in a graph, performance.md section 5.4) is the whole difference.
// Fewer rows than one wmma fragment (M < kGemmWmmaMinRows = 16: the classifier, M = batch): the op
// is a batched matrix-vector product, w's N K elements dwarf x and y (K = 640, N = 1000, M = 8:
// 1.28 MB vs 26 KB), (16 - M) / 16 of every fragment is padding, and the fused grid is ceil(N / 64)
// blocks whatever M (16 for 1000 classes), each streaming a 64 x K slab of w (80 KB at K = 640)
// through its two stages at one DRAM latency (~0.6-1 us) per 8 KB slice: ~10-20 us. cuBLAS has
// the whole GPU to split N and K over (which kernel it picks at M <= 8 is not known here), and the
// intermediate saved would be only M * N * 8 bytes (< 128 KB). Every conv map has at least 49 rows
// (7x7 at batch 1), so every 1x1 conv takes the fused path; at batch 1 the small maps give
// sub-wave grids on either path, and the launch saved decides.
// So: f32 -> cuBLAS (the fused kernel has no fp32 storage: the 1e-5 fp32 rule rules out tf32
// fragments, and fp32 SIMT would only duplicate cuBLAS); bf16 below compute capability 8.0 ->
// cuBLAS (no bf16 tensor cores); M < 16 -> cuBLAS; otherwise fused. Callers override with impl.
//
// Tile sizes (analytic, unmeasured). 64 x 64 x 32, two stages, 128 threads:
//   shared memory: stages 2 x (64 + 64) rows x kLdAB = 40 elements x 2 B = 20 KB (the fp32 output
//   staging, 64 x kLdC = 68 x 4 B = 17 KB, reuses them), + 512 B of row maps.
//   reuse: each staged x element feeds 64 outputs, each w element 64: 32 FLOP per byte loaded into
//   the SM. x is re-read from L2 once per 64 columns of N (10x at N = 640); blocks are numbered
//   with N fastest, so the blocks sharing an x tile run together and x comes from DRAM once.
//   occupancy: ptxas (CUDA 13.0) gives 80-96 registers per thread on sm_80 / sm_90 and 104-107 on
//   sm_75, no spills: 5 blocks per SM by registers (4 on sm_75); shared memory (~21 KB per block)
//   allows 7 on sm_80 (164 KB), 10 on sm_90 (228 KB), 3 on sm_75 (64 KB). So 5 blocks = 20 warps
//   (31%) on sm_80 and sm_90, 3 = 12 warps (37.5%) on sm_75. In flight: one 8 KB slice per block,
//   24-40 KB per SM; 3.35 TB/s at ~1 us latency over 132 SMs needs ~25 KB per SM.
//   why not larger: MobileViT's N is narrow (16 .. 640, mostly 24 .. 256) and its small maps give
//   few rows, so 128-wide tiles idle more of each tile (N = 48: 75% of a 64-wide tile used, 37.5%
//   of a 128-wide one; N = 160: 83% vs 62.5%) and leave most SMs without work (S 16x16 expand at
//   batch 1, M = 256, N = 384: 24 blocks at 64 x 64, 6 at 128 x 128, on 132 SMs). Why not
//   smaller: 32 x 32 halves the reuse and doubles the L2 re-reads of x. kBK = 32: K = 16 (the
//   first MV2 expand) skips the empty half of its one slice; the largest K (640) takes 20 slices.
//
// Note [fp32 intermediate]
// The cuBLAS path stores S in fp32 (CUDA_R_32F output of a 16-bit GEMM, compute 32F), not in y's
// type: the result is rounded once, as in the fused kernel, so both paths carry the same error
// and test against the same low-precision reference, and bf16's 8-bit mantissa is not rounded
// twice (before and after bias and SiLU). The price is 8 instead of 4 bytes per element of
// intermediate traffic in a path that exists as the fallback and the baseline. For f32 with
// x_order == y_order, S is y itself and the epilogue runs in place (no workspace).
//
// Note [row-major GEMM in cuBLAS]
// cuBLAS is column-major. Row-major y [M, N] is column-major y^T [N, M] (ldc = N), row-major w
// [N, K] is column-major [K, N] (lda = K) and x [M, K] is column-major [K, M] (ldb = K), so
// y^T = w^T(op T) * x^T(op N): cublasGemmEx(OP_T, OP_N, m = N, n = M, k = K, w, K, x, K, S, N).
//
// Numerics: fp32 accumulation (fused: mma_sync order; cuBLAS: its own), + bias, SiLU
// (activation.cuh), + residual, one rounding to T. f32 + allow_tf32: inputs rounded to tf32 by
// cuBLAS. Limits: M < 2^31; for the cuBLAS path M * N fp32 values of workspace (unless in place).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_pipeline.h>
#include <mma.h>

#include <climits>
#include <cstdint>
#include <string>

#include "kernels/common/activation.cuh"
#include "kernels/common/bias_act.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/common/wmma_support.cuh"
#include "kernels/gemm_epilogue.h"

namespace mvit {

namespace {

constexpr int kBM = 64, kBN = 64, kBK = 32;       // block tile (file comment: tile sizes)
constexpr int kThreads = 128;                     // 4 warps, 2 x 2 over the tile
constexpr int kFrag = 16;                         // wmma 16x16x16
constexpr int kWarpTile = 32;                     // each warp: 2 x 2 fragments
constexpr int kLdAB = kBK + 8;                    // 80 B rows: a multiple of 16 B (wmma's ldm rule)
                                                  // whose 20-word shift spreads a fragment's rows
                                                  // over the banks
constexpr int kLdC = kBN + 4;                     // 272 B rows of the fp32 staging, same reasons
constexpr int kStageElems = (kBM + kBN) * kLdAB;  // x tile, then w tile
constexpr size_t kWmmaAlign = 32;                 // load/store_matrix_sync need 256-bit pointers
constexpr size_t kStagesBytes = 2 * kStageElems * 2;  // two stages of 2-byte elements
constexpr size_t kStagingBytes = sizeof(float) * kBM * kLdC;
static_assert(kStagingBytes <= kStagesBytes, "the fp32 staging reuses the stages");
static_assert((kLdAB * 2) % 16 == 0 && (kLdC * 4) % 16 == 0, "wmma ldm: multiple of 16 bytes");

// What the fused kernel needs to know besides its pointers.
struct FusedShape {
  int m, n, k;
  int n_tiles;  // ceil(n / kBN): blockIdx.x = m_tile * n_tiles + n_tile
  int H, W;
  PixelOrder x_order, y_order;
  bool permute;  // x_order != y_order
};

}  // namespace

// rows[0][r], rows[1][r]: the x row and the y row of pixel m0 + r, -1 past M.
__device__ inline void map_tile_rows(const FusedShape& s, int m0, int (*rows)[kBM]) {
  for (int r = threadIdx.x; r < kBM; r += kThreads) {
    const int q = m0 + r;
    int xr = -1, yr = -1;
    if (q < s.m) {
      xr = s.permute ? static_cast<int>(pixel_row_of_nhwc(s.x_order, q, s.H, s.W)) : q;
      yr = s.permute ? static_cast<int>(pixel_row_of_nhwc(s.y_order, q, s.H, s.W)) : q;
    }
    rows[0][r] = xr;
    rows[1][r] = yr;
  }
}

// Fills `tile` ([rows][kLdAB]) with src[row(r), k0 .. k0 + kBK) (zero past K and for row -1).
template <bool kVector, class T, class RowOf>
__device__ void load_slice(T* tile, const T* src, int k, int k0, RowOf row_of, int rows) {
  if constexpr (kVector) {
    constexpr int kChunks = kBK / 8;  // 16-byte chunks per row
    for (int c = threadIdx.x; c < rows * kChunks; c += kThreads) {
      const int r = c / kChunks, kc = (c % kChunks) * 8;
      const int gr = row_of(r);
      T* dst = tile + r * kLdAB + kc;
      if (gr >= 0 && k0 + kc < k) {
        __pipeline_memcpy_async(dst, src + static_cast<int64_t>(gr) * k + k0 + kc, 16);
      } else {
        *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
      }
    }
  } else {
    for (int e = threadIdx.x; e < rows * kBK; e += kThreads) {
      const int r = e / kBK, kk = e % kBK;
      const int gr = row_of(r);
      tile[r * kLdAB + kk] = gr >= 0 && k0 + kk < k ? src[static_cast<int64_t>(gr) * k + k0 + kk]
                                                    : from_float<T>(0.0f);
    }
  }
}

// One stage: the x tile (its rows through the row map), then the w tile (rows n0 ..).
template <class T, bool kVector>
__device__ void load_stage(T* stage, const T* x, const T* w, const FusedShape& s, int n0, int k0,
                           const int (*rows)[kBM]) {
  load_slice<kVector>(
      stage, x, s.k, k0, [&](int r) { return rows[0][r]; }, kBM);
  load_slice<kVector>(
      stage + kBM * kLdAB, w, s.k, k0, [&](int r) { return n0 + r < s.n ? n0 + r : -1; }, kBN);
}

// acc[i][j] += a rows i * 16 .. of a_warp times w rows j * 16 .. of b_warp over one kBK slice;
// ok: bit i the fragment row i, bit 2 + j the fragment column j holds outputs (warp-uniform).
template <class T, class Acc>
__device__ void mma_stage(const T* a_warp, const T* b_warp, Acc (&acc)[2][2], int k_left, int ok) {
  namespace wmma = nvcuda::wmma;
  for (int kk = 0; kk < kBK; kk += kFrag) {
    if (kk >= k_left) break;
    wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::row_major> a[2];
    wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::col_major> b[2];
    for (int i = 0; i < 2; ++i) {
      if (ok & (1 << i)) wmma::load_matrix_sync(a[i], a_warp + i * kFrag * kLdAB + kk, kLdAB);
      if (ok & (4 << i)) wmma::load_matrix_sync(b[i], b_warp + i * kFrag * kLdAB + kk, kLdAB);
    }
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        if ((ok & (1 << i)) && (ok & (4 << j))) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
      }
    }
  }
}

// c: the block's fp32 accumulators [kBM][kLdC]; writes the valid part of the tile to y.
template <class T, Activation kAct, bool kVector>
__device__ void store_tile(const float* c, const T* bias, const T* residual, T* y,
                           const FusedShape& s, int n0, const int (*rows)[kBM]) {
  constexpr int kV = kVector ? kGemmWmmaVec : 1;
  for (int e = threadIdx.x; e < kBM * kBN / kV; e += kThreads) {
    const int r = e / (kBN / kV), cc = (e % (kBN / kV)) * kV;
    const int yr = rows[1][r], col = n0 + cc;
    if (yr < 0 || col >= s.n) continue;
    float v[kV], t[kV];
    for (int i = 0; i < kV; ++i) v[i] = c[r * kLdC + cc + i];
    if (bias != nullptr) {
      load_floats(bias + col, t);
      for (int i = 0; i < kV; ++i) v[i] += t[i];
    }
    for (int i = 0; i < kV; ++i) v[i] = activate<kAct>(v[i]);
    const int64_t at = static_cast<int64_t>(yr) * s.n + col;
    if (residual != nullptr) {
      load_floats(residual + at, t);
      for (int i = 0; i < kV; ++i) v[i] += t[i];
    }
    store_floats(y + at, v);
  }
}

// x: [M, K] rows in x_order; w: [N, K]; bias: [N] or null; residual, y: [M, N] rows in y_order.
// Grid: ceil(M / kBM) * ceil(N / kBN) blocks, N tiles fastest; kThreads threads.
template <class T, Activation kAct, bool kVector>
__global__ void MVIT_LAUNCH_BOUNDS(128)
    gemm_wmma_fused_kernel(const T* x, const T* w, const T* bias, const T* residual, T* y,
                           FusedShape s) {
  if constexpr (kWmmaInput<T>) {  // Note [bf16 fragments before sm_80] (wmma_support.cuh)
    namespace wmma = nvcuda::wmma;
    MVIT_SHARED(unsigned char, smem_raw, kStagesBytes + kWmmaAlign);
    MVIT_SHARED(int, rows, 2, kBM);
    // Shared arrays are only 16-byte aligned (a GPU's guarantee; the emulator gives no more).
    unsigned char* base =
        smem_raw + (kWmmaAlign - reinterpret_cast<uintptr_t>(smem_raw) % kWmmaAlign) % kWmmaAlign;
    T* stages = reinterpret_cast<T*>(base);
    const int m0 = static_cast<int>(blockIdx.x / s.n_tiles) * kBM;
    const int n0 = static_cast<int>(blockIdx.x % s.n_tiles) * kBN;
    const int warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
    // Warp-uniform: which of this warp's fragment rows / columns hold any output.
    int ok = 0;
    for (int i = 0; i < 2; ++i) {
      ok |= (m0 + wm * kWarpTile + i * kFrag < s.m ? 1 : 0) << i;
      ok |= (n0 + wn * kWarpTile + i * kFrag < s.n ? 4 : 0) << i;
    }
    map_tile_rows(s, m0, rows);
    __syncthreads();

    wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> acc[2][2];
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.0f);
    }
    const int k_slices = (s.k + kBK - 1) / kBK;
    load_stage<T, kVector>(stages, x, w, s, n0, 0, rows);
    if constexpr (kVector) __pipeline_commit();
    for (int t = 0; t < k_slices; ++t) {
      if (t + 1 < k_slices) {
        load_stage<T, kVector>(stages + ((t + 1) % 2) * kStageElems, x, w, s, n0, (t + 1) * kBK,
                               rows);
      }
      if constexpr (kVector) {
        __pipeline_commit();       // possibly empty: keeps one batch per slice
        __pipeline_wait_prior(1);  // this thread's copies of slice t have landed
      }
      __syncthreads();  // ... and everyone's
      const T* stage = stages + (t % 2) * kStageElems;
      mma_stage(stage + wm * kWarpTile * kLdAB, stage + (kBM + wn * kWarpTile) * kLdAB, acc,
                s.k - t * kBK, ok);
      __syncthreads();  // slice t's stage is free for slice t + 2
    }

    float* staging = reinterpret_cast<float*>(base);  // the stages are free now
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        if ((ok & (1 << i)) && (ok & (4 << j))) {
          wmma::store_matrix_sync(
              staging + (wm * kWarpTile + i * kFrag) * kLdC + wn * kWarpTile + j * kFrag, acc[i][j],
              kLdC, wmma::mem_row_major);
        }
      }
    }
    __syncthreads();
    store_tile<T, kAct, kVector>(staging, bias, residual, y, s, n0, rows);
  }
}

namespace {

bool patch_major(const GemmEpilogueParams& p) {
  return p.x_order == PixelOrder::kPatchMajor || p.y_order == PixelOrder::kPatchMajor;
}

bool valid_order(PixelOrder o) {
  return o == PixelOrder::kNhwc || o == PixelOrder::kPatchMajor;
}

bool overlaps(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const uintptr_t x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return a != nullptr && b != nullptr && x < y + b_bytes && y < x + a_bytes;
}

// The rule of Note [selection rule]; p valid apart from the impl-specific checks.
GemmImpl resolve(const GemmEpilogueParams& p, int cc) {
  if (p.impl != GemmImpl::kAuto) return p.impl;
  if (p.dtype == DType::kF32 || (p.dtype == DType::kBF16 && cc < 80)) return GemmImpl::kCublas;
  return p.m < kGemmWmmaMinRows ? GemmImpl::kCublas : GemmImpl::kWmma;
}

std::string shape_reason(const GemmEpilogueParams& p) {
  if (p.m <= 0 || p.m > INT_MAX) {
    return detail::format("m must be in [1, 2^31), got %lld", static_cast<long long>(p.m));
  }
  if (p.n <= 0) return detail::format("n must be > 0, got %d", p.n);
  if (p.k <= 0) return detail::format("k must be > 0, got %d", p.k);
  if (!valid_order(p.x_order) || !valid_order(p.y_order)) {
    return detail::format("x_order / y_order must be nhwc or patch_major, got %d / %d",
                          static_cast<int>(p.x_order), static_cast<int>(p.y_order));
  }
  if (!patch_major(p)) return std::string();
  const char* orders = p.x_order == p.y_order           ? "patch_major -> patch_major"
                       : p.x_order == PixelOrder::kNhwc ? "nhwc -> patch_major (unfold)"
                                                        : "patch_major -> nhwc (fold)";
  if (p.B <= 0 || p.H <= 0 || p.W <= 0) {
    return detail::format("order %s needs the map: B, H, W must be > 0, got %d, %d, %d", orders,
                          p.B, p.H, p.W);
  }
  if (p.H % 2 || p.W % 2) {
    return detail::format("patch-major order needs an even H and W, got %d x %d", p.H, p.W);
  }
  const long long bhw = static_cast<long long>(p.B) * p.H * p.W;
  if (p.m != bhw) {
    return detail::format("m must equal B * H * W = %lld, got %lld", bhw,
                          static_cast<long long>(p.m));
  }
  return std::string();
}

std::string pointer_reason(const GemmEpilogueParams& p) {
  if (p.x == nullptr) return "x is null";
  if (p.w == nullptr) return "w is null";
  if (p.y == nullptr) return "y is null";
  const size_t es = dtype_size(p.dtype);
  const struct {
    const char* name;
    const void* ptr;
    size_t elems;
  } in[] = {{"x", p.x, static_cast<size_t>(p.m) * p.k},
            {"w", p.w, static_cast<size_t>(p.n) * p.k},
            {"bias", p.bias, static_cast<size_t>(p.n)},
            {"residual", p.residual, static_cast<size_t>(p.m) * p.n}};
  const size_t y_bytes = static_cast<size_t>(p.m) * p.n * es;
  if (!is_aligned(p.y, es)) {
    return detail::format("y must be aligned to its %zu-byte elements, got %p", es, p.y);
  }
  for (const auto& t : in) {
    if (t.ptr != nullptr && !is_aligned(t.ptr, es)) {
      return detail::format("%s must be aligned to its %zu-byte elements, got %p", t.name, es,
                            t.ptr);
    }
    if (overlaps(p.y, y_bytes, t.ptr, t.elems * es)) {
      return detail::format("y must not overlap %s (y %p, %s %p)", t.name, p.y, t.name, t.ptr);
    }
  }
  return std::string();
}

std::string unsupported_reason(const GemmEpilogueParams& p, int* cc_out) {
  if (p.dtype != DType::kF32 && p.dtype != DType::kF16 && p.dtype != DType::kBF16) {
    return detail::format("dtype %d is not one of f32, f16, bf16", static_cast<int>(p.dtype));
  }
  if (p.act != Activation::kNone && p.act != Activation::kSilu) {
    return detail::format("act %d is not one of none, silu", static_cast<int>(p.act));
  }
  if (p.impl != GemmImpl::kAuto && p.impl != GemmImpl::kCublas && p.impl != GemmImpl::kWmma) {
    return detail::format("impl %d is not one of auto, cublas, wmma", static_cast<int>(p.impl));
  }
  if (p.allow_tf32 && p.dtype != DType::kF32) {
    return detail::format("allow_tf32 applies to dtype f32 only, got dtype %s",
                          dtype_name(p.dtype));
  }
  std::string why = shape_reason(p);
  if (why.empty()) why = pointer_reason(p);
  if (!why.empty()) return why;
  // Only bf16 depends on the device.
  const int cc = p.dtype == DType::kBF16 ? current_compute_capability() : 90;
  *cc_out = cc;
  if (resolve(p, cc) == GemmImpl::kWmma) {
    if (p.dtype == DType::kF32) {
      return "impl wmma does not support dtype f32 (supported: f16, bf16; f32 runs on cublas)";
    }
    if (p.dtype == DType::kBF16 && cc < 80) {
      return detail::format(
          "impl wmma with dtype bf16 needs compute capability >= 8.0, device has %d.%d", cc / 10,
          cc % 10);
    }
    const int64_t tiles = ((p.m + kBM - 1) / kBM) * ((p.n + kBN - 1) / kBN);
    if (tiles > INT_MAX) {
      return detail::format("impl wmma: %lld tiles exceed the grid", static_cast<long long>(tiles));
    }
  }
  return std::string();
}

// Validates p (throwing) and returns the implementation it resolves to.
GemmImpl checked_impl(const GemmEpilogueParams& p) {
  int cc = 0;
  const std::string why = unsupported_reason(p, &cc);
  MVIT_CHECK(why.empty(), "gemm_epilogue: %s", why.c_str());
  return resolve(p, cc);
}

bool vector_path(const GemmEpilogueParams& p) {
  constexpr size_t kBytes = 16;
  return p.k % kGemmWmmaVec == 0 && p.n % kGemmWmmaVec == 0 && is_aligned(p.x, kBytes) &&
         is_aligned(p.w, kBytes) && is_aligned(p.y, kBytes) && is_aligned(p.bias, kBytes) &&
         is_aligned(p.residual, kBytes);
}

template <class T, Activation kAct>
void launch_fused_as(const GemmEpilogueParams& p, bool vec, const FusedShape& s, Stream stream) {
  const unsigned blocks = static_cast<unsigned>(((p.m + kBM - 1) / kBM) * s.n_tiles);
  auto kernel =
      vec ? gemm_wmma_fused_kernel<T, kAct, true> : gemm_wmma_fused_kernel<T, kAct, false>;
  mvit::launch(kernel, blocks, dim3(kThreads), 0, stream, static_cast<const T*>(p.x),
               static_cast<const T*>(p.w), static_cast<const T*>(p.bias),
               static_cast<const T*>(p.residual), static_cast<T*>(p.y), s);
}

Dispatch launch_gemm_wmma_fused(const GemmEpilogueParams& p, Stream stream) {
  const bool vec = vector_path(p);
  const bool permute = p.x_order != p.y_order;
  const int m = static_cast<int>(p.m), n_tiles = (p.n + kBN - 1) / kBN;
  const FusedShape s{m, p.n, p.k, n_tiles, p.H, p.W, p.x_order, p.y_order, permute};
  const bool silu = p.act == Activation::kSilu;
  if (p.dtype == DType::kF16) {
    silu ? launch_fused_as<__half, Activation::kSilu>(p, vec, s, stream)
         : launch_fused_as<__half, Activation::kNone>(p, vec, s, stream);
  } else {
    silu ? launch_fused_as<__nv_bfloat16, Activation::kSilu>(p, vec, s, stream)
         : launch_fused_as<__nv_bfloat16, Activation::kNone>(p, vec, s, stream);
  }
  return {"wmma_fused", vec ? kGemmWmmaVec : 1};
}

cudaDataType cuda_type(DType t) {
  return t == DType::kF32 ? CUDA_R_32F : t == DType::kF16 ? CUDA_R_16F : CUDA_R_16BF;
}

// The cuBLAS path's fp32 intermediate, in bytes; 0 when it accumulates in y (Note [fp32
// intermediate]).
size_t cublas_workspace_bytes(const GemmEpilogueParams& p) {
  if (p.dtype == DType::kF32 && p.x_order == p.y_order) return 0;
  constexpr size_t kAlign = 256;
  const size_t bytes = static_cast<size_t>(p.m) * p.n * sizeof(float);
  return (bytes + kAlign - 1) / kAlign * kAlign;
}

// The handle's state the cuBLAS path relies on, and the workspace.
void check_handles(const GemmEpilogueParams& p, const LibraryHandles& h) {
  MVIT_CHECK(h.cublas != nullptr, "gemm_epilogue: impl cublas needs handles.cublas, got null");
  const size_t need = cublas_workspace_bytes(p);
  MVIT_CHECK(need == 0 || (h.workspace != nullptr && h.workspace_bytes >= need),
             "gemm_epilogue: impl cublas needs %zu bytes of workspace for its fp32 intermediate, "
             "handles have %zu at %p",
             need, h.workspace_bytes, h.workspace);
  const size_t es = dtype_size(p.dtype), mn = static_cast<size_t>(p.m) * p.n;
  MVIT_CHECK(!overlaps(h.workspace, need, p.x, static_cast<size_t>(p.m) * p.k * es) &&
                 !overlaps(h.workspace, need, p.w, static_cast<size_t>(p.n) * p.k * es) &&
                 !overlaps(h.workspace, need, p.bias, p.n * es) &&
                 !overlaps(h.workspace, need, p.residual, mn * es) &&
                 !overlaps(h.workspace, need, p.y, mn * es),
             "gemm_epilogue: handles.workspace (%p, %zu bytes used) overlaps x, w, bias, residual "
             "or y",
             h.workspace, need);
  check_cublas_modes(h.cublas, p.dtype == DType::kF32 && !p.allow_tf32, "gemm_epilogue");
}

Dispatch launch_gemm_cublas_epilogue(const GemmEpilogueParams& p, const LibraryHandles& h,
                                     Stream stream) {
  check_handles(p, h);
  const bool in_place = cublas_workspace_bytes(p) == 0;
  float* acc = static_cast<float*>(in_place ? p.y : h.workspace);  // [M, N] rows in x_order
  BiasActParams e;
  e.src = acc;
  e.dst = p.y;
  e.bias = p.bias;
  e.residual = p.residual;
  e.rows = p.m;
  e.cols = p.n;
  e.H = p.H;
  e.W = p.W;
  e.order = p.y_order;
  e.src_order = p.x_order;
  e.act = p.act;
  e.src_dtype = DType::kF32;
  e.dst_dtype = p.dtype;
  const bool epilogue =
      !in_place || p.bias != nullptr || p.residual != nullptr || p.act != Activation::kNone;
  MVIT_CHECK(!epilogue || bias_act_supported(e),
             "gemm_epilogue: internal: bias_act rejects the epilogue of a valid call");

  MVIT_CUBLAS_CHECK(cublasSetStream(h.cublas, stream));
  const float one = 1.0f, zero = 0.0f;
  const cudaDataType t = cuda_type(p.dtype);
  const cublasComputeType_t compute =
      p.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  // Note [row-major GEMM in cuBLAS]
  MVIT_CUBLAS_CHECK(cublasGemmEx(h.cublas, CUBLAS_OP_T, CUBLAS_OP_N, p.n, static_cast<int>(p.m),
                                 p.k, &one, p.w, t, p.k, p.x, t, p.k, &zero, acc, CUDA_R_32F, p.n,
                                 compute, CUBLAS_GEMM_DEFAULT));
  if (!epilogue) return {"cublas+epilogue", 0};
  return {"cublas+epilogue", bias_act_forward(e, stream).vec};
}

}  // namespace

bool gemm_epilogue_supported(const GemmEpilogueParams& p) {
  int cc = 0;
  return unsupported_reason(p, &cc).empty();
}

GemmImpl gemm_epilogue_select(const GemmEpilogueParams& p) {
  return checked_impl(p);
}

size_t gemm_epilogue_workspace_bytes(const GemmEpilogueParams& p) {
  return checked_impl(p) == GemmImpl::kWmma ? 0 : cublas_workspace_bytes(p);
}

Dispatch gemm_epilogue_forward(const GemmEpilogueParams& p, const LibraryHandles& handles,
                               Stream stream) {
  return checked_impl(p) == GemmImpl::kWmma ? launch_gemm_wmma_fused(p, stream)
                                            : launch_gemm_cublas_epilogue(p, handles, stream);
}

}  // namespace mvit
