// One block of 128 threads per row: stage the row in dynamic shared memory, reduce the max and the
// sum of exp(x - max) with block_reduce (kernels/common/reduce.cuh), then normalize.
// Rows longer than 48 KiB / 4 = 12288 floats opt in to more shared memory with
// cudaFuncSetAttribute, as a GPU requires.
#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"
#include "kernels/demo/softmax_rows.h"

#include <string>

namespace mvit {
namespace demo {

namespace {
constexpr int kThreads = 128;  // 4 warps: rows in the demo are 100s of elements
// A GPU allows 48 KiB of static + dynamic shared memory per block without the opt-in attribute.
constexpr size_t kDefaultSmemBytes = 48 << 10;
constexpr size_t kStaticSmemBytes = (kThreads / kWarpSize) * sizeof(float);  // block_reduce scratch
}  // namespace

// MVIT_LAUNCH_BOUNDS takes a literal (the resource report reads it): the launcher's block.
static_assert(kThreads == 128, "MVIT_LAUNCH_BOUNDS(128) below is the launch block");

__global__ void MVIT_LAUNCH_BOUNDS(128) softmax_rows_smem_kernel(SoftmaxRowsParams p) {
  MVIT_DYNAMIC_SHARED(float, row);  // [cols]
  MVIT_SHARED(float, scratch, kThreads / kWarpSize);
  const float* x = p.x + static_cast<size_t>(blockIdx.x) * p.cols;
  float* y = p.y + static_cast<size_t>(blockIdx.x) * p.cols;
  float m = MaxOp::identity();
  for (int c = threadIdx.x; c < p.cols; c += kThreads) {
    row[c] = x[c];
    m = fmaxf(m, row[c]);
  }
  m = block_reduce<kThreads>(m, MaxOp(), scratch);
  float s = 0.0f;
  for (int c = threadIdx.x; c < p.cols; c += kThreads) {
    row[c] = __expf(row[c] - m);
    s += row[c];
  }
  s = block_reduce<kThreads>(s, SumOp(), scratch);
  const float inv = 1.0f / s;
  for (int c = threadIdx.x; c < p.cols; c += kThreads) y[c] = row[c] * inv;
}

namespace {

std::string unsupported_reason(const SoftmaxRowsParams& p) {
  if (p.rows <= 0 || p.cols <= 0) {
    return detail::format("shape must be positive, got %d x %d", p.rows, p.cols);
  }
  if (p.x == nullptr || p.y == nullptr) {
    return detail::format("null pointer (x %p, y %p)", static_cast<const void*>(p.x),
                          static_cast<void*>(p.y));
  }
  int device = 0, optin = 0;
  MVIT_CUDA_CHECK(cudaGetDevice(&device));
  MVIT_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  const size_t smem = static_cast<size_t>(p.cols) * sizeof(float);
  if (smem + kStaticSmemBytes > static_cast<size_t>(optin)) {
    return detail::format(
        "a row of %d floats (%zu bytes of shared memory) exceeds this device's %d-byte opt-in "
        "limit per block",
        p.cols, smem, optin);
  }
  return std::string();
}

}  // namespace

bool softmax_rows_supported(const SoftmaxRowsParams& p) {
  return unsupported_reason(p).empty();
}

void softmax_rows_forward(const SoftmaxRowsParams& p, Stream stream) {
  const std::string why = unsupported_reason(p);
  MVIT_CHECK(why.empty(), "softmax_rows: %s", why.c_str());
  const size_t smem = static_cast<size_t>(p.cols) * sizeof(float);
  if (smem + kStaticSmemBytes > kDefaultSmemBytes) {
    MVIT_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(softmax_rows_smem_kernel),
                                         cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         static_cast<int>(smem)));
  }
  mvit::launch(softmax_rows_smem_kernel, dim3(p.rows), dim3(kThreads), smem, stream, p);
}

}  // namespace demo
}  // namespace mvit
