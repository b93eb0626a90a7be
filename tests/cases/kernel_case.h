// KernelCase: one shape of one kernel family, the unit that the family's test, mvit-demo and the
// benchmark harness all run (shared/DESIGN.md section 2: one case list per family).
//
//   for (const KernelCase& c : transpose_cases()) {
//     std::unique_ptr<PreparedCase> run = c.prepare();   // inputs uploaded, reference computed
//     run->launch(stream);                               // only kernel launches: what a bench
//     times Comparison r = run->check();                       // downloads, compares with the
//     reference
//   }
//
// Each case carries its one tolerance, in the family's error metric (documented where the list is
// made), with the reason for the number beside it.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "mvit/stream.h"
#include "tests/support/compare.h"

namespace mvit {
namespace test {

class PreparedCase {
 public:
  virtual ~PreparedCase() = default;
  // Enqueues the kernel(s) on `stream`; may be called repeatedly (a benchmark does): every call
  // computes the same outputs from the same inputs.
  virtual void launch(Stream stream) = 0;
  // Waits for the device, downloads the outputs and compares them with the reference.
  virtual Comparison check() = 0;

  double bytes = 0;  // the least global-memory traffic of one launch (reads + writes)
  double flops = 0;  // arithmetic of one launch (0 where it means nothing, e.g. a transpose)
};

struct KernelCase {
  std::string family;  // "transpose": the kernels/<family> it exercises
  std::string name;    // unique in its family, a valid gtest name: "rows1000_cols777"
  double tolerance;    // max error allowed, in the family's metric
  bool demo = false;   // the case mvit-demo shows for this family
  std::function<std::unique_ptr<PreparedCase>()> prepare;
};

// For gtest's parameter names and failure messages.
inline std::ostream& operator<<(std::ostream& os, const KernelCase& c) {
  return os << c.family << "/" << c.name;
}
}  // namespace test
}  // namespace mvit
