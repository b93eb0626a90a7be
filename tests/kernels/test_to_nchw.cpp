// kernels/to_nchw: the case list against the plain-loop reference (exactly: the op only moves and
// widens values), that the list reaches every template instance and both tile edges, that the
// kernel touches nothing outside y, and the argument checks with their messages.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kernels/to_nchw.h"
#include "tests/cases/family_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/support/device_tensor.h"
#include "tests/support/error_text.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

using ToNchwTest = KernelCaseTest;
TEST_P(ToNchwTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, ToNchwTest, ::testing::ValuesIn(to_nchw_cases()), CaseName());

// Every instance of to_nchw_tiled_transpose_kernel (one per dtype) is reached by a case CI runs,
// with whole and ragged tiles on both axes. Names end in the dtype and carry the shape as
// "c<C>_<H>x<W>_b<B>".
TEST(ToNchwCases, ReachEveryInstanceAndTileEdge) {
  std::set<std::string> reached;
  for (const KernelCase& c : to_nchw_cases()) {
    if (has(c.name, "Full")) continue;
    const char* dtype = has(c.name, "_bf16") ? "bf16" : has(c.name, "_f16") ? "f16" : "f32";
    reached.insert(dtype);
    int C = 0, H = 0, W = 0, B = 0;
    const size_t at = c.name.rfind("_c");
    ASSERT_NE(at, std::string::npos) << c.name;
    ASSERT_EQ(std::sscanf(c.name.c_str() + at, "_c%d_%dx%d_b%d", &C, &H, &W, &B), 4) << c.name;
    reached.insert(C % 32 == 0 ? "whole c" : "ragged c");
    reached.insert(H * W % 32 == 0 ? "whole hw" : "ragged hw");
    if (B > 1) reached.insert("batch");
  }
  for (const char* key :
       {"f32", "f16", "bf16", "whole c", "ragged c", "whole hw", "ragged hw", "batch"}) {
    EXPECT_TRUE(reached.count(key)) << "no CI case reaches " << key;
  }
}

// y inside a larger NaN-filled buffer: the kernel writes exactly y's B*C*H*W floats, none before
// or after (the edge tiles' guards), and the input is left as it was.
TEST(ToNchwBounds, WritesExactlyY) {
  if (!no_device_reason().empty()) GTEST_SKIP() << no_device_reason();
  const int B = 2, H = 5, W = 7, C = 33, pad = 64;
  const size_t n = static_cast<size_t>(B) * H * W * C;
  const std::vector<float> x = round_to(DType::kF16, random_floats(n, 123));
  DeviceTensor dx(DType::kF16, x);
  DeviceTensor dy(DType::kF32, std::vector<float>(n + 2 * pad, std::nanf("")));
  ToNchwParams p;
  p.x = dx.get();
  p.y = static_cast<float*>(dy.get()) + pad;
  p.B = B, p.H = H, p.W = W, p.C = C;
  p.dtype = DType::kF16;
  const Dispatch d = to_nchw_forward(p, nullptr);
  EXPECT_STREQ(d.impl, "tiled_transpose");
  const std::vector<float> y = dy.download();
  size_t wrong = 0, written_outside = 0;
  for (int i = 0; i < pad; ++i) {
    written_outside += !std::isnan(y[static_cast<size_t>(i)]);
    written_outside += !std::isnan(y[n + pad + static_cast<size_t>(i)]);
  }
  for (int b = 0; b < B; ++b) {
    for (int c = 0; c < C; ++c) {
      for (int q = 0; q < H * W; ++q) {
        const float got = y[pad + (static_cast<size_t>(b) * C + c) * H * W + q];
        const float want = x[(static_cast<size_t>(b) * H * W + q) * C + c];
        wrong += !(got == want);  // NaN counts as wrong
      }
    }
  }
  EXPECT_EQ(wrong, 0u);
  EXPECT_EQ(written_outside, 0u);
  EXPECT_EQ(dx.download(), x) << "x must not change";
}

class ToNchwArgs : public DeviceTest {
 protected:
  ToNchwParams valid() const {
    ToNchwParams p;
    p.x = x_->get();
    p.y = static_cast<float*>(y_->get());
    p.B = 1, p.H = 7, p.W = 7, p.C = 8;
    p.dtype = DType::kF16;
    return p;
  }
  // Allocated in SetUp, after the fixture has skipped where no device exists.
  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped()) return;
    x_ = std::make_unique<DeviceTensor>(DType::kF16, 7 * 7 * 8);
    y_ = std::make_unique<DeviceTensor>(DType::kF32, 7 * 7 * 8);
  }
  std::unique_ptr<DeviceTensor> x_, y_;
};

TEST_F(ToNchwArgs, RejectsBadFieldsNamingThem) {
  EXPECT_TRUE(to_nchw_supported(valid()));
  EXPECT_EQ(error_text([&] { (void)to_nchw_forward(valid(), nullptr); }), "");
  struct Bad {
    void (*mutate)(ToNchwParams&);
    const char* message;
  };
  const Bad bad[] = {
      {[](ToNchwParams& p) { p.x = nullptr; }, "x is null"},
      {[](ToNchwParams& p) { p.y = nullptr; }, "y is null"},
      {[](ToNchwParams& p) { p.C = 0; }, "B, H, W, C must be > 0, got B 1, H 7, W 7, C 0"},
      {[](ToNchwParams& p) { p.W = -3; }, "W -3"},
      {[](ToNchwParams& p) { p.B = -1; }, "got B -1"},
      {[](ToNchwParams& p) { p.B = 8, p.H = 1024, p.W = 1024, p.C = 256; },
       "B * H * W * C = 2147483648 elements: more than the kernel's limit of 2147483615"},
      {[](ToNchwParams& p) { p.B = 1, p.H = 1, p.W = 1, p.C = 2147483647 - 31; },
       "2147483616 elements: more than the kernel's limit"},
      {[](ToNchwParams& p) { p.B = 65536, p.H = 1, p.W = 1, p.C = 1; },
       "B 65536 is more than the grid's limit of 65535 images"},
      {[](ToNchwParams& p) { p.H = 1, p.W = 1, p.C = 65535 * 32 + 1; },
       "C 2097121 needs more than the grid's 65535 channel tiles of 32"},
      {[](ToNchwParams& p) { p.x = static_cast<const char*>(p.x) + 1; },
       "is not aligned to its 2-byte f16 elements"},
      {[](ToNchwParams& p) {
         p.y = reinterpret_cast<float*>(reinterpret_cast<uintptr_t>(p.y) + 2);
       },
       "is not aligned to its 4-byte f32 elements"},
      {[](ToNchwParams& p) { p.dtype = static_cast<DType>(4); }, "dtype 4 is not a DType"},
      {[](ToNchwParams& p) { p.y = static_cast<float*>(const_cast<void*>(p.x)); }, "overlaps x"},
  };
  for (const Bad& b : bad) {
    ToNchwParams p = valid();
    b.mutate(p);
    EXPECT_FALSE(to_nchw_supported(p)) << b.message;
    const std::string e = error_text([&] { (void)to_nchw_forward(p, nullptr); });
    EXPECT_TRUE(has(e, "to_nchw: ") && has(e, b.message))
        << "want: " << b.message << "\ngot: " << e;
  }
}

// y overlapping x only in part (a y that starts inside x) is rejected too.
TEST_F(ToNchwArgs, RejectsPartialOverlap) {
  ToNchwParams p = valid();
  p.dtype = DType::kF32;
  p.C = 4;  // x is [1, 7, 7, 4] f32 = 784 bytes inside x_'s 784-byte f16 buffer
  p.y = reinterpret_cast<float*>(static_cast<char*>(x_->get()) + 392);
  EXPECT_FALSE(to_nchw_supported(p));
  EXPECT_TRUE(has(error_text([&] { (void)to_nchw_forward(p, nullptr); }), "overlaps x"));
}

}  // namespace
}  // namespace test
}  // namespace mvit
