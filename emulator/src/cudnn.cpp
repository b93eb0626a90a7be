// The emulated cuDNN subset: the handle, 4-d tensor, filter and 2-d convolution descriptors, the
// forward algorithm query, the workspace size and cudnnConvolutionForward, declared by the
// toolkit's cudnn.h (cuDNN 9.19) and implemented on the host with cuDNN 9's semantics:
//
//   y = alpha * conv(x, w) + beta * y                       (beta == 0: y is not read)
//   conv(x, w)[n, k, oh, ow] = sum over c, r, s of x[n, g*Cg + c, oh*u - pad_h + r*dil_h,
//                                                   ow*v - pad_w + s*dil_w] * w[k, c, r', s']
//   g = k / (K / groups), Cg = C / groups; r' = r, s' = s for CUDNN_CROSS_CORRELATION and
//   r' = R-1-r, s' = S-1-s for CUDNN_CONVOLUTION; taps outside x are zero (the padding).
//
// x and y are any positive-strided 4-d tensors (NCHW, NHWC, or cudnnSetTensor4dDescriptorEx
// strides); the filter is packed KCRS (CUDNN_TENSOR_NCHW) or KRSC (CUDNN_TENSOR_NHWC). A call is
// validated when it is made and returns cuDNN's status (Note [cudnn statuses]) with a message for
// cudnnGetLastErrorString; a valid cudnnConvolutionForward becomes one operation on the handle's
// stream (mvit::emu::enqueue), as on a GPU. The operation checks every range it touches against the
// live device allocations (DeviceFault(cudaErrorIllegalAddress), the device's sticky error, as for
// an out-of-bounds access by a cuDNN kernel) and that x, w and y are aligned to their elements
// (cudaErrorMisalignedAddress). It converts x and w to fp32 (Note [cudnn math types]), accumulates
// in fp32 (OpenBLAS for im2col'd dense and grouped convolutions, a direct loop when each group has
// one input channel), and writes y through an fp32 epilogue rounded to y's type (nearest even).
//
// cudnnGetErrorString lives in cudnn_status.cpp.
#include <cblas.h>
#include <cudnn.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common/check.h"
#include "mvit_emu/device_ops.h"
#include "mvit_emu/emu.h"
#include "number_formats.h"

// Note [cudnn statuses]
// The legacy API returns the plain category codes its reference lists (cuDNN 9.19's libraries do
// the same for these calls: probed on the host for the descriptor calls, which need no device):
// CUDNN_STATUS_BAD_PARAM for null pointers, invalid enumerants, non-positive sizes, inconsistent
// descriptors and too small a workspace (9.19's libcudnn_cnn pairs its check text
// "workSpaceSizeInBytes < requiredWorkspace" with BAD_PARAM); CUDNN_STATUS_NOT_SUPPORTED for what
// the chosen algorithm or configuration does not support (non-positive strides of x or y, y's
// spatial size not the convolution's, x, w and y of different types, an unsupported data/compute
// type pair, in-place x == y), or what the emulator does not model;
// CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH for bf16 below compute capability 8.0 (libcudnn_cnn
// pairs "(config == PSEUDO_BFLOAT16_CONFIG) && !hardware_bfloat16_supported(handle)" with it);
// CUDNN_STATUS_EXECUTION_FAILED when the operation cannot be queued (the device's sticky error). A
// null handle is BAD_PARAM, as the 9.19 library returns. Each failure records "<function>: <what
// was expected and what was found>" for cudnnGetLastErrorString; as in cuDNN 9, the text is per
// thread, a later failure replaces it, a success leaves it, and reading it (with any buffer, even
// none) clears it.
//
// Note [cudnn math types]
// FLOAT data (FLOAT_CONFIG): the cudnnMathType_t reference says CUDNN_DEFAULT_MATH permits TF32
// tensor-core operation on NVIDIA Ampere and later and CUDNN_FMA_MATH does not (before Ampere both
// use FMA kernels only; NVIDIA's TF32 announcement: "TF32 mode is the default option for AI
// training with 32-bit variables on Ampere GPU architecture", cuDNN >= 8); CUDNN_TENSOR_OP_MATH
// permits tensor cores without converting the data, which for fp32 on Ampere is TF32 again;
// CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION lets cuDNN copy fp32 data to fp16 for the tensor cores (the
// developer guide's "FP32-to-FP16 Conversion", Volta on). cuDNN chooses per shape whether to use
// what is permitted; the emulator takes the less precise choice every time, so a tolerance that
// passes here passes on any GPU:
//   DEFAULT_MATH, TENSOR_OP_MATH, compute capability >= 8.0: x and w rounded to tf32 (ties away
//     from zero, as cvt.rna.tf32.f32 and the emulated cuBLAS), unless NVIDIA_TF32_OVERRIDE=0 was
//     set when the handle was created (the variable that turns TF32 off in NVIDIA's libraries);
//   TENSOR_OP_MATH_ALLOW_CONVERSION, compute capability >= 7.0: x and w rounded to fp16
//     (__float2half_rn: overflow becomes inf);
//   FMA_MATH, or an older device: no rounding.
// HALF and BFLOAT16 data are used as stored. Accumulation is fp32 in every mode.
//
// Note [cudnn algorithms and workspace]
// The emulator runs IMPLICIT_GEMM, IMPLICIT_PRECOMP_GEMM and GEMM, all with the same arithmetic;
// they differ in what they accept and in the workspace they ask for, chosen deterministic and of
// the shape real cuDNN's needs have (so that code sizing its workspace is exercised):
//   IMPLICIT_GEMM          0 bytes;
//   IMPLICIT_PRECOMP_GEMM  the precomputed tap offsets: 4 bytes per (c, r, s) of a group, rounded
//                          up to 256 bytes (never 0);
//   GEMM                   the im2col matrix of one image and group: Cg*R*S x Ho*Wo elements of
//                          the data type, rounded up to 256 bytes; NCHW (KCRS) filters only.
// A KRSC (CUDNN_TENSOR_NHWC) filter needs x and y in HWC-packed NHWC (c stride 1, w stride C, h
// stride W*C): so the cudnnConvolutionForward reference's table of configurations for NHWC filters
// reads as remembered from cuDNN 8, and libcudnn_cnn 9.19 has an isTensorNHWC_HWCpacked(xDesc)
// check returning NOT_SUPPORTED; not confirmed on a GPU. A KCRS filter takes any strides. DIRECT
// is not implemented by cuDNN; FFT, FFT_TILING, WINOGRAD and WINOGRAD_NONFUSED are not modelled:
// all NOT_SUPPORTED. The operation fills the part of the workspace the algorithm needs with the
// poison, as the GPU's kernels leave scratch there. cudnnGetConvolutionForwardAlgorithm_v7 ranks
// IMPLICIT_PRECOMP_GEMM, IMPLICIT_GEMM, GEMM, then the rest; entries the problem cannot use come
// last with their NOT_SUPPORTED status; time is -1 (a heuristic, nothing was timed); every
// algorithm is CUDNN_DETERMINISTIC.

// What cuDNN keeps per handle. Calls read it when they are made, so a later cudnnSetStream does not
// move an operation already queued.
struct cudnnContext {
  cudaStream_t stream = nullptr;  // 0: the legacy default stream
  int cc = 90;                    // compute capability * 10 of the device when created
  bool tf32 = true;               // false when NVIDIA_TF32_OVERRIDE=0 at creation
};

// A 4-d tensor descriptor: dims and strides in (n, c, h, w) order, in elements; nb_dims 0 until
// set (cudnnGetTensor4dDescriptor then reports zeros, as cuDNN does).
struct cudnnTensorStruct {
  int nb_dims = 0;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int dims[4] = {0, 0, 0, 0};
  int strides[4] = {0, 0, 0, 0};
};

// A 4-d filter descriptor: dims (k, c, r, s); packed KCRS (NCHW) or KRSC (NHWC).
struct cudnnFilterStruct {
  int nb_dims = 0;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  int dims[4] = {0, 0, 0, 0};
};

// A 2-d convolution descriptor; array_length 0 until cudnnSetConvolution2dDescriptor.
struct cudnnConvolutionStruct {
  int array_length = 0;
  int pad[2] = {0, 0};
  int stride[2] = {0, 0};
  int dilation[2] = {0, 0};
  cudnnConvolutionMode_t mode = CUDNN_CONVOLUTION;
  cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  int groups = 1;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

namespace mvit {
namespace emu {
namespace {

// The calling thread's cudnnGetLastErrorString text. Trivially destructible: cuDNN calls made by
// static destructors at exit (after the main thread's thread_local objects are destroyed) still
// record and read it.
struct LastError {
  char text[1024];
  size_t size;
};
thread_local LastError t_last_error;

// Records "<api>: <message>" as the calling thread's last error and returns `status`.
cudnnStatus_t fail(cudnnStatus_t status, const char* api, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
cudnnStatus_t fail(cudnnStatus_t status, const char* api, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  const std::string text = std::string(api) + ": " + detail::vformat(fmt, args);
  va_end(args);
  t_last_error.size = std::min(text.size(), sizeof t_last_error.text - 1);
  std::memcpy(t_last_error.text, text.data(), t_last_error.size);
  return status;
}

const char* type_name(cudnnDataType_t t) {
  switch (t) {
    case CUDNN_DATA_FLOAT:
      return "CUDNN_DATA_FLOAT";
    case CUDNN_DATA_DOUBLE:
      return "CUDNN_DATA_DOUBLE";
    case CUDNN_DATA_HALF:
      return "CUDNN_DATA_HALF";
    case CUDNN_DATA_BFLOAT16:
      return "CUDNN_DATA_BFLOAT16";
    case CUDNN_DATA_INT8:
      return "CUDNN_DATA_INT8";
    case CUDNN_DATA_INT32:
      return "CUDNN_DATA_INT32";
    case CUDNN_DATA_FAST_FLOAT_FOR_FP8:
      return "CUDNN_DATA_FAST_FLOAT_FOR_FP8";
    default:
      return "a cudnnDataType_t without a floating-point convolution";
  }
}

const char* algo_name(cudnnConvolutionFwdAlgo_t a) {
  switch (a) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM:
      return "CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
      return "CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
      return "CUDNN_CONVOLUTION_FWD_ALGO_GEMM";
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT:
      return "CUDNN_CONVOLUTION_FWD_ALGO_DIRECT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT:
      return "CUDNN_CONVOLUTION_FWD_ALGO_FFT";
    case CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING:
      return "CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD:
      return "CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD";
    case CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED:
      return "CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED";
    default:
      return "?";
  }
}

// Every enumerator of cudnnDataType_t in cuDNN 9.19's header (0 .. CUDNN_DATA_COMPLEX_FP64).
bool valid_type(cudnnDataType_t t) {
  return static_cast<int>(t) >= CUDNN_DATA_FLOAT && static_cast<int>(t) <= CUDNN_DATA_COMPLEX_FP64;
}

bool valid_format(cudnnTensorFormat_t f) {
  return f == CUDNN_TENSOR_NCHW || f == CUDNN_TENSOR_NHWC || f == CUDNN_TENSOR_NCHW_VECT_C;
}

// The first non-positive of four sizes, as "n must be positive, got 0"; "" when all are positive.
std::string non_positive(const int (&v)[4], const char* const (&names)[4]) {
  for (int i = 0; i < 4; ++i) {
    if (v[i] <= 0) return detail::format("%s must be positive, got %d", names[i], v[i]);
  }
  return std::string();
}

// cuDNN 9.19 refuses descriptors of 2^31 or more elements with NOT_SUPPORTED (probed).
bool too_many_elements(const int (&v)[4]) {
  return int64_t{v[0]} * v[1] * v[2] * v[3] > int64_t{INT32_MAX};
}

// ---- the forward problem ------------------------------------------------------------------------

enum class Elem { kF32, kF16, kBF16 };
enum class Rounding { kNone, kTf32, kF16 };

size_t elem_bytes(Elem e) {
  return e == Elem::kF32 ? sizeof(float) : sizeof(__half);
}

// A validated (x, w, conv, y) quadruple with the convolution's geometry.
struct Problem {
  cudnnTensorStruct x, y;
  cudnnFilterStruct w;
  cudnnConvolutionStruct conv;
  int n, c, h, wd, k, r, s, groups, cg, kg, out_h, out_w;
};

// The parameter names of one entry point, for messages (the _v7 query calls them differently).
struct Names {
  const char* api;
  const char* x;
  const char* w;
  const char* y;
};

int out_size(int in, int pad, int filter, int dilation, int stride) {
  return (in + 2 * pad - ((filter - 1) * dilation + 1)) / stride + 1;
}

// The checks cudnnGetConvolution2dForwardOutputDim makes: x and w set and consistent with the
// group count, the dilated filter no larger than the padded input.
cudnnStatus_t check_geometry(const Names& nm, const cudnnConvolutionStruct* conv,
                             const cudnnTensorStruct* x, const cudnnFilterStruct* w) {
  if (conv == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "convDesc is null");
  if (x == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "%s is null", nm.x);
  if (w == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "%s is null", nm.w);
  if (x->nb_dims != 4) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api,
                "%s has not been set (cudnnSetTensor4dDescriptor): it has %d dimensions", nm.x,
                x->nb_dims);
  }
  if (w->nb_dims != 4) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api,
                "%s has not been set (cudnnSetFilter4dDescriptor): it has %d dimensions", nm.w,
                w->nb_dims);
  }
  if (conv->array_length != 2) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api,
                "convDesc has not been set (cudnnSetConvolution2dDescriptor)");
  }
  if (x->dims[1] != conv->groups * w->dims[1]) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api,
                "%s has C = %d channels, but convDesc's groupCount %d times %s's C %d is %d", nm.x,
                x->dims[1], conv->groups, nm.w, w->dims[1], conv->groups * w->dims[1]);
  }
  for (int i = 0; i < 2; ++i) {
    const int extent = (w->dims[2 + i] - 1) * conv->dilation[i] + 1;
    const int padded = x->dims[2 + i] + 2 * conv->pad[i];
    if (extent > padded) {
      return fail(CUDNN_STATUS_BAD_PARAM, nm.api,
                  "%s's %s = %d with dilation %d spans %d, more than %s's padded %s (%d + 2 * %d)",
                  nm.w, i == 0 ? "R" : "S", w->dims[2 + i], conv->dilation[i], extent, nm.x,
                  i == 0 ? "H" : "W", x->dims[2 + i], conv->pad[i]);
    }
  }
  return CUDNN_STATUS_SUCCESS;
}

// The BAD_PARAM checks every forward entry point shares; fills *p.
cudnnStatus_t check_descriptors(const Names& nm, cudnnHandle_t handle, const cudnnTensorStruct* x,
                                const cudnnFilterStruct* w, const cudnnConvolutionStruct* conv,
                                const cudnnTensorStruct* y, Problem* p) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "handle is null");
  if (cudnnStatus_t s = check_geometry(nm, conv, x, w); s != CUDNN_STATUS_SUCCESS) return s;
  if (y == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "%s is null", nm.y);
  if (y->nb_dims != 4) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api,
                "%s has not been set (cudnnSetTensor4dDescriptor): it has %d dimensions", nm.y,
                y->nb_dims);
  }
  if (w->dims[0] % conv->groups != 0) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api,
                "%s's K = %d output channels is not a multiple of convDesc's groupCount %d", nm.w,
                w->dims[0], conv->groups);
  }
  if (y->dims[0] != x->dims[0] || y->dims[1] != w->dims[0]) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api,
                "%s is N = %d, C = %d, but %s's N is %d and %s's K is %d", nm.y, y->dims[0],
                y->dims[1], nm.x, x->dims[0], nm.w, w->dims[0]);
  }
  p->x = *x, p->y = *y, p->w = *w, p->conv = *conv;
  p->n = x->dims[0], p->c = x->dims[1], p->h = x->dims[2], p->wd = x->dims[3];
  p->k = w->dims[0], p->r = w->dims[2], p->s = w->dims[3];
  p->groups = conv->groups, p->cg = w->dims[1], p->kg = p->k / p->groups;
  p->out_h = out_size(p->h, conv->pad[0], p->r, conv->dilation[0], conv->stride[0]);
  p->out_w = out_size(p->wd, conv->pad[1], p->s, conv->dilation[1], conv->stride[1]);
  return CUDNN_STATUS_SUCCESS;
}

bool valid_algo(cudnnConvolutionFwdAlgo_t a) {
  return static_cast<int>(a) >= 0 && static_cast<int>(a) < CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
}

// c stride 1, w stride C, h stride W*C.
bool hwc_packed(const cudnnTensorStruct& t) {
  return t.strides[1] == 1 && t.strides[3] == t.dims[1] && t.strides[2] == t.dims[3] * t.dims[1];
}

// The data configuration (cudnnConvolutionForward's table: x, w, y of one type; FLOAT compute)
// resolved to *elem, or why it is not supported.
cudnnStatus_t check_data_config(const Names& nm, cudnnHandle_t handle, const Problem& p, Elem* elem,
                                std::string* why) {
  const cudnnDataType_t t = p.x.type, ct = p.conv.compute;
  if (p.w.type != t || p.y.type != t) {
    *why = detail::format(
        "%s, %s and %s have the types %s, %s, %s: the forward configurations "
        "need one data type",
        nm.x, nm.w, nm.y, type_name(t), type_name(p.w.type), type_name(p.y.type));
    return CUDNN_STATUS_NOT_SUPPORTED;
  }
  if (ct == CUDNN_DATA_FLOAT && t == CUDNN_DATA_FLOAT) {
    *elem = Elem::kF32;  // FLOAT_CONFIG
  } else if (ct == CUDNN_DATA_FLOAT && t == CUDNN_DATA_HALF) {
    *elem = Elem::kF16;  // PSEUDO_HALF_CONFIG
  } else if (ct == CUDNN_DATA_FLOAT && t == CUDNN_DATA_BFLOAT16) {
    if (handle->cc < 80) {
      *why = detail::format(
          "PSEUDO_BFLOAT16_CONFIG needs compute capability >= 8.0, the handle's "
          "device has %d.%d",
          handle->cc / 10, handle->cc % 10);
      return CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH;
    }
    *elem = Elem::kBF16;
  } else {
    const bool real_config = (t == CUDNN_DATA_HALF && ct == CUDNN_DATA_HALF) ||
                             (t == CUDNN_DATA_DOUBLE && ct == CUDNN_DATA_DOUBLE);
    *why = detail::format(
        "data type %s with convDesc computeType %s %s; the emulator runs FLOAT, HALF and BFLOAT16 "
        "data with computeType CUDNN_DATA_FLOAT",
        type_name(t), type_name(ct),
        real_config ? "is a cuDNN configuration the emulator does not model"
                    : "is not a supported configuration");
    return CUDNN_STATUS_NOT_SUPPORTED;
  }
  return CUDNN_STATUS_SUCCESS;
}

// Whether `algo` runs the problem's layouts (Note [cudnn algorithms and workspace]).
cudnnStatus_t check_algo(const Names& nm, const Problem& p, cudnnConvolutionFwdAlgo_t algo,
                         std::string* why) {
  switch (algo) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM:
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
      break;
    case CUDNN_CONVOLUTION_FWD_ALGO_DIRECT:
      *why = "CUDNN_CONVOLUTION_FWD_ALGO_DIRECT is not implemented by cuDNN";
      return CUDNN_STATUS_NOT_SUPPORTED;
    default:
      *why = detail::format(
          "%s is not modelled by the emulator (it runs IMPLICIT_GEMM, "
          "IMPLICIT_PRECOMP_GEMM and GEMM)",
          algo_name(algo));
      return CUDNN_STATUS_NOT_SUPPORTED;
  }
  if (p.w.format != CUDNN_TENSOR_NHWC) return CUDNN_STATUS_SUCCESS;
  if (algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM) {
    *why = detail::format(
        "CUDNN_CONVOLUTION_FWD_ALGO_GEMM needs an NCHW (KCRS) filter; %s is "
        "NHWC (KRSC)",
        nm.w);
    return CUDNN_STATUS_NOT_SUPPORTED;
  }
  for (const auto& [td, name] : {std::make_pair(&p.x, nm.x), std::make_pair(&p.y, nm.y)}) {
    if (!hwc_packed(*td)) {
      *why = detail::format(
          "an NHWC (KRSC) filter needs %s in HWC-packed NHWC (strides n, 1, "
          "W*C, C); its n, c, h, w strides are %d, %d, %d, %d",
          name, td->strides[0], td->strides[1], td->strides[2], td->strides[3]);
      return CUDNN_STATUS_NOT_SUPPORTED;
    }
  }
  return CUDNN_STATUS_SUCCESS;
}

// What makes the problem unrunnable with `algo` (Note [cudnn statuses]); sets *why. The data and
// compute types resolve to *elem.
cudnnStatus_t check_support(const Names& nm, cudnnHandle_t handle, const Problem& p,
                            cudnnConvolutionFwdAlgo_t algo, Elem* elem, std::string* why) {
  if (cudnnStatus_t s = check_data_config(nm, handle, p, elem, why); s != CUDNN_STATUS_SUCCESS) {
    return s;
  }
  for (const auto& [td, name] : {std::make_pair(&p.x, nm.x), std::make_pair(&p.y, nm.y)}) {
    for (int i = 0; i < 4; ++i) {
      const int stride = td->strides[i];
      if (stride <= 0) {
        const char dim = "nchw"[i];
        *why = detail::format("%s has the non-positive %cStride %d", name, dim, stride);
        return CUDNN_STATUS_NOT_SUPPORTED;
      }
    }
  }
  if (p.y.dims[2] != p.out_h || p.y.dims[3] != p.out_w) {
    *why = detail::format(
        "%s is %dx%d (H x W), but the convolution gives %dx%d "
        "(cudnnGetConvolution2dForwardOutputDim)",
        nm.y, p.y.dims[2], p.y.dims[3], p.out_h, p.out_w);
    return CUDNN_STATUS_NOT_SUPPORTED;
  }
  return check_algo(nm, p, algo, why);
}

size_t round_up_256(size_t bytes) {
  return (bytes + 255) / 256 * 256;
}

// Note [cudnn algorithms and workspace].
size_t workspace_bytes(const Problem& p, cudnnConvolutionFwdAlgo_t algo, Elem elem) {
  const size_t taps = size_t(p.cg) * p.r * p.s;
  switch (algo) {
    case CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM:
      return round_up_256(taps * sizeof(int32_t));
    case CUDNN_CONVOLUTION_FWD_ALGO_GEMM:
      return round_up_256(taps * size_t(p.out_h) * p.out_w * elem_bytes(elem));
    default:
      return 0;
  }
}

// Note [cudnn math types].
Rounding input_rounding(cudnnHandle_t handle, const Problem& p, Elem elem) {
  if (elem != Elem::kF32) return Rounding::kNone;
  switch (p.conv.math) {
    case CUDNN_DEFAULT_MATH:
    case CUDNN_TENSOR_OP_MATH:
      return handle->cc >= 80 && handle->tf32 ? Rounding::kTf32 : Rounding::kNone;
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION:
      return handle->cc >= 70 ? Rounding::kF16 : Rounding::kNone;
    default:
      return Rounding::kNone;
  }
}

// ---- the operation ------------------------------------------------------------------------------

// One validated cudnnConvolutionForward, copied into the stream operation (descriptors may change
// or be destroyed once the call has returned).
struct ForwardOp {
  Problem p;
  Elem elem;
  Rounding rounding;
  const void* x;
  const void* w;
  void* y;
  float alpha, beta;
  void* workspace;
  size_t workspace_needed;

  void operator()() const;
  template <class T>
  void run() const;
};

constexpr const char* kForward = "cudnnConvolutionForward";

// Throws DeviceFault unless the strided tensor lies inside one device allocation and its base is
// aligned to its elements.
void require_tensor(const void* ptr, const int (&dims)[4], const int (&strides)[4], size_t es,
                    const char* what) {
  if (reinterpret_cast<uintptr_t>(ptr) % es != 0) {
    throw DeviceFault(cudaErrorMisalignedAddress,
                      detail::format("%s: %s %p is not aligned to its %zu-byte elements", kForward,
                                     what, ptr, es));
  }
  int64_t last = 0;
  for (int i = 0; i < 4; ++i) last += int64_t{dims[i] - 1} * strides[i];
  require_device_range(ptr, size_t(last + 1) * es, kForward, what);
}

template <class T>
float load_rounded(T v, Rounding r) {
  const float f = to_float(v);
  switch (r) {
    case Rounding::kTf32:
      return round_tf32(f);
    case Rounding::kF16:
      return round_f16(f);
    default:
      return f;
  }
}

// Filter -> fp32 [K][R][S][Cg] in cross-correlation order (flipped for CUDNN_CONVOLUTION).
template <class T>
std::vector<float> unpack_filter(const Problem& p, const T* w, Rounding rounding) {
  std::vector<float> out(size_t(p.k) * p.r * p.s * p.cg);
  const bool flip = p.conv.mode == CUDNN_CONVOLUTION;
  const bool krsc = p.w.format == CUDNN_TENSOR_NHWC;
  for (int k = 0; k < p.k; ++k) {
    for (int c = 0; c < p.cg; ++c) {
      for (int r = 0; r < p.r; ++r) {
        for (int s = 0; s < p.s; ++s) {
          const size_t src = krsc ? ((size_t(k) * p.r + r) * p.s + s) * p.cg + c
                                  : ((size_t(k) * p.cg + c) * p.r + r) * p.s + s;
          const int rr = flip ? p.r - 1 - r : r, ss = flip ? p.s - 1 - s : s;
          out[((size_t(k) * p.r + rr) * p.s + ss) * p.cg + c] = load_rounded(w[src], rounding);
        }
      }
    }
  }
  return out;
}

// Image n of x -> fp32 [H][W][C], walking the source in its own memory order.
template <class T>
void gather_image(const Problem& p, const T* x, int n, Rounding rounding, float* out) {
  const int* st = p.x.strides;
  const T* base = x + int64_t{n} * st[0];
  const bool channels_inner = st[1] <= st[3];
  for (int a = 0; a < (channels_inner ? p.h : p.c); ++a) {
    for (int b = 0; b < (channels_inner ? p.wd : p.h); ++b) {
      for (int i = 0; i < (channels_inner ? p.c : p.wd); ++i) {
        const int c = channels_inner ? i : a, h = channels_inner ? a : b,
                  w = channels_inner ? b : i;
        out[(size_t(h) * p.wd + w) * p.c + c] = load_rounded(
            base[int64_t{c} * st[1] + int64_t{h} * st[2] + int64_t{w} * st[3]], rounding);
      }
    }
  }
}

// acc[P][K] = conv of one image when every group has one input channel (depthwise): for each
// output pixel and tap, acc[k] += x[k / Kg] * w[k], contiguous in k.
void depthwise_image(const Problem& p, const float* xf, const float* wt, float* acc) {
  const int K = p.k;
  std::vector<int> group_of(K);
  for (int k = 0; k < K; ++k) group_of[k] = k / p.kg;
  for (int oh = 0; oh < p.out_h; ++oh) {
    for (int ow = 0; ow < p.out_w; ++ow) {
      float* a = acc + (size_t(oh) * p.out_w + ow) * K;
      std::fill(a, a + K, 0.0f);
      for (int r = 0; r < p.r; ++r) {
        const int ih = oh * p.conv.stride[0] - p.conv.pad[0] + r * p.conv.dilation[0];
        if (ih < 0 || ih >= p.h) continue;
        for (int s = 0; s < p.s; ++s) {
          const int iw = ow * p.conv.stride[1] - p.conv.pad[1] + s * p.conv.dilation[1];
          if (iw < 0 || iw >= p.wd) continue;
          const float* xp = xf + (size_t(ih) * p.wd + iw) * p.c;
          const float* wp = wt + (size_t(r) * p.s + s) * K;
          if (p.kg == 1) {
            for (int k = 0; k < K; ++k) a[k] += xp[k] * wp[k];
          } else {
            for (int k = 0; k < K; ++k) a[k] += xp[group_of[k]] * wp[k];
          }
        }
      }
    }
  }
}

// The im2col matrix is built this many floats (16 MiB) at a time. Not tuned for speed (OpenBLAS's
// own blocking decides that); it bounds the host scratch: one 8x32x32x96 image's whole matrix (864
// taps x 1024 pixels, 3.4 MiB) fits in one block, a 256x256 map with 9 x 64 taps (144 MiB) would
// not.
constexpr size_t kColumnFloats = size_t{1} << 22;

// acc[P][K] = conv of one image, per group: im2col rows [P, R*S*Cg] times the group's filter rows
// [Kg, R*S*Cg] transposed, with OpenBLAS.
void gemm_image(const Problem& p, const float* xf, const float* wf, float* acc) {
  const size_t q = size_t(p.r) * p.s * p.cg;
  const int pixels = p.out_h * p.out_w;
  const int block = int(std::clamp<size_t>(kColumnFloats / q, 1, size_t(pixels)));
  std::vector<float> col(size_t(block) * q);
  for (int g = 0; g < p.groups; ++g) {
    for (int p0 = 0; p0 < pixels; p0 += block) {
      const int rows = std::min(block, pixels - p0);
      for (int i = 0; i < rows; ++i) {
        const int oh = (p0 + i) / p.out_w, ow = (p0 + i) % p.out_w;
        for (int r = 0; r < p.r; ++r) {
          const int ih = oh * p.conv.stride[0] - p.conv.pad[0] + r * p.conv.dilation[0];
          for (int s = 0; s < p.s; ++s) {
            const int iw = ow * p.conv.stride[1] - p.conv.pad[1] + s * p.conv.dilation[1];
            float* dst = col.data() + size_t(i) * q + (size_t(r) * p.s + s) * p.cg;
            if (ih < 0 || ih >= p.h || iw < 0 || iw >= p.wd) {
              std::fill(dst, dst + p.cg, 0.0f);
            } else {
              std::memcpy(dst, xf + (size_t(ih) * p.wd + iw) * p.c + size_t(g) * p.cg,
                          sizeof(float) * p.cg);
            }
          }
        }
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, p.kg, int(q), 1.0f, col.data(),
                  int(q), wf + size_t(g) * p.kg * q, int(q), 0.0f,
                  acc + size_t(p0) * p.k + size_t(g) * p.kg, p.k);
    }
  }
}

template <class T>
void ForwardOp::run() const {
  const T* xs = static_cast<const T*>(x);
  T* ys = static_cast<T*>(y);
  const std::vector<float> wf = unpack_filter(p, static_cast<const T*>(w), rounding);
  const bool direct = p.cg == 1;
  std::vector<float> wt;  // direct: [R][S][K]
  if (direct) {
    wt.resize(wf.size());
    for (int k = 0; k < p.k; ++k) {
      for (int rs = 0; rs < p.r * p.s; ++rs) {
        wt[size_t(rs) * p.k + k] = wf[size_t(k) * p.r * p.s + rs];
      }
    }
  }
  std::vector<float> xf(size_t(p.h) * p.wd * p.c);
  std::vector<float> acc(size_t(p.out_h) * p.out_w * p.k);
  const int* ys_st = p.y.strides;
  for (int n = 0; n < p.n; ++n) {
    gather_image(p, xs, n, rounding, xf.data());
    if (direct) {
      depthwise_image(p, xf.data(), wt.data(), acc.data());
    } else {
      gemm_image(p, xf.data(), wf.data(), acc.data());
    }
    // y = alpha * acc + beta * y in fp32, rounded to T; beta == 0 does not read y.
    for (int oh = 0; oh < p.out_h; ++oh) {
      for (int ow = 0; ow < p.out_w; ++ow) {
        const float* a = acc.data() + (size_t(oh) * p.out_w + ow) * p.k;
        T* yp = ys + int64_t{n} * ys_st[0] + int64_t{oh} * ys_st[2] + int64_t{ow} * ys_st[3];
        for (int k = 0; k < p.k; ++k) {
          float v = alpha * a[k];
          if (beta != 0.0f) v += beta * to_float(yp[int64_t{k} * ys_st[1]]);
          yp[int64_t{k} * ys_st[1]] = from_float<T>(v);
        }
      }
    }
  }
}

void ForwardOp::operator()() const {
  count_op(OpKind::kCudnn, kForward);
  // OpenBLAS single-threaded, as in the emulated cuBLAS (GemmOp): concurrency comes from the
  // emulator's streams.
  static const bool single_threaded = [] {
    openblas_set_num_threads(1);
    return true;
  }();
  (void)single_threaded;
  const size_t es = elem_bytes(elem);
  const int filter_strides[4] = {1, 1, 1, 1};  // packed: the span is the element count
  const int filter_dims[4] = {p.k * p.cg * p.r * p.s, 1, 1, 1};
  require_tensor(x, p.x.dims, p.x.strides, es, "x");
  require_tensor(w, filter_dims, filter_strides, es, "w");
  require_tensor(y, p.y.dims, p.y.strides, es, "y");
  if (workspace_needed > 0) {
    require_device_range(workspace, workspace_needed, kForward, "workSpace");
    fill_poison(workspace, workspace_needed);
  }
  switch (elem) {
    case Elem::kF32:
      run<float>();
      break;
    case Elem::kF16:
      run<__half>();
      break;
    case Elem::kBF16:
      run<__nv_bfloat16>();
      break;
  }
}

// The algorithms in the order cudnnGetConvolutionForwardAlgorithm_v7 ranks them.
constexpr cudnnConvolutionFwdAlgo_t kRanking[CUDNN_CONVOLUTION_FWD_ALGO_COUNT] = {
    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM,
    CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
    CUDNN_CONVOLUTION_FWD_ALGO_DIRECT,
    CUDNN_CONVOLUTION_FWD_ALGO_FFT,
    CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING,
    CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD,
    CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED};

}  // namespace
}  // namespace emu
}  // namespace mvit

using mvit::emu::fail;

// ---- version, errors, handle --------------------------------------------------------------------

size_t cudnnGetVersion(void) {
  return CUDNN_VERSION;
}

void cudnnGetLastErrorString(char* message, size_t max_size) {
  mvit::emu::LastError& last = mvit::emu::t_last_error;
  if (message != nullptr && max_size > 0) {
    const size_t n = std::min(last.size, max_size - 1);
    std::memcpy(message, last.text, n);
    message[n] = '\0';
  }
  last.size = 0;
}

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreate", "handle is null");
  // cudnnDestroy synchronizes the device, also when a static's destructor calls it.
  mvit::emu::ensure_runtime_started();
  auto* h = new cudnnContext();
  const mvit::emu::Config c = mvit::emu::config();
  h->cc = c.cc_major * 10 + c.cc_minor;
  const char* tf32 = std::getenv("NVIDIA_TF32_OVERRIDE");
  h->tf32 = tf32 == nullptr || std::strcmp(tf32, "0") != 0;
  *handle = h;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) {
  // cuDNN 9.19 returns success for a null handle (probed).
  if (handle == nullptr) return CUDNN_STATUS_SUCCESS;
  // Documented: releasing the handle's resources implicitly calls cudaDeviceSynchronize(). Its
  // status belongs to the runtime's error state, not to this call.
  (void)cudaDeviceSynchronize();
  delete handle;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnSetStream", "handle is null");
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetStream(cudnnHandle_t handle, cudaStream_t* stream) {
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, "cudnnGetStream", "handle is null");
  if (stream == nullptr) {
    return fail(CUDNN_STATUS_BAD_PARAM, "cudnnGetStream", "streamId is null");
  }
  *stream = handle->stream;
  return CUDNN_STATUS_SUCCESS;
}

// ---- tensor descriptors -------------------------------------------------------------------------

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* desc) {
  if (desc == nullptr) {
    return fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateTensorDescriptor", "tensorDesc is null");
  }
  *desc = new cudnnTensorStruct();
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t desc) {
  delete desc;  // null: success, as in cuDNN
  return CUDNN_STATUS_SUCCESS;
}

namespace {

// The checks both 4-d tensor setters make on the descriptor, the type and the sizes.
cudnnStatus_t check_tensor4d(const char* api, cudnnTensorDescriptor_t desc, cudnnDataType_t type,
                             const int (&dims)[4]) {
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "tensorDesc is null");
  if (!mvit::emu::valid_type(type)) {
    return fail(CUDNN_STATUS_BAD_PARAM, api, "dataType %d is not a cudnnDataType_t",
                static_cast<int>(type));
  }
  static const char* const names[4] = {"n", "c", "h", "w"};
  if (std::string why = mvit::emu::non_positive(dims, names); !why.empty()) {
    return fail(CUDNN_STATUS_BAD_PARAM, api, "%s", why.c_str());
  }
  if (mvit::emu::too_many_elements(dims)) {
    return fail(CUDNN_STATUS_NOT_SUPPORTED, api,
                "n*c*h*w = %d*%d*%d*%d is 2^31 elements or more, which cuDNN does not support",
                dims[0], dims[1], dims[2], dims[3]);
  }
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t desc, cudnnTensorFormat_t format,
                                         cudnnDataType_t type, int n, int c, int h, int w) {
  constexpr const char* api = "cudnnSetTensor4dDescriptor";
  if (desc != nullptr && !mvit::emu::valid_format(format)) {
    return fail(CUDNN_STATUS_BAD_PARAM, api,
                "format %d is not CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NHWC or CUDNN_TENSOR_NCHW_VECT_C",
                static_cast<int>(format));
  }
  const int dims[4] = {n, c, h, w};
  if (cudnnStatus_t s = check_tensor4d(api, desc, type, dims); s != CUDNN_STATUS_SUCCESS) return s;
  if (format == CUDNN_TENSOR_NCHW_VECT_C) {
    return fail(CUDNN_STATUS_NOT_SUPPORTED, api,
                "format CUDNN_TENSOR_NCHW_VECT_C is not modelled by the emulator (NCHW and NHWC "
                "are)");
  }
  desc->nb_dims = 4;
  desc->type = type;
  std::copy(dims, dims + 4, desc->dims);
  if (format == CUDNN_TENSOR_NCHW) {
    const int strides[4] = {c * h * w, h * w, w, 1};
    std::copy(strides, strides + 4, desc->strides);
  } else {
    const int strides[4] = {h * w * c, 1, w * c, c};
    std::copy(strides, strides + 4, desc->strides);
  }
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t desc, cudnnDataType_t type,
                                           int n, int c, int h, int w, int nStride, int cStride,
                                           int hStride, int wStride) {
  constexpr const char* api = "cudnnSetTensor4dDescriptorEx";
  const int dims[4] = {n, c, h, w};
  if (cudnnStatus_t s = check_tensor4d(api, desc, type, dims); s != CUDNN_STATUS_SUCCESS) return s;
  const int strides[4] = {nStride, cStride, hStride, wStride};
  for (int i = 0; i < 4; ++i) {
    // cuDNN 9.19's check: (strideA[i] == 0) && (dimA[i] != 1). Negative strides are accepted here
    // and refused by the operations (NOT_SUPPORTED).
    if (strides[i] == 0 && dims[i] != 1) {
      return fail(CUDNN_STATUS_BAD_PARAM, api,
                  "%cStride is 0 but %c is %d (a zero stride is allowed only for a size of 1)",
                  "nchw"[i], "nchw"[i], dims[i]);
    }
  }
  desc->nb_dims = 4;
  desc->type = type;
  std::copy(dims, dims + 4, desc->dims);
  std::copy(strides, strides + 4, desc->strides);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetTensor4dDescriptor(const cudnnTensorDescriptor_t desc, cudnnDataType_t* type,
                                         int* n, int* c, int* h, int* w, int* nStride, int* cStride,
                                         int* hStride, int* wStride) {
  constexpr const char* api = "cudnnGetTensor4dDescriptor";
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "tensorDesc is null");
  int* outs[8] = {n, c, h, w, nStride, cStride, hStride, wStride};
  if (type == nullptr || std::count(outs, outs + 8, nullptr) > 0) {
    return fail(CUDNN_STATUS_BAD_PARAM, api, "an output pointer is null");
  }
  *type = desc->type;
  for (int i = 0; i < 4; ++i) {
    *outs[i] = desc->dims[i];
    *outs[4 + i] = desc->strides[i];
  }
  return CUDNN_STATUS_SUCCESS;
}

// ---- filter descriptors -------------------------------------------------------------------------

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* desc) {
  if (desc == nullptr) {
    return fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateFilterDescriptor", "filterDesc is null");
  }
  *desc = new cudnnFilterStruct();
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t desc) {
  delete desc;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t desc, cudnnDataType_t type,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w) {
  constexpr const char* api = "cudnnSetFilter4dDescriptor";
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "filterDesc is null");
  if (!mvit::emu::valid_type(type)) {
    return fail(CUDNN_STATUS_BAD_PARAM, api, "dataType %d is not a cudnnDataType_t",
                static_cast<int>(type));
  }
  if (!mvit::emu::valid_format(format)) {
    return fail(CUDNN_STATUS_BAD_PARAM, api,
                "format %d is not CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NHWC or CUDNN_TENSOR_NCHW_VECT_C",
                static_cast<int>(format));
  }
  const int dims[4] = {k, c, h, w};
  static const char* const names[4] = {"k", "c", "h", "w"};
  if (std::string why = mvit::emu::non_positive(dims, names); !why.empty()) {
    return fail(CUDNN_STATUS_BAD_PARAM, api, "%s", why.c_str());
  }
  if (mvit::emu::too_many_elements(dims)) {
    return fail(CUDNN_STATUS_NOT_SUPPORTED, api,
                "k*c*h*w = %d*%d*%d*%d is 2^31 elements or more, which cuDNN does not support", k,
                c, h, w);
  }
  if (format == CUDNN_TENSOR_NCHW_VECT_C) {
    return fail(CUDNN_STATUS_NOT_SUPPORTED, api,
                "format CUDNN_TENSOR_NCHW_VECT_C is not modelled by the emulator (NCHW = KCRS and "
                "NHWC = KRSC are)");
  }
  desc->nb_dims = 4;
  desc->type = type;
  desc->format = format;
  std::copy(dims, dims + 4, desc->dims);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetFilter4dDescriptor(const cudnnFilterDescriptor_t desc, cudnnDataType_t* type,
                                         cudnnTensorFormat_t* format, int* k, int* c, int* h,
                                         int* w) {
  constexpr const char* api = "cudnnGetFilter4dDescriptor";
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "filterDesc is null");
  if (type == nullptr || format == nullptr || k == nullptr || c == nullptr || h == nullptr ||
      w == nullptr) {
    return fail(CUDNN_STATUS_BAD_PARAM, api, "an output pointer is null");
  }
  *type = desc->type;
  *format = desc->format;
  *k = desc->dims[0], *c = desc->dims[1], *h = desc->dims[2], *w = desc->dims[3];
  return CUDNN_STATUS_SUCCESS;
}

// ---- convolution descriptors --------------------------------------------------------------------

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* desc) {
  if (desc == nullptr) {
    return fail(CUDNN_STATUS_BAD_PARAM, "cudnnCreateConvolutionDescriptor", "convDesc is null");
  }
  *desc = new cudnnConvolutionStruct();
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t desc) {
  delete desc;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t desc, int pad_h,
                                              int pad_w, int u, int v, int dilation_h,
                                              int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t computeType) {
  constexpr const char* api = "cudnnSetConvolution2dDescriptor";
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "convDesc is null");
  const std::pair<const char*, int> values[] = {
      {"pad_h", pad_h},           {"pad_w", pad_w},
      {"u (vertical stride)", u}, {"v (horizontal stride)", v},
      {"dilation_h", dilation_h}, {"dilation_w", dilation_w}};
  for (int i = 0; i < 6; ++i) {
    const bool pad = i < 2;
    if (pad ? values[i].second < 0 : values[i].second <= 0) {
      return fail(CUDNN_STATUS_BAD_PARAM, api, "%s must be %s, got %d", values[i].first,
                  pad ? ">= 0" : "positive", values[i].second);
    }
  }
  if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) {
    return fail(CUDNN_STATUS_BAD_PARAM, api,
                "mode %d is not CUDNN_CONVOLUTION or CUDNN_CROSS_CORRELATION",
                static_cast<int>(mode));
  }
  // The compute types cuDNN 9.19 accepts here (its check lists exactly these).
  if (computeType != CUDNN_DATA_FLOAT && computeType != CUDNN_DATA_DOUBLE &&
      computeType != CUDNN_DATA_HALF && computeType != CUDNN_DATA_INT32 &&
      computeType != CUDNN_DATA_FAST_FLOAT_FOR_FP8) {
    return fail(CUDNN_STATUS_BAD_PARAM, api,
                "computeType %s (%d) is not a convolution compute type (FLOAT, DOUBLE, HALF, "
                "INT32, FAST_FLOAT_FOR_FP8)",
                mvit::emu::type_name(computeType), static_cast<int>(computeType));
  }
  desc->array_length = 2;
  desc->pad[0] = pad_h, desc->pad[1] = pad_w;
  desc->stride[0] = u, desc->stride[1] = v;
  desc->dilation[0] = dilation_h, desc->dilation[1] = dilation_w;
  desc->mode = mode;
  desc->compute = computeType;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dDescriptor(const cudnnConvolutionDescriptor_t desc, int* pad_h,
                                              int* pad_w, int* u, int* v, int* dilation_h,
                                              int* dilation_w, cudnnConvolutionMode_t* mode,
                                              cudnnDataType_t* computeType) {
  constexpr const char* api = "cudnnGetConvolution2dDescriptor";
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "convDesc is null");
  int* outs[6] = {pad_h, pad_w, u, v, dilation_h, dilation_w};
  if (mode == nullptr || computeType == nullptr || std::count(outs, outs + 6, nullptr) > 0) {
    return fail(CUDNN_STATUS_BAD_PARAM, api, "an output pointer is null");
  }
  *pad_h = desc->pad[0], *pad_w = desc->pad[1];
  *u = desc->stride[0], *v = desc->stride[1];
  *dilation_h = desc->dilation[0], *dilation_w = desc->dilation[1];
  *mode = desc->mode;
  *computeType = desc->compute;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t desc, int groupCount) {
  constexpr const char* api = "cudnnSetConvolutionGroupCount";
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "convDesc is null");
  if (groupCount < 1) {
    return fail(CUDNN_STATUS_BAD_PARAM, api, "groupCount must be >= 1, got %d", groupCount);
  }
  desc->groups = groupCount;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionGroupCount(cudnnConvolutionDescriptor_t desc, int* groupCount) {
  constexpr const char* api = "cudnnGetConvolutionGroupCount";
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "convDesc is null");
  if (groupCount == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "groupCount is null");
  *groupCount = desc->groups;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t desc,
                                          cudnnMathType_t mathType) {
  constexpr const char* api = "cudnnSetConvolutionMathType";
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "convDesc is null");
  if (static_cast<int>(mathType) < CUDNN_DEFAULT_MATH ||
      static_cast<int>(mathType) > CUDNN_FMA_MATH) {
    return fail(CUDNN_STATUS_BAD_PARAM, api,
                "mathType %d is not a cudnnMathType_t (DEFAULT, TENSOR_OP, "
                "TENSOR_OP_ALLOW_CONVERSION, FMA)",
                static_cast<int>(mathType));
  }
  desc->math = mathType;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionMathType(cudnnConvolutionDescriptor_t desc,
                                          cudnnMathType_t* mathType) {
  constexpr const char* api = "cudnnGetConvolutionMathType";
  if (desc == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "convDesc is null");
  if (mathType == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "mathType is null");
  *mathType = desc->math;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t convDesc,
                                                    const cudnnTensorDescriptor_t inputTensorDesc,
                                                    const cudnnFilterDescriptor_t filterDesc,
                                                    int* n, int* c, int* h, int* w) {
  const mvit::emu::Names nm{"cudnnGetConvolution2dForwardOutputDim", "inputTensorDesc",
                            "filterDesc", ""};
  if (cudnnStatus_t s = mvit::emu::check_geometry(nm, convDesc, inputTensorDesc, filterDesc);
      s != CUDNN_STATUS_SUCCESS) {
    return s;
  }
  if (n == nullptr || c == nullptr || h == nullptr || w == nullptr) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "an output pointer is null");
  }
  const cudnnConvolutionStruct& cv = *convDesc;
  *n = inputTensorDesc->dims[0];
  *c = filterDesc->dims[0];
  *h = mvit::emu::out_size(inputTensorDesc->dims[2], cv.pad[0], filterDesc->dims[2], cv.dilation[0],
                           cv.stride[0]);
  *w = mvit::emu::out_size(inputTensorDesc->dims[3], cv.pad[1], filterDesc->dims[3], cv.dilation[1],
                           cv.stride[1]);
  return CUDNN_STATUS_SUCCESS;
}

// ---- the forward convolution --------------------------------------------------------------------

cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t handle, int* count) {
  constexpr const char* api = "cudnnGetConvolutionForwardAlgorithmMaxCount";
  if (handle == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "handle is null");
  if (count == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, api, "count is null");
  *count = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc,
    const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionFwdAlgoPerf_t* perfResults) {
  using namespace mvit::emu;
  const Names nm{"cudnnGetConvolutionForwardAlgorithm_v7", "srcDesc", "filterDesc", "destDesc"};
  Problem p{};
  if (cudnnStatus_t s = check_descriptors(nm, handle, srcDesc, filterDesc, convDesc, destDesc, &p);
      s != CUDNN_STATUS_SUCCESS) {
    return s;
  }
  if (returnedAlgoCount == nullptr || perfResults == nullptr) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "%s is null",
                returnedAlgoCount == nullptr ? "returnedAlgoCount" : "perfResults");
  }
  if (requestedAlgoCount <= 0) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "requestedAlgoCount must be positive, got %d",
                requestedAlgoCount);
  }
  std::vector<cudnnConvolutionFwdAlgoPerf_t> usable, unusable;
  for (cudnnConvolutionFwdAlgo_t algo : kRanking) {
    cudnnConvolutionFwdAlgoPerf_t r{};
    r.algo = algo;
    Elem elem = Elem::kF32;
    std::string why;
    r.status = check_support(nm, handle, p, algo, &elem, &why);
    r.time = -1.0f;
    r.memory = r.status == CUDNN_STATUS_SUCCESS ? workspace_bytes(p, algo, elem) : 0;
    r.determinism = CUDNN_DETERMINISTIC;
    r.mathType = p.conv.math;
    (r.status == CUDNN_STATUS_SUCCESS ? usable : unusable).push_back(r);
  }
  usable.insert(usable.end(), unusable.begin(), unusable.end());
  const int count = std::min(requestedAlgoCount, int(usable.size()));
  std::copy(usable.begin(), usable.begin() + count, perfResults);
  *returnedAlgoCount = count;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc,
    const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc,
    cudnnConvolutionFwdAlgo_t algo, size_t* sizeInBytes) {
  using namespace mvit::emu;
  const Names nm{"cudnnGetConvolutionForwardWorkspaceSize", "xDesc", "wDesc", "yDesc"};
  Problem p{};
  if (cudnnStatus_t s = check_descriptors(nm, handle, xDesc, wDesc, convDesc, yDesc, &p);
      s != CUDNN_STATUS_SUCCESS) {
    return s;
  }
  if (sizeInBytes == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "sizeInBytes is null");
  if (!valid_algo(algo)) {
    return fail(CUDNN_STATUS_BAD_PARAM, nm.api, "algo %d is not a cudnnConvolutionFwdAlgo_t",
                static_cast<int>(algo));
  }
  Elem elem = Elem::kF32;
  std::string why;
  if (cudnnStatus_t s = check_support(nm, handle, p, algo, &elem, &why);
      s != CUDNN_STATUS_SUCCESS) {
    return fail(s, nm.api, "%s", why.c_str());
  }
  *sizeInBytes = workspace_bytes(p, algo, elem);
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha,
                                      const cudnnTensorDescriptor_t xDesc, const void* x,
                                      const cudnnFilterDescriptor_t wDesc, const void* w,
                                      const cudnnConvolutionDescriptor_t convDesc,
                                      cudnnConvolutionFwdAlgo_t algo, void* workSpace,
                                      size_t workSpaceSizeInBytes, const void* beta,
                                      const cudnnTensorDescriptor_t yDesc, void* y) {
  using namespace mvit::emu;
  const Names nm{kForward, "xDesc", "wDesc", "yDesc"};
  ForwardOp op{};
  if (cudnnStatus_t s = check_descriptors(nm, handle, xDesc, wDesc, convDesc, yDesc, &op.p);
      s != CUDNN_STATUS_SUCCESS) {
    return s;
  }
  const std::pair<const char*, const void*> pointers[] = {
      {"alpha", alpha}, {"beta", beta}, {"x", x}, {"w", w}, {"y", y}};
  for (const auto& [name, ptr] : pointers) {
    if (ptr == nullptr) return fail(CUDNN_STATUS_BAD_PARAM, kForward, "%s is null", name);
  }
  for (const auto& [name, ptr] : {std::make_pair("alpha", alpha), std::make_pair("beta", beta)}) {
    if (is_device_range(ptr, sizeof(float))) {
      return fail(CUDNN_STATUS_BAD_PARAM, kForward,
                  "%s %p is device memory; cuDNN reads alpha and beta from host memory", name, ptr);
    }
  }
  if (!valid_algo(algo)) {
    return fail(CUDNN_STATUS_BAD_PARAM, kForward, "algo %d is not a cudnnConvolutionFwdAlgo_t",
                static_cast<int>(algo));
  }
  std::string why;
  if (cudnnStatus_t s = check_support(nm, handle, op.p, algo, &op.elem, &why);
      s != CUDNN_STATUS_SUCCESS) {
    return fail(s, kForward, "%s", why.c_str());
  }
  if (x == y) {
    return fail(CUDNN_STATUS_NOT_SUPPORTED, kForward,
                "x and y are the same pointer %p: the convolution does not run in place", x);
  }
  op.workspace_needed = workspace_bytes(op.p, algo, op.elem);
  if (workSpaceSizeInBytes < op.workspace_needed) {
    return fail(CUDNN_STATUS_BAD_PARAM, kForward,
                "workSpaceSizeInBytes is %zu, but %s needs %zu here "
                "(cudnnGetConvolutionForwardWorkspaceSize)",
                workSpaceSizeInBytes, algo_name(algo), op.workspace_needed);
  }
  if (op.workspace_needed > 0 && workSpace == nullptr) {
    return fail(CUDNN_STATUS_BAD_PARAM, kForward, "workSpace is null, but %s needs %zu bytes",
                algo_name(algo), op.workspace_needed);
  }
  op.rounding = input_rounding(handle, op.p, op.elem);
  op.x = x, op.w = w, op.y = y;
  // FLOAT, HALF and BFLOAT16 data scale by host floats, read when the call is made.
  op.alpha = *static_cast<const float*>(alpha);
  op.beta = *static_cast<const float*>(beta);
  op.workspace = workSpace;
  if (enqueue(handle->stream, op, kForward) != cudaSuccess) {
    return fail(CUDNN_STATUS_EXECUTION_FAILED, kForward,
                "the operation could not be queued on the handle's stream (the device has a "
                "sticky error or the stream is capturing illegally)");
  }
  return CUDNN_STATUS_SUCCESS;
}
