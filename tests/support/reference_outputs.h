// A folder of reference outputs (.npy, fp32, NCHW, as PyTorch returns them) and the per-stage
// error table of a forward against it: what the e2e tests assert and `mvit verify` prints.
//
// Folder layout (tests/fixtures/e2e/README.md): logits.npy [B, classes], features.npy
// [B, C, h, w], and per stage (stem, stage1..stage5) either <stage>.npy [B, C, h, w] (the whole
// tensor) or <stage>.index.npy int64 [K] + <stage>.samples.npy [B, K] (K flat NCHW indices of
// one image and their values). Missing files are not compared. Host C++.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mvit/mvit.h"

namespace mvit {
namespace test {

struct ReferenceTensor {
  std::string name;            // "stem", ..., "features", "logits"
  std::vector<int64_t> shape;  // per image
  int batch = 0;
  std::vector<int64_t> index;  // sampled: flat indices into one image; empty: every element
  std::vector<float> values;   // [batch, K] or [batch, prod(shape)]
};

// Forward order: stem, stage1..stage5, features, logits (those present). Throws mvit::Error
// naming the file when a file is malformed or shapes disagree.
std::vector<ReferenceTensor> load_reference(const std::string& dir);

// Max |diff| a precision may show against an fp64 reference, relative to max(1, max |ref|) of the
// compared tensor (Note [e2e tolerances] in reference_outputs.cpp).
double precision_tolerance(Precision p);

struct StageError {
  std::string name;
  int64_t compared = 0;
  double max_abs_diff = 0.0;  // NaN when any compared value is not finite
  double max_abs_ref = 0.0;
  double tolerance = 0.0;  // rel_tolerance * max(1, max_abs_ref)
  bool ok = false;         // max_abs_diff <= tolerance (false for NaN)
};

// `ours`: one image-major fp32 NCHW tensor per reference tensor (same order and batch).
std::vector<StageError> compare_to_reference(const std::vector<ReferenceTensor>& ref,
                                             const std::vector<std::vector<float>>& ours,
                                             double rel_tolerance);

// "stage  compared  max|Δ|  max|ref|  tolerance  ok" rows, and the first failing stage if any.
std::string format_error_table(const std::vector<StageError>& rows);

}  // namespace test
}  // namespace mvit
