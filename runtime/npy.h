// NumPy .npy files: the inputs and outputs of `mvit run` (the image as NCHW float32, features and
// logits back), read strictly and written atomically. Host-only C++.
//
// The format (numpy.lib.format, "NEP 1"): the magic "\x93NUMPY", a major and a minor version byte,
// the header length (uint16 little-endian in 1.0; uint32 in 2.0 and 3.0), then that many bytes of
// header: a Python dict literal with exactly the keys 'descr', 'fortran_order' and 'shape',
// padded with spaces and ended by '\n' so that the data starts on a 64-byte boundary, e.g.
//
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
//
// then the elements in C order and nothing after them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mvit {

struct NpyArray {
  enum class Type { kF32, kI64 } type = Type::kF32;
  std::vector<int64_t> shape;  // () for a scalar
  std::vector<float> f32;      // when kF32
  std::vector<int64_t> i64;    // when kI64
  int64_t elements() const;    // the product of shape (1 for a scalar)
};

// Largest array either function accepts: the engine's tensors are indexed with 32-bit ints.
constexpr int64_t kMaxNpyElements = int64_t{1} << 31;
// Largest header read: numpy's own reader refuses more than 10000 bytes by default; a real one
// (any shape up to 32 dimensions) is under 1 KiB.
constexpr uint32_t kMaxNpyHeaderBytes = 65536;
constexpr size_t kMaxNpyRank = 32;  // numpy's NPY_MAXDIMS before 2.0

// Reads a .npy (format 1.0, 2.0 or 3.0). Accepts descr '<f4' and '<i8' (also written without the
// byte-order character, or with '=': native order, little-endian on every supported host), C
// order only. Throws mvit::Error naming the file and what is wrong: not an npy (magic),
// unsupported version, malformed header dict (with the byte offset), another dtype (naming it,
// e.g. '<f8'), fortran_order True, shape too large (more than 2^31 elements, or a dimension that
// overflows), truncated data ("expected N bytes of data, found M"), trailing bytes. Never reads
// past the end of the file; allocates only after the data's size is checked against the file's.
NpyArray read_npy(const std::string& path);

// Writes float32 C-order, format 1.0 (header as numpy writes it, padded to 64 bytes). Atomic:
// writes `path`.tmp.<pid>, then renames it to `path`; on any failure removes the temporary and
// throws naming the path, so no partial file is left. `data` holds the product of `shape`
// elements (may be null when that is 0).
void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data);

}  // namespace mvit
