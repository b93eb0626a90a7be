// kernels/conv3x3: the case list against the fp64 reference (every implementation, dtype, vector
// width and activation, each case asserting its dispatch), the argument checks with their
// messages, conv3x3_supported agreeing with conv3x3_forward, the three implementations agreeing
// with each other, and the bf16 fallback below compute capability 8.0 (emulated build only).
#include <cmath>
#include <string>
#include <vector>

#include "kernels/conv3x3.h"
#include "tests/cases/family_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/reference/conv3x3_ref.h"
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

using Conv3x3Test = KernelCaseTest;
TEST_P(Conv3x3Test, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, Conv3x3Test, ::testing::ValuesIn(conv3x3_cases()), CaseName());

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Device tensors for one conv problem, sized for 4-byte elements so that a variant of a 16-bit
// problem switched to f32 still fits (values irrelevant: poison, or whatever a test wrote).
struct Buffers {
  Buffers(int pixels, int C0, int C1, int Cout) : Buffers(DType::kF32, pixels, C0, C1, Cout) {}
  Buffers(DType t, int pixels, int C0, int C1, int Cout)
      : in0(t, static_cast<size_t>(pixels) * C0 + 8),
        in1(t, static_cast<size_t>(pixels) * (C1 > 0 ? C1 : 1) + 8),
        w0(t, static_cast<size_t>(Cout) * 9 * C0 + 8),
        w1(t, static_cast<size_t>(Cout) * 9 * (C1 > 0 ? C1 : 1) + 8),
        bias(t, static_cast<size_t>(Cout)),
        out(t, static_cast<size_t>(pixels) * Cout + 8) {}
  DeviceTensor in0, in1, w0, w1, bias, out;
};

Conv3x3Params valid_params(const Buffers& b, DType t, int B, int H, int W, int C0, int C1,
                           int Cout) {
  Conv3x3Params p;
  p.in0 = b.in0.get();
  p.in1 = C1 > 0 ? b.in1.get() : nullptr;
  p.w0 = b.w0.get();
  p.w1 = C1 > 0 ? b.w1.get() : nullptr;
  p.bias = b.bias.get();
  p.out = b.out.get();
  p.B = B, p.H = H, p.W = W, p.C0 = C0, p.C1 = C1, p.Cout = Cout;
  p.dtype = t;
  return p;
}

// Each invalid variant of a valid f16 fusion problem: forward throws naming the field, and
// conv3x3_supported says no; the valid one runs.
class Conv3x3Args : public DeviceTest {};

TEST_F(Conv3x3Args, RejectEveryBadFieldWithItsName) {
  const DType t = DType::kF16;
  Buffers b(2 * 4 * 4, 16, 16, 16);
  const Conv3x3Params ok = valid_params(b, t, 2, 4, 4, 16, 16, 16);
  const LibraryHandles& h = test_handles();
  struct Bad {
    const char* message;
    Conv3x3Params p;
  };
  std::vector<Bad> bad;
  auto add = [&](const char* m, auto&& edit) {
    Conv3x3Params p = ok;
    edit(p);
    bad.push_back({m, p});
  };
  add("in0 is null", [](Conv3x3Params& p) { p.in0 = nullptr; });
  add("w0 is null", [](Conv3x3Params& p) { p.w0 = nullptr; });
  add("bias is null", [](Conv3x3Params& p) { p.bias = nullptr; });
  add("out is null", [](Conv3x3Params& p) { p.out = nullptr; });
  add("in1 is given but w1 is null", [](Conv3x3Params& p) { p.w1 = nullptr; });
  add("w1 is given but in1 is null", [](Conv3x3Params& p) { p.in1 = nullptr; });
  add("in1 is given but C1 is 0", [](Conv3x3Params& p) { p.C1 = 0; });
  add("C1 is 16 but in1 is null", [](Conv3x3Params& p) {
    p.in1 = nullptr;
    p.w1 = nullptr;
  });
  add("B, H, W must be >= 1, got 0, 4, 4", [](Conv3x3Params& p) { p.B = 0; });
  add("B, H, W must be >= 1, got 2, 4, -1", [](Conv3x3Params& p) { p.W = -1; });
  add("C0 must be in [1, 65536], got 0", [](Conv3x3Params& p) { p.C0 = 0; });
  add("C1 must be in [0, 65536], got -2", [](Conv3x3Params& p) { p.C1 = -2; });
  add("Cout must be in [1, 65536], got 0", [](Conv3x3Params& p) { p.Cout = 0; });
  add("dtype 7 is not one of f32, f16, bf16", [](Conv3x3Params& p) { p.dtype = DType(7); });
  add("impl 9 is not one of auto, cudnn, implicit_gemm, direct",
      [](Conv3x3Params& p) { p.impl = Conv3x3Impl(9); });
  add("out overlaps in0", [&](Conv3x3Params& p) { p.out = b.in0.get(); });
  add("implicit_gemm needs f16 or bf16 storage (tensor cores), got f32", [](Conv3x3Params& p) {
    p.dtype = DType::kF32;
    p.impl = Conv3x3Impl::kImplicitGemm;
  });
  add("vec 4 is not a width of implicit_gemm for f16 (supported: 0, 1, 8)", [](Conv3x3Params& p) {
    p.impl = Conv3x3Impl::kImplicitGemm;
    p.vec = 4;
  });
  add("vec 8 (implicit_gemm) needs in0 16-byte aligned", [&](Conv3x3Params& p) {
    p.impl = Conv3x3Impl::kImplicitGemm;
    p.vec = 8;
    p.in0 = static_cast<const char*>(b.in0.get()) + 2;
  });
  add("vec 8 (direct) needs C1 a multiple of 8, got 12", [](Conv3x3Params& p) {
    p.impl = Conv3x3Impl::kDirect;
    p.vec = 8;
    p.C1 = 12;
  });
  add("vec 8 is not a width of direct for f32 (supported: 0, 1, 4)", [](Conv3x3Params& p) {
    p.dtype = DType::kF32;
    p.impl = Conv3x3Impl::kDirect;
    p.vec = 8;
  });
  add("vec 8 applies to our kernels; impl cudnn needs vec 0", [](Conv3x3Params& p) {
    p.impl = Conv3x3Impl::kCudnn;
    p.vec = 8;
  });
  for (const Bad& c : bad) {
    EXPECT_FALSE(conv3x3_supported(c.p, h)) << c.message;
    const std::string e = error_text([&] { conv3x3_forward(c.p, h, nullptr); });
    EXPECT_TRUE(has(e, std::string("conv3x3: ") + c.message))
        << "want: " << c.message << "\ngot: " << e;
  }
  // The cuDNN path without a handle, or where the build has none.
  Conv3x3Params cudnn = ok;
  cudnn.impl = Conv3x3Impl::kCudnn;
  EXPECT_FALSE(conv3x3_supported(cudnn, LibraryHandles{}));
  const std::string e = error_text([&] { conv3x3_forward(cudnn, LibraryHandles{}, nullptr); });
  EXPECT_TRUE(has(e, cudnn_available() ? "impl cudnn: LibraryHandles::cudnn is null"
                                       : "this build does not link cuDNN"))
      << e;
  // A valid problem runs, and kAuto needs no handles for f16.
  EXPECT_TRUE(conv3x3_supported(ok, LibraryHandles{}));
  EXPECT_EQ(std::string(conv3x3_forward(ok, LibraryHandles{}, nullptr).impl), "implicit_gemm");
  EXPECT_EQ(conv3x3_workspace_bytes(ok, h), 0u);
}

TEST_F(Conv3x3Args, SupportedAgreesWithForward) {
  // Valid and invalid problems over every impl, dtype and forced width: supported == runs.
  const LibraryHandles& h = test_handles();
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int C : {3, 8, 16}) {
      Buffers b(t, 3 * 3, C, C, 8);
      for (Conv3x3Impl impl : {Conv3x3Impl::kAuto, Conv3x3Impl::kCudnn, Conv3x3Impl::kImplicitGemm,
                               Conv3x3Impl::kDirect}) {
        for (int vec : {0, 1, 4, 8}) {
          for (int shift : {0, 1}) {
            Conv3x3Params p = valid_params(b, t, 1, 3, 3, C, C, 8);
            p.impl = impl;
            p.vec = vec;
            p.in1 = static_cast<const char*>(b.in1.get()) + shift * dtype_size(t);
            const bool supported = conv3x3_supported(p, h);
            const std::string e = error_text([&] { conv3x3_forward(p, h, nullptr); });
            EXPECT_EQ(supported, e.empty())
                << dtype_name(t) << " C " << C << " " << conv3x3_impl_name(impl) << " vec " << vec
                << " shift " << shift << ": " << e;
          }
        }
      }
    }
  }
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
}

TEST(Conv3x3StemArgs, RejectEveryBadFieldWithItsName) {
  alignas(16) static float x[3 * 4 * 4];
  alignas(16) static float w[16 * 27];
  alignas(16) static float y[4 * 16 + 4];
  Conv3x3StemParams ok;
  ok.x = x, ok.w = w, ok.bias = w, ok.y = y, ok.B = 1, ok.H = 4, ok.W = 4;
  EXPECT_TRUE(conv3x3_stem_supported(ok));
  struct Bad {
    const char* message;
    Conv3x3StemParams p;
  };
  std::vector<Bad> bad;
  auto add = [&](const char* m, auto&& edit) {
    Conv3x3StemParams p = ok;
    edit(p);
    bad.push_back({m, p});
  };
  add("x is null", [](Conv3x3StemParams& p) { p.x = nullptr; });
  add("w is null", [](Conv3x3StemParams& p) { p.w = nullptr; });
  add("bias is null", [](Conv3x3StemParams& p) { p.bias = nullptr; });
  add("y is null", [](Conv3x3StemParams& p) { p.y = nullptr; });
  add("B, H, W must be >= 1, got 1, 0, 4", [](Conv3x3StemParams& p) { p.H = 0; });
  add("dtype 5 is not one of f32, f16, bf16", [](Conv3x3StemParams& p) { p.dtype = DType(5); });
  add("impl implicit_gemm is not available for the stem (supported: auto, direct)",
      [](Conv3x3StemParams& p) { p.impl = Conv3x3Impl::kImplicitGemm; });
  add("impl cudnn is not available for the stem",
      [](Conv3x3StemParams& p) { p.impl = Conv3x3Impl::kCudnn; });
  add("y overlaps x", [](Conv3x3StemParams& p) { p.y = x + 4; });
  add("vec 8 is not a store width of the stem for f32 (supported: 0, 1, 4)",
      [](Conv3x3StemParams& p) { p.vec = 8; });
  add("vec 4 needs y 16-byte aligned", [](Conv3x3StemParams& p) {
    p.vec = 4;
    p.y = y + 1;
  });
  for (const Bad& c : bad) {
    EXPECT_FALSE(conv3x3_stem_supported(c.p)) << c.message;
    const std::string e = error_text([&] { conv3x3_stem_forward(c.p, nullptr); });
    EXPECT_TRUE(has(e, std::string("conv3x3_stem: ") + c.message))
        << "want: " << c.message << "\ngot: " << e;
  }
}

// implicit_gemm, direct and cudnn+bias_act on the same inputs: each within its rule of the fp64
// reference, and every pair within the sum of their two bounds of each other (what the
// benchmark's baseline column relies on).
class Conv3x3CrossCheck : public DeviceTest {};

TEST_F(Conv3x3CrossCheck, ImplementationsAgree) {
  struct Shape {
    int B, H, W, C0, C1, Cout;
    DType t;
  };
  const Shape shapes[] = {{1, 8, 8, 48, 48, 48, DType::kF16},
                          {2, 5, 7, 13, 3, 20, DType::kBF16},
                          {1, 6, 10, 32, 0, 40, DType::kF16},
                          {1, 7, 7, 16, 16, 24, DType::kF32}};
  for (const Shape& s : shapes) {
    Conv3x3Problem p;
    p.B = s.B, p.H = s.H, p.W = s.W, p.C0 = s.C0, p.C1 = s.C1, p.Cout = s.Cout;
    p.act = Activation::kSilu;
    const size_t pixels = static_cast<size_t>(s.B) * s.H * s.W;
    const int Cin = s.C0 + s.C1;
    const float a = 2.0f / std::sqrt(9.0f * Cin);
    p.in0 = round_to(s.t, random_floats(pixels * s.C0, 11));
    if (s.C1 > 0) p.in1 = round_to(s.t, random_floats(pixels * s.C1, 12));
    p.weight = round_to(s.t, random_floats(static_cast<size_t>(s.Cout) * Cin * 9, 13, -a, a));
    p.bias = round_to(s.t, random_floats(static_cast<size_t>(s.Cout), 14, -0.5f, 0.5f));
    const Reference want = conv3x3_ref(p);
    DeviceTensor in0(s.t, p.in0), w0(s.t, split_weight_krsc(p.weight, s.Cout, Cin, 0, s.C0));
    DeviceTensor bias(s.t, p.bias), out(s.t, pixels * s.Cout);
    std::unique_ptr<DeviceTensor> in1, w1;
    if (s.C1 > 0) {
      in1 = std::make_unique<DeviceTensor>(s.t, p.in1);
      w1 =
          std::make_unique<DeviceTensor>(s.t, split_weight_krsc(p.weight, s.Cout, Cin, s.C0, s.C1));
    }
    Conv3x3Params cp;
    cp.in0 = in0.get(), cp.in1 = in1 ? in1->get() : nullptr;
    cp.w0 = w0.get(), cp.w1 = w1 ? w1->get() : nullptr;
    cp.bias = bias.get(), cp.out = out.get();
    cp.B = s.B, cp.H = s.H, cp.W = s.W, cp.C0 = s.C0, cp.C1 = s.C1, cp.Cout = s.Cout;
    cp.dtype = s.t;
    std::vector<std::vector<float>> results;
    std::vector<double> bounds;
    for (Conv3x3Impl impl :
         {Conv3x3Impl::kImplicitGemm, Conv3x3Impl::kDirect, Conv3x3Impl::kCudnn}) {
      cp.impl = impl;
      if (!conv3x3_supported(cp, test_handles())) {
        // implicit_gemm has no f32; the build may have no cuDNN.
        EXPECT_TRUE(impl != Conv3x3Impl::kDirect) << "direct runs everything";
        continue;
      }
      conv3x3_forward(cp, test_handles(), nullptr);
      const std::vector<float> got = out.download();
      const bool cudnn = impl == Conv3x3Impl::kCudnn;
      const std::vector<float> lowp = s.t == DType::kF32 ? std::vector<float>()
                                      : cudnn            ? conv3x3_cudnn_lowp(p, s.t)
                                                         : conv3x3_lowp(p, s.t);
      const Comparison r = compare_rule(s.t, false, got, want, lowp);
      EXPECT_TRUE(r.ok()) << conv3x3_impl_name(impl) << " " << dtype_name(s.t) << ": "
                          << r.describe();
      results.push_back(got);
      bounds.push_back(r.tolerance);
    }
    ASSERT_GE(results.size(), 2u) << "at least direct and one other implementation";
    for (size_t i = 0; i < results.size(); ++i) {
      for (size_t j = i + 1; j < results.size(); ++j) {
        std::vector<double> other(results[j].begin(), results[j].end());
        const Comparison r = compare(results[i], other, bounds[i] + bounds[j], want.scale);
        EXPECT_TRUE(r.ok()) << dtype_name(s.t) << " implementations " << i << " and " << j << ": "
                            << r.describe();
      }
    }
  }
}

// The 128-bit and scalar paths of one kernel give the same result for the same problem (the
// vector gather must not reorder channels).
TEST_F(Conv3x3CrossCheck, VectorAndScalarPathsAgreeBitForBit) {
  const DType t = DType::kF16;
  const int B = 1, H = 6, W = 9, C0 = 16, C1 = 24, Cout = 40;
  const size_t pixels = static_cast<size_t>(B) * H * W;
  DeviceTensor in0(t, random_floats(pixels * C0, 21)), in1(t, random_floats(pixels * C1, 22));
  DeviceTensor w0(t, random_floats(static_cast<size_t>(Cout) * 9 * C0, 23, -0.1f, 0.1f));
  DeviceTensor w1(t, random_floats(static_cast<size_t>(Cout) * 9 * C1, 24, -0.1f, 0.1f));
  DeviceTensor bias(t, random_floats(Cout, 25)), out(t, pixels * Cout);
  Conv3x3Params p;
  p.in0 = in0.get(), p.in1 = in1.get(), p.w0 = w0.get(), p.w1 = w1.get();
  p.bias = bias.get(), p.out = out.get();
  p.B = B, p.H = H, p.W = W, p.C0 = C0, p.C1 = C1, p.Cout = Cout;
  p.dtype = t;
  for (Conv3x3Impl impl : {Conv3x3Impl::kImplicitGemm, Conv3x3Impl::kDirect}) {
    p.impl = impl;
    p.vec = 8;
    EXPECT_EQ(conv3x3_forward(p, LibraryHandles{}, nullptr).vec, 8);
    const std::vector<float> wide = out.download();
    p.vec = 1;
    EXPECT_EQ(conv3x3_forward(p, LibraryHandles{}, nullptr).vec, 1);
    EXPECT_EQ(out.download(), wide) << conv3x3_impl_name(impl);
  }
}

TEST_F(Conv3x3CrossCheck, WorkspaceQuerySizesTheCudnnPath) {
  if (!cudnn_available()) GTEST_SKIP() << "this build has no cuDNN";
  const DType t = DType::kF32;
  Buffers b(t, 8 * 8, 16, 16, 16);
  Conv3x3Params p = valid_params(b, t, 1, 8, 8, 16, 16, 16);
  p.impl = Conv3x3Impl::kCudnn;
  const size_t bytes = conv3x3_workspace_bytes(p, test_handles());
  ASSERT_LE(bytes, kTestWorkspaceBytes);
  // A workspace of exactly that many bytes runs cuDNN's first choice; none at all still runs
  // (IMPLICIT_GEMM needs none).
  LibraryHandles exact = test_handles();
  exact.workspace_bytes = bytes;
  EXPECT_EQ(std::string(conv3x3_forward(p, exact, nullptr).impl), "cudnn+bias_act");
  LibraryHandles none = test_handles();
  none.workspace = nullptr;
  none.workspace_bytes = 0;
  EXPECT_EQ(std::string(conv3x3_forward(p, none, nullptr).impl), "cudnn+bias_act");
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
  p.impl = Conv3x3Impl::kDirect;
  EXPECT_EQ(conv3x3_workspace_bytes(p, test_handles()), 0u);
}

#if defined(MVIT_EMULATED)
// Below compute capability 8.0 there are no bf16 tensor cores (nor cuDNN bf16): kAuto falls back
// to the direct kernel, forcing implicit_gemm or cudnn throws, f16 keeps implicit_gemm.
// Sets the emulated compute capability for a scope, restoring it even when a check throws.
class ScopedComputeCapability {
 public:
  ScopedComputeCapability(int major, int minor) : saved_(emu::config()) {
    emu::set_compute_capability(major, minor);
  }
  ~ScopedComputeCapability() { emu::set_compute_capability(saved_.cc_major, saved_.cc_minor); }
  ScopedComputeCapability(const ScopedComputeCapability&) = delete;
  ScopedComputeCapability& operator=(const ScopedComputeCapability&) = delete;

 private:
  emu::Config saved_;
};

TEST_F(Conv3x3Args, Bf16BelowSm80FallsBackToDirect) {
  const LibraryHandles& h = test_handles();
  Buffers b(DType::kBF16, 4 * 4, 16, 0, 16), bh(DType::kF16, 4 * 4, 16, 0, 16);
  const Conv3x3Params p = valid_params(b, DType::kBF16, 1, 4, 4, 16, 0, 16);
  const Conv3x3Params half = valid_params(bh, DType::kF16, 1, 4, 4, 16, 0, 16);
  const ScopedComputeCapability turing(7, 5);
  const Dispatch d = conv3x3_forward(p, h, nullptr);
  EXPECT_EQ(std::string(d.impl), "direct");
  EXPECT_EQ(d.vec, 8);
  Conv3x3Params q = p;
  q.impl = Conv3x3Impl::kImplicitGemm;
  EXPECT_FALSE(conv3x3_supported(q, h));
  const std::string forced = error_text([&] { conv3x3_forward(q, h, nullptr); });
  EXPECT_TRUE(has(forced,
                  "conv3x3: dtype bf16 needs compute capability >= 8.0 for implicit_gemm, device "
                  "has 7.5"))
      << forced;
  q.impl = Conv3x3Impl::kCudnn;
  const std::string cudnn = error_text([&] { conv3x3_forward(q, h, nullptr); });
  EXPECT_TRUE(has(
      cudnn, "conv3x3: dtype bf16 needs compute capability >= 8.0 for impl cudnn, device has 7.5"))
      << cudnn;
  EXPECT_EQ(std::string(conv3x3_forward(half, h, nullptr).impl), "implicit_gemm");
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
}
#endif

}  // namespace
}  // namespace test
}  // namespace mvit
