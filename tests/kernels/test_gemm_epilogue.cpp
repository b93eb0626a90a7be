// kernels/gemm_epilogue: the case list against the fp64 reference (both implementations), the
// two implementations against each other, argument validation with its messages, _supported
// agreeing with _forward, and (emulated build) the dispatch below compute capability 8.0.
#include <cublas_v2.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "kernels/gemm_epilogue.h"
#include "tests/cases/family_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/reference/gemm_epilogue_ref.h"
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

int device_cc() {
  int dev = 0, major = 0, minor = 0;
  MVIT_CUDA_CHECK(cudaGetDevice(&dev));
  MVIT_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  MVIT_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
  return 10 * major + minor;
}

using GemmEpilogueTest = KernelCaseTest;
TEST_P(GemmEpilogueTest, MatchesReference) {
  const KernelCase& c = GetParam();
  if (c.name.find("bf16") != std::string::npos && c.expect_impl == "wmma_fused" &&
      device_cc() < 80) {
    GTEST_SKIP() << "bf16 WMMA needs compute capability 8.0 (the dispatch below it is tested by "
                    "GemmEpilogueCc75)";
  }
  run_case(c);
}
INSTANTIATE_TEST_SUITE_P(Cases, GemmEpilogueTest, ::testing::ValuesIn(gemm_epilogue_cases()),
                         CaseName());

// Device tensors for one problem and the params that point at them.
struct Problem {
  Problem(int64_t m, int n, int k, DType t, size_t offset = 0)
      : x(t, round_to(t, random_floats(static_cast<size_t>(m) * k, 21)), 1, offset),
        w(t, round_to(t, random_floats(static_cast<size_t>(n) * k, 22, -0.2f, 0.2f)), 1, offset),
        bias(t, round_to(t, random_floats(n, 23)), 1, offset),
        residual(t, round_to(t, random_floats(static_cast<size_t>(m) * n, 24)), 1, offset),
        y(t, static_cast<size_t>(m) * n, 1, offset) {
    p.x = x.get();
    p.w = w.get();
    p.bias = bias.get();
    p.residual = residual.get();
    p.y = y.get();
    p.m = m;
    p.n = n;
    p.k = k;
    p.dtype = t;
    p.act = Activation::kSilu;
  }
  GemmEpilogueHost host() const {
    return {x.download(), w.download(), bias.download(), residual.download()};
  }
  DeviceTensor x, w, bias, residual, y;
  GemmEpilogueParams p;
};

std::string forward_error(const GemmEpilogueParams& p, const LibraryHandles& h) {
  return error_text([&] { gemm_epilogue_forward(p, h, nullptr); });
}

// Expects _forward (and _supported, _select) to reject p with a message containing `want`.
void expect_rejected(const GemmEpilogueParams& p, const std::string& want) {
  const std::string e = forward_error(p, test_handles());
  EXPECT_NE(e.find("gemm_epilogue: " + want), std::string::npos) << "got: " << e;
  EXPECT_FALSE(gemm_epilogue_supported(p)) << want;
  EXPECT_NE(error_text([&] { (void)gemm_epilogue_select(p); }).find(want), std::string::npos);
  EXPECT_NE(error_text([&] { (void)gemm_epilogue_workspace_bytes(p); }).find(want),
            std::string::npos);
}

using GemmEpilogueArgs = DeviceTest;

TEST_F(GemmEpilogueArgs, NamesTheBadField) {
  Problem pr(32, 16, 16, DType::kF16);
  const GemmEpilogueParams ok = pr.p;
  ASSERT_TRUE(gemm_epilogue_supported(ok));
  GemmEpilogueParams q = ok;
  q.x = nullptr;
  expect_rejected(q, "x is null");
  q = ok;
  q.w = nullptr;
  expect_rejected(q, "w is null");
  q = ok;
  q.y = nullptr;
  expect_rejected(q, "y is null");
  q = ok;
  q.m = 0;
  expect_rejected(q, "m must be in [1, 2^31), got 0");
  q.m = int64_t{1} << 31;
  expect_rejected(q, "m must be in [1, 2^31), got 2147483648");
  q = ok;
  q.n = 0;
  expect_rejected(q, "n must be > 0, got 0");
  q = ok;
  q.k = -1;
  expect_rejected(q, "k must be > 0, got -1");
  q = ok;
  q.dtype = static_cast<DType>(7);
  expect_rejected(q, "dtype 7 is not one of f32, f16, bf16");
  q = ok;
  q.act = static_cast<Activation>(5);
  expect_rejected(q, "act 5 is not one of none, silu");
  q = ok;
  q.impl = static_cast<GemmImpl>(9);
  expect_rejected(q, "impl 9 is not one of auto, cublas, wmma");
  q = ok;
  q.y_order = static_cast<PixelOrder>(4);
  expect_rejected(q, "x_order / y_order must be nhwc or patch_major, got 0 / 4");
  q = ok;
  q.allow_tf32 = true;
  expect_rejected(q, "allow_tf32 applies to dtype f32 only, got dtype f16");
}

TEST_F(GemmEpilogueArgs, PatchMajorNeedsTheMap) {
  Problem pr(32, 16, 16, DType::kF16);
  GemmEpilogueParams q = pr.p;
  q.y_order = PixelOrder::kPatchMajor;
  expect_rejected(q,
                  "order nhwc -> patch_major (unfold) needs the map: B, H, W must be > 0, got "
                  "0, 0, 0");
  q.x_order = PixelOrder::kPatchMajor;
  q.y_order = PixelOrder::kNhwc;
  q.B = 1;
  q.H = 4;
  q.W = 8;
  ASSERT_TRUE(gemm_epilogue_supported(q));
  q.H = 3;
  expect_rejected(q, "patch-major order needs an even H and W, got 3 x 8");
  q.H = 4;
  q.B = 2;
  expect_rejected(q, "m must equal B * H * W = 64, got 32");
  // Both orders nhwc: the geometry is not needed, so it is not checked either.
  q = pr.p;
  q.B = 5;
  EXPECT_TRUE(gemm_epilogue_supported(q));
}

TEST_F(GemmEpilogueArgs, PointersMustBeElementAlignedAndDisjoint) {
  Problem pr(32, 16, 16, DType::kF16);
  GemmEpilogueParams q = pr.p;
  q.x = static_cast<const char*>(pr.p.x) + 1;
  expect_rejected(q, "x must be aligned to its 2-byte elements");
  q = pr.p;
  q.residual = static_cast<const char*>(pr.p.residual) + 3;
  expect_rejected(q, "residual must be aligned to its 2-byte elements");
  q = pr.p;
  q.y = const_cast<void*>(pr.p.residual);
  expect_rejected(q, "y must not overlap residual");
  q = pr.p;
  q.bias = static_cast<const __half*>(pr.p.y) + 8;
  expect_rejected(q, "y must not overlap bias");
}

TEST_F(GemmEpilogueArgs, ForcedWmmaWithF32Throws) {
  Problem pr(64, 16, 16, DType::kF32);
  GemmEpilogueParams q = pr.p;
  EXPECT_EQ(gemm_epilogue_select(q), GemmImpl::kCublas);
  q.impl = GemmImpl::kWmma;
  expect_rejected(q,
                  "impl wmma does not support dtype f32 (supported: f16, bf16; f32 runs on "
                  "cublas)");
}

TEST_F(GemmEpilogueArgs, CublasPathChecksHandlesAndWorkspace) {
  Problem pr(64, 16, 16, DType::kF16);
  GemmEpilogueParams q = pr.p;
  q.impl = GemmImpl::kCublas;
  EXPECT_EQ(gemm_epilogue_workspace_bytes(q), 64u * 16 * 4);
  LibraryHandles h = test_handles();
  h.cublas = nullptr;
  EXPECT_NE(forward_error(q, h).find("impl cublas needs handles.cublas, got null"),
            std::string::npos)
      << forward_error(q, h);
  h = test_handles();
  h.workspace_bytes = 1024;
  EXPECT_NE(forward_error(q, h).find("impl cublas needs 4096 bytes of workspace"),
            std::string::npos)
      << forward_error(q, h);
  h = test_handles();
  h.workspace = pr.y.get();
  h.workspace_bytes = 1 << 20;
  EXPECT_NE(forward_error(q, h).find("overlaps x, w, bias, residual or y"), std::string::npos)
      << forward_error(q, h);
  // f32 with x_order == y_order accumulates in y: no workspace.
  Problem f(64, 16, 16, DType::kF32);
  EXPECT_EQ(gemm_epilogue_workspace_bytes(f.p), 0u);
  h.workspace = nullptr;
  h.workspace_bytes = 0;
  EXPECT_EQ(forward_error(f.p, h), "");
  // The fused kernel needs none.
  EXPECT_EQ(gemm_epilogue_workspace_bytes(pr.p), 0u);
  EXPECT_EQ(forward_error(pr.p, h), "");
}

TEST_F(GemmEpilogueArgs, CublasModesThatWouldChangeTheResultAreRejected) {
  Problem pr(64, 16, 16, DType::kF32);
  cublasHandle_t own = nullptr;
  ASSERT_EQ(cublasCreate(&own), CUBLAS_STATUS_SUCCESS);
  LibraryHandles h = test_handles();
  h.cublas = own;
  ASSERT_EQ(cublasSetMathMode(own, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
  std::string e = forward_error(pr.p, h);
  EXPECT_NE(e.find("rounds fp32 inputs; f32 without allow_tf32 needs CUBLAS_DEFAULT_MATH"),
            std::string::npos)
      << e;
  GemmEpilogueParams tf32 = pr.p;
  tf32.allow_tf32 = true;
  EXPECT_EQ(forward_error(tf32, h), "");
  ASSERT_EQ(cublasSetMathMode(own, CUBLAS_DEFAULT_MATH), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasSetPointerMode(own, CUBLAS_POINTER_MODE_DEVICE), CUBLAS_STATUS_SUCCESS);
  e = forward_error(pr.p, h);
  EXPECT_NE(e.find("handles.cublas must be in CUBLAS_POINTER_MODE_HOST"), std::string::npos) << e;
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
  EXPECT_EQ(cublasDestroy(own), CUBLAS_STATUS_SUCCESS);
}

TEST_F(GemmEpilogueArgs, SupportedAgreesWithForward) {
  // f32 buffers: every variation below (f16 and bf16 use half the bytes) stays inside them.
  Problem pr(72, 24, 40, DType::kF32);
  std::vector<GemmEpilogueParams> all;
  for (GemmImpl impl : {GemmImpl::kAuto, GemmImpl::kCublas, GemmImpl::kWmma}) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      GemmEpilogueParams q = pr.p;
      q.impl = impl;
      q.dtype = t;
      all.push_back(q);  // valid except wmma with f32
      q.x_order = PixelOrder::kPatchMajor;
      all.push_back(q);  // no map
      q.B = 2;
      q.H = 6;
      q.W = 6;
      all.push_back(q);  // the fold of a 2 x 6 x 6 map
      q.H = 4;
      q.W = 9;
      all.push_back(q);  // odd W
      q = pr.p;
      q.impl = impl;
      q.dtype = t;
      q.k = 0;
      all.push_back(q);
    }
  }
  for (const GemmEpilogueParams& q : all) {
    const std::string e = forward_error(q, test_handles());
    EXPECT_EQ(gemm_epilogue_supported(q), e.empty())
        << gemm_impl_name(q.impl) << " " << dtype_name(q.dtype) << ": " << e;
  }
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
}

// |wmma - cublas| / scale within the sum of their two tolerances, max(2E, 1e-5) each.
TEST_F(GemmEpilogueArgs, ImplementationsAgree) {
  struct Shape {
    int B, H, W, k, n;
    PixelOrder xo, yo;
    DType t;
  };
  const Shape shapes[] = {
      {1, 8, 12, 64, 96, PixelOrder::kNhwc, PixelOrder::kNhwc, DType::kF16},
      {2, 8, 8, 48, 40, PixelOrder::kNhwc, PixelOrder::kPatchMajor, DType::kBF16},
      {1, 6, 10, 40, 24, PixelOrder::kPatchMajor, PixelOrder::kNhwc, DType::kF16},
      {1, 7, 9, 13, 37, PixelOrder::kNhwc, PixelOrder::kNhwc, DType::kBF16},
  };
  for (const Shape& s : shapes) {
    if (s.t == DType::kBF16 && device_cc() < 80) continue;
    const int64_t m = static_cast<int64_t>(s.B) * s.H * s.W;
    Problem pr(m, s.n, s.k, s.t);
    DeviceTensor y2(s.t, static_cast<size_t>(m) * s.n);
    GemmEpilogueParams p = pr.p;
    p.x_order = s.xo;
    p.y_order = s.yo;
    p.B = s.B;
    p.H = s.H;
    p.W = s.W;
    p.impl = GemmImpl::kWmma;
    EXPECT_STREQ(gemm_epilogue_forward(p, test_handles(), nullptr).impl, "wmma_fused");
    GemmEpilogueParams c = p;
    c.impl = GemmImpl::kCublas;
    c.y = y2.get();
    EXPECT_STREQ(gemm_epilogue_forward(c, test_handles(), nullptr).impl, "cublas+epilogue");
    const std::vector<float> wm = pr.y.download(), cb = y2.download();
    const GemmEpilogueHost in = pr.host();
    const Reference want = gemm_epilogue_ref(p, in);
    const std::vector<float> lowp = gemm_epilogue_lowp(p, in, s.t, false);
    const Comparison rw = compare_lowp(wm, want, lowp), rc = compare_lowp(cb, want, lowp);
    EXPECT_TRUE(rw.ok()) << rw.describe();
    EXPECT_TRUE(rc.ok()) << rc.describe();
    double worst = 0;
    for (size_t i = 0; i < wm.size(); ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(wm[i]) - cb[i]) / want.scale[i]);
    }
    EXPECT_LE(worst, rw.tolerance + rc.tolerance) << s.k << " x " << s.n;
  }
}

#if defined(MVIT_EMULATED)
// bf16 tensor cores start at sm_80: below it kAuto takes cuBLAS and forced wmma names the device.
TEST(GemmEpilogueCc75, Bf16GoesToCublasAndForcedWmmaThrows) {
  const emu::Config saved = emu::config();
  emu::set_compute_capability(7, 5);
  Problem pr(128, 64, 32, DType::kBF16);
  EXPECT_EQ(gemm_epilogue_select(pr.p), GemmImpl::kCublas);
  std::string impl;
  std::string e =
      error_text([&] { impl = gemm_epilogue_forward(pr.p, test_handles(), nullptr).impl; });
  EXPECT_EQ(e, "");
  EXPECT_EQ(impl, "cublas+epilogue");
  GemmEpilogueParams q = pr.p;
  q.impl = GemmImpl::kWmma;
  EXPECT_FALSE(gemm_epilogue_supported(q));
  e = forward_error(q, test_handles());
  Problem h(128, 64, 32, DType::kF16);
  const GemmImpl f16 = gemm_epilogue_select(h.p);
  MVIT_CUDA_CHECK(cudaDeviceSynchronize());
  emu::set_compute_capability(saved.cc_major, saved.cc_minor);
  EXPECT_NE(e.find("impl wmma with dtype bf16 needs compute capability >= 8.0, device has 7.5"),
            std::string::npos)
      << e;
  EXPECT_EQ(f16, GemmImpl::kWmma);
  EXPECT_EQ(gemm_epilogue_select(pr.p), GemmImpl::kWmma);
}
#endif

}  // namespace
}  // namespace test
}  // namespace mvit
