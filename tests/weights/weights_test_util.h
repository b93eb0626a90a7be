// Helpers shared by the weights tests: specs built from published tables, random weights, model
// files in memory and on disk, and the check that an error says what it should.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/common/check.h"
#include "runtime/model.h"
#include "runtime/model_spec.h"

namespace mvit::test {

// A small but complete model of each flavour (3 stages, a MobileViT block, 32x32 input): every code
// path of the loader at a few KB of weights.
ModelSpec tiny_spec(Flavour flavour);

// The seed flavour's three sizes as shared/reference/mobilevit.md section 3.3 tabulates them
// (chinhsuanwu/mobilevit-pytorch), heads 4 x head_dim 8, built from runtime/variants.h.
ModelSpec seed_spec(const std::string& variant);

// The official three sizes from mobilevit.md section 3.1/3.2 (paper Table 4, timm model_cfgs),
// built from runtime/variants.h.
ModelSpec official_spec(const std::string& variant);

// Weights with the expected names and shapes, values from a seeded generator.
std::vector<HostTensor> random_tensors(const ModelSpec& spec, uint32_t seed,
                                       WeightDType dtype = WeightDType::kF32);

// model.json + model.safetensors in memory (the same bytes save_model_dir writes).
ModelFiles model_files(const ModelSpec& spec, const std::vector<HostTensor>& tensors);

// A fresh empty directory under the test's temp root, removed by ~TempDir.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write_file(const std::string& path, const std::string& data);
std::string read_file(const std::string& path);

// Little-endian bytes of floats in `dtype`.
std::string encode(const std::vector<float>& values, WeightDType dtype);

// The message of the mvit::Error `fn` throws; a test failure (and "") when it throws nothing or
// something else.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected mvit::Error, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected mvit::Error, nothing was thrown";
  return "";
}

// Writes `bytes` as a fuzz seed named `name` when MVIT_WRITE_FUZZ_SEEDS names a directory: the
// crafted bad files of these tests are the fuzzer's seed corpus (tests/weights/fuzz/corpus).
void save_fuzz_seed(const std::string& name, const std::string& bytes);

}  // namespace mvit::test

// Asserts that `stmt` throws mvit::Error and that its message contains every given fragment.
#define EXPECT_MVIT_ERROR(stmt, ...)                                                         \
  do {                                                                                       \
    const std::string mvit_msg_ = ::mvit::test::error_of([&] { stmt; });                     \
    for (const char* frag : {__VA_ARGS__}) {                                                 \
      EXPECT_NE(mvit_msg_.find(frag), std::string::npos)                                     \
          << "expected the message to contain \"" << frag << "\"\n  message: " << mvit_msg_; \
    }                                                                                        \
  } while (0)
