#include "tests/reference/demo_ref.h"

#include <algorithm>
#include <cmath>

namespace mvit {
namespace test {

double sum_ref(const std::vector<float>& x, size_t begin, size_t end) {
  double s = 0;
  for (size_t i = begin; i < end && i < x.size(); ++i) s += x[i];
  return s;
}

std::vector<double> transpose_ref(const std::vector<float>& in, int rows, int cols) {
  std::vector<double> out(in.size());
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c)
      out[static_cast<size_t>(c) * rows + r] = in[static_cast<size_t>(r) * cols + c];
  }
  return out;
}

std::vector<double> softmax_rows_ref(const std::vector<float>& x, int rows, int cols) {
  std::vector<double> y(x.size());
  for (int r = 0; r < rows; ++r) {
    const float* xr = &x[static_cast<size_t>(r) * cols];
    const double m = *std::max_element(xr, xr + cols);
    double s = 0;
    for (int c = 0; c < cols; ++c) s += std::exp(xr[c] - m);
    for (int c = 0; c < cols; ++c) y[static_cast<size_t>(r) * cols + c] = std::exp(xr[c] - m) / s;
  }
  return y;
}

std::vector<double> gemm_ref(const std::vector<float>& a, const std::vector<float>& b, int m, int n,
                             int k) {
  std::vector<double> c(static_cast<size_t>(m) * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int l = 0; l < k; ++l)
        s += static_cast<double>(a[static_cast<size_t>(i) * k + l]) *
             b[static_cast<size_t>(l) * n + j];
      c[static_cast<size_t>(i) * n + j] = s;
    }
  }
  return c;
}

}  // namespace test
}  // namespace mvit
