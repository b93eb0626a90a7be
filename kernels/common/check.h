// The checks that throw mvit::Error (include/mvit/error.h), and the formatting they use.
//
// Every failure in the library is reported by throwing mvit::Error with the failing expression,
// the file and line, and a message that says what was expected and what was found. Destructors use
// the log-only variants (MVIT_*_CHECK_LOG), which print and carry on.
//
// This header is plain C++: runtime/ and tools/ include it. The CUDA, cuBLAS and cuDNN checks live
// in kernels/common/cuda_check.h.
#pragma once

#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <string>

#include "mvit/error.h"

namespace mvit {
namespace detail {

// printf-style formatting into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string vformat(const char* fmt, va_list args);

// Throws mvit::Error("<file>:<line>: check `<expr>` failed: <message>").
[[noreturn]] void throw_error(const char* expr, const char* file, int line, const std::string& msg);

// Same text on stderr, no throw: for destructors.
void log_error(const char* expr, const char* file, int line, const std::string& msg);

// A tensor's bytes, named for messages: what the aliasing checks of the `_forward` functions
// compare.
struct Span {
  const char* name;
  const void* p;
  size_t bytes;
};

// Whether two spans share a byte (a null span shares none).
inline bool overlaps(const Span& a, const Span& b) {
  const uintptr_t pa = reinterpret_cast<uintptr_t>(a.p), pb = reinterpret_cast<uintptr_t>(b.p);
  return a.p != nullptr && b.p != nullptr && pa < pb + b.bytes && pb < pa + a.bytes;
}

}  // namespace detail
}  // namespace mvit

// MVIT_CHECK(cond, fmt, ...): throws mvit::Error when cond is false.
#define MVIT_CHECK(cond, ...)                                                                      \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      ::mvit::detail::throw_error(#cond, __FILE__, __LINE__, ::mvit::detail::format(__VA_ARGS__)); \
    }                                                                                              \
  } while (0)

// MVIT_FAIL(fmt, ...): throws unconditionally (an unreachable case, an unsupported value).
#define MVIT_FAIL(...) \
  ::mvit::detail::throw_error(nullptr, __FILE__, __LINE__, ::mvit::detail::format(__VA_ARGS__))
