// Hugging Face MobileViT checkpoint folders (config.json + model.safetensors +
// preprocessor_config.json), read as they are: the config becomes a ModelSpec, and every tensor
// name of MobileViTForImageClassification maps to a canonical name (weights/FORMAT.md section 5).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/model_spec.h"

namespace mvit {

// Reads config.json (`config_source` names it) and, when `preprocessor` is non-null,
// preprocessor_config.json. Rejects, with a message saying why and what to do: MobileViTV2,
// DeepLabV3 (segmentation), backbone-only MobileViTModel, timm folders, other model types.
// Appends notes (defaults used) to `warnings`.
ModelSpec spec_from_hf_config(std::string_view config, const std::string& config_source,
                              const std::string_view* preprocessor,
                              const std::string& preprocessor_source,
                              std::vector<std::string>& warnings);

// Where one file tensor goes: rows [part * rows/parts, (part+1) * rows/parts) of `canonical`.
struct NameTarget {
  std::string canonical;
  int part = 0;
  int parts = 1;
};

// HF name -> canonical target, for every tensor of `spec` (an official spec from
// spec_from_hf_config). query, key and value are parts 0, 1, 2 of the fused attn.qkv.
std::map<std::string, NameTarget> hf_name_map(const ModelSpec& spec);

// When a file holds names the map does not know, a sentence that recognises what the file is (a
// segmentation head, a backbone without classifier), or "" when nothing is recognised.
std::string hf_explain_unknown(const std::vector<std::string>& unknown);

}  // namespace mvit
