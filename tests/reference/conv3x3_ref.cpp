#include "tests/reference/conv3x3_ref.h"

#include <cmath>
#include <cstddef>

namespace mvit {
namespace test {
namespace {

// The smallest scale the rule divides by: an output whose every product is 0 (a corner of a
// one-channel map, say) is compared absolutely at the fp32 floor.
constexpr double kScaleFloor = 1e-30;

double act_of(Activation act, double z) {
  return act == Activation::kSilu ? z / (1.0 + std::exp(-z)) : z;
}

float act_of(Activation act, float z) {
  return act == Activation::kSilu ? z / (1.0f + std::exp(-z)) : z;
}

int stem_out(int n) {
  return (n - 1) / 2 + 1;  // floor((n + 2 * 1 - 3) / 2) + 1
}

// weight[n, c, r, s] of PyTorch's OIHW layout over Cin channels.
size_t oihw(int n, int c, int r, int s, int Cin) {
  return ((static_cast<size_t>(n) * Cin + c) * 3 + r) * 3 + s;
}

// Input channel c of the concatenation cat([in0, in1], channel) at pixel `pixel`.
float cat_at(const Conv3x3Problem& p, size_t pixel, int c) {
  return c < p.C0 ? p.in0[pixel * p.C0 + c] : p.in1[pixel * p.C1 + (c - p.C0)];
}

// The pre-activation sums of the conv over input channels [c_begin, c_end) in `Acc` precision,
// and, if `magnitude` is given, the sums of |w x| there (the scale of the tolerance rule). Taps
// outside the map contribute nothing (zero padding).
template <class Acc>
std::vector<Acc> conv_sums(const Conv3x3Problem& p, int c_begin, int c_end,
                           std::vector<Acc>* magnitude = nullptr) {
  const int Cin = p.C0 + p.C1;
  std::vector<Acc> out(static_cast<size_t>(p.B) * p.H * p.W * p.Cout);
  if (magnitude != nullptr) magnitude->assign(out.size(), 0);
  size_t i = 0;
  for (int b = 0; b < p.B; ++b) {
    for (int y = 0; y < p.H; ++y) {
      for (int x = 0; x < p.W; ++x) {
        for (int n = 0; n < p.Cout; ++n, ++i) {
          Acc sum = 0, mag = 0;
          for (int r = 0; r < 3; ++r) {
            for (int s = 0; s < 3; ++s) {
              const int iy = y + r - 1, ix = x + s - 1;
              if (iy < 0 || iy >= p.H || ix < 0 || ix >= p.W) continue;
              const size_t pixel = (static_cast<size_t>(b) * p.H + iy) * p.W + ix;
              for (int c = c_begin; c < c_end; ++c) {
                const Acc w = p.weight[oihw(n, c, r, s, Cin)];
                const Acc v = cat_at(p, pixel, c);
                sum += w * v;
                mag += std::fabs(w * v);
              }
            }
          }
          out[i] = sum;
          if (magnitude != nullptr) (*magnitude)[i] = mag;
        }
      }
    }
  }
  return out;
}

}  // namespace

Reference conv3x3_stem_ref(const std::vector<float>& x, const std::vector<float>& w,
                           const std::vector<float>& bias, int B, int H, int W, Activation act) {
  const int Ho = stem_out(H), Wo = stem_out(W);
  Reference ref;
  ref.value.resize(static_cast<size_t>(B) * Ho * Wo * 16);
  ref.scale.resize(ref.value.size());
  size_t i = 0;
  for (int b = 0; b < B; ++b) {
    for (int oy = 0; oy < Ho; ++oy) {
      for (int ox = 0; ox < Wo; ++ox) {
        for (int n = 0; n < 16; ++n, ++i) {
          double z = bias[n], scale = std::fabs(bias[n]);
          for (int c = 0; c < 3; ++c) {
            for (int r = 0; r < 3; ++r) {
              for (int s = 0; s < 3; ++s) {
                const int iy = 2 * oy - 1 + r, ix = 2 * ox - 1 + s;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const double t = static_cast<double>(w[oihw(n, c, r, s, 3)]) *
                                 x[((static_cast<size_t>(b) * 3 + c) * H + iy) * W + ix];
                z += t;
                scale += std::fabs(t);
              }
            }
          }
          ref.value[i] = act_of(act, z);
          ref.scale[i] = scale + kScaleFloor;
        }
      }
    }
  }
  return ref;
}

std::vector<float> conv3x3_stem_lowp(const std::vector<float>& x, const std::vector<float>& w,
                                     const std::vector<float>& bias, int B, int H, int W,
                                     Activation act, DType storage) {
  const int Ho = stem_out(H), Wo = stem_out(W);
  std::vector<float> out(static_cast<size_t>(B) * Ho * Wo * 16);
  size_t i = 0;
  for (int b = 0; b < B; ++b) {
    for (int oy = 0; oy < Ho; ++oy) {
      for (int ox = 0; ox < Wo; ++ox) {
        for (int n = 0; n < 16; ++n, ++i) {
          float z = bias[n];
          for (int c = 0; c < 3; ++c) {
            for (int r = 0; r < 3; ++r) {
              for (int s = 0; s < 3; ++s) {
                const int iy = 2 * oy - 1 + r, ix = 2 * ox - 1 + s;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                z += w[oihw(n, c, r, s, 3)] *
                     x[((static_cast<size_t>(b) * 3 + c) * H + iy) * W + ix];
              }
            }
          }
          out[i] = round_to(storage, act_of(act, z));
        }
      }
    }
  }
  return out;
}

Reference conv3x3_ref(const Conv3x3Problem& p) {
  const int Cin = p.C0 + p.C1;
  std::vector<double> mag;
  const std::vector<double> z = conv_sums<double>(p, 0, Cin, &mag);
  Reference ref;
  ref.value.resize(z.size());
  ref.scale.resize(z.size());
  for (size_t i = 0; i < z.size(); ++i) {
    const float bias = p.bias[i % p.Cout];
    ref.value[i] = act_of(p.act, z[i] + bias);
    ref.scale[i] = mag[i] + std::fabs(bias) + kScaleFloor;
  }
  return ref;
}

std::vector<float> conv3x3_lowp(const Conv3x3Problem& p, DType storage) {
  const std::vector<float> z = conv_sums<float>(p, 0, p.C0 + p.C1);
  std::vector<float> out(z.size());
  for (size_t i = 0; i < z.size(); ++i) {
    out[i] = round_to(storage, act_of(p.act, z[i] + p.bias[i % p.Cout]));
  }
  return out;
}

std::vector<float> conv3x3_cudnn_lowp(const Conv3x3Problem& p, DType storage) {
  std::vector<float> raw = round_to(storage, conv_sums<float>(p, 0, p.C0));
  if (p.C1 > 0) {
    const std::vector<float> second = conv_sums<float>(p, p.C0, p.C0 + p.C1);
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = round_to(storage, second[i] + raw[i]);
  }
  for (size_t i = 0; i < raw.size(); ++i) {
    raw[i] = round_to(storage, act_of(p.act, raw[i] + p.bias[i % p.Cout]));
  }
  return raw;
}

std::vector<float> split_weight_krsc(const std::vector<float>& weight, int Cout, int Cin, int first,
                                     int count) {
  std::vector<float> out(static_cast<size_t>(Cout) * 9 * count);
  for (int n = 0; n < Cout; ++n) {
    for (int r = 0; r < 3; ++r) {
      for (int s = 0; s < 3; ++s) {
        for (int c = 0; c < count; ++c) {
          out[((static_cast<size_t>(n) * 3 + r) * 3 + s) * count + c] =
              weight[oihw(n, first + c, r, s, Cin)];
        }
      }
    }
  }
  return out;
}

}  // namespace test
}  // namespace mvit
