// kernels/attention (the fused kernel and the cuBLAS path): the case list against the fp64
// reference (each case's op and its cuBLAS baseline), the two paths against each other, that the
// CI cases reach every fused instance, the numerics the issue names (NaN stays in its row, N = 1,
// all-equal and large scores are cases), the cuBLAS call counts per layout, the compute-capability
// dispatch, and the argument checks with their messages.
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_cublas.h"
#include "kernels/attention_fused.h"
#include "tests/cases/attention_io.h"
#include "tests/cases/family_cases.h"
#include "tests/kernels/case_test.h"
#include "tests/reference/attention_ref.h"
#include "tests/support/error_text.h"
#include "tests/support/library_handles.h"
#include "tests/support/random.h"

#if defined(MVIT_EMULATED)
#include "mvit_emu/emu.h"
#endif

namespace mvit {
namespace test {
namespace {

using AttentionTest = KernelCaseTest;
TEST_P(AttentionTest, MatchesReference) {
  run_case(GetParam());
}
INSTANTIATE_TEST_SUITE_P(Cases, AttentionTest, ::testing::ValuesIn(attention_cases()), CaseName());

// Every fused instance (wmma for f16 and bf16, simt for f32; d16 .. d64) and the cuBLAS path,
// forced and chosen by kAuto past the fused kernel's head dims, are reached by cases CI runs.
TEST(AttentionCases, ReachEveryInstance) {
  std::set<std::string> reached;
  bool cublas_forced = false, cublas_auto = false, narrow = false;
  for (const KernelCase& c : attention_cases()) {
    if (has(c.name, "Full")) continue;
    const char* dtype = has(c.name, "_bf16") ? "bf16" : has(c.name, "_f16") ? "f16" : "f32";
    reached.insert(c.expect_impl + "/" + dtype);
    if (c.expect_impl == "cublas+softmax")
      (has(c.name, "cublas_") ? cublas_forced : cublas_auto) = true;
    if (has(c.expect_impl, "fused") && c.expect_vec == 1) narrow = true;
  }
  for (const char* d : {"d16", "d32", "d48", "d64"}) {
    for (const char* t : {"f16", "bf16"}) {
      EXPECT_TRUE(reached.count(std::string("fused_wmma_") + d + "/" + t)) << d << " " << t;
    }
    EXPECT_TRUE(reached.count(std::string("fused_simt_") + d + "/f32")) << d;
  }
  EXPECT_TRUE(cublas_forced && cublas_auto && narrow);
}

// Dense random q, k, v of one problem, uploaded into a layout.
struct Problem {
  Problem(const AttentionShape& shape, DType t, const AttentionLayout& layout, uint32_t seed)
      : s(shape), dtype(t), io(shape, t, layout) {
    const size_t n = static_cast<size_t>(s.S) * s.H * s.N * s.D;
    q = round_to(t, random_floats(n, seed));
    k = round_to(t, random_floats(n, seed + 1));
    v = round_to(t, random_floats(n, seed + 2));
    io.upload(q, k, v);
  }
  size_t at(int seq, int h, int n) const {
    return ((static_cast<size_t>(seq) * s.H + h) * s.N + n) * s.D;
  }
  AttentionShape s;
  DType dtype;
  AttentionIo io;
  std::vector<float> q, k, v;
};

std::vector<float> run(Problem& pr, AttentionImpl impl) {
  AttentionParams p = pr.io.params();
  p.impl = impl;
  pr.io.poison_o();
  (void)attention_forward(p, test_handles(), nullptr);
  return pr.io.download_o();
}

class AttentionPaths : public DeviceTest {};

// The two paths on the same inputs agree within the sum of their own bounds (each bound the
// tolerance rule's for that path: max(2 E, 1e-5) relative to the reference's scale).
TEST_F(AttentionPaths, AgreeWithEachOther) {
  struct Shape {
    AttentionShape s;
    DType t;
  };
  const Shape shapes[] = {{{4, 4, 16, 60}, DType::kF16},
                          {{4, 4, 64, 20}, DType::kBF16},
                          {{4, 4, 256, 16}, DType::kF16},
                          {{2, 4, 64, 36}, DType::kF32},
                          {{1, 2, 33, 8}, DType::kF32}};
  uint32_t seed = 100;
  for (const Shape& sh : shapes) {
    Problem pr(sh.s, sh.t, {QkvLayout::kPacked, OutLayout::kTokenMajor, (sh.s.D + 7) / 8 * 8},
               seed += 10);
    const std::vector<float> fused = run(pr, AttentionImpl::kFused);
    const std::vector<float> cublas = run(pr, AttentionImpl::kCublas);
    const Reference want = attention_ref(sh.s, pr.q, pr.k, pr.v);
    double bound = 2 * kFp32Tolerance;
    if (sh.t != DType::kF32) {
      const Comparison ef =
          compare(attention_lowp(sh.s, pr.q, pr.k, pr.v, sh.t, false, AttentionRounding::kFused),
                  want.value, 0, want.scale);
      const Comparison ec =
          compare(attention_lowp(sh.s, pr.q, pr.k, pr.v, sh.t, false, AttentionRounding::kCublas),
                  want.value, 0, want.scale);
      bound =
          std::max(2 * ef.max_error, kFp32Tolerance) + std::max(2 * ec.max_error, kFp32Tolerance);
    }
    std::vector<double> cublas_d(cublas.begin(), cublas.end());
    const Comparison r = compare(fused, cublas_d, bound, want.scale);
    EXPECT_TRUE(r.ok()) << "S " << sh.s.S << " N " << sh.s.N << " D " << sh.s.D << " "
                        << dtype_name(sh.t) << ": " << r.describe();
  }
}

// A NaN in one query row reaches that row's output only; a NaN in one key or value row reaches
// every output of its (sequence, head) and nothing else, although the fused kernel packs four
// N = 16 sequences into one block and the cuBLAS path batches them into one call.
TEST_F(AttentionPaths, NanStaysInItsRowAndSequence) {
  const AttentionShape s{4, 4, 16, 20};
  for (AttentionImpl impl : {AttentionImpl::kFused, AttentionImpl::kCublas}) {
    for (int which = 0; which < 3; ++which) {  // q, k, v
      Problem pr(s, DType::kF16, {QkvLayout::kPacked, OutLayout::kTokenMajor, 24}, 7 + which);
      const int seq = 2, h = 1, row = 5;
      std::vector<float>& t = which == 0 ? pr.q : which == 1 ? pr.k : pr.v;
      t[pr.at(seq, h, row) + 3] = std::nanf("");
      pr.io.upload(pr.q, pr.k, pr.v);
      const std::vector<float> o = run(pr, impl);
      for (int s2 = 0; s2 < s.S; ++s2) {
        for (int h2 = 0; h2 < s.H; ++h2) {
          for (int n = 0; n < s.N; ++n) {
            const bool hit = s2 == seq && h2 == h && (which != 0 || n == row);
            for (int d = 0; d < s.D; ++d) {
              // A NaN value lane reaches the same lane of every row; the others stay finite.
              const bool nan_expected = hit && (which != 2 || d == 3);
              const float got = o[pr.at(s2, h2, n) + d];
              ASSERT_EQ(std::isnan(got), nan_expected)
                  << attention_impl_name(impl) << " NaN in "
                  << "qkv"[which] << ": output (" << s2 << ", " << h2 << ", " << n << ", " << d
                  << ") = " << got;
            }
          }
        }
      }
    }
  }
}

// N = 1: the softmax of one score is 1, so o = v exactly, in every dtype and on both paths.
TEST_F(AttentionPaths, OneTokenReturnsV) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (AttentionImpl impl : {AttentionImpl::kFused, AttentionImpl::kCublas}) {
      Problem pr({3, 4, 1, 36}, t, {QkvLayout::kPacked, OutLayout::kTokenMajor, 40}, 21);
      const std::vector<float> o = run(pr, impl);
      for (size_t i = 0; i < o.size(); ++i) {
        ASSERT_EQ(o[i], pr.v[i]) << dtype_name(t) << " " << attention_impl_name(impl) << " at "
                                 << i;
      }
    }
  }
}

TEST(AttentionCublasCallsTest, OneCallOnlyWhereTheLayoutIsUniform) {
  AttentionParams p;
  p.sequences = 8, p.heads = 4, p.tokens = 64, p.head_dim = 24;
  p.q_strides = p.k_strides = p.v_strides = packed_qkv_strides(64, 4, 24);
  p.o_strides = token_major_strides(64, 4, 24);
  AttentionCublasCalls c = attention_cublas_calls(p);
  EXPECT_EQ(c.qk, 4);  // one per head, batched over the 8 sequences
  EXPECT_EQ(c.pv, 4);
  p.q_strides = p.k_strides = p.v_strides = head_major_strides(64, 4, 24);
  c = attention_cublas_calls(p);
  EXPECT_EQ(c.qk, 1);
  EXPECT_EQ(c.pv, 4);  // o is still token-major
  p.o_strides = head_major_strides(64, 4, 24);
  EXPECT_EQ(attention_cublas_calls(p).pv, 1);
  p.sequences = 2;  // fewer sequences than heads: one call per sequence
  p.q_strides = p.k_strides = p.v_strides = packed_qkv_strides(64, 4, 24);
  p.o_strides = token_major_strides(64, 4, 24);
  c = attention_cublas_calls(p);
  EXPECT_EQ(c.qk, 2);
  EXPECT_EQ(c.pv, 2);
}

class AttentionArgs : public DeviceTest {
 protected:
  void SetUp() override {
    DeviceTest::SetUp();
    if (IsSkipped()) return;
    io_ = std::make_unique<AttentionIo>(
        AttentionShape{4, 4, 16, 20}, DType::kF16,
        AttentionLayout{QkvLayout::kPacked, OutLayout::kTokenMajor, 24});
  }
  AttentionParams valid() const { return io_->params(); }
  std::string error(const AttentionParams& p, const LibraryHandles& h) const {
    return error_text([&] { (void)attention_forward(p, h, nullptr); });
  }
  std::unique_ptr<AttentionIo> io_;
};

TEST_F(AttentionArgs, AcceptsTheModelLayouts) {
  AttentionParams p = valid();
  EXPECT_TRUE(attention_supported(p));
  EXPECT_EQ(attention_select(p), AttentionImpl::kFused);
  EXPECT_EQ(attention_workspace_bytes(p), 0u);
  p.impl = AttentionImpl::kCublas;
  EXPECT_TRUE(attention_supported(p));
  // fp32 scores and f16 probabilities for 16 (s, h) x 16 x 16 scores.
  EXPECT_EQ(attention_workspace_bytes(p), 16u * 256 * 4 + 16u * 256 * 2);
}

TEST_F(AttentionArgs, RejectsBadFieldsNamingThem) {
  struct Bad {
    void (*mutate)(AttentionParams&);
    const char* message;
  };
  const Bad bad[] = {
      {[](AttentionParams& p) { p.q = nullptr; }, "q is null"},
      {[](AttentionParams& p) { p.k = nullptr; }, "k is null"},
      {[](AttentionParams& p) { p.v = nullptr; }, "v is null"},
      {[](AttentionParams& p) { p.o = nullptr; }, "o is null"},
      {[](AttentionParams& p) { p.tokens = 0; },
       "sequences, heads, tokens, head_dim must be > 0, got 4, 4, 0, 20"},
      {[](AttentionParams& p) { p.heads = -1; }, "got 4, -1, 16, 20"},
      {[](AttentionParams& p) { p.tokens = 4097; }, "tokens must be <= 4096, got 4097"},
      {[](AttentionParams& p) { p.head_dim_padded = 16; },
       "head_dim_padded must be 0 or >= head_dim 20, got 16"},
      {[](AttentionParams& p) { p.dtype = static_cast<DType>(7); }, "dtype 7 is not a DType"},
      {[](AttentionParams& p) { p.impl = static_cast<AttentionImpl>(9); },
       "impl 9 is not an AttentionImpl (supported: auto, fused, cublas)"},
      {[](AttentionParams& p) { p.allow_tf32 = true; },
       "allow_tf32 applies to dtype f32 only, got dtype f16"},
      {[](AttentionParams& p) { p.q = static_cast<const char*>(p.q) + 1; },
       "q must be aligned to its 2-byte elements"},
      {[](AttentionParams& p) { p.k_strides.row = 8; },
       "k_strides.row must be >= 20 (the span of the dims with smaller strides) for distinct "
       "elements, got 8"},
      {[](AttentionParams& p) { p.v_strides.head = 10; }, "v_strides.head must be >= 20"},
      {[](AttentionParams& p) { p.q_strides.seq = 0; }, "q_strides.seq must be >= 1"},
      {[](AttentionParams& p) { p.o_strides.seq = 100; }, "o_strides.seq must be >= 1536"},
      {[](AttentionParams& p) { p.o_strides.row = -1; },
       "o_strides must be >= 0, got seq 1536, head 24, row -1"},
      {[](AttentionParams& p) { p.o = const_cast<void*>(p.v); }, "o overlaps"},
      {[](AttentionParams& p) {
         p.impl = AttentionImpl::kFused;
         p.head_dim = 65, p.head_dim_padded = 0, p.tokens = 1, p.sequences = 1;
         p.q_strides = p.k_strides = p.v_strides = packed_qkv_strides(1, 4, 65);
         p.o_strides = token_major_strides(1, 4, 65);
       },
       "impl fused: "},
  };
  for (const Bad& b : bad) {
    AttentionParams p = valid();
    b.mutate(p);
    EXPECT_FALSE(attention_supported(p)) << b.message;
    const std::string e = error(p, test_handles());
    EXPECT_TRUE(has(e, "attention: ") && has(e, b.message))
        << "want: " << b.message << "\ngot: " << e;
  }
}

// Past the fused kernel's head dims kAuto takes the cuBLAS path, which needs its handle and the
// workspace it asks for; both are checked before anything runs.
TEST_F(AttentionArgs, CublasPathNeedsHandleAndWorkspace) {
  AttentionParams p = valid();
  p.impl = AttentionImpl::kCublas;
  LibraryHandles none = test_handles();
  none.cublas = nullptr;
  EXPECT_TRUE(has(error(p, none), "handles.cublas is null")) << error(p, none);
  LibraryHandles small = test_handles();
  small.workspace_bytes = attention_workspace_bytes(p) - 1;
  EXPECT_TRUE(has(error(p, small), "workspace")) << error(p, small);
  p.impl = AttentionImpl::kAuto;
  p.head_dim = 65, p.head_dim_padded = 0, p.tokens = 1, p.sequences = 1;
  p.q_strides = p.k_strides = p.v_strides = packed_qkv_strides(1, 4, 65);
  p.o_strides = token_major_strides(1, 4, 65);
  EXPECT_FALSE(attention_fused_supported(p));
  EXPECT_EQ(attention_select(p), AttentionImpl::kCublas);
}

// bf16 on the tensor cores needs sm_80: below it the fused kernel takes its SIMT instance; the
// cuBLAS path still runs (cuBLAS computes bf16 without tensor cores there). The emulated device can
// pretend to be a Turing part; a GPU cannot, so the cuda build skips this.
TEST_F(AttentionArgs, Bf16BelowSm80) {
#if defined(MVIT_EMULATED)
  AttentionIo io({4, 4, 16, 36}, DType::kBF16, {QkvLayout::kPacked, OutLayout::kTokenMajor, 40});
  AttentionParams p = io.params();
  emu::set_compute_capability(7, 5);
  const std::string turing = attention_fused_kernel(p);
  const bool cublas = attention_cublas_supported(p);
  emu::set_compute_capability(9, 0);
  EXPECT_EQ(turing, "fused_simt_d48");
  EXPECT_TRUE(cublas);
  EXPECT_EQ(std::string(attention_fused_kernel(p)), "fused_wmma_d48");
  // And it computes the same attention there.
  std::vector<float> q = round_to(DType::kBF16, random_floats(4 * 4 * 16 * 36, 3));
  std::vector<float> k = round_to(DType::kBF16, random_floats(q.size(), 4));
  std::vector<float> v = round_to(DType::kBF16, random_floats(q.size(), 5));
  io.upload(q, k, v);
  emu::set_compute_capability(7, 5);
  const Dispatch d = attention_forward(p, test_handles(), nullptr);
  emu::set_compute_capability(9, 0);
  EXPECT_EQ(std::string(d.impl), "fused_simt_d48");
  const AttentionShape s{4, 4, 16, 36};
  const Comparison r =
      compare_rule(DType::kBF16, false, io.download_o(), attention_ref(s, q, k, v),
                   attention_lowp(s, q, k, v, DType::kBF16, false, AttentionRounding::kFused));
  EXPECT_TRUE(r.ok()) << r.describe();
#else
  GTEST_SKIP() << "needs the emulated device's set_compute_capability";
#endif
}

}  // namespace
}  // namespace test
}  // namespace mvit
