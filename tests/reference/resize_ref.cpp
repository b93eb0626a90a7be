#include "tests/reference/resize_ref.h"

#include <cmath>
#include <cstddef>

namespace mvit {
namespace test {
namespace {

// One axis: output coordinate dst of m, from n inputs, in precision F.
template <class F>
struct Taps {
  int i0, i1;
  F l0, l1;
};

template <class F>
Taps<F> taps(int dst, int n, int m) {
  const F scale = static_cast<F>(n) / static_cast<F>(m);
  F src = scale * (static_cast<F>(dst) + F(0.5)) - F(0.5);
  if (src < F(0)) src = F(0);
  Taps<F> t;
  t.i0 = static_cast<int>(std::floor(src));
  t.i1 = t.i0 < n - 1 ? t.i0 + 1 : n - 1;
  t.l1 = src - static_cast<F>(t.i0);
  t.l0 = F(1) - t.l1;
  return t;
}

// Calls f(out_offset, in_offsets[4], weights[4]) for every output element (offsets in elements,
// weights in the order (h0 w0, h0 w1, h1 w0, h1 w1)), with the per-axis taps in precision F.
template <class F, class Fn>
void for_each_output(const ResizeShape& s, Fn f) {
  for (int b = 0; b < s.B; ++b) {
    for (int oy = 0; oy < s.Ho; ++oy) {
      const Taps<F> ty = taps<F>(oy, s.H, s.Ho);
      for (int ox = 0; ox < s.Wo; ++ox) {
        const Taps<F> tx = taps<F>(ox, s.W, s.Wo);
        const size_t in[4] = {
            static_cast<size_t>(pixel_row(s.in_order, b, ty.i0, tx.i0, s.H, s.W)) * s.C,
            static_cast<size_t>(pixel_row(s.in_order, b, ty.i0, tx.i1, s.H, s.W)) * s.C,
            static_cast<size_t>(pixel_row(s.in_order, b, ty.i1, tx.i0, s.H, s.W)) * s.C,
            static_cast<size_t>(pixel_row(s.in_order, b, ty.i1, tx.i1, s.H, s.W)) * s.C};
        const F wgt[4] = {ty.l0, ty.l1, tx.l0, tx.l1};  // (lh0, lh1, lw0, lw1)
        const size_t out = static_cast<size_t>(pixel_row(s.out_order, b, oy, ox, s.Ho, s.Wo)) * s.C;
        for (int c = 0; c < s.C; ++c) f(out + c, in, c, wgt);
      }
    }
  }
}

size_t out_size(const ResizeShape& s) {
  return static_cast<size_t>(s.B) * s.Ho * s.Wo * s.C;
}

}  // namespace

Reference resize_ref(const ResizeShape& s, const std::vector<float>& x) {
  Reference r;
  r.value.resize(out_size(s));
  r.scale.resize(out_size(s));
  for_each_output<double>(s, [&](size_t o, const size_t(&in)[4], int c, const double(&l)[4]) {
    const double w[4] = {l[0] * l[2], l[0] * l[3], l[1] * l[2], l[1] * l[3]};
    double v = 0.0, sc = 0.0;
    for (int k = 0; k < 4; ++k) {
      v += w[k] * x[in[k] + c];
      sc += std::fabs(w[k] * x[in[k] + c]);
    }
    r.value[o] = v;
    r.scale[o] = std::fmax(sc, 1e-30);
  });
  return r;
}

std::vector<float> resize_lowp(const ResizeShape& s, const std::vector<float>& x, DType dtype) {
  std::vector<float> y(out_size(s));
  for_each_output<float>(s, [&](size_t o, const size_t(&in)[4], int c, const float(&l)[4]) {
    const float top = l[2] * x[in[0] + c] + l[3] * x[in[1] + c];
    const float bottom = l[2] * x[in[2] + c] + l[3] * x[in[3] + c];
    y[o] = round_to(dtype, l[0] * top + l[1] * bottom);
  });
  return y;
}

}  // namespace test
}  // namespace mvit
