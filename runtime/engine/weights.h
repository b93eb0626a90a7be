// The weights as the kernels take them, prepared once per Engine on the host and uploaded into one
// device allocation: BatchNorm folded into each conv (kernels/fold_batchnorm.h), 3x3 weights
// transposed to KRSC and the fusion conv's split at its concatenation boundary (kernels/conv3x3.h),
// the QKV projection and the out-projection padded to the padded head dimension (Note [head
// padding] in weights.cpp), everything converted to the engine's storage dtype. Plain C++.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/common/dtype.h"
#include "runtime/model.h"

namespace mvit {
namespace plan {

// Each tensor starts on a 256-byte boundary of the blob, so the kernels' 128-bit paths apply.
constexpr size_t kWeightAlignment = 256;

class WeightTable {
 public:
  // Host preparation: prepared tensor names are the canonical unit names plus ".w" / ".b"
  // ("stem.w", "stages.2.1.fusion.w0", "stages.2.1.transformer.0.attn.qkv.w", "head.fc.b").
  WeightTable(const Model& model, DType dtype);

  DType dtype() const { return dtype_; }
  size_t bytes() const { return blob_.size(); }
  const std::vector<unsigned char>& host_blob() const { return blob_; }
  // After the upload: pointers are `base` + each tensor's offset.
  void set_device_base(const void* base) { base_ = static_cast<const unsigned char*>(base); }
  bool has(const std::string& name) const;
  // Throws naming the tensor when absent (a planner bug, not a user error).
  const void* ptr(const std::string& name) const;
  size_t bytes_of(const std::string& name) const;

 private:
  struct Entry {
    std::string name;
    size_t offset = 0, bytes = 0;
  };
  const Entry& find(const std::string& name) const;
  void add(const std::string& name, const std::vector<float>& values);

  DType dtype_;
  std::vector<Entry> entries_;
  std::vector<unsigned char> blob_;
  const unsigned char* base_ = nullptr;
  friend struct WeightBuilder;
};

}  // namespace plan
}  // namespace mvit
