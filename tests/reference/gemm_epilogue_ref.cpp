#include "tests/reference/gemm_epilogue_ref.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>

namespace mvit {
namespace test {
namespace {

// Calls f(x_row, y_row) for every row of the op: for each pixel when the rows are pixels of a map
// (an order is patch-major), else for each row q (x_row = y_row = q).
void for_each_row(const GemmEpilogueParams& p, const std::function<void(int64_t, int64_t)>& f) {
  const bool map = p.x_order == PixelOrder::kPatchMajor || p.y_order == PixelOrder::kPatchMajor;
  if (!map) {
    for (int64_t q = 0; q < p.m; ++q) f(q, q);
    return;
  }
  for (int b = 0; b < p.B; ++b) {
    for (int y = 0; y < p.H; ++y) {
      for (int x = 0; x < p.W; ++x) {
        f(gemm_ref_pixel_row(p.x_order, b, y, x, p.H, p.W),
          gemm_ref_pixel_row(p.y_order, b, y, x, p.H, p.W));
      }
    }
  }
}

}  // namespace

int64_t gemm_ref_pixel_row(PixelOrder order, int b, int y, int x, int H, int W) {
  if (order == PixelOrder::kNhwc) return (static_cast<int64_t>(b) * H + y) * W + x;
  // mobilevit.md section 5: y = i * ph + py, x = j * pw + px with ph = pw = 2, nh = H / 2,
  // nw = W / 2; (b, c, y, x) -> [b, P = py * pw + px, N = i * nw + j, c] of [B, 4, nh * nw, C].
  const int ph = 2, pw = 2, nh = H / ph, nw = W / pw;
  const int i = y / ph, py = y % ph, j = x / pw, px = x % pw;
  const int P = py * pw + px, N = i * nw + j;
  return (static_cast<int64_t>(b) * (ph * pw) + P) * (static_cast<int64_t>(nh) * nw) + N;
}

Reference gemm_epilogue_ref(const GemmEpilogueParams& p, const GemmEpilogueHost& in) {
  const size_t out = static_cast<size_t>(p.m) * p.n;
  Reference r{std::vector<double>(out), std::vector<double>(out)};
  for_each_row(p, [&](int64_t xr, int64_t yr) {
    const float* xrow = &in.x[static_cast<size_t>(xr) * p.k];
    for (int j = 0; j < p.n; ++j) {
      const float* wrow = &in.w[static_cast<size_t>(j) * p.k];
      double z = 0, s = 0;
      for (int c = 0; c < p.k; ++c) {
        const double t = static_cast<double>(xrow[c]) * wrow[c];
        z += t;
        s += std::fabs(t);
      }
      if (!in.bias.empty()) {
        z += in.bias[j];
        s += std::fabs(in.bias[j]);
      }
      if (p.act == Activation::kSilu) z = z / (1.0 + std::exp(-z));
      const size_t o = static_cast<size_t>(yr) * p.n + j;
      if (!in.residual.empty()) {
        z += in.residual[o];
        s += std::fabs(in.residual[o]);
      }
      r.value[o] = z;
      r.scale[o] = std::max(s, 1e-30);
    }
  });
  return r;
}

std::vector<float> gemm_epilogue_lowp(const GemmEpilogueParams& p, const GemmEpilogueHost& in,
                                      DType out, bool tf32, DType intermediate) {
  std::vector<float> x = in.x, w = in.w;
  if (tf32) {
    for (float& v : x) v = round_to_tf32(v);
    for (float& v : w) v = round_to_tf32(v);
  }
  std::vector<float> y(static_cast<size_t>(p.m) * p.n);
  for_each_row(p, [&](int64_t xr, int64_t yr) {
    const float* xrow = &x[static_cast<size_t>(xr) * p.k];
    for (int j = 0; j < p.n; ++j) {
      const float* wrow = &w[static_cast<size_t>(j) * p.k];
      float acc = 0.0f;
      for (int c = 0; c < p.k; ++c) acc += xrow[c] * wrow[c];
      float v = round_to(intermediate, acc);
      if (!in.bias.empty()) v += in.bias[j];
      if (p.act == Activation::kSilu) v = v / (1.0f + std::exp(-v));
      const size_t o = static_cast<size_t>(yr) * p.n + j;
      if (!in.residual.empty()) v += in.residual[o];
      y[o] = round_to(out, v);
    }
  });
  return y;
}

}  // namespace test
}  // namespace mvit
