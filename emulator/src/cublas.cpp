// The emulated cuBLAS subset: the handle (stream, workspace, math and pointer modes) and the GEMM
// family the library calls (cublasSgemm, cublasGemmEx, cublasSgemmStridedBatched,
// cublasGemmStridedBatchedEx), declared by the toolkit's cublas_v2.h and implemented on the host
// with the semantics of the cuBLAS documentation:
//
//   C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b]      b = 0 .. batchCount-1
//   op(A[b]) [m, k], op(B[b]) [k, n], C[b] [m, n]; column-major; X[b] = X + b * strideX elements
//
// A call validates its arguments when it is made and returns the documented status; a valid call
// becomes one operation on the handle's stream (mvit::emu::enqueue), so its result is there only
// once the stream has executed it, as on a GPU. The operation first checks every range it would
// touch against the live device allocations, and throws DeviceFault(cudaErrorIllegalAddress)
// otherwise: the runtime makes that the device's sticky error, as an out-of-bounds access by a
// cuBLAS kernel would. It then converts A and B to fp32 scratch (Note [input rounding]), multiplies
// with OpenBLAS into an fp32 accumulator and writes C through an fp32 epilogue rounded to C's type
// (round to nearest even).
//
// cublasGetStatusName / cublasGetStatusString live in cublas_status.cpp.
#include <cblas.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mvit_emu/device_ops.h"
#include "number_formats.h"

// What cuBLAS keeps per handle. Each call reads it when it is made, so later setters do not affect
// an operation already queued. Like a real handle it is not safe to change from two threads at
// once.
struct cublasContext {
  cudaStream_t stream = nullptr;  // 0: the legacy default stream
  void* workspace = nullptr;      // from cublasSetWorkspace; null: the library's own pool
  size_t workspace_bytes = 0;
  cublasMath_t math_mode = CUBLAS_DEFAULT_MATH;
  cublasPointerMode_t pointer_mode = CUBLAS_POINTER_MODE_HOST;
};

namespace mvit {
namespace emu {
namespace {

enum class Elem { kF32, kF16, kBF16 };

// Note [input rounding]
// Reduced-precision modes feed fp32 inputs to the tensor cores in a narrower format; the emulator
// rounds A and B the same way before multiplying, so precision mistakes show up in tests without a
// GPU. Accumulation stays fp32 in every mode.
//   kTf32: CUBLAS_COMPUTE_32F_FAST_TF32, or the handle's CUBLAS_TF32_TENSOR_OP_MATH for fp32 GEMMs
//          computed in CUBLAS_COMPUTE_32F (cublasSgemm and friends). 10 explicit mantissa bits,
//          fp32's exponent range, round to nearest with ties away from zero (cvt.rna.tf32.f32).
//   kF16:  CUBLAS_COMPUTE_32F_FAST_16F; the deprecated CUBLAS_TENSOR_OP_MATH, which the header and
//          the documentation define as FAST_16F for single-precision GEMM; and a *_TENSOR_OP algo
//          (>= 99) with fp32 data, which the cublasGemmEx documentation makes equivalent to
//          FAST_16F "even if math mode or compute type are specified to be CUBLAS_COMPUTE_32F or
//          CUBLAS_COMPUTE_32F_FAST_TF32". __float2half_rn: overflow becomes inf.
//   kBF16: CUBLAS_COMPUTE_32F_FAST_16BF; __float2bfloat16_rn.
// CUBLAS_COMPUTE_32F_PEDANTIC never rounds; CUBLAS_PEDANTIC_MATH keeps CUBLAS_COMPUTE_32F
// (tensor-op algo included) in fp32, while an explicitly requested FAST_* compute type still
// rounds. fp16 and bf16 inputs are used as they are (the table allows the FAST_* types with fp32
// data only).
enum class Rounding { kNone, kTf32, kF16, kBF16 };

size_t elem_bytes(Elem e) {
  return e == Elem::kF32 ? sizeof(float) : sizeof(__half);
}

// One matrix argument as stored: rows x cols column-major with leading dimension ld, batch b at
// ptr + b * stride elements.
struct Operand {
  const void* ptr;
  Elem elem;
  int64_t rows, cols, ld;
  long long stride;
  const char* name;

  const unsigned char* batch(int b) const {
    return static_cast<const unsigned char*>(ptr) +
           static_cast<int64_t>(b) * stride * static_cast<int64_t>(elem_bytes(elem));
  }
};

// Throws DeviceFault unless every batch's [first element, last element] of `o` lies inside one
// device allocation. The hull over all batches is tried first (one lookup in the common case); a
// failure is then located batch by batch so the message names the batch.
void require_operand(const Operand& o, int batch_count, const char* api) {
  if (o.rows == 0 || o.cols == 0 || batch_count == 0) return;
  const int64_t es = static_cast<int64_t>(elem_bytes(o.elem));
  const uint64_t span = static_cast<uint64_t>(((o.cols - 1) * o.ld + o.rows) * es);
  // Unsigned arithmetic: a stride can point below the base, and pointers must not wrap.
  const uintptr_t base = reinterpret_cast<uintptr_t>(o.ptr);
  long long step = 0, last = 0;
  if (!__builtin_mul_overflow(o.stride, es, &step) &&
      !__builtin_mul_overflow(static_cast<long long>(batch_count - 1), step, &last)) {
    const uintptr_t lo = base + static_cast<uintptr_t>(std::min(0LL, last));
    const uintptr_t hi = base + static_cast<uintptr_t>(std::max(0LL, last)) + span;
    if (hi > lo && is_device_range(reinterpret_cast<const void*>(lo), hi - lo)) return;
  }
  for (int b = 0; b < batch_count; ++b) {
    const uintptr_t first =
        base + static_cast<uintptr_t>(b) * static_cast<uintptr_t>(o.stride) * es;
    std::string what = o.name;
    if (batch_count > 1) what += " (batch " + std::to_string(b) + ")";
    require_device_range(reinterpret_cast<const void*>(first), span, api, what.c_str());
  }
}

// Packs a stored rows x cols matrix of T into fp32 with ld = rows, converting each value with
// `convert` (T -> float, including any input rounding).
template <class T, class Convert>
void pack(const void* src, const Operand& o, float* dst, Convert convert) {
  const T* s = static_cast<const T*>(src);
  for (int64_t j = 0; j < o.cols; ++j) {
    for (int64_t i = 0; i < o.rows; ++i) dst[j * o.rows + i] = convert(s[j * o.ld + i]);
  }
}

// The fp32 view of batch `b` of `o` that OpenBLAS multiplies: the stored fp32 data itself when no
// conversion is needed, otherwise `scratch`. Returns the pointer and sets *ld.
const float* fp32_view(const Operand& o, int b, Rounding r, std::vector<float>* scratch, int* ld) {
  const void* src = o.batch(b);
  if (o.elem == Elem::kF32 && r == Rounding::kNone) {
    *ld = static_cast<int>(o.ld);
    return static_cast<const float*>(src);
  }
  scratch->resize(static_cast<size_t>(o.rows * o.cols));
  float* dst = scratch->data();
  if (o.elem == Elem::kF16) {
    pack<__half>(src, o, dst, [](__half v) { return __half2float(v); });
  } else if (o.elem == Elem::kBF16) {
    pack<__nv_bfloat16>(src, o, dst, [](__nv_bfloat16 v) { return __bfloat162float(v); });
  } else if (r == Rounding::kTf32) {
    pack<float>(src, o, dst, round_tf32);
  } else if (r == Rounding::kF16) {
    pack<float>(src, o, dst, round_f16);
  } else {
    pack<float>(src, o, dst, [](float v) { return __bfloat162float(__float2bfloat16_rn(v)); });
  }
  *ld = static_cast<int>(o.rows);
  return dst;
}

// C = alpha * acc + beta * C in fp32, rounded to T. beta == 0 does not read C, so whatever C holds
// (NaN in fresh emulated memory) does not reach the result.
template <class T>
void epilogue(const float* acc, int64_t m, int64_t n, float alpha, float beta, void* c_ptr,
              int64_t ldc) {
  T* c = static_cast<T*>(c_ptr);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < m; ++i) {
      float v = alpha * acc[j * m + i];
      if (beta != 0.0f) v += beta * to_float(c[j * ldc + i]);
      c[j * ldc + i] = from_float<T>(v);
    }
  }
}

// One validated GEMM call, copied into the stream operation.
struct GemmOp {
  const char* api;
  bool trans_a, trans_b;
  int m, n, k;
  Operand a, b, c;  // a: [m, k] or [k, m] stored; b: [k, n] or [n, k]; c: [m, n]
  int batch_count;
  Rounding rounding;
  bool device_scalars;
  float alpha, beta;                  // CUBLAS_POINTER_MODE_HOST: read when the call was made
  const float *alpha_ptr, *beta_ptr;  // CUBLAS_POINTER_MODE_DEVICE: read when it executes
  const void* workspace;
  size_t workspace_bytes;

  void operator()() const;
};

void GemmOp::operator()() const {
  count_op(OpKind::kCublas, api);
  // OpenBLAS runs single-threaded: concurrency comes from the emulator's streams and worker pool,
  // and OpenBLAS's idle threads spin in sched_yield on the same cores (a fifth of the CPU time of a
  // 64 x [4096, 64] x [64, 64] batch under perf; the batch's wall time on 2 cores was within
  // noise).
  static const bool single_threaded = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)single_threaded;
  if (workspace_bytes > 0) require_device_range(workspace, workspace_bytes, api, "workspace");
  float al = alpha, be = beta;
  if (device_scalars) {
    require_device_range(alpha_ptr, sizeof(float), api, "alpha");
    require_device_range(beta_ptr, sizeof(float), api, "beta");
    al = *alpha_ptr;
    be = *beta_ptr;
  }
  require_operand(a, batch_count, api);
  require_operand(b, batch_count, api);
  require_operand(c, batch_count, api);

  std::vector<float> scratch_a, scratch_b;
  std::vector<float> acc(static_cast<size_t>(m) * static_cast<size_t>(n), 0.0f);  // [m, n]
  const int64_t c_bytes = static_cast<int64_t>(elem_bytes(c.elem));
  const float *fa = nullptr, *fb = nullptr;
  int lda = 0, ldb = 0;
  for (int i = 0; i < batch_count; ++i) {
    if (k > 0) {
      // A broadcast operand (stride 0) is converted once.
      if (i == 0 || a.stride != 0) fa = fp32_view(a, i, rounding, &scratch_a, &lda);
      if (i == 0 || b.stride != 0) fb = fp32_view(b, i, rounding, &scratch_b, &ldb);
      cblas_sgemm(CblasColMajor, trans_a ? CblasTrans : CblasNoTrans,
                  trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, fa, lda, fb, ldb, 0.0f,
                  acc.data(), m);
    }
    void* ci = static_cast<unsigned char*>(const_cast<void*>(c.ptr)) +
               static_cast<int64_t>(i) * c.stride * c_bytes;
    switch (c.elem) {
      case Elem::kF32:
        epilogue<float>(acc.data(), m, n, al, be, ci, c.ld);
        break;
      case Elem::kF16:
        epilogue<__half>(acc.data(), m, n, al, be, ci, c.ld);
        break;
      case Elem::kBF16:
        epilogue<__nv_bfloat16>(acc.data(), m, n, al, be, ci, c.ld);
        break;
    }
  }
}

// The arguments the four GEMM entry points share (strides and batch count are 0 and 1 for the
// non-batched ones).
struct GemmArgs {
  const char* api;
  cublasOperation_t transa, transb;
  int m, n, k;
  const void* alpha;
  const void* A;
  int lda;
  long long stride_a;
  const void* B;
  int ldb;
  long long stride_b;
  const void* beta;
  void* C;
  int ldc;
  long long stride_c;
  int batch_count;
};

// What the types and modes resolve to.
struct GemmTypes {
  Elem a, b, c;
  Rounding rounding;
};

bool valid_op(cublasOperation_t op) {
  return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C;
}

// The CUBLAS_STATUS_INVALID_VALUE conditions of the cublas<t>gemm / cublasGemmEx documentation:
// negative sizes or batch count, an operation other than N/T/C, lda < max(1, rows of A as stored),
// ldb likewise, ldc < max(1, m), null alpha or beta.
cublasStatus_t validate(cublasHandle_t handle, const GemmArgs& g) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(g.transa) || !valid_op(g.transb)) return CUBLAS_STATUS_INVALID_VALUE;
  if (g.m < 0 || g.n < 0 || g.k < 0 || g.batch_count < 0) return CUBLAS_STATUS_INVALID_VALUE;
  const int a_rows = g.transa == CUBLAS_OP_N ? g.m : g.k;
  const int b_rows = g.transb == CUBLAS_OP_N ? g.k : g.n;
  if (g.lda < std::max(1, a_rows) || g.ldb < std::max(1, b_rows) || g.ldc < std::max(1, g.m)) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (g.alpha == nullptr || g.beta == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}

int base_math(cublasMath_t mode) {
  return static_cast<int>(mode) &
         ~static_cast<int>(CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
}

// How the handle's math mode rounds fp32 inputs of a CUBLAS_COMPUTE_32F GEMM (Note [input
// rounding]).
Rounding math_mode_rounding(cublasMath_t mode) {
  switch (base_math(mode)) {
    case CUBLAS_TF32_TENSOR_OP_MATH:
      return Rounding::kTf32;
    case CUBLAS_TENSOR_OP_MATH:
      return Rounding::kF16;
    default:
      return Rounding::kNone;
  }
}

bool valid_compute_type(cublasComputeType_t t) {
  switch (t) {
    case CUBLAS_COMPUTE_16F:
    case CUBLAS_COMPUTE_16F_PEDANTIC:
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
    case CUBLAS_COMPUTE_32F_EMULATED_16BFX9:
    case CUBLAS_COMPUTE_64F:
    case CUBLAS_COMPUTE_64F_PEDANTIC:
    case CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT:
    case CUBLAS_COMPUTE_32I:
    case CUBLAS_COMPUTE_32I_PEDANTIC:
      return true;
  }
  return false;
}

bool valid_algo(cublasGemmAlgo_t algo) {
  const int a = static_cast<int>(algo);
  return a == CUBLAS_GEMM_DEFAULT || (a >= CUBLAS_GEMM_ALGO0 && a <= CUBLAS_GEMM_ALGO23) ||
         (a >= CUBLAS_GEMM_DEFAULT_TENSOR_OP && a <= CUBLAS_GEMM_ALGO15_TENSOR_OP);
}

// cublasGemmEx's table of supported combinations, restricted to what the emulator implements:
//   compute 32F / 32F_PEDANTIC, scale fp32:  A/B 16BF -> C 16BF or 32F; A/B 16F -> C 16F or 32F;
//                                           A/B 32F -> C 32F
//   compute 32F_FAST_16F / _FAST_16BF / _FAST_TF32 / _EMULATED_16BFX9, scale fp32: all 32F
// A compute type outside the enum is INVALID_VALUE; a valid one in a combination outside this list
// (including the table's 8I, complex, 16F-compute and 64F rows, which the emulator leaves out) and
// an unknown algo are NOT_SUPPORTED.
cublasStatus_t resolve_ex(cublasMath_t math, cudaDataType at, cudaDataType bt, cudaDataType ct,
                          cublasComputeType_t compute, cublasGemmAlgo_t algo, GemmTypes* out) {
  if (!valid_compute_type(compute)) return CUBLAS_STATUS_INVALID_VALUE;
  if (!valid_algo(algo) || at != bt) return CUBLAS_STATUS_NOT_SUPPORTED;
  const bool pedantic = compute == CUBLAS_COMPUTE_32F_PEDANTIC;
  if (at == CUDA_R_16F || at == CUDA_R_16BF) {
    const Elem e = at == CUDA_R_16F ? Elem::kF16 : Elem::kBF16;
    if ((compute != CUBLAS_COMPUTE_32F && !pedantic) || (ct != at && ct != CUDA_R_32F)) {
      return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    *out = {e, e, ct == CUDA_R_32F ? Elem::kF32 : e, Rounding::kNone};
    return CUBLAS_STATUS_SUCCESS;
  }
  if (at != CUDA_R_32F || ct != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  Rounding r = Rounding::kNone;
  switch (compute) {
    case CUBLAS_COMPUTE_32F:
      r = math_mode_rounding(math);
      break;
    case CUBLAS_COMPUTE_32F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_EMULATED_16BFX9:
      break;
    case CUBLAS_COMPUTE_32F_FAST_TF32:
      r = Rounding::kTf32;
      break;
    case CUBLAS_COMPUTE_32F_FAST_16F:
      r = Rounding::kF16;
      break;
    case CUBLAS_COMPUTE_32F_FAST_16BF:
      r = Rounding::kBF16;
      break;
    default:
      return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  const bool tensor_op_algo = static_cast<int>(algo) >= CUBLAS_GEMM_DEFAULT_TENSOR_OP;
  if (tensor_op_algo && base_math(math) != CUBLAS_PEDANTIC_MATH &&
      (compute == CUBLAS_COMPUTE_32F || compute == CUBLAS_COMPUTE_32F_FAST_TF32)) {
    r = Rounding::kF16;
  }
  *out = {Elem::kF32, Elem::kF32, Elem::kF32, r};
  return CUBLAS_STATUS_SUCCESS;
}

// Queues a validated GEMM on the handle's stream. m, n or batchCount of 0 is a quick return; k of
// 0 still scales C by beta.
cublasStatus_t submit(cublasHandle_t handle, const GemmArgs& g, const GemmTypes& t) {
  if (g.m == 0 || g.n == 0 || g.batch_count == 0) return CUBLAS_STATUS_SUCCESS;
  const bool ta = g.transa != CUBLAS_OP_N, tb = g.transb != CUBLAS_OP_N;  // C = T for real types
  GemmOp op{};
  op.api = g.api;
  op.trans_a = ta;
  op.trans_b = tb;
  op.m = g.m;
  op.n = g.n;
  op.k = g.k;
  op.a = {g.A, t.a, ta ? g.k : g.m, ta ? g.m : g.k, g.lda, g.stride_a, "A"};
  op.b = {g.B, t.b, tb ? g.n : g.k, tb ? g.k : g.n, g.ldb, g.stride_b, "B"};
  op.c = {g.C, t.c, g.m, g.n, g.ldc, g.stride_c, "C"};
  op.batch_count = g.batch_count;
  op.rounding = t.rounding;
  op.device_scalars = handle->pointer_mode == CUBLAS_POINTER_MODE_DEVICE;
  if (op.device_scalars) {
    op.alpha_ptr = static_cast<const float*>(g.alpha);
    op.beta_ptr = static_cast<const float*>(g.beta);
  } else {
    op.alpha = *static_cast<const float*>(g.alpha);
    op.beta = *static_cast<const float*>(g.beta);
  }
  op.workspace = handle->workspace;
  op.workspace_bytes = handle->workspace_bytes;
  const cudaError_t e = enqueue(handle->stream, op, g.api);
  return e == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}

cublasStatus_t gemm_ex(cublasHandle_t handle, const GemmArgs& g, cudaDataType at, cudaDataType bt,
                       cudaDataType ct, cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  if (cublasStatus_t s = validate(handle, g); s != CUBLAS_STATUS_SUCCESS) return s;
  GemmTypes t{};
  if (cublasStatus_t s = resolve_ex(handle->math_mode, at, bt, ct, compute, algo, &t);
      s != CUBLAS_STATUS_SUCCESS) {
    return s;
  }
  return submit(handle, g, t);
}

cublasStatus_t sgemm(cublasHandle_t handle, const GemmArgs& g) {
  if (cublasStatus_t s = validate(handle, g); s != CUBLAS_STATUS_SUCCESS) return s;
  const GemmTypes t{Elem::kF32, Elem::kF32, Elem::kF32, math_mode_rounding(handle->math_mode)};
  return submit(handle, g, t);
}

}  // namespace
}  // namespace emu
}  // namespace mvit

using mvit::emu::GemmArgs;

// ---- handle ----------------------------------------------------------------------------------

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  // cublasDestroy synchronizes the device, also when a static's destructor calls it.
  mvit::emu::ensure_runtime_started();
  *handle = new cublasContext();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  // The documentation: releasing the handle's resources implicitly calls cudaDeviceSynchronize().
  // Its status belongs to the runtime's error state, not to this call.
  (void)cudaDeviceSynchronize();
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetVersion(cublasHandle_t handle, int* version) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *version = CUBLAS_VERSION;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  // Documented: setting the stream also resets the workspace to the library's default pool.
  handle->workspace = nullptr;
  handle->workspace_bytes = 0;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream(cublasHandle_t handle, cudaStream_t* stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (stream == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t handle, void* workspace, size_t bytes) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  // Documented: the pointer must be aligned to at least 256 bytes. Whether it is device memory is
  // checked when a GEMM would use it (a fault, as on the GPU).
  if (reinterpret_cast<uintptr_t>(workspace) % 256 != 0) return CUBLAS_STATUS_INVALID_VALUE;
  handle->workspace = workspace;
  handle->workspace_bytes = bytes;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  switch (mvit::emu::base_math(mode)) {
    case CUBLAS_DEFAULT_MATH:
    case CUBLAS_TENSOR_OP_MATH:
    case CUBLAS_PEDANTIC_MATH:
    case CUBLAS_TF32_TENSOR_OP_MATH:
    case CUBLAS_FP32_EMULATED_BF16X9_MATH:
    case CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH:
      break;
    default:
      return CUBLAS_STATUS_INVALID_VALUE;
  }
  handle->math_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math_mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode(cublasHandle_t handle, cublasPointerMode_t mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  handle->pointer_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetPointerMode(cublasHandle_t handle, cublasPointerMode_t* mode) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->pointer_mode;
  return CUBLAS_STATUS_SUCCESS;
}

// ---- GEMM ------------------------------------------------------------------------------------

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float* alpha,
                           const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  const GemmArgs g{"cublasSgemm", transa, transb, m, n,   k, alpha, A, lda, 0, B,
                   ldb,           0,      beta,   C, ldc, 0, 1};
  return mvit::emu::sgemm(handle, g);
}

cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k,
                                         const float* alpha, const float* A, int lda,
                                         long long strideA, const float* B, int ldb,
                                         long long strideB, const float* beta, float* C, int ldc,
                                         long long strideC, int batchCount) {
  // clang-format off
  const GemmArgs g{"cublasSgemmStridedBatched", transa, transb, m, n, k, alpha, A, lda, strideA,
                   B, ldb, strideB, beta, C, ldc, strideC, batchCount};
  // clang-format on
  return mvit::emu::sgemm(handle, g);
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C,
                            cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo) {
  const GemmArgs g{"cublasGemmEx", transa, transb, m, n, k, alpha, A, lda, 0, B, ldb, 0,
                   beta,           C,      ldc,    0, 1};
  return mvit::emu::gemm_ex(handle, g, Atype, Btype, Ctype, computeType, algo);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                          cublasOperation_t transb, int m, int n, int k,
                                          const void* alpha, const void* A, cudaDataType Atype,
                                          int lda, long long strideA, const void* B,
                                          cudaDataType Btype, int ldb, long long strideB,
                                          const void* beta, void* C, cudaDataType Ctype, int ldc,
                                          long long strideC, int batchCount,
                                          cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  // clang-format off
  const GemmArgs g{"cublasGemmStridedBatchedEx", transa, transb, m, n, k, alpha, A, lda, strideA,
                   B, ldb, strideB, beta, C, ldc, strideC, batchCount};
  // clang-format on
  return mvit::emu::gemm_ex(handle, g, Atype, Btype, Ctype, computeType, algo);
}
