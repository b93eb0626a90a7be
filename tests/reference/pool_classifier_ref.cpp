#include "tests/reference/pool_classifier_ref.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace mvit {
namespace test {
namespace {

// Mean (and mean of |x|) over the pixels, per image and channel, in precision F: [B, C].
template <class F>
void pool(const PoolClassifierShape& s, const std::vector<float>& x, std::vector<F>* mean,
          std::vector<F>* mean_abs) {
  const size_t hw = static_cast<size_t>(s.H) * s.W;
  mean->assign(static_cast<size_t>(s.B) * s.C, F(0));
  mean_abs->assign(mean->size(), F(0));
  for (int b = 0; b < s.B; ++b) {
    for (size_t p = 0; p < hw; ++p) {
      for (int c = 0; c < s.C; ++c) {
        const F v = x[(b * hw + p) * s.C + c];
        (*mean)[static_cast<size_t>(b) * s.C + c] += v;
        (*mean_abs)[static_cast<size_t>(b) * s.C + c] += std::fabs(v);
      }
    }
  }
  for (size_t i = 0; i < mean->size(); ++i) {
    (*mean)[i] /= static_cast<F>(hw);
    (*mean_abs)[i] /= static_cast<F>(hw);
  }
}

// Softmax of each row of `logits` [rows, cols], in precision F.
template <class F>
std::vector<F> softmax(const std::vector<float>& logits, int rows, int cols) {
  std::vector<F> out(logits.size());
  for (int r = 0; r < rows; ++r) {
    const float* l = logits.data() + static_cast<size_t>(r) * cols;
    const F m = *std::max_element(l, l + cols);
    F sum = 0;
    for (int k = 0; k < cols; ++k) sum += std::exp(static_cast<F>(l[k]) - m);
    for (int k = 0; k < cols; ++k) {
      out[static_cast<size_t>(r) * cols + k] = std::exp(static_cast<F>(l[k]) - m) / sum;
    }
  }
  return out;
}

}  // namespace

Reference pool_classifier_ref(const PoolClassifierShape& s, const std::vector<float>& x,
                              const std::vector<float>& weight, const std::vector<float>& bias) {
  std::vector<double> mean, mean_abs;
  pool(s, x, &mean, &mean_abs);
  Reference r;
  for (int b = 0; b < s.B; ++b) {
    for (int k = 0; k < s.classes; ++k) {
      double v = bias.empty() ? 0.0 : bias[k], sc = std::fabs(v);
      for (int c = 0; c < s.C; ++c) {
        const double w = weight[static_cast<size_t>(k) * s.C + c];
        v += mean[static_cast<size_t>(b) * s.C + c] * w;
        sc += mean_abs[static_cast<size_t>(b) * s.C + c] * std::fabs(w);
      }
      r.value.push_back(v);
      r.scale.push_back(std::fmax(sc, 1e-30));
    }
  }
  return r;
}

std::vector<float> pool_classifier_lowp(const PoolClassifierShape& s, const std::vector<float>& x,
                                        const std::vector<float>& weight,
                                        const std::vector<float>& bias) {
  std::vector<float> mean, mean_abs;
  pool(s, x, &mean, &mean_abs);
  std::vector<float> out;
  for (int b = 0; b < s.B; ++b) {
    for (int k = 0; k < s.classes; ++k) {
      float v = 0.0f;
      for (int c = 0; c < s.C; ++c) {
        v = std::fma(mean[static_cast<size_t>(b) * s.C + c],
                     weight[static_cast<size_t>(k) * s.C + c], v);
      }
      out.push_back(v + (bias.empty() ? 0.0f : bias[k]));
    }
  }
  return out;
}

Reference softmax_ref(const std::vector<float>& logits, int rows, int cols) {
  Reference r;
  r.value = softmax<double>(logits, rows, cols);
  r.scale = r.value;
  for (double& x : r.scale) x = std::fmax(x, 1e-30);
  return r;
}

}  // namespace test
}  // namespace mvit
