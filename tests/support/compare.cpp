#include "tests/support/compare.h"

#include <cmath>

#include "kernels/common/check.h"

namespace mvit {
namespace test {

std::string Comparison::describe() const {
  return detail::format(
      "max error %.3g at [%zu] (got %.9g, want %.9g), tolerance %.3g, %zu non-finite of %zu",
      max_error, worst, got_at_worst, want_at_worst, tolerance, nonfinite, count);
}

Comparison compare(const std::vector<float>& got, const std::vector<double>& want, double tolerance,
                   const std::vector<double>& scale) {
  MVIT_CHECK(got.size() == want.size(), "compare: %zu outputs against %zu reference values",
             got.size(), want.size());
  MVIT_CHECK(scale.empty() || scale.size() == want.size(), "compare: %zu scales for %zu values",
             scale.size(), want.size());
  Comparison c;
  c.count = got.size();
  c.tolerance = tolerance;
  size_t first_nonfinite = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::fabs(got[i] - want[i]) / (scale.empty() ? 1.0 : scale[i]);
    if (!std::isfinite(got[i]) || !std::isfinite(e)) {  // a non-finite reference fails too
      if (c.nonfinite++ == 0) first_nonfinite = i;
      continue;
    }
    if (e > c.max_error || i == 0) c.max_error = e, c.worst = i;
  }
  if (c.nonfinite > 0) c.worst = first_nonfinite;
  if (c.count > 0) c.got_at_worst = got[c.worst], c.want_at_worst = want[c.worst];
  return c;
}

}  // namespace test
}  // namespace mvit
