// Plain C++ references for the demonstration kernels (fp64 accumulation where it matters).
#pragma once

#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace mvit {
namespace demo {

// The demos' inputs: n floats uniform in [lo, hi), reproducible from `seed`.
inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline double sum_ref(const std::vector<float>& x, size_t begin, size_t end) {
  double s = 0;
  for (size_t i = begin; i < end && i < x.size(); ++i) s += x[i];
  return s;
}

inline std::vector<float> transpose_ref(const std::vector<float>& in, int rows, int cols) {
  std::vector<float> out(in.size());
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c)
      out[static_cast<size_t>(c) * rows + r] = in[static_cast<size_t>(r) * cols + c];
  }
  return out;
}

inline std::vector<float> softmax_rows_ref(const std::vector<float>& x, int rows, int cols) {
  std::vector<float> y(x.size());
  for (int r = 0; r < rows; ++r) {
    const float* xr = &x[static_cast<size_t>(r) * cols];
    double m = *std::max_element(xr, xr + cols), s = 0;
    for (int c = 0; c < cols; ++c) s += std::exp(xr[c] - m);
    for (int c = 0; c < cols; ++c)
      y[static_cast<size_t>(r) * cols + c] = static_cast<float>(std::exp(xr[c] - m) / s);
  }
  return y;
}

// [m, k] x [k, n], row-major, half inputs, fp64 accumulation.
inline std::vector<float> gemm_ref(const std::vector<__half>& a, const std::vector<__half>& b,
                                   int m, int n, int k) {
  std::vector<float> c(static_cast<size_t>(m) * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int l = 0; l < k; ++l) {
        s += static_cast<double>(__half2float(a[static_cast<size_t>(i) * k + l])) *
             __half2float(b[static_cast<size_t>(l) * n + j]);
      }
      c[static_cast<size_t>(i) * n + j] = static_cast<float>(s);
    }
  }
  return c;
}

}  // namespace demo
}  // namespace mvit
