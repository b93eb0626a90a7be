#include "tests/reference/softmax_ref.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "kernels/common/check.h"

namespace mvit {
namespace test {
namespace {

void check_size(const SoftmaxRefShape& s, const std::vector<float>& x) {
  MVIT_CHECK(x.size() == static_cast<size_t>(s.rows) * s.n,
             "softmax_ref: x has %zu values, rows %lld x n %d needs %zu", x.size(),
             static_cast<long long>(s.rows), s.n, static_cast<size_t>(s.rows) * s.n);
}

}  // namespace

Reference softmax_ref(const SoftmaxRefShape& s, const std::vector<float>& x) {
  check_size(s, x);
  const size_t n = static_cast<size_t>(s.n);
  Reference r;
  r.value.resize(x.size());
  r.scale.resize(x.size());
  std::vector<double> e(n);
  for (int64_t row = 0; row < s.rows; ++row) {
    const float* xr = x.data() + static_cast<size_t>(row) * n;
    double* yr = r.value.data() + static_cast<size_t>(row) * n;
    double* sr = r.scale.data() + static_cast<size_t>(row) * n;
    // The max ignores NaN (a NaN then reaches every output through the sum, as in torch).
    double m = -std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < n; ++j) m = std::fmax(m, static_cast<double>(s.scale) * xr[j]);
    double sum = 0.0;
    for (size_t j = 0; j < n; ++j) {
      e[j] = std::exp(static_cast<double>(s.scale) * xr[j] - m);
      sum += e[j];
    }
    for (size_t j = 0; j < n; ++j) {
      yr[j] = e[j] / sum;
      const double sj = std::fabs(static_cast<double>(s.scale) * xr[j]);
      sr[j] = yr[j] * (1.0 + sj + std::fabs(m)) + 1e-30;
    }
  }
  return r;
}

std::vector<float> softmax_lowp(const SoftmaxRefShape& s, const std::vector<float>& x,
                                DType y_dtype) {
  check_size(s, x);
  const size_t n = static_cast<size_t>(s.n);
  std::vector<float> y(x.size());
  for (int64_t row = 0; row < s.rows; ++row) {
    const float* xr = x.data() + static_cast<size_t>(row) * n;
    float* yr = y.data() + static_cast<size_t>(row) * n;
    float m = -std::numeric_limits<float>::infinity();
    for (size_t j = 0; j < n; ++j) m = std::fmax(m, s.scale * xr[j]);
    float sum = 0.0f;
    for (size_t j = 0; j < n; ++j) {
      yr[j] = std::exp(s.scale * xr[j] - m);
      sum += yr[j];
    }
    for (size_t j = 0; j < n; ++j) yr[j] = round_to(y_dtype, yr[j] / sum);
  }
  return y;
}

}  // namespace test
}  // namespace mvit
