#include "tests/reference/fold_batchnorm_ref.h"

#include <cmath>
#include <cstddef>

namespace mvit {
namespace test {

std::vector<double> conv2d_ref(const Conv2dShape& s, const std::vector<double>& x,
                               const std::vector<double>& w, const std::vector<double>& bias) {
  const int Ho = s.Ho(), Wo = s.Wo();
  const int cin_g = s.Cin / s.groups, cout_g = s.Cout / s.groups;
  std::vector<double> y(static_cast<size_t>(s.B) * s.Cout * Ho * Wo);
  for (int b = 0; b < s.B; ++b) {
    for (int o = 0; o < s.Cout; ++o) {
      const int g = o / cout_g;
      for (int oy = 0; oy < Ho; ++oy) {
        for (int ox = 0; ox < Wo; ++ox) {
          double acc = bias.empty() ? 0.0 : bias[static_cast<size_t>(o)];
          for (int ci = 0; ci < cin_g; ++ci) {
            const int c = g * cin_g + ci;
            for (int ky = 0; ky < s.k; ++ky) {
              for (int kx = 0; kx < s.k; ++kx) {
                const int iy = oy * s.stride + ky - s.pad, ix = ox * s.stride + kx - s.pad;
                if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                acc += w[((static_cast<size_t>(o) * cin_g + ci) * s.k + ky) * s.k + kx] *
                       x[((static_cast<size_t>(b) * s.Cin + c) * s.H + iy) * s.W + ix];
              }
            }
          }
          y[((static_cast<size_t>(b) * s.Cout + o) * Ho + oy) * Wo + ox] = acc;
        }
      }
    }
  }
  return y;
}

std::vector<double> batchnorm2d_ref(const std::vector<double>& y, int B, int C, int HW,
                                    const BatchNorm2d& bn) {
  std::vector<double> out(y.size());
  for (int b = 0; b < B; ++b) {
    for (int c = 0; c < C; ++c) {
      const double inv_std = 1.0 / std::sqrt(static_cast<double>(bn.running_var[c]) + bn.eps);
      for (int i = 0; i < HW; ++i) {
        const size_t at = (static_cast<size_t>(b) * C + c) * HW + i;
        out[at] = (y[at] - bn.running_mean[c]) * inv_std * bn.gamma[c] + bn.beta[c];
      }
    }
  }
  return out;
}

}  // namespace test
}  // namespace mvit
