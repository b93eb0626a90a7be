// bias_act (bias_act.h): dst[d(q), c] = act(src[s(q), c] + bias[c]) + residual[d(q), c].
//
// One thread per pack of kN consecutive channels of one row: kN = kVec<TDst> (128-bit stores; src
// read as 128-bit packs of its own type) when cols % kN == 0 and every pointer is aligned to its
// pack, else kN = 1 (the scalar fallback: any cols, any alignment). The pixel-order permute is a
// runtime branch: one integer division per thread, negligible beside the memory traffic of a
// bandwidth-bound kernel. Instances: (src, dst) in {(f32, f32), (f32, f16), (f32, bf16),
// (f16, f16), (bf16, bf16)} x act {none, silu} x kN {vec, 1}.
//
// Numerics: fp32 arithmetic on the stored values, one rounding to dst's type at the store.
#include "kernels/common/activation.cuh"
#include "kernels/common/bias_act.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/vector.cuh"

#include <algorithm>
#include <string>

namespace mvit {

namespace {
// 256 threads: a bandwidth-bound elementwise kernel; enough warps per block for latency hiding
// at 8 blocks/SM (2048 threads), analytic (no GPU measurement yet).
constexpr int kThreads = 256;
// Grid cap: beyond it the kernel loops (grid-stride); 2^16 blocks of 256 threads cover 16M packs,
// more than 100 waves on a 132-SM GPU, so the loop only serves very large batches.
constexpr int64_t kMaxBlocks = 65536;
}  // namespace

// kN elements of T at p as floats, in 128-bit packs of T (kN a multiple of kVec<T>, p aligned
// to them) or one scalar when kN == 1.
template <int kN, class T>
__device__ void load_row_floats(const T* p, float (&out)[kN]) {
  if constexpr (kN == 1) {
    out[0] = to_float(*p);
  } else {
    constexpr int kPack = kVec<T> < kN ? kVec<T> : kN;
    for (int i = 0; i < kN; i += kPack) {
      float part[kPack];
      load_pack<kPack>(p + i, part);
      for (int j = 0; j < kPack; ++j) out[i + j] = part[j];
    }
  }
}

template <int kN, class T>
__device__ void store_row_floats(T* p, const float (&in)[kN]) {
  if constexpr (kN == 1) {
    *p = from_float<T>(in[0]);
  } else {
    store_pack<kN>(p, in);
  }
}

// src: [rows, cols] rows in src_order; dst, residual: [rows, cols] rows in `order`; bias: [cols].
template <class TSrc, class TDst, Activation kAct, int kN>
__global__ void MVIT_LAUNCH_BOUNDS(256)
    bias_act_kernel(const TSrc* src, TDst* dst, const TDst* bias, const TDst* residual,
                    int64_t rows, int cols, int H, int W, PixelOrder order, PixelOrder src_order) {
  const int packs_per_row = cols / kN;
  const int64_t total = rows * packs_per_row;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / packs_per_row;
    const int c = static_cast<int>(i - r * packs_per_row) * kN;
    float v[kN];
    load_row_floats<kN>(src + pixel_row_of_nhwc(src_order, r, H, W) * cols + c, v);
    if (bias != nullptr) {
      float b[kN];
      load_row_floats<kN>(bias + c, b);
      for (int j = 0; j < kN; ++j) v[j] += b[j];
    }
    for (int j = 0; j < kN; ++j) v[j] = activate<kAct>(v[j]);
    const int64_t out_row = pixel_row_of_nhwc(order, r, H, W);
    if (residual != nullptr) {
      float res[kN];
      load_row_floats<kN>(residual + out_row * cols + c, res);
      for (int j = 0; j < kN; ++j) v[j] += res[j];
    }
    store_row_floats<kN>(dst + out_row * cols + c, v);
  }
}

namespace {

bool dtype_pair_supported(DType src, DType dst) {
  return src == DType::kF32 || src == dst;
}

std::string unsupported_reason(const BiasActParams& p) {
  if (p.src == nullptr) return "src is null";
  if (p.dst == nullptr) return "dst is null";
  if (p.rows <= 0) return detail::format("rows must be > 0, got %lld", (long long)p.rows);
  if (p.cols <= 0) return detail::format("cols must be > 0, got %d", p.cols);
  if (!dtype_pair_supported(p.src_dtype, p.dst_dtype)) {
    return detail::format(
        "src dtype %s with dst dtype %s is not supported (src must be f32 or "
        "the dst dtype)",
        dtype_name(p.src_dtype), dtype_name(p.dst_dtype));
  }
  if (p.order == PixelOrder::kPatchMajor || p.src_order == PixelOrder::kPatchMajor) {
    if (p.H <= 0 || p.W <= 0 || p.H % 2 || p.W % 2) {
      return detail::format("order patch_major needs an even H and W, got %d x %d", p.H, p.W);
    }
    if (p.rows % (static_cast<int64_t>(p.H) * p.W) != 0) {
      return detail::format("rows %lld is not a multiple of H * W = %d * %d", (long long)p.rows,
                            p.H, p.W);
    }
  }
  if (p.src == p.dst && p.src_order != p.order) {
    return "in place (src == dst) needs src_order == order";
  }
  if (p.src == p.dst && p.src_dtype != p.dst_dtype) {
    return "in place (src == dst) needs src dtype == dst dtype";
  }
  return std::string();
}

// The pack width for these params: kVec<TDst> when every row start of every tensor is aligned to
// its pack, else 1.
template <class TSrc, class TDst>
int pack_width(const BiasActParams& p) {
  constexpr int kN = kVec<TDst>;
  if (p.cols % kN != 0) return 1;
  const bool aligned = is_aligned(p.src, sizeof(TSrc) * kN) &&
                       is_aligned(p.dst, sizeof(TDst) * kN) &&
                       (p.bias == nullptr || is_aligned(p.bias, sizeof(TDst) * kN)) &&
                       (p.residual == nullptr || is_aligned(p.residual, sizeof(TDst) * kN));
  return aligned ? kN : 1;
}

template <class TSrc, class TDst, Activation kAct, int kN>
void launch_bias_act_packs(const BiasActParams& p, Stream stream) {
  const int64_t total = p.rows * (p.cols / kN);
  const int64_t blocks = std::min<int64_t>((total + kThreads - 1) / kThreads, kMaxBlocks);
  mvit::launch(bias_act_kernel<TSrc, TDst, kAct, kN>, dim3(static_cast<unsigned>(blocks)),
               dim3(kThreads), 0, stream, static_cast<const TSrc*>(p.src),
               static_cast<TDst*>(p.dst), static_cast<const TDst*>(p.bias),
               static_cast<const TDst*>(p.residual), p.rows, p.cols, p.H, p.W, p.order,
               p.src_order);
}

template <class TSrc, class TDst>
Dispatch launch_bias_act(const BiasActParams& p, Stream stream) {
  const int n = pack_width<TSrc, TDst>(p);
  constexpr int kN = kVec<TDst>;
  if (p.act == Activation::kSilu) {
    n == 1 ? launch_bias_act_packs<TSrc, TDst, Activation::kSilu, 1>(p, stream)
           : launch_bias_act_packs<TSrc, TDst, Activation::kSilu, kN>(p, stream);
  } else {
    n == 1 ? launch_bias_act_packs<TSrc, TDst, Activation::kNone, 1>(p, stream)
           : launch_bias_act_packs<TSrc, TDst, Activation::kNone, kN>(p, stream);
  }
  return {"bias_act", n};
}

}  // namespace

bool bias_act_supported(const BiasActParams& p) {
  return unsupported_reason(p).empty();
}

Dispatch bias_act_forward(const BiasActParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "bias_act: %s", why.c_str());
  switch (p.dst_dtype) {
    case DType::kF32:
      return launch_bias_act<float, float>(p, stream);
    case DType::kF16:
      return p.src_dtype == DType::kF32 ? launch_bias_act<float, __half>(p, stream)
                                        : launch_bias_act<__half, __half>(p, stream);
    case DType::kBF16:
      return p.src_dtype == DType::kF32 ? launch_bias_act<float, __nv_bfloat16>(p, stream)
                                        : launch_bias_act<__nv_bfloat16, __nv_bfloat16>(p, stream);
  }
  MVIT_FAIL("bias_act: unknown dst dtype %d", static_cast<int>(p.dst_dtype));
}

}  // namespace mvit
