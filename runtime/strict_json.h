// Strict JSON for untrusted model files: valid UTF-8, bounded nesting, no duplicate keys, and typed
// field access whose errors name the file, the field, what was expected and what was found.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace mvit::detail {

using json = nlohmann::json;

// Parses `text` (the contents of `source`). Throws mvit::Error on invalid UTF-8 (naming the byte
// offset), nesting deeper than `max_depth`, a duplicate key (naming it), or any JSON syntax error.
json parse_strict_json(std::string_view text, const std::string& source, int max_depth);

// Returns the first byte offset that is not part of well-formed UTF-8 (no overlongs, no
// surrogates, nothing above U+10FFFF), or npos when all of `text` is valid.
size_t find_invalid_utf8(std::string_view text);

// Quotes untrusted text for an error message: printable ASCII kept, everything else as \xNN, cut at
// `max_chars` with "..." so a hostile name cannot flood a terminal.
std::string quote(std::string_view text, size_t max_chars = 96);

// The JSON type name as a user reads it ("string", "integer", "number", "object"...).
std::string json_type(const json& v);

// Typed access to object members. `path` is the object's own path ("architecture.stem"); errors
// read
// "<source>: field '<path>.<key>': expected ..., found ...".
class JsonObject {
 public:
  JsonObject(const json& value, std::string source, std::string path);

  bool has(const char* key) const;
  const json& raw(const char* key) const;  // required member, any type
  JsonObject object(const char* key) const;
  std::vector<JsonObject> objects(const char* key, size_t min_n, size_t max_n) const;
  int64_t integer(const char* key, int64_t lo, int64_t hi) const;
  double number(const char* key, double lo, double hi) const;
  bool boolean(const char* key) const;
  std::string string(const char* key, size_t max_len = 256) const;
  // One of `allowed`; the error lists them.
  std::string choice(const char* key, std::initializer_list<const char*> allowed) const;
  std::vector<int64_t> integers(const char* key, size_t min_n, size_t max_n, int64_t lo,
                                int64_t hi) const;
  std::vector<double> numbers(const char* key, size_t min_n, size_t max_n, double lo,
                              double hi) const;
  // Throws when the object holds a key outside `known` (all unknown keys listed).
  void reject_unknown(std::initializer_list<const char*> known) const;

  const json& value() const { return value_; }
  const std::string& source() const { return source_; }
  std::string field(const char* key) const;  // "<path>.<key>"
  [[noreturn]] void fail(const char* key, const std::string& expected, const json& found) const;

 private:
  const json& value_;
  std::string source_;
  std::string path_;
};

// Converts a JSON number element to int64 if it is an integer within [lo, hi]; else throws naming
// `source` and `field`.
int64_t json_integer(const json& v, int64_t lo, int64_t hi, const std::string& source,
                     const std::string& field);

}  // namespace mvit::detail
