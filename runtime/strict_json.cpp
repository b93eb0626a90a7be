#include "runtime/strict_json.h"

#include <cmath>
#include <set>

#include "kernels/common/check.h"

namespace mvit::detail {

size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    // Lead byte ranges and the allowed range of the first continuation byte (RFC 3629 table 3-7),
    // which excludes overlong forms, UTF-16 surrogates and code points above U+10FFFF.
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

std::string quote(std::string_view text, size_t max_chars) {
  std::string out = "'";
  size_t shown = 0;
  for (unsigned char c : text) {
    if (shown == max_chars) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7F && c != '\'' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += format("\\x%02x", c);
    }
    ++shown;
  }
  return out + "'";
}

json parse_strict_json(std::string_view text, const std::string& source, int max_depth) {
  const size_t bad = find_invalid_utf8(text);
  MVIT_CHECK(bad == std::string_view::npos,
             "%s: expected UTF-8 JSON, found an invalid UTF-8 sequence at byte %zu (0x%02x)",
             source.c_str(), bad, bad < text.size() ? static_cast<unsigned char>(text[bad]) : 0);
  // nlohmann has no depth limit and keeps the last of duplicate keys unspecified; this callback,
  // the recipe from its untrusted-input notes, enforces both while parsing.
  std::vector<std::set<std::string>> keys;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) {
      MVIT_CHECK(depth < max_depth, "%s: expected JSON nested at most %d levels deep, found deeper",
                 source.c_str(), max_depth);
      if (event == json::parse_event_t::object_start) keys.emplace_back();
    } else if (event == json::parse_event_t::key) {
      const std::string& k = parsed.get_ref<const std::string&>();
      MVIT_CHECK(keys.back().insert(k).second, "%s: duplicate key %s at depth %d", source.c_str(),
                 quote(k).c_str(), depth);
    } else if (event == json::parse_event_t::object_end) {
      keys.pop_back();
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true);
  } catch (const json::exception& e) {
    MVIT_FAIL("%s: expected valid JSON, found a syntax error: %s", source.c_str(), e.what());
  }
}

std::string json_type(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number";
    default:
      return "a value of another kind";
  }
}

namespace {

std::string describe(const json& v) {
  return json_type(v) + " " + quote(v.dump(), 48);
}

}  // namespace

int64_t json_integer(const json& v, int64_t lo, int64_t hi, const std::string& source,
                     const std::string& field) {
  int64_t x = 0;
  bool ok = false;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    ok = u <= static_cast<uint64_t>(INT64_MAX);
    x = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    x = v.get<int64_t>();
    ok = true;
  }
  if (!ok || x < lo || x > hi) {
    MVIT_FAIL("%s: field '%s': expected an integer in [%lld, %lld], found %s", source.c_str(),
              field.c_str(), static_cast<long long>(lo), static_cast<long long>(hi),
              describe(v).c_str());
  }
  return x;
}

JsonObject::JsonObject(const json& value, std::string source, std::string path)
    : value_(value), source_(std::move(source)), path_(std::move(path)) {
  if (!value_.is_object()) {
    MVIT_FAIL("%s: field '%s': expected an object, found %s", source_.c_str(),
              path_.empty() ? "(top level)" : path_.c_str(), describe(value_).c_str());
  }
}

std::string JsonObject::field(const char* key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

void JsonObject::fail(const char* key, const std::string& expected, const json& found) const {
  MVIT_FAIL("%s: field '%s': expected %s, found %s", source_.c_str(), field(key).c_str(),
            expected.c_str(), describe(found).c_str());
}

bool JsonObject::has(const char* key) const {
  return value_.contains(key);
}

const json& JsonObject::raw(const char* key) const {
  auto it = value_.find(key);
  if (it == value_.end()) {
    MVIT_FAIL("%s: field '%s': expected it to be present, found it missing", source_.c_str(),
              field(key).c_str());
  }
  return *it;
}

JsonObject JsonObject::object(const char* key) const {
  return JsonObject(raw(key), source_, field(key));
}

std::vector<JsonObject> JsonObject::objects(const char* key, size_t min_n, size_t max_n) const {
  const json& a = raw(key);
  if (!a.is_array() || a.size() < min_n || a.size() > max_n) {
    fail(key, format("an array of %zu to %zu objects", min_n, max_n), a);
  }
  std::vector<JsonObject> out;
  for (size_t i = 0; i < a.size(); ++i) {
    out.emplace_back(a[i], source_, field(key) + "[" + std::to_string(i) + "]");
  }
  return out;
}

int64_t JsonObject::integer(const char* key, int64_t lo, int64_t hi) const {
  return json_integer(raw(key), lo, hi, source_, field(key));
}

double JsonObject::number(const char* key, double lo, double hi) const {
  const json& v = raw(key);
  if (!v.is_number()) fail(key, format("a number in [%g, %g]", lo, hi), v);
  const double x = v.get<double>();
  if (!(std::isfinite(x) && x >= lo && x <= hi))
    fail(key, format("a number in [%g, %g]", lo, hi), v);
  return x;
}

bool JsonObject::boolean(const char* key) const {
  const json& v = raw(key);
  if (!v.is_boolean()) fail(key, "true or false", v);
  return v.get<bool>();
}

std::string JsonObject::string(const char* key, size_t max_len) const {
  const json& v = raw(key);
  if (!v.is_string() || v.get_ref<const std::string&>().size() > max_len) {
    fail(key, format("a string of at most %zu bytes", max_len), v);
  }
  return v.get<std::string>();
}

std::string JsonObject::choice(const char* key, std::initializer_list<const char*> allowed) const {
  const json& v = raw(key);
  std::string list;
  for (const char* a : allowed) {
    if (v.is_string() && v.get_ref<const std::string&>() == a) return a;
    list += (list.empty() ? "" : ", ") + std::string("'") + a + "'";
  }
  fail(key, "one of " + list, v);
}

std::vector<int64_t> JsonObject::integers(const char* key, size_t min_n, size_t max_n, int64_t lo,
                                          int64_t hi) const {
  const json& a = raw(key);
  if (!a.is_array() || a.size() < min_n || a.size() > max_n) {
    fail(key, format("an array of %zu to %zu integers", min_n, max_n), a);
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < a.size(); ++i) {
    out.push_back(json_integer(a[i], lo, hi, source_, field(key) + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::vector<double> JsonObject::numbers(const char* key, size_t min_n, size_t max_n, double lo,
                                        double hi) const {
  const json& a = raw(key);
  if (!a.is_array() || a.size() < min_n || a.size() > max_n) {
    fail(key, format("an array of %zu to %zu numbers", min_n, max_n), a);
  }
  std::vector<double> out;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i].is_number() ? a[i].get<double>() : NAN;
    if (!(std::isfinite(x) && x >= lo && x <= hi)) {
      MVIT_FAIL("%s: field '%s[%zu]': expected a number in [%g, %g], found %s", source_.c_str(),
                field(key).c_str(), i, lo, hi, describe(a[i]).c_str());
    }
    out.push_back(x);
  }
  return out;
}

void JsonObject::reject_unknown(std::initializer_list<const char*> known) const {
  std::string unknown;
  for (auto it = value_.begin(); it != value_.end(); ++it) {
    bool found = false;
    for (const char* k : known) found = found || it.key() == k;
    if (!found) unknown += (unknown.empty() ? "" : ", ") + quote(it.key());
  }
  if (!unknown.empty()) {
    std::string list;
    for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
    MVIT_FAIL("%s: field '%s': unknown keys %s; expected only: %s", source_.c_str(),
              path_.empty() ? "(top level)" : path_.c_str(), unknown.c_str(), list.c_str());
  }
}

}  // namespace mvit::detail
