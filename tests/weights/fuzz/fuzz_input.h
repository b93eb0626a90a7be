// The byte layout one fuzz input takes, shared by the fuzz target and the tests that write the seed
// corpus. Byte 0 picks what is parsed, so one corpus covers every parser:
//   0: safetensors       [0][file]
//   1: model.json        [1][text]
//   2: model directory   [2][u32 n][n bytes model.json][safetensors]
//   3: Hugging Face      [3][u32 n][config.json][u32 m or 0xffffffff =
//   absent][preprocessor][safetensors]
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/model.h"

namespace mvit::fuzz {

enum Mode : uint8_t { kSafetensors = 0, kModelJson = 1, kModelDir = 2, kHuggingFace = 3 };

inline void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// Takes a u32 length and that many bytes from the front of `in`; false when `in` is too short.
inline bool take(std::string_view& in, std::string& out, bool& absent) {
  if (in.size() < 4) return false;
  uint32_t n = 0;
  for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(in[i]);
  in.remove_prefix(4);
  absent = n == 0xffffffffu;
  if (absent) return true;
  if (n > in.size()) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

inline std::string encode(const ModelFiles& f) {
  std::string out(
      1, static_cast<char>(f.format == SourceFormat::kModelDir ? kModelDir : kHuggingFace));
  put_u32(out, static_cast<uint32_t>(f.config.size()));
  out += f.config;
  if (f.format == SourceFormat::kHuggingFace) {
    put_u32(out, f.has_preprocessor ? static_cast<uint32_t>(f.preprocessor.size()) : 0xffffffffu);
    if (f.has_preprocessor) out += f.preprocessor;
  }
  return out + f.weights;
}

inline std::string encode_single(Mode mode, std::string_view bytes) {
  return std::string(1, static_cast<char>(mode)) + std::string(bytes);
}

// Splits a fuzz input into model files; false when it is too short to hold its lengths.
inline bool decode(std::string_view in, ModelFiles& f) {
  const uint8_t mode = static_cast<uint8_t>(in[0]) % 4;
  in.remove_prefix(1);
  f.format = mode == kModelDir ? SourceFormat::kModelDir : SourceFormat::kHuggingFace;
  f.config_name = mode == kModelDir ? "model.json" : "config.json";
  f.weights_name = "model.safetensors";
  f.preprocessor_name = "preprocessor_config.json";
  bool absent = false;
  if (!take(in, f.config, absent) || absent) return false;
  if (mode == kHuggingFace) {
    if (!take(in, f.preprocessor, absent)) return false;
    f.has_preprocessor = !absent;
  }
  f.weights.assign(in);
  return true;
}

}  // namespace mvit::fuzz
