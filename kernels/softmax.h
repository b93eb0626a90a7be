// Row softmax: the normalisation between the two products of the cuBLAS attention path
// (kernels/attention_cublas.h), over each row of scores (shared/reference/mobilevit.md 4.2: the
// softmax over the keys of q k^T * scale):
//
//   y[r, j] = exp(scale * x[r, j] - m_r) / sum_{l < n} exp(scale * x[r, l] - m_r)
//   m_r = max_{l < n} scale * x[r, l]
//
// for r < rows, j < n. Subtracting m_r changes nothing mathematically and keeps every exp <= 1, so
// large scores (|scale * x| ~ 100 in fp16, where exp overflows fp32 past 88.7) cannot overflow.
// Non-finite input follows PyTorch's torch.softmax: a NaN anywhere in a row makes the whole row
// NaN (and touches no other row); +inf makes its row NaN (inf - inf); -inf entries get 0, and a
// row of only -inf is NaN. Plain C++ (includable from runtime/).
//
// Implementations (Dispatch.impl; softmax.cu's file comment has the layout, the instance table
// and the analytic numbers behind the choice):
//   "softmax_group_per_row"  n <= kSoftmaxGroupMaxCols: a group of 4 .. 32 lanes of one warp
//                            holds a row in registers; several rows per block.
//   "softmax_block_per_row"  n > kSoftmaxGroupMaxCols: a block of 128 threads holds a row in
//                            registers.
// Dispatch.vec = softmax_pack(x_dtype, y_dtype) (4 when either side is f32, else 8: one access of
// at most 16 bytes on each side) when n, ld_x and ld_y are multiples of it and x, y are aligned to
// a pack on both sides; otherwise 1 (element accesses: any n, ld, element-aligned pointers).
#pragma once

#include <cstdint>

#include "kernels/common/dispatch.h"
#include "kernels/common/dtype.h"
#include "mvit/stream.h"

namespace mvit {

struct SoftmaxParams {
  const void* x = nullptr;  // [rows, n], row r at x + r * ld_x elements, x_dtype
  void* y = nullptr;        // [rows, n], row r at y + r * ld_y elements, y_dtype; may equal x
                            // (in place) when x_dtype == y_dtype and ld_x == ld_y, else must not
                            // overlap x's [first, last] byte range
  int64_t rows = 0;         // >= 1; rows / rows-per-block < 2^31 (the grid)
  int n = 0;                // 1 .. kSoftmaxMaxCols
  int64_t ld_x = 0;         // 0 means n; else >= n
  int64_t ld_y = 0;         // 0 means n; else >= n
  float scale = 1.0f;       // finite (D^-0.5 in the attention)
  DType x_dtype = DType::kF32;  // f32, f16 or bf16: any pair of the two; the math is fp32
  DType y_dtype = DType::kF32;
};

// The longest row: N of the first transformer stage at a 1024x1024 input (kAttentionMaxTokens).
constexpr int kSoftmaxMaxCols = 4096;
// Rows up to this length take softmax_group_per_row (at most 32 values per lane).
constexpr int kSoftmaxGroupMaxCols = 1024;

// Elements per vector access of the vectorized path: 16 bytes of the wider of the two types.
constexpr int softmax_pack(DType x_dtype, DType y_dtype) {
  return x_dtype == DType::kF32 || y_dtype == DType::kF32 ? 4 : 8;
}

// Whether softmax_forward accepts p. No side effects.
[[nodiscard]] bool softmax_supported(const SoftmaxParams& p);
// Launches on `stream`; throws mvit::Error naming the bad field (expected and found) before
// launching anything when !softmax_supported(p).
Dispatch softmax_forward(const SoftmaxParams& p, Stream stream);

}  // namespace mvit
