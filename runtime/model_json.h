// model.json (weights/FORMAT.md): the project's architecture + preprocessing description, read into
// a ModelSpec and written from one.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/model_spec.h"

namespace mvit {

constexpr int kModelFormatVersion = 1;

// Parses and validates model.json text (`source` names the file in errors): strict JSON, every
// field typed and in range, no unknown keys, then validate_spec.
ModelSpec parse_model_json(std::string_view text, const std::string& source);

// The model.json document for `spec` (parse_model_json(model_json(spec).dump()) == spec).
nlohmann::json model_json(const ModelSpec& spec);

}  // namespace mvit
