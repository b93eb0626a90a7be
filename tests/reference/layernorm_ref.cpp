#include "tests/reference/layernorm_ref.h"

#include <cmath>
#include <cstddef>

namespace mvit {
namespace test {

std::vector<float> layernorm_stored_sum(DType dtype, const std::vector<float>& x,
                                        const std::vector<float>& residual) {
  if (residual.empty()) return x;
  std::vector<float> s(x.size());
  for (size_t i = 0; i < x.size(); ++i) s[i] = round_to(dtype, x[i] + residual[i]);
  return s;
}

Reference layernorm_ref(const LayerNormShape& s, const std::vector<float>& sum,
                        const std::vector<float>& gamma, const std::vector<float>& beta) {
  const size_t C = static_cast<size_t>(s.C);
  Reference r;
  r.value.resize(sum.size());
  r.scale.resize(sum.size());
  for (size_t row = 0; row < static_cast<size_t>(s.rows); ++row) {
    const float* v = sum.data() + row * C;
    double mean = 0, mean_abs = 0;
    for (size_t c = 0; c < C; ++c) mean += v[c], mean_abs += std::fabs(v[c]);
    mean /= static_cast<double>(C);
    mean_abs /= static_cast<double>(C);
    double var = 0;
    for (size_t c = 0; c < C; ++c) var += (v[c] - mean) * (v[c] - mean);
    var /= static_cast<double>(C);
    const double sd = std::sqrt(var + static_cast<double>(s.eps));
    for (size_t c = 0; c < C; ++c) {
      const double z = (v[c] - mean) / sd;
      const double b = beta.empty() ? 0.0 : beta[c];
      r.value[row * C + c] = z * gamma[c] + b;
      r.scale[row * C + c] = std::fmax(
          std::fabs(gamma[c]) * (std::fabs(z) + 1.0 + mean_abs / sd) + std::fabs(b), 1e-30);
    }
  }
  return r;
}

Reference residual_sum_ref(const std::vector<float>& x, const std::vector<float>& residual) {
  Reference r;
  r.value.resize(x.size());
  r.scale.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    r.value[i] = static_cast<double>(x[i]) + residual[i];
    r.scale[i] = std::fmax(std::fabs(static_cast<double>(x[i])) + std::fabs(residual[i]), 1e-30);
  }
  return r;
}

std::vector<float> layernorm_lowp(const LayerNormShape& s, const std::vector<float>& sum,
                                  const std::vector<float>& gamma, const std::vector<float>& beta,
                                  DType dtype) {
  const size_t C = static_cast<size_t>(s.C);
  std::vector<float> y(sum.size());
  for (size_t row = 0; row < static_cast<size_t>(s.rows); ++row) {
    const float* v = sum.data() + row * C;
    float total = 0;
    for (size_t c = 0; c < C; ++c) total += v[c];
    const float mean = total / static_cast<float>(C);
    float m2 = 0;
    for (size_t c = 0; c < C; ++c) m2 += (v[c] - mean) * (v[c] - mean);
    const float rstd = 1.0f / std::sqrt(m2 / static_cast<float>(C) + s.eps);
    for (size_t c = 0; c < C; ++c) {
      const float b = beta.empty() ? 0.0f : beta[c];
      y[row * C + c] = round_to(dtype, (v[c] - mean) * rstd * gamma[c] + b);
    }
  }
  return y;
}

}  // namespace test
}  // namespace mvit
