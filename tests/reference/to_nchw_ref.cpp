#include "tests/reference/to_nchw_ref.h"

#include <cstddef>

namespace mvit {
namespace test {

Reference to_nchw_ref(const ToNchwShape& s, const std::vector<float>& x) {
  const size_t n = static_cast<size_t>(s.B) * s.H * s.W * s.C;
  Reference r;
  r.value.resize(n);
  r.scale.assign(n, 1.0);
  for (int b = 0; b < s.B; ++b) {
    for (int h = 0; h < s.H; ++h) {
      for (int w = 0; w < s.W; ++w) {
        for (int c = 0; c < s.C; ++c) {
          const size_t from = ((static_cast<size_t>(b) * s.H + h) * s.W + w) * s.C + c;
          const size_t to = ((static_cast<size_t>(b) * s.C + c) * s.H + h) * s.W + w;
          r.value[to] = static_cast<double>(x[from]);
        }
      }
    }
  }
  return r;
}

}  // namespace test
}  // namespace mvit
