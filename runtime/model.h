// mvit::Model: a validated model in host memory, loaded from a project model directory
// (model.json + model.safetensors, weights/FORMAT.md) or a Hugging Face MobileViT checkpoint
// folder (config.json + model.safetensors [+ preprocessor_config.json]).
//
// Everything is parsed and checked before anything is returned, so an Engine built from a Model
// never allocates device memory for a file that turns out to be bad. Every failure throws
// mvit::Error naming the file, the tensor or field, what was expected and what was found.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model_files.h"
#include "runtime/model_spec.h"
#include "runtime/safetensors.h"

namespace mvit {

struct LoadOptions {
  // NaN and Inf weights are rejected (naming the tensor and element) unless this is set.
  bool allow_non_finite = false;
  // Largest model.safetensors read; MobileViT-S is 22 MB in fp32.
  uint64_t max_weights_bytes = uint64_t{256} << 20;
};

// One weight under its canonical name, bytes little-endian row-major as in the file (query, key and
// value of a Hugging Face file already stacked into attn.qkv).
struct HostTensor {
  std::string name;
  WeightDType dtype = WeightDType::kF32;
  std::vector<int64_t> shape;
  std::string bytes;
  int64_t elements() const;
  std::vector<float> to_float() const;  // F32, F16, BF16 widened exactly
};

class Model {
 public:
  // `path`: a model directory or a Hugging Face checkpoint folder (detected by which fixed file
  // names it holds; nothing else in it is opened).
  static Model load(const std::string& path, const LoadOptions& options = {});
  static Model from_files(const ModelFiles& files, const LoadOptions& options = {});

  const ModelSpec& spec() const { return spec_; }
  SourceFormat format() const { return format_; }
  const std::vector<HostTensor>& tensors() const { return tensors_; }  // expected_tensors() order
  const HostTensor& tensor(const std::string& name) const;
  // Notes for the user that are not errors (defaults taken, ignored num_batches_tracked...).
  const std::vector<std::string>& warnings() const { return warnings_; }
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }
  uint64_t file_bytes() const { return file_bytes_; }

 private:
  ModelSpec spec_;
  SourceFormat format_ = SourceFormat::kModelDir;
  std::vector<HostTensor> tensors_;
  std::vector<std::string> warnings_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  uint64_t file_bytes_ = 0;
};

// Writes a model directory: `dir`/model.json and `dir`/model.safetensors (the directory must
// exist). `tensors` must be exactly expected_tensors(spec) with those shapes; validated first.
void save_model_dir(const std::string& dir, const ModelSpec& spec,
                    const std::vector<HostTensor>& tensors,
                    const std::vector<std::pair<std::string, std::string>>& metadata = {});

}  // namespace mvit
