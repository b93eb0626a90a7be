#include "runtime/engine/plan.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "kernels/common/check.h"
#include "runtime/engine/weights.h"

namespace mvit {
namespace plan {

const char* op_name(const Op& op) {
  static const char* const kNames[] = {"conv3x3_stem",  "conv3x3",         "depthwise_conv",
                                       "gemm_epilogue", "resize",          "layernorm",
                                       "attention",     "pool_classifier", "to_nchw"};
  return kNames[op.index()];
}

uint64_t op_flops(const Op& op) {
  using u = uint64_t;
  struct Visitor {
    u operator()(const Conv3x3StemParams& p) const {
      return u(p.B) * ((p.H - 1) / 2 + 1) * ((p.W - 1) / 2 + 1) * 16 * 27 * 2;
    }
    u operator()(const Conv3x3Params& p) const {
      return u(p.B) * p.H * p.W * p.Cout * 9 * (p.C0 + p.C1) * 2;
    }
    u operator()(const DepthwiseConvParams& p) const {
      return u(p.B) * ((p.H - 1) / p.stride + 1) * ((p.W - 1) / p.stride + 1) * p.C * 9 * 2;
    }
    u operator()(const GemmEpilogueParams& p) const { return u(p.m) * p.n * p.k * 2; }
    // Bilinear: 4 products and 3 sums per output element; LayerNorm: ~8 per element (two
    // reductions, centring, scaling, affine).
    u operator()(const ResizeParams& p) const { return u(p.B) * p.C * p.Ho * p.Wo * 7; }
    u operator()(const LayerNormParams& p) const { return u(p.rows) * p.channels * 8; }
    // Q K^T and P V (2 N^2 D multiply-adds per sequence and head) and the softmax (~5 per score).
    u operator()(const AttentionParams& p) const {
      const u nn = u(p.tokens) * p.tokens;
      return u(p.sequences) * p.heads * (nn * p.head_dim * 4 + nn * 5);
    }
    u operator()(const PoolClassifierParams& p) const {
      return u(p.B) * p.H * p.W * p.C + u(p.B) * p.C * p.classes * 2;
    }
    u operator()(const ToNchwParams&) const { return 0; }
  };
  return std::visit(Visitor{}, op);
}

namespace {

constexpr size_t kAlign = 256;  // every buffer: the 128-bit paths and cuBLAS's preferred alignment

size_t align_up(size_t n) {
  return (n + kAlign - 1) / kAlign * kAlign;
}

// Note [planning placeholders]: while planning, an activation pointer is a distinct, aligned,
// never-dereferenced address per buffer (2^36 bytes apart, so no two buffers' ranges overlap),
// so that each family's _supported / _select / _workspace_bytes checks the real shapes, alignments
// and overlaps at engine creation. apply_fixups replaces them with arena addresses.
const void* placeholder(int buffer, size_t offset) {
  return reinterpret_cast<const void*>((uintptr_t{1} << 44) + (uintptr_t(buffer) << 36) + offset);
}

template <class P>
struct Pending {
  P p{};
  std::vector<Fixup> fixups;
  std::vector<int> reads, writes;
  uint64_t weight_bytes = 0;

  template <class T>
  void bind(T* P::*field, int buffer, size_t offset) {
    const size_t at = static_cast<size_t>(reinterpret_cast<const unsigned char*>(&(p.*field)) -
                                          reinterpret_cast<const unsigned char*>(&p));
    fixups.push_back({at, buffer, offset});
    p.*field = static_cast<T*>(const_cast<void*>(placeholder(buffer, offset)));
  }
  template <class T>
  void read(T* P::*field, int buffer, size_t offset = 0) {
    bind(field, buffer, offset);
    if (std::find(reads.begin(), reads.end(), buffer) == reads.end()) reads.push_back(buffer);
  }
  template <class T>
  void write(T* P::*field, int buffer) {
    bind(field, buffer, 0);
    writes.push_back(buffer);
  }
  template <class T>
  void weight(T* P::*field, const WeightTable& w, const std::string& name) {
    p.*field = static_cast<T*>(const_cast<void*>(w.ptr(name)));
    weight_bytes += w.bytes_of(name);
  }
};

struct Builder {
  const ModelSpec& spec;
  const WeightTable& w;
  const PlanOptions& o;
  const LibraryHandles& h;
  Plan plan;
  DType dt;
  size_t es;
  int B;
  std::string stage = "stem";

  Builder(const ModelSpec& s, const WeightTable& wt, const PlanOptions& opt,
          const LibraryHandles& handles)
      : spec(s), w(wt), o(opt), h(handles), dt(opt.dtype), es(dtype_size(opt.dtype)), B(opt.batch) {
    std::fill(std::begin(plan.outputs), std::end(plan.outputs), -1);
  }

  int buffer(const std::string& name, size_t elements, size_t element_bytes) {
    plan.buffers.push_back({name, elements * element_bytes, -2, -2, 0});
    return static_cast<int>(plan.buffers.size()) - 1;
  }
  int act(const std::string& name, int64_t pixels, int channels) {
    return buffer(name, static_cast<size_t>(pixels) * channels, es);
  }

  // Checks the step with its family's own rules (throwing with the step's name), records its
  // workspace, and appends it.
  template <class P>
  void add(const std::string& name, Pending<P>& s, const std::function<size_t(const P&)>& check) {
    size_t ws = 0;
    try {
      ws = check(s.p);
    } catch (const Error& e) {
      MVIT_CHECK(false, "%s (input %dx%d, batch %d): %s", name.c_str(), o.input_h, o.input_w, B,
                 e.what());
    }
    plan.workspace_bytes = std::max(plan.workspace_bytes, ws);
    const int index = static_cast<int>(plan.steps.size());
    for (int b : s.writes) {
      if (plan.buffers[b].first == -2) plan.buffers[b].first = index;
      plan.buffers[b].last = std::max(plan.buffers[b].last, index);
    }
    for (int b : s.reads) plan.buffers[b].last = std::max(plan.buffers[b].last, index);
    plan.steps.push_back({name, stage, s.p, s.fixups, s.reads, s.writes, s.weight_bytes});
  }

  // y[m, n] = act(x[m, k] w^T + bias) (+ residual), rows reordered by the orders.
  void gemm(const std::string& name, const std::string& weights, bool bias, int x, int y, int64_t m,
            int n, int k, Activation a, int residual = -1, PixelOrder xo = PixelOrder::kNhwc,
            PixelOrder yo = PixelOrder::kNhwc, int mh = 0, int mw = 0) {
    Pending<GemmEpilogueParams> s;
    s.read(&GemmEpilogueParams::x, x);
    s.weight(&GemmEpilogueParams::w, w, weights + ".w");
    if (bias) s.weight(&GemmEpilogueParams::bias, w, weights + ".b");
    if (residual >= 0) s.read(&GemmEpilogueParams::residual, residual);
    s.write(&GemmEpilogueParams::y, y);
    s.p.m = m, s.p.n = n, s.p.k = k;
    if (xo != PixelOrder::kNhwc || yo != PixelOrder::kNhwc) {
      s.p.B = B, s.p.H = mh, s.p.W = mw;
    }
    s.p.x_order = xo, s.p.y_order = yo, s.p.act = a, s.p.dtype = dt;
    s.p.allow_tf32 = o.allow_tf32;
    add<GemmEpilogueParams>(
        name, s, [](const GemmEpilogueParams& p) { return gemm_epilogue_workspace_bytes(p); });
  }

  void conv3x3(const std::string& name, const std::string& weights, int in0, int in1, int out,
               int hh, int ww, int c0, int c1, int cout) {
    Pending<Conv3x3Params> s;
    s.read(&Conv3x3Params::in0, in0);
    s.weight(&Conv3x3Params::w0, w, weights + (in1 >= 0 ? ".w0" : ".w"));
    if (in1 >= 0) {
      s.read(&Conv3x3Params::in1, in1);
      s.weight(&Conv3x3Params::w1, w, weights + ".w1");
    }
    s.weight(&Conv3x3Params::bias, w, weights + ".b");
    s.write(&Conv3x3Params::out, out);
    s.p.B = B, s.p.H = hh, s.p.W = ww, s.p.C0 = c0, s.p.C1 = c1, s.p.Cout = cout;
    s.p.act = Activation::kSilu, s.p.dtype = dt;
    const LibraryHandles& handles = h;
    add<Conv3x3Params>(name, s, [&handles](const Conv3x3Params& p) {
      MVIT_CHECK(conv3x3_supported(p, handles), "conv3x3: unsupported parameters");
      return conv3x3_workspace_bytes(p, handles);
    });
  }

  void layernorm(const std::string& name, const std::string& weights, int x, int y, int64_t rows,
                 int c) {
    Pending<LayerNormParams> s;
    s.read(&LayerNormParams::x, x);
    s.weight(&LayerNormParams::gamma, w, weights + ".w");
    s.weight(&LayerNormParams::beta, w, weights + ".b");
    s.write(&LayerNormParams::y, y);
    s.p.rows = rows, s.p.channels = c, s.p.eps = static_cast<float>(spec.ln_eps), s.p.dtype = dt;
    add<LayerNormParams>(name, s, [](const LayerNormParams& p) {
      MVIT_CHECK(layernorm_supported(p), "layernorm: rows %lld, channels %d unsupported",
                 static_cast<long long>(p.rows), p.channels);
      return size_t{0};
    });
  }

  void resize(const std::string& name, int x, int y, int c, int hi, int wi, int ho, int wo,
              PixelOrder in, PixelOrder out) {
    Pending<ResizeParams> s;
    s.read(&ResizeParams::x, x);
    s.write(&ResizeParams::y, y);
    s.p.B = B, s.p.C = c, s.p.H = hi, s.p.W = wi, s.p.Ho = ho, s.p.Wo = wo;
    s.p.in_order = in, s.p.out_order = out, s.p.dtype = dt;
    add<ResizeParams>(name, s, [](const ResizeParams& p) {
      MVIT_CHECK(resize_supported(p), "resize: unsupported parameters");
      return size_t{0};
    });
  }

  // Hands a [B, hh, ww, c] activation to the user as fp32 NCHW, when asked for.
  void output(Output which, int x, int hh, int ww, int c) {
    const int i = static_cast<int>(which);
    plan.output_shapes[i] = {c, hh, ww};
    if (!o.want[i]) return;
    const int y = buffer(std::string(output_name(which)) + ".nchw",
                         static_cast<size_t>(B) * c * hh * ww, sizeof(float));
    Pending<ToNchwParams> s;
    s.read(&ToNchwParams::x, x);
    s.write(&ToNchwParams::y, y);
    s.p.B = B, s.p.H = hh, s.p.W = ww, s.p.C = c, s.p.dtype = dt;
    add<ToNchwParams>(std::string(output_name(which)) + ".to_nchw", s, [](const ToNchwParams& p) {
      MVIT_CHECK(to_nchw_supported(p), "to_nchw: unsupported parameters");
      return size_t{0};
    });
    plan.outputs[i] = y;
  }

  int mv2(const std::string& p, const Mv2Spec& m, int x, int& hh, int& ww) {
    const int64_t pixels = int64_t{B} * hh * ww;
    const int e = act(p + "expand", pixels, m.hidden_channels);
    gemm(p + "expand", p + "expand", true, x, e, pixels, m.hidden_channels, m.in_channels,
         Activation::kSilu);
    const int ho = depthwise_out_extent(hh, m.stride), wo = depthwise_out_extent(ww, m.stride);
    const int64_t out_pixels = int64_t{B} * ho * wo;
    const int d = act(p + "dw", out_pixels, m.hidden_channels);
    {
      Pending<DepthwiseConvParams> s;
      s.read(&DepthwiseConvParams::x, e);
      s.weight(&DepthwiseConvParams::w, w, p + "dw.w");
      s.weight(&DepthwiseConvParams::bias, w, p + "dw.b");
      s.write(&DepthwiseConvParams::y, d);
      s.p.B = B, s.p.H = hh, s.p.W = ww, s.p.C = m.hidden_channels, s.p.stride = m.stride;
      s.p.act = Activation::kSilu, s.p.dtype = dt;
      add<DepthwiseConvParams>(p + "dw", s, [](const DepthwiseConvParams& q) {
        MVIT_CHECK(depthwise_conv_supported(q), "depthwise_conv: unsupported parameters");
        return size_t{0};
      });
    }
    const int y = act(p + "project", out_pixels, m.out_channels);
    gemm(p + "project", p + "project", true, d, y, out_pixels, m.out_channels, m.hidden_channels,
         Activation::kNone, m.residual() ? x : -1);
    hh = ho, ww = wo;
    return y;
  }

  int mobilevit(const std::string& p, const MobileVitSpec& b, int x, int hh, int ww) {
    const int C = b.channels, d = b.dim;
    MVIT_CHECK(b.kernel == 3,
               "%s: kernel %d: the engine's convolutions are 3x3 (conv3x3); supported: 3",
               p.c_str(), b.kernel);
    MVIT_CHECK(b.patch_h == 2 && b.patch_w == 2,
               "%s: patch %dx%d: the engine's token layout is 2x2 patches (Note [patch-major "
               "tokens]); supported: 2x2",
               p.c_str(), b.patch_h, b.patch_w);
    const bool even = hh % 2 == 0 && ww % 2 == 0;
    MVIT_CHECK(even || spec.interpolate_if_indivisible,
               "%s: input %dx%d gives a %dx%d map, not divisible by the 2x2 patch, and the %s "
               "flavour has no resize path (shared/reference/mobilevit.md section 6); use an "
               "input whose maps are even, such as %dx%d",
               p.c_str(), o.input_h, o.input_w, hh, ww, to_string(spec.flavour), spec.input_h,
               spec.input_w);
    const int64_t pixels = int64_t{B} * hh * ww;
    const int k = act(p + "conv_kxk", pixels, C);
    conv3x3(p + "conv_kxk", p + "conv_kxk", x, -1, k, hh, ww, C, 0, C);
    const int hp = (hh + 1) / 2 * 2, wp = (ww + 1) / 2 * 2;
    const int64_t M = int64_t{B} * hp * wp;
    const int N = hp * wp / 4;
    const Activation a1 = b.conv_1x1_bn_act ? Activation::kSilu : Activation::kNone;
    int t = act(p + "tokens", M, d);
    if (even) {
      gemm(p + "conv_1x1", p + "conv_1x1", b.conv_1x1_bn_act, k, t, pixels, d, C, a1, -1,
           PixelOrder::kNhwc, PixelOrder::kPatchMajor, hh, ww);
    } else {
      const int u = act(p + "conv_1x1", pixels, d);
      gemm(p + "conv_1x1", p + "conv_1x1", b.conv_1x1_bn_act, k, u, pixels, d, C, a1);
      resize(p + "resize_up", u, t, d, hh, ww, hp, wp, PixelOrder::kNhwc, PixelOrder::kPatchMajor);
    }
    const int H = b.heads, D = b.head_dim, Dp = padded_head_dim(D);
    for (int l = 0; l < b.depth; ++l) {
      const std::string q = p + "transformer." + std::to_string(l) + ".";
      const int a = act(q + "norm1", M, d);
      layernorm(q + "norm1", q + "norm1", t, a, M, d);
      const int qkv = act(q + "qkv", M, 3 * H * Dp);
      gemm(q + "attn.qkv", q + "attn.qkv", b.qkv_bias, a, qkv, M, 3 * H * Dp, d, Activation::kNone);
      const int att = act(q + "attn", M, H * Dp);
      {
        Pending<AttentionParams> s;
        const size_t head_block = static_cast<size_t>(H) * Dp * es;
        s.read(&AttentionParams::q, qkv, 0);
        s.read(&AttentionParams::k, qkv, head_block);
        s.read(&AttentionParams::v, qkv, 2 * head_block);
        s.write(&AttentionParams::o, att);
        s.p.q_strides = s.p.k_strides = s.p.v_strides = packed_qkv_strides(N, H, Dp);
        s.p.o_strides = token_major_strides(N, H, Dp);
        s.p.sequences = B * 4, s.p.heads = H, s.p.tokens = N, s.p.head_dim = D;
        s.p.head_dim_padded = Dp, s.p.dtype = dt, s.p.allow_tf32 = o.allow_tf32;
        s.p.impl = o.attention;
        add<AttentionParams>(q + "attn", s,
                             [](const AttentionParams& r) { return attention_workspace_bytes(r); });
      }
      const int t2 = act(q + "residual1", M, d);
      gemm(q + "attn.proj", q + "attn.proj", true, att, t2, M, d, H * Dp, Activation::kNone, t);
      const int a2 = act(q + "norm2", M, d);
      layernorm(q + "norm2", q + "norm2", t2, a2, M, d);
      const int f = act(q + "fc1", M, b.ffn_dim);
      gemm(q + "mlp.fc1", q + "mlp.fc1", true, a2, f, M, b.ffn_dim, d, Activation::kSilu);
      const int t3 = act(q + "residual2", M, d);
      gemm(q + "mlp.fc2", q + "mlp.fc2", true, f, t3, M, d, b.ffn_dim, Activation::kNone, t2);
      t = t3;
    }
    if (b.final_layernorm) {
      const int n = act(p + "norm", M, d);
      layernorm(p + "norm", p + "norm", t, n, M, d);
      t = n;
    }
    const int pr = act(p + "conv_proj", pixels, C);
    if (even) {
      gemm(p + "conv_proj", p + "conv_proj", true, t, pr, pixels, C, d, Activation::kSilu, -1,
           PixelOrder::kPatchMajor, PixelOrder::kNhwc, hh, ww);
    } else {
      const int v = act(p + "folded", pixels, d);
      resize(p + "resize_down", t, v, d, hp, wp, hh, ww, PixelOrder::kPatchMajor,
             PixelOrder::kNhwc);
      gemm(p + "conv_proj", p + "conv_proj", true, v, pr, pixels, C, d, Activation::kSilu);
    }
    const int out = act(p + "fusion", pixels, C);
    const bool input_first = b.concat == ConcatOrder::kInputBranch;
    conv3x3(p + "fusion", p + "fusion", input_first ? x : pr, input_first ? pr : x, out, hh, ww, C,
            C, C);
    return out;
  }

  void build() {
    MVIT_CHECK(spec.in_channels == kStemCin && spec.stem_channels == kStemCout &&
                   spec.stem_kernel == 3 && spec.stem_stride == 2,
               "stem: %d -> %d channels, %dx%d stride %d: the stem kernel (conv3x3_stem) "
               "supports 3 -> 16 channels, 3x3, stride 2",
               spec.in_channels, spec.stem_channels, spec.stem_kernel, spec.stem_kernel,
               spec.stem_stride);
    plan.input = buffer("input", static_cast<size_t>(B) * 3 * o.input_h * o.input_w, sizeof(float));
    plan.buffers[plan.input].first = -1;
    int hh = conv3x3_stem_out_size(o.input_h), ww = conv3x3_stem_out_size(o.input_w);
    int x = act("stem", int64_t{B} * hh * ww, kStemCout);
    {
      Pending<Conv3x3StemParams> s;
      s.read(&Conv3x3StemParams::x, plan.input);
      s.weight(&Conv3x3StemParams::w, w, "stem.w");
      s.weight(&Conv3x3StemParams::bias, w, "stem.b");
      s.write(&Conv3x3StemParams::y, x);
      s.p.B = B, s.p.H = o.input_h, s.p.W = o.input_w, s.p.act = Activation::kSilu;
      s.p.dtype = dt;
      add<Conv3x3StemParams>("stem", s, [](const Conv3x3StemParams& p) {
        MVIT_CHECK(conv3x3_stem_supported(p), "conv3x3_stem: unsupported parameters");
        return size_t{0};
      });
    }
    output(Output::kStem, x, hh, ww, kStemCout);
    int c = kStemCout;
    MVIT_CHECK(spec.stages.size() == 5, "the engine runs 5 stages (stage1..stage5), found %zu",
               spec.stages.size());
    for (size_t si = 0; si < spec.stages.size(); ++si) {
      stage = "stage" + std::to_string(si + 1);
      for (size_t j = 0; j < spec.stages[si].blocks.size(); ++j) {
        const BlockSpec& b = spec.stages[si].blocks[j];
        const std::string p = "stages." + std::to_string(si) + "." + std::to_string(j) + ".";
        if (b.kind == BlockKind::kMv2) {
          x = mv2(p, b.mv2, x, hh, ww);
          c = b.mv2.out_channels;
        } else {
          x = mobilevit(p, b.mvit, x, hh, ww);
        }
      }
      output(static_cast<Output>(static_cast<int>(Output::kStage1) + si), x, hh, ww, c);
    }
    stage = "head";
    if (spec.head.pool == PoolKind::kAvgPool) {
      MVIT_CHECK(hh == spec.head.pool_size && ww == spec.head.pool_size,
                 "head: input %dx%d gives a %dx%d last map; the seed flavour's AvgPool2d(%d, 1) "
                 "is a global mean only on a %dx%d map, so this model supports only inputs that "
                 "give one (%dx%d, the model's input size)",
                 o.input_h, o.input_w, hh, ww, spec.head.pool_size, spec.head.pool_size,
                 spec.head.pool_size, spec.input_h, spec.input_w);
    }
    const int64_t pixels = int64_t{B} * hh * ww;
    const int f = act("head", pixels, spec.head.channels);
    gemm("head", "head", true, x, f, pixels, spec.head.channels, c, Activation::kSilu);
    output(Output::kFeatures, f, hh, ww, spec.head.channels);
    const int pooled = buffer("pooled", static_cast<size_t>(B) * spec.head.channels, 4);
    const int logits = buffer("logits", static_cast<size_t>(B) * spec.num_classes, 4);
    {
      Pending<PoolClassifierParams> s;
      s.read(&PoolClassifierParams::x, f);
      s.weight(&PoolClassifierParams::weight, w, "head.fc.w");
      if (spec.head.classifier_bias) s.weight(&PoolClassifierParams::bias, w, "head.fc.b");
      s.write(&PoolClassifierParams::pooled, pooled);
      s.write(&PoolClassifierParams::logits, logits);
      s.p.B = B, s.p.H = hh, s.p.W = ww, s.p.C = spec.head.channels;
      s.p.classes = spec.num_classes, s.p.dtype = dt;
      add<PoolClassifierParams>("head.fc", s, [](const PoolClassifierParams& p) {
        MVIT_CHECK(pool_classifier_supported(p), "pool_classifier: unsupported parameters");
        return size_t{0};
      });
    }
    plan.outputs[static_cast<int>(Output::kLogits)] = logits;
    plan.output_shapes[static_cast<int>(Output::kLogits)] = {spec.num_classes};
    // Outputs are copied to the caller's buffers after the last step.
    const int end = static_cast<int>(plan.steps.size());
    for (int b : plan.outputs) {
      if (b >= 0) plan.buffers[b].last = end;
    }
  }
};

}  // namespace

Plan build_plan(const ModelSpec& spec, const WeightTable& weights, const PlanOptions& options,
                const LibraryHandles& handles) {
  Builder b(spec, weights, options, handles);
  b.build();
  return std::move(b.plan);
}

// Note [arena placement]
// Offsets are found by first fit: buffers are taken in some order, and each takes the lowest
// 256-byte-aligned offset whose range overlaps no placed buffer live at the same time (live: from
// the step that writes it to the last step that reads it; the input from before the first step,
// outputs until after the last). Which order wins depends on the graph, so four are tried and the
// smallest arena kept: largest first (the greedy-by-size of TFLite's planner), earliest first,
// longest-lived first, and largest size x lifetime first, each placing at the lowest offset that
// fits or in the smallest gap that fits (best fit). The lower bound is the largest sum of
// sizes live at any one step; no placement can use less. Measured on XXS, batch 1 (test_engine
// EnginePlan): 1.000 of the bound at 256x256, see README for every flavour.
namespace {

// best_fit: the smallest gap that holds the buffer (else the end); otherwise the lowest offset.
size_t place(Plan& plan, const std::vector<int>& order, bool best_fit) {
  std::vector<int> placed;
  size_t top = 0;
  for (int i : order) {
    Buffer& b = plan.buffers[i];
    const size_t need = align_up(b.bytes);
    std::vector<std::pair<size_t, size_t>> busy;
    for (int j : placed) {
      const Buffer& o = plan.buffers[j];
      if (o.first <= b.last && b.first <= o.last) busy.push_back({o.offset, align_up(o.bytes)});
    }
    std::sort(busy.begin(), busy.end());
    size_t at = 0, chosen = SIZE_MAX, chosen_gap = SIZE_MAX;
    for (const auto& [start, size] : busy) {
      if (start >= at + need) {
        const size_t gap = start - at;
        if (!best_fit) {
          chosen = at;
          break;
        }
        if (gap < chosen_gap) chosen = at, chosen_gap = gap;
      }
      at = std::max(at, start + size);
    }
    b.offset = chosen != SIZE_MAX ? chosen : at;
    top = std::max(top, b.offset + need);
    placed.push_back(i);
  }
  return top;
}

}  // namespace

// Random orders tried after the four sorted ones: the planner's cost is trials x buffers^2
// (~200 buffers: well under a millisecond per trial).
constexpr int kPlacementTrials = 256;

void assign_offsets(Plan& plan) {
  for (const Buffer& b : plan.buffers) {
    MVIT_CHECK(b.first != -2, "engine plan: buffer '%s' is never written (a planner bug)",
               b.name.c_str());
  }
  const auto span = [&](int i) {
    return static_cast<size_t>(plan.buffers[i].last - plan.buffers[i].first + 1);
  };
  const std::function<bool(int, int)> orders[] = {
      [&](int a, int b) { return plan.buffers[a].bytes > plan.buffers[b].bytes; },
      [&](int a, int b) { return plan.buffers[a].first < plan.buffers[b].first; },
      [&](int a, int b) { return span(a) > span(b); },
      [&](int a, int b) {
        return plan.buffers[a].bytes * span(a) > plan.buffers[b].bytes * span(b);
      },
  };
  std::vector<std::vector<int>> candidates;
  size_t bound = 0;
  const int n = static_cast<int>(plan.steps.size());
  for (int s = -1; s <= n; ++s) {
    size_t live = 0;
    for (const Buffer& b : plan.buffers) {
      if (b.first <= s && s <= b.last) live += align_up(b.bytes);
    }
    bound = std::max(bound, live);
  }
  plan.lower_bound_bytes = bound;
  for (const auto& less : orders) {
    std::vector<int> order(plan.buffers.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(), less);
    candidates.push_back(order);
  }
  // Random orders, by a fixed pseudo-random sequence so that the plan is deterministic: greedy
  // placement is sensitive to order in ways no single sort captures (S at 256x256 stays 10%
  // above its bound under all four sorts, at the bound under some random orders).
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int trial = 0; trial < kPlacementTrials; ++trial) {
    std::vector<int> order = candidates.front();
    for (size_t i = order.size(); i > 1; --i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      std::swap(order[i - 1], order[(state >> 33) % i]);
    }
    candidates.push_back(order);
  }
  std::vector<size_t> best_offsets;
  size_t best = SIZE_MAX;
  for (const std::vector<int>& order : candidates) {
    if (best == bound) break;  // optimal: nothing to gain
    for (bool best_fit : {false, true}) {
      const size_t top = place(plan, order, best_fit);
      if (top < best) {
        best = top;
        best_offsets.clear();
        for (const Buffer& b : plan.buffers) best_offsets.push_back(b.offset);
      }
    }
  }
  for (size_t i = 0; i < plan.buffers.size(); ++i) plan.buffers[i].offset = best_offsets[i];
  plan.activation_bytes = best;
}

void apply_fixups(Step& step, const Plan& layout, unsigned char* base) {
  unsigned char* params = nullptr;
  std::visit([&](auto& p) { params = reinterpret_cast<unsigned char*>(&p); }, step.op);
  for (const Fixup& f : step.fixups) {
    void* value = base + layout.buffers[f.buffer].offset + f.offset;
    std::memcpy(params + f.field, &value, sizeof value);
  }
}

}  // namespace plan
}  // namespace mvit
