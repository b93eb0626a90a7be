#include "tests/reference/depthwise_conv_ref.h"

#include <cmath>
#include <cstdint>

namespace mvit {
namespace test {
namespace {

int out_extent(int n, int stride) {
  return (n - 1) / stride + 1;
}

// Calls f(out_index, c, tap_weight_index, x_index) for every in-bounds tap of every output, taps
// in (dy, dx) order; f_end(out_index, c) after each output's taps.
template <class Tap, class End>
void for_each_tap(const DepthwiseConvShape& s, Tap f, End f_end) {
  const int Ho = out_extent(s.H, s.stride), Wo = out_extent(s.W, s.stride);
  for (int b = 0; b < s.B; ++b) {
    for (int oy = 0; oy < Ho; ++oy) {
      for (int ox = 0; ox < Wo; ++ox) {
        for (int c = 0; c < s.C; ++c) {
          const size_t o = ((static_cast<size_t>(b) * Ho + oy) * Wo + ox) * s.C + c;
          for (int dy = 0; dy < 3; ++dy) {
            for (int dx = 0; dx < 3; ++dx) {
              const int iy = oy * s.stride + dy - 1, ix = ox * s.stride + dx - 1;
              if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;  // zero padding
              f(o, static_cast<size_t>(c) * 9 + dy * 3 + dx,
                ((static_cast<size_t>(b) * s.H + iy) * s.W + ix) * s.C + c);
            }
          }
          f_end(o, c);
        }
      }
    }
  }
}

size_t out_size(const DepthwiseConvShape& s) {
  return static_cast<size_t>(s.B) * out_extent(s.H, s.stride) * out_extent(s.W, s.stride) * s.C;
}

}  // namespace

Reference depthwise_conv_ref(const DepthwiseConvShape& s, const std::vector<float>& x,
                             const std::vector<float>& w, const std::vector<float>& bias) {
  Reference r;
  r.value.assign(out_size(s), 0.0);
  r.scale.assign(out_size(s), 0.0);
  for_each_tap(
      s,
      [&](size_t o, size_t k, size_t i) {
        const double p = static_cast<double>(w[k]) * x[i];
        r.value[o] += p;
        r.scale[o] += std::fabs(p);
      },
      [&](size_t o, int c) {
        const double b = bias.empty() ? 0.0 : bias[static_cast<size_t>(c)];
        const double z = r.value[o] + b;
        r.value[o] = s.act == Activation::kSilu ? z / (1.0 + std::exp(-z)) : z;
        r.scale[o] = std::fmax(r.scale[o] + std::fabs(b), 1e-30);
      });
  return r;
}

std::vector<float> depthwise_conv_lowp(const DepthwiseConvShape& s, const std::vector<float>& x,
                                       const std::vector<float>& w, const std::vector<float>& bias,
                                       DType dtype, bool round_conv) {
  std::vector<float> y(out_size(s), 0.0f);
  for_each_tap(
      s, [&](size_t o, size_t k, size_t i) { y[o] = std::fma(w[k], x[i], y[o]); },
      [&](size_t o, int c) {
        const float conv = round_conv ? round_to(dtype, y[o]) : y[o];
        const float z = conv + (bias.empty() ? 0.0f : bias[static_cast<size_t>(c)]);
        y[o] = round_to(dtype, s.act == Activation::kSilu ? z / (1.0f + std::exp(-z)) : z);
      });
  return y;
}

}  // namespace test
}  // namespace mvit
