// safetensors: the index of a file held in memory, validated by every rule of the reference reader
// (shared/reference/ecosystem.md section 7.2) and this project's stricter ones (weights/FORMAT.md).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mvit {

enum class WeightDType { kF32, kF16, kBF16, kI64 };

const char* to_string(WeightDType d);
size_t dtype_size(WeightDType d);

struct TensorEntry {
  std::string name;
  WeightDType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // byte range inside the data section, end one past
  uint64_t elements() const;
};

struct SafetensorsIndex {
  uint64_t data_offset = 0;          // 8 + header size: where the data section starts in the file
  std::vector<TensorEntry> tensors;  // in file order (ascending offsets)
  std::vector<std::pair<std::string, std::string>> metadata;  // __metadata__, string to string
};

// Limits that keep a hostile file from costing memory or time. A MobileViT-S header is about 40 KB
// with 347 tensors, its weights 22 MB in fp32; these leave a wide margin for larger heads.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 4u << 20;
constexpr size_t kMaxTensorCount = 8192;
constexpr size_t kMaxTensorRank = 4;
constexpr size_t kMaxTensorNameBytes = 256;

// Validates the whole file (`file` is its bytes; `source` names it in errors): header length and
// cap, UTF-8 strict JSON starting with '{', entry fields, dtype whitelist (F32, F16, BF16; I64 only
// as a rank-0 `*.num_batches_tracked`), rank cap, dims >= 1, element and byte counts with overflow
// checks, offsets contiguous from 0 with no overlap, no hole and no trailing byte.
SafetensorsIndex parse_safetensors(std::string_view file, const std::string& source);

// Writes a safetensors file (tensors in the given order, contiguous, header padded with spaces to a
// multiple of 8 as the reference writer does). `data[i]` holds tensors[i]'s bytes.
std::string write_safetensors(const std::vector<TensorEntry>& tensors,
                              const std::vector<std::string>& data,
                              const std::vector<std::pair<std::string, std::string>>& metadata);

namespace detail {

// A shape as error messages write it: "[16, 3, 3, 3]", "[]" for a scalar.
std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace detail

}  // namespace mvit
