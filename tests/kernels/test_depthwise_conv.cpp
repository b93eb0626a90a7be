// kernels/depthwise_conv: the case list against the fp64 reference (the direct kernel, and the
// cuDNN baseline where the build has cuDNN), that the list reaches every template instance, and
// the argument checks with their messages.
#include <memory>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "kernels/depthwise_conv.h"
#include "tests/cases/family_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/support/device_tensor.h"
#include "tests/support/error_text.h"
#include "tests/support/library_handles.h"
#include "tests/support/random.h"

#if defined(MVIT_EMULATED)
#include "mvit_emu/emu.h"
#endif

namespace mvit {
namespace test {
namespace {

using DepthwiseConvTest = KernelCaseTest;
TEST_P(DepthwiseConvTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, DepthwiseConvTest, ::testing::ValuesIn(depthwise_conv_cases()),
                         CaseName());

// Every instance of dwconv3x3_nhwc_kernel (dtype x {128-bit, scalar} x stride) is reached by a
// case that CI runs (not only by Full ones), with SiLU on and off, and the cuDNN path is forced
// where it exists. Names carry the dtype and stride ("_f16", "_s2_"), expect_vec the path.
TEST(DepthwiseConvCases, ReachEveryInstance) {
  std::set<std::string> reached;
  bool silu = false, nosilu = false, cudnn = false;
  for (const KernelCase& c : depthwise_conv_cases()) {
    if (has(c.name, "Full")) continue;
    if (c.expect_impl == "cudnn") cudnn = true;
    if (c.expect_impl != "dwconv3x3_nhwc") continue;
    const char* dtype = has(c.name, "_bf16") ? "bf16" : has(c.name, "_f16") ? "f16" : "f32";
    const char* stride = has(c.name, "_s2_") ? "s2" : "s1";
    reached.insert(std::string(dtype) + "/" + (c.expect_vec > 1 ? "vec" : "scalar") + "/" + stride);
    (has(c.name, "nosilu") ? nosilu : silu) = true;
  }
  for (const char* dtype : {"f32", "f16", "bf16"}) {
    for (const char* path : {"vec", "scalar"}) {
      for (const char* stride : {"s1", "s2"}) {
        const std::string key = std::string(dtype) + "/" + path + "/" + stride;
        EXPECT_TRUE(reached.count(key)) << "no CI case reaches " << key;
      }
    }
  }
  EXPECT_TRUE(silu && nosilu);
  EXPECT_EQ(cudnn, cudnn_available());
}

class DepthwiseConvArgs : public DeviceTest {
 protected:
  DepthwiseConvParams valid() const {
    DepthwiseConvParams p;
    p.x = x_->get();
    p.w = w_->get();
    p.bias = b_->get();
    p.y = y_->get();
    p.B = 1, p.H = 4, p.W = 4, p.C = 8;
    p.stride = 1;
    p.dtype = DType::kF32;
    return p;
  }
  std::string error(const DepthwiseConvParams& p, const LibraryHandles& h = {}) const {
    return error_text([&] { (void)depthwise_conv_forward(p, h, nullptr); });
  }
  // Allocated in SetUp, after the fixture has skipped where no device exists.
  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped()) return;
    x_ = std::make_unique<DeviceTensor>(DType::kF32, 1 * 4 * 4 * 8);
    w_ = std::make_unique<DeviceTensor>(DType::kF32, 8 * 9);
    b_ = std::make_unique<DeviceTensor>(DType::kF32, 8);
    y_ = std::make_unique<DeviceTensor>(DType::kF32, 1 * 4 * 4 * 8);
  }
  std::unique_ptr<DeviceTensor> x_, w_, b_, y_;
};

TEST_F(DepthwiseConvArgs, AcceptsValidParams) {
  EXPECT_TRUE(depthwise_conv_supported(valid()));
  DepthwiseConvParams p = valid();
  p.bias = nullptr;
  p.stride = 2;
  EXPECT_TRUE(depthwise_conv_supported(p));
  EXPECT_EQ(error(p), "");
}

TEST_F(DepthwiseConvArgs, RejectsBadFieldsNamingThem) {
  struct Bad {
    void (*mutate)(DepthwiseConvParams&);
    const char* message;
  };
  const Bad bad[] = {
      {[](DepthwiseConvParams& p) { p.x = nullptr; }, "x is null"},
      {[](DepthwiseConvParams& p) { p.w = nullptr; }, "w is null"},
      {[](DepthwiseConvParams& p) { p.y = nullptr; }, "y is null"},
      {[](DepthwiseConvParams& p) { p.C = 0; }, "B, H, W, C must be > 0, got B 1, H 4, W 4, C 0"},
      {[](DepthwiseConvParams& p) { p.B = -1; }, "got B -1"},
      {[](DepthwiseConvParams& p) { p.H = 0; }, "H 0"},
      {[](DepthwiseConvParams& p) { p.W = 0; }, "W 0"},
      {[](DepthwiseConvParams& p) { p.C = (1 << 20) + 1; },
       "C must be <= 1048576 (the grid's y extent of channel tiles), got 1048577"},
      {[](DepthwiseConvParams& p) { p.stride = 3; }, "stride must be 1 or 2, got 3"},
      {[](DepthwiseConvParams& p) { p.stride = 0; }, "stride must be 1 or 2, got 0"},
      {[](DepthwiseConvParams& p) { p.B = 1 << 16, p.H = 1 << 12; },
       "elements exceed the kernel's limit of 2^31 - 1"},
      {[](DepthwiseConvParams& p) { p.dtype = static_cast<DType>(7); }, "dtype 7 is not a DType"},
      {[](DepthwiseConvParams& p) { p.act = static_cast<Activation>(5); },
       "act 5 is not an Activation"},
      {[](DepthwiseConvParams& p) { p.impl = static_cast<DepthwiseImpl>(9); },
       "impl 9 is not a DepthwiseImpl (supported: auto, direct, cudnn)"},
      {[](DepthwiseConvParams& p) { p.y = const_cast<void*>(p.x); }, "overlaps x"},
  };
  for (const Bad& b : bad) {
    DepthwiseConvParams p = valid();
    b.mutate(p);
    EXPECT_FALSE(depthwise_conv_supported(p)) << b.message;
    const std::string e = error(p);
    EXPECT_TRUE(has(e, "depthwise_conv: ") && has(e, b.message))
        << "want: " << b.message << "\ngot: " << e;
  }
}

TEST_F(DepthwiseConvArgs, CudnnPathNeedsItsHandle) {
  DepthwiseConvParams p = valid();
  p.impl = DepthwiseImpl::kCudnn;
  EXPECT_EQ(depthwise_conv_supported(p), cudnn_available());
  const std::string e = error(p);
  if (cudnn_available()) {
    EXPECT_TRUE(has(e, "impl cudnn: handles.cudnn is null")) << e;
  } else {
    EXPECT_TRUE(has(e, "impl cudnn needs a build with cuDNN")) << e;
  }
}

// With no workspace at all the cuDNN path takes the first algorithm that needs none (cuDNN's
// IMPLICIT_GEMM never does) and computes the same result as with the whole workspace.
TEST_F(DepthwiseConvArgs, CudnnPathFitsTheWorkspaceItIsGiven) {
  if (!cudnn_available()) GTEST_SKIP() << "no cuDNN in this build";
  const std::vector<float> x = random_floats(4 * 4 * 8, 5), w = random_floats(8 * 9, 6);
  x_->upload(x);
  w_->upload(w);
  b_->upload(random_floats(8, 7));
  DepthwiseConvParams p = valid();
  p.impl = DepthwiseImpl::kCudnn;
  (void)depthwise_conv_forward(p, test_handles(), nullptr);
  const std::vector<float> with_workspace = y_->download();
  LibraryHandles none = test_handles();
  none.workspace = nullptr;
  none.workspace_bytes = 0;
  y_->upload(std::vector<float>(with_workspace.size(), std::nanf("")));  // a no-op cannot pass
  EXPECT_EQ(std::string(depthwise_conv_forward(p, none, nullptr).impl), "cudnn");
  const std::vector<float> without = y_->download();
  for (size_t i = 0; i < without.size(); ++i) {
    EXPECT_NEAR(without[i], with_workspace[i], 1e-5) << "at " << i;
  }
}

// cuDNN runs bf16 only from sm_80 on: the cuDNN path says so before calling it. The emulated
// device can pretend to be a Turing part; a GPU cannot, so the cuda build skips this.
TEST_F(DepthwiseConvArgs, CudnnBf16NeedsSm80) {
#if defined(MVIT_EMULATED)
  DepthwiseConvParams p = valid();
  p.impl = DepthwiseImpl::kCudnn;
  p.dtype = DType::kBF16;
  emu::set_compute_capability(7, 5);
  const bool supported = depthwise_conv_supported(p);
  const std::string e = error(p);
  emu::set_compute_capability(9, 0);
  EXPECT_FALSE(supported);
  EXPECT_TRUE(has(e, "impl cudnn: dtype bf16 needs compute capability >= 8.0, device has 7.5"))
      << e;
  p.impl = DepthwiseImpl::kDirect;
  emu::set_compute_capability(7, 5);
  EXPECT_TRUE(depthwise_conv_supported(p));  // the direct kernel converts bf16 in software there
  emu::set_compute_capability(9, 0);
#else
  GTEST_SKIP() << "needs the emulated device's set_compute_capability";
#endif
}

}  // namespace
}  // namespace test
}  // namespace mvit
