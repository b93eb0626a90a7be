// mvit::Error: the one exception type the library throws across its API.
//
// Every failure is reported as an mvit::Error whose what() reads
//   "<file>:<line>: [check `<expr>` failed: ]<message>"
// where the message says what was expected, what was found, and what is supported. The C API (to
// come) turns it into a status code plus a last-error string. Plain C++: no CUDA header.
#pragma once

#include <stdexcept>
#include <string>

namespace mvit {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace mvit
