// kernels/pool_classifier: the case list against the fp64 reference, that the list reaches every
// template instance with and without softmax, and the argument checks with their messages.
#include <memory>
#include <set>
#include <string>

#include "kernels/pool_classifier.h"
#include "tests/cases/family_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/support/device_tensor.h"
#include "tests/support/error_text.h"

namespace mvit {
namespace test {
namespace {

using PoolClassifierTest = KernelCaseTest;
TEST_P(PoolClassifierTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, PoolClassifierTest, ::testing::ValuesIn(pool_classifier_cases()),
                         CaseName());

// Every instance (dtype x {128-bit, scalar}) of the pool and Linear kernels, and both impls
// (with and without softmax), reached by a case CI runs. Names carry the dtype ("_bf16").
TEST(PoolClassifierCases, ReachEveryInstance) {
  std::set<std::string> reached;
  for (const KernelCase& c : pool_classifier_cases()) {
    if (has(c.name, "Full")) continue;
    const char* dtype = has(c.name, "_bf16") ? "bf16" : has(c.name, "_f16") ? "f16" : "f32";
    reached.insert(std::string(dtype) + (c.expect_vec > 1 ? "/vec" : "/scalar"));
    reached.insert(c.expect_impl);
  }
  for (const char* key : {"f32/vec", "f32/scalar", "f16/vec", "f16/scalar", "bf16/vec",
                          "bf16/scalar", "pool_linear", "pool_linear_softmax"}) {
    EXPECT_TRUE(reached.count(key)) << "no CI case reaches " << key;
  }
}

class PoolClassifierArgs : public DeviceTest {
 protected:
  PoolClassifierParams valid() const {
    PoolClassifierParams p;
    p.x = x_->get();
    p.weight = w_->get();
    p.bias = b_->get();
    p.pooled = static_cast<float*>(pooled_->get());
    p.logits = static_cast<float*>(logits_->get());
    p.probs = static_cast<float*>(probs_->get());
    p.B = 2, p.H = 3, p.W = 3, p.C = 8, p.classes = 5;
    p.dtype = DType::kF16;
    return p;
  }
  // Allocated in SetUp, after the fixture has skipped where no device exists.
  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped()) return;
    x_ = std::make_unique<DeviceTensor>(DType::kF16, 2 * 3 * 3 * 8);
    w_ = std::make_unique<DeviceTensor>(DType::kF16, 5 * 8);
    b_ = std::make_unique<DeviceTensor>(DType::kF16, 5);
    pooled_ = std::make_unique<DeviceTensor>(DType::kF32, 2 * 8);
    logits_ = std::make_unique<DeviceTensor>(DType::kF32, 2 * 5);
    probs_ = std::make_unique<DeviceTensor>(DType::kF32, 2 * 5);
  }
  std::unique_ptr<DeviceTensor> x_, w_, b_, pooled_, logits_, probs_;
};

TEST_F(PoolClassifierArgs, RejectsBadFieldsNamingThem) {
  EXPECT_TRUE(pool_classifier_supported(valid()));
  EXPECT_EQ(error_text([&] { (void)pool_classifier_forward(valid(), nullptr); }), "");
  struct Bad {
    void (*mutate)(PoolClassifierParams&);
    const char* message;
  };
  const Bad bad[] = {
      {[](PoolClassifierParams& p) { p.x = nullptr; }, "x is null"},
      {[](PoolClassifierParams& p) { p.weight = nullptr; }, "weight is null"},
      {[](PoolClassifierParams& p) { p.pooled = nullptr; }, "pooled is null"},
      {[](PoolClassifierParams& p) { p.logits = nullptr; }, "logits is null"},
      {[](PoolClassifierParams& p) { p.classes = 0; },
       "B, H, W, C, classes must be > 0, got B 2, H 3, W 3, C 8, classes 0"},
      {[](PoolClassifierParams& p) { p.H = -1; }, "H -1"},
      {[](PoolClassifierParams& p) { p.B = 70000; }, "B must be <= 65535 (the grid's y extent)"},
      {[](PoolClassifierParams& p) { p.B = 60000, p.H = 200, p.W = 200; },
       "more than the kernels' limit of 2^31 - 1"},
      {[](PoolClassifierParams& p) { p.dtype = static_cast<DType>(3); }, "dtype 3 is not a DType"},
      {[](PoolClassifierParams& p) { p.probs = p.logits; }, "probs"},
      {[](PoolClassifierParams& p) { p.pooled = static_cast<float*>(const_cast<void*>(p.x)); },
       "pooled"},
      {[](PoolClassifierParams& p) { p.logits = static_cast<float*>(const_cast<void*>(p.bias)); },
       "overlaps bias"},
  };
  for (const Bad& b : bad) {
    PoolClassifierParams p = valid();
    b.mutate(p);
    EXPECT_FALSE(pool_classifier_supported(p)) << b.message;
    const std::string e = error_text([&] { (void)pool_classifier_forward(p, nullptr); });
    EXPECT_TRUE(has(e, "pool_classifier: ") && has(e, b.message))
        << "want: " << b.message << "\ngot: " << e;
  }
}

// Without probs no softmax runs (the impl says so), and the logits alone are written.
TEST_F(PoolClassifierArgs, ProbsAreOptional) {
  PoolClassifierParams p = valid();
  p.probs = nullptr;
  p.bias = nullptr;
  const Dispatch d = pool_classifier_forward(p, nullptr);
  EXPECT_EQ(std::string(d.impl), "pool_linear");
  EXPECT_EQ(d.vec, 8);
}

}  // namespace
}  // namespace test
}  // namespace mvit
