// KernelCase: one shape of one kernel family, the unit that the family's test, mvit-demo and the
// benchmark harness (mvit-kernel-bench) all run (shared/DESIGN.md section 2: one case list per
// family).
//
//   for (const KernelCase& c : depthwise_conv_cases()) {
//     std::unique_ptr<PreparedCase> run = c.prepare(1);  // inputs uploaded, reference computed
//     run->launch(stream, 0);                            // only launches: what a bench times
//     Comparison r = run->check();                       // downloads, compares with the reference
//   }
//
// Each case carries its one tolerance rule (tests/support/tolerance.h) and the implementation its
// dispatch must reach (expect_impl, expect_vec), so that no silent fallback hides a gap.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/common/dispatch.h"
#include "mvit/stream.h"
#include "tests/support/compare.h"

namespace mvit {
namespace test {

class PreparedCase {
 public:
  virtual ~PreparedCase() = default;
  // Enqueues the op on `stream` reading and writing replica `replica` (0 <= replica <
  // replicas()); may be called repeatedly (a benchmark does): every call computes the same outputs
  // from the same inputs. Sets `dispatched` to what the family's _forward reported.
  virtual void launch(Stream stream, int replica = 0) = 0;
  // Waits for the device, downloads the outputs of replica 0 and compares them with the reference
  // (for the implementation that ran last: the op's, or the baseline's).
  virtual Comparison check() = 0;

  // The baseline: another implementation of the same op that the benchmark times beside it and
  // the test also checks (cuDNN's depthwise conv beside ours, cuBLAS + epilogue beside the fused
  // GEMM). Empty `baseline` when the case has none.
  virtual void launch_baseline(Stream stream, int replica = 0) {
    (void)stream;
    (void)replica;
  }
  std::string baseline;

  // Input/output sets allocated by prepare(replicas): a benchmark rotates through them so that
  // each launch reads its inputs from DRAM rather than from L2.
  int replicas() const { return replicas_; }

  Dispatch dispatched;  // of the last launch()
  double bytes = 0;  // the least global-memory traffic of one launch (inputs + weights + outputs)
  double flops = 0;  // arithmetic of one launch (0 where it means nothing, e.g. a transpose)

 protected:
  int replicas_ = 1;
};

struct KernelCase {
  std::string family;  // "depthwise_conv": the kernels/<family> it exercises
  std::string name;    // unique in its family, a valid gtest name; "Full" in it marks a slow case
  double tolerance;    // fp32 cases: max error allowed; reduced precision: see tolerance.h
  bool demo = false;   // the case mvit-demo shows for this family
  // Argument: the number of replicas (>= 1) of every input and output buffer.
  std::function<std::unique_ptr<PreparedCase>(int replicas)> prepare;
  // What launch() must report in `dispatched` (empty / 0: not asserted; the demo kernels).
  std::string expect_impl;
  int expect_vec = 0;
};

// For gtest's parameter names and failure messages.
inline std::ostream& operator<<(std::ostream& os, const KernelCase& c) {
  return os << c.family << "/" << c.name;
}

}  // namespace test
}  // namespace mvit
