#include "runtime/model.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "kernels/common/check.h"
#include "runtime/hf_checkpoint.h"
#include "runtime/model_files.h"
#include "runtime/model_json.h"
#include "runtime/strict_json.h"

namespace mvit {

using detail::quote;
using detail::shape_str;

int64_t HostTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t{h & 0x8000u} << 16;
  const uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  float f;
  if (exp == 0) {
    f = std::ldexp(static_cast<float>(mant), -24);  // zero or subnormal
  } else if (exp == 31) {
    f = mant ? NAN : INFINITY;
  } else {
    f = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= sign;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Element i as float; the bytes may sit at any alignment inside the file, hence memcpy.
float element(const HostTensor& t, int64_t i) {
  if (t.dtype == WeightDType::kF32) {
    float f;
    std::memcpy(&f, t.bytes.data() + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, t.bytes.data() + 2 * i, 2);
  if (t.dtype == WeightDType::kF16) return half_to_float(h);
  const uint32_t bits = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

std::string name_list(const std::vector<std::string>& names) {
  std::string s;
  const size_t shown = std::min<size_t>(names.size(), 12);
  for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + quote(names[i]);
  if (names.size() > shown) s += ", ... (" + std::to_string(names.size() - shown) + " more)";
  return s;
}

}  // namespace

std::vector<float> HostTensor::to_float() const {
  MVIT_CHECK(dtype != WeightDType::kI64, "tensor %s: I64 is not a weight dtype", name.c_str());
  std::vector<float> out(static_cast<size_t>(elements()));
  for (int64_t i = 0; i < elements(); ++i) out[static_cast<size_t>(i)] = element(*this, i);
  return out;
}

const HostTensor& Model::tensor(const std::string& name) const {
  for (const HostTensor& t : tensors_) {
    if (t.name == name) return t;
  }
  MVIT_FAIL("model has no tensor %s", quote(name).c_str());
}

namespace {

// File tensors bound to one canonical tensor, in part order.
struct Binding {
  const ExpectedTensor* expected = nullptr;
  std::vector<const TensorEntry*> parts;
};

struct BindState {
  std::map<std::string, Binding> bound;  // by canonical name
  std::vector<std::string> unknown;
  int ignored_counters = 0;
};

// Canonical format: names are their own targets.
std::map<std::string, NameTarget> identity_map(const std::vector<ExpectedTensor>& expected) {
  std::map<std::string, NameTarget> map;
  for (const ExpectedTensor& t : expected) map[t.name] = {t.name, 0, 1};
  return map;
}

bool is_bn_counter(const std::string& name, const std::map<std::string, NameTarget>& map) {
  static const std::string kSuffix = ".num_batches_tracked";
  if (name.size() <= kSuffix.size() ||
      name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
    return false;
  }
  auto it = map.find(name.substr(0, name.size() - kSuffix.size()) + ".weight");
  const std::string& c = it == map.end() ? std::string() : it->second.canonical;
  return c.size() > 10 && c.compare(c.size() - 10, 10, ".bn.weight") == 0;
}

BindState bind(const SafetensorsIndex& index, const std::vector<ExpectedTensor>& expected,
               const std::map<std::string, NameTarget>& map) {
  BindState st;
  for (const ExpectedTensor& e : expected) st.bound[e.name].expected = &e;
  for (const TensorEntry& t : index.tensors) {
    auto it = map.find(t.name);
    if (it != map.end() && t.dtype != WeightDType::kI64) {
      Binding& b = st.bound[it->second.canonical];
      b.parts.resize(it->second.parts, nullptr);
      b.parts[it->second.part] = &t;
    } else if (t.dtype == WeightDType::kI64 && is_bn_counter(t.name, map)) {
      ++st.ignored_counters;  // BatchNorm's training step counter; inference ignores it
    } else {
      st.unknown.push_back(t.name);
    }
  }
  return st;
}

void check_names(const BindState& st, const ModelFiles& f, const std::string& arch_source) {
  std::vector<std::string> missing;
  for (const auto& kv : st.bound) {
    const Binding& b = kv.second;
    if (b.parts.empty()) {
      missing.push_back(kv.first);
      continue;
    }
    for (size_t p = 0; p < b.parts.size(); ++p) {
      if (!b.parts[p]) missing.push_back(kv.first + " (part " + std::to_string(p) + ")");
    }
  }
  if (st.unknown.empty() && missing.empty()) return;
  std::string msg =
      f.weights_name + ": the tensors do not match the architecture in " + arch_source + ":";
  if (!st.unknown.empty()) {
    msg += " " + std::to_string(st.unknown.size()) + " unknown: " + name_list(st.unknown) + ";";
  }
  if (!missing.empty()) {
    msg += " " + std::to_string(missing.size()) +
           " missing (canonical names): " + name_list(missing) + ";";
  }
  if (f.format == SourceFormat::kHuggingFace) {
    const std::string why = hf_explain_unknown(st.unknown);
    if (!why.empty()) msg += " " + why;
  }
  MVIT_FAIL("%s", msg.c_str());
}

void check_shapes(const BindState& st, const std::string& weights_name,
                  const std::string& arch_source) {
  for (const auto& kv : st.bound) {
    const Binding& b = kv.second;
    std::vector<int64_t> want = b.expected->shape;
    want[0] /= static_cast<int64_t>(b.parts.size());
    for (const TensorEntry* t : b.parts) {
      const std::string also = t->name == kv.first ? "" : " (canonical " + quote(kv.first) + ")";
      MVIT_CHECK(t->shape == want, "%s: tensor %s%s: expected shape %s (from %s), found %s",
                 weights_name.c_str(), quote(t->name).c_str(), also.c_str(),
                 shape_str(want).c_str(), arch_source.c_str(), shape_str(t->shape).c_str());
      MVIT_CHECK(t->dtype == b.parts[0]->dtype,
                 "%s: tensors %s and %s form %s: expected one dtype, found %s and %s",
                 weights_name.c_str(), quote(b.parts[0]->name).c_str(), quote(t->name).c_str(),
                 quote(kv.first).c_str(), to_string(b.parts[0]->dtype), to_string(t->dtype));
    }
  }
}

// NaN or Inf in a weight poisons every output; a file carrying one is almost always a broken
// export, so it is an error unless the user asks otherwise.
void check_finite(const HostTensor& t, const std::string& weights_name, const LoadOptions& options,
                  std::vector<std::string>& warnings) {
  int64_t bad = 0, first = -1;
  float first_value = 0;
  for (int64_t i = 0; i < t.elements(); ++i) {
    const float v = element(t, i);
    if (!std::isfinite(v)) {
      if (bad++ == 0) first = i, first_value = v;
    }
  }
  if (bad == 0) return;
  const std::string what = detail::format(
      "%s: tensor %s: expected finite weights, found %lld non-finite (first: element %lld = %s)",
      weights_name.c_str(), quote(t.name).c_str(), static_cast<long long>(bad),
      static_cast<long long>(first),
      std::isnan(first_value) ? "NaN" : (first_value > 0 ? "+Inf" : "-Inf"));
  MVIT_CHECK(options.allow_non_finite,
             "%s (load with allow_non_finite / --allow-non-finite to "
             "accept them)",
             what.c_str());
  warnings.push_back(what + "; loaded anyway (allow_non_finite)");
}

std::vector<HostTensor> assemble(const BindState& st, const std::vector<ExpectedTensor>& expected,
                                 const ModelFiles& f, uint64_t data_offset) {
  std::vector<HostTensor> out;
  out.reserve(expected.size());
  for (const ExpectedTensor& e : expected) {
    const Binding& b = st.bound.at(e.name);
    HostTensor t;
    t.name = e.name;
    t.shape = e.shape;
    t.dtype = b.parts[0]->dtype;
    for (const TensorEntry* p : b.parts) {
      t.bytes.append(f.weights, data_offset + p->begin, p->end - p->begin);
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

Model Model::from_files(const ModelFiles& f, const LoadOptions& options) {
  Model m;
  m.format_ = f.format;
  if (f.format == SourceFormat::kModelDir) {
    m.spec_ = parse_model_json(f.config, f.config_name);
  } else {
    const std::string_view pre(f.preprocessor);
    m.spec_ = spec_from_hf_config(f.config, f.config_name, f.has_preprocessor ? &pre : nullptr,
                                  f.preprocessor_name, m.warnings_);
  }
  MVIT_CHECK(f.weights.size() <= options.max_weights_bytes,
             "%s: expected at most %llu bytes, found %zu", f.weights_name.c_str(),
             static_cast<unsigned long long>(options.max_weights_bytes), f.weights.size());
  const SafetensorsIndex index = parse_safetensors(f.weights, f.weights_name);
  const std::vector<ExpectedTensor> expected = expected_tensors(m.spec_);
  const auto map =
      f.format == SourceFormat::kModelDir ? identity_map(expected) : hf_name_map(m.spec_);
  const BindState st = bind(index, expected, map);
  check_names(st, f, f.config_name);
  check_shapes(st, f.weights_name, f.config_name);
  m.tensors_ = assemble(st, expected, f, index.data_offset);
  for (const HostTensor& t : m.tensors_) check_finite(t, f.weights_name, options, m.warnings_);
  if (st.ignored_counters > 0) {
    m.warnings_.push_back(std::to_string(st.ignored_counters) +
                          " BatchNorm num_batches_tracked counters ignored (training state)");
  }
  m.metadata_ = index.metadata;
  m.file_bytes_ = f.weights.size();
  return m;
}

namespace {

// A directory without model.safetensors: say what it holds instead. A Hugging Face config.json has
// its say first (a MobileViTV2 folder gets the MobileViTV2 message, not one about weights).
[[noreturn]] void fail_no_weights(const detail::FoundModelFiles& found) {
  const char* dir = found.dir.c_str();
  MVIT_CHECK(found.files.format == SourceFormat::kHuggingFace,
             "%s: expected model.safetensors beside model.json, found none", dir);
  std::vector<std::string> warnings;
  spec_from_hf_config(found.files.config, found.files.config_name, nullptr, "", warnings);
  MVIT_CHECK(!found.has_sharded_index,
             "%s: holds a sharded checkpoint (model.safetensors.index.json); MobileViT fits one "
             "file: expected model.safetensors",
             dir);
  MVIT_CHECK(
      !found.has_pytorch_bin,
      "%s: holds only pytorch_model.bin; pickle files are never read (loading one runs "
      "arbitrary code, e.g. CVE-2025-32434). Expected model.safetensors: convert with "
      "tools/export_weights.py --hf %s --out DIR, or save_pretrained(safe_serialization=True)",
      dir, dir);
  MVIT_FAIL("%s: expected model.safetensors beside config.json, found none%s", dir,
            found.has_tf_h5 ? " (only tf_model.h5, which is not read)" : "");
}

}  // namespace

Model Model::load(const std::string& path, const LoadOptions& options) {
  const detail::FoundModelFiles found = detail::read_model_files(path, options.max_weights_bytes);
  if (!found.has_weights) fail_no_weights(found);
  return from_files(found.files, options);
}

namespace {

void write_file(const std::string& path, const std::string& data) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  MVIT_CHECK(f != nullptr, "%s: cannot create: %s", path.c_str(), std::strerror(errno));
  MVIT_CHECK(std::fwrite(data.data(), 1, data.size(), f.get()) == data.size(),
             "%s: short write: %s", path.c_str(), std::strerror(errno));
  MVIT_CHECK(std::fflush(f.get()) == 0, "%s: cannot flush: %s", path.c_str(), std::strerror(errno));
}

}  // namespace

void save_model_dir(const std::string& dir, const ModelSpec& spec,
                    const std::vector<HostTensor>& tensors,
                    const std::vector<std::pair<std::string, std::string>>& metadata) {
  validate_spec(spec, "save_model_dir");
  const std::vector<ExpectedTensor> expected = expected_tensors(spec);
  MVIT_CHECK(tensors.size() == expected.size(), "save_model_dir: expected %zu tensors, found %zu",
             expected.size(), tensors.size());
  std::vector<TensorEntry> entries;
  std::vector<std::string> data;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const HostTensor& t = tensors[i];
    MVIT_CHECK(t.name == expected[i].name && t.shape == expected[i].shape &&
                   t.bytes.size() == static_cast<size_t>(t.elements()) * dtype_size(t.dtype),
               "save_model_dir: tensor %zu: expected %s %s, found %s %s with %zu bytes", i,
               expected[i].name.c_str(), shape_str(expected[i].shape).c_str(), t.name.c_str(),
               shape_str(t.shape).c_str(), t.bytes.size());
    entries.push_back({t.name, t.dtype, t.shape, 0, 0});
    data.push_back(t.bytes);
  }
  write_file(dir + "/model.json", model_json(spec).dump(2) + "\n");
  write_file(dir + "/model.safetensors", write_safetensors(entries, data, metadata));
}

}  // namespace mvit
