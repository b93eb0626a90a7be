// Dispatch: what an <op>_forward ran. Every kernel family's entry returns one, so that tests can
// assert which implementation and which template instance a shape reached (no silent fallback can
// hide a gap) and the benchmark can print it beside the timing. Plain C++.
#pragma once

namespace mvit {

struct Dispatch {
  // The implementation that ran, a static string: a kernel family's strategy
  // ("dwconv3x3_nhwc", "wmma_fused", "implicit_gemm") or a library path ("cudnn",
  // "cublas+epilogue").
  const char* impl = "";
  // Elements per global access in the main loop of the kernel that ran: 1 is the scalar fallback,
  // kVec<T> the 128-bit path; 0 where it does not apply (a library call with no kernel of ours).
  int vec = 0;
};

}  // namespace mvit
