// The tolerance rule of every kernel test: compare an output with its fp64 reference element by
// element, count non-finite outputs as failures (a NaN passes no `error <= tolerance` here), and
// report the worst element with its index.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mvit {
namespace test {

struct Comparison {
  size_t count = 0;      // elements compared
  size_t nonfinite = 0;  // outputs that are NaN or infinite (each one a failure)
  size_t worst = 0;      // index of the largest error (or of the first non-finite output)
  double max_error = 0;  // max |got - want| / scale over the finite outputs
  double got_at_worst = 0, want_at_worst = 0;
  double tolerance = 0;

  bool ok() const { return count > 0 && nonfinite == 0 && max_error <= tolerance; }
  // "max error 3.1e-07 at [17] (got 0.25, want 0.2500003), tolerance 1e-06, 0 non-finite of 4096"
  std::string describe() const;
};

// |got[i] - want[i]| / scale[i] (scale empty: 1) against `tolerance`. Sizes must match.
Comparison compare(const std::vector<float>& got, const std::vector<double>& want, double tolerance,
                   const std::vector<double>& scale = {});

}  // namespace test
}  // namespace mvit
