// Reference of kernels/gemm_epilogue: plain loops from the op's definition (gemm_epilogue.h) and
// the unfold of shared/reference/mobilevit.md section 5, written here rather than taken from
// kernels/common/layout.h, so that the tests check layout.h too.
#pragma once

#include <vector>

#include "kernels/common/dtype.h"
#include "kernels/gemm_epilogue.h"
#include "tests/support/tolerance.h"

namespace mvit {
namespace test {

// The op's inputs on the host, as the kernel reads them (already rounded to the storage type).
// bias / residual empty when absent. x [M, K] rows in x_order, w [N, K], residual [M, N] rows in
// y_order.
struct GemmEpilogueHost {
  std::vector<float> x, w, bias, residual;
};

// fp64: value[row_y(q) * N + j] = act(sum_c x[row_x(q), c] w[j, c] + bias[j]) + residual[..],
// scale = sum_c |x w| + |bias| + |residual| (the magnitude the roundings act on). Reads from `p`
// only the shape (m, n, k, B, H, W), the orders and act; the pointers are ignored.
Reference gemm_epilogue_ref(const GemmEpilogueParams& p, const GemmEpilogueHost& in);

// The same computation in the kernel's precision (tests/support/tolerance.h): products of the
// stored inputs (tf32: each input first rounded to tf32, to nearest with ties away from zero, as
// cvt.rna and the emulated cuBLAS do) summed in fp32, the sum stored as `intermediate` (what an
// implementation writes between its GEMM and its epilogue: fp32 for both of ours), then bias,
// activation and residual in fp32 and one rounding to `out`.
std::vector<float> gemm_epilogue_lowp(const GemmEpilogueParams& p, const GemmEpilogueHost& in,
                                      DType out, bool tf32, DType intermediate = DType::kF32);

// The row pixel (b, y, x) of an H x W map has in `order`, from the unfold's definition.
int64_t gemm_ref_pixel_row(PixelOrder order, int b, int y, int x, int H, int W);

}  // namespace test
}  // namespace mvit
