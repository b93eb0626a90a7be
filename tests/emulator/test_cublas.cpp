// The emulated cuBLAS subset (emulator/src/cublas.cpp). Every GEMM entry point is checked against a
// naive column-major reference with double accumulation, over transposes, non-square shapes,
// padded leading dimensions, batch strides (with a broadcast A), alpha/beta (beta = 0 over a
// NaN-filled C), every supported type/compute combination and math mode (Note [tolerances]); plus
// the documented statuses for invalid and unsupported arguments, both pointer modes, asynchrony on
// the handle's stream, stream capture, and out-of-range matrices becoming the device's sticky
// cudaErrorIllegalAddress.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <future>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "mvit_emu/device_ops.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

enum class Api { kSgemm, kSgemmStridedBatched, kGemmEx, kGemmStridedBatchedEx };

const char* api_name(Api api) {
  switch (api) {
    case Api::kSgemm:
      return "Sgemm";
    case Api::kSgemmStridedBatched:
      return "SgemmStridedBatched";
    case Api::kGemmEx:
      return "GemmEx";
    case Api::kGemmStridedBatchedEx:
      return "GemmStridedBatchedEx";
  }
  return "?";
}

bool batched(Api api) {
  return api == Api::kSgemmStridedBatched || api == Api::kGemmStridedBatchedEx;
}
bool typed(Api api) {
  return api == Api::kGemmEx || api == Api::kGemmStridedBatchedEx;
}

// How the test expects fp32 inputs to be rounded before they are multiplied.
enum class Round { kNone, kTf32, kF16, kBF16 };

// ---- number formats (written independently of the emulator's bit manipulation) ----------------

// Nearest tf32 value, ties away from zero (cvt.rna.tf32.f32): 11 significant bits and fp32's
// exponent range; subnormals share the quantum of the smallest normal binade.
float to_tf32(float x) {
  if (!std::isfinite(x) || x == 0.0f) return x;
  const double quantum = std::ldexp(1.0, std::max(std::ilogb(x), -126) - 10);
  return static_cast<float>(std::round(x / quantum) * quantum);  // std::round: half away from 0
}

float round_input(float x, Round r) {
  switch (r) {
    case Round::kNone:
      return x;
    case Round::kTf32:
      return to_tf32(x);
    case Round::kF16:
      return __half2float(__float2half_rn(x));
    case Round::kBF16:
      return __bfloat162float(__float2bfloat16_rn(x));
  }
  return x;
}

// Unit roundoff (half an ulp at 1) of the format inputs are rounded to; 0 when they are not.
double input_roundoff(Round r) {
  switch (r) {
    case Round::kNone:
      return 0.0;
    case Round::kTf32:
    case Round::kF16:
      return std::ldexp(1.0, -11);
    case Round::kBF16:
      return std::ldexp(1.0, -8);
  }
  return 0.0;
}

double storage_roundoff(cudaDataType t) {
  if (t == CUDA_R_16F) return std::ldexp(1.0, -11);
  if (t == CUDA_R_16BF) return std::ldexp(1.0, -8);
  return std::ldexp(1.0, -24);
}

size_t type_bytes(cudaDataType t) {
  return t == CUDA_R_32F ? sizeof(float) : sizeof(__half);
}

// The value that storing v as t keeps.
float quantize(float v, cudaDataType t) {
  if (t == CUDA_R_16F) return __half2float(__float2half_rn(v));
  if (t == CUDA_R_16BF) return __bfloat162float(__float2bfloat16_rn(v));
  return v;
}

void encode(float v, cudaDataType t, unsigned char* dst) {
  if (t == CUDA_R_16F) {
    const __half h = __float2half_rn(v);
    std::memcpy(dst, &h, sizeof h);
  } else if (t == CUDA_R_16BF) {
    const __nv_bfloat16 h = __float2bfloat16_rn(v);
    std::memcpy(dst, &h, sizeof h);
  } else {
    std::memcpy(dst, &v, sizeof v);
  }
}

float decode(const unsigned char* src, cudaDataType t) {
  if (t == CUDA_R_16F) {
    __half h;
    std::memcpy(&h, src, sizeof h);
    return __half2float(h);
  }
  if (t == CUDA_R_16BF) {
    __nv_bfloat16 h;
    std::memcpy(&h, src, sizeof h);
    return __bfloat162float(h);
  }
  float v;
  std::memcpy(&v, src, sizeof v);
  return v;
}

bool same_value(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

// ---- matrices ----------------------------------------------------------------------------------

// One matrix argument as stored: `batch` column-major [rows, cols] matrices with leading dimension
// ld, batch b starting at element b * stride. Every other element of the buffer (ld padding, gaps
// between batches) holds the fill value, which a GEMM must neither read (NaN fill in A and B would
// spread) nor write (C's fill must survive).
struct HostMatrix {
  cudaDataType type = CUDA_R_32F;
  int rows = 0, cols = 0, ld = 1, batch = 1;
  long long stride = 0;
  std::vector<float> values;  // the whole buffer, each value exactly representable in `type`
  std::vector<bool> logical;  // which buffer elements belong to some batch's matrix

  size_t index(int b, int i, int j) const {
    return static_cast<size_t>(b * stride + static_cast<long long>(j) * ld + i);
  }
  float at(int b, int i, int j) const { return values[index(b, i, j)]; }

  std::vector<unsigned char> bytes() const {
    std::vector<unsigned char> out(values.size() * type_bytes(type));
    for (size_t e = 0; e < values.size(); ++e) encode(values[e], type, &out[e * type_bytes(type)]);
    return out;
  }
  HostMatrix with_bytes(const std::vector<unsigned char>& raw) const {
    HostMatrix out = *this;
    for (size_t e = 0; e < values.size(); ++e)
      out.values[e] = decode(&raw[e * type_bytes(type)], type);
    return out;
  }
};

HostMatrix make_matrix(cudaDataType type, int rows, int cols, int ld, int batch, long long stride,
                       float fill, const std::function<float()>& gen) {
  HostMatrix h;
  h.type = type, h.rows = rows, h.cols = cols, h.ld = ld, h.batch = batch, h.stride = stride;
  const long long elems = rows > 0 && cols > 0
                              ? (batch - 1) * stride + static_cast<long long>(cols - 1) * ld + rows
                              : 1;
  h.values.assign(static_cast<size_t>(std::max(elems, 1LL)), quantize(fill, type));
  h.logical.assign(h.values.size(), false);
  for (int b = 0; b < batch; ++b) {
    for (int j = 0; j < cols; ++j) {
      for (int i = 0; i < rows; ++i) {
        h.values[h.index(b, i, j)] = quantize(gen(), type);
        h.logical[h.index(b, i, j)] = true;
      }
    }
  }
  return h;
}

// Uniform in [-1, 1] with all 24 bits of fp32's significand in play, so that any rounding of the
// inputs shows in the products.
std::function<float()> uniform(uint32_t seed) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return [rng] { return std::uniform_real_distribution<float>(-1.0f, 1.0f)(*rng); };
}

// ---- one GEMM call, any entry point
// --------------------------------------------------------------

struct GemmCall {
  Api api = Api::kSgemm;
  cublasOperation_t ta = CUBLAS_OP_N, tb = CUBLAS_OP_N;
  int m = 0, n = 0, k = 0;
  const void* alpha = nullptr;
  const void* a = nullptr;
  int lda = 1;
  long long stride_a = 0;
  const void* b = nullptr;
  int ldb = 1;
  long long stride_b = 0;
  const void* beta = nullptr;
  void* c = nullptr;
  int ldc = 1;
  long long stride_c = 0;
  int batch = 1;  // ignored by the non-batched entry points
  cudaDataType a_type = CUDA_R_32F, b_type = CUDA_R_32F, c_type = CUDA_R_32F;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cublasGemmAlgo_t algo = CUBLAS_GEMM_DEFAULT;
};

cublasStatus_t call(cublasHandle_t h, const GemmCall& g) {
  const auto* fa = static_cast<const float*>(g.a);
  const auto* fb = static_cast<const float*>(g.b);
  const auto* falpha = static_cast<const float*>(g.alpha);
  const auto* fbeta = static_cast<const float*>(g.beta);
  auto* fc = static_cast<float*>(g.c);
  switch (g.api) {
    case Api::kSgemm:
      return cublasSgemm(h, g.ta, g.tb, g.m, g.n, g.k, falpha, fa, g.lda, fb, g.ldb, fbeta, fc,
                         g.ldc);
    case Api::kSgemmStridedBatched:
      return cublasSgemmStridedBatched(h, g.ta, g.tb, g.m, g.n, g.k, falpha, fa, g.lda, g.stride_a,
                                       fb, g.ldb, g.stride_b, fbeta, fc, g.ldc, g.stride_c,
                                       g.batch);
    case Api::kGemmEx:
      return cublasGemmEx(h, g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a, g.a_type, g.lda, g.b,
                          g.b_type, g.ldb, g.beta, g.c, g.c_type, g.ldc, g.compute, g.algo);
    case Api::kGemmStridedBatchedEx:
      return cublasGemmStridedBatchedEx(h, g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a, g.a_type, g.lda,
                                        g.stride_a, g.b, g.b_type, g.ldb, g.stride_b, g.beta, g.c,
                                        g.c_type, g.ldc, g.stride_c, g.batch, g.compute, g.algo);
  }
  return CUBLAS_STATUS_INTERNAL_ERROR;
}

// ---- cases and the reference -----------------------------------------------------------------

struct GemmCase {
  Api api = Api::kSgemm;
  cublasOperation_t ta = CUBLAS_OP_N, tb = CUBLAS_OP_N;
  int m = 5, n = 7, k = 3;
  int pad = 0;                      // every ld = rows as stored (at least 1) + pad
  int batch = 1;                    // > 1 with the strided-batched entry points only
  bool broadcast_a = false;         // strideA = 0: all batches multiply the same A
  float alpha = 1.0f, beta = 0.0f;  // beta == 0: C starts NaN-filled
  cudaDataType ab_type = CUDA_R_32F, c_type = CUDA_R_32F;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
  cublasGemmAlgo_t algo = CUBLAS_GEMM_DEFAULT;
  Round expect = Round::kNone;  // how fp32 inputs must come out rounded
};

struct GemmData {
  HostMatrix a, b, c;
};

GemmData make_data(const GemmCase& gc, uint32_t seed) {
  const bool ta = gc.ta != CUBLAS_OP_N, tb = gc.tb != CUBLAS_OP_N;
  const int a_rows = ta ? gc.k : gc.m, a_cols = ta ? gc.m : gc.k;
  const int b_rows = tb ? gc.n : gc.k, b_cols = tb ? gc.k : gc.n;
  const int lda = std::max(1, a_rows) + gc.pad, ldb = std::max(1, b_rows) + gc.pad;
  const int ldc = std::max(1, gc.m) + gc.pad;
  // Gaps of 3 elements between batches, so the strides differ from the matrix sizes.
  const long long sa = gc.broadcast_a ? 0 : static_cast<long long>(lda) * a_cols + 3;
  const long long sb = static_cast<long long>(ldb) * b_cols + 3;
  const long long sc = static_cast<long long>(ldc) * gc.n + 3;
  const auto gen = uniform(seed);
  GemmData d;
  d.a = make_matrix(gc.ab_type, a_rows, a_cols, lda, gc.batch, sa, kNaN, gen);
  d.b = make_matrix(gc.ab_type, b_rows, b_cols, ldb, gc.batch, sb, kNaN, gen);
  const auto c_gen = gc.beta == 0.0f ? std::function<float()>([] { return kNaN; }) : gen;
  d.c = make_matrix(gc.c_type, gc.m, gc.n, ldc, gc.batch, sc, 777.0f, c_gen);
  return d;
}

GemmCall make_call(const GemmCase& gc, const GemmData& d, const void* a, const void* b, void* c) {
  GemmCall g;
  g.api = gc.api, g.ta = gc.ta, g.tb = gc.tb, g.m = gc.m, g.n = gc.n, g.k = gc.k;
  g.alpha = &gc.alpha, g.beta = &gc.beta;
  g.a = a, g.lda = d.a.ld, g.stride_a = d.a.stride;
  g.b = b, g.ldb = d.b.ld, g.stride_b = d.b.stride;
  g.c = c, g.ldc = d.c.ld, g.stride_c = d.c.stride;
  g.batch = gc.batch;
  g.a_type = g.b_type = gc.ab_type, g.c_type = gc.c_type;
  g.compute = gc.compute, g.algo = gc.algo;
  return g;
}

// Note [tolerances]
// The reference multiplies the same inputs, rounded as the case expects, in double. What separates
// the emulator from it is the fp32 accumulation of k products and the epilogue, bounded by
//   acc = 2 * (k + 2) * 2^-24 * S,   S = |alpha| sum_l |a_il b_lj| + |beta c_ij|
// (the classic dot-product bound, doubled), and then one rounding to C's type, at most half an ulp:
//   tol = acc + u_C * (|ref| + acc) + tiny
// (u_C: C's unit roundoff; tiny covers fp16 subnormals). Rounding C any other way than to nearest
// breaks this bound for about half the elements, and a missed or wrong input rounding moves results
// by ~u_in * S, far above it. Each precision is also held to its written tolerance against the
// exact product of the unrounded inputs, tol + 4 * u_in * |alpha| sum_l |a_il b_lj|, with
// u_in = 2^-11 for tf32 and fp16 inputs and 2^-8 for bf16 (DESIGN.md s.7).
struct Expected {
  double ref, tol, exact, tol_exact;
};

Expected expected_element(const GemmCase& gc, const std::vector<float>& x,
                          const std::vector<float>& y, float c0) {
  double sum = 0, mag = 0, exact = 0;
  for (size_t l = 0; l < x.size(); ++l) {
    const double xr = round_input(x[l], gc.expect), yr = round_input(y[l], gc.expect);
    sum += xr * yr;
    mag += std::fabs(xr * yr);
    exact += static_cast<double>(x[l]) * y[l];
  }
  const double c_term = gc.beta != 0.0f ? static_cast<double>(gc.beta) * c0 : 0.0;
  Expected e;
  e.ref = gc.alpha * sum + c_term;
  e.exact = gc.alpha * exact + c_term;
  const double scale = std::fabs(gc.alpha) * mag + std::fabs(c_term);
  const double tiny = gc.c_type == CUDA_R_16F ? std::ldexp(1.0, -24) : 1e-30;
  const double acc = 2 * (gc.k + 2) * std::ldexp(1.0, -24) * scale;
  e.tol = acc + storage_roundoff(gc.c_type) * (std::fabs(e.ref) + acc) + tiny;
  e.tol_exact = e.tol + 4 * input_roundoff(gc.expect) * std::fabs(gc.alpha) * mag;
  return e;
}

void expect_matches_reference(const GemmCase& gc, const GemmData& d, const HostMatrix& out) {
  int failures = 0;
  std::vector<float> x(gc.k), y(gc.k);
  for (int b = 0; b < gc.batch; ++b) {
    for (int j = 0; j < gc.n; ++j) {
      for (int i = 0; i < gc.m; ++i) {
        for (int l = 0; l < gc.k; ++l) {
          x[l] = gc.ta == CUBLAS_OP_N ? d.a.at(b, i, l) : d.a.at(b, l, i);
          y[l] = gc.tb == CUBLAS_OP_N ? d.b.at(b, l, j) : d.b.at(b, j, l);
        }
        const Expected e = expected_element(gc, x, y, d.c.at(b, i, j));
        const double got = out.at(b, i, j);
        if (!(std::fabs(got - e.ref) <= e.tol) || !(std::fabs(got - e.exact) <= e.tol_exact)) {
          if (++failures <= 5) {
            ADD_FAILURE() << "C[batch " << b << "](" << i << ", " << j << ") = " << got
                          << ", reference " << e.ref << " (tolerance " << e.tol
                          << "), exact product " << e.exact << " (tolerance " << e.tol_exact << ")";
          }
        }
      }
    }
  }
  EXPECT_EQ(failures, 0) << "elements outside tolerance";
  for (size_t e = 0; e < out.values.size(); ++e) {
    if (!d.c.logical[e] && !same_value(out.values[e], d.c.values[e])) {
      ADD_FAILURE() << "C's element " << e << " lies outside every m x n matrix but changed from "
                    << d.c.values[e] << " to " << out.values[e];
      break;
    }
  }
}

// ---- fixtures and helpers ---------------------------------------------------------------------

class CublasTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS); }
  void TearDown() override {
    if (handle_ != nullptr) {
      EXPECT_EQ(cublasDestroy(handle_), CUBLAS_STATUS_SUCCESS);
    }
  }

  // Uploads the case's matrices, runs it on the handle's stream (the legacy stream unless a test
  // set another), waits, and returns C as the device left it.
  HostMatrix run(const GemmCase& gc, const GemmData& d) {
    DeviceBuffer<unsigned char> a(d.a.bytes()), b(d.b.bytes()), c(d.c.bytes());
    EXPECT_EQ(cublasSetMathMode(handle_, gc.math), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(call(handle_, make_call(gc, d, a.get(), b.get(), c.get())), CUBLAS_STATUS_SUCCESS);
    cudaStream_t stream = nullptr;
    EXPECT_EQ(cublasGetStream(handle_, &stream), CUBLAS_STATUS_SUCCESS);
    MVIT_CUDA_CHECK(cudaStreamSynchronize(stream));
    return d.c.with_bytes(c.download());
  }

  cublasHandle_t handle_ = nullptr;
};

// Tests that fault the device: each starts and ends with cudaDeviceReset (DeviceFaultTest).
class CublasFaultTest : public DeviceFaultTest {
 protected:
  void SetUp() override {
    DeviceFaultTest::SetUp();
    ASSERT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS);
  }
  void TearDown() override {
    cublasDestroy(handle_);
    DeviceFaultTest::TearDown();
  }
  cublasHandle_t handle_ = nullptr;
};

// A stream created for one test and destroyed with it.
class TestStream {
 public:
  explicit TestStream(unsigned flags) { MVIT_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, flags)); }
  ~TestStream() { cudaStreamDestroy(s_); }
  TestStream(const TestStream&) = delete;
  TestStream& operator=(const TestStream&) = delete;
  cudaStream_t get() const { return s_; }

 private:
  cudaStream_t s_ = nullptr;
};

// ---- the sweep -------------------------------------------------------------------------------

struct TypeCombo {
  cudaDataType ab, c;
  cublasComputeType_t compute;
  Round expect;
};

// The combinations of cublasGemmEx's table that the emulator implements.
const std::vector<TypeCombo>& supported_combos() {
  static const std::vector<TypeCombo> combos = {
      {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, Round::kNone},
      {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_PEDANTIC, Round::kNone},
      {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32, Round::kTf32},
      {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16F, Round::kF16},
      {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16BF, Round::kBF16},
      {CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F_EMULATED_16BFX9, Round::kNone},
      {CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F, Round::kNone},
      {CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F_PEDANTIC, Round::kNone},
      {CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_32F, Round::kNone},
      {CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_32F_PEDANTIC, Round::kNone},
      {CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F, Round::kNone},
      {CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F_PEDANTIC, Round::kNone},
      {CUDA_R_16BF, CUDA_R_32F, CUBLAS_COMPUTE_32F, Round::kNone},
      {CUDA_R_16BF, CUDA_R_32F, CUBLAS_COMPUTE_32F_PEDANTIC, Round::kNone},
  };
  return combos;
}

std::vector<GemmCase> sweep_cases() {
  std::vector<GemmCase> cases;
  const cublasOperation_t ops[] = {CUBLAS_OP_N, CUBLAS_OP_T, CUBLAS_OP_C};
  // cublasSgemm: every transpose pair, small odd shape, padded lds; beta alternates 0 / nonzero.
  int index = 0;
  for (cublasOperation_t ta : ops) {
    for (cublasOperation_t tb : ops) {
      GemmCase gc;
      gc.ta = ta, gc.tb = tb, gc.pad = 2, gc.alpha = 1.5f, gc.beta = index++ % 2 ? -0.5f : 0.0f;
      cases.push_back(gc);
    }
  }
  // cublasSgemm at a size where blocking matters, and k = 0 (C = beta * C, or 0).
  for (int i = 0; i < 4; ++i) {
    GemmCase gc;
    gc.ta = i & 1 ? CUBLAS_OP_T : CUBLAS_OP_N, gc.tb = i & 2 ? CUBLAS_OP_T : CUBLAS_OP_N;
    gc.m = 64, gc.n = 48, gc.k = 96, gc.pad = 3, gc.alpha = -0.75f, gc.beta = i % 2 ? 0.0f : 2.0f;
    cases.push_back(gc);
  }
  for (float beta : {0.0f, 2.0f}) {
    GemmCase gc;
    gc.k = 0, gc.pad = 1, gc.beta = beta;
    cases.push_back(gc);
  }
  // cublasSgemmStridedBatched: batch 1 and 3, transposes, broadcast A, a larger batch.
  for (int i = 0; i < 5; ++i) {
    GemmCase gc;
    gc.api = Api::kSgemmStridedBatched;
    gc.ta = i & 1 ? CUBLAS_OP_T : CUBLAS_OP_N, gc.tb = i & 2 ? CUBLAS_OP_T : CUBLAS_OP_N;
    gc.batch = i == 4 ? 1 : 3, gc.pad = i % 2, gc.broadcast_a = i >= 2, gc.alpha = 0.5f;
    gc.beta = i % 2 ? 1.0f : 0.0f;
    cases.push_back(gc);
  }
  {
    GemmCase gc;
    gc.api = Api::kSgemmStridedBatched;
    gc.ta = CUBLAS_OP_T, gc.m = 64, gc.n = 48, gc.k = 96, gc.batch = 2, gc.pad = 1, gc.beta = 0.5f;
    cases.push_back(gc);
  }
  // The handle's math mode on the fp32 entry points (and FAST_16F from the deprecated tensor-op
  // mode): random inputs, so a missing or wrong input rounding fails the tolerance.
  const std::pair<cublasMath_t, Round> modes[] = {{CUBLAS_TF32_TENSOR_OP_MATH, Round::kTf32},
                                                  {CUBLAS_PEDANTIC_MATH, Round::kNone},
                                                  {CUBLAS_TENSOR_OP_MATH, Round::kF16}};
  for (Api api : {Api::kSgemm, Api::kSgemmStridedBatched, Api::kGemmEx}) {
    for (const auto& mode : modes) {
      GemmCase gc;
      gc.api = api, gc.m = 64, gc.n = 48, gc.k = 96, gc.tb = CUBLAS_OP_T, gc.beta = 1.0f;
      gc.batch = batched(api) ? 2 : 1, gc.math = mode.first, gc.expect = mode.second;
      cases.push_back(gc);
    }
  }
  // Every supported type/compute combination through both typed entry points.
  index = 0;
  for (const TypeCombo& t : supported_combos()) {
    for (Api api : {Api::kGemmEx, Api::kGemmStridedBatchedEx}) {
      GemmCase gc;
      gc.api = api, gc.ab_type = t.ab, gc.c_type = t.c, gc.compute = t.compute,
      gc.expect = t.expect;
      const bool big = index++ % 2 == 0;
      gc.ta = big ? CUBLAS_OP_T : CUBLAS_OP_N, gc.tb = big ? CUBLAS_OP_N : CUBLAS_OP_T;
      gc.m = big ? 64 : 5, gc.n = big ? 48 : 7, gc.k = big ? 96 : 3, gc.pad = big ? 0 : 2;
      gc.batch = batched(api) ? 3 : 1, gc.broadcast_a = batched(api);
      gc.alpha = 1.25f, gc.beta = index % 4 < 2 ? 0.0f : -1.0f;
      cases.push_back(gc);
    }
  }
  // A *_TENSOR_OP algorithm makes fp32 GemmEx compute as FAST_16F, unless it is pedantic.
  for (cublasComputeType_t compute :
       {CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32F_PEDANTIC}) {
    GemmCase gc;
    gc.api = Api::kGemmEx, gc.m = 64, gc.n = 48, gc.k = 96, gc.compute = compute;
    gc.algo = CUBLAS_GEMM_DEFAULT_TENSOR_OP, gc.beta = 0.5f;
    gc.expect = compute == CUBLAS_COMPUTE_32F_PEDANTIC ? Round::kNone : Round::kF16;
    cases.push_back(gc);
  }
  return cases;
}

const char* type_name(cudaDataType t) {
  return t == CUDA_R_32F ? "f32" : t == CUDA_R_16F ? "f16" : t == CUDA_R_16BF ? "bf16" : "other";
}

const char* op_name(cublasOperation_t op) {
  return op == CUBLAS_OP_N ? "N" : op == CUBLAS_OP_T ? "T" : "C";
}

// "<api>_<opA><opB>_<m>x<n>x<k>_b<batch>[_<types>_compute<n>][_math<n>][_algo<n>][_beta0]".
std::string describe(const GemmCase& gc) {
  std::string name = std::string(api_name(gc.api)) + "_" + op_name(gc.ta) + op_name(gc.tb) + "_" +
                     std::to_string(gc.m) + "x" + std::to_string(gc.n) + "x" +
                     std::to_string(gc.k) + "_b" + std::to_string(gc.batch);
  if (typed(gc.api)) {
    name += std::string("_") + type_name(gc.ab_type) + "to" + type_name(gc.c_type) + "_compute" +
            std::to_string(gc.compute);
  }
  if (gc.math != CUBLAS_DEFAULT_MATH) name += "_math" + std::to_string(gc.math);
  if (gc.algo != CUBLAS_GEMM_DEFAULT) name += "_algo" + std::to_string(gc.algo);
  if (gc.beta == 0.0f) name += "_beta0";
  return name;
}

void PrintTo(const GemmCase& gc, std::ostream* os) {
  *os << describe(gc);
}

std::string case_name(const ::testing::TestParamInfo<GemmCase>& info) {
  return std::to_string(info.index) + "_" + describe(info.param);
}

class GemmSweep : public CublasTest, public ::testing::WithParamInterface<GemmCase> {};

TEST_P(GemmSweep, MatchesReference) {
  const GemmCase& gc = GetParam();
  const GemmData d = make_data(gc, 1234u + static_cast<uint32_t>(gc.m * 31 + gc.k));
  expect_matches_reference(gc, d, run(gc, d));
}

INSTANTIATE_TEST_SUITE_P(Cublas, GemmSweep, ::testing::ValuesIn(sweep_cases()), case_name);

// ---- input rounding, pinned ------------------------------------------------------------------

// C[0, 0] = p * 1 + (-1) * 1 with one probe p: all arithmetic after the input rounding is exact, so
// the result is round(p) - 1 bit for bit. The probes sit below half an ulp of every reduced format
// (1 + 2^-12), on exact ties (1 + 2^-11 for tf32 and fp16: tf32 rounds away, fp16 to even; 1 + 2^-8
// and 1 + 3 * 2^-8 for bf16), and beyond fp16's range (70000, where FAST_16F gives inf but tf32
// stays finite).
TEST_F(CublasTest, ReducedPrecisionModesRoundTheInputs) {
  struct Mode {
    Api api;
    cublasMath_t math;
    cublasComputeType_t compute;
    cublasGemmAlgo_t algo;
    Round expect;
  };
  const cublasMath_t tf32_strict = static_cast<cublasMath_t>(
      CUBLAS_TF32_TENSOR_OP_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
  const Mode modes[] = {
      {Api::kSgemm, CUBLAS_DEFAULT_MATH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT, Round::kNone},
      {Api::kSgemm, CUBLAS_PEDANTIC_MATH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT, Round::kNone},
      {Api::kSgemm, CUBLAS_FP32_EMULATED_BF16X9_MATH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT,
       Round::kNone},
      {Api::kSgemm, CUBLAS_TF32_TENSOR_OP_MATH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT,
       Round::kTf32},
      {Api::kSgemm, tf32_strict, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT, Round::kTf32},
      {Api::kSgemm, CUBLAS_TENSOR_OP_MATH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT, Round::kF16},
      {Api::kSgemmStridedBatched, CUBLAS_TF32_TENSOR_OP_MATH, CUBLAS_COMPUTE_32F,
       CUBLAS_GEMM_DEFAULT, Round::kTf32},
      {Api::kGemmEx, CUBLAS_DEFAULT_MATH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT, Round::kNone},
      {Api::kGemmEx, CUBLAS_TF32_TENSOR_OP_MATH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT,
       Round::kTf32},
      {Api::kGemmEx, CUBLAS_TF32_TENSOR_OP_MATH, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT,
       Round::kNone},
      {Api::kGemmEx, CUBLAS_DEFAULT_MATH, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT,
       Round::kTf32},
      {Api::kGemmEx, CUBLAS_DEFAULT_MATH, CUBLAS_COMPUTE_32F_FAST_16F, CUBLAS_GEMM_DEFAULT,
       Round::kF16},
      {Api::kGemmEx, CUBLAS_DEFAULT_MATH, CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT,
       Round::kBF16},
      {Api::kGemmEx, CUBLAS_DEFAULT_MATH, CUBLAS_COMPUTE_32F_EMULATED_16BFX9, CUBLAS_GEMM_DEFAULT,
       Round::kNone},
      {Api::kGemmEx, CUBLAS_DEFAULT_MATH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_ALGO3_TENSOR_OP,
       Round::kF16},
      {Api::kGemmEx, CUBLAS_PEDANTIC_MATH, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT_TENSOR_OP,
       Round::kNone},
      {Api::kGemmStridedBatchedEx, CUBLAS_DEFAULT_MATH, CUBLAS_COMPUTE_32F_FAST_TF32,
       CUBLAS_GEMM_DEFAULT, Round::kTf32},
      {Api::kGemmStridedBatchedEx, CUBLAS_DEFAULT_MATH, CUBLAS_COMPUTE_32F_FAST_16BF,
       CUBLAS_GEMM_DEFAULT, Round::kBF16},
  };
  const float probes[] = {1.0f + std::ldexp(1.0f, -12), 1.0f + std::ldexp(1.0f, -11),
                          1.0f + std::ldexp(1.0f, -8), 1.0f + 3 * std::ldexp(1.0f, -8), 70000.0f};
  const float ones[] = {-1.0f, 1.0f, 1.0f};  // A = [p, -1], B = [1, 1]^T
  DeviceBuffer<float> a(2), b(std::vector<float>{ones[1], ones[2]}), c(1);
  const float alpha = 1.0f, beta = 0.0f;
  for (const Mode& mode : modes) {
    SCOPED_TRACE(std::string(api_name(mode.api)) + " math " + std::to_string(mode.math) +
                 " compute " + std::to_string(mode.compute) + " algo " + std::to_string(mode.algo));
    ASSERT_EQ(cublasSetMathMode(handle_, mode.math), CUBLAS_STATUS_SUCCESS);
    bool distinguished = mode.expect == Round::kNone;
    for (float p : probes) {
      a.upload({p, ones[0]});
      GemmCall g;
      g.api = mode.api, g.m = 1, g.n = 1, g.k = 2, g.alpha = &alpha, g.beta = &beta;
      g.a = a.get(), g.b = b.get(), g.c = c.get(), g.lda = 1, g.ldb = 2, g.ldc = 1;
      g.compute = mode.compute, g.algo = mode.algo;
      ASSERT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS);
      const double ref = static_cast<double>(round_input(p, mode.expect)) - 1.0;
      const double unrounded = static_cast<double>(p) - 1.0;
      distinguished = distinguished || ref != unrounded;
      const float got = c.download()[0];
      EXPECT_EQ(static_cast<double>(got), ref)
          << "probe " << p << " (unrounded " << unrounded << ")";
    }
    EXPECT_TRUE(distinguished) << "no probe tells this mode from plain fp32";
  }
}

// C = x * 1 + y * 1 with fp16 or bf16 inputs whose exact fp32 sum is a tie in C's type: 1 + 2^-11
// (rounds down to even) and 1 + 3 * 2^-11 (up to even) in fp16, the same with 2^-8 in bf16. The
// output rounding is pinned bit for bit against the toolkit's nearest-even conversion; an fp32 C
// keeps the sum.
TEST_F(CublasTest, ReducedPrecisionOutputsRoundToNearestEven) {
  const float alpha = 1.0f, beta = 0.0f;
  for (cudaDataType type : {CUDA_R_16F, CUDA_R_16BF}) {
    for (cudaDataType c_type : {type, CUDA_R_32F}) {
      for (float odd : {1.0f, 3.0f}) {
        const float x = 1.0f, y = odd * std::ldexp(1.0f, type == CUDA_R_16F ? -11 : -8);
        std::vector<unsigned char> a_bytes(2 * type_bytes(type)), b_bytes(2 * type_bytes(type));
        encode(x, type, &a_bytes[0]);
        encode(y, type, &a_bytes[type_bytes(type)]);
        encode(1.0f, type, &b_bytes[0]);
        encode(1.0f, type, &b_bytes[type_bytes(type)]);
        DeviceBuffer<unsigned char> a(a_bytes), b(b_bytes), c(type_bytes(c_type));
        GemmCall g;
        g.api = Api::kGemmEx, g.m = 1, g.n = 1, g.k = 2, g.alpha = &alpha, g.beta = &beta;
        g.a = a.get(), g.b = b.get(), g.c = c.get(), g.lda = 1, g.ldb = 2, g.ldc = 1;
        g.a_type = g.b_type = type, g.c_type = c_type;
        ASSERT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS);
        const float sum = x + y;  // exact in fp32
        const float got = decode(c.download().data(), c_type);
        EXPECT_EQ(got, quantize(sum, c_type))
            << type_name(type) << " -> " << type_name(c_type) << ", sum " << sum;
        if (c_type != CUDA_R_32F) {
          EXPECT_NE(quantize(sum, c_type), sum) << "the probe is no tie";
        }
      }
    }
  }
}

// ---- statuses ----------------------------------------------------------------------------------

// A valid batched call (m = 5, n = 7, k = 3, A not transposed, B transposed) over live buffers, for
// the tests below to break one argument at a time.
struct ValidCall {
  float alpha = 1.0f, beta = 0.0f;
  DeviceBuffer<float> a{2 * 5 * 3}, b{2 * 7 * 3}, c{2 * 5 * 7};
  GemmCall base(Api api) const {
    GemmCall g;
    g.api = api, g.ta = CUBLAS_OP_N, g.tb = CUBLAS_OP_T, g.m = 5, g.n = 7, g.k = 3;
    g.alpha = &alpha, g.beta = &beta;
    g.a = a.get(), g.lda = 5, g.stride_a = 15;
    g.b = b.get(), g.ldb = 7, g.stride_b = 21;
    g.c = c.get(), g.ldc = 5, g.stride_c = 35;
    g.batch = 2;
    return g;
  }
};

TEST_F(CublasTest, InvalidArgumentsAreRejectedBeforeAnythingRuns) {
  ValidCall v;
  v.c.upload(std::vector<float>(v.c.size(), 777.0f));
  struct Breakage {
    const char* what;
    std::function<void(GemmCall&)> apply;
  };
  const Breakage breakages[] = {
      {"m < 0", [](GemmCall& g) { g.m = -1; }},
      {"n < 0", [](GemmCall& g) { g.n = -1; }},
      {"k < 0", [](GemmCall& g) { g.k = -1; }},
      {"transa CONJG", [](GemmCall& g) { g.ta = CUBLAS_OP_CONJG; }},
      {"transb CONJG", [](GemmCall& g) { g.tb = CUBLAS_OP_CONJG; }},
      {"lda < m with transa N", [](GemmCall& g) { g.lda = 4; }},
      {"lda < k with transa T", [](GemmCall& g) { g.ta = CUBLAS_OP_T, g.lda = 2; }},
      {"ldb < n with transb T", [](GemmCall& g) { g.ldb = 6; }},
      {"ldb < k with transb N", [](GemmCall& g) { g.tb = CUBLAS_OP_N, g.ldb = 2; }},
      {"ldc < m", [](GemmCall& g) { g.ldc = 4; }},
      {"lda = 0 when m = 0", [](GemmCall& g) { g.m = 0, g.lda = 0, g.ldc = 1; }},
      {"ldc = 0 when m = 0", [](GemmCall& g) { g.m = 0, g.lda = 1, g.ldc = 0; }},
      {"alpha null", [](GemmCall& g) { g.alpha = nullptr; }},
      {"beta null", [](GemmCall& g) { g.beta = nullptr; }},
      {"compute type outside the enum",
       [](GemmCall& g) { g.compute = static_cast<cublasComputeType_t>(100); }},
  };
  for (Api api :
       {Api::kSgemm, Api::kSgemmStridedBatched, Api::kGemmEx, Api::kGemmStridedBatchedEx}) {
    for (const Breakage& br : breakages) {
      if (!typed(api) && std::string(br.what).find("compute") != std::string::npos) continue;
      GemmCall g = v.base(api);
      br.apply(g);
      EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_INVALID_VALUE) << api_name(api) << ": " << br.what;
    }
    if (batched(api)) {
      GemmCall g = v.base(api);
      g.batch = -1;
      EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_INVALID_VALUE) << api_name(api) << ": batch < 0";
    }
  }
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
  for (float x : v.c.download()) ASSERT_EQ(x, 777.0f) << "a rejected call wrote C";
}

TEST_F(CublasTest, LeadingDimensionsFollowTheTransposes) {
  ValidCall v;
  for (Api api : {Api::kSgemm, Api::kGemmStridedBatchedEx}) {
    // op(A) = A^T [5, 3]: A is stored [3, 5], so lda >= 3 (not >= m = 5); likewise op(B) = B [3,
    // 7].
    GemmCall g = v.base(api);
    g.ta = CUBLAS_OP_T, g.tb = CUBLAS_OP_N, g.lda = 3, g.ldb = 3;
    EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS) << api_name(api);
    g.lda = 2;
    EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_INVALID_VALUE) << api_name(api);
    g.lda = 3, g.ldb = 2;
    EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_INVALID_VALUE) << api_name(api);
  }
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

TEST_F(CublasTest, UnsupportedTypeCombinationsAreNotSupported) {
  ValidCall v;
  struct Combo {
    cudaDataType a, b, c;
    cublasComputeType_t compute;
    cublasGemmAlgo_t algo;
  };
  const Combo combos[] = {
      // Not in cublasGemmEx's table.
      {CUDA_R_16F, CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT},
      {CUDA_R_16F, CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_16F, CUBLAS_GEMM_DEFAULT},
      {CUDA_R_16BF, CUDA_R_16BF, CUDA_R_16BF, CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT},
      {CUDA_R_32F, CUDA_R_32F, CUDA_R_16F, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT},
      {CUDA_R_16F, CUDA_R_16F, CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT},
      {CUDA_R_16F, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT},
      {CUDA_R_32F, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_16F, CUBLAS_GEMM_DEFAULT},
      {CUDA_R_16F, CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_32I, CUBLAS_GEMM_DEFAULT},
      // In the table, but left out by the emulator (the library does not use them).
      {CUDA_R_16F, CUDA_R_16F, CUDA_R_16F, CUBLAS_COMPUTE_16F, CUBLAS_GEMM_DEFAULT},
      {CUDA_R_64F, CUDA_R_64F, CUDA_R_64F, CUBLAS_COMPUTE_64F, CUBLAS_GEMM_DEFAULT},
      {CUDA_R_8I, CUDA_R_8I, CUDA_R_32F, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT},
      // Algorithms outside cublasGemmAlgo_t.
      {CUDA_R_32F, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, static_cast<cublasGemmAlgo_t>(24)},
      {CUDA_R_32F, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, static_cast<cublasGemmAlgo_t>(116)},
      {CUDA_R_32F, CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F, static_cast<cublasGemmAlgo_t>(-2)},
  };
  for (Api api : {Api::kGemmEx, Api::kGemmStridedBatchedEx}) {
    for (const Combo& t : combos) {
      GemmCall g = v.base(api);
      g.a_type = t.a, g.b_type = t.b, g.c_type = t.c, g.compute = t.compute, g.algo = t.algo;
      EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_NOT_SUPPORTED)
          << api_name(api) << ": " << type_name(t.a) << "/" << type_name(t.b) << " -> "
          << type_name(t.c) << " compute " << t.compute << " algo " << t.algo;
    }
    // The ends of the valid algorithm ranges are accepted.
    for (cublasGemmAlgo_t algo :
         {CUBLAS_GEMM_ALGO0, CUBLAS_GEMM_ALGO23, CUBLAS_GEMM_ALGO15_TENSOR_OP}) {
      GemmCall g = v.base(api);
      g.algo = algo;
      EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS) << api_name(api) << " algo " << algo;
    }
  }
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

TEST_F(CublasTest, EmptyProblemsReturnWithoutTouchingC) {
  ValidCall v;
  v.c.upload(std::vector<float>(v.c.size(), 777.0f));
  for (Api api :
       {Api::kSgemm, Api::kSgemmStridedBatched, Api::kGemmEx, Api::kGemmStridedBatchedEx}) {
    GemmCall g = v.base(api);
    g.m = 0;
    EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS) << api_name(api) << ": m = 0";
    g = v.base(api);
    g.n = 0;
    EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS) << api_name(api) << ": n = 0";
    if (batched(api)) {
      g = v.base(api);
      g.batch = 0;
      EXPECT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS) << api_name(api) << ": batch 0";
    }
  }
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
  for (float x : v.c.download()) ASSERT_EQ(x, 777.0f);
}

TEST(CublasHandle, NullHandleIsNotInitialized) {
  EXPECT_EQ(cublasCreate(nullptr), CUBLAS_STATUS_INVALID_VALUE);
  cublasHandle_t h = nullptr;
  cudaStream_t stream = nullptr;
  cublasMath_t math;
  cublasPointerMode_t pointer_mode;
  int version = 0;
  EXPECT_EQ(cublasDestroy(h), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasSetStream(h, stream), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasGetStream(h, &stream), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasSetWorkspace(h, nullptr, 0), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasGetMathMode(h, &math), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasGetPointerMode(h, &pointer_mode), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasGetVersion(h, &version), CUBLAS_STATUS_NOT_INITIALIZED);
  ValidCall v;
  for (Api api :
       {Api::kSgemm, Api::kSgemmStridedBatched, Api::kGemmEx, Api::kGemmStridedBatchedEx}) {
    EXPECT_EQ(call(h, v.base(api)), CUBLAS_STATUS_NOT_INITIALIZED) << api_name(api);
  }
}

// ---- handle state ------------------------------------------------------------------------------

TEST_F(CublasTest, HandleStartsOnTheLegacyStreamInHostPointerAndDefaultMathMode) {
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(1);
  cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_DEVICE;
  cublasMath_t math = CUBLAS_TF32_TENSOR_OP_MATH;
  ASSERT_EQ(cublasGetStream(handle_, &stream), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasGetPointerMode(handle_, &pointer_mode), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasGetMathMode(handle_, &math), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(stream, nullptr);
  EXPECT_EQ(pointer_mode, CUBLAS_POINTER_MODE_HOST);
  EXPECT_EQ(math, CUBLAS_DEFAULT_MATH);
  int version = 0;
  ASSERT_EQ(cublasGetVersion(handle_, &version), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(version, CUBLAS_VER_MAJOR * 10000 + CUBLAS_VER_MINOR * 100 + CUBLAS_VER_PATCH);
  EXPECT_EQ(cublasGetVersion(handle_, nullptr), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasGetStream(handle_, nullptr), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasGetPointerMode(handle_, nullptr), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasGetMathMode(handle_, nullptr), CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(CublasTest, SetStreamIsWhatGetStreamReturns) {
  TestStream s(cudaStreamNonBlocking);
  ASSERT_EQ(cublasSetStream(handle_, s.get()), CUBLAS_STATUS_SUCCESS);
  cudaStream_t got = nullptr;
  ASSERT_EQ(cublasGetStream(handle_, &got), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(got, s.get());
  ASSERT_EQ(cublasSetStream(handle_, nullptr), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasGetStream(handle_, &got), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(got, nullptr);
}

TEST_F(CublasTest, MathModesAreValidatedAndKept) {
  const int valid[] = {
      CUBLAS_DEFAULT_MATH,
      CUBLAS_TENSOR_OP_MATH,
      CUBLAS_PEDANTIC_MATH,
      CUBLAS_TF32_TENSOR_OP_MATH,
      CUBLAS_FP32_EMULATED_BF16X9_MATH,
      CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH,
      CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION,
      CUBLAS_TF32_TENSOR_OP_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION};
  for (int mode : valid) {
    ASSERT_EQ(cublasSetMathMode(handle_, static_cast<cublasMath_t>(mode)), CUBLAS_STATUS_SUCCESS)
        << mode;
    cublasMath_t got;
    ASSERT_EQ(cublasGetMathMode(handle_, &got), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(static_cast<int>(got), mode);
  }
  ASSERT_EQ(cublasSetMathMode(handle_, CUBLAS_PEDANTIC_MATH), CUBLAS_STATUS_SUCCESS);
  // Values inside the enum's range that name no mode (outside the range would be undefined
  // behaviour in the caller already, which UBSan reports).
  for (int mode : {5, 6, 7, 9, 15, 21}) {
    EXPECT_EQ(cublasSetMathMode(handle_, static_cast<cublasMath_t>(mode)),
              CUBLAS_STATUS_INVALID_VALUE)
        << mode;
  }
  cublasMath_t got;
  ASSERT_EQ(cublasGetMathMode(handle_, &got), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(got, CUBLAS_PEDANTIC_MATH) << "a rejected mode changed the handle";
}

TEST_F(CublasTest, PointerModesAreValidatedAndKept) {
  for (cublasPointerMode_t mode : {CUBLAS_POINTER_MODE_DEVICE, CUBLAS_POINTER_MODE_HOST}) {
    ASSERT_EQ(cublasSetPointerMode(handle_, mode), CUBLAS_STATUS_SUCCESS);
    cublasPointerMode_t got;
    ASSERT_EQ(cublasGetPointerMode(handle_, &got), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(got, mode);
  }
}

TEST_F(CublasTest, WorkspaceMustBeAlignedTo256Bytes) {
  DeviceBuffer<unsigned char> ws(4096);
  EXPECT_EQ(cublasSetWorkspace(handle_, ws.get() + 16, 1024), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasSetWorkspace(handle_, ws.get() + 256, 1024), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSetWorkspace(handle_, nullptr, 0), CUBLAS_STATUS_SUCCESS);
  // A GEMM with a live workspace runs normally.
  ASSERT_EQ(cublasSetWorkspace(handle_, ws.get(), ws.size()), CUBLAS_STATUS_SUCCESS);
  GemmCase gc;
  gc.beta = 0.5f;
  const GemmData d = make_data(gc, 7);
  expect_matches_reference(gc, d, run(gc, d));
}

TEST(CublasStatus, EveryStatusHasANameAndADescription) {
  const cublasStatus_t statuses[] = {CUBLAS_STATUS_SUCCESS,          CUBLAS_STATUS_NOT_INITIALIZED,
                                     CUBLAS_STATUS_ALLOC_FAILED,     CUBLAS_STATUS_INVALID_VALUE,
                                     CUBLAS_STATUS_ARCH_MISMATCH,    CUBLAS_STATUS_MAPPING_ERROR,
                                     CUBLAS_STATUS_EXECUTION_FAILED, CUBLAS_STATUS_INTERNAL_ERROR,
                                     CUBLAS_STATUS_NOT_SUPPORTED,    CUBLAS_STATUS_LICENSE_ERROR};
  std::vector<std::string> names;
  for (cublasStatus_t s : statuses) {
    const std::string name = cublasGetStatusName(s), text = cublasGetStatusString(s);
    EXPECT_EQ(name.rfind("CUBLAS_STATUS_", 0), 0u) << name;
    EXPECT_FALSE(text.empty()) << name;
    EXPECT_EQ(std::count(names.begin(), names.end(), name), 0) << name;
    names.push_back(name);
  }
  EXPECT_STREQ(cublasGetStatusName(CUBLAS_STATUS_NOT_SUPPORTED), "CUBLAS_STATUS_NOT_SUPPORTED");
  // 2 names no status but lies inside the enum's range.
  EXPECT_NE(cublasGetStatusName(static_cast<cublasStatus_t>(2)), nullptr);
  EXPECT_NE(cublasGetStatusString(static_cast<cublasStatus_t>(2)), nullptr);
}

// ---- pointer modes and asynchrony --------------------------------------------------------------

TEST_F(CublasTest, ResultIsThereOnlyOnceTheStreamHasRunTheCall) {
  TestStream s(cudaStreamNonBlocking);  // the legacy stream's copies do not wait for it
  ASSERT_EQ(cublasSetStream(handle_, s.get()), CUBLAS_STATUS_SUCCESS);
  GemmCase gc;
  gc.api = Api::kGemmStridedBatchedEx, gc.batch = 2, gc.beta = 0.5f;
  const GemmData d = make_data(gc, 11);
  DeviceBuffer<unsigned char> a(d.a.bytes()), b(d.b.bytes()), c(d.c.bytes());
  {
    StreamGate gate(s.get());
    ASSERT_EQ(call(handle_, make_call(gc, d, a.get(), b.get(), c.get())), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(cudaStreamQuery(s.get()), cudaErrorNotReady);
    EXPECT_EQ(c.download(), d.c.bytes()) << "C changed before the stream ran the call";
  }
  ASSERT_EQ(cudaStreamSynchronize(s.get()), cudaSuccess);
  expect_matches_reference(gc, d, d.c.with_bytes(c.download()));
}

TEST_F(CublasTest, HostPointerModeReadsAlphaAndBetaWhenCalled) {
  TestStream s(cudaStreamNonBlocking);
  ASSERT_EQ(cublasSetStream(handle_, s.get()), CUBLAS_STATUS_SUCCESS);
  GemmCase gc;
  gc.alpha = 1.5f, gc.beta = 0.0f;
  const GemmData d = make_data(gc, 12);
  DeviceBuffer<unsigned char> a(d.a.bytes()), b(d.b.bytes()), c(d.c.bytes());
  float alpha = gc.alpha, beta = gc.beta;
  GemmCall g = make_call(gc, d, a.get(), b.get(), c.get());
  g.alpha = &alpha, g.beta = &beta;
  {
    StreamGate gate(s.get());
    ASSERT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS);
    alpha = -3.0f, beta = kNaN;  // too late to matter
  }
  ASSERT_EQ(cudaStreamSynchronize(s.get()), cudaSuccess);
  expect_matches_reference(gc, d, d.c.with_bytes(c.download()));
}

TEST_F(CublasTest, DevicePointerModeReadsAlphaAndBetaWhenTheCallRuns) {
  TestStream s(cudaStreamNonBlocking);
  ASSERT_EQ(cublasSetStream(handle_, s.get()), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_DEVICE), CUBLAS_STATUS_SUCCESS);
  GemmCase gc;
  gc.alpha = 2.5f, gc.beta = 0.5f;  // the values the scalars hold when the call runs
  const GemmData d = make_data(gc, 13);
  DeviceBuffer<unsigned char> a(d.a.bytes()), b(d.b.bytes()), c(d.c.bytes());
  DeviceBuffer<float> alpha(std::vector<float>{1.0f}), beta(std::vector<float>{0.0f});
  GemmCall g = make_call(gc, d, a.get(), b.get(), c.get());
  g.alpha = alpha.get(), g.beta = beta.get();
  {
    StreamGate gate(s.get());
    ASSERT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS);
    alpha.upload({gc.alpha});  // on the legacy stream, which does not wait for `s`
    beta.upload({gc.beta});
  }
  ASSERT_EQ(cudaStreamSynchronize(s.get()), cudaSuccess);
  expect_matches_reference(gc, d, d.c.with_bytes(c.download()));
}

TEST_F(CublasTest, DevicePointerModeWorksForEveryEntryPoint) {
  ASSERT_EQ(cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_DEVICE), CUBLAS_STATUS_SUCCESS);
  for (Api api :
       {Api::kSgemm, Api::kSgemmStridedBatched, Api::kGemmEx, Api::kGemmStridedBatchedEx}) {
    SCOPED_TRACE(api_name(api));
    GemmCase gc;
    gc.api = api, gc.batch = batched(api) ? 2 : 1, gc.alpha = -0.5f, gc.beta = 0.25f;
    gc.ta = CUBLAS_OP_T;
    const GemmData d = make_data(gc, 14);
    DeviceBuffer<unsigned char> a(d.a.bytes()), b(d.b.bytes()), c(d.c.bytes());
    DeviceBuffer<float> alpha(std::vector<float>{gc.alpha}), beta(std::vector<float>{gc.beta});
    GemmCall g = make_call(gc, d, a.get(), b.get(), c.get());
    g.alpha = alpha.get(), g.beta = beta.get();
    ASSERT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    expect_matches_reference(gc, d, d.c.with_bytes(c.download()));
  }
}

// What stream capture records: a host-mode alpha/beta is baked into the graph when the call is
// captured, a device-mode one is read at every replay; nothing runs until the graph is launched.
TEST_F(CublasTest, CapturedGemmsReplayWithTheScalarsOfTheirPointerMode) {
  TestStream s(cudaStreamNonBlocking);
  ASSERT_EQ(cublasSetStream(handle_, s.get()), CUBLAS_STATUS_SUCCESS);
  GemmCase host_case, device_case;
  host_case.alpha = 1.5f;
  device_case.api = Api::kGemmStridedBatchedEx, device_case.batch = 2;
  device_case.ab_type = CUDA_R_16F, device_case.c_type = CUDA_R_16F;
  const GemmData hd = make_data(host_case, 21), dd = make_data(device_case, 22);
  DeviceBuffer<unsigned char> ha(hd.a.bytes()), hb(hd.b.bytes()), hc(hd.c.bytes());
  DeviceBuffer<unsigned char> da(dd.a.bytes()), db(dd.b.bytes()), dc(dd.c.bytes());
  DeviceBuffer<float> alpha(std::vector<float>{0.0f}), beta(std::vector<float>{0.0f});
  float host_alpha = host_case.alpha;
  GemmCall host_call = make_call(host_case, hd, ha.get(), hb.get(), hc.get());
  host_call.alpha = &host_alpha;
  GemmCall device_call = make_call(device_case, dd, da.get(), db.get(), dc.get());
  device_call.alpha = alpha.get(), device_call.beta = beta.get();

  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(s.get(), cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(call(handle_, host_call), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_DEVICE), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(call(handle_, device_call), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cudaStreamEndCapture(s.get(), &graph), cudaSuccess);
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  EXPECT_EQ(hc.download(), hd.c.bytes()) << "a captured GEMM ran during capture";

  host_alpha = -2.0f;  // too late: captured as 1.5
  for (float replay_alpha : {0.75f, -1.25f}) {
    SCOPED_TRACE(replay_alpha);
    alpha.upload({replay_alpha});
    ASSERT_EQ(cudaGraphLaunch(exec, s.get()), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(s.get()), cudaSuccess);
    expect_matches_reference(host_case, hd, hd.c.with_bytes(hc.download()));
    device_case.alpha = replay_alpha;
    expect_matches_reference(device_case, dd, dd.c.with_bytes(dc.download()));
  }
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
}

// ---- device faults
// -------------------------------------------------------------------------------

// Runs `g` (which must be accepted: the fault is asynchronous), then expects the stream to report
// the sticky illegal address, with the emulator's detail naming the call and the matrix, and every
// later call to fail to launch.
void expect_illegal_address(cublasHandle_t h, const GemmCall& g, const std::string& api,
                            const std::string& what) {
  ASSERT_EQ(call(h, g), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaErrorIllegalAddress);
  const std::string detail = emu::error_detail(cudaErrorIllegalAddress);
  EXPECT_TRUE(contains(detail, api + ": " + what + " [")) << detail;
  EXPECT_EQ(call(h, g), CUBLAS_STATUS_EXECUTION_FAILED) << "the error is not sticky";
}

TEST_F(CublasFaultTest, CBeyondItsAllocationIsAnIllegalAddress) {
  ValidCall v;
  DeviceBuffer<float> short_c(5 * 7 - 1);
  GemmCall g = v.base(Api::kSgemm);
  g.c = short_c.get();
  expect_illegal_address(handle_, g, "cublasSgemm", "C");
}

TEST_F(CublasFaultTest, ALeadingDimensionBeyondTheAllocationIsAnIllegalAddress) {
  ValidCall v;
  DeviceBuffer<float> a(5 * 3);  // exactly [5, 3] with lda = 5
  GemmCall g = v.base(Api::kGemmEx);
  g.a = a.get(), g.lda = 6;  // valid, but reaches (3 - 1) * 6 + 5 = 17 elements
  expect_illegal_address(handle_, g, "cublasGemmEx", "A");
}

TEST_F(CublasFaultTest, TheLastBatchBeyondTheAllocationIsAnIllegalAddress) {
  ValidCall v;
  DeviceBuffer<__half> b(2 * 21);  // two [7, 3] fp16 batches; the call asks for three
  GemmCall g = v.base(Api::kGemmStridedBatchedEx);
  DeviceBuffer<__half> a(3 * 15);
  DeviceBuffer<__half> c(3 * 35);
  g.a = a.get(), g.b = b.get(), g.c = c.get(), g.batch = 3;
  g.a_type = g.b_type = g.c_type = CUDA_R_16F;
  expect_illegal_address(handle_, g, "cublasGemmStridedBatchedEx", "B (batch 2)");
}

TEST_F(CublasFaultTest, DevicePointerModeAlphaInHostMemoryIsAnIllegalAddress) {
  ValidCall v;
  ASSERT_EQ(cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_DEVICE), CUBLAS_STATUS_SUCCESS);
  DeviceBuffer<float> beta(std::vector<float>{0.0f});
  GemmCall g = v.base(Api::kSgemmStridedBatched);
  g.alpha = &v.alpha, g.beta = beta.get();
  expect_illegal_address(handle_, g, "cublasSgemmStridedBatched", "alpha");
}

TEST_F(CublasFaultTest, AFreedWorkspaceIsAnIllegalAddress) {
  ValidCall v;
  void* ws = nullptr;
  MVIT_CUDA_CHECK(cudaMalloc(&ws, 1 << 16));
  ASSERT_EQ(cublasSetWorkspace(handle_, ws, 1 << 16), CUBLAS_STATUS_SUCCESS);
  MVIT_CUDA_CHECK(cudaFree(ws));
  expect_illegal_address(handle_, v.base(Api::kSgemm), "cublasSgemm", "workspace");
}

TEST_F(CublasFaultTest, SetStreamGoesBackToTheDefaultWorkspace) {
  ValidCall v;
  void* ws = nullptr;
  MVIT_CUDA_CHECK(cudaMalloc(&ws, 1 << 16));
  ASSERT_EQ(cublasSetWorkspace(handle_, ws, 1 << 16), CUBLAS_STATUS_SUCCESS);
  MVIT_CUDA_CHECK(cudaFree(ws));
  ASSERT_EQ(cublasSetStream(handle_, nullptr), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(call(handle_, v.base(Api::kSgemm)), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
}

// ---- size ---------------------------------------------------------------------------------------

// An attention-sized batch (64 x [4096, 64] x [64, 64]) in fp32 with tf32 inputs and in fp16: takes
// well under a second in the optimized build (the time is recorded as a test property); checked at
// sampled elements.
TEST_F(CublasTest, AttentionSizedBatchIsQuickAndCorrect) {
  constexpr int kM = 4096, kN = 64, kK = 64, kBatch = 64;
  for (cudaDataType type : {CUDA_R_32F, CUDA_R_16F}) {
    SCOPED_TRACE(type_name(type));
    GemmCase gc;
    gc.api = Api::kGemmStridedBatchedEx, gc.m = kM, gc.n = kN, gc.k = kK, gc.batch = kBatch;
    gc.ab_type = gc.c_type = type, gc.alpha = 0.125f, gc.beta = 0.0f;
    gc.compute = type == CUDA_R_32F ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    gc.expect = type == CUDA_R_32F ? Round::kTf32 : Round::kNone;
    // The buffers hold 17M elements and this test also runs under ASan, so values are made cheaply:
    // random 24-bit fractions in fp32 (tf32 has low bits to drop), k / 1024 for integer k in
    // [-1024, 1024] in fp16 (exact; encoded through a table).
    std::vector<unsigned char> half_codes(2049 * sizeof(__half));
    for (int q = 0; q < 2049; ++q) encode((q - 1024) / 1024.0f, CUDA_R_16F, &half_codes[2 * q]);
    uint32_t state = 12345;
    const auto fill = [&](size_t count, std::vector<float>* values,
                          std::vector<unsigned char>* bytes) {
      values->resize(count);
      bytes->resize(count * type_bytes(type));
      for (size_t e = 0; e < count; ++e) {
        state = state * 1664525u + 1013904223u;
        if (type == CUDA_R_32F) {
          (*values)[e] = static_cast<float>(state >> 8) * std::ldexp(1.0f, -23) - 1.0f;
          std::memcpy(&(*bytes)[4 * e], &(*values)[e], 4);
        } else {
          const uint32_t q = (state >> 8) % 2049;
          (*values)[e] = (static_cast<float>(q) - 1024.0f) / 1024.0f;
          std::memcpy(&(*bytes)[2 * e], &half_codes[2 * q], 2);
        }
      }
    };
    std::vector<float> av, bv;  // [kBatch, kK, kM] and [kBatch, kN, kK], column-major per batch
    std::vector<unsigned char> a_bytes, b_bytes;
    fill(size_t{kM} * kK * kBatch, &av, &a_bytes);
    fill(size_t{kK} * kN * kBatch, &bv, &b_bytes);
    DeviceBuffer<unsigned char> a(a_bytes), b(b_bytes),
        c(size_t{kM} * kN * kBatch * type_bytes(type));
    GemmCall g;
    g.api = gc.api, g.m = kM, g.n = kN, g.k = kK, g.alpha = &gc.alpha, g.beta = &gc.beta;
    g.a = a.get(), g.lda = kM, g.stride_a = 1LL * kM * kK;
    g.b = b.get(), g.ldb = kK, g.stride_b = 1LL * kK * kN;
    g.c = c.get(), g.ldc = kM, g.stride_c = 1LL * kM * kN;
    g.batch = kBatch, g.a_type = g.b_type = g.c_type = type, g.compute = gc.compute;
    const auto start = std::chrono::steady_clock::now();
    ASSERT_EQ(call(handle_, g), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    RecordProperty(std::string("gemm_ms_") + type_name(type), std::to_string(ms));
    const std::vector<unsigned char> out = c.download();
    std::mt19937 pick(99);
    std::vector<float> x(kK), y(kK);
    for (int sample = 0; sample < 256; ++sample) {
      const size_t bi = pick() % kBatch, i = pick() % kM, j = pick() % kN;
      for (size_t l = 0; l < kK; ++l) {
        x[l] = av[(bi * kK + l) * kM + i];
        y[l] = bv[(bi * kN + j) * kK + l];
      }
      const Expected e = expected_element(gc, x, y, 0.0f);
      const float got = decode(&out[((bi * kN + j) * kM + i) * type_bytes(type)], type);
      ASSERT_LE(std::fabs(got - e.ref), e.tol) << "C[batch " << bi << "](" << i << ", " << j << ")";
    }
  }
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
