// attention cases: the attention of every transformer layer of MobileViT XXS, XS and S (official:
// 4 heads of d/4, mobilevit.md 3.2; the seed's 4 x 8 and pre-2022 1 x 32, 3.3 and 9) at the
// 256x256, 224x224 (7x7 map resized to 8x8) and 512x512 inputs, batch 1 and 8, in the model's
// layouts (QKV packed as the projection writes it, O token-major as the out-projection reads it,
// heads padded to a multiple of 8 lanes), plus edge cases: N = 1, 2, 17, 300 (a partial query
// tile past 256), 4096 (Full); head dims 8 .. 64 and 65 / 100 (past the fused kernel: cuBLAS);
// head-major layouts (one strided-batched call); misaligned buffers (narrow loads); all-equal
// scores; scores of size 100 in f16 (exp overflows without the max subtraction); tf32.
//
// The op is attention_forward with the case's impl (kAuto unless forced); the baseline is the
// cuBLAS path on the same inputs (its own output buffer), so mvit-kernel-bench --family attention
// prints the fused kernel and cuBLAS side by side and the test checks both against the reference
// (cases that run the cuBLAS path as the op have no baseline).
//
// Tolerance (tests/support/tolerance.h, scale from tests/reference/attention_ref.h): fp32 within
// 1e-5; f16 / bf16 / tf32 within 2x the error of the same computation in that precision, rounded
// the way the path that ran rounds (AttentionRounding).
//
// Full (CI skips them): batch 8 (except one), the 512x512 input (N = 1024), N = 4096, f32 and
// bf16 beyond a few representative stages. What stays in CI reaches every fused instance (d16 ..
// d64, wmma and simt), every layout and the cuBLAS path's one-call and per-head forms.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_cublas.h"
#include "kernels/common/cuda_check.h"
#include "tests/cases/attention_io.h"
#include "tests/cases/family_cases.h"
#include "tests/reference/attention_ref.h"
#include "tests/support/device_buffer.h"
#include "tests/support/library_handles.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {

// ---- AttentionIo ----

AttentionIo::AttentionIo(const AttentionShape& s, DType dtype, const AttentionLayout& layout,
                         int replicas)
    : s_(s), dtype_(dtype), layout_(layout), dp_(layout.dp == 0 ? s.D : layout.dp) {
  const size_t per = static_cast<size_t>(s.S) * s.H * s.N * dp_;  // one of q, k, v, o
  if (layout.qkv == QkvLayout::kPacked) {
    qkv_[0] = std::make_unique<DeviceTensor>(dtype, 3 * per, replicas, layout.offset);
  } else {
    for (auto& t : qkv_) t = std::make_unique<DeviceTensor>(dtype, per, replicas, layout.offset);
  }
  o_ = std::make_unique<DeviceTensor>(dtype, per, replicas, layout.offset);
  poison_o();
}

size_t AttentionIo::qkv_index(int which, int s, int h, int n) const {
  if (layout_.qkv == QkvLayout::kPacked) {
    // [S, N, 3, H, Dp]
    return ((((static_cast<size_t>(s) * s_.N + n) * 3 + which) * s_.H + h) * dp_);
  }
  return ((static_cast<size_t>(s) * s_.H + h) * s_.N + n) * dp_;  // [S, H, N, Dp]
}

size_t AttentionIo::o_index(int s, int h, int n) const {
  if (layout_.out == OutLayout::kTokenMajor) {
    return ((static_cast<size_t>(s) * s_.N + n) * s_.H + h) * dp_;  // [S, N, H, Dp]
  }
  return ((static_cast<size_t>(s) * s_.H + h) * s_.N + n) * dp_;  // [S, H, N, Dp]
}

void AttentionIo::upload(const std::vector<float>& q, const std::vector<float>& k,
                         const std::vector<float>& v) {
  const std::vector<float>* dense[3] = {&q, &k, &v};
  std::vector<float> host[3];
  const int buffers = layout_.qkv == QkvLayout::kPacked ? 1 : 3;
  for (int b = 0; b < buffers; ++b) host[b].assign(qkv_[b]->size(), std::nanf(""));
  for (int which = 0; which < 3; ++which) {
    std::vector<float>& dst = host[buffers == 1 ? 0 : which];
    for (int s = 0; s < s_.S; ++s) {
      for (int h = 0; h < s_.H; ++h) {
        for (int n = 0; n < s_.N; ++n) {
          const size_t from = ((static_cast<size_t>(s) * s_.H + h) * s_.N + n) * s_.D;
          const size_t to = qkv_index(which, s, h, n);
          for (int d = 0; d < s_.D; ++d) dst[to + d] = (*dense[which])[from + d];
        }
      }
    }
  }
  for (int b = 0; b < buffers; ++b) qkv_[b]->upload(host[b]);
}

AttentionParams AttentionIo::params(int r) const {
  AttentionParams p;
  const size_t es = dtype_size(dtype_);
  if (layout_.qkv == QkvLayout::kPacked) {
    const char* base = static_cast<const char*>(qkv_[0]->get(r));
    p.q = base;
    p.k = base + static_cast<size_t>(s_.H) * dp_ * es;
    p.v = base + 2 * static_cast<size_t>(s_.H) * dp_ * es;
    p.q_strides = p.k_strides = p.v_strides = packed_qkv_strides(s_.N, s_.H, dp_);
  } else {
    p.q = qkv_[0]->get(r);
    p.k = qkv_[1]->get(r);
    p.v = qkv_[2]->get(r);
    p.q_strides = p.k_strides = p.v_strides = head_major_strides(s_.N, s_.H, dp_);
  }
  p.o = o_->get(r);
  p.o_strides = layout_.out == OutLayout::kTokenMajor ? token_major_strides(s_.N, s_.H, dp_)
                                                      : head_major_strides(s_.N, s_.H, dp_);
  p.sequences = s_.S;
  p.heads = s_.H;
  p.tokens = s_.N;
  p.head_dim = s_.D;
  p.head_dim_padded = layout_.dp;
  p.dtype = dtype_;
  return p;
}

std::vector<float> AttentionIo::download_o(std::vector<float>* pads) const {
  const std::vector<float> raw = o_->download();
  std::vector<float> dense(static_cast<size_t>(s_.S) * s_.H * s_.N * s_.D);
  if (pads != nullptr) pads->clear();
  for (int s = 0; s < s_.S; ++s) {
    for (int h = 0; h < s_.H; ++h) {
      for (int n = 0; n < s_.N; ++n) {
        const size_t to = ((static_cast<size_t>(s) * s_.H + h) * s_.N + n) * s_.D;
        const float* row = &raw[o_index(s, h, n)];
        std::copy(row, row + s_.D, &dense[to]);
        if (pads != nullptr) pads->insert(pads->end(), row + s_.D, row + dp_);
      }
    }
  }
  return dense;
}

void AttentionIo::poison_o() {
  o_->upload(std::vector<float>(o_->size(), std::nanf("")));
}

double AttentionIo::bytes() const {
  const double tokens = static_cast<double>(s_.S) * s_.H * s_.N;
  return tokens * (3.0 * s_.D + dp_) * static_cast<double>(dtype_size(dtype_));
}

namespace {

struct AttnCase {
  AttentionShape shape;
  DType dtype;
  AttentionLayout layout;
  AttentionImpl impl = AttentionImpl::kAuto;
  bool tf32 = false;
  float qk_scale = 1.0f;      // q and k drawn from [-qk_scale, qk_scale)
  bool equal_scores = false;  // q = 0: every score 0, o = the mean of v
};

class AttentionRun final : public PreparedCase {
 public:
  AttentionRun(const AttnCase& c, uint32_t seed, int replicas)
      : c_(c), io_(c.shape, c.dtype, c.layout, replicas) {
    const AttentionShape& s = c.shape;
    const size_t n = static_cast<size_t>(s.S) * s.H * s.N * s.D;
    q_ = c.equal_scores ? std::vector<float>(n, 0.0f)
                        : round_to(c.dtype, random_floats(n, seed, -c.qk_scale, c.qk_scale));
    k_ = round_to(c.dtype, random_floats(n, seed + 1, -c.qk_scale, c.qk_scale));
    v_ = round_to(c.dtype, random_floats(n, seed + 2));
    want_ = attention_ref(s, q_, k_, v_);
    io_.upload(q_, k_, v_);
    replicas_ = replicas;
    bytes = io_.bytes();
    flops = 4.0 * s.S * s.H * static_cast<double>(s.N) * s.N * s.D;
    const AttentionParams cublas = params(AttentionImpl::kCublas, 0);
    const bool cublas_supported = attention_cublas_supported(cublas);
    if (attention_select(params(c.impl, 0)) != AttentionImpl::kCublas) {
      if (cublas_supported) {
        baseline = "cublas+softmax";
        baseline_io_ = std::make_unique<AttentionIo>(c.shape, c.dtype, c.layout, replicas);
        baseline_io_->upload(q_, k_, v_);
      }
    }
    // The scores of the cuBLAS path outgrow the shared test workspace from N = 1024 on.
    const size_t need = cublas_supported ? attention_cublas_workspace_bytes(cublas) : 0;
    handles_ = test_handles();
    if (need > handles_.workspace_bytes) {
      workspace_ = std::make_unique<DeviceBuffer<unsigned char>>(need);
      handles_.workspace = workspace_->get();
      handles_.workspace_bytes = need;
    }
  }

  void launch(Stream stream, int replica) override {
    const AttentionParams p = params(c_.impl, replica);
    dispatched = attention_forward(p, handles_, stream);
    last_ = &io_;
    last_cublas_ = attention_select(p) == AttentionImpl::kCublas;
  }
  void launch_baseline(Stream stream, int replica) override {
    AttentionParams p = params(AttentionImpl::kCublas, replica);
    p.o = baseline_io_->params(replica).o;
    (void)attention_forward(p, handles_, stream);
    last_ = baseline_io_.get();
    last_cublas_ = true;
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    const bool lowp_rule = c_.dtype != DType::kF32 || (c_.tf32 && last_cublas_);
    std::vector<float>& lowp = last_cublas_ ? lowp_cublas_ : lowp_fused_;
    if (lowp_rule && lowp.empty()) {
      lowp = attention_lowp(c_.shape, q_, k_, v_, c_.dtype, c_.tf32 && last_cublas_,
                            last_cublas_ ? AttentionRounding::kCublas : AttentionRounding::kFused);
    }
    // The padded lanes must be exact zeros: appended with want 0 and a vanishing scale.
    std::vector<float> pads;
    std::vector<float> got = last_->download_o(&pads);
    Reference want = want_;
    std::vector<float> lowp_all = lowp;
    for (float pad : pads) {
      got.push_back(pad);
      want.value.push_back(0.0);
      want.scale.push_back(1e-30);
      if (!lowp_all.empty()) lowp_all.push_back(0.0f);
    }
    return compare_rule(c_.dtype, c_.tf32 && last_cublas_, got, want, lowp_all);
  }

 private:
  AttentionParams params(AttentionImpl impl, int replica) const {
    AttentionParams p = io_.params(replica);
    p.impl = impl;
    p.allow_tf32 = c_.tf32;
    return p;
  }

  AttnCase c_;
  AttentionIo io_;
  std::unique_ptr<AttentionIo> baseline_io_;
  std::vector<float> q_, k_, v_;
  Reference want_;
  std::vector<float> lowp_fused_, lowp_cublas_;
  LibraryHandles handles_;
  std::unique_ptr<DeviceBuffer<unsigned char>> workspace_;
  const AttentionIo* last_ = nullptr;
  bool last_cublas_ = false;
};

int dk_of(int d) {
  return (d + 15) / 16 * 16;
}

// The fused kernel's global-load width (kernels/attention_fused.cu): the widest pack of at most
// 16 bytes dividing D, every q / k / v stride and the element offset of every pointer.
int fused_vec(const AttnCase& c) {
  const int es = static_cast<int>(dtype_size(c.dtype));
  const int dp = c.layout.dp == 0 ? c.shape.D : c.layout.dp;
  for (int w = 16 / es; w > 1; w /= 2) {
    const bool strides = dp % w == 0;  // every stride of these layouts is a multiple of Dp
    const bool pointers = c.layout.offset % static_cast<size_t>(w) == 0;
    if (c.shape.D % w == 0 && strides && pointers) return w;
  }
  return 1;
}

KernelCase make(const std::string& name, const AttnCase& c, bool demo = false) {
  KernelCase k;
  k.family = "attention";
  k.name = name;
  k.tolerance = kFp32Tolerance;
  k.demo = demo;
  k.prepare = [c, seed = seed_of(name)](int replicas) {
    return std::make_unique<AttentionRun>(c, seed, replicas);
  };
  const bool fused =
      c.impl == AttentionImpl::kFused || (c.impl == AttentionImpl::kAuto && c.shape.D <= 64);
  if (fused) {
    // The emulated device is sm_90 unless a test says otherwise: bf16 takes the tensor cores.
    const char* kind = c.dtype == DType::kF32 ? "simt" : "wmma";
    k.expect_impl = std::string("fused_") + kind + "_d" + std::to_string(dk_of(c.shape.D));
    k.expect_vec = fused_vec(c);
  } else {
    k.expect_impl = "cublas+softmax";
  }
  return k;
}

int padded(int d) {
  return (d + 7) / 8 * 8;
}

std::string shape_name(const AttentionShape& s, DType t) {
  return "s" + std::to_string(s.S) + "_h" + std::to_string(s.H) + "_n" + std::to_string(s.N) +
         "_d" + std::to_string(s.D) + "_" + dtype_name(t);
}

}  // namespace

std::vector<KernelCase> attention_cases() {
  std::vector<KernelCase> cases;
  const DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16;

  // The model's layers: (N at 256x256, 224x224, 512x512) x head dims per flavour.
  struct Stage {
    int n256, n224, n512;
    int d_xxs, d_xs, d_s;
  };
  const Stage stages[] = {
      {256, 196, 1024, 16, 24, 36},  // 32x32 map at 256x256 (28x28 at 224, 64x64 at 512)
      {64, 49, 256, 20, 30, 48},     // 16x16 (14x14, 32x32)
      {16, 16, 64, 24, 36, 60},      // 8x8 (7x7 resized to 8x8, 16x16)
  };
  const char* flavour[] = {"xxs", "xs", "s"};
  for (const Stage& st : stages) {
    const int dims[] = {st.d_xxs, st.d_xs, st.d_s};
    for (int f = 0; f < 3; ++f) {
      const int d = dims[f];
      const AttentionLayout model{QkvLayout::kPacked, OutLayout::kTokenMajor, padded(d)};
      const std::string base = std::string(flavour[f]) + "_";
      auto add = [&](bool ci, const AttentionShape& s, DType t, bool demo = false) {
        cases.push_back(make((ci ? "" : "Full_") + base + shape_name(s, t), {s, t, model}, demo));
      };
      // In CI: every layer at 256x256 batch 1 in f16 (the model's dtype), in f32 and bf16 at the
      // 16x16 and 8x8 stages (the 32x32 stage's f32 / bf16 instances are reached below at
      // smaller N), the 224x224 input's other N in f16, and batch 8 at the 8x8 stage of XXS.
      // Full: batch 8 elsewhere, f32 / bf16 at N = 256, the 512x512 input (N = 1024 and the
      // other flavours' dims at N = 256 and 64).
      for (DType t : {kF16, kF32, kBF16}) {
        add(t == kF16 || st.n256 <= 64, {4, 4, st.n256, d}, t,
            t == kF16 && f == 1 && st.n256 == 64);
      }
      add(st.n256 == 16 && f == 0, {32, 4, st.n256, d}, kF16);
      if (st.n224 != st.n256) {
        add(true, {4, 4, st.n224, d}, kF16);
        add(false, {32, 4, st.n224, d}, kF16);
      }
      add(false, {4, 4, st.n512, d}, kF16);
    }
  }
  // The seed: 4 heads x 8 (2022 on) and 1 x 32 (before), N at 256x256.
  for (int n : {256, 64, 16}) {
    cases.push_back(make("seed_" + shape_name({4, 4, n, 8}, kF16), {{4, 4, n, 8}, kF16, {}}));
    cases.push_back(make("seed_" + shape_name({4, 1, n, 32}, kF32), {{4, 1, n, 32}, kF32, {}}));
  }
  cases.push_back(make("seed_" + shape_name({4, 4, 64, 8}, kBF16), {{4, 4, 64, 8}, kBF16, {}}));

  // Edge cases.
  const AttentionLayout head_major{QkvLayout::kHeadMajor, OutLayout::kHeadMajor, 0};
  cases.push_back(make("n1_" + shape_name({3, 2, 1, 16}, kF16), {{3, 2, 1, 16}, kF16, {}}));
  cases.push_back(make("n1_" + shape_name({1, 1, 1, 8}, kF32), {{1, 1, 1, 8}, kF32, {}}));
  cases.push_back(make("n2_" + shape_name({2, 3, 2, 20}, kBF16), {{2, 3, 2, 20}, kBF16, {}}));
  cases.push_back(make("n17_" + shape_name({2, 4, 17, 30}, kF32), {{2, 4, 17, 30}, kF32, {}}));
  cases.push_back(make("n300_" + shape_name({1, 2, 300, 64}, kF16), {{1, 2, 300, 64}, kF16, {}}));
  cases.push_back(make("n300_" + shape_name({1, 1, 300, 48}, kBF16), {{1, 1, 300, 48}, kBF16, {}}));
  cases.push_back(make("n100_" + shape_name({2, 2, 100, 64}, kF32), {{2, 2, 100, 64}, kF32, {}}));
  cases.push_back(make("n80_" + shape_name({1, 2, 80, 16}, kF32), {{1, 2, 80, 16}, kF32, {}}));
  cases.push_back(make("Full_n4096_" + shape_name({4, 4, 4096, 16}, kF16),
                       {{4, 4, 4096, 16}, kF16, {QkvLayout::kPacked, OutLayout::kTokenMajor, 16}}));
  // Head dims past the fused kernel: kAuto takes cuBLAS.
  cases.push_back(make("d65_" + shape_name({2, 2, 32, 65}, kF16), {{2, 2, 32, 65}, kF16, {}}));
  cases.push_back(make("d100_" + shape_name({1, 2, 20, 100}, kF32), {{1, 2, 20, 100}, kF32, {}}));
  // Layouts: head-major everywhere (the cuBLAS path's one-call form), head-major Q K V into a
  // token-major O, padding wider than needed.
  cases.push_back(
      make("headmajor_" + shape_name({4, 4, 64, 24}, kF16), {{4, 4, 64, 24}, kF16, head_major}));
  cases.push_back(
      make("headmajor_" + shape_name({2, 4, 16, 36}, kF32), {{2, 4, 16, 36}, kF32, head_major}));
  cases.push_back(
      make("headmajor_in_" + shape_name({4, 4, 16, 20}, kBF16),
           {{4, 4, 16, 20}, kBF16, {QkvLayout::kHeadMajor, OutLayout::kTokenMajor, 24}}));
  cases.push_back(make("pad64_" + shape_name({4, 4, 16, 36}, kF16),
                       {{4, 4, 16, 36}, kF16, {QkvLayout::kPacked, OutLayout::kTokenMajor, 64}}));
  // Misaligned buffers: the fused kernel's narrow loads.
  cases.push_back(
      make("offset1_" + shape_name({4, 4, 16, 24}, kF16),
           {{4, 4, 16, 24}, kF16, {QkvLayout::kPacked, OutLayout::kTokenMajor, 24, 1}}));
  cases.push_back(
      make("offset2_" + shape_name({4, 4, 16, 32}, kF32),
           {{4, 4, 16, 32}, kF32, {QkvLayout::kPacked, OutLayout::kTokenMajor, 32, 2}}));
  cases.push_back(
      make("offset4_" + shape_name({2, 4, 64, 16}, kBF16),
           {{2, 4, 64, 16}, kBF16, {QkvLayout::kPacked, OutLayout::kTokenMajor, 16, 4}}));
  // Numerics: all scores equal (q = 0); scores of size ~100 in f16 (|q|, |k| < 12: at D = 16,
  // sum |q k| * D^-0.5 reaches a few hundred, and exp(100) overflows fp32 let alone fp16).
  AttnCase equal{{4, 4, 64, 20}, kF16, {QkvLayout::kPacked, OutLayout::kTokenMajor, 24}};
  equal.equal_scores = true;
  cases.push_back(make("equal_scores_" + shape_name(equal.shape, kF16), equal));
  AttnCase equal32{{2, 2, 17, 30}, kF32, {}};
  equal32.equal_scores = true;
  cases.push_back(make("equal_scores_" + shape_name(equal32.shape, kF32), equal32));
  AttnCase large{{4, 4, 64, 16}, kF16, {}};
  large.qk_scale = 12.0f;
  cases.push_back(make("large_scores_" + shape_name(large.shape, kF16), large));
  AttnCase large_bf{{2, 4, 16, 36}, kBF16, {QkvLayout::kPacked, OutLayout::kTokenMajor, 40}};
  large_bf.qk_scale = 10.0f;
  cases.push_back(make("large_scores_" + shape_name(large_bf.shape, kBF16), large_bf));
  // Forced paths.
  AttnCase cublas{{4, 4, 64, 30}, kF16, {QkvLayout::kPacked, OutLayout::kTokenMajor, 32}};
  cublas.impl = AttentionImpl::kCublas;
  cases.push_back(make("cublas_" + shape_name(cublas.shape, kF16), cublas));
  AttnCase cublas_hm{{4, 4, 16, 36}, kBF16, head_major};
  cublas_hm.impl = AttentionImpl::kCublas;
  cases.push_back(make("cublas_headmajor_" + shape_name(cublas_hm.shape, kBF16), cublas_hm));
  AttnCase tf32{{4, 4, 64, 24}, kF32, {}};
  tf32.impl = AttentionImpl::kCublas;
  tf32.tf32 = true;
  cases.push_back(make("cublas_tf32_" + shape_name(tf32.shape, kF32), tf32));
  AttnCase fused{{4, 4, 16, 60}, kF32, {QkvLayout::kPacked, OutLayout::kTokenMajor, 64}};
  fused.impl = AttentionImpl::kFused;
  cases.push_back(make("fused_" + shape_name(fused.shape, kF32), fused));
  return cases;
}

}  // namespace test
}  // namespace mvit
