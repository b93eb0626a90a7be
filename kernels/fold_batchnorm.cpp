#include "kernels/fold_batchnorm.h"

#include <cmath>
#include <cstddef>

#include "kernels/common/check.h"

namespace mvit {
namespace {

void check_channels(const std::vector<float>& v, const char* field, int out_channels) {
  MVIT_CHECK(v.size() == static_cast<size_t>(out_channels),
             "fold_batchnorm: %s has %zu elements, expected out_channels = %d", field, v.size(),
             out_channels);
}

}  // namespace

FoldedConv fold_batchnorm(const std::vector<float>& weight, const std::vector<float>& bias,
                          int out_channels, const BatchNorm2d& bn) {
  MVIT_CHECK(out_channels > 0, "fold_batchnorm: out_channels must be > 0, got %d", out_channels);
  const size_t cout = static_cast<size_t>(out_channels);
  MVIT_CHECK(!weight.empty() && weight.size() % cout == 0,
             "fold_batchnorm: weight has %zu elements, expected a positive multiple of "
             "out_channels = %d",
             weight.size(), out_channels);
  MVIT_CHECK(bias.empty() || bias.size() == cout,
             "fold_batchnorm: bias has %zu elements, expected 0 (no bias) or out_channels = %d",
             bias.size(), out_channels);
  check_channels(bn.gamma, "gamma", out_channels);
  check_channels(bn.beta, "beta", out_channels);
  check_channels(bn.running_mean, "running_mean", out_channels);
  check_channels(bn.running_var, "running_var", out_channels);
  for (size_t o = 0; o < cout; ++o) {
    const double denom = static_cast<double>(bn.running_var[o]) + bn.eps;
    MVIT_CHECK(denom > 0.0, "fold_batchnorm: running_var[%zu] + eps must be > 0, got %g + %g = %g",
               o, static_cast<double>(bn.running_var[o]), bn.eps, denom);
  }

  const size_t per_channel = weight.size() / cout;
  FoldedConv f;
  f.weight.resize(weight.size());
  f.bias.resize(cout);
  for (size_t o = 0; o < cout; ++o) {
    const double s = bn.gamma[o] / std::sqrt(static_cast<double>(bn.running_var[o]) + bn.eps);
    for (size_t i = o * per_channel; i < (o + 1) * per_channel; ++i) {
      f.weight[i] = static_cast<float>(weight[i] * s);
    }
    const double b = bias.empty() ? 0.0 : bias[o];
    f.bias[o] = static_cast<float>((b - bn.running_mean[o]) * s + bn.beta[o]);
  }
  return f;
}

}  // namespace mvit
