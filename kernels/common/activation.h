// Activations the fused epilogues apply. Plain C++; device code in activation.cuh.
#pragma once

namespace mvit {

enum class Activation {
  kNone,
  kSilu,  // x * sigmoid(x), the activation of every MobileViT conv unit and FFN
};

constexpr const char* activation_name(Activation a) {
  return a == Activation::kNone ? "none" : "silu";
}

}  // namespace mvit
