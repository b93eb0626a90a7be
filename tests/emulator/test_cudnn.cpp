// The emulated cuDNN subset (emulator/src/cudnn.cpp). cudnnConvolutionForward is checked against
// naive loops with double accumulation written here from the convolution's definition, over every
// x/y layout (NCHW, NHWC, strided), filter layout (KCRS, KRSC), group count (dense, depthwise,
// depthwise with a channel multiplier, grouped), stride, padding, dilation, data type (f32, f16,
// bf16), convolution mode, algorithm and alpha/beta (beta = 0 over a NaN-filled y, beta = 1
// accumulating); plus the math types' input rounding (Note [cudnn math types]), the output-size
// and algorithm queries, workspace sizes, asynchrony on the handle's stream and graph capture,
// faults becoming the device's sticky error, every error status with its cudnnGetLastErrorString
// text, the status names, MVIT_CUDNN_CHECK's message, and the calls the conv kernel families make.
#include <cudnn.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/common/cudnn_check.h"
#include "mvit_emu/device_ops.h"
#include "tests/emulator/test_util.h"
#include "tests/support/library_handles.h"

namespace mvit {
namespace emutest {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- number formats (written independently of the emulator's bit manipulation) ----------------

enum class DT { kF32, kF16, kBF16 };

const char* dt_name(DT t) {
  return t == DT::kF32 ? "f32" : t == DT::kF16 ? "f16" : "bf16";
}
void PrintTo(DT t, std::ostream* os) {
  *os << dt_name(t);
}
cudnnDataType_t cudnn_type(DT t) {
  return t == DT::kF32 ? CUDNN_DATA_FLOAT : t == DT::kF16 ? CUDNN_DATA_HALF : CUDNN_DATA_BFLOAT16;
}
size_t dt_bytes(DT t) {
  return t == DT::kF32 ? 4 : 2;
}
// Unit roundoff of storing in t.
double storage_roundoff(DT t) {
  return t == DT::kF32   ? std::ldexp(1.0, -24)
         : t == DT::kF16 ? std::ldexp(1.0, -11)
                         : std::ldexp(1.0, -8);
}

float quantize(float v, DT t) {
  if (t == DT::kF16) return __half2float(__float2half_rn(v));
  if (t == DT::kBF16) return __bfloat162float(__float2bfloat16_rn(v));
  return v;
}

void encode(float v, DT t, unsigned char* dst) {
  if (t == DT::kF16) {
    const __half h = __float2half_rn(v);
    std::memcpy(dst, &h, 2);
  } else if (t == DT::kBF16) {
    const __nv_bfloat16 h = __float2bfloat16_rn(v);
    std::memcpy(dst, &h, 2);
  } else {
    std::memcpy(dst, &v, 4);
  }
}

float decode(const unsigned char* src, DT t) {
  if (t == DT::kF16) {
    __half h;
    std::memcpy(&h, src, 2);
    return __half2float(h);
  }
  if (t == DT::kBF16) {
    __nv_bfloat16 h;
    std::memcpy(&h, src, 2);
    return __bfloat162float(h);
  }
  float v;
  std::memcpy(&v, src, 4);
  return v;
}

// How the test expects fp32 inputs to be rounded before they are multiplied.
enum class Round { kNone, kTf32, kF16 };

// Nearest tf32 value, ties away from zero (cvt.rna.tf32.f32): 11 significant bits.
float to_tf32(float x) {
  if (!std::isfinite(x) || x == 0.0f) return x;
  const double quantum = std::ldexp(1.0, std::max(std::ilogb(x), -126) - 10);
  return static_cast<float>(std::round(x / quantum) * quantum);
}

float round_input(float x, Round r) {
  if (r == Round::kTf32) return to_tf32(x);
  if (r == Round::kF16) return __half2float(__float2half_rn(x));
  return x;
}

// ---- RAII descriptors ---------------------------------------------------------------------------

class TensorDesc {
 public:
  TensorDesc() { EXPECT_EQ(cudnnCreateTensorDescriptor(&d_), CUDNN_STATUS_SUCCESS); }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d_); }
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  cudnnTensorDescriptor_t get() const { return d_; }

 private:
  cudnnTensorDescriptor_t d_ = nullptr;
};

class FilterDesc {
 public:
  FilterDesc() { EXPECT_EQ(cudnnCreateFilterDescriptor(&d_), CUDNN_STATUS_SUCCESS); }
  ~FilterDesc() { cudnnDestroyFilterDescriptor(d_); }
  FilterDesc(const FilterDesc&) = delete;
  FilterDesc& operator=(const FilterDesc&) = delete;
  cudnnFilterDescriptor_t get() const { return d_; }

 private:
  cudnnFilterDescriptor_t d_ = nullptr;
};

class ConvDesc {
 public:
  ConvDesc() { EXPECT_EQ(cudnnCreateConvolutionDescriptor(&d_), CUDNN_STATUS_SUCCESS); }
  ~ConvDesc() { cudnnDestroyConvolutionDescriptor(d_); }
  ConvDesc(const ConvDesc&) = delete;
  ConvDesc& operator=(const ConvDesc&) = delete;
  cudnnConvolutionDescriptor_t get() const { return d_; }

 private:
  cudnnConvolutionDescriptor_t d_ = nullptr;
};

// The calling thread's cudnnGetLastErrorString text (reading clears it).
std::string last_error() {
  char buf[1024];
  cudnnGetLastErrorString(buf, sizeof buf);
  return buf;
}

// ---- a convolution case -------------------------------------------------------------------------

// x and y layouts: packed NCHW, packed NHWC, or NHWC with padding between channels' rows, pixels
// and images (set with cudnnSetTensor4dDescriptorEx).
enum class Layout { kNchw, kNhwc, kStrided };

const char* layout_name(Layout l) {
  return l == Layout::kNchw ? "NCHW" : l == Layout::kNhwc ? "NHWC" : "strided";
}

struct Strides {
  int n, c, h, w;
};

Strides strides_for(Layout l, int c, int h, int w) {
  switch (l) {
    case Layout::kNchw:
      return {c * h * w, h * w, w, 1};
    case Layout::kNhwc:
      return {h * w * c, 1, w * c, c};
    case Layout::kStrided: {
      const int ws = c + 2, hs = w * ws + 3;
      return {h * hs + 5, 1, hs, ws};
    }
  }
  return {};
}

// Elements a strided tensor spans.
size_t span(int n, int c, int h, int w, const Strides& s) {
  return size_t(n - 1) * s.n + size_t(c - 1) * s.c + size_t(h - 1) * s.h + size_t(w - 1) * s.w + 1;
}

struct ConvCase {
  int n = 2, c = 6, h = 7, w = 9, k = 5, r = 3, s = 3, groups = 1;
  int pad_h = 1, pad_w = 1, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  Layout layout = Layout::kNhwc;
  cudnnTensorFormat_t filter = CUDNN_TENSOR_NHWC;
  DT dt = DT::kF32;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  float alpha = 1.0f, beta = 0.0f;
  cudnnMathType_t math = CUDNN_FMA_MATH;
  Round expect = Round::kNone;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM;
  float x_scale = 1.0f;  // x's values are x_scale times [-1, 1)
  uint32_t seed = 1;

  int out_h() const { return (h + 2 * pad_h - ((r - 1) * dil_h + 1)) / stride_h + 1; }
  int out_w() const { return (w + 2 * pad_w - ((s - 1) * dil_w + 1)) / stride_w + 1; }
  int cg() const { return c / groups; }
  Strides xs() const { return strides_for(layout, c, h, w); }
  Strides ys() const { return strides_for(layout, k, out_h(), out_w()); }

  std::string name() const {
    std::string s =
        std::string(layout_name(layout)) + (filter == CUDNN_TENSOR_NHWC ? "_KRSC" : "_KCRS") +
        "_c" + std::to_string(c) + "_k" + std::to_string(k) + "_g" + std::to_string(groups) + "_s" +
        std::to_string(stride_h) + "_p" + std::to_string(pad_h) + "_d" + std::to_string(dil_h) +
        "_" + dt_name(dt) + (mode == CUDNN_CONVOLUTION ? "_conv" : "_xcorr") + "_a" +
        std::to_string(alpha) + "_b" + std::to_string(beta) + "_algo" + std::to_string(int(algo));
    return s;
  }
};

// A case's host data: values as stored (already quantized to the data type), the buffers' bytes,
// and y before the call.
struct ConvData {
  std::vector<float> x, w, y0;  // x [n][c][h][w], w [k][cg][r][s], y0 as y is indexed
  std::vector<unsigned char> x_bytes, w_bytes, y_bytes;
};

uint32_t next(uint32_t* state) {
  *state = *state * 1664525u + 1013904223u;
  return *state;
}
// A random fraction in [-1, 1) with 24 significant bits (tf32 and fp16 rounding change it).
float random_unit(uint32_t* state) {
  return static_cast<float>(next(state) >> 8) * std::ldexp(1.0f, -23) - 1.0f;
}

size_t x_index(const ConvCase& cc, int n, int c, int h, int w) {
  const Strides s = cc.xs();
  return size_t(n) * s.n + size_t(c) * s.c + size_t(h) * s.h + size_t(w) * s.w;
}
size_t y_index(const ConvCase& cc, int n, int k, int h, int w) {
  const Strides s = cc.ys();
  return size_t(n) * s.n + size_t(k) * s.c + size_t(h) * s.h + size_t(w) * s.w;
}
size_t w_index(const ConvCase& cc, int k, int c, int r, int s) {
  return cc.filter == CUDNN_TENSOR_NHWC ? ((size_t(k) * cc.r + r) * cc.s + s) * cc.cg() + c
                                        : ((size_t(k) * cc.cg() + c) * cc.r + r) * cc.s + s;
}

ConvData make_data(const ConvCase& cc) {
  ConvData d;
  uint32_t state = cc.seed * 7919u + 17u;
  const size_t es = dt_bytes(cc.dt);
  const size_t x_span = span(cc.n, cc.c, cc.h, cc.w, cc.xs());
  d.x.assign(x_span, 0.0f);
  d.x_bytes.assign(x_span * es, 0);
  for (int n = 0; n < cc.n; ++n) {
    for (int c = 0; c < cc.c; ++c) {
      for (int h = 0; h < cc.h; ++h) {
        for (int w = 0; w < cc.w; ++w) {
          const size_t i = x_index(cc, n, c, h, w);
          d.x[i] = quantize(cc.x_scale * random_unit(&state), cc.dt);
          encode(d.x[i], cc.dt, &d.x_bytes[i * es]);
        }
      }
    }
  }
  // Weights scaled so that outputs are O(1): a sum of Cg*R*S products of O(1) * O(1/sqrt(count)).
  const size_t w_count = size_t(cc.k) * cc.cg() * cc.r * cc.s;
  const float scale = 1.7f / std::sqrt(float(cc.cg() * cc.r * cc.s));
  d.w.resize(w_count);
  d.w_bytes.resize(w_count * es);
  for (size_t i = 0; i < w_count; ++i) {
    d.w[i] = quantize(scale * random_unit(&state), cc.dt);
    encode(d.w[i], cc.dt, &d.w_bytes[i * es]);
  }
  const size_t y_span = span(cc.n, cc.k, cc.out_h(), cc.out_w(), cc.ys());
  d.y0.resize(y_span);
  d.y_bytes.resize(y_span * es);
  for (size_t i = 0; i < y_span; ++i) {
    // beta = 0: y holds NaN, which must not reach the result (nor the gaps of a strided y).
    d.y0[i] = cc.beta == 0.0f ? kNaN : quantize(random_unit(&state), cc.dt);
    encode(d.y0[i], cc.dt, &d.y_bytes[i * es]);
  }
  return d;
}

// The expected y element and its tolerance: double accumulation over the inputs as the emulator
// should see them (rounded per cc.expect or `round`); tolerance = storage rounding of the result +
// fp32 accumulation and epilogue error ((Q + 3) * 2^-24 of the sum of magnitudes).
struct Expected {
  double ref, tol;
};

Expected expected(const ConvCase& cc, const ConvData& d, int n, int k, int oh, int ow,
                  Round round) {
  const int kg = cc.k / cc.groups, g = k / kg;
  double acc = 0.0, mag = 0.0;
  for (int c = 0; c < cc.cg(); ++c) {
    for (int r = 0; r < cc.r; ++r) {
      const int ih = oh * cc.stride_h - cc.pad_h + r * cc.dil_h;
      if (ih < 0 || ih >= cc.h) continue;
      for (int s = 0; s < cc.s; ++s) {
        const int iw = ow * cc.stride_w - cc.pad_w + s * cc.dil_w;
        if (iw < 0 || iw >= cc.w) continue;
        const int wr = cc.mode == CUDNN_CONVOLUTION ? cc.r - 1 - r : r;
        const int ws = cc.mode == CUDNN_CONVOLUTION ? cc.s - 1 - s : s;
        const double xv = round_input(d.x[x_index(cc, n, g * cc.cg() + c, ih, iw)], round);
        const double wv = round_input(d.w[w_index(cc, k, c, wr, ws)], round);
        acc += xv * wv;
        mag += std::fabs(xv * wv);
      }
    }
  }
  const int q = cc.cg() * cc.r * cc.s;
  double ref = cc.alpha * acc, sum = std::fabs(cc.alpha) * mag;
  if (cc.beta != 0.0f) {
    const double y0 = d.y0[y_index(cc, n, k, oh, ow)];
    ref += cc.beta * y0;
    sum += std::fabs(cc.beta * y0);
  }
  return {ref, storage_roundoff(cc.dt) * std::fabs(ref) + (q + 3) * std::ldexp(1.0, -24) * sum};
}

// Sets the case's descriptors (checking the output-size query against the case's own formula).
void set_descriptors(const ConvCase& cc, const TensorDesc& x, const FilterDesc& w,
                     const ConvDesc& conv, const TensorDesc& y) {
  const cudnnDataType_t t = cudnn_type(cc.dt);
  if (cc.layout == Layout::kStrided) {
    const Strides xs = cc.xs(), ys = cc.ys();
    ASSERT_EQ(
        cudnnSetTensor4dDescriptorEx(x.get(), t, cc.n, cc.c, cc.h, cc.w, xs.n, xs.c, xs.h, xs.w),
        CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetTensor4dDescriptorEx(y.get(), t, cc.n, cc.k, cc.out_h(), cc.out_w(), ys.n,
                                           ys.c, ys.h, ys.w),
              CUDNN_STATUS_SUCCESS);
  } else {
    const cudnnTensorFormat_t f =
        cc.layout == Layout::kNchw ? CUDNN_TENSOR_NCHW : CUDNN_TENSOR_NHWC;
    ASSERT_EQ(cudnnSetTensor4dDescriptor(x.get(), f, t, cc.n, cc.c, cc.h, cc.w),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetTensor4dDescriptor(y.get(), f, t, cc.n, cc.k, cc.out_h(), cc.out_w()),
              CUDNN_STATUS_SUCCESS);
  }
  ASSERT_EQ(cudnnSetFilter4dDescriptor(w.get(), t, cc.filter, cc.k, cc.cg(), cc.r, cc.s),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(
      cudnnSetConvolution2dDescriptor(conv.get(), cc.pad_h, cc.pad_w, cc.stride_h, cc.stride_w,
                                      cc.dil_h, cc.dil_w, cc.mode, CUDNN_DATA_FLOAT),
      CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolutionGroupCount(conv.get(), cc.groups), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolutionMathType(conv.get(), cc.math), CUDNN_STATUS_SUCCESS);
  int n = 0, c = 0, h = 0, w_ = 0;
  ASSERT_EQ(cudnnGetConvolution2dForwardOutputDim(conv.get(), x.get(), w.get(), &n, &c, &h, &w_),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(n, cc.n);
  ASSERT_EQ(c, cc.k);
  ASSERT_EQ(h, cc.out_h());
  ASSERT_EQ(w_, cc.out_w());
}

// Compares y (bytes as downloaded) with the reference; also that y's gaps kept their bytes.
// Non-finite outputs fail. Returns how many elements differ from the reference computed with
// `other` rounding by more than its tolerance (for tests that the rounding happened).
int expect_matches(const ConvCase& cc, const ConvData& d, const std::vector<unsigned char>& y,
                   Round other = Round::kNone) {
  const size_t es = dt_bytes(cc.dt);
  std::vector<bool> in_tensor(d.y0.size(), false);
  int failures = 0, differ = 0;
  for (int n = 0; n < cc.n; ++n) {
    for (int k = 0; k < cc.k; ++k) {
      for (int oh = 0; oh < cc.out_h(); ++oh) {
        for (int ow = 0; ow < cc.out_w(); ++ow) {
          const size_t i = y_index(cc, n, k, oh, ow);
          in_tensor[i] = true;
          const float got = decode(&y[i * es], cc.dt);
          const Expected e = expected(cc, d, n, k, oh, ow, cc.expect);
          if (!std::isfinite(got) || std::fabs(got - e.ref) > e.tol) {
            if (++failures <= 5) {
              ADD_FAILURE() << "y[" << n << ", " << k << ", " << oh << ", " << ow << "] = " << got
                            << ", expected " << e.ref << " +- " << e.tol;
            }
          }
          const Expected o = expected(cc, d, n, k, oh, ow, other);
          if (std::fabs(got - o.ref) > o.tol) ++differ;
        }
      }
    }
  }
  EXPECT_EQ(failures, 0) << "elements outside the tolerance";
  for (size_t i = 0; i < in_tensor.size(); ++i) {
    if (!in_tensor[i] && std::memcmp(&y[i * es], &d.y_bytes[i * es], es) != 0) {
      ADD_FAILURE() << "y element " << i << " is not part of the tensor but was written";
      break;
    }
  }
  return differ;
}

// Uploads the case, runs it on `handle` (workspace as the algorithm asks), waits, returns y.
std::vector<unsigned char> run_case(cudnnHandle_t handle, const ConvCase& cc, const ConvData& d) {
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  set_descriptors(cc, x, w, conv, y);
  size_t ws_bytes = 0;
  EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle, x.get(), w.get(), conv.get(), y.get(),
                                                    cc.algo, &ws_bytes),
            CUDNN_STATUS_SUCCESS)
      << last_error();
  DeviceBuffer<unsigned char> xb(d.x_bytes), wb(d.w_bytes), yb(d.y_bytes),
      ws(std::max<size_t>(ws_bytes, 1));
  EXPECT_EQ(
      cudnnConvolutionForward(handle, &cc.alpha, x.get(), xb.get(), w.get(), wb.get(), conv.get(),
                              cc.algo, ws.get(), ws_bytes, &cc.beta, y.get(), yb.get()),
      CUDNN_STATUS_SUCCESS)
      << last_error();
  cudaStream_t stream = nullptr;
  EXPECT_EQ(cudnnGetStream(handle, &stream), CUDNN_STATUS_SUCCESS);
  MVIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  return yb.download();
}

class CudnnTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cudnnCreate(&handle_), CUDNN_STATUS_SUCCESS); }
  void TearDown() override {
    if (handle_ != nullptr) {
      EXPECT_EQ(cudnnDestroy(handle_), CUDNN_STATUS_SUCCESS);
    }
  }
  cudnnHandle_t handle_ = nullptr;
};

// ---- the sweep ---------------------------------------------------------------------------------

// Every layout pair x group kind x stride x pad x dilation for one data type; mode, alpha/beta and
// algorithm drawn per case (fixed seed) so that each meets every other dimension's values.
std::vector<ConvCase> sweep_cases(DT dt) {
  struct Layouts {
    Layout xy;
    cudnnTensorFormat_t filter;
  };
  const Layouts layouts[] = {{Layout::kNchw, CUDNN_TENSOR_NCHW},
                             {Layout::kNhwc, CUDNN_TENSOR_NCHW},
                             {Layout::kStrided, CUDNN_TENSOR_NCHW},
                             {Layout::kNhwc, CUDNN_TENSOR_NHWC}};
  struct Groups {
    int groups, k;  // C = 6
  };
  const Groups group_kinds[] = {{1, 5}, {6, 6}, {6, 12}, {2, 4}};  // dense, dw, dw x2, grouped
  const float alphas[] = {1.0f, 0.75f, -1.25f}, betas[] = {0.0f, 0.5f, 1.0f};
  std::mt19937 pick(static_cast<unsigned>(dt) + 11);
  std::vector<ConvCase> cases;
  for (const Layouts& l : layouts) {
    for (const Groups& g : group_kinds) {
      for (int stride : {1, 2}) {
        for (int pad : {0, 1}) {
          for (int dil : {1, 2}) {
            ConvCase cc;
            cc.layout = l.xy, cc.filter = l.filter, cc.groups = g.groups, cc.k = g.k;
            cc.stride_h = cc.stride_w = stride, cc.pad_h = cc.pad_w = pad;
            cc.dil_h = cc.dil_w = dil, cc.dt = dt;
            cc.mode = pick() % 2 ? CUDNN_CONVOLUTION : CUDNN_CROSS_CORRELATION;
            const int ab = int(pick() % 3);
            cc.alpha = alphas[ab], cc.beta = betas[ab];
            const cudnnConvolutionFwdAlgo_t algos[] = {
                CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_FWD_ALGO_GEMM};
            cc.algo = algos[pick() % (l.filter == CUDNN_TENSOR_NHWC ? 2 : 3)];
            cc.seed = static_cast<uint32_t>(cases.size()) + 1;
            cases.push_back(cc);
          }
        }
      }
    }
  }
  return cases;
}

class CudnnSweep : public CudnnTest, public ::testing::WithParamInterface<DT> {};

TEST_P(CudnnSweep, MatchesNaiveLoops) {
  for (const ConvCase& cc : sweep_cases(GetParam())) {
    SCOPED_TRACE(cc.name());
    const ConvData d = make_data(cc);
    expect_matches(cc, d, run_case(handle_, cc, d));
    if (HasFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Cudnn, CudnnSweep, ::testing::Values(DT::kF32, DT::kF16, DT::kBF16),
                         [](const ::testing::TestParamInfo<DT>& i) { return dt_name(i.param); });

// Non-square filters, unequal pads, strides and dilations per axis, a 1x1 filter, and a filter as
// large as the padded input (a 1x1 output).
TEST_F(CudnnTest, UnequalAxesAndFilterShapes) {
  std::vector<ConvCase> cases;
  ConvCase base;
  base.c = 4, base.k = 3, base.h = 8, base.w = 6;
  for (Layout layout : {Layout::kNchw, Layout::kNhwc}) {
    for (DT dt : {DT::kF32, DT::kF16}) {
      ConvCase cc = base;
      cc.layout = layout,
      cc.filter = layout == Layout::kNhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
      cc.dt = dt;
      cc.r = 2, cc.s = 3, cc.pad_h = 1, cc.pad_w = 0, cc.stride_h = 2, cc.stride_w = 1;
      cc.dil_h = 1, cc.dil_w = 2;
      cases.push_back(cc);
      cc.r = 1, cc.s = 1, cc.pad_h = cc.pad_w = 0, cc.stride_h = cc.stride_w = 1;
      cc.dil_h = cc.dil_w = 1, cc.mode = CUDNN_CONVOLUTION;
      cases.push_back(cc);
      cc.r = 10, cc.s = 4, cc.pad_h = 1, cc.pad_w = 0, cc.alpha = 0.5f, cc.beta = 1.0f;
      cases.push_back(cc);
    }
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConvCase& cc = cases[i];
    SCOPED_TRACE(cc.name() + " r" + std::to_string(cc.r) + " s" + std::to_string(cc.s));
    const ConvData d = make_data(cc);
    expect_matches(cc, d, run_case(handle_, cc, d));
  }
}

// ---- numerics -----------------------------------------------------------------------------------

// A dense f32 case whose inputs have low mantissa bits, so that tf32 and fp16 rounding change it.
// Few taps per output (1x1 over 4 channels) keep the fp32 tolerance far below the rounding's
// effect. fp16 and tf32 both keep 11 significant bits, so where fp16 is expected x is made tiny
// (2^-17: fp16 subnormals, 7 bits or fewer) and alpha large, which tells the two apart.
ConvCase rounding_case(cudnnMathType_t math, Round expect) {
  ConvCase cc;
  cc.c = 4, cc.k = 8, cc.r = cc.s = 1, cc.pad_h = cc.pad_w = 0;
  cc.dt = DT::kF32, cc.math = math, cc.expect = expect;
  if (expect == Round::kF16) cc.x_scale = std::ldexp(1.0f, -17), cc.alpha = std::ldexp(1.0f, 17);
  return cc;
}

// Runs the case and expects the emulator to have rounded exactly as cc.expect says: matching that
// reference, and (if it rounds) not matching in most elements the reference of the nearest
// alternative (no rounding for tf32, tf32 for fp16).
void expect_rounding(cudnnHandle_t handle, const ConvCase& cc) {
  const ConvData d = make_data(cc);
  const std::vector<unsigned char> y = run_case(handle, cc, d);
  if (cc.expect == Round::kNone) {
    expect_matches(cc, d, y);
  } else {
    const Round other = cc.expect == Round::kTf32 ? Round::kNone : Round::kTf32;
    const int differ = expect_matches(cc, d, y, other);
    const int total = cc.n * cc.k * cc.out_h() * cc.out_w();
    EXPECT_GT(differ, total / 2) << "the inputs were not rounded as expected";
  }
}

TEST_F(CudnnTest, FloatMathTypesRoundTheInputsOnAmpereAndLater) {
  // The handle was created at the default compute capability 9.0.
  expect_rounding(handle_, rounding_case(CUDNN_DEFAULT_MATH, Round::kTf32));
  expect_rounding(handle_, rounding_case(CUDNN_TENSOR_OP_MATH, Round::kTf32));
  expect_rounding(handle_, rounding_case(CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, Round::kF16));
  expect_rounding(handle_, rounding_case(CUDNN_FMA_MATH, Round::kNone));
}

// Restores the compute capability and destroys a handle created under another one.
class CudnnComputeCapabilityTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (handle_ != nullptr) cudnnDestroy(handle_);
    emu::set_compute_capability(9, 0);
  }
  cudnnHandle_t create_at(int major, int minor) {
    if (handle_ != nullptr) cudnnDestroy(handle_);
    handle_ = nullptr;
    emu::set_compute_capability(major, minor);
    EXPECT_EQ(cudnnCreate(&handle_), CUDNN_STATUS_SUCCESS);
    return handle_;
  }
  cudnnHandle_t handle_ = nullptr;
};

TEST_F(CudnnComputeCapabilityTest, BeforeAmpereDefaultMathKeepsFp32AndConversionNeedsVolta) {
  cudnnHandle_t h = create_at(7, 5);
  expect_rounding(h, rounding_case(CUDNN_DEFAULT_MATH, Round::kNone));
  expect_rounding(h, rounding_case(CUDNN_TENSOR_OP_MATH, Round::kNone));
  expect_rounding(h, rounding_case(CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, Round::kF16));
  h = create_at(6, 1);
  expect_rounding(h, rounding_case(CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, Round::kNone));
  h = create_at(8, 0);
  expect_rounding(h, rounding_case(CUDNN_DEFAULT_MATH, Round::kTf32));
}

TEST_F(CudnnComputeCapabilityTest, Bf16BeforeAmpereIsArchMismatch) {
  cudnnHandle_t h = create_at(7, 5);
  ConvCase cc;
  cc.dt = DT::kBF16;
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  set_descriptors(cc, x, w, conv, y);
  size_t bytes = 0;
  EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(h, x.get(), w.get(), conv.get(), y.get(),
                                                    cc.algo, &bytes),
            CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH);
  const std::string text = last_error();
  EXPECT_TRUE(contains(text,
                       "cudnnGetConvolutionForwardWorkspaceSize: PSEUDO_BFLOAT16_CONFIG "
                       "needs compute capability >= 8.0, the handle's device has 7.5"))
      << text;
  // The handle keeps the device it was created on.
  emu::set_compute_capability(9, 0);
  EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(h, x.get(), w.get(), conv.get(), y.get(),
                                                    cc.algo, &bytes),
            CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH);
  h = create_at(8, 0);
  EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(h, x.get(), w.get(), conv.get(), y.get(),
                                                    cc.algo, &bytes),
            CUDNN_STATUS_SUCCESS);
}

TEST(CudnnTf32Override, Tf32OverrideZeroTurnsTf32Off) {
  ASSERT_EQ(setenv("NVIDIA_TF32_OVERRIDE", "0", 1), 0);
  cudnnHandle_t h = nullptr;
  const cudnnStatus_t s = cudnnCreate(&h);
  unsetenv("NVIDIA_TF32_OVERRIDE");
  ASSERT_EQ(s, CUDNN_STATUS_SUCCESS);
  expect_rounding(h, rounding_case(CUDNN_DEFAULT_MATH, Round::kNone));
  expect_rounding(h, rounding_case(CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, Round::kF16));
  EXPECT_EQ(cudnnDestroy(h), CUDNN_STATUS_SUCCESS);
}

// y rounds to nearest even: 1 + 2^-(m+1) (a tie) goes down to 1, 1 + 3 * 2^-(m+1) up to 1 +
// 2^-(m-1), for the m explicit mantissa bits of fp16 (10) and bf16 (7).
TEST_F(CudnnTest, ReducedPrecisionOutputsRoundToNearestEven) {
  for (DT dt : {DT::kF16, DT::kBF16}) {
    SCOPED_TRACE(dt_name(dt));
    const int m = dt == DT::kF16 ? 10 : 7;
    for (int odd : {1, 3}) {
      ConvCase cc;
      cc.n = 1, cc.c = 1, cc.k = 1, cc.h = cc.w = 1, cc.r = cc.s = 1, cc.pad_h = cc.pad_w = 0;
      cc.dt = dt, cc.alpha = 1.0f + odd * std::ldexp(1.0f, -(m + 1));
      ConvData d = make_data(cc);
      d.x = {1.0f}, d.w = {1.0f};
      encode(1.0f, dt, d.x_bytes.data());
      encode(1.0f, dt, d.w_bytes.data());
      const float got = decode(run_case(handle_, cc, d).data(), dt);
      EXPECT_EQ(got, odd == 1 ? 1.0f : 1.0f + std::ldexp(1.0f, -(m - 1)));
    }
  }
}

TEST_F(CudnnTest, BetaZeroIgnoresNaNInYAndBetaOneAccumulates) {
  ConvCase cc;
  cc.dt = DT::kF32;
  ConvData d = make_data(cc);  // beta = 0: y is NaN
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  set_descriptors(cc, x, w, conv, y);
  DeviceBuffer<unsigned char> xb(d.x_bytes), wb(d.w_bytes), yb(d.y_bytes), ws(4096);
  const float one = 1.0f, zero = 0.0f;
  for (const float* beta : {&zero, &one}) {
    ASSERT_EQ(cudnnConvolutionForward(handle_, &one, x.get(), xb.get(), w.get(), wb.get(),
                                      conv.get(), cc.algo, ws.get(), 4096, beta, y.get(), yb.get()),
              CUDNN_STATUS_SUCCESS);
  }
  const std::vector<unsigned char> out = yb.download();
  cc.alpha = 2.0f;  // one convolution written, a second added to it
  expect_matches(cc, d, out);
}

// ---- descriptors and queries --------------------------------------------------------------------

TEST_F(CudnnTest, TensorDescriptorsReportTheirStrides) {
  TensorDesc t;
  cudnnDataType_t type;
  int d[8];
  ASSERT_EQ(cudnnGetTensor4dDescriptor(t.get(), &type, d, d + 1, d + 2, d + 3, d + 4, d + 5, d + 6,
                                       d + 7),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(type, CUDNN_DATA_FLOAT);  // a fresh descriptor reports zeros, as cuDNN's does
  EXPECT_EQ(std::vector<int>(d, d + 8), std::vector<int>(8, 0));
  struct Expect {
    cudnnTensorFormat_t format;
    std::vector<int> strides;
  };
  for (const Expect& e :
       {Expect{CUDNN_TENSOR_NCHW, {60, 20, 5, 1}}, Expect{CUDNN_TENSOR_NHWC, {60, 1, 15, 3}}}) {
    ASSERT_EQ(cudnnSetTensor4dDescriptor(t.get(), e.format, CUDNN_DATA_HALF, 2, 3, 4, 5),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnGetTensor4dDescriptor(t.get(), &type, d, d + 1, d + 2, d + 3, d + 4, d + 5,
                                         d + 6, d + 7),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(type, CUDNN_DATA_HALF);
    EXPECT_EQ(std::vector<int>(d, d + 4), (std::vector<int>{2, 3, 4, 5}));
    EXPECT_EQ(std::vector<int>(d + 4, d + 8), e.strides);
  }
  ASSERT_EQ(cudnnSetTensor4dDescriptorEx(t.get(), CUDNN_DATA_BFLOAT16, 2, 3, 4, 5, 100, 1, 20, 4),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetTensor4dDescriptor(t.get(), &type, d, d + 1, d + 2, d + 3, d + 4, d + 5, d + 6,
                                       d + 7),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(type, CUDNN_DATA_BFLOAT16);
  EXPECT_EQ(std::vector<int>(d + 4, d + 8), (std::vector<int>{100, 1, 20, 4}));
}

TEST_F(CudnnTest, FilterAndConvolutionDescriptorsKeepWhatWasSet) {
  FilterDesc f;
  cudnnDataType_t type;
  cudnnTensorFormat_t format;
  int k, c, h, w;
  ASSERT_EQ(cudnnSetFilter4dDescriptor(f.get(), CUDNN_DATA_HALF, CUDNN_TENSOR_NHWC, 8, 4, 3, 2),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetFilter4dDescriptor(f.get(), &type, &format, &k, &c, &h, &w),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(type, CUDNN_DATA_HALF);
  EXPECT_EQ(format, CUDNN_TENSOR_NHWC);
  EXPECT_EQ(std::vector<int>({k, c, h, w}), (std::vector<int>{8, 4, 3, 2}));

  ConvDesc conv;
  int g = 0;
  cudnnMathType_t math;
  int v[6];
  cudnnConvolutionMode_t mode;
  cudnnDataType_t compute;
  // Fresh: one group, default math, and (as cuDNN reports) zeros and CUDNN_CONVOLUTION.
  ASSERT_EQ(cudnnGetConvolutionGroupCount(conv.get(), &g), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetConvolutionMathType(conv.get(), &math), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(g, 1);
  EXPECT_EQ(math, CUDNN_DEFAULT_MATH);
  ASSERT_EQ(cudnnGetConvolution2dDescriptor(conv.get(), v, v + 1, v + 2, v + 3, v + 4, v + 5, &mode,
                                            &compute),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(std::vector<int>(v, v + 6), std::vector<int>(6, 0));
  EXPECT_EQ(mode, CUDNN_CONVOLUTION);
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(conv.get(), 1, 2, 3, 4, 5, 6, CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_HALF),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolutionGroupCount(conv.get(), 4), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolutionMathType(conv.get(), CUDNN_TENSOR_OP_MATH), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetConvolution2dDescriptor(conv.get(), v, v + 1, v + 2, v + 3, v + 4, v + 5, &mode,
                                            &compute),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(std::vector<int>(v, v + 6), (std::vector<int>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(mode, CUDNN_CROSS_CORRELATION);
  EXPECT_EQ(compute, CUDNN_DATA_HALF);
  ASSERT_EQ(cudnnGetConvolutionGroupCount(conv.get(), &g), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetConvolutionMathType(conv.get(), &math), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(g, 4);
  EXPECT_EQ(math, CUDNN_TENSOR_OP_MATH);
}

TEST_F(CudnnTest, OutputDimIsTheConvolutionFormula) {
  struct Geo {
    int h, w, r, s, pad_h, pad_w, u, v, dh, dw, groups;
  };
  for (const Geo& g :
       {Geo{9, 10, 3, 3, 1, 1, 2, 2, 1, 1, 1}, Geo{9, 10, 3, 3, 1, 1, 1, 1, 2, 2, 2},
        Geo{256, 256, 3, 3, 1, 1, 2, 2, 1, 1, 1}, Geo{7, 7, 9, 9, 1, 1, 1, 1, 1, 1, 4},
        Geo{5, 11, 2, 5, 0, 2, 1, 3, 3, 1, 1}}) {
    TensorDesc x;
    FilterDesc f;
    ConvDesc conv;
    ASSERT_EQ(
        cudnnSetTensor4dDescriptor(x.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 8, g.h, g.w),
        CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetFilter4dDescriptor(f.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 12,
                                         8 / g.groups, g.r, g.s),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetConvolution2dDescriptor(conv.get(), g.pad_h, g.pad_w, g.u, g.v, g.dh, g.dw,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
              CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetConvolutionGroupCount(conv.get(), g.groups), CUDNN_STATUS_SUCCESS);
    int n, c, h, w;
    ASSERT_EQ(cudnnGetConvolution2dForwardOutputDim(conv.get(), x.get(), f.get(), &n, &c, &h, &w),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(n, 2);
    EXPECT_EQ(c, 12);
    EXPECT_EQ(h, (g.h + 2 * g.pad_h - (g.r - 1) * g.dh - 1) / g.u + 1);
    EXPECT_EQ(w, (g.w + 2 * g.pad_w - (g.s - 1) * g.dw - 1) / g.v + 1);
  }
}

TEST_F(CudnnTest, AlgorithmQueryRanksWhatRunsWithItsWorkspace) {
  int max_count = 0;
  ASSERT_EQ(cudnnGetConvolutionForwardAlgorithmMaxCount(handle_, &max_count), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(max_count, CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  for (cudnnTensorFormat_t filter : {CUDNN_TENSOR_NHWC, CUDNN_TENSOR_NCHW}) {
    ConvCase cc;
    cc.dt = DT::kF16, cc.filter = filter;
    SCOPED_TRACE(cc.name());
    TensorDesc x, y;
    FilterDesc w;
    ConvDesc conv;
    set_descriptors(cc, x, w, conv, y);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int returned = 0;
    ASSERT_EQ(
        cudnnGetConvolutionForwardAlgorithm_v7(handle_, x.get(), w.get(), conv.get(), y.get(),
                                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf),
        CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(returned, CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    const int usable = filter == CUDNN_TENSOR_NHWC ? 2 : 3;  // GEMM needs a KCRS filter
    EXPECT_EQ(perf[0].algo, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM);
    EXPECT_EQ(perf[1].algo, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
    std::vector<bool> seen(CUDNN_CONVOLUTION_FWD_ALGO_COUNT, false);
    for (int i = 0; i < returned; ++i) {
      SCOPED_TRACE(i);
      seen[perf[i].algo] = true;
      EXPECT_EQ(perf[i].status, i < usable ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED);
      EXPECT_EQ(perf[i].determinism, CUDNN_DETERMINISTIC);
      EXPECT_EQ(perf[i].mathType, cc.math);
      if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
      size_t bytes = 1;
      ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle_, x.get(), w.get(), conv.get(),
                                                        y.get(), perf[i].algo, &bytes),
                CUDNN_STATUS_SUCCESS);
      EXPECT_EQ(perf[i].memory, bytes);
      ConvCase run = cc;
      run.algo = perf[i].algo;
      const ConvData d = make_data(run);
      expect_matches(run, d, run_case(handle_, run, d));
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), true), CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    ASSERT_EQ(cudnnGetConvolutionForwardAlgorithm_v7(handle_, x.get(), w.get(), conv.get(), y.get(),
                                                     2, &returned, perf),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(returned, 2);
  }
}

TEST_F(CudnnTest, WorkspaceSizesFollowTheShapeAndTooLittleIsRefused) {
  ConvCase cc;  // C = 6, K = 5, 3x3, 7x9 output, f32, KCRS so that GEMM applies
  cc.filter = CUDNN_TENSOR_NCHW;
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  set_descriptors(cc, x, w, conv, y);
  const auto size_of = [&](cudnnConvolutionFwdAlgo_t algo) {
    size_t bytes = 12345;
    EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle_, x.get(), w.get(), conv.get(),
                                                      y.get(), algo, &bytes),
              CUDNN_STATUS_SUCCESS);
    return bytes;
  };
  EXPECT_EQ(size_of(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM), 0u);
  EXPECT_EQ(size_of(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM), 256u);  // 4 * 54, rounded
  const size_t gemm = size_of(CUDNN_CONVOLUTION_FWD_ALGO_GEMM);
  EXPECT_EQ(gemm, (size_t{4} * 54 * 63 + 255) / 256 * 256);  // im2col: 54 taps x 63 pixels, fp32

  const ConvData d = make_data(cc);
  DeviceBuffer<unsigned char> xb(d.x_bytes), wb(d.w_bytes), yb(d.y_bytes), ws(gemm);
  std::vector<unsigned char> marker(gemm, 0x11);
  ws.upload(marker);
  const auto forward = [&](cudnnConvolutionFwdAlgo_t algo, void* workspace, size_t bytes) {
    return cudnnConvolutionForward(handle_, &cc.alpha, x.get(), xb.get(), w.get(), wb.get(),
                                   conv.get(), algo, workspace, bytes, &cc.beta, y.get(), yb.get());
  };
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, ws.get(), gemm - 1), CUDNN_STATUS_BAD_PARAM);
  std::string text = last_error();
  EXPECT_TRUE(contains(
      text, "cudnnConvolutionForward: workSpaceSizeInBytes is " + std::to_string(gemm - 1) +
                ", but CUDNN_CONVOLUTION_FWD_ALGO_GEMM needs " + std::to_string(gemm)))
      << text;
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, nullptr, 0),
            CUDNN_STATUS_BAD_PARAM);
  text = last_error();
  EXPECT_TRUE(contains(text,
                       "workSpaceSizeInBytes is 0, but "
                       "CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM needs 256"))
      << text;
  EXPECT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, nullptr, 256),
            CUDNN_STATUS_BAD_PARAM);
  text = last_error();
  EXPECT_TRUE(contains(text,
                       "workSpace is null, but CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_"
                       "GEMM needs 256 bytes"))
      << text;
  // Nothing ran; a null workspace is fine for IMPLICIT_GEMM.
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(ws.download(), marker);
  ASSERT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0), CUDNN_STATUS_SUCCESS);
  expect_matches(cc, d, yb.download());
  // The algorithm's part of the workspace is scratch: it holds the poison afterwards.
  ASSERT_EQ(forward(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, ws.get(), gemm),
            CUDNN_STATUS_SUCCESS);
  const std::vector<unsigned char> after = ws.download();
  std::vector<unsigned char> poison(256);
  emu::fill_poison(poison.data(), poison.size());
  EXPECT_TRUE(std::equal(poison.begin(), poison.end(), after.begin()));
  EXPECT_TRUE(
      std::all_of(after.begin() + 256, after.end(), [](unsigned char b) { return b == 0x11; }));
}

// ---- asynchrony ---------------------------------------------------------------------------------

TEST_F(CudnnTest, ResultIsThereOnceTheHandlesStreamHasRunTheCall) {
  cudaStream_t stream = nullptr, got = reinterpret_cast<cudaStream_t>(1);
  ASSERT_EQ(cudnnGetStream(handle_, &got), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(got, nullptr);  // a new handle uses the legacy default stream
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudnnSetStream(handle_, stream), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnGetStream(handle_, &got), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(got, stream);
  ConvCase cc;
  cc.dt = DT::kF16, cc.alpha = 0.5f;
  const ConvData d = make_data(cc);
  DeviceBuffer<unsigned char> xb(d.x_bytes), wb(d.w_bytes), yb(d.y_bytes), ws(256);
  {
    auto x = std::make_unique<TensorDesc>(), y = std::make_unique<TensorDesc>();
    auto w = std::make_unique<FilterDesc>();
    auto conv = std::make_unique<ConvDesc>();
    set_descriptors(cc, *x, *w, *conv, *y);
    StreamGate gate(stream);
    float alpha = cc.alpha, beta = cc.beta;
    ASSERT_EQ(
        cudnnConvolutionForward(handle_, &alpha, x->get(), xb.get(), w->get(), wb.get(),
                                conv->get(), cc.algo, ws.get(), 256, &beta, y->get(), yb.get()),
        CUDNN_STATUS_SUCCESS);
    // What the call read is fixed now: scalars, descriptors and the handle's stream may change.
    alpha = 100.0f, beta = 7.0f;
    x.reset(), y.reset(), w.reset(), conv.reset();
    ASSERT_EQ(cudnnSetStream(handle_, nullptr), CUDNN_STATUS_SUCCESS);
    std::vector<unsigned char> before(d.y_bytes.size());
    // The legacy stream does not wait for a non-blocking stream.
    ASSERT_EQ(cudaMemcpy(before.data(), yb.get(), before.size(), cudaMemcpyDeviceToHost),
              cudaSuccess);
    EXPECT_EQ(before, d.y_bytes) << "y changed before the stream ran the call";
    gate.open();
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  }
  expect_matches(cc, d, yb.download());
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(CudnnTest, CapturedConvolutionReplaysWithItsScalars) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudnnSetStream(handle_, stream), CUDNN_STATUS_SUCCESS);
  ConvCase cc;
  cc.filter = CUDNN_TENSOR_NCHW, cc.layout = Layout::kNchw,
  cc.algo = CUDNN_CONVOLUTION_FWD_ALGO_GEMM;
  cc.alpha = -0.75f;
  const ConvData d = make_data(cc);
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  set_descriptors(cc, x, w, conv, y);
  DeviceBuffer<unsigned char> xb(d.x_bytes), wb(d.w_bytes), yb(d.y_bytes), ws(size_t{1} << 16);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(
      cudnnConvolutionForward(handle_, &cc.alpha, x.get(), xb.get(), w.get(), wb.get(), conv.get(),
                              cc.algo, ws.get(), ws.bytes(), &cc.beta, y.get(), yb.get()),
      CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(yb.download(), d.y_bytes) << "a captured call must not run";
  for (int replay = 0; replay < 2; ++replay) {
    ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    expect_matches(cc, d, yb.download());
  }
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  ASSERT_EQ(cudnnSetStream(handle_, nullptr), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

// ---- statuses and their texts -------------------------------------------------------------------

// One call that must fail with `status`, recording a text that contains `text`.
struct Refusal {
  const char* what;
  std::function<cudnnStatus_t()> call;
  cudnnStatus_t status;
  std::string text;
};

void expect_refusals(const std::vector<Refusal>& refusals) {
  for (const Refusal& r : refusals) {
    SCOPED_TRACE(r.what);
    last_error();  // nothing pending
    EXPECT_EQ(r.call(), r.status);
    const std::string text = last_error();
    EXPECT_TRUE(contains(text, r.text)) << "recorded: \"" << text << "\"";
  }
}

TEST(CudnnHandle, NullHandlesAndOutputsAreBadParams) {
  cudaStream_t s = nullptr;
  int count = 0;
  expect_refusals({
      {"create into null", [] { return cudnnCreate(nullptr); }, CUDNN_STATUS_BAD_PARAM,
       "cudnnCreate: handle is null"},
      {"set stream", [] { return cudnnSetStream(nullptr, nullptr); }, CUDNN_STATUS_BAD_PARAM,
       "cudnnSetStream: handle is null"},
      {"get stream", [&] { return cudnnGetStream(nullptr, &s); }, CUDNN_STATUS_BAD_PARAM,
       "cudnnGetStream: handle is null"},
      {"max count", [&] { return cudnnGetConvolutionForwardAlgorithmMaxCount(nullptr, &count); },
       CUDNN_STATUS_BAD_PARAM, "cudnnGetConvolutionForwardAlgorithmMaxCount: handle is null"},
  });
  cudnnHandle_t h = nullptr;
  ASSERT_EQ(cudnnCreate(&h), CUDNN_STATUS_SUCCESS);
  expect_refusals({
      {"get stream into null", [&] { return cudnnGetStream(h, nullptr); }, CUDNN_STATUS_BAD_PARAM,
       "cudnnGetStream: streamId is null"},
      {"max count into null",
       [&] { return cudnnGetConvolutionForwardAlgorithmMaxCount(h, nullptr); },
       CUDNN_STATUS_BAD_PARAM, "count is null"},
  });
  EXPECT_EQ(cudnnDestroy(h), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroy(nullptr), CUDNN_STATUS_SUCCESS);  // as cuDNN 9.19
  EXPECT_EQ(cudnnGetVersion(), size_t{CUDNN_VERSION});
}

TEST(CudnnDescriptors, InvalidTensorDescriptorsAreRefused) {
  TensorDesc t;
  cudnnTensorDescriptor_t d = t.get();
  cudnnDataType_t type;
  int v[8];
  expect_refusals({
      {"create into null", [] { return cudnnCreateTensorDescriptor(nullptr); },
       CUDNN_STATUS_BAD_PARAM, "cudnnCreateTensorDescriptor: tensorDesc is null"},
      {"null",
       [] {
         return cudnnSetTensor4dDescriptor(nullptr, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 1, 1,
                                           1);
       },
       CUDNN_STATUS_BAD_PARAM, "cudnnSetTensor4dDescriptor: tensorDesc is null"},
      {"n = 0",
       [&] {
         return cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 0, 1, 1, 1);
       },
       CUDNN_STATUS_BAD_PARAM, "cudnnSetTensor4dDescriptor: n must be positive, got 0"},
      {"w < 0",
       [&] {
         return cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_HALF, 1, 2, 3, -4);
       },
       CUDNN_STATUS_BAD_PARAM, "w must be positive, got -4"},
      {"format",
       [&] {
         return cudnnSetTensor4dDescriptor(d, cudnnTensorFormat_t(7), CUDNN_DATA_FLOAT, 1, 1, 1, 1);
       },
       CUDNN_STATUS_BAD_PARAM, "format 7 is not CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NHWC"},
      {"data type",
       [&] {
         return cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, cudnnDataType_t(99), 1, 1, 1, 1);
       },
       CUDNN_STATUS_BAD_PARAM, "dataType 99 is not a cudnnDataType_t"},
      {"2^31 elements",
       [&] {
         return cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1024, 1024, 1024,
                                           2);
       },
       CUDNN_STATUS_NOT_SUPPORTED, "n*c*h*w = 1024*1024*1024*2 is 2^31 elements or more"},
      {"NCHW_VECT_C",
       [&] {
         return cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW_VECT_C, CUDNN_DATA_INT8x4, 1, 4, 1,
                                           1);
       },
       CUDNN_STATUS_NOT_SUPPORTED, "CUDNN_TENSOR_NCHW_VECT_C is not modelled by the emulator"},
      {"Ex zero stride",
       [&] { return cudnnSetTensor4dDescriptorEx(d, CUDNN_DATA_FLOAT, 2, 3, 4, 5, 60, 0, 15, 3); },
       CUDNN_STATUS_BAD_PARAM,
       "cudnnSetTensor4dDescriptorEx: cStride is 0 but c is 3 (a zero stride is allowed only for "
       "a size of 1)"},
      {"Ex c = 0",
       [&] { return cudnnSetTensor4dDescriptorEx(d, CUDNN_DATA_FLOAT, 2, 0, 4, 5, 60, 1, 15, 3); },
       CUDNN_STATUS_BAD_PARAM, "cudnnSetTensor4dDescriptorEx: c must be positive, got 0"},
      {"get from null",
       [&] {
         return cudnnGetTensor4dDescriptor(nullptr, &type, v, v + 1, v + 2, v + 3, v + 4, v + 5,
                                           v + 6, v + 7);
       },
       CUDNN_STATUS_BAD_PARAM, "cudnnGetTensor4dDescriptor: tensorDesc is null"},
      {"get into null",
       [&] {
         return cudnnGetTensor4dDescriptor(d, &type, v, v + 1, nullptr, v + 3, v + 4, v + 5, v + 6,
                                           v + 7);
       },
       CUDNN_STATUS_BAD_PARAM, "cudnnGetTensor4dDescriptor: an output pointer is null"},
  });
  // A refused call leaves the descriptor as it was (unset: zeros); negative strides are accepted
  // (cudnnConvolutionForward refuses them).
  ASSERT_EQ(
      cudnnGetTensor4dDescriptor(d, &type, v, v + 1, v + 2, v + 3, v + 4, v + 5, v + 6, v + 7),
      CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(v[0], 0);
  EXPECT_EQ(cudnnSetTensor4dDescriptorEx(d, CUDNN_DATA_FLOAT, 2, 3, 4, 5, 60, -1, 15, 3),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(nullptr), CUDNN_STATUS_SUCCESS);
}

TEST(CudnnDescriptors, InvalidFilterDescriptorsAreRefused) {
  FilterDesc f;
  cudnnFilterDescriptor_t d = f.get();
  cudnnDataType_t type;
  cudnnTensorFormat_t format;
  int v[4];
  expect_refusals({
      {"create into null", [] { return cudnnCreateFilterDescriptor(nullptr); },
       CUDNN_STATUS_BAD_PARAM, "cudnnCreateFilterDescriptor: filterDesc is null"},
      {"null",
       [] {
         return cudnnSetFilter4dDescriptor(nullptr, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 8, 4, 3,
                                           3);
       },
       CUDNN_STATUS_BAD_PARAM, "cudnnSetFilter4dDescriptor: filterDesc is null"},
      {"k = 0",
       [&] {
         return cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 0, 4, 3, 3);
       },
       CUDNN_STATUS_BAD_PARAM, "cudnnSetFilter4dDescriptor: k must be positive, got 0"},
      {"format",
       [&] {
         return cudnnSetFilter4dDescriptor(d, CUDNN_DATA_FLOAT, cudnnTensorFormat_t(9), 8, 4, 3, 3);
       },
       CUDNN_STATUS_BAD_PARAM, "format 9 is not CUDNN_TENSOR_NCHW"},
      {"data type",
       [&] {
         return cudnnSetFilter4dDescriptor(d, cudnnDataType_t(-1), CUDNN_TENSOR_NCHW, 8, 4, 3, 3);
       },
       CUDNN_STATUS_BAD_PARAM, "dataType -1 is not a cudnnDataType_t"},
      {"2^31 elements",
       [&] {
         return cudnnSetFilter4dDescriptor(d, CUDNN_DATA_HALF, CUDNN_TENSOR_NCHW, 65536, 65536, 1,
                                           1);
       },
       CUDNN_STATUS_NOT_SUPPORTED, "k*c*h*w = 65536*65536*1*1 is 2^31 elements or more"},
      {"NCHW_VECT_C",
       [&] {
         return cudnnSetFilter4dDescriptor(d, CUDNN_DATA_INT8, CUDNN_TENSOR_NCHW_VECT_C, 8, 4, 3,
                                           3);
       },
       CUDNN_STATUS_NOT_SUPPORTED, "CUDNN_TENSOR_NCHW_VECT_C is not modelled by the emulator"},
      {"get from null",
       [&] { return cudnnGetFilter4dDescriptor(nullptr, &type, &format, v, v + 1, v + 2, v + 3); },
       CUDNN_STATUS_BAD_PARAM, "cudnnGetFilter4dDescriptor: filterDesc is null"},
      {"get into null",
       [&] { return cudnnGetFilter4dDescriptor(d, &type, nullptr, v, v + 1, v + 2, v + 3); },
       CUDNN_STATUS_BAD_PARAM, "an output pointer is null"},
  });
  EXPECT_EQ(cudnnDestroyFilterDescriptor(nullptr), CUDNN_STATUS_SUCCESS);
}

TEST(CudnnDescriptors, InvalidConvolutionDescriptorsAreRefused) {
  ConvDesc c;
  cudnnConvolutionDescriptor_t d = c.get();
  const auto set2d = [d](int ph, int pw, int u, int v, int dh, int dw, cudnnConvolutionMode_t m,
                         cudnnDataType_t t) {
    return cudnnSetConvolution2dDescriptor(d, ph, pw, u, v, dh, dw, m, t);
  };
  constexpr cudnnConvolutionMode_t xc = CUDNN_CROSS_CORRELATION;
  constexpr cudnnDataType_t f = CUDNN_DATA_FLOAT;
  int v[6];
  cudnnConvolutionMode_t mode;
  cudnnDataType_t type;
  int groups;
  cudnnMathType_t math;
  expect_refusals({
      {"create into null", [] { return cudnnCreateConvolutionDescriptor(nullptr); },
       CUDNN_STATUS_BAD_PARAM, "cudnnCreateConvolutionDescriptor: convDesc is null"},
      {"null", [] { return cudnnSetConvolution2dDescriptor(nullptr, 1, 1, 1, 1, 1, 1, xc, f); },
       CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolution2dDescriptor: convDesc is null"},
      {"pad", [&] { return set2d(-1, 1, 1, 1, 1, 1, xc, f); }, CUDNN_STATUS_BAD_PARAM,
       "cudnnSetConvolution2dDescriptor: pad_h must be >= 0, got -1"},
      {"stride", [&] { return set2d(1, 1, 1, 0, 1, 1, xc, f); }, CUDNN_STATUS_BAD_PARAM,
       "v (horizontal stride) must be positive, got 0"},
      {"dilation", [&] { return set2d(1, 1, 1, 1, 1, -2, xc, f); }, CUDNN_STATUS_BAD_PARAM,
       "dilation_w must be positive, got -2"},
      {"mode", [&] { return set2d(1, 1, 1, 1, 1, 1, cudnnConvolutionMode_t(5), f); },
       CUDNN_STATUS_BAD_PARAM, "mode 5 is not CUDNN_CONVOLUTION or CUDNN_CROSS_CORRELATION"},
      {"bf16 compute", [&] { return set2d(1, 1, 1, 1, 1, 1, xc, CUDNN_DATA_BFLOAT16); },
       CUDNN_STATUS_BAD_PARAM,
       "computeType CUDNN_DATA_BFLOAT16 (9) is not a convolution compute type"},
      {"get 2d from null",
       [&] {
         return cudnnGetConvolution2dDescriptor(nullptr, v, v + 1, v + 2, v + 3, v + 4, v + 5,
                                                &mode, &type);
       },
       CUDNN_STATUS_BAD_PARAM, "cudnnGetConvolution2dDescriptor: convDesc is null"},
      {"get 2d into null",
       [&] {
         return cudnnGetConvolution2dDescriptor(d, v, v + 1, v + 2, v + 3, v + 4, v + 5, nullptr,
                                                &type);
       },
       CUDNN_STATUS_BAD_PARAM, "an output pointer is null"},
      {"group 0", [&] { return cudnnSetConvolutionGroupCount(d, 0); }, CUDNN_STATUS_BAD_PARAM,
       "cudnnSetConvolutionGroupCount: groupCount must be >= 1, got 0"},
      {"group null", [] { return cudnnSetConvolutionGroupCount(nullptr, 2); },
       CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionGroupCount: convDesc is null"},
      {"get group", [] { return cudnnGetConvolutionGroupCount(nullptr, nullptr); },
       CUDNN_STATUS_BAD_PARAM, "cudnnGetConvolutionGroupCount: convDesc is null"},
      {"get group into null", [&] { return cudnnGetConvolutionGroupCount(d, nullptr); },
       CUDNN_STATUS_BAD_PARAM, "groupCount is null"},
      {"math", [&] { return cudnnSetConvolutionMathType(d, cudnnMathType_t(7)); },
       CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionMathType: mathType 7 is not a cudnnMathType_t"},
      {"math null", [] { return cudnnSetConvolutionMathType(nullptr, CUDNN_FMA_MATH); },
       CUDNN_STATUS_BAD_PARAM, "cudnnSetConvolutionMathType: convDesc is null"},
      {"get math", [&] { return cudnnGetConvolutionMathType(nullptr, &math); },
       CUDNN_STATUS_BAD_PARAM, "cudnnGetConvolutionMathType: convDesc is null"},
      {"get math into null", [&] { return cudnnGetConvolutionMathType(d, nullptr); },
       CUDNN_STATUS_BAD_PARAM, "mathType is null"},
  });
  ASSERT_EQ(cudnnGetConvolutionGroupCount(d, &groups), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(groups, 1);
  EXPECT_EQ(cudnnDestroyConvolutionDescriptor(nullptr), CUDNN_STATUS_SUCCESS);
}

TEST(CudnnDescriptors, InconsistentOutputDimQueriesAreBadParams) {
  TensorDesc x, fresh_x;
  FilterDesc w, fresh_w;
  ConvDesc conv, fresh_conv, grouped;
  ASSERT_EQ(cudnnSetTensor4dDescriptor(x.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 8, 9, 10),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(w.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 12, 8, 3, 3),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(conv.get(), 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_FLOAT),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(grouped.get(), 1, 1, 1, 1, 1, 1,
                                            CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolutionGroupCount(grouped.get(), 3), CUDNN_STATUS_SUCCESS);
  FilterDesc tall;
  ASSERT_EQ(
      cudnnSetFilter4dDescriptor(tall.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 12, 8, 4, 3),
      CUDNN_STATUS_SUCCESS);
  ConvDesc dilated;
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(dilated.get(), 0, 1, 1, 1, 4, 1,
                                            CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_SUCCESS);
  int n, c, h, wd;
  const auto query = [&](const ConvDesc* cv, const TensorDesc* t, const FilterDesc* f) {
    return cudnnGetConvolution2dForwardOutputDim(cv ? cv->get() : nullptr, t ? t->get() : nullptr,
                                                 f ? f->get() : nullptr, &n, &c, &h, &wd);
  };
  constexpr const char* api = "cudnnGetConvolution2dForwardOutputDim: ";
  expect_refusals({
      {"null conv", [&] { return query(nullptr, &x, &w); }, CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "convDesc is null"},
      {"null x", [&] { return query(&conv, nullptr, &w); }, CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "inputTensorDesc is null"},
      {"null w", [&] { return query(&conv, &x, nullptr); }, CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "filterDesc is null"},
      {"unset x", [&] { return query(&conv, &fresh_x, &w); }, CUDNN_STATUS_BAD_PARAM,
       "inputTensorDesc has not been set (cudnnSetTensor4dDescriptor)"},
      {"unset w", [&] { return query(&conv, &x, &fresh_w); }, CUDNN_STATUS_BAD_PARAM,
       "filterDesc has not been set (cudnnSetFilter4dDescriptor)"},
      {"unset conv", [&] { return query(&fresh_conv, &x, &w); }, CUDNN_STATUS_BAD_PARAM,
       "convDesc has not been set (cudnnSetConvolution2dDescriptor)"},
      {"groups", [&] { return query(&grouped, &x, &w); }, CUDNN_STATUS_BAD_PARAM,
       "inputTensorDesc has C = 8 channels, but convDesc's groupCount 3 times filterDesc's C 8 is "
       "24"},
      {"filter too wide", [&] { return query(&dilated, &x, &tall); }, CUDNN_STATUS_BAD_PARAM,
       "filterDesc's R = 4 with dilation 4 spans 13, more than inputTensorDesc's padded H (9 + 2 * "
       "0)"},
      {"null output",
       [&] {
         return cudnnGetConvolution2dForwardOutputDim(conv.get(), x.get(), w.get(), nullptr, &c, &h,
                                                      &wd);
       },
       CUDNN_STATUS_BAD_PARAM, "an output pointer is null"},
  });
}

// A valid NHWC/KRSC forward call whose pieces a test may replace.
struct ValidForward {
  ConvCase cc;
  ConvData d;
  TensorDesc x, y;
  FilterDesc w;
  ConvDesc conv;
  DeviceBuffer<unsigned char> xb, wb, yb, ws;
  float alpha = 1.0f, beta = 0.0f;

  explicit ValidForward(const ConvCase& c = ConvCase())
      : cc(c), d(make_data(c)), xb(d.x_bytes), wb(d.w_bytes), yb(d.y_bytes), ws(1 << 16) {
    set_descriptors(cc, x, w, conv, y);
  }
  struct Call {
    cudnnHandle_t handle;
    const void* alpha;
    cudnnTensorDescriptor_t x_desc;
    const void* x;
    cudnnFilterDescriptor_t w_desc;
    const void* w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t algo;
    void* ws;
    size_t ws_bytes;
    const void* beta;
    cudnnTensorDescriptor_t y_desc;
    void* y;
  };
  Call call(cudnnHandle_t h) {
    return {h,       &alpha,   x.get(),    xb.get(), w.get(), wb.get(), conv.get(),
            cc.algo, ws.get(), ws.bytes(), &beta,    y.get(), yb.get()};
  }
};

cudnnStatus_t forward(const ValidForward::Call& c) {
  return cudnnConvolutionForward(c.handle, c.alpha, c.x_desc, c.x, c.w_desc, c.w, c.conv, c.algo,
                                 c.ws, c.ws_bytes, c.beta, c.y_desc, c.y);
}

TEST_F(CudnnTest, ForwardRefusesBadParams) {
  ValidForward v;
  TensorDesc fresh, other_n, other_c, other_xc;
  ASSERT_EQ(
      cudnnSetTensor4dDescriptor(other_xc.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 5, 7, 9),
      CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(
      cudnnSetTensor4dDescriptor(other_n.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 3, 5, 7, 9),
      CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(
      cudnnSetTensor4dDescriptor(other_c.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 6, 7, 9),
      CUDNN_STATUS_SUCCESS);
  ConvDesc k_groups;  // K = 5 output channels cannot be split into 3 groups of C = 6 / 3 = 2
  FilterDesc w2;
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(k_groups.get(), 1, 1, 1, 1, 1, 1,
                                            CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolutionGroupCount(k_groups.get(), 3), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(w2.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, 5, 2, 3, 3),
            CUDNN_STATUS_SUCCESS);
  DeviceBuffer<float> device_scalar(std::vector<float>{1.0f});
  constexpr const char* api = "cudnnConvolutionForward: ";
  const auto with = [&](std::function<void(ValidForward::Call*)> change) {
    return [&v, this, change] {
      ValidForward::Call c = v.call(handle_);
      change(&c);
      return forward(c);
    };
  };
  expect_refusals({
      {"handle", with([](ValidForward::Call* c) { c->handle = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "handle is null"},
      {"xDesc", with([](ValidForward::Call* c) { c->x_desc = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "xDesc is null"},
      {"wDesc", with([](ValidForward::Call* c) { c->w_desc = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "wDesc is null"},
      {"convDesc", with([](ValidForward::Call* c) { c->conv = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "convDesc is null"},
      {"yDesc", with([](ValidForward::Call* c) { c->y_desc = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "yDesc is null"},
      {"unset yDesc", with([&](ValidForward::Call* c) { c->y_desc = fresh.get(); }),
       CUDNN_STATUS_BAD_PARAM, std::string(api) + "yDesc has not been set"},
      {"x", with([](ValidForward::Call* c) { c->x = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "x is null"},
      {"w", with([](ValidForward::Call* c) { c->w = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "w is null"},
      {"y", with([](ValidForward::Call* c) { c->y = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "y is null"},
      {"alpha", with([](ValidForward::Call* c) { c->alpha = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "alpha is null"},
      {"beta", with([](ValidForward::Call* c) { c->beta = nullptr; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "beta is null"},
      {"beta on the device", with([&](ValidForward::Call* c) { c->beta = device_scalar.get(); }),
       CUDNN_STATUS_BAD_PARAM, "is device memory; cuDNN reads alpha and beta from host memory"},
      {"algo", with([](ValidForward::Call* c) { c->algo = cudnnConvolutionFwdAlgo_t(8); }),
       CUDNN_STATUS_BAD_PARAM, std::string(api) + "algo 8 is not a cudnnConvolutionFwdAlgo_t"},
      {"y's N", with([&](ValidForward::Call* c) { c->y_desc = other_n.get(); }),
       CUDNN_STATUS_BAD_PARAM, "yDesc is N = 3, C = 5, but xDesc's N is 2 and wDesc's K is 5"},
      {"y's C", with([&](ValidForward::Call* c) { c->y_desc = other_c.get(); }),
       CUDNN_STATUS_BAD_PARAM, "yDesc is N = 2, C = 6, but xDesc's N is 2 and wDesc's K is 5"},
      {"K per group",
       with([&](ValidForward::Call* c) { c->conv = k_groups.get(), c->w_desc = w2.get(); }),
       CUDNN_STATUS_BAD_PARAM,
       "wDesc's K = 5 output channels is not a multiple of convDesc's groupCount 3"},
      {"x's C", with([&](ValidForward::Call* c) { c->x_desc = other_xc.get(); }),
       CUDNN_STATUS_BAD_PARAM,
       "xDesc has C = 5 channels, but convDesc's groupCount 1 times wDesc's C 6 is 6"},
      {"workspace", with([](ValidForward::Call* c) { c->ws_bytes = 255; }), CUDNN_STATUS_BAD_PARAM,
       std::string(api) + "workSpaceSizeInBytes is 255, but "
                          "CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM needs 256"},
  });
}

TEST_F(CudnnTest, ForwardRefusesWhatIsNotSupported) {
  ConvCase nchw_krsc;
  nchw_krsc.layout = Layout::kNchw;  // with the default NHWC (KRSC) filter
  ValidForward v, vx(nchw_krsc);
  TensorDesc half_y, neg_y, big_y, vect;
  ASSERT_EQ(
      cudnnSetTensor4dDescriptor(half_y.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, 2, 5, 7, 9),
      CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetTensor4dDescriptorEx(neg_y.get(), CUDNN_DATA_FLOAT, 2, 5, 7, 9, 315, -1, 45, 5),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(
      cudnnSetTensor4dDescriptor(big_y.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 2, 5, 7, 10),
      CUDNN_STATUS_SUCCESS);
  ConvDesc half_compute, double_compute;
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(half_compute.get(), 1, 1, 1, 1, 1, 1,
                                            CUDNN_CROSS_CORRELATION, CUDNN_DATA_HALF),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(double_compute.get(), 1, 1, 1, 1, 1, 1,
                                            CUDNN_CROSS_CORRELATION, CUDNN_DATA_DOUBLE),
            CUDNN_STATUS_SUCCESS);
  ConvCase half_case;
  half_case.dt = DT::kF16;
  ValidForward vh(half_case);
  TensorDesc dx, dy;
  FilterDesc dw;
  ASSERT_EQ(cudnnSetTensor4dDescriptor(dx.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_DOUBLE, 2, 6, 7, 9),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(dy.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_DOUBLE, 2, 5, 7, 9),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(dw.get(), CUDNN_DATA_DOUBLE, CUDNN_TENSOR_NHWC, 5, 6, 3, 3),
            CUDNN_STATUS_SUCCESS);
  const auto with = [this](ValidForward* vf, std::function<void(ValidForward::Call*)> change) {
    return [vf, this, change] {
      ValidForward::Call c = vf->call(handle_);
      change(&c);
      return forward(c);
    };
  };
  constexpr const char* api = "cudnnConvolutionForward: ";
  expect_refusals({
      {"types differ", with(&v, [&](ValidForward::Call* c) { c->y_desc = half_y.get(); }),
       CUDNN_STATUS_NOT_SUPPORTED,
       std::string(api) +
           "xDesc, wDesc and yDesc have the types CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, "
           "CUDNN_DATA_HALF"},
      {"true half", with(&vh, [&](ValidForward::Call* c) { c->conv = half_compute.get(); }),
       CUDNN_STATUS_NOT_SUPPORTED,
       "data type CUDNN_DATA_HALF with convDesc computeType CUDNN_DATA_HALF is a cuDNN "
       "configuration the emulator does not model"},
      {"double",
       with(&v,
            [&](ValidForward::Call* c) {
              c->x_desc = dx.get(), c->w_desc = dw.get(), c->y_desc = dy.get(),
              c->conv = double_compute.get();
            }),
       CUDNN_STATUS_NOT_SUPPORTED,
       "CUDNN_DATA_DOUBLE is a cuDNN configuration the emulator does not"},
      {"float data, half compute",
       with(&v, [&](ValidForward::Call* c) { c->conv = half_compute.get(); }),
       CUDNN_STATUS_NOT_SUPPORTED,
       "data type CUDNN_DATA_FLOAT with convDesc computeType CUDNN_DATA_HALF is not a supported "
       "configuration"},
      {"negative stride", with(&v, [&](ValidForward::Call* c) { c->y_desc = neg_y.get(); }),
       CUDNN_STATUS_NOT_SUPPORTED, std::string(api) + "yDesc has the non-positive cStride -1"},
      {"y's size", with(&v, [&](ValidForward::Call* c) { c->y_desc = big_y.get(); }),
       CUDNN_STATUS_NOT_SUPPORTED,
       "yDesc is 7x10 (H x W), but the convolution gives 7x9 "
       "(cudnnGetConvolution2dForwardOutputDim)"},
      {"direct",
       with(&v, [](ValidForward::Call* c) { c->algo = CUDNN_CONVOLUTION_FWD_ALGO_DIRECT; }),
       CUDNN_STATUS_NOT_SUPPORTED, "CUDNN_CONVOLUTION_FWD_ALGO_DIRECT is not implemented by cuDNN"},
      {"fft", with(&v, [](ValidForward::Call* c) { c->algo = CUDNN_CONVOLUTION_FWD_ALGO_FFT; }),
       CUDNN_STATUS_NOT_SUPPORTED,
       "CUDNN_CONVOLUTION_FWD_ALGO_FFT is not modelled by the emulator"},
      {"winograd",
       with(&v, [](ValidForward::Call* c) { c->algo = CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD; }),
       CUDNN_STATUS_NOT_SUPPORTED,
       "CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD is not modelled by the emulator"},
      {"gemm with KRSC",
       with(&v, [](ValidForward::Call* c) { c->algo = CUDNN_CONVOLUTION_FWD_ALGO_GEMM; }),
       CUDNN_STATUS_NOT_SUPPORTED,
       "CUDNN_CONVOLUTION_FWD_ALGO_GEMM needs an NCHW (KCRS) filter; wDesc is NHWC (KRSC)"},
      {"KRSC with NCHW x", with(&vx, [](ValidForward::Call*) {}), CUDNN_STATUS_NOT_SUPPORTED,
       "an NHWC (KRSC) filter needs xDesc in HWC-packed NHWC (strides n, 1, W*C, C); its n, c, h, "
       "w "
       "strides are 378, 63, 9, 1"},
      {"in place", with(&v, [](ValidForward::Call* c) { c->y = const_cast<void*>(c->x); }),
       CUDNN_STATUS_NOT_SUPPORTED, "x and y are the same pointer"},
  });
  // The workspace query refuses the same way.
  size_t bytes = 0;
  EXPECT_EQ(
      cudnnGetConvolutionForwardWorkspaceSize(handle_, v.x.get(), v.w.get(), v.conv.get(),
                                              v.y.get(), CUDNN_CONVOLUTION_FWD_ALGO_GEMM, &bytes),
      CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_TRUE(contains(last_error(),
                       "cudnnGetConvolutionForwardWorkspaceSize: "
                       "CUDNN_CONVOLUTION_FWD_ALGO_GEMM needs an NCHW (KCRS) filter"));
}

TEST_F(CudnnTest, QueriesRefuseBadParams) {
  ValidForward v;
  TensorDesc fresh;
  cudnnConvolutionFwdAlgoPerf_t perf[8];
  int returned = 0;
  size_t bytes = 0;
  const auto v7 = [&](cudnnHandle_t h, cudnnTensorDescriptor_t y, int requested, int* ret,
                      cudnnConvolutionFwdAlgoPerf_t* p) {
    return cudnnGetConvolutionForwardAlgorithm_v7(h, v.x.get(), v.w.get(), v.conv.get(), y,
                                                  requested, ret, p);
  };
  const auto ws = [&](cudnnHandle_t h, cudnnConvolutionFwdAlgo_t algo, size_t* out) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, v.x.get(), v.w.get(), v.conv.get(), v.y.get(),
                                                   algo, out);
  };
  constexpr const char* v7_api = "cudnnGetConvolutionForwardAlgorithm_v7: ";
  constexpr const char* ws_api = "cudnnGetConvolutionForwardWorkspaceSize: ";
  expect_refusals({
      {"v7 handle", [&] { return v7(nullptr, v.y.get(), 8, &returned, perf); },
       CUDNN_STATUS_BAD_PARAM, std::string(v7_api) + "handle is null"},
      {"v7 unset destDesc", [&] { return v7(handle_, fresh.get(), 8, &returned, perf); },
       CUDNN_STATUS_BAD_PARAM, std::string(v7_api) + "destDesc has not been set"},
      {"v7 count", [&] { return v7(handle_, v.y.get(), 0, &returned, perf); },
       CUDNN_STATUS_BAD_PARAM, std::string(v7_api) + "requestedAlgoCount must be positive, got 0"},
      {"v7 returned", [&] { return v7(handle_, v.y.get(), 8, nullptr, perf); },
       CUDNN_STATUS_BAD_PARAM, std::string(v7_api) + "returnedAlgoCount is null"},
      {"v7 results", [&] { return v7(handle_, v.y.get(), 8, &returned, nullptr); },
       CUDNN_STATUS_BAD_PARAM, std::string(v7_api) + "perfResults is null"},
      {"ws handle", [&] { return ws(nullptr, v.cc.algo, &bytes); }, CUDNN_STATUS_BAD_PARAM,
       std::string(ws_api) + "handle is null"},
      {"ws size", [&] { return ws(handle_, v.cc.algo, nullptr); }, CUDNN_STATUS_BAD_PARAM,
       std::string(ws_api) + "sizeInBytes is null"},
      {"ws algo", [&] { return ws(handle_, cudnnConvolutionFwdAlgo_t(-1), &bytes); },
       CUDNN_STATUS_BAD_PARAM, std::string(ws_api) + "algo -1 is not a cudnnConvolutionFwdAlgo_t"},
  });
  // A configuration no algorithm runs: every entry says so and the query itself succeeds.
  TensorDesc half_y;
  ASSERT_EQ(
      cudnnSetTensor4dDescriptor(half_y.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, 2, 5, 7, 9),
      CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(v7(handle_, half_y.get(), 8, &returned, perf), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(returned, 8);
  for (int i = 0; i < returned; ++i) EXPECT_EQ(perf[i].status, CUDNN_STATUS_NOT_SUPPORTED);
}

// cudnnGetLastErrorString: per thread, the latest failure, kept by successes, cleared by reading
// (with any buffer or none), truncated to the buffer.
TEST(CudnnLastError, IsPerThreadLatestAndClearedByReading) {
  TensorDesc t;
  const auto bad_n = [&] {
    return cudnnSetTensor4dDescriptor(t.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 0, 1, 1, 1);
  };
  const auto good = [&] {
    return cudnnSetTensor4dDescriptor(t.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 1, 1, 1);
  };
  last_error();
  ASSERT_EQ(bad_n(), CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(good(), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(last_error(), "cudnnSetTensor4dDescriptor: n must be positive, got 0");
  EXPECT_EQ(last_error(), "");
  ASSERT_EQ(bad_n(), CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetConvolutionGroupCount(nullptr, 1), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(last_error(), "cudnnSetConvolutionGroupCount: convDesc is null");
  ASSERT_EQ(bad_n(), CUDNN_STATUS_BAD_PARAM);
  char small[11] = "xxxxxxxxxx";
  cudnnGetLastErrorString(small, 6);
  EXPECT_STREQ(small, "cudnn");
  EXPECT_EQ(last_error(), "");
  ASSERT_EQ(bad_n(), CUDNN_STATUS_BAD_PARAM);
  cudnnGetLastErrorString(nullptr, 0);
  EXPECT_EQ(last_error(), "");
  ASSERT_EQ(bad_n(), CUDNN_STATUS_BAD_PARAM);
  std::string other_thread = "unset";
  std::thread([&] { other_thread = last_error(); }).join();
  EXPECT_EQ(other_thread, "");
  EXPECT_EQ(last_error(), "cudnnSetTensor4dDescriptor: n must be positive, got 0");
}

TEST(CudnnStatus, ErrorStringsAreTheStatusNames) {
  const std::vector<std::pair<int, const char*>> names = {
      {0, "CUDNN_STATUS_SUCCESS"},
      {1001, "CUDNN_STATUS_NOT_INITIALIZED"},
      {1002, "CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH"},
      {1003, "CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH"},
      {1004, "CUDNN_STATUS_DEPRECATED"},
      {1005, "CUDNN_STATUS_LICENSE_ERROR"},
      {1006, "CUDNN_STATUS_RUNTIME_IN_PROGRESS"},
      {1007, "CUDNN_STATUS_RUNTIME_FP_OVERFLOW"},
      {1008, "CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED"},
      {2000, "CUDNN_STATUS_BAD_PARAM"},
      {2001, "CUDNN_STATUS_INVALID_VALUE"},
      {2002, "CUDNN_STATUS_BAD_PARAM_NULL_POINTER"},
      {2003, "CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER"},
      {2004, "CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED"},
      {2005, "CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND"},
      {2006, "CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT"},
      {2007, "CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH"},
      {2008, "CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH"},
      {2009, "CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES"},
      {2010, "CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE"},
      {2011, "CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH"},
      {2012, "CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE"},
      {3000, "CUDNN_STATUS_NOT_SUPPORTED"},
      {3001, "CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN"},
      {3002, "CUDNN_STATUS_NOT_SUPPORTED_SHAPE"},
      {3003, "CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE"},
      {3004, "CUDNN_STATUS_NOT_SUPPORTED_LAYOUT"},
      {3005, "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER"},
      {3006, "CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART"},
      {3007, "CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH"},
      {3008, "CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING"},
      {3009, "CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE"},
      {3010, "CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT"},
      {3011, "CUDNN_STATUS_NOT_SUPPORTED_PADDING"},
      {3012, "CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM"},
      {3013, "CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API"},
      {3014, "CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE"},
      {4000, "CUDNN_STATUS_INTERNAL_ERROR"},
      {4001, "CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED"},
      {4002, "CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE"},
      {4003, "CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED"},
      {4004, "CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED"},
      {4005, "CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM"},
      {4006, "CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED"},
      {5000, "CUDNN_STATUS_EXECUTION_FAILED"},
      {5001, "CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER"},
      {5002, "CUDNN_STATUS_EXECUTION_FAILED_CUBLAS"},
      {5003, "CUDNN_STATUS_EXECUTION_FAILED_CUDART"},
      {5004, "CUDNN_STATUS_EXECUTION_FAILED_CURAND"},
      {7, "CUDNN_UNKNOWN_STATUS"},
      {2013, "CUDNN_UNKNOWN_STATUS"},
  };
  for (const auto& [code, name] : names) {
    EXPECT_STREQ(cudnnGetErrorString(cudnnStatus_t(code)), name) << code;
  }
}

// ---- MVIT_CUDNN_CHECK -------------------------------------------------------------------------

TEST(CudnnCheck, NamesTheExpressionTheStatusAndTheArgument) {
  TensorDesc t;
  std::string what;
  try {
    MVIT_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(t.get(), CUDNN_TENSOR_NHWC, CUDNN_DATA_HALF, 0, 8, 4, 4));
  } catch (const mvit::Error& e) {
    what = e.what();
  }
  EXPECT_TRUE(contains(what, "test_cudnn.cpp:")) << what;
  EXPECT_TRUE(contains(what,
                       "check `cudnnSetTensor4dDescriptor(t.get(), CUDNN_TENSOR_NHWC, "
                       "CUDNN_DATA_HALF, 0, 8, 4, 4)` failed"))
      << what;
  EXPECT_TRUE(contains(what,
                       "CUDNN_STATUS_BAD_PARAM (an incorrect value or parameter was passed "
                       "to the function): cudnnSetTensor4dDescriptor: n must be positive, "
                       "got 0"))
      << what;
  // The text is the failing call's own: one left pending by an unchecked failure is dropped.
  ASSERT_EQ(cudnnSetConvolutionGroupCount(nullptr, 1), CUDNN_STATUS_BAD_PARAM);
  cudnnHandle_t h = nullptr;
  ASSERT_EQ(cudnnCreate(&h), CUDNN_STATUS_SUCCESS);
  ConvDesc conv;
  TensorDesc x, y;
  FilterDesc w;
  try {
    MVIT_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv.get(), x.get(), w.get(), nullptr,
                                                           nullptr, nullptr, nullptr));
  } catch (const mvit::Error& e) {
    what = e.what();
  }
  EXPECT_TRUE(contains(what,
                       "cudnnGetConvolution2dForwardOutputDim: inputTensorDesc has not been "
                       "set"))
      << what;
  EXPECT_FALSE(contains(what, "cudnnSetConvolutionGroupCount")) << what;
  // Not-supported statuses carry their category too.
  emu::set_compute_capability(7, 0);
  cudnnHandle_t old = nullptr;
  EXPECT_EQ(cudnnCreate(&old), CUDNN_STATUS_SUCCESS);
  emu::set_compute_capability(9, 0);
  ConvCase cc;
  cc.dt = DT::kBF16;
  set_descriptors(cc, x, w, conv, y);
  size_t bytes = 0;
  try {
    MVIT_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(old, x.get(), w.get(), conv.get(),
                                                             y.get(), cc.algo, &bytes));
  } catch (const mvit::Error& e) {
    what = e.what();
  }
  EXPECT_TRUE(contains(what,
                       "CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH (the functionality "
                       "requested is not presently supported by cuDNN): "
                       "cudnnGetConvolutionForwardWorkspaceSize: PSEUDO_BFLOAT16_CONFIG"))
      << what;
  EXPECT_NO_THROW(MVIT_CUDNN_CHECK_LOG(cudnnSetConvolutionGroupCount(nullptr, 1)));
  EXPECT_NO_THROW(MVIT_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.get(), 1)));
  EXPECT_EQ(cudnnDestroy(old), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroy(h), CUDNN_STATUS_SUCCESS);
}

// ---- device faults ------------------------------------------------------------------------------

class CudnnFaultTest : public DeviceFaultTest {
 protected:
  void SetUp() override {
    DeviceFaultTest::SetUp();
    ASSERT_EQ(cudnnCreate(&handle_), CUDNN_STATUS_SUCCESS);
  }
  void TearDown() override {
    cudnnDestroy(handle_);
    DeviceFaultTest::TearDown();
  }

  // Runs `c` (accepted: the fault is asynchronous), then expects the stream to report `status`
  // with the emulator's detail naming the call and the argument, and later calls to fail.
  void expect_fault(const ValidForward::Call& c, cudaError_t status, const std::string& what) {
    ASSERT_EQ(forward(c), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudaStreamSynchronize(nullptr), status);
    const std::string detail = emu::error_detail(status);
    EXPECT_TRUE(contains(detail, "cudnnConvolutionForward: " + what)) << detail;
    last_error();
    EXPECT_EQ(forward(c), CUDNN_STATUS_EXECUTION_FAILED) << "the error is not sticky";
    const std::string text = last_error();
    EXPECT_TRUE(contains(text, "cudnnConvolutionForward: the operation could not be queued"))
        << text;
  }
  cudnnHandle_t handle_ = nullptr;
};

TEST_F(CudnnFaultTest, YBeyondItsAllocationIsAnIllegalAddress) {
  ValidForward v;
  DeviceBuffer<unsigned char> short_y(v.d.y_bytes.size() - 1);
  ValidForward::Call c = v.call(handle_);
  c.y = short_y.get();
  expect_fault(c, cudaErrorIllegalAddress, "y [");
}

TEST_F(CudnnFaultTest, AFreedXIsAnIllegalAddress) {
  ValidForward v;
  void* x = nullptr;
  MVIT_CUDA_CHECK(cudaMalloc(&x, v.d.x_bytes.size()));
  MVIT_CUDA_CHECK(cudaFree(x));
  ValidForward::Call c = v.call(handle_);
  c.x = x;
  expect_fault(c, cudaErrorIllegalAddress, "x [");
}

TEST_F(CudnnFaultTest, AShortFilterIsAnIllegalAddress) {
  ValidForward v;
  DeviceBuffer<unsigned char> short_w(v.d.w_bytes.size() - 4);
  ValidForward::Call c = v.call(handle_);
  c.w = short_w.get();
  expect_fault(c, cudaErrorIllegalAddress, "w [");
}

TEST_F(CudnnFaultTest, AHostWorkspaceIsAnIllegalAddress) {
  ValidForward v;
  std::vector<unsigned char> host(1 << 16);
  ValidForward::Call c = v.call(handle_);
  c.ws = host.data();
  expect_fault(c, cudaErrorIllegalAddress, "workSpace [");
}

TEST_F(CudnnFaultTest, AMisalignedXIsAMisalignedAddress) {
  ValidForward v;
  DeviceBuffer<unsigned char> x(v.d.x_bytes.size() + 4);
  ValidForward::Call c = v.call(handle_);
  c.x = x.get() + 2;
  expect_fault(c, cudaErrorMisalignedAddress, "x ");
}

// ---- size ---------------------------------------------------------------------------------------

// Checks `samples` random elements of a large NHWC / KRSC case against the reference.
void expect_samples_match(const ConvCase& cc, const ConvData& d,
                          const std::vector<unsigned char>& y, int samples) {
  std::mt19937 pick(5);
  const size_t es = dt_bytes(cc.dt);
  for (int i = 0; i < samples; ++i) {
    const int n = int(pick() % cc.n), k = int(pick() % cc.k), oh = int(pick() % cc.out_h()),
              ow = int(pick() % cc.out_w());
    const Expected e = expected(cc, d, n, k, oh, ow, cc.expect);
    const float got = decode(&y[y_index(cc, n, k, oh, ow) * es], cc.dt);
    ASSERT_TRUE(std::isfinite(got) && std::fabs(got - e.ref) <= e.tol)
        << "y[" << n << ", " << k << ", " << oh << ", " << ow << "] = " << got << ", expected "
        << e.ref << " +- " << e.tol;
  }
}

// The largest shapes the conv families hand to cuDNN in the emulated tests: a dense 3x3 over
// 8x32x32x96 -> 96 (680M MACs, im2col + OpenBLAS) and a depthwise 3x3 over 8x128x128x64 (75M MACs,
// the direct loop). The time of the call and its synchronization is recorded as a test property
// (no assertion: machines differ).
TEST_F(CudnnTest, LargeShapesAreQuickAndCorrect) {
  ConvCase dense;
  dense.n = 8, dense.c = 96, dense.k = 96, dense.h = dense.w = 32, dense.dt = DT::kF16;
  ConvCase dw;
  dw.n = 8, dw.c = 64, dw.k = 64, dw.groups = 64, dw.h = dw.w = 128, dw.dt = DT::kBF16;
  for (const ConvCase* cc : {&dense, &dw}) {
    SCOPED_TRACE(cc->name());
    const ConvData d = make_data(*cc);
    TensorDesc x, y;
    FilterDesc w;
    ConvDesc conv;
    set_descriptors(*cc, x, w, conv, y);
    DeviceBuffer<unsigned char> xb(d.x_bytes), wb(d.w_bytes), yb(d.y_bytes), ws(4096);
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(cudnnConvolutionForward(handle_, &cc->alpha, x.get(), xb.get(), w.get(), wb.get(),
                                      conv.get(), cc->algo, ws.get(), ws.bytes(), &cc->beta,
                                      y.get(), yb.get()),
              CUDNN_STATUS_SUCCESS)
        << last_error();
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    RecordProperty(cc->groups == 1 ? "dense_ms" : "depthwise_ms", std::to_string(ms));
    expect_samples_match(*cc, d, yb.download(), 300);
  }
}

// What the conv families do (kernels/conv3x3, kernels/depthwise_conv): NHWC x and y, KRSC filter,
// groups 1 or C, pad 1, stride 1 or 2, every storage type with FLOAT compute, the first algorithm
// the v7 query ranks that fits the shared 64 MiB workspace, on a stream set before the call.
TEST(CudnnLibraryPath, TheConvFamiliesCallsWork) {
  const LibraryHandles& lh = test::test_handles();
  ASSERT_NE(lh.cudnn, nullptr);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  for (DT dt : {DT::kF32, DT::kF16, DT::kBF16}) {
    for (int groups : {1, 24}) {
      for (int stride : {1, 2}) {
        ConvCase cc;
        cc.n = 2, cc.c = 24, cc.k = 24, cc.h = 11, cc.w = 13, cc.groups = groups;
        cc.stride_h = cc.stride_w = stride, cc.dt = dt, cc.math = CUDNN_DEFAULT_MATH;
        cc.expect = dt == DT::kF32 ? Round::kTf32 : Round::kNone;  // compute capability 9.0
        SCOPED_TRACE(cc.name());
        TensorDesc x, y;
        FilterDesc w;
        ConvDesc conv;
        set_descriptors(cc, x, w, conv, y);
        MVIT_CUDNN_CHECK(cudnnSetStream(lh.cudnn, stream));
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        int returned = 0;
        MVIT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(
            lh.cudnn, x.get(), w.get(), conv.get(), y.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
            &returned, perf));
        const auto chosen = std::find_if(perf, perf + returned, [&](const auto& p) {
          return p.status == CUDNN_STATUS_SUCCESS && p.memory <= lh.workspace_bytes;
        });
        ASSERT_NE(chosen, perf + returned);
        const ConvData d = make_data(cc);
        DeviceBuffer<unsigned char> xb(d.x_bytes), wb(d.w_bytes), yb(d.y_bytes);
        MVIT_CUDNN_CHECK(cudnnConvolutionForward(lh.cudnn, &cc.alpha, x.get(), xb.get(), w.get(),
                                                 wb.get(), conv.get(), chosen->algo, lh.workspace,
                                                 lh.workspace_bytes, &cc.beta, y.get(), yb.get()));
        MVIT_CUDA_CHECK(cudaStreamSynchronize(stream));
        expect_matches(cc, d, yb.download());
      }
    }
  }
  MVIT_CUDNN_CHECK(cudnnSetStream(lh.cudnn, nullptr));
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
