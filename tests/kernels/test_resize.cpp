// kernels/resize: the case list against the fp64 reference, that the list reaches every template
// instance and pixel-order pairing, that an identity resize is an exact unfold, and the argument
// checks with their messages.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kernels/common/layout.h"
#include "kernels/resize.h"
#include "tests/cases/family_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/support/device_tensor.h"
#include "tests/support/error_text.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

using ResizeTest = KernelCaseTest;
TEST_P(ResizeTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, ResizeTest, ::testing::ValuesIn(resize_cases()), CaseName());

// Every instance of resize_bilinear_nhwc_kernel (dtype x {128-bit, scalar}) and every pixel-order
// pairing is reached by a case CI runs. Names carry the dtype ("_bf16") and the orders
// ("_nhwc_to_", "_pm_b").
TEST(ResizeCases, ReachEveryInstanceAndOrder) {
  std::set<std::string> reached;
  for (const KernelCase& c : resize_cases()) {
    if (has(c.name, "Full")) continue;
    const char* dtype = has(c.name, "_bf16") ? "bf16" : has(c.name, "_f16") ? "f16" : "f32";
    reached.insert(std::string(dtype) + (c.expect_vec > 1 ? "/vec" : "/scalar"));
    const std::string in = has(c.name, "_nhwc_to_") ? "nhwc" : "pm";
    const std::string out = has(c.name, "_pm_b") ? "pm" : "nhwc";
    reached.insert(in + "->" + out);
  }
  for (const char* key : {"f32/vec", "f32/scalar", "f16/vec", "f16/scalar", "bf16/vec",
                          "bf16/scalar", "nhwc->pm", "pm->nhwc", "nhwc->nhwc", "pm->pm"}) {
    EXPECT_TRUE(reached.count(key)) << "no CI case reaches " << key;
  }
}

// Same size in and out: scale 1, every weight 0 or 1, so y is x moved to patch-major order bit
// for bit (the unfold of Note [patch-major tokens]), and back.
TEST(ResizeIdentity, IsAnExactUnfoldAndFold) {
  if (!no_device_reason().empty()) GTEST_SKIP() << no_device_reason();
  const int B = 2, H = 6, W = 10, C = 40;
  const std::vector<float> x = round_to(DType::kF16, random_floats(B * H * W * C, 77));
  DeviceTensor dx(DType::kF16, x), dpm(DType::kF16, x.size()), dback(DType::kF16, x.size());
  ResizeParams p;
  p.x = dx.get();
  p.y = dpm.get();
  p.B = B, p.C = C, p.H = H, p.W = W, p.Ho = H, p.Wo = W;
  p.out_order = PixelOrder::kPatchMajor;
  p.dtype = DType::kF16;
  EXPECT_EQ(resize_forward(p, nullptr).vec, 8);
  p.x = dpm.get();
  p.y = dback.get();
  p.in_order = PixelOrder::kPatchMajor;
  p.out_order = PixelOrder::kNhwc;
  (void)resize_forward(p, nullptr);
  const std::vector<float> pm = dpm.download(), back = dback.download();
  size_t wrong = 0;
  for (int r = 0; r < B * H * W; ++r) {
    const size_t to = static_cast<size_t>(pixel_row_of_nhwc(PixelOrder::kPatchMajor, r, H, W));
    for (int c = 0; c < C; ++c) {
      wrong += pm[to * C + c] != x[static_cast<size_t>(r) * C + c];
      wrong += back[static_cast<size_t>(r) * C + c] != x[static_cast<size_t>(r) * C + c];
    }
  }
  EXPECT_EQ(wrong, 0u);
}

class ResizeArgs : public DeviceTest {
 protected:
  ResizeParams valid() const {
    ResizeParams p;
    p.x = x_->get();
    p.y = y_->get();
    p.B = 1, p.C = 8, p.H = 7, p.W = 7, p.Ho = 8, p.Wo = 8;
    p.out_order = PixelOrder::kPatchMajor;
    p.dtype = DType::kF16;
    return p;
  }
  // Allocated in SetUp, after the fixture has skipped where no device exists.
  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped()) return;
    x_ = std::make_unique<DeviceTensor>(DType::kF16, 7 * 7 * 8);
    y_ = std::make_unique<DeviceTensor>(DType::kF16, 8 * 8 * 8);
  }
  std::unique_ptr<DeviceTensor> x_, y_;
};

TEST_F(ResizeArgs, RejectsBadFieldsNamingThem) {
  EXPECT_TRUE(resize_supported(valid()));
  EXPECT_EQ(error_text([&] { (void)resize_forward(valid(), nullptr); }), "");
  struct Bad {
    void (*mutate)(ResizeParams&);
    const char* message;
  };
  const Bad bad[] = {
      {[](ResizeParams& p) { p.x = nullptr; }, "x is null"},
      {[](ResizeParams& p) { p.y = nullptr; }, "y is null"},
      {[](ResizeParams& p) { p.C = 0; },
       "B, C, H, W, Ho, Wo must be > 0, got B 1, C 0, H 7, W 7, Ho 8, Wo 8"},
      {[](ResizeParams& p) { p.Wo = -2; }, "Wo -2"},
      {[](ResizeParams& p) { p.B = 1 << 20, p.C = 1 << 10; }, "more than the kernel's limit"},
      {[](ResizeParams& p) { p.Ho = 7; }, "out_order patch_major needs even Ho, Wo, got 7 x 8"},
      {[](ResizeParams& p) { p.in_order = PixelOrder::kPatchMajor; },
       "in_order patch_major needs even H, W, got 7 x 7"},
      {[](ResizeParams& p) { p.in_order = static_cast<PixelOrder>(3); },
       "in_order 3 is not a PixelOrder"},
      {[](ResizeParams& p) { p.dtype = static_cast<DType>(4); }, "dtype 4 is not a DType"},
      {[](ResizeParams& p) { p.y = const_cast<void*>(p.x); }, "overlaps x"},
  };
  for (const Bad& b : bad) {
    ResizeParams p = valid();
    b.mutate(p);
    EXPECT_FALSE(resize_supported(p)) << b.message;
    const std::string e = error_text([&] { (void)resize_forward(p, nullptr); });
    EXPECT_TRUE(has(e, "resize: ") && has(e, b.message)) << "want: " << b.message << "\ngot: " << e;
  }
}

}  // namespace
}  // namespace test
}  // namespace mvit
