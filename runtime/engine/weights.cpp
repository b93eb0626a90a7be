#include "runtime/engine/weights.h"

#include <algorithm>

#include "kernels/common/check.h"
#include "kernels/fold_batchnorm.h"
#include "runtime/engine/device.h"

namespace mvit {
namespace plan {

// Note [head padding]
// The fused attention kernel loads Q, K and V rows with the widest pack that divides the head
// dimension D and the strides (kernels/attention_fused.cu). D = 20, 30, 36 and 60 (XXS, XS and S
// stages) allow only 4- or 8-byte loads; padded to Dp = the next multiple of 8, every row is
// 16-byte loadable in f16 / bf16 and the GEMMs around attention get N and K multiples of 8, the
// condition of gemm_epilogue's 128-bit path. The QKV projection gets zero rows for the pad lanes
// (so q, k, v pads are 0) and the out-projection zero columns (so the pads of o, which attention
// writes as 0 anyway, multiply nothing). Cost: 3 * H * (Dp - D) extra output columns of the QKV
// GEMM, at most 20% (D = 20 -> 24). Chosen analytically, unmeasured: the first GPU run should time
// attention and the GEMMs with and without the pad (mvit-kernel-bench has both shapes).
int padded_head_dim(int head_dim) {
  return head_dim % 8 == 0 ? head_dim : (head_dim + 7) / 8 * 8;
}

namespace {

std::vector<float> values(const Model& m, const std::string& name) {
  return m.tensor(name).to_float();
}

BatchNorm2d batchnorm(const Model& m, const std::string& unit, double eps) {
  BatchNorm2d bn;
  bn.gamma = values(m, unit + ".bn.weight");
  bn.beta = values(m, unit + ".bn.bias");
  bn.running_mean = values(m, unit + ".bn.running_mean");
  bn.running_var = values(m, unit + ".bn.running_var");
  bn.eps = eps;
  return bn;
}

FoldedConv conv_bn(const Model& m, const std::string& unit, int cout, double eps) {
  return fold_batchnorm(values(m, unit + ".conv.weight"), {}, cout, batchnorm(m, unit, eps));
}

// OIHW [cout, cin, k, k] -> KRSC [cout, k, k, count] of input channels [first, first + count).
std::vector<float> krsc(const std::vector<float>& w, int cout, int cin, int k, int first,
                        int count) {
  std::vector<float> out(static_cast<size_t>(cout) * k * k * count);
  for (int o = 0; o < cout; ++o) {
    for (int r = 0; r < k; ++r) {
      for (int s = 0; s < k; ++s) {
        for (int c = 0; c < count; ++c) {
          out[((static_cast<size_t>(o) * k + r) * k + s) * count + c] =
              w[((static_cast<size_t>(o) * cin + first + c) * k + r) * k + s];
        }
      }
    }
  }
  return out;
}

}  // namespace

struct WeightBuilder {
  WeightTable& t;
  const Model& m;
  double bn_eps;

  void conv(const std::string& unit, int cout) {
    FoldedConv f = conv_bn(m, unit, cout, bn_eps);
    t.add(unit + ".w", f.weight);
    t.add(unit + ".b", f.bias);
  }
  void copy(const std::string& canonical, const std::string& name) {
    t.add(name, values(m, canonical));
  }

  void mobilevit(const std::string& p, const MobileVitSpec& b) {
    const int C = b.channels, d = b.dim, k = b.kernel;
    FoldedConv kxk = conv_bn(m, p + "conv_kxk", C, bn_eps);
    t.add(p + "conv_kxk.w", krsc(kxk.weight, C, C, k, 0, C));
    t.add(p + "conv_kxk.b", kxk.bias);
    if (b.conv_1x1_bn_act) {
      conv(p + "conv_1x1", d);
    } else {
      copy(p + "conv_1x1.conv.weight", p + "conv_1x1.w");
    }
    const int H = b.heads, D = b.head_dim, Dp = padded_head_dim(D), inner = b.inner();
    for (int l = 0; l < b.depth; ++l) {
      const std::string q = p + "transformer." + std::to_string(l) + ".";
      copy(q + "norm1.weight", q + "norm1.w");
      copy(q + "norm1.bias", q + "norm1.b");
      // [3 * inner, d] rows (t, h, j) -> [3 * H * Dp, d], pad rows 0.
      const std::vector<float> qkv = values(m, q + "attn.qkv.weight");
      std::vector<float> qkv_p(static_cast<size_t>(3) * H * Dp * d, 0.0f);
      std::vector<float> qkv_b(static_cast<size_t>(3) * H * Dp, 0.0f);
      const std::vector<float> bias =
          b.qkv_bias ? values(m, q + "attn.qkv.bias") : std::vector<float>{};
      for (int tr = 0; tr < 3; ++tr) {
        for (int h = 0; h < H; ++h) {
          for (int j = 0; j < D; ++j) {
            const size_t src = static_cast<size_t>(tr) * inner + h * D + j;
            const size_t dst = (static_cast<size_t>(tr) * H + h) * Dp + j;
            std::copy_n(qkv.begin() + src * d, d, qkv_p.begin() + dst * d);
            if (b.qkv_bias) qkv_b[dst] = bias[src];
          }
        }
      }
      t.add(q + "attn.qkv.w", qkv_p);
      if (b.qkv_bias) t.add(q + "attn.qkv.b", qkv_b);
      // [d, inner] columns (h, j) -> [d, H * Dp], pad columns 0.
      const std::vector<float> proj = values(m, q + "attn.proj.weight");
      std::vector<float> proj_p(static_cast<size_t>(d) * H * Dp, 0.0f);
      for (int o = 0; o < d; ++o) {
        for (int h = 0; h < H; ++h) {
          for (int j = 0; j < D; ++j) {
            proj_p[(static_cast<size_t>(o) * H + h) * Dp + j] =
                proj[static_cast<size_t>(o) * inner + h * D + j];
          }
        }
      }
      t.add(q + "attn.proj.w", proj_p);
      copy(q + "attn.proj.bias", q + "attn.proj.b");
      copy(q + "norm2.weight", q + "norm2.w");
      copy(q + "norm2.bias", q + "norm2.b");
      copy(q + "mlp.fc1.weight", q + "mlp.fc1.w");
      copy(q + "mlp.fc1.bias", q + "mlp.fc1.b");
      copy(q + "mlp.fc2.weight", q + "mlp.fc2.w");
      copy(q + "mlp.fc2.bias", q + "mlp.fc2.b");
    }
    if (b.final_layernorm) {
      copy(p + "norm.weight", p + "norm.w");
      copy(p + "norm.bias", p + "norm.b");
    }
    conv(p + "conv_proj", C);
    // [C, 2C, k, k]: input channels [0, C) are the concatenation's first part (official: the
    // block input; seed: the branch), w0; [C, 2C) the second, w1.
    FoldedConv fusion = conv_bn(m, p + "fusion", C, bn_eps);
    t.add(p + "fusion.w0", krsc(fusion.weight, C, 2 * C, k, 0, C));
    t.add(p + "fusion.w1", krsc(fusion.weight, C, 2 * C, k, C, C));
    t.add(p + "fusion.b", fusion.bias);
  }
};

WeightTable::WeightTable(const Model& model, DType dtype) : dtype_(dtype) {
  const ModelSpec& spec = model.spec();
  WeightBuilder w{*this, model, spec.bn_eps};
  w.conv("stem", spec.stem_channels);
  for (size_t s = 0; s < spec.stages.size(); ++s) {
    for (size_t j = 0; j < spec.stages[s].blocks.size(); ++j) {
      const BlockSpec& b = spec.stages[s].blocks[j];
      const std::string p = "stages." + std::to_string(s) + "." + std::to_string(j) + ".";
      if (b.kind == BlockKind::kMv2) {
        w.conv(p + "expand", b.mv2.hidden_channels);
        w.conv(p + "dw", b.mv2.hidden_channels);
        w.conv(p + "project", b.mv2.out_channels);
      } else {
        w.mobilevit(p, b.mvit);
      }
    }
  }
  w.conv("head", spec.head.channels);
  w.copy("head.fc.weight", "head.fc.w");
  if (spec.head.classifier_bias) w.copy("head.fc.bias", "head.fc.b");
}

void WeightTable::add(const std::string& name, const std::vector<float>& v) {
  const size_t offset = (blob_.size() + kWeightAlignment - 1) / kWeightAlignment * kWeightAlignment;
  const size_t bytes = v.size() * dtype_size(dtype_);
  blob_.resize(offset + bytes);
  device::convert_from_f32(v.data(), v.size(), dtype_, blob_.data() + offset);
  entries_.push_back({name, offset, bytes});
}

const WeightTable::Entry& WeightTable::find(const std::string& name) const {
  for (const Entry& e : entries_) {
    if (e.name == name) return e;
  }
  MVIT_CHECK(false, "engine weights: no prepared tensor '%s' (a planner bug)", name.c_str());
  return entries_.front();
}

bool WeightTable::has(const std::string& name) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&](const Entry& e) { return e.name == name; });
}

const void* WeightTable::ptr(const std::string& name) const {
  MVIT_CHECK(base_ != nullptr, "engine weights: '%s' asked for before the upload", name.c_str());
  return base_ + find(name).offset;
}

size_t WeightTable::bytes_of(const std::string& name) const {
  return find(name).bytes;
}

}  // namespace plan
}  // namespace mvit
