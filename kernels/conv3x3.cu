// Dense 3x3 convolutions (kernels/conv3x3.h has the formulas, layouts and the concat order).
//
// Kernels
//   conv3x3_stem_nchw_kernel        the stem: one thread per output pixel computes its 16 channels
//                                   from the 27 inputs of its NCHW fp32 window (stride-2 reads,
//                                   consecutive threads = consecutive pixels); the 432 weights and
//                                   16 biases sit in shared memory as floats, read as broadcasts;
//                                   y gets 16 contiguous values per pixel (2 or 4 128-bit stores).
//   conv3x3_implicit_gemm_kernel    tensor cores (nvcuda::wmma 16x16x16, f16 / bf16 in, fp32
//                                   accumulators). GEMM view: M = B*H*W output pixels, N = Cout,
//                                   K = 9*C0 + 9*C1, k = (input, tap, channel) with channels
//                                   fastest, which is KRSC's order within each weight row. A[m, k]
//                                   (the im2col matrix) is gathered from in0 then in1 straight into
//                                   shared memory, 0 outside the map: the concatenation and im2col
//                                   never exist in global memory. Note [implicit GEMM tiles].
//   conv3x3_direct_nhwc_kernel      SIMT fallback, every dtype: one thread per output pixel and
//                                   group of 8 output channels, fp32 FMAs; weights read as
//                                   warp-uniform (broadcast) loads. For f32 without cuDNN and bf16
//                                   below compute capability 8.0, where neither of the others runs.
// The cuDNN path ("cudnn+bias_act"): cudnnConvolutionForward, NHWC x / y, NHWC (KRSC) filter,
// cross-correlation, pad 1, compute type FLOAT, math FMA for f32 (no TF32: the fp32 rule is 1e-5)
// and tensor ops for f16 / bf16; the algorithm is the first in cudnnGetConvolutionForwardAlgorithm_
// v7's ranking whose workspace fits LibraryHandles::workspace_bytes. With in1 a second call over
// (in1, w1) adds into out with beta = 1. Then bias_act_forward (kernels/common/bias_act.h) applies
// bias + activation in place: cuDNN's fused bias-activation has no SiLU.
//
// Selection (kAuto), analytic, UNMEASURED (no GPU run yet). Per conv the paths do the same MACs
// (tensor cores in both for f16 / bf16); they differ in bytes and launches. Minimal traffic is
// inputs + weights + output (one write of out); the cuDNN path also writes the raw output, and
// with in1 the second call reads and rewrites it, then bias_act reads and rewrites it: 4 extra
// passes over out and 3 launches with in1, 2 extra passes and 2 launches without. XXS fusion at
// 32x32, f16, batch 1: minimal 378 KB, cuDNN path +393 KB (2.0x) and 2 more dependent launches,
// ~1.5 us each at batch 1 (shared/reference/performance.md 8.2), against ~0.08 us for the extra
// bytes at H200's ~4.8 TB/s; at batch 8 the bytes cost ~0.7 us on top. So:
//   f16                 -> implicit_gemm (fused: 1 launch, minimal bytes)
//   bf16, CC >= 8.0     -> implicit_gemm; bf16, CC < 8.0 -> direct (no bf16 tensor cores, and
//                          no cuDNN bf16, there)
//   f32                 -> cudnn+bias_act when cuDNN is linked and a handle is given, else direct:
//                          assumed, unmeasured, that cuDNN's tiled, register-blocked FMA kernels
//                          beat our untiled direct kernel (one L1 weight load per V FMAs, no
//                          reuse through shared memory) by more than the extra launch and 2
//                          passes over out cost.
// A forced vec (Conv3x3Params::vec != 0) keeps kAuto to our two kernels.
//
// Numerics: products in fp32 (inputs as stored), fp32 accumulation, bias and activation in fp32,
// one rounding to the storage type at the store; the cuDNN path also rounds its raw output (and,
// with in1, the first call's partial sum) to the storage type, as stored in out. SiLU is
// x / (1 + __expf(-x)) (activation.cuh).
//
// Limits: channels 1..65536 (9 * (C0 + C1), k indices and a weight group's offsets stay in int),
// any B, H, W >= 1 while the pixel tiles fit the grid (ceil(B * H * W / 64) < 2^31; the stem's
// ceil(B * Ho * Wo / 256)); out must not overlap the inputs (checked).
#include "kernels/conv3x3.h"

#include <mma.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/common/activation.cuh"
#include "kernels/common/bias_act.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/common/wmma_support.cuh"
#if MVIT_HAVE_CUDNN
#include <cudnn.h>

#include "kernels/common/cudnn_check.h"
#endif

namespace mvit {

namespace {

constexpr int kMaxChannels = 1 << 16;  // keeps 9 * (C0 + C1) and every k index well inside int

// bf16 WMMA on sm_75: Note [bf16 fragments before sm_80] (kernels/common/wmma_support.cuh).

// The raw bits of V elements of T (what one global or shared access of the gather moves).
template <class T, int V>
using RawOf = typename detail::RawVec<static_cast<int>(sizeof(T)) * V>::type;

// One access of V elements as their raw bits, the way vector.cuh's load_pack / store_pack move a
// pack (p aligned to the access). The shared tiles are written through this and read by
// load_matrix_sync only after a __syncthreads.
template <int V, class T>
__device__ inline RawOf<T, V> load_raw(const T* p) {
  return *reinterpret_cast<const RawOf<T, V>*>(p);
}
template <int V, class T>
__device__ inline void store_raw(T* p, RawOf<T, V> v) {
  *reinterpret_cast<RawOf<T, V>*>(p) = v;
}

struct ConvShape {  // the kernels' view of Conv3x3Params
  int H, W, C0, C1, Cout;
  int K0;     // 9 * C0: where in1's part of k starts
  int K;      // 9 * (C0 + C1)
  int64_t M;  // B * H * W output pixels
};

struct StemShape {
  int H, W, Ho, Wo;
  int64_t pixels;  // B * Ho * Wo
};

__device__ inline float apply_act(Activation act, float v) {
  return act == Activation::kSilu ? silu(v) : v;  // block-uniform branch
}

// ---------------------------------------------------------------------------------------------
// Stem.

constexpr int kStemThreads = 256;  // 8 warps of pixels; the weight staging (448 values) takes 2
                                   // passes
constexpr int kStemTaps = kStemCin * 9;

// x: [B, 3, H, W] fp32; w: [16, 3, 3, 3]; bias: [16]; y: [B, Ho, Wo, 16]. V: elements per store
// (kVec<T>: y is 16-byte aligned, checked on the host; 1: scalar).
template <class T, int V>
__global__ void MVIT_LAUNCH_BOUNDS(256)
    conv3x3_stem_nchw_kernel(const float* x, const T* w, const T* bias, T* y, StemShape s,
                             Activation act) {
  MVIT_SHARED(float, sw, kStemTaps, kStemCout);  // [c * 9 + r * 3 + s][n]
  MVIT_SHARED(float, sb, kStemCout);
  for (int i = threadIdx.x; i < kStemTaps * kStemCout; i += kStemThreads) {
    sw[i % kStemTaps][i / kStemTaps] = to_float(w[i]);  // w[n][c][r][s] is i = n * 27 + tap
  }
  if (threadIdx.x < kStemCout) sb[threadIdx.x] = to_float(bias[threadIdx.x]);
  __syncthreads();
  const int64_t p = static_cast<int64_t>(blockIdx.x) * kStemThreads + threadIdx.x;
  if (p >= s.pixels) return;  // no barrier follows
  const int ox = static_cast<int>(p % s.Wo);
  const int oy = static_cast<int>((p / s.Wo) % s.Ho);
  const int64_t b = p / (static_cast<int64_t>(s.Wo) * s.Ho);
  float acc[kStemCout];
  for (int n = 0; n < kStemCout; ++n) acc[n] = sb[n];
  const int64_t plane = static_cast<int64_t>(s.H) * s.W;
  const float* xb = x + b * kStemCin * plane;
  for (int r = 0; r < 3; ++r) {
    const int iy = 2 * oy - 1 + r;
    for (int q = 0; q < 3; ++q) {
      const int ix = 2 * ox - 1 + q;
      // Padding as a select, not a branch: the 27 loads issue back to back.
      const bool inside = iy >= 0 && iy < s.H && ix >= 0 && ix < s.W;
      const int64_t at = inside ? static_cast<int64_t>(iy) * s.W + ix : 0;
      for (int c = 0; c < kStemCin; ++c) {
        const float v = inside ? xb[c * plane + at] : 0.0f;
        const float* wk = sw[c * 9 + r * 3 + q];
        for (int n = 0; n < kStemCout; ++n) acc[n] = fmaf(v, wk[n], acc[n]);
      }
    }
  }
  T* yp = y + p * kStemCout;
  for (int g = 0; g < kStemCout; g += V) {
    float v[V];
    for (int i = 0; i < V; ++i) v[i] = apply_act(act, acc[g + i]);
    store_pack<V>(yp + g, v);
  }
}

// ---------------------------------------------------------------------------------------------
// Implicit GEMM.
//
// Note [implicit GEMM tiles] (analytic, UNMEASURED: no GPU run yet)
// Block tile 64 pixels x 32 output channels, k tile 32; 4 warps, warp w owns pixel rows
// [16w, 16w + 16) and both 16-wide n fragments (2 accumulators, 1 A fragment reused twice per
// k step of 16).
//  - N = 32: MobileViT's Cout are 48, 64, 80, 96, 128, 160. Padding waste with 32-wide tiles: 48
//    -> 64 (25 %), 80 -> 96 (17 %), the rest 0; with 64-wide: 25 / 37.5 / 25 / 17 % on 48 / 80 /
//    96 / 160. 16-wide wastes nothing but halves each A fragment's reuse and doubles the gathers
//    per MAC.
//  - M = 64: the real maps are 49..1024 pixels at batch 1 (7x7 .. 32x32): a 7x7 or 8x8 map is one
//    m tile; 32x32 is 16 m tiles x 2..5 n tiles = 32..80 blocks, under one wave of 132 SMs at
//    batch 1 for any tile that keeps tensor cores fed (latency-bound there anyway), 256..640 at
//    batch 8. Per k tile a block stages 64x32 + 32x32 = 3072 elements for 65536 MACs (21 MACs per
//    staged element).
//  - K = 32: two mma k-steps per pair of barriers; one k tile of 16-bit elements is 3 16-byte
//    chunks per thread (2 of A, 1 of B) held in registers while the previous tile's MMAs run
//    (register double-buffering: global latency overlaps the MMAs with one shared buffer).
//    K padding: 9 * 48 = 432 -> 448 (3.7 %), smaller for the rest.
//  - Shared memory 17.7 KB per block (A 5 KB, B 2.5 KB, C staging 9 KB, pixel table 0.75 KB):
//    9 blocks per SM on sm_80 (164 KB), 12 on sm_90 (228 KB); registers (54-80 per thread,
//    ptxas) allow 6-8, so 24-32 warps per SM: enough to overlap one block's barrier with
//    another's MMAs.
// Row strides: A and B rows are 32 + 8 = 40 elements (80 bytes: a 16-byte multiple, as
// load_matrix_sync's ldm must be, and not a multiple of 128, so consecutive rows start in
// different banks); the fp32 C staging rows are 32 + 4 = 36 floats. Every fragment pointer is a
// multiple of 32 bytes from the 32-byte aligned struct base (16-row steps are 1280 / 2304 bytes,
// 16-column steps 32 / 64 bytes).
constexpr int kIgemmThreads = 128;
constexpr int kBlockM = 64;
constexpr int kBlockN = 32;
constexpr int kBlockK = 32;
constexpr int kLdAB = kBlockK + 8;
constexpr int kLdC = kBlockN + 4;
constexpr int kIgemmVec = 8;  // 16 bytes of f16 / bf16
constexpr int kWmma = 16;
static_assert(kIgemmThreads == 32 * kBlockM / kWmma, "one warp per 16-row strip of the tile");

template <class T>
struct alignas(32) IgemmSmem {
  T a[kBlockM][kLdAB];  // A tile [pixel][k]
  T b[kBlockN][kLdAB];  // B tile [n][k]: column-major B[k][n], as KRSC weight rows are
  float c[kBlockM][kLdC];
  int row_b[kBlockM], row_y[kBlockM], row_x[kBlockM];  // each tile row's pixel; y < -1: m >= M
};

// One k tile between its global loads and its shared-memory stores. V = 8: chunks of 8 channels
// (one 16-byte access: C0, C1 multiples of 8 keep a chunk inside one tap of one input); V = 1:
// single elements. A thread always handles the same k column (k index kc * V of the tile), so it
// decodes (input, tap, channel) once per tile.
template <class T, int V>
struct IgemmStage {
  static constexpr int kChunksK = kBlockK / V;
  static constexpr int kRowStep = kIgemmThreads / kChunksK;
  static constexpr int kA = kBlockM / kRowStep;
  static constexpr int kB = kBlockN / kRowStep;
  RawOf<T, V> a[kA];
  RawOf<T, V> b[kB];
};

template <class T, int V>
__device__ void igemm_load(IgemmStage<T, V>& st, const IgemmSmem<T>& sm, int kt, int n0,
                           const T* in0, const T* in1, const T* w0, const T* w1,
                           const ConvShape& s) {
  using Stage = IgemmStage<T, V>;
  const int kc = threadIdx.x % Stage::kChunksK;
  const int r0 = threadIdx.x / Stage::kChunksK;
  const int k = kt * kBlockK + kc * V;
  const bool valid = k < s.K;
  const bool second = k >= s.K0;
  const int kk = second ? k - s.K0 : k;  // k within this input's weight row
  const int C = second ? s.C1 : s.C0;
  const T* in = second ? in1 : in0;
  const T* w = second ? w1 : w0;
  const int tap = valid ? kk / C : 0;
  const int c = kk - tap * C;
  const int dy = tap / 3 - 1, dx = tap % 3 - 1;
  for (int j = 0; j < Stage::kA; ++j) {
    const int r = r0 + j * Stage::kRowStep;
    const int iy = sm.row_y[r] + dy, ix = sm.row_x[r] + dx;
    st.a[j] = RawOf<T, V>{};
    if (valid && iy >= 0 && iy < s.H && ix >= 0 && ix < s.W) {
      const int64_t pix = (static_cast<int64_t>(sm.row_b[r]) * s.H + iy) * s.W + ix;
      st.a[j] = load_raw<V>(in + pix * C + c);
    }
  }
  for (int j = 0; j < Stage::kB; ++j) {
    const int n = n0 + r0 + j * Stage::kRowStep;
    st.b[j] = RawOf<T, V>{};
    if (valid && n < s.Cout) {
      st.b[j] = load_raw<V>(w + static_cast<int64_t>(n) * 9 * C + kk);
    }
  }
}

template <class T, int V>
__device__ void igemm_store(const IgemmStage<T, V>& st, IgemmSmem<T>& sm) {
  using Stage = IgemmStage<T, V>;
  const int kc = threadIdx.x % Stage::kChunksK;
  const int r0 = threadIdx.x / Stage::kChunksK;
  for (int j = 0; j < Stage::kA; ++j) {
    store_raw<V>(&sm.a[r0 + j * Stage::kRowStep][kc * V], st.a[j]);
  }
  for (int j = 0; j < Stage::kB; ++j) {
    store_raw<V>(&sm.b[r0 + j * Stage::kRowStep][kc * V], st.b[j]);
  }
}

// The block's pixel table: tile row r is output pixel m0 + r.
template <class T>
__device__ void igemm_pixel_table(IgemmSmem<T>& sm, int64_t m0, const ConvShape& s) {
  for (int r = threadIdx.x; r < kBlockM; r += kIgemmThreads) {
    const int64_t m = m0 + r;
    const bool in_range = m < s.M;
    sm.row_x[r] = in_range ? static_cast<int>(m % s.W) : 0;
    sm.row_y[r] = in_range ? static_cast<int>((m / s.W) % s.H) : -4;  // every tap lands above
    sm.row_b[r] = in_range ? static_cast<int>(m / (static_cast<int64_t>(s.W) * s.H)) : 0;
  }
}

// Bias + activation from the fp32 staging tile to out, 8-element packs (128-bit stores where the
// address allows) when Cout is a multiple of 8, single elements otherwise.
template <class T>
__device__ void igemm_epilogue(const IgemmSmem<T>& sm, int64_t m0, int n0, const T* bias, T* out,
                               const ConvShape& s, Activation act) {
  if (s.Cout % kIgemmVec == 0) {
    constexpr int kPacks = kBlockN / kIgemmVec;
    for (int e = threadIdx.x; e < kBlockM * kPacks; e += kIgemmThreads) {
      const int r = e / kPacks, q = (e % kPacks) * kIgemmVec;
      const int64_t m = m0 + r;
      const int n = n0 + q;
      if (m >= s.M || n >= s.Cout) continue;
      float bv[kIgemmVec], v[kIgemmVec];
      load_floats(bias + n, bv);
      for (int i = 0; i < kIgemmVec; ++i) v[i] = apply_act(act, sm.c[r][q + i] + bv[i]);
      store_floats(out + m * s.Cout + n, v);
    }
  } else {
    for (int e = threadIdx.x; e < kBlockM * kBlockN; e += kIgemmThreads) {
      const int r = e / kBlockN, q = e % kBlockN;
      const int64_t m = m0 + r;
      const int n = n0 + q;
      if (m >= s.M || n >= s.Cout) continue;
      out[m * s.Cout + n] = from_float<T>(apply_act(act, sm.c[r][q] + to_float(bias[n])));
    }
  }
}

// in0: [B, H, W, C0], in1: [B, H, W, C1] or null, w0: [Cout, 3, 3, C0], w1: [Cout, 3, 3, C1],
// bias: [Cout], out: [B, H, W, Cout]. Grid: (m tiles, n tiles). Note [bf16 fragments before sm_80].
template <class T, int V>
__global__ void MVIT_LAUNCH_BOUNDS(128)
    conv3x3_implicit_gemm_kernel(const T* in0, const T* in1, const T* w0, const T* w1,
                                 const T* bias, T* out, ConvShape s, Activation act) {
  if constexpr (kWmmaInput<T>) {
    namespace wmma = nvcuda::wmma;
    MVIT_SHARED(IgemmSmem<T>, smem, 1);
    IgemmSmem<T>& sm = smem[0];
    const int warp = threadIdx.x / 32;
    const int64_t m0 = static_cast<int64_t>(blockIdx.x) * kBlockM;
    const int n0 = blockIdx.y * kBlockN;
    wmma::fragment<wmma::matrix_a, kWmma, kWmma, kWmma, T, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, kWmma, kWmma, kWmma, T, wmma::col_major> fb;
    wmma::fragment<wmma::accumulator, kWmma, kWmma, kWmma, float> acc[kBlockN / kWmma];
    for (auto& f : acc) wmma::fill_fragment(f, 0.0f);

    igemm_pixel_table(sm, m0, s);
    __syncthreads();
    IgemmStage<T, V> stage;
    igemm_load(stage, sm, 0, n0, in0, in1, w0, w1, s);
    const int k_tiles = (s.K + kBlockK - 1) / kBlockK;
    for (int kt = 0; kt < k_tiles; ++kt) {
      igemm_store(stage, sm);
      __syncthreads();
      if (kt + 1 < k_tiles) igemm_load(stage, sm, kt + 1, n0, in0, in1, w0, w1, s);
      for (int ks = 0; ks < kBlockK; ks += kWmma) {
        wmma::load_matrix_sync(fa, &sm.a[warp * kWmma][ks], kLdAB);
        for (int j = 0; j < kBlockN / kWmma; ++j) {
          wmma::load_matrix_sync(fb, &sm.b[j * kWmma][ks], kLdAB);
          wmma::mma_sync(acc[j], fa, fb, acc[j]);
        }
      }
      __syncthreads();
    }
    for (int j = 0; j < kBlockN / kWmma; ++j) {
      wmma::store_matrix_sync(&sm.c[warp * kWmma][j * kWmma], acc[j], kLdC, wmma::mem_row_major);
    }
    __syncthreads();
    igemm_epilogue(sm, m0, n0, bias, out, s, act);
  }
}

// ---------------------------------------------------------------------------------------------
// Direct (SIMT).

constexpr int kDirectThreads = 128;  // 4 warps of consecutive pixels sharing one channel group
// Output channels per thread: each input value read once feeds 8 FMAs; 8 accumulators and the
// V-wide operands fit in registers without spills on sm_75..sm_90 (ptxas: 32-72 registers).
constexpr int kDirectCo = 8;

// acc[j] += sum over taps and channels of in[tap pixel, c] * w[n(j), tap, c]; n(j) = n0 + j,
// clamped to Cout - 1 (the surplus accumulators of a tail group are computed and discarded,
// keeping the loop free of per-channel branches). The weight offsets are 32-bit relative to the
// group's first row: with 64-bit row addresses ptxas spilled the warp-uniform values on sm_90.
template <class T, int V>
__device__ __forceinline__ void direct_accumulate(float (&acc)[kDirectCo], const T* in, const T* w,
                                                  int C, int64_t b, int y, int x, int n0,
                                                  const ConvShape& s) {
  const int row = 9 * C;                             // one weight row (KRSC), < 2^20 elements
  const int last = min(kDirectCo, s.Cout - n0) - 1;  // the group's last real channel
  const T* wg = w + static_cast<int64_t>(n0) * row;
  for (int tap = 0; tap < 9; ++tap) {
    const int iy = y + tap / 3 - 1, ix = x + tap % 3 - 1;
    if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
    const T* px = in + ((b * s.H + iy) * s.W + ix) * C;
    const T* wt = wg + tap * C;
    for (int c = 0; c < C; c += V) {
      float xv[V];
      load_pack<V>(px + c, xv);
      for (int j = 0; j < kDirectCo; ++j) {
        float wv[V];
        load_pack<V>(wt + min(j, last) * row + c, wv);  // 32-bit offsets: fewer live registers
        for (int i = 0; i < V; ++i) acc[j] = fmaf(xv[i], wv[i], acc[j]);
      }
    }
  }
}

// Same tensors as the implicit GEMM kernel. Grid: (pixel blocks, channel groups of 8).
template <class T, int V>
__global__ void MVIT_LAUNCH_BOUNDS(128)
    conv3x3_direct_nhwc_kernel(const T* in0, const T* in1, const T* w0, const T* w1, const T* bias,
                               T* out, ConvShape s, Activation act) {
  const int64_t m = static_cast<int64_t>(blockIdx.x) * kDirectThreads + threadIdx.x;
  if (m >= s.M) return;
  const int n0 = blockIdx.y * kDirectCo;
  const int x = static_cast<int>(m % s.W);
  const int y = static_cast<int>((m / s.W) % s.H);
  const int64_t b = m / (static_cast<int64_t>(s.W) * s.H);
  float acc[kDirectCo] = {};
  direct_accumulate<T, V>(acc, in0, w0, s.C0, b, y, x, n0, s);
  if (in1 != nullptr) direct_accumulate<T, V>(acc, in1, w1, s.C1, b, y, x, n0, s);
  const int count = min(kDirectCo, s.Cout - n0);
  float v[kDirectCo];
  for (int j = 0; j < kDirectCo; ++j) {
    v[j] = j < count ? apply_act(act, acc[j] + to_float(bias[n0 + j])) : 0.0f;
  }
  T* op = out + m * s.Cout + n0;
  if (count == kDirectCo) {
    constexpr int kStore = kVec<T> < kDirectCo ? kVec<T> : kDirectCo;
    for (int g = 0; g < kDirectCo; g += kStore) {
      float part[kStore];
      for (int i = 0; i < kStore; ++i) part[i] = v[g + i];
      store_floats(op + g, part);  // one 128-bit store where the address allows
    }
  } else {
    for (int j = 0; j < kDirectCo; ++j) {
      if (j < count) op[j] = from_float<T>(v[j]);  // constant trip count: v stays in registers
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host side: validation, planning, launchers.

bool valid_dtype(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}

bool overlaps(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return a != nullptr && b != nullptr && pa < pb + b_bytes && pb < pa + a_bytes;
}

std::string stem_reason(const Conv3x3StemParams& p, int* vec) {
  if (!valid_dtype(p.dtype)) {
    return detail::format("dtype %d is not one of f32, f16, bf16", static_cast<int>(p.dtype));
  }
  if (p.B <= 0 || p.H <= 0 || p.W <= 0) {
    return detail::format("B, H, W must be >= 1, got %d, %d, %d", p.B, p.H, p.W);
  }
  if (p.impl != Conv3x3Impl::kAuto && p.impl != Conv3x3Impl::kDirect) {
    return detail::format("impl %s is not available for the stem (supported: auto, direct)",
                          conv3x3_impl_name(p.impl));
  }
  if (p.x == nullptr) return "x is null";
  if (p.w == nullptr) return "w is null";
  if (p.bias == nullptr) return "bias is null";
  if (p.y == nullptr) return "y is null";
  const int64_t pixels =
      static_cast<int64_t>(p.B) * conv3x3_stem_out_size(p.H) * conv3x3_stem_out_size(p.W);
  if ((pixels + kStemThreads - 1) / kStemThreads > INT32_MAX) {
    return detail::format("B * Ho * Wo = %lld pixels exceeds the grid's limit",
                          static_cast<long long>(pixels));
  }
  if (overlaps(p.x, static_cast<size_t>(p.B) * kStemCin * p.H * p.W * sizeof(float), p.y,
               static_cast<size_t>(pixels) * kStemCout * dtype_size(p.dtype))) {
    return "y overlaps x";
  }
  const int wide = static_cast<int>(16 / dtype_size(p.dtype));
  const bool y_aligned = is_aligned(p.y, 16);
  if (p.vec != 0 && p.vec != 1 && p.vec != wide) {
    return detail::format("vec %d is not a store width of the stem for %s (supported: 0, 1, %d)",
                          p.vec, dtype_name(p.dtype), wide);
  }
  if (p.vec == wide && !y_aligned) {
    return detail::format("vec %d needs y 16-byte aligned, got %p", p.vec, p.y);
  }
  *vec = p.vec != 0 ? p.vec : y_aligned ? wide : 1;
  return std::string();
}

// The implementation and vector width conv3x3_forward runs for p, or why it cannot.
struct Plan {
  Conv3x3Impl impl = Conv3x3Impl::kAuto;
  int vec = 0;
};

std::string basic_reason(const Conv3x3Params& p) {
  if (!valid_dtype(p.dtype)) {
    return detail::format("dtype %d is not one of f32, f16, bf16", static_cast<int>(p.dtype));
  }
  if (p.B <= 0 || p.H <= 0 || p.W <= 0) {
    return detail::format("B, H, W must be >= 1, got %d, %d, %d", p.B, p.H, p.W);
  }
  if (p.C0 <= 0 || p.C0 > kMaxChannels) {
    return detail::format("C0 must be in [1, %d], got %d", kMaxChannels, p.C0);
  }
  if (p.C1 < 0 || p.C1 > kMaxChannels) {
    return detail::format("C1 must be in [0, %d], got %d", kMaxChannels, p.C1);
  }
  if (p.Cout <= 0 || p.Cout > kMaxChannels) {
    return detail::format("Cout must be in [1, %d], got %d", kMaxChannels, p.Cout);
  }
  if (p.in0 == nullptr) return "in0 is null";
  if (p.w0 == nullptr) return "w0 is null";
  if (p.bias == nullptr) return "bias is null";
  if (p.out == nullptr) return "out is null";
  if (p.in1 != nullptr && p.w1 == nullptr) return "in1 is given but w1 is null";
  if (p.in1 == nullptr && p.w1 != nullptr) return "w1 is given but in1 is null";
  if (p.in1 != nullptr && p.C1 == 0) return "in1 is given but C1 is 0";
  if (p.in1 == nullptr && p.C1 != 0) {
    return detail::format("C1 is %d but in1 is null", p.C1);
  }
  const int64_t M = static_cast<int64_t>(p.B) * p.H * p.W;
  if ((M + kBlockM - 1) / kBlockM > INT32_MAX) {
    return detail::format("B * H * W = %lld pixels exceeds the grid's limit",
                          static_cast<long long>(M));
  }
  const size_t e = dtype_size(p.dtype);
  const size_t out_bytes = static_cast<size_t>(M) * p.Cout * e;
  if (overlaps(p.out, out_bytes, p.in0, static_cast<size_t>(M) * p.C0 * e)) {
    return "out overlaps in0";
  }
  if (overlaps(p.out, out_bytes, p.in1, static_cast<size_t>(M) * p.C1 * e)) {
    return "out overlaps in1";
  }
  return std::string();
}

// The 128-bit width of our kernel `impl` for p, or why p cannot have it.
std::string vector_reason(const Conv3x3Params& p, int wide) {
  if (p.C0 % wide != 0) return detail::format("C0 a multiple of %d, got %d", wide, p.C0);
  if (p.in1 != nullptr && p.C1 % wide != 0) {
    return detail::format("C1 a multiple of %d, got %d", wide, p.C1);
  }
  const void* ptrs[] = {p.in0, p.in1, p.w0, p.w1};
  const char* names[] = {"in0", "in1", "w0", "w1"};
  for (int i = 0; i < 4; ++i) {
    if (ptrs[i] != nullptr && !is_aligned(ptrs[i], 16)) {
      return detail::format("%s 16-byte aligned, got %p", names[i], ptrs[i]);
    }
  }
  return std::string();
}

std::string plan_ours(const Conv3x3Params& p, Conv3x3Impl impl, int cc, Plan* plan) {
  const char* name = impl == Conv3x3Impl::kImplicitGemm ? "implicit_gemm" : "direct";
  if (impl == Conv3x3Impl::kImplicitGemm) {
    if (p.dtype == DType::kF32) {
      return "implicit_gemm needs f16 or bf16 storage (tensor cores), got f32";
    }
    if (p.dtype == DType::kBF16 && cc < 80) {
      return detail::format(
          "dtype bf16 needs compute capability >= 8.0 for implicit_gemm, device has %d.%d", cc / 10,
          cc % 10);
    }
  }
  const int wide =
      impl == Conv3x3Impl::kImplicitGemm ? kIgemmVec : static_cast<int>(16 / dtype_size(p.dtype));
  if (p.vec != 0 && p.vec != 1 && p.vec != wide) {
    return detail::format("vec %d is not a width of %s for %s (supported: 0, 1, %d)", p.vec, name,
                          dtype_name(p.dtype), wide);
  }
  const std::string no_vector = vector_reason(p, wide);
  if (p.vec == wide && !no_vector.empty()) {
    return detail::format("vec %d (%s) needs %s", p.vec, name, no_vector.c_str());
  }
  plan->impl = impl;
  plan->vec = p.vec != 0 ? p.vec : no_vector.empty() ? wide : 1;
  return std::string();
}

BiasActParams epilogue_params(const Conv3x3Params& p) {
  BiasActParams e;
  e.src = p.out;
  e.dst = p.out;
  e.bias = p.bias;
  e.rows = static_cast<int64_t>(p.B) * p.H * p.W;
  e.cols = p.Cout;
  e.H = p.H;
  e.W = p.W;
  e.act = p.act;
  e.src_dtype = p.dtype;
  e.dst_dtype = p.dtype;
  return e;
}

std::string plan_cudnn(const Conv3x3Params& p, const LibraryHandles& h, int cc, Plan* plan) {
  if (!MVIT_HAVE_CUDNN) {
    return "impl cudnn: this build does not link cuDNN (configured with MVIT_WITH_CUDNN=OFF)";
  }
  if (h.cudnn == nullptr) return "impl cudnn: LibraryHandles::cudnn is null";
  if (h.workspace == nullptr && h.workspace_bytes != 0) {
    return detail::format(
        "impl cudnn: LibraryHandles::workspace is null but workspace_bytes is %zu",
        h.workspace_bytes);
  }
  if (p.vec != 0) {
    return detail::format("vec %d applies to our kernels; impl cudnn needs vec 0", p.vec);
  }
  if (p.dtype == DType::kBF16 && cc < 80) {
    return detail::format(
        "dtype bf16 needs compute capability >= 8.0 for impl cudnn, device has %d.%d", cc / 10,
        cc % 10);
  }
  if (!bias_act_supported(epilogue_params(p))) {
    return "impl cudnn: the bias_act epilogue does not support these params";
  }
  plan->impl = Conv3x3Impl::kCudnn;
  plan->vec = 0;
  return std::string();
}

std::string plan_conv(const Conv3x3Params& p, const LibraryHandles& h, Plan* plan) {
  std::string why = basic_reason(p);
  if (!why.empty()) return why;
  const int cc = p.dtype == DType::kBF16 ? current_compute_capability() : 0;
  switch (p.impl) {
    case Conv3x3Impl::kCudnn:
      return plan_cudnn(p, h, cc, plan);
    case Conv3x3Impl::kImplicitGemm:
    case Conv3x3Impl::kDirect:
      return plan_ours(p, p.impl, cc, plan);
    case Conv3x3Impl::kAuto:
      break;
    default:
      return detail::format("impl %d is not one of auto, cudnn, implicit_gemm, direct",
                            static_cast<int>(p.impl));
  }
  // The analytic rule of the file comment.
  if (p.dtype == DType::kF16 || (p.dtype == DType::kBF16 && cc >= 80)) {
    return plan_ours(p, Conv3x3Impl::kImplicitGemm, cc, plan);
  }
  if (p.dtype == DType::kF32 && p.vec == 0 && MVIT_HAVE_CUDNN && h.cudnn != nullptr) {
    return plan_cudnn(p, h, cc, plan);
  }
  return plan_ours(p, Conv3x3Impl::kDirect, cc, plan);
}

ConvShape conv_shape(const Conv3x3Params& p) {
  return {p.H,
          p.W,
          p.C0,
          p.C1,
          p.Cout,
          9 * p.C0,
          9 * (p.C0 + p.C1),
          static_cast<int64_t>(p.B) * p.H * p.W};
}

template <class T>
void launch_conv3x3_implicit_gemm(const Conv3x3Params& p, int vec, Stream stream) {
  const ConvShape s = conv_shape(p);
  const dim3 grid(static_cast<unsigned>((s.M + kBlockM - 1) / kBlockM),
                  static_cast<unsigned>((p.Cout + kBlockN - 1) / kBlockN));
  auto kernel = vec == kIgemmVec ? conv3x3_implicit_gemm_kernel<T, kIgemmVec>
                                 : conv3x3_implicit_gemm_kernel<T, 1>;
  mvit::launch(kernel, grid, dim3(kIgemmThreads), 0, stream, static_cast<const T*>(p.in0),
               static_cast<const T*>(p.in1), static_cast<const T*>(p.w0),
               static_cast<const T*>(p.w1), static_cast<const T*>(p.bias), static_cast<T*>(p.out),
               s, p.act);
}

template <class T>
void launch_conv3x3_direct(const Conv3x3Params& p, int vec, Stream stream) {
  const ConvShape s = conv_shape(p);
  const dim3 grid(static_cast<unsigned>((s.M + kDirectThreads - 1) / kDirectThreads),
                  static_cast<unsigned>((p.Cout + kDirectCo - 1) / kDirectCo));
  auto kernel =
      vec == kVec<T> ? conv3x3_direct_nhwc_kernel<T, kVec<T>> : conv3x3_direct_nhwc_kernel<T, 1>;
  mvit::launch(kernel, grid, dim3(kDirectThreads), 0, stream, static_cast<const T*>(p.in0),
               static_cast<const T*>(p.in1), static_cast<const T*>(p.w0),
               static_cast<const T*>(p.w1), static_cast<const T*>(p.bias), static_cast<T*>(p.out),
               s, p.act);
}

template <class T>
void launch_conv3x3_stem(const Conv3x3StemParams& p, int vec, Stream stream) {
  const StemShape s{
      p.H, p.W, conv3x3_stem_out_size(p.H), conv3x3_stem_out_size(p.W),
      static_cast<int64_t>(p.B) * conv3x3_stem_out_size(p.H) * conv3x3_stem_out_size(p.W)};
  const dim3 grid(static_cast<unsigned>((s.pixels + kStemThreads - 1) / kStemThreads));
  auto kernel =
      vec == kVec<T> ? conv3x3_stem_nchw_kernel<T, kVec<T>> : conv3x3_stem_nchw_kernel<T, 1>;
  mvit::launch(kernel, grid, dim3(kStemThreads), 0, stream, p.x, static_cast<const T*>(p.w),
               static_cast<const T*>(p.bias), static_cast<T*>(p.y), s, p.act);
}

// ---------------------------------------------------------------------------------------------
// The cuDNN path.

#if MVIT_HAVE_CUDNN

cudnnDataType_t cudnn_type(DType t) {
  return t == DType::kF32   ? CUDNN_DATA_FLOAT
         : t == DType::kF16 ? CUDNN_DATA_HALF
                            : CUDNN_DATA_BFLOAT16;
}

// The descriptors of one cudnnConvolutionForward call over (in, w) with C input channels.
class CudnnConv {
 public:
  CudnnConv(const Conv3x3Params& p, int C) {
    const cudnnDataType_t t = cudnn_type(p.dtype);
    MVIT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_));
    MVIT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_));
    MVIT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_));
    MVIT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_));
    MVIT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NHWC, t, p.B, C, p.H, p.W));
    MVIT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NHWC, t, p.B, p.Cout, p.H, p.W));
    MVIT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_, t, CUDNN_TENSOR_NHWC, p.Cout, C, 3, 3));
    MVIT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_, 1, 1, 1, 1, 1, 1,
                                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    MVIT_CUDNN_CHECK(cudnnSetConvolutionMathType(
        conv_, p.dtype == DType::kF32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
  }
  ~CudnnConv() {
    MVIT_CUDNN_CHECK_LOG(cudnnDestroyConvolutionDescriptor(conv_));
    MVIT_CUDNN_CHECK_LOG(cudnnDestroyFilterDescriptor(w_));
    MVIT_CUDNN_CHECK_LOG(cudnnDestroyTensorDescriptor(y_));
    MVIT_CUDNN_CHECK_LOG(cudnnDestroyTensorDescriptor(x_));
  }
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  // cuDNN's heuristic ranking of the forward algorithms, the usable ones only.
  std::vector<cudnnConvolutionFwdAlgoPerf_t> ranked(cudnnHandle_t h) const {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    MVIT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
        h, x_, w_, conv_, y_, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
    std::vector<cudnnConvolutionFwdAlgoPerf_t> out;
    for (int i = 0; i < returned; ++i) {
      if (perf[i].status == CUDNN_STATUS_SUCCESS) out.push_back(perf[i]);
    }
    return out;
  }

  // The first ranked algorithm whose workspace fits; throws naming the smallest need otherwise.
  cudnnConvolutionFwdAlgoPerf_t pick(cudnnHandle_t h, size_t workspace_bytes) const {
    const std::vector<cudnnConvolutionFwdAlgoPerf_t> algos = ranked(h);
    MVIT_CHECK(!algos.empty(), "conv3x3: cuDNN offers no forward algorithm for this convolution");
    size_t smallest = algos[0].memory;
    for (const auto& a : algos) {
      if (a.memory <= workspace_bytes) return a;
      smallest = std::min(smallest, a.memory);
    }
    MVIT_FAIL(
        "conv3x3: no cuDNN algorithm fits the workspace of %zu bytes (the smallest needs %zu)",
        workspace_bytes, smallest);
  }

  void run(cudnnHandle_t h, const cudnnConvolutionFwdAlgoPerf_t& algo, const void* in,
           const void* w, void* out, float beta, const LibraryHandles& lh) const {
    const float alpha = 1.0f;
    MVIT_CUDNN_CHECK(cudnnConvolutionForward(h, &alpha, x_, in, w_, w, conv_, algo.algo,
                                             lh.workspace, lh.workspace_bytes, &beta, y_, out));
  }

 private:
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
};

Dispatch run_cudnn(const Conv3x3Params& p, const LibraryHandles& h, Stream stream) {
  cudnnHandle_t handle = h.cudnn;
  const CudnnConv first(p, p.C0);
  const cudnnConvolutionFwdAlgoPerf_t algo0 = first.pick(handle, h.workspace_bytes);
  if (p.in1 == nullptr) {
    MVIT_CUDNN_CHECK(cudnnSetStream(handle, stream));
    first.run(handle, algo0, p.in0, p.w0, p.out, 0.0f, h);
  } else {
    const CudnnConv second(p, p.C1);
    const cudnnConvolutionFwdAlgoPerf_t algo1 = second.pick(handle, h.workspace_bytes);
    MVIT_CUDNN_CHECK(cudnnSetStream(handle, stream));
    first.run(handle, algo0, p.in0, p.w0, p.out, 0.0f, h);
    second.run(handle, algo1, p.in1, p.w1, p.out, 1.0f, h);  // out += conv(in1, w1)
  }
  const Dispatch e = bias_act_forward(epilogue_params(p), stream);
  return {"cudnn+bias_act", e.vec};
}

size_t cudnn_workspace(const Conv3x3Params& p, const LibraryHandles& h) {
  size_t bytes = 0;
  for (int i = 0; i < (p.in1 != nullptr ? 2 : 1); ++i) {
    const std::vector<cudnnConvolutionFwdAlgoPerf_t> algos =
        CudnnConv(p, i == 0 ? p.C0 : p.C1).ranked(h.cudnn);
    MVIT_CHECK(!algos.empty(), "conv3x3: cuDNN offers no forward algorithm for this convolution");
    bytes = std::max(bytes, algos[0].memory);
  }
  return bytes;
}

#else

Dispatch run_cudnn(const Conv3x3Params&, const LibraryHandles&, Stream) {
  MVIT_FAIL("conv3x3: this build does not link cuDNN");
}

size_t cudnn_workspace(const Conv3x3Params&, const LibraryHandles&) {
  MVIT_FAIL("conv3x3: this build does not link cuDNN");
}

#endif

}  // namespace

bool conv3x3_stem_supported(const Conv3x3StemParams& p) {
  int vec = 0;
  return stem_reason(p, &vec).empty();
}

Dispatch conv3x3_stem_forward(const Conv3x3StemParams& p, Stream stream) {
  int vec = 0;
  const std::string why = stem_reason(p, &vec);
  MVIT_CHECK(why.empty(), "conv3x3_stem: %s", why.c_str());
  switch (p.dtype) {
    case DType::kF32:
      launch_conv3x3_stem<float>(p, vec, stream);
      break;
    case DType::kF16:
      launch_conv3x3_stem<__half>(p, vec, stream);
      break;
    case DType::kBF16:
      launch_conv3x3_stem<__nv_bfloat16>(p, vec, stream);
      break;
  }
  return {"stem_direct", vec};
}

bool conv3x3_supported(const Conv3x3Params& p, const LibraryHandles& h) {
  Plan plan;
  return plan_conv(p, h, &plan).empty();
}

Dispatch conv3x3_forward(const Conv3x3Params& p, const LibraryHandles& h, Stream stream) {
  Plan plan;
  const std::string why = plan_conv(p, h, &plan);
  MVIT_CHECK(why.empty(), "conv3x3: %s", why.c_str());
  if (plan.impl == Conv3x3Impl::kCudnn) return run_cudnn(p, h, stream);
  if (plan.impl == Conv3x3Impl::kImplicitGemm) {
    if (p.dtype == DType::kF16) {
      launch_conv3x3_implicit_gemm<__half>(p, plan.vec, stream);
    } else {
      launch_conv3x3_implicit_gemm<__nv_bfloat16>(p, plan.vec, stream);
    }
    return {"implicit_gemm", plan.vec};
  }
  switch (p.dtype) {
    case DType::kF32:
      launch_conv3x3_direct<float>(p, plan.vec, stream);
      break;
    case DType::kF16:
      launch_conv3x3_direct<__half>(p, plan.vec, stream);
      break;
    case DType::kBF16:
      launch_conv3x3_direct<__nv_bfloat16>(p, plan.vec, stream);
      break;
  }
  return {"direct", plan.vec};
}

size_t conv3x3_workspace_bytes(const Conv3x3Params& p, const LibraryHandles& h) {
  Plan plan;
  const std::string why = plan_conv(p, h, &plan);
  MVIT_CHECK(why.empty(), "conv3x3: %s", why.c_str());
  return plan.impl == Conv3x3Impl::kCudnn ? cudnn_workspace(p, h) : 0;
}

}  // namespace mvit
