// resize cases. Real shapes: at 224x224 input the last MobileViT block's 7x7 map is resized up to
// 8x8 before the unfold (NHWC in, patch-major out) and back after the fold (patch-major in, NHWC
// out), with C = d: 96 (XXS), 144 (XS), 240 (S), batch 1 and 8 (mobilevit.md section 6; 256x256
// and 192x320 inputs never resize: their maps are even). Plus the identity 6x10 -> 6x10 of the
// 192x320 input's last map into patch-major order (a pure unfold through the resize kernel: exact
// copies), and edge cases: 1x1 -> 2x2, 2x2 -> 1x1, 3x5 -> 4x6, 5x9 -> 6x10, 9x3 -> 4x2, C = 1,
// odd C, C not a multiple of the vector width, unaligned x or y, both sides patch-major.
//
// Tolerance (tests/support/tolerance.h): scale = sum of |weight * x| over the four taps; fp32
// within 1e-5 of the fp64 reference (the fp32 weights alone are off by ~1e-7); f16 / bf16 within
// 2x the error of the reference's own fp32 computation rounded to the type (resize_lowp).
//
// No case is Full: the largest (batch 64, ~1 M output elements) takes 0.3 s emulated.
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/common/cuda_check.h"
#include "kernels/resize.h"
#include "tests/cases/family_cases.h"
#include "tests/reference/resize_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

struct RsCase {
  ResizeShape shape;
  DType dtype;
  size_t x_offset = 0, y_offset = 0;  // elements past a 256-byte aligned allocation
};

class ResizeRun final : public PreparedCase {
 public:
  ResizeRun(const RsCase& d, uint32_t seed, int replicas) : d_(d) {
    const ResizeShape& s = d.shape;
    const size_t nx = static_cast<size_t>(s.B) * s.H * s.W * s.C;
    const size_t ny = static_cast<size_t>(s.B) * s.Ho * s.Wo * s.C;
    x_ = round_to(d.dtype, random_floats(nx, seed));  // [-1, 1): outputs are O(1) too
    want_ = resize_ref(s, x_);
    if (d.dtype != DType::kF32) lowp_ = resize_lowp(s, x_, d.dtype);
    dx_ = std::make_unique<DeviceTensor>(d.dtype, x_, replicas, d.x_offset);
    dy_ = std::make_unique<DeviceTensor>(d.dtype, ny, replicas, d.y_offset);
    replicas_ = replicas;
    bytes = static_cast<double>(dx_->bytes() + dy_->bytes());
    flops = 6.0 * static_cast<double>(ny);  // 6 multiplies and adds per output element
  }

  void launch(Stream stream, int r) override {
    ResizeParams p;
    p.x = dx_->get(r);
    p.y = dy_->get(r);
    const ResizeShape& s = d_.shape;
    p.B = s.B, p.C = s.C, p.H = s.H, p.W = s.W, p.Ho = s.Ho, p.Wo = s.Wo;
    p.in_order = s.in_order;
    p.out_order = s.out_order;
    p.dtype = d_.dtype;
    dispatched = resize_forward(p, stream);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    return compare_rule(d_.dtype, false, dy_->download(), want_, lowp_);
  }

 private:
  RsCase d_;
  std::vector<float> x_, lowp_;
  Reference want_;
  std::unique_ptr<DeviceTensor> dx_, dy_;
};

KernelCase make(const std::string& name, const RsCase& d, bool demo = false) {
  KernelCase k;
  k.family = "resize";
  k.name = name;
  k.tolerance = kFp32Tolerance;
  k.demo = demo;
  k.prepare = [d, seed = seed_of(name)](int replicas) {
    return std::make_unique<ResizeRun>(d, seed, replicas);
  };
  // The contract of resize.h: 128-bit path iff C % kVec == 0 and x, y 16-byte aligned.
  const int vec = d.dtype == DType::kF32 ? 4 : 8;
  const size_t es = dtype_size(d.dtype);
  const bool aligned = d.x_offset * es % 16 == 0 && d.y_offset * es % 16 == 0;
  k.expect_impl = "bilinear_nhwc";
  k.expect_vec = d.shape.C % vec == 0 && aligned ? vec : 1;
  return k;
}

std::string order_tag(PixelOrder o) {
  return o == PixelOrder::kNhwc ? "nhwc" : "pm";
}

std::string shape_name(const ResizeShape& s, DType t) {
  return "c" + std::to_string(s.C) + "_" + std::to_string(s.H) + "x" + std::to_string(s.W) + "_" +
         order_tag(s.in_order) + "_to_" + std::to_string(s.Ho) + "x" + std::to_string(s.Wo) + "_" +
         order_tag(s.out_order) + "_b" + std::to_string(s.B) + "_" + dtype_name(t);
}

}  // namespace

std::vector<KernelCase> resize_cases() {
  const PixelOrder kNhwc = PixelOrder::kNhwc, kPm = PixelOrder::kPatchMajor;
  const DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16;
  std::vector<KernelCase> cases;
  auto add = [&](const ResizeShape& s, DType t, const std::string& prefix = "", bool demo = false) {
    cases.push_back(make(prefix + shape_name(s, t), {s, t}, demo));
  };

  for (int d : {96, 144, 240}) {  // XXS, XS, S at 224x224
    for (int B : {1, 8}) {
      for (DType t : {kF16, kF32, kBF16}) {
        if (B == 8 && t != kF16) continue;
        add({B, d, 7, 7, 8, 8, kNhwc, kPm}, t, "", d == 144 && B == 1 && t == kF16);  // up
        add({B, d, 8, 8, 7, 7, kPm, kNhwc}, t);                                       // down
      }
    }
  }
  add({64, 240, 7, 7, 8, 8, kNhwc, kPm}, kF16);  // the largest case
  add({64, 240, 8, 8, 7, 7, kPm, kNhwc}, kBF16);
  // 192x320 input: the 6x10 map needs no resize; through the kernel as an identity it is the
  // unfold / fold alone, and must be an exact copy.
  add({1, 240, 6, 10, 6, 10, kNhwc, kPm}, kF16);
  add({2, 96, 6, 10, 6, 10, kPm, kNhwc}, kF32);

  // Edge cases.
  add({1, 1, 1, 1, 2, 2, kNhwc, kPm}, kF32);   // one pixel up: four copies
  add({3, 8, 2, 2, 1, 1, kPm, kNhwc}, kF16);   // down to one pixel, C = kVec
  add({1, 13, 3, 5, 4, 6, kNhwc, kPm}, kF16);  // odd C: scalar
  add({2, 3, 5, 9, 6, 10, kNhwc, kNhwc}, kBF16);
  add({1, 37, 9, 3, 4, 2, kNhwc, kNhwc}, kF32);  // downscale by > 2: taps skip rows
  add({1, 6, 4, 6, 3, 5, kPm, kNhwc}, kF32);     // C % 4 != 0: scalar
  add({2, 16, 6, 6, 4, 8, kPm, kPm}, kBF16);     // both sides patch-major
  add({1, 1, 7, 1, 8, 2, kNhwc, kPm}, kBF16);    // Nx1 map, C = 1
  add({1, 24, 1, 9, 2, 4, kNhwc, kPm}, kF16);    // 1xN map
  RsCase ux{{1, 96, 7, 7, 8, 8, kNhwc, kPm}, kF16};
  ux.x_offset = 4;  // 8 bytes: the scalar path
  cases.push_back(make("c96_7x7_nhwc_to_8x8_pm_b1_f16_unaligned_x", ux));
  RsCase uy{{1, 144, 8, 8, 7, 7, kPm, kNhwc}, kF32};
  uy.y_offset = 1;
  cases.push_back(make("c144_8x8_pm_to_7x7_nhwc_b1_f32_unaligned_y", uy));
  return cases;
}

}  // namespace test
}  // namespace mvit
