#include "runtime/safetensors.h"

#include <algorithm>
#include <cstring>

#include "kernels/common/check.h"
#include "runtime/strict_json.h"

namespace mvit {

using detail::json;
using detail::quote;
using detail::shape_str;

namespace detail {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace detail

const char* to_string(WeightDType d) {
  switch (d) {
    case WeightDType::kF32:
      return "F32";
    case WeightDType::kF16:
      return "F16";
    case WeightDType::kBF16:
      return "BF16";
    case WeightDType::kI64:
      return "I64";
  }
  return "?";
}

size_t dtype_size(WeightDType d) {
  switch (d) {
    case WeightDType::kF32:
      return 4;
    case WeightDType::kF16:
      return 2;
    case WeightDType::kBF16:
      return 2;
    case WeightDType::kI64:
      return 8;
  }
  return 0;
}

uint64_t TensorEntry::elements() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

WeightDType parse_dtype(const json& v, const std::string& name, const std::string& source) {
  const std::string s = v.is_string() ? v.get<std::string>() : v.dump();
  if (s == "F32") return WeightDType::kF32;
  if (s == "F16") return WeightDType::kF16;
  if (s == "BF16") return WeightDType::kBF16;
  if (s == "I64" && ends_with(name, ".num_batches_tracked")) return WeightDType::kI64;
  if (s == "I64") {
    MVIT_FAIL(
        "%s: tensor %s: dtype I64 is accepted only for BatchNorm's num_batches_tracked; "
        "expected F32, F16 or BF16",
        source.c_str(), quote(name).c_str());
  }
  MVIT_FAIL(
      "%s: tensor %s: expected dtype F32, F16 or BF16 (I64 for num_batches_tracked), "
      "found %s",
      source.c_str(), quote(name).c_str(), quote(s, 24).c_str());
}

// Element count and byte size with every multiplication checked: a lying shape must not wrap
// around to a small size that matches its byte range (the GGUF ne = (INT64_MAX, 2) bug).
uint64_t checked_bytes(const TensorEntry& t, const std::string& source) {
  uint64_t n = 1;
  for (int64_t d : t.shape) {
    const uint64_t u = static_cast<uint64_t>(d);
    MVIT_CHECK(n <= UINT64_MAX / u, "%s: tensor %s: element count of shape overflows 64 bits",
               source.c_str(), quote(t.name).c_str());
    n *= u;
  }
  const uint64_t size = dtype_size(t.dtype);
  MVIT_CHECK(n <= UINT64_MAX / size, "%s: tensor %s: byte size of shape overflows 64 bits",
             source.c_str(), quote(t.name).c_str());
  return n * size;
}

TensorEntry parse_entry(const std::string& name, const json& v, const std::string& source) {
  const std::string where = "tensor " + quote(name);
  MVIT_CHECK(!name.empty() && name.size() <= kMaxTensorNameBytes,
             "%s: %s: expected a name of 1 to %zu bytes, found %zu bytes", source.c_str(),
             where.c_str(), kMaxTensorNameBytes, name.size());
  detail::JsonObject e(v, source, where);
  e.reject_unknown({"dtype", "shape", "data_offsets"});
  TensorEntry t;
  t.name = name;
  t.dtype = parse_dtype(e.raw("dtype"), name, source);
  const int64_t max_dim = INT64_MAX;
  t.shape = e.integers("shape", 0, kMaxTensorRank, 1, max_dim);
  if (t.dtype == WeightDType::kI64) {
    MVIT_CHECK(t.shape.empty(),
               "%s: %s: num_batches_tracked: expected shape [] (a scalar), found %s",
               source.c_str(), where.c_str(), shape_str(t.shape).c_str());
  }
  const std::vector<int64_t> off = e.integers("data_offsets", 2, 2, 0, INT64_MAX);
  t.begin = static_cast<uint64_t>(off[0]);
  t.end = static_cast<uint64_t>(off[1]);
  MVIT_CHECK(t.begin <= t.end, "%s: %s: data_offsets: expected begin <= end, found [%llu, %llu]",
             source.c_str(), where.c_str(), static_cast<unsigned long long>(t.begin),
             static_cast<unsigned long long>(t.end));
  const uint64_t bytes = checked_bytes(t, source);
  MVIT_CHECK(t.end - t.begin == bytes,
             "%s: %s: expected %llu bytes (shape %s x %s), found data_offsets [%llu, %llu] "
             "(%llu bytes)",
             source.c_str(), where.c_str(), static_cast<unsigned long long>(bytes),
             shape_str(t.shape).c_str(), to_string(t.dtype),
             static_cast<unsigned long long>(t.begin), static_cast<unsigned long long>(t.end),
             static_cast<unsigned long long>(t.end - t.begin));
  return t;
}

void parse_metadata(const json& v, const std::string& source, SafetensorsIndex& index) {
  MVIT_CHECK(v.is_object(), "%s: __metadata__: expected an object of strings, found %s",
             source.c_str(), detail::json_type(v).c_str());
  for (auto it = v.begin(); it != v.end(); ++it) {
    MVIT_CHECK(it.value().is_string(), "%s: __metadata__ %s: expected a string value, found %s",
               source.c_str(), quote(it.key()).c_str(), detail::json_type(it.value()).c_str());
    index.metadata.emplace_back(it.key(), it.value().get<std::string>());
  }
}

// Reference reader rules 5 and 7: sorted by offset, each begins where the previous ended (the first
// at 0), the last ends at the end of the file. Holes would let a file hide a second payload
// (polyglots); overlaps let many tensors alias one region.
void check_layout(std::vector<TensorEntry>& tensors, uint64_t data_size,
                  const std::string& source) {
  std::stable_sort(tensors.begin(), tensors.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected = 0;
  const TensorEntry* prev = nullptr;
  for (const TensorEntry& t : tensors) {
    MVIT_CHECK(t.end <= data_size,
               "%s: tensor %s: data_offsets [%llu, %llu] run past the end of the data section "
               "(%llu bytes)",
               source.c_str(), quote(t.name).c_str(), static_cast<unsigned long long>(t.begin),
               static_cast<unsigned long long>(t.end), static_cast<unsigned long long>(data_size));
    if (t.begin < expected) {
      MVIT_FAIL("%s: tensor %s: data_offsets [%llu, %llu] overlap tensor %s, which ends at %llu",
                source.c_str(), quote(t.name).c_str(), static_cast<unsigned long long>(t.begin),
                static_cast<unsigned long long>(t.end), quote(prev->name).c_str(),
                static_cast<unsigned long long>(expected));
    }
    MVIT_CHECK(t.begin == expected,
               "%s: tensor %s: expected data to begin at byte %llu (contiguous, no holes), found "
               "%llu",
               source.c_str(), quote(t.name).c_str(), static_cast<unsigned long long>(expected),
               static_cast<unsigned long long>(t.begin));
    expected = t.end;
    prev = &t;
  }
  MVIT_CHECK(expected == data_size,
             "%s: expected the tensors to cover the whole data section (%llu bytes), found %llu "
             "trailing bytes after the last tensor",
             source.c_str(), static_cast<unsigned long long>(data_size),
             static_cast<unsigned long long>(data_size - expected));
}

}  // namespace

SafetensorsIndex parse_safetensors(std::string_view file, const std::string& source) {
  MVIT_CHECK(file.size() >= 8, "%s: expected at least 8 bytes (the header length), found %zu",
             source.c_str(), file.size());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(file[i]);
  MVIT_CHECK(n <= kMaxSafetensorsHeaderBytes,
             "%s: expected a header of at most %llu bytes, found a header length of %llu",
             source.c_str(), static_cast<unsigned long long>(kMaxSafetensorsHeaderBytes),
             static_cast<unsigned long long>(n));
  MVIT_CHECK(n <= file.size() - 8,
             "%s: header length %llu runs past the end of the file (%zu bytes after the length)",
             source.c_str(), static_cast<unsigned long long>(n), file.size() - 8);
  const std::string_view header = file.substr(8, n);
  MVIT_CHECK(!header.empty() && header[0] == '{',
             "%s: expected the header to begin with '{', found %s", source.c_str(),
             quote(header.substr(0, 8)).c_str());
  const json root = detail::parse_strict_json(header, source + " (header)", 4);
  MVIT_CHECK(root.is_object(), "%s: expected the header to be a JSON object", source.c_str());
  SafetensorsIndex index;
  index.data_offset = 8 + n;
  const size_t count = root.size() - (root.contains("__metadata__") ? 1 : 0);
  MVIT_CHECK(count <= kMaxTensorCount, "%s: expected at most %zu tensors, found %zu",
             source.c_str(), kMaxTensorCount, count);
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      parse_metadata(it.value(), source, index);
    } else {
      index.tensors.push_back(parse_entry(it.key(), it.value(), source));
    }
  }
  check_layout(index.tensors, file.size() - index.data_offset, source);
  return index;
}

std::string write_safetensors(const std::vector<TensorEntry>& tensors,
                              const std::vector<std::string>& data,
                              const std::vector<std::pair<std::string, std::string>>& metadata) {
  MVIT_CHECK(tensors.size() == data.size(), "write_safetensors: %zu tensors but %zu data blobs",
             tensors.size(), data.size());
  json header = json::object();
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& kv : metadata) m[kv.first] = kv.second;
    header["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const uint64_t end = offset + data[i].size();
    header[tensors[i].name] = {{"dtype", to_string(tensors[i].dtype)},
                               {"shape", tensors[i].shape},
                               {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  out += text;
  for (const std::string& d : data) out += d;
  return out;
}

}  // namespace mvit
