// Depthwise 3x3 convolution, NHWC, padding 1, stride 1 or 2, fused bias + optional SiLU
// (formula in depthwise_conv.h).
//
// Variants
// - dwconv3x3_nhwc_kernel<T, kV, kStride> (impl "dwconv3x3_nhwc"): one thread computes kStrip = 4
//   consecutive outputs along x of one output row, for kV consecutive channels. kV = kVec<T> (one
//   128-bit access per pixel: 4 floats, 8 halves or bf16s) when C % kVec == 0 and x and y are
//   16-byte aligned, so that every pixel's channel group is aligned; otherwise kV = 1, the scalar
//   fallback, from the same code. Stride is a template parameter so that the tap of every
//   (input column, output) pair is known at compile time and the accumulators stay in registers.
// - The cuDNN path (impl "cudnn", the benchmark baseline): cudnnConvolutionForward with groups = C
//   on NHWC tensors and a KRSC filter [C, 3, 3, 1] (the same bytes as PyTorch's [C, 1, 3, 3]), the
//   algorithm from cudnnGetConvolutionForwardAlgorithm_v7 (the first that fits the workspace),
//   writing the raw convolution into y in the storage type; then the bias_act epilogue
//   (kernels/common/bias_act.h) adds the bias and applies SiLU in place: cuDNN's fused
//   bias-activation has no SiLU. fp32 sets CUDNN_FMA_MATH so that no TF32 tensor-core algorithm
//   is chosen (the fp32 rule is 1e-5).
// kAuto picks the direct kernel: it reads x and writes y once, where the cuDNN path writes y and
// reads it back for the epilogue (2x the output traffic) and launches twice. Unmeasured.
//
// Work layout (direct). A block of kThreads = 256 threads is tile_groups channel groups (a power
// of two up to 32, chosen on the host for the least idle groups) x 256 / tile_groups lanes; lane l
// of block x takes strip x * lanes + l, strips numbered (b, oy, strip along x) with x fastest, so a
// warp's accesses cover whole 32-byte sectors of adjacent pixels. Grid: (strips / lanes, channel
// tiles).
//
// Weights: staged through shared memory, then held in registers. w is [C][9]: the 9 taps of one
// channel are adjacent, so tap k of kV adjacent channels sits at stride 9, which allows neither a
// 128-bit load nor a coalesced one. The block first copies its channels' 9 x (up to 256) weights
// with contiguous, coalesced loads into shared memory transposed to [9][channels] fp32 (and its
// biases beside them: w and bias therefore need no alignment), then each thread copies its 9 x kV
// taps into registers: each is used by all kStrip outputs of the thread, and reading it from
// shared memory per FMA would make shared-memory bandwidth the limit (one 4-byte LDS per FMA). The
// cost is registers: 9 kV floats (36 for f32, 72 for f16/bf16) plus kStrip x kV accumulators.
// ptxas (CUDA 13, sm_75/80/90): 126-128 registers for the 16-bit 128-bit instances, 72-76 for
// f32, 32-62 scalar; no spills. At 128 registers two 256-thread blocks fit per SM (16 warps): with
// 18-27 independent 128-bit loads per thread that keeps ~16 KB in flight per SM, about what
// Little's law asks of HBM3 (3.35 TB/s x ~0.6 us / 132 SMs). Analytic, unmeasured.
//
// Cost (analytic, unmeasured). Per output pixel and channel group, stride 1: 3 (kStrip + 2) /
// kStrip = 4.5 pixel loads instead of 9 (stride 2: 6.75), each converted to fp32 once; 9 kV FMAs;
// one store. The overlapping columns of neighbouring strips hit L1/L2, so DRAM sees about x once
// and y once: for f16 at 4.5 FLOP/byte the kernel is bandwidth-bound on every GPU, and small maps
// (8x8 .. 16x16 at batch 1, a few hundred KB) are latency-bound at a few microseconds.
//
// Numerics: fp32 accumulation over the 9 taps in order (dy, dx), then + bias, then SiLU
// (activation.cuh: __expf), one rounding to T at the store. Limits: B * H * W * C < 2^31.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "kernels/common/channel_tiles.h"
#include "kernels/common/activation.cuh"
#include "kernels/common/bias_act.h"
#include "kernels/common/launch.cuh"
#include "kernels/common/vector.cuh"
#include "kernels/depthwise_conv.h"

#if MVIT_HAVE_CUDNN
#include <cudnn.h>

#include "kernels/common/cudnn_check.h"
#endif

namespace mvit {

namespace {

constexpr int kThreads =
    256;                   // 8 warps; with <= 32 channel groups per block, >= 8 strips per block
constexpr int kStrip = 4;  // outputs per thread along x: halves the loads per output (see
                           // above) at 4 kV accumulator registers
constexpr int kMaxTileGroups = 32;  // 32 x 16 B = 512 contiguous bytes of a pixel per block row
constexpr int kTaps = 9;
constexpr int kMaxChannels = 1 << 20;  // channel tiles of >= 32 channels stay within grid.y 65535
constexpr const char* kImplDirect = "dwconv3x3_nhwc";

template <class T>
struct DwconvArgs {
  const T* x;     // [B, H, W, C]
  const T* w;     // [C, 9]
  const T* bias;  // [C] or null
  T* y;           // [B, Ho, Wo, C]
  int H, W, C, Ho, Wo;
  int strips_per_row;  // ceil(Wo / kStrip)
  int strips;          // B * Ho * strips_per_row
  int tile_groups;     // channel groups (of kV channels) per block: a power of two <= 32
  Activation act;
};

// The block's weights (transposed to [tap][channel]) and biases, as fp32, for channels
// [c0, c0 + count).
template <class T, int kV>
__device__ void stage_weights(const DwconvArgs<T>& a, int c0, int count,
                              float (&w_s)[kTaps][kMaxTileGroups * kV],
                              float (&b_s)[kMaxTileGroups * kV]) {
  const T* w = a.w + static_cast<int64_t>(c0) * kTaps;
  for (int i = threadIdx.x; i < count * kTaps; i += kThreads) {
    const int c = i / kTaps;
    w_s[i - c * kTaps][c] = to_float(w[i]);
  }
  for (int c = threadIdx.x; c < count; c += kThreads) {
    b_s[c] = a.bias != nullptr ? to_float(a.bias[c0 + c]) : 0.0f;
  }
}

// Outputs (b, oy, ox0 .. ox0 + kStrip - 1) for channels [c, c + kV): each input pixel of the
// strip's window is loaded and converted once and added to every output whose window holds it.
template <class T, int kV, int kStride>
__device__ void conv_strip(const DwconvArgs<T>& a, int b, int oy, int ox0, int c,
                           const float (&w)[kTaps][kV], const float (&bias)[kV]) {
  constexpr int kCols = (kStrip - 1) * kStride + 3;  // input columns the strip's windows span
  float acc[kStrip][kV] = {};
  const int iy0 = oy * kStride - 1, ix0 = ox0 * kStride - 1;
  for (int dy = 0; dy < 3; ++dy) {
    const int iy = iy0 + dy;
    if (iy < 0 || iy >= a.H) continue;
    const T* row = a.x + (static_cast<int64_t>(b) * a.H + iy) * a.W * a.C + c;
    for (int col = 0; col < kCols; ++col) {
      const int ix = ix0 + col;
      if (ix < 0 || ix >= a.W) continue;
      float v[kV];
      load_pack<kV>(row + static_cast<int64_t>(ix) * a.C, v);
      for (int r = 0; r < kStrip; ++r) {
        const int dx = col - r * kStride;
        if (dx < 0 || dx >= 3) continue;
        for (int j = 0; j < kV; ++j) acc[r][j] = fmaf(w[dy * 3 + dx][j], v[j], acc[r][j]);
      }
    }
  }
  T* out = a.y + ((static_cast<int64_t>(b) * a.Ho + oy) * a.Wo + ox0) * a.C + c;
  for (int r = 0; r < kStrip; ++r) {
    if (ox0 + r >= a.Wo) break;
    float o[kV];
    for (int j = 0; j < kV; ++j) {
      const float z = acc[r][j] + bias[j];
      o[j] = a.act == Activation::kSilu ? silu(z) : z;
    }
    store_pack<kV>(out + static_cast<int64_t>(r) * a.C, o);
  }
}

}  // namespace

template <class T, int kV, int kStride>
__global__ void MVIT_LAUNCH_BOUNDS(256) dwconv3x3_nhwc_kernel(DwconvArgs<T> a) {
  MVIT_SHARED(float, w_s, kTaps, (kMaxTileGroups * kV));  // [9][channels of this block's tile]
  MVIT_SHARED(float, b_s, (kMaxTileGroups * kV));         // [channels of this block's tile]
  const int c0 = blockIdx.y * a.tile_groups * kV;
  const int tile_channels = a.tile_groups * kV;
  const int count = a.C - c0 < tile_channels ? a.C - c0 : tile_channels;
  stage_weights<T, kV>(a, c0, count, w_s, b_s);
  __syncthreads();

  const int g = threadIdx.x % a.tile_groups;
  const int s = blockIdx.x * (kThreads / a.tile_groups) + threadIdx.x / a.tile_groups;
  if (g * kV >= count || s >= a.strips) return;  // no barrier follows
  float w[kTaps][kV], bias[kV];
  for (int k = 0; k < kTaps; ++k) {
    for (int j = 0; j < kV; ++j) w[k][j] = w_s[k][g * kV + j];
  }
  for (int j = 0; j < kV; ++j) bias[j] = b_s[g * kV + j];
  const int sx = s % a.strips_per_row, rest = s / a.strips_per_row;
  conv_strip<T, kV, kStride>(a, rest / a.Ho, rest % a.Ho, sx * kStrip, c0 + g * kV, w, bias);
}

namespace {

// Channel groups per block (kernels/common/channel_tiles.h).
int tile_groups_for(int groups) {
  return channel_tile_groups(groups, kMaxTileGroups);
}

template <class T, int kV, int kStride>
void launch_depthwise_conv_direct(const DepthwiseConvParams& p, Stream stream) {
  DwconvArgs<T> a;
  a.x = static_cast<const T*>(p.x);
  a.w = static_cast<const T*>(p.w);
  a.bias = static_cast<const T*>(p.bias);
  a.y = static_cast<T*>(p.y);
  a.H = p.H, a.W = p.W, a.C = p.C;
  a.Ho = depthwise_out_extent(p.H, kStride), a.Wo = depthwise_out_extent(p.W, kStride);
  a.strips_per_row = (a.Wo + kStrip - 1) / kStrip;
  a.strips = p.B * a.Ho * a.strips_per_row;
  const int groups = p.C / kV;
  a.tile_groups = tile_groups_for(groups);
  a.act = p.act;
  const int lanes = kThreads / a.tile_groups;
  const dim3 grid((a.strips + lanes - 1) / lanes, (groups + a.tile_groups - 1) / a.tile_groups);
  mvit::launch(dwconv3x3_nhwc_kernel<T, kV, kStride>, grid, dim3(kThreads), 0, stream, a);
}

template <class T>
Dispatch depthwise_conv_direct(const DepthwiseConvParams& p, Stream stream) {
  constexpr int kV = kVec<T>;
  if (p.C % kV == 0 && is_aligned(p.x, 16) && is_aligned(p.y, 16)) {
    if (p.stride == 1) {
      launch_depthwise_conv_direct<T, kV, 1>(p, stream);
    } else {
      launch_depthwise_conv_direct<T, kV, 2>(p, stream);
    }
    return {kImplDirect, kV};
  }
  if (p.stride == 1) {
    launch_depthwise_conv_direct<T, 1, 1>(p, stream);
  } else {
    launch_depthwise_conv_direct<T, 1, 2>(p, stream);
  }
  return {kImplDirect, 1};
}

#if MVIT_HAVE_CUDNN

constexpr const char* kImplCudnn = "cudnn";

cudnnDataType_t cudnn_type(DType t) {
  return t == DType::kF32   ? CUDNN_DATA_FLOAT
         : t == DType::kF16 ? CUDNN_DATA_HALF
                            : CUDNN_DATA_BFLOAT16;
}

// The descriptors of one depthwise convolution, destroyed with it.
class CudnnDepthwise {
 public:
  explicit CudnnDepthwise(const DepthwiseConvParams& p) {
    MVIT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_));
    MVIT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_));
    MVIT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_));
    MVIT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_));
    const cudnnDataType_t t = cudnn_type(p.dtype);
    MVIT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NHWC, t, p.B, p.C, p.H, p.W));
    MVIT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NHWC, t, p.B, p.C,
                                                depthwise_out_extent(p.H, p.stride),
                                                depthwise_out_extent(p.W, p.stride)));
    MVIT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_, t, CUDNN_TENSOR_NHWC, p.C, 1, 3, 3));
    MVIT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_, 1, 1, p.stride, p.stride, 1, 1,
                                                     CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    MVIT_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv_, p.C));
    if (p.dtype == DType::kF32)
      MVIT_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_, CUDNN_FMA_MATH));
  }
  ~CudnnDepthwise() {
    MVIT_CUDNN_CHECK_LOG(cudnnDestroyConvolutionDescriptor(conv_));
    MVIT_CUDNN_CHECK_LOG(cudnnDestroyFilterDescriptor(w_));
    MVIT_CUDNN_CHECK_LOG(cudnnDestroyTensorDescriptor(y_));
    MVIT_CUDNN_CHECK_LOG(cudnnDestroyTensorDescriptor(x_));
  }
  CudnnDepthwise(const CudnnDepthwise&) = delete;
  CudnnDepthwise& operator=(const CudnnDepthwise&) = delete;

  // cuDNN's heuristic ranking, first algorithm that fits `workspace_bytes`; throws if none does.
  cudnnConvolutionFwdAlgo_t pick_algorithm(cudnnHandle_t h, size_t workspace_bytes,
                                           size_t* needed) const {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    MVIT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
        h, x_, w_, conv_, y_, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
    size_t smallest = SIZE_MAX;
    for (int i = 0; i < returned; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
      MVIT_CUDNN_CHECK(
          cudnnGetConvolutionForwardWorkspaceSize(h, x_, w_, conv_, y_, perf[i].algo, needed));
      if (*needed <= workspace_bytes) return perf[i].algo;
      smallest = *needed < smallest ? *needed : smallest;
    }
    MVIT_FAIL(
        "depthwise_conv: impl cudnn: no cuDNN algorithm (of %d offered) fits the %zu-byte "
        "workspace of handles.workspace_bytes (the smallest needs %zu bytes)",
        returned, workspace_bytes, smallest);
  }

  void forward(cudnnHandle_t h, const DepthwiseConvParams& p, cudnnConvolutionFwdAlgo_t algo,
               void* workspace, size_t workspace_bytes) const {
    const float alpha = 1.0f, beta = 0.0f;  // float for every data type cuDNN accepts here
    MVIT_CUDNN_CHECK(cudnnConvolutionForward(h, &alpha, x_, p.x, w_, p.w, conv_, algo, workspace,
                                             workspace_bytes, &beta, y_, p.y));
  }

 private:
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
};

Dispatch depthwise_conv_cudnn(const DepthwiseConvParams& p, const LibraryHandles& handles,
                              Stream stream) {
  MVIT_CHECK(handles.cudnn != nullptr, "depthwise_conv: impl cudnn: handles.cudnn is null");
  const int Ho = depthwise_out_extent(p.H, p.stride), Wo = depthwise_out_extent(p.W, p.stride);
  BiasActParams e;
  e.src = p.y;
  e.dst = p.y;
  e.bias = p.bias;
  e.rows = static_cast<int64_t>(p.B) * Ho * Wo;
  e.cols = p.C;
  e.H = Ho;
  e.W = Wo;
  e.act = p.act;
  e.src_dtype = e.dst_dtype = p.dtype;
  const bool epilogue = p.bias != nullptr || p.act != Activation::kNone;
  MVIT_CHECK(!epilogue || bias_act_supported(e),
             "depthwise_conv: impl cudnn: the bias_act epilogue does not support this shape");
  cudnnHandle_t h = handles.cudnn;
  const CudnnDepthwise conv(p);
  size_t needed = 0;
  const cudnnConvolutionFwdAlgo_t algo = conv.pick_algorithm(h, handles.workspace_bytes, &needed);
  MVIT_CHECK(needed == 0 || handles.workspace != nullptr,
             "depthwise_conv: impl cudnn: the algorithm needs %zu bytes of workspace and "
             "handles.workspace is null",
             needed);
  MVIT_CUDNN_CHECK(cudnnSetStream(h, stream));
  conv.forward(h, p, algo, handles.workspace, needed);
  if (!epilogue) return {kImplCudnn, 0};
  return {kImplCudnn, bias_act_forward(e, stream).vec};
}

#endif  // MVIT_HAVE_CUDNN

bool overlaps(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  const uintptr_t pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return pa < pb + b_bytes && pb < pa + a_bytes;
}

std::string unsupported_reason(const DepthwiseConvParams& p) {
  if (p.dtype != DType::kF32 && p.dtype != DType::kF16 && p.dtype != DType::kBF16) {
    return detail::format("dtype %d is not a DType (supported: f32, f16, bf16)",
                          static_cast<int>(p.dtype));
  }
  if (p.B <= 0 || p.H <= 0 || p.W <= 0 || p.C <= 0) {
    return detail::format("B, H, W, C must be > 0, got B %d, H %d, W %d, C %d", p.B, p.H, p.W, p.C);
  }
  if (static_cast<int64_t>(p.B) * p.H * p.W * p.C > INT32_MAX) {
    return detail::format("B * H * W * C = %lld elements exceed the kernel's limit of 2^31 - 1",
                          static_cast<long long>(p.B) * p.H * p.W * p.C);
  }
  if (p.C > kMaxChannels) {
    return detail::format("C must be <= %d (the grid's y extent of channel tiles), got %d",
                          kMaxChannels, p.C);
  }
  if (p.stride != 1 && p.stride != 2) {
    return detail::format("stride must be 1 or 2, got %d", p.stride);
  }
  if (p.act != Activation::kNone && p.act != Activation::kSilu) {
    return detail::format("act %d is not an Activation (supported: none, silu)",
                          static_cast<int>(p.act));
  }
  if (p.x == nullptr) return "x is null";
  if (p.w == nullptr) return "w is null";
  if (p.y == nullptr) return "y is null";
  const size_t es = dtype_size(p.dtype);
  const size_t x_bytes = static_cast<size_t>(p.B) * p.H * p.W * p.C * es;
  const size_t y_bytes = static_cast<size_t>(p.B) * depthwise_out_extent(p.H, p.stride) *
                         depthwise_out_extent(p.W, p.stride) * p.C * es;
  if (overlaps(p.x, x_bytes, p.y, y_bytes)) {
    return detail::format("y %p overlaps x %p (the op cannot run in place)", p.y, p.x);
  }
  switch (p.impl) {
    case DepthwiseImpl::kAuto:
    case DepthwiseImpl::kDirect:
      return std::string();
    case DepthwiseImpl::kCudnn:
      if (!cudnn_available()) return "impl cudnn needs a build with cuDNN (MVIT_HAVE_CUDNN is 0)";
      if (p.dtype == DType::kBF16) {
        // cuDNN's PSEUDO_BFLOAT16_CONFIG answers NOT_SUPPORTED_ARCH_MISMATCH below sm_80. Asked
        // on every call, not cached: the call is cheap beside the descriptor setup that follows,
        // and the emulated device's compute capability can change between calls in tests.
        const int cc = current_compute_capability();
        if (cc < 80) {
          return detail::format(
              "impl cudnn: dtype bf16 needs compute capability >= 8.0, device has %d.%d", cc / 10,
              cc % 10);
        }
      }
      return std::string();
  }
  return detail::format("impl %d is not a DepthwiseImpl (supported: auto, direct, cudnn)",
                        static_cast<int>(p.impl));
}

}  // namespace

bool depthwise_conv_supported(const DepthwiseConvParams& p) {
  return unsupported_reason(p).empty();
}

Dispatch depthwise_conv_forward(const DepthwiseConvParams& p, const LibraryHandles& handles,
                                Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "depthwise_conv: %s", why.c_str());
  if (p.impl == DepthwiseImpl::kCudnn) {
#if MVIT_HAVE_CUDNN
    return depthwise_conv_cudnn(p, handles, stream);
#endif
  }
  (void)handles;
  switch (p.dtype) {
    case DType::kF32:
      return depthwise_conv_direct<float>(p, stream);
    case DType::kF16:
      return depthwise_conv_direct<__half>(p, stream);
    case DType::kBF16:
      return depthwise_conv_direct<__nv_bfloat16>(p, stream);
  }
  MVIT_FAIL("depthwise_conv: unreachable dtype %d", static_cast<int>(p.dtype));
}

}  // namespace mvit
