#include "kernels/common/check.h"

#include <cstdio>
#include <vector>

namespace mvit {
namespace detail {

std::string vformat(const char* fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return std::string();
  std::vector<char> buf(static_cast<size_t>(n) + 1);
  std::vsnprintf(buf.data(), buf.size(), fmt, args);
  return std::string(buf.data(), static_cast<size_t>(n));
}

std::string format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::string s = vformat(fmt, args);
  va_end(args);
  return s;
}

static std::string compose(const char* expr, const char* file, int line, const std::string& msg) {
  std::string s = format("%s:%d: ", file, line);
  if (expr) s += format("check `%s` failed: ", expr);
  return s + msg;
}

void throw_error(const char* expr, const char* file, int line, const std::string& msg) {
  throw Error(compose(expr, file, line, msg));
}

void log_error(const char* expr, const char* file, int line, const std::string& msg) {
  std::fprintf(stderr, "mvit: error (ignored in destructor): %s\n",
               compose(expr, file, line, msg).c_str());
}

}  // namespace detail
}  // namespace mvit
