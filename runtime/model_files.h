// The files of a model (ModelFiles), and reading them from a model directory on disk: only fixed
// file names, regular files, bounded sizes, no symlink leading out of the directory
// (shared/reference/ecosystem.md section 8.1).
//
// This layer knows files, not models: the reader reports what a directory holds, and the loader
// (Model::load, runtime/model.cpp) says what a folder without weights means.
#pragma once

#include <cstdint>
#include <string>

namespace mvit {

enum class SourceFormat { kModelDir, kHuggingFace };
const char* to_string(SourceFormat f);

// The files of a model, already in memory: what Model::load reads from disk, and what tests and the
// fuzzer hand over directly. `*_name` label the files in messages.
struct ModelFiles {
  SourceFormat format = SourceFormat::kModelDir;
  std::string config;  // model.json or config.json
  std::string config_name;
  std::string weights;  // model.safetensors
  std::string weights_name;
  bool has_preprocessor = false;  // Hugging Face only
  std::string preprocessor;
  std::string preprocessor_name;
};

namespace detail {

// What read_model_files found in a directory.
struct FoundModelFiles {
  ModelFiles files;          // complete when has_weights; else the config alone
  std::string dir;           // the directory with symlinks resolved, as messages name it
  bool has_weights = false;  // model.safetensors is there (and read)
  // The checkpoint files that may stand where model.safetensors is missing; none is ever read.
  bool has_sharded_index = false;  // model.safetensors.index.json
  bool has_pytorch_bin = false;    // pytorch_model.bin
  bool has_tf_h5 = false;          // tf_model.h5
};

// Detects the layout of `path` (model.json -> project format; config.json -> Hugging Face) and
// reads its files, model.safetensors up to `max_weights_bytes`. Throws mvit::Error when the path
// is not a directory holding either config, or a file cannot be read within its bound.
FoundModelFiles read_model_files(const std::string& path, uint64_t max_weights_bytes);

// Largest JSON file read (model.json, config.json, preprocessor_config.json): a 21k-class id2label
// is about 1 MB.
constexpr uint64_t kMaxJsonFileBytes = uint64_t{8} << 20;

}  // namespace detail
}  // namespace mvit
