// DType: the storage type of a tensor as the kernels and the runtime see it. Arithmetic is always
// fp32 (kernels/common/vector.cuh converts on load and store); DType only says how the bytes are
// stored. The model file's own type list (runtime/safetensors.h, WeightDType) is the file format's
// and also has I64; the runtime converts weights to a DType when it builds an engine.
// Plain C++: runtime/ includes it.
#pragma once

#include <cstddef>

namespace mvit {

enum class DType { kF32, kF16, kBF16 };

// Bytes per element: 4, 2, 2.
constexpr size_t dtype_size(DType t) {
  return t == DType::kF32 ? 4 : 2;
}

// "f32", "f16", "bf16": the names messages, the CLI and the bench tables use.
constexpr const char* dtype_name(DType t) {
  return t == DType::kF32 ? "f32" : t == DType::kF16 ? "f16" : "bf16";
}

}  // namespace mvit
