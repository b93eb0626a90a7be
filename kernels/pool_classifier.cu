// Global average pool + Linear (+ softmax): the classifier head (formula in pool_classifier.h).
//
// Kernels, launched in this order:
// 1. global_avgpool_nhwc_kernel<T, kV>: pooled [B, C] fp32. A block of 256 threads covers
//    tile_groups channel groups (of kV channels) of one image x 256 / tile_groups pixel lanes; each
//    thread sums its lane's pixels, the lanes' partial sums meet in shared memory and one thread
//    per group adds them in lane order (deterministic) and divides by H W.
// 2. linear_rows_kernel<T, kV>: logits [B, classes] fp32. A warp computes kClassesPerWarp classes
//    for a tile of kBatchTile images: its lanes stride over the class's weight row (128-bit loads,
//    coalesced), each weight pack is used for all kBatchTile images (pooled read from L1/L2),
//    then a warp reduction; + bias.
// 3. softmax_rows_warp_kernel, only when probs is asked for: one warp per row of classes.
// kV = kVec<T> when C % kVec == 0 and x, weight, pooled are 16-byte aligned, else 1 (scalar).
//
// One kernel or two (analytic, unmeasured; MobileViT-S: C 640, 8x8 map, 1000 classes, f16):
// the Linear must spread its 1.28 MB of weights over ~100 blocks to reach DRAM bandwidth at batch
// 1 (one block streams ~10-20 GB/s), so a fused kernel would re-pool x in every class block:
//   batch 1:   fused saves one launch (~2 us, ~1 us inside a CUDA graph) and pays 1000 / 16 blocks
//              x 82 KB = 5 MB of extra L2 reads (~1 us): about even;
//   batch 256: x is 21 MB; fused re-reads it per class block, 63 x 21 MB = 1.3 GB of L2 traffic
//              (~200 us at ~6 TB/s) against 21 MB once (~7 us of DRAM) plus one launch.
// So two kernels, with pooled in a caller-provided fp32 buffer (B C floats, 2.5 KB per image).
// Softmax needs whole rows that the class-split Linear does not hold: a third kernel, reading and
// writing 4 KB per image, only when probabilities are wanted.
//
// Tiles: kBatchTile = 8 images share each weight load (weights read ceil(B / 8) times, from L2
// after the first: 1.28 MB x 32 = 41 MB at batch 256, ~7 us); kClassesPerWarp = 2 x 8 warps = 16
// classes per block: 63 blocks for 1000 classes at batch 1. Unmeasured.
//
// Numerics: fp32 sums (pool: per lane in pixel order, then lanes in order; Linear: lane-strided
// FMAs, butterfly reduction), division by H W as PyTorch's mean, softmax with expf (not __expf:
// logits - max reaches -30 and more, where __expf's error grows to ~40 ulp).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "kernels/common/channel_tiles.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/pool_classifier.h"

namespace mvit {

namespace {

constexpr int kThreads = 256;  // every kernel here: 8 warps
constexpr int kWarps = kThreads / kWarpSize;
constexpr int kMaxTileGroups = 32;  // pool: 32 x 16 B = 512 contiguous bytes of a pixel per row
constexpr int kBatchTile = 8;       // see the header comment
constexpr int kClassesPerWarp = 2;

template <class T>
struct PoolArgs {
  const T* x;     // [B, HW, C]
  float* pooled;  // [B, C]
  int HW, C;
  int groups;       // C / kV
  int tile_groups;  // channel groups per block: a power of two <= 32
};

template <class T>
struct LinearArgs {
  const float* pooled;  // [B, C]
  const T* w;           // [classes, C]
  const T* bias;        // [classes] or null
  float* logits;        // [B, classes]
  int B, C, classes;
};

// kN consecutive floats of pooled (16-byte aligned when kN > 1).
template <int kN>
__device__ void load_pooled(const float* p, float (&out)[kN]) {
  constexpr int kPack = kN < 4 ? kN : 4;
  for (int i = 0; i < kN; i += kPack) {
    float part[kPack];
    load_pack<kPack>(p + i, part);
    for (int j = 0; j < kPack; ++j) out[i + j] = part[j];
  }
}

}  // namespace

template <class T, int kV>
__global__ void MVIT_LAUNCH_BOUNDS(256) global_avgpool_nhwc_kernel(PoolArgs<T> a) {
  MVIT_SHARED(float, partial, kThreads* kV);  // [lane][group in tile][kV]
  const int lanes = kThreads / a.tile_groups;
  const int g = threadIdx.x % a.tile_groups, lane = threadIdx.x / a.tile_groups;
  const int group = blockIdx.x * a.tile_groups + g;
  const int b = blockIdx.y;
  float acc[kV] = {};
  if (group < a.groups) {
    const T* x = a.x + static_cast<int64_t>(b) * a.HW * a.C + group * kV;
    for (int p = lane; p < a.HW; p += lanes) {
      float v[kV];
      load_pack<kV>(x + static_cast<int64_t>(p) * a.C, v);
      for (int j = 0; j < kV; ++j) acc[j] += v[j];
    }
  }
  for (int j = 0; j < kV; ++j) partial[threadIdx.x * kV + j] = acc[j];
  __syncthreads();
  if (lane != 0 || group >= a.groups) return;  // no barrier follows
  for (int j = 0; j < kV; ++j) {
    float s = 0.0f;
    for (int l = 0; l < lanes; ++l) s += partial[(l * a.tile_groups + g) * kV + j];
    a.pooled[static_cast<int64_t>(b) * a.C + group * kV + j] = s / static_cast<float>(a.HW);
  }
}

template <class T, int kV>
__global__ void MVIT_LAUNCH_BOUNDS(256) linear_rows_kernel(LinearArgs<T> a) {
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const int b0 = blockIdx.y * kBatchTile;
  const int nb = a.B - b0 < kBatchTile ? a.B - b0 : kBatchTile;
  for (int i = 0; i < kClassesPerWarp; ++i) {
    const int k = (blockIdx.x * kWarps + warp) * kClassesPerWarp + i;
    if (k >= a.classes) return;  // the same k in every lane: whole warps leave
    const T* w = a.w + static_cast<int64_t>(k) * a.C;
    float acc[kBatchTile] = {};
    for (int c = lane * kV; c < a.C; c += kWarpSize * kV) {
      float wv[kV];
      load_pack<kV>(w + c, wv);
      for (int bb = 0; bb < kBatchTile; ++bb) {
        if (bb >= nb) break;
        float pv[kV];
        load_pooled<kV>(a.pooled + static_cast<int64_t>(b0 + bb) * a.C + c, pv);
        for (int j = 0; j < kV; ++j) acc[bb] = fmaf(wv[j], pv[j], acc[bb]);
      }
    }
    const float bias = a.bias != nullptr ? to_float(a.bias[k]) : 0.0f;
    for (int bb = 0; bb < kBatchTile; ++bb) {
      const float s = warp_reduce(acc[bb], SumOp());
      if (lane == 0 && bb < nb) a.logits[static_cast<int64_t>(b0 + bb) * a.classes + k] = s + bias;
    }
  }
}

// probs[r, :] = softmax(logits[r, :]), one warp per row.
__global__ void MVIT_LAUNCH_BOUNDS(256)
    softmax_rows_warp_kernel(const float* logits, float* probs, int rows, int cols) {
  const int row = blockIdx.x * kWarps + threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  if (row >= rows) return;  // whole warps leave
  const float* l = logits + static_cast<int64_t>(row) * cols;
  float* out = probs + static_cast<int64_t>(row) * cols;
  float m = MaxOp::identity();
  for (int c = lane; c < cols; c += kWarpSize) m = fmaxf(m, l[c]);
  m = warp_reduce(m, MaxOp());
  float s = 0.0f;
  for (int c = lane; c < cols; c += kWarpSize) s += expf(l[c] - m);
  const float inv = 1.0f / warp_reduce(s, SumOp());
  for (int c = lane; c < cols; c += kWarpSize) out[c] = expf(l[c] - m) * inv;
}

namespace {

// Channel groups per block (kernels/common/channel_tiles.h).
int tile_groups_for(int groups) {
  return channel_tile_groups(groups, kMaxTileGroups);
}

template <class T, int kV>
void launch_pool_classifier(const PoolClassifierParams& p, Stream stream) {
  PoolArgs<T> pa;
  pa.x = static_cast<const T*>(p.x);
  pa.pooled = p.pooled;
  pa.HW = p.H * p.W;
  pa.C = p.C;
  pa.groups = p.C / kV;
  pa.tile_groups = tile_groups_for(pa.groups);
  const dim3 pool_grid((pa.groups + pa.tile_groups - 1) / pa.tile_groups, p.B);
  mvit::launch(global_avgpool_nhwc_kernel<T, kV>, pool_grid, dim3(kThreads), 0, stream, pa);

  LinearArgs<T> la;
  la.pooled = p.pooled;
  la.w = static_cast<const T*>(p.weight);
  la.bias = static_cast<const T*>(p.bias);
  la.logits = p.logits;
  la.B = p.B, la.C = p.C, la.classes = p.classes;
  constexpr int kClassesPerBlock = kWarps * kClassesPerWarp;
  const dim3 linear_grid((p.classes + kClassesPerBlock - 1) / kClassesPerBlock,
                         (p.B + kBatchTile - 1) / kBatchTile);
  mvit::launch(linear_rows_kernel<T, kV>, linear_grid, dim3(kThreads), 0, stream, la);
}

template <class T>
int pool_classifier_typed(const PoolClassifierParams& p, Stream stream) {
  constexpr int kV = kVec<T>;
  if (p.C % kV == 0 && is_aligned(p.x, 16) && is_aligned(p.weight, 16) &&
      is_aligned(p.pooled, 16)) {
    launch_pool_classifier<T, kV>(p, stream);
    return kV;
  }
  launch_pool_classifier<T, 1>(p, stream);
  return 1;
}

using detail::overlaps;
using detail::Span;

std::string unsupported_reason(const PoolClassifierParams& p) {
  if (p.dtype != DType::kF32 && p.dtype != DType::kF16 && p.dtype != DType::kBF16) {
    return detail::format("dtype %d is not a DType (supported: f32, f16, bf16)",
                          static_cast<int>(p.dtype));
  }
  if (p.B <= 0 || p.H <= 0 || p.W <= 0 || p.C <= 0 || p.classes <= 0) {
    return detail::format("B, H, W, C, classes must be > 0, got B %d, H %d, W %d, C %d, classes %d",
                          p.B, p.H, p.W, p.C, p.classes);
  }
  if (p.B > 65535) return detail::format("B must be <= 65535 (the grid's y extent), got %d", p.B);
  const int64_t nx = static_cast<int64_t>(p.B) * p.H * p.W * p.C;
  const int64_t nw = static_cast<int64_t>(p.classes) * p.C;
  if (nx > INT32_MAX || nw > INT32_MAX) {
    return detail::format(
        "x has %lld and weight %lld elements: more than the kernels' limit of "
        "2^31 - 1",
        static_cast<long long>(nx), static_cast<long long>(nw));
  }
  if (p.x == nullptr) return "x is null";
  if (p.weight == nullptr) return "weight is null";
  if (p.pooled == nullptr) return "pooled is null (the [B, C] fp32 buffer the Linear reads)";
  if (p.logits == nullptr) return "logits is null";
  const size_t es = dtype_size(p.dtype);
  const size_t out = static_cast<size_t>(p.B) * p.classes * sizeof(float);
  const Span inputs[] = {{"x", p.x, static_cast<size_t>(nx) * es},
                         {"weight", p.weight, static_cast<size_t>(nw) * es},
                         {"bias", p.bias, static_cast<size_t>(p.classes) * es}};
  const Span outputs[] = {{"pooled", p.pooled, static_cast<size_t>(p.B) * p.C * sizeof(float)},
                          {"logits", p.logits, out},
                          {"probs", p.probs, out}};
  for (size_t i = 0; i < 3; ++i) {
    for (const Span& in : inputs) {
      if (overlaps(outputs[i], in)) {
        return detail::format("%s %p overlaps %s %p", outputs[i].name, outputs[i].p, in.name, in.p);
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (overlaps(outputs[i], outputs[j])) {
        return detail::format("%s %p overlaps %s %p", outputs[i].name, outputs[i].p,
                              outputs[j].name, outputs[j].p);
      }
    }
  }
  return std::string();
}

}  // namespace

bool pool_classifier_supported(const PoolClassifierParams& p) {
  return unsupported_reason(p).empty();
}

Dispatch pool_classifier_forward(const PoolClassifierParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "pool_classifier: %s", why.c_str());
  int vec = 0;
  switch (p.dtype) {
    case DType::kF32:
      vec = pool_classifier_typed<float>(p, stream);
      break;
    case DType::kF16:
      vec = pool_classifier_typed<__half>(p, stream);
      break;
    case DType::kBF16:
      vec = pool_classifier_typed<__nv_bfloat16>(p, stream);
      break;
  }
  if (p.probs == nullptr) return {"pool_linear", vec};
  const int blocks = (p.B + kWarps - 1) / kWarps;
  mvit::launch(softmax_rows_warp_kernel, dim3(blocks), dim3(kThreads), 0, stream, p.logits, p.probs,
               p.B, p.classes);
  return {"pool_linear_softmax", vec};
}

}  // namespace mvit
