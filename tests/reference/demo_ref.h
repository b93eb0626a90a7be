// Plain C++ references for the demonstration kernels: naive loops, fp64 accumulation, written
// from the definitions (not from the kernels).
#pragma once

#include <cstddef>
#include <vector>

namespace mvit {
namespace test {

// sum of x[begin, end) (end clipped to x.size()).
double sum_ref(const std::vector<float>& x, size_t begin, size_t end);

// in: [rows, cols] -> [cols, rows].
std::vector<double> transpose_ref(const std::vector<float>& in, int rows, int cols);

// y[r, c] = exp(x[r, c] - max_r) / sum_c' exp(x[r, c'] - max_r), per row of [rows, cols].
std::vector<double> softmax_rows_ref(const std::vector<float>& x, int rows, int cols);

// c[m, n] = a[m, k] * b[k, n], row-major.
std::vector<double> gemm_ref(const std::vector<float>& a, const std::vector<float>& b, int m, int n,
                             int k);

}  // namespace test
}  // namespace mvit
