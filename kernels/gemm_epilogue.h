// Pointwise (1x1) convolution or linear layer with a fused epilogue: the MV2 expand and project
// convs, the conv_1x1 that enters a MobileViT block's transformer, the conv_proj that leaves it,
// the head's 1x1 and the classifier (shared/reference/mobilevit.md sections 4.1-4.4; BatchNorm
// already folded into w and bias, kernels/fold_batchnorm.h):
//
//   y[row_y(q), j] = act(sum_{c < K} x[row_x(q), c] * w[j, c] + bias[j]) + residual[row_y(q), j]
//
// for q < M, j < N. The residual is added after the activation (the MV2 project conv has none and
// then adds the block input). Rows are pixels (or tokens): q = (b * H + y) * W + x enumerates the
// pixels in NHWC order and row_o(q) = pixel_row_of_nhwc(o, q, H, W) is the row pixel q has in
// order o (kernels/common/layout.h, Note [patch-major tokens]). So x_order = kNhwc, y_order =
// kPatchMajor is the unfold (conv_1x1 writes the transformer's tokens), x_order = kPatchMajor,
// y_order = kNhwc the fold (conv_proj reads them back): neither exists as a separate pass
// (shared/DESIGN.md section 3). When x_order == y_order the rows map to themselves and the op is an
// ordinary row-wise GEMM. Plain C++ (includable from runtime/).
//
// Implementations (GemmImpl; gemm_epilogue.cu's file comment has the kernels, tiles and numbers):
//   "wmma_fused"       our tensor-core GEMM (nvcuda::wmma 16x16x16, fp32 accumulators) with bias,
//                      activation, residual and the permute applied on the accumulators: no
//                      intermediate in global memory, one launch. f16, and bf16 on compute
//                      capability >= 8.0. vec (Dispatch) = kGemmWmmaVec = 8 when the tile loads
//                      and the output stores are 128-bit (K and N multiples of 8, x, w, y and the
//                      bias / residual present 16-byte aligned), else 1 (element-wise loads and
//                      stores, any K, N and element-aligned pointers).
//   "cublas+epilogue"  cublasGemmEx writing the raw fp32 accumulation (into the workspace, or for
//                      f32 with x_order == y_order into y itself), then one epilogue kernel
//                      (kernels/common/bias_act.h; for the fold, which bias_act cannot express, a
//                      gather epilogue of gemm_epilogue.cu); vec = the epilogue kernel's, 0 when
//                      nothing follows the GEMM (f32, x_order == y_order, no bias, activation or
//                      residual). Every dtype; f32 with allow_tf32 computes in tf32.
// kAuto (analytic, unmeasured): f32 -> cublas+epilogue; bf16 on compute capability < 8.0 ->
// cublas+epilogue; M < kGemmWmmaMinRows -> cublas+epilogue; otherwise wmma_fused.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/common/activation.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/dtype.h"
#include "kernels/common/handles.h"
#include "kernels/common/layout.h"
#include "mvit/stream.h"

namespace mvit {

enum class GemmImpl {
  kAuto,    // the analytic rule above
  kCublas,  // impl "cublas+epilogue": the benchmark baseline of the fused kernel
  kWmma,    // impl "wmma_fused"; throws for f32, and for bf16 below compute capability 8.0
};

constexpr const char* gemm_impl_name(GemmImpl i) {
  return i == GemmImpl::kAuto ? "auto" : i == GemmImpl::kCublas ? "cublas" : "wmma";
}

// Dispatch.vec of wmma_fused's 128-bit path: 8 elements of 2 bytes per access.
constexpr int kGemmWmmaVec = 8;
// kAuto sends fewer rows than one wmma fragment (the classifier at batch < 16) to cuBLAS
// (gemm_epilogue.cu, Note [selection rule]).
constexpr int64_t kGemmWmmaMinRows = 16;

struct GemmEpilogueParams {
  const void* x = nullptr;         // [M, K] rows in x_order, dtype
  const void* w = nullptr;         // [N, K] dtype: PyTorch's Linear weight / [Cout, Cin, 1, 1]
  const void* bias = nullptr;      // [N] dtype, or null
  const void* residual = nullptr;  // [M, N] rows in y_order, dtype, or null
  void* y = nullptr;               // [M, N] rows in y_order, dtype; overlaps none of the inputs
  int64_t m = 0;                   // M: pixels B * H * W, or tokens; below 2^31
  int n = 0;                       // N: output channels (16 .. 640, 1000 classes)
  int k = 0;                       // K: input channels (16 .. 640)
  // The map the rows cover; required when x_order or y_order is kPatchMajor (then m == B * H * W
  // and H, W are even), ignored when both are kNhwc.
  int B = 0, H = 0, W = 0;
  PixelOrder x_order = PixelOrder::kNhwc;
  PixelOrder y_order = PixelOrder::kNhwc;
  Activation act = Activation::kNone;
  DType dtype = DType::kF32;  // storage of x, w, bias, residual and y; accumulation is fp32
  bool allow_tf32 = false;    // f32 only: cuBLAS computes with inputs rounded to tf32
  GemmImpl impl = GemmImpl::kAuto;
};

// Whether gemm_epilogue_forward accepts p (given handles with a cuBLAS handle and
// gemm_epilogue_workspace_bytes(p) of workspace). No side effects beyond reading the current
// device's compute capability (bf16).
[[nodiscard]] bool gemm_epilogue_supported(const GemmEpilogueParams& p);

// What p.impl resolves to (kCublas or kWmma) on the current device. Throws mvit::Error naming the
// bad field when !gemm_epilogue_supported(p).
GemmImpl gemm_epilogue_select(const GemmEpilogueParams& p);

// Workspace the resolved implementation needs in LibraryHandles::workspace: M * N fp32 values
// (rounded up to 256 bytes) for cublas+epilogue unless it accumulates in y itself (f32 with
// x_order == y_order), else 0. Throws like gemm_epilogue_select.
size_t gemm_epilogue_workspace_bytes(const GemmEpilogueParams& p);

// Runs the resolved implementation on `stream`. cublas+epilogue sets handles.cublas's stream
// first and needs CUBLAS_POINTER_MODE_HOST and, for f32 without allow_tf32, a math mode that does
// not round fp32 inputs (CUBLAS_DEFAULT_MATH or CUBLAS_PEDANTIC_MATH). Throws mvit::Error naming
// the bad field (params, handle, workspace) before launching anything.
Dispatch gemm_epilogue_forward(const GemmEpilogueParams& p, const LibraryHandles& handles,
                               Stream stream);

}  // namespace mvit
