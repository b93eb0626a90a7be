// error_text(f): runs f and returns what() of the mvit::Error it throws, or "" when it throws
// nothing, so a test can assert on the message:
//   EXPECT_NE(error_text([&] { op_forward(bad, nullptr); }).find("n must be positive"), npos);
#pragma once

#include <string>

#include "mvit/error.h"

namespace mvit {
namespace test {

template <class F>
std::string error_text(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return std::string();
}

}  // namespace test
}  // namespace mvit
