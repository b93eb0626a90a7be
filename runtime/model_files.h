// Reading a model directory from disk: only fixed file names, regular files, bounded sizes, no
// symlink leading out of the directory (shared/reference/ecosystem.md section 8.1).
#pragma once

#include <string>

#include "runtime/model.h"

namespace mvit::detail {

// Detects the layout of `path` (model.json -> project format; config.json -> Hugging Face) and
// reads its files. Folders it cannot serve get a message saying what they hold and what to do.
ModelFiles read_model_files(const std::string& path, const LoadOptions& options);

// Largest JSON file read (model.json, config.json, preprocessor_config.json): a 21k-class id2label
// is about 1 MB.
constexpr uint64_t kMaxJsonFileBytes = uint64_t{8} << 20;

}  // namespace mvit::detail
