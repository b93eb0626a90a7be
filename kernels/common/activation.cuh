// Device code of the epilogue activations (activation.h). Included from .cu files.
#pragma once

#include "kernels/common/activation.h"

namespace mvit {

// x * sigmoid(x) = x / (1 + e^-x). __expf: ~2 ulp (plus the emulator's documented perturbation),
// well inside the 1e-5 relative fp32 rule; for x < -88 e^-x overflows to inf and the result is
// -0, the correct limit.
__device__ inline float silu(float x) {
  return x / (1.0f + __expf(-x));
}

template <Activation kAct>
__device__ inline float activate(float x) {
  if constexpr (kAct == Activation::kSilu) {
    return silu(x);
  } else {
    return x;
  }
}

}  // namespace mvit
