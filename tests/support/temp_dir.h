// TempDir: a fresh directory under $TMPDIR (default /tmp), removed with everything written into
// it at scope exit; read_text: a whole file as a string. For tests that write a model
// directory (counter_model) or read fixture JSON.
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "kernels/common/check.h"

namespace mvit {
namespace test {

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  MVIT_CHECK(f.good(), "%s: cannot open", path.c_str());
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string t = std::string(base ? base : "/tmp") + "/mvit-test-XXXXXX";
    MVIT_CHECK(mkdtemp(t.data()) != nullptr, "mkdtemp(%s) failed", t.c_str());
    path_ = t;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace test
}  // namespace mvit
