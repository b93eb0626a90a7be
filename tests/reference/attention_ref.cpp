#include "tests/reference/attention_ref.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace mvit {
namespace test {
namespace {

size_t at(const AttentionShape& s, int seq, int h, int n) {
  return ((static_cast<size_t>(seq) * s.H + h) * s.N + n) * s.D;
}

}  // namespace

Reference attention_ref(const AttentionShape& s, const std::vector<float>& q,
                        const std::vector<float>& k, const std::vector<float>& v) {
  Reference r;
  r.value.assign(q.size(), 0.0);
  r.scale.assign(q.size(), 0.0);
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.D));
  std::vector<double> t(s.N), mag(s.N);
  for (int seq = 0; seq < s.S; ++seq) {
    for (int h = 0; h < s.H; ++h) {
      for (int i = 0; i < s.N; ++i) {
        const float* qi = &q[at(s, seq, h, i)];
        double m = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < s.N; ++j) {
          const float* kj = &k[at(s, seq, h, j)];
          double dot = 0, abs_dot = 0;
          for (int e = 0; e < s.D; ++e) {
            dot += static_cast<double>(qi[e]) * kj[e];
            abs_dot += std::fabs(static_cast<double>(qi[e]) * kj[e]);
          }
          t[j] = dot * scale;
          mag[j] = abs_dot * scale;
          m = std::max(m, t[j]);
        }
        double l = 0;
        for (int j = 0; j < s.N; ++j) {
          t[j] = std::exp(t[j] - m);
          l += t[j];
        }
        double* oi = &r.value[at(s, seq, h, i)];
        double* si = &r.scale[at(s, seq, h, i)];
        for (int j = 0; j < s.N; ++j) {
          const double p = t[j] / l;
          const float* vj = &v[at(s, seq, h, j)];
          for (int d = 0; d < s.D; ++d) {
            oi[d] += p * vj[d];
            si[d] += p * std::fabs(static_cast<double>(vj[d])) * (1.0 + mag[j]);
          }
        }
        for (int d = 0; d < s.D; ++d) si[d] += 1e-30;
      }
    }
  }
  return r;
}

std::vector<float> attention_lowp(const AttentionShape& s, const std::vector<float>& q_in,
                                  const std::vector<float>& k_in, const std::vector<float>& v_in,
                                  DType t, bool tf32, AttentionRounding rounding) {
  std::vector<float> q = q_in, k = k_in, v = v_in;
  if (tf32) {
    for (std::vector<float>* x : {&q, &k, &v}) {
      for (float& e : *x) e = round_to_tf32(e);
    }
  }
  std::vector<float> o(q.size());
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.D));
  std::vector<float> p(s.N);
  for (int seq = 0; seq < s.S; ++seq) {
    for (int h = 0; h < s.H; ++h) {
      for (int i = 0; i < s.N; ++i) {
        const float* qi = &q[at(s, seq, h, i)];
        float m = -std::numeric_limits<float>::infinity();
        for (int j = 0; j < s.N; ++j) {
          const float* kj = &k[at(s, seq, h, j)];
          float dot = 0;
          for (int e = 0; e < s.D; ++e) dot += qi[e] * kj[e];
          p[j] = dot * scale;
          m = std::max(m, p[j]);
        }
        float l = 0;
        for (int j = 0; j < s.N; ++j) {
          p[j] = std::exp(p[j] - m);
          l += p[j];
        }
        for (int j = 0; j < s.N; ++j) {
          float pj = rounding == AttentionRounding::kCublas ? p[j] / l : p[j];
          pj = round_to(t, pj);
          p[j] = tf32 ? round_to_tf32(pj) : pj;
        }
        float* oi = &o[at(s, seq, h, i)];
        for (int d = 0; d < s.D; ++d) {
          float acc = 0;
          for (int j = 0; j < s.N; ++j) acc += p[j] * v[at(s, seq, h, j) + d];
          oi[d] = round_to(t, rounding == AttentionRounding::kCublas ? acc : acc / l);
        }
      }
    }
  }
  return o;
}

}  // namespace test
}  // namespace mvit
