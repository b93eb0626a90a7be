// to_nchw cases. Real shapes: the outputs the engine hands the user (shared/DESIGN.md section 8)
// at 256x256 input: the stem (16 channels, 128x128), stage 1..5 of XXS, XS and S (128x128 down to
// 8x8, variants.h's channels) and the features (320 / 384 / 640 channels at 8x8); at 224x224 the
// 7x7 maps of stage 5 and the features. Batch 1 for each, batch 2 and 8 for a few; the three
// dtypes spread over them (each dtype meets a ragged and a whole-tile case). Edge cases: C = 17
// (a ragged channel tile), H*W = 1, a 3x5 map, C = 1, C = 33 over 5x7 (both tiles ragged), x and
// y one element past an aligned base (the kernel makes only element-wide accesses: any aligned
// element pointer works).
//
// Tolerance: 0. Every output is one input converted to fp32, which is exact for every DType, so
// y must equal the reference bit for bit; y is filled with NaN before the launches, so an output
// the kernel does not write fails as non-finite (compare.h).
//
// No case is Full: the largest (the stem at batch 8, 2 M elements) takes well under a second
// emulated.
#include <cmath>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/common/cuda_check.h"
#include "kernels/to_nchw.h"
#include "runtime/variants.h"
#include "tests/cases/family_cases.h"
#include "tests/reference/to_nchw_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

struct TnCase {
  ToNchwShape shape;
  DType dtype;
  size_t x_offset = 0, y_offset = 0;  // elements past a 256-byte aligned allocation
};

class ToNchwRun final : public PreparedCase {
 public:
  ToNchwRun(const TnCase& d, uint32_t seed, int replicas) : d_(d) {
    const ToNchwShape& s = d.shape;
    const size_t n = static_cast<size_t>(s.B) * s.H * s.W * s.C;
    const std::vector<float> x = round_to(d.dtype, random_floats(n, seed));
    want_ = to_nchw_ref(s, x);
    dx_ = std::make_unique<DeviceTensor>(d.dtype, x, replicas, d.x_offset);
    dy_ = std::make_unique<DeviceTensor>(DType::kF32, std::vector<float>(n, std::nanf("")),
                                         replicas, d.y_offset);
    replicas_ = replicas;
    bytes = static_cast<double>(dx_->bytes() + dy_->bytes());
  }

  void launch(Stream stream, int r) override {
    ToNchwParams p;
    p.x = dx_->get(r);
    p.y = static_cast<float*>(dy_->get(r));
    p.B = d_.shape.B, p.H = d_.shape.H, p.W = d_.shape.W, p.C = d_.shape.C;
    p.dtype = d_.dtype;
    dispatched = to_nchw_forward(p, stream);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    return compare(dy_->download(), want_.value, 0.0, want_.scale);
  }

 private:
  TnCase d_;
  Reference want_;
  std::unique_ptr<DeviceTensor> dx_, dy_;
};

std::string shape_name(const ToNchwShape& s, DType t) {
  return "c" + std::to_string(s.C) + "_" + std::to_string(s.H) + "x" + std::to_string(s.W) + "_b" +
         std::to_string(s.B) + "_" + dtype_name(t);
}

KernelCase make(const std::string& name, const TnCase& d, bool demo = false) {
  KernelCase k;
  k.family = "to_nchw";
  k.name = name;
  k.tolerance = 0.0;
  k.demo = demo;
  k.prepare = [d, seed = seed_of(name)](int replicas) {
    return std::make_unique<ToNchwRun>(d, seed, replicas);
  };
  k.expect_impl = "tiled_transpose";
  k.expect_vec = 1;  // the contract of to_nchw.h: element-wide accesses for every shape
  return k;
}

}  // namespace

std::vector<KernelCase> to_nchw_cases() {
  const DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16;
  std::vector<KernelCase> cases;
  std::set<std::tuple<int, int, int, int, int>> seen;  // one case per shape and dtype
  auto add = [&](const std::string& tag, const ToNchwShape& s, DType t, bool demo = false) {
    if (!seen.insert({s.B, s.H, s.W, s.C, static_cast<int>(t)}).second) return;
    cases.push_back(make(tag + "_" + shape_name(s, t), {s, t}, demo));
  };

  for (DType t : {kF16, kF32, kBF16}) add("stem", {1, 128, 128, 16}, t, t == kF16);
  const DType variant_dtype[3] = {kF16, kBF16, kF32};  // XXS, XS, S
  for (int v = 0; v < 3; ++v) {
    const VariantSizes& vs = kVariants[v];
    const std::string name = vs.name;
    for (int stage = 1; stage <= 5; ++stage) {  // 256x256: stage k's map is 256 / 2^k
      const int hw = 256 >> stage;
      add(name + "_stage" + std::to_string(stage), {1, hw, hw, vs.channels[stage]},
          variant_dtype[v]);
    }
    add(name + "_features", {1, 8, 8, vs.channels[6]}, variant_dtype[v]);
    add(name + "_stage5_224", {1, 7, 7, vs.channels[5]}, kF16);  // 224x224: 7x7 maps
    add(name + "_features_224", {1, 7, 7, vs.channels[6]}, variant_dtype[v]);
  }
  add("s_features", {8, 8, 8, 640}, kF16);
  add("xs_features_224", {8, 7, 7, 384}, kBF16);
  add("xxs_stage3", {2, 32, 32, 48}, kF32);
  add("s_stage2", {2, 64, 64, 64}, kBF16);
  add("stem", {8, 128, 128, 16}, kF16);

  // Edge cases.
  add("odd_c", {1, 3, 5, 17}, kF16);      // 15 pixels x 17 channels: one ragged tile
  add("one_pixel", {1, 1, 1, 17}, kF32);  // H*W = 1: y is x converted
  add("one_pixel", {2, 1, 1, 640}, kBF16);
  add("one_channel", {1, 9, 7, 1}, kBF16);  // C = 1: y is x converted
  add("ragged", {3, 5, 7, 33}, kF32);       // both tiles ragged, several images
  add("ragged", {2, 33, 1, 65}, kF16);      // Nx1 map, pixel and channel tiles both spill by one
  TnCase ux{{1, 7, 7, 96}, kF16};
  ux.x_offset = 1;  // 2 bytes past the aligned base
  cases.push_back(make("unaligned_x_c96_7x7_b1_f16", ux));
  TnCase uy{{1, 8, 8, 160}, kBF16};
  uy.y_offset = 1;
  cases.push_back(make("unaligned_y_c160_8x8_b1_bf16", uy));
  TnCase uxy{{2, 3, 5, 17}, kF32};
  uxy.x_offset = 3, uxy.y_offset = 1;
  cases.push_back(make("unaligned_xy_c17_3x5_b2_f32", uxy));
  return cases;
}

}  // namespace test
}  // namespace mvit
