// softmax cases: the attention score rows of every stage of MobileViT XXS, XS and S (all flavours:
// the softmax sees only N), rows = S * H * N = 16 N at batch 1 (S = 4 pixel positions, H = 4
// heads), N = 256 / 64 / 16 at 256x256, 196 / 49 / 16 at 224x224 (the 7x7 map resized to 8x8),
// 240 / 60 / 15 at 192x320, 1024 / 256 / 64 at 512x512, 4096 at 1024x1024; in the dtype pairs the
// cuBLAS attention path uses (fp32 scores -> f32 / f16 / bf16 probabilities) and the same-type
// f16 and bf16 ones. Then a sweep over every instance of the kernels for f32 -> f16 (one n per
// instance of the vector and the scalar path, odd n for the scalar one), both kernels on both
// paths for each of the nine dtype pairs, and the edge cases: n = 1, ld > n (the padding of x
// holds NaN, so a read past n poisons the row; the padding of y holds 7, checked unchanged),
// unaligned x or y (scalar path), scales from the head dims (20, 36, 60), negative and zero.
// In place, all-equal rows, |s| ~ 100, n = 1 and NaN are TESTs of test_softmax.cpp.
//
// Inputs x in [-4, 4): q . k of unit-range head lanes has a spread of a few units; scale
// D^-0.5 (0.25 for D = 16 unless a case says otherwise) brings scale * x to about [-1, 1).
//
// Tolerance (tests/support/tolerance.h, scale from softmax_ref.h: y (1 + |s_j| + |m|)): y f32
// within 1e-5; f16 / bf16 y within 2x the error of softmax_lowp (fp32 math, y rounded once).
// Every case with 16-bit y has >= 256 outputs, so that the measured E is near its half-ulp
// maximum and the 2x bound does not depend on luck.
//
// Full (CI skips them): batch 8 from N = 196 up; N = 1024 at batch 1; N = 4096 over 4096 rows (one
// (sequence, head) of the 1024x1024 input: the real 16 N = 65536 rows would need ~8 GB of host
// memory for the fp64 reference; the same instance runs in CI on a 64-row slice). Batch 8 at
// N >= 1024 is left out for the same reason.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/common/cuda_check.h"
#include "kernels/softmax.h"
#include "tests/cases/family_cases.h"
#include "tests/reference/softmax_ref.h"
#include "tests/support/device_tensor.h"
#include "tests/support/random.h"

namespace mvit {
namespace test {
namespace {

constexpr DType kF32 = DType::kF32, kF16 = DType::kF16, kBF16 = DType::kBF16;
constexpr float kPadY = 7.0f;  // y's padding columns: exact in every dtype, not a probability

struct SmCase {
  int64_t rows;
  int n;
  DType x_dtype, y_dtype;
  float scale = 0.25f;
  int64_t ld_x = 0, ld_y = 0;         // 0: n
  size_t x_offset = 0, y_offset = 0;  // elements past a 256-byte aligned base
};

int64_t ld_of(int64_t ld, int n) {
  return ld == 0 ? n : ld;
}

// Dense [rows, n] into [rows, ld] with `pad` in columns n .. ld - 1.
template <class T>
std::vector<T> padded(const std::vector<T>& dense, int64_t rows, int n, int64_t ld, T pad) {
  std::vector<T> out(static_cast<size_t>(rows * ld), pad);
  for (int64_t r = 0; r < rows; ++r) {
    std::copy_n(dense.begin() + r * n, n, out.begin() + r * ld);
  }
  return out;
}

class SoftmaxRun final : public PreparedCase {
 public:
  SoftmaxRun(const SmCase& c, uint32_t seed, int replicas) : c_(c) {
    const size_t count = static_cast<size_t>(c.rows) * c.n;
    const SoftmaxRefShape shape{c.rows, c.n, c.scale};
    const std::vector<float> x = round_to(c.x_dtype, random_floats(count, seed, -4.0f, 4.0f));
    const int64_t ld_x = ld_of(c.ld_x, c.n), ld_y = ld_of(c.ld_y, c.n);
    const Reference dense = softmax_ref(shape, x);
    want_.value = padded(dense.value, c.rows, c.n, ld_y, static_cast<double>(kPadY));
    want_.scale = padded(dense.scale, c.rows, c.n, ld_y, 1.0);
    if (c.y_dtype != kF32) {
      lowp_ = padded(softmax_lowp(shape, x, c.y_dtype), c.rows, c.n, ld_y, kPadY);
    }
    dx_ = std::make_unique<DeviceTensor>(c.x_dtype, padded(x, c.rows, c.n, ld_x, std::nanf("")),
                                         replicas, c.x_offset);
    // y: NaN where the op must write (an unwritten output fails), kPadY where it must not.
    dy_ = std::make_unique<DeviceTensor>(
        c.y_dtype, padded(std::vector<float>(count, std::nanf("")), c.rows, c.n, ld_y, kPadY),
        replicas, c.y_offset);
    replicas_ = replicas;
    bytes = static_cast<double>(count) * (dtype_size(c.x_dtype) + dtype_size(c.y_dtype));
    // Per element: the scale multiply, the max, the subtraction, exp2 (counted as one), the sum
    // and the normalising multiply.
    flops = 6.0 * static_cast<double>(count);
  }

  void launch(Stream stream, int replica) override {
    SoftmaxParams p;
    p.x = dx_->get(replica);
    p.y = dy_->get(replica);
    p.rows = c_.rows;
    p.n = c_.n;
    p.ld_x = c_.ld_x;
    p.ld_y = c_.ld_y;
    p.scale = c_.scale;
    p.x_dtype = c_.x_dtype;
    p.y_dtype = c_.y_dtype;
    dispatched = softmax_forward(p, stream);
  }

  Comparison check() override {
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    return compare_rule(c_.y_dtype, false, dy_->download(), want_, lowp_);
  }

 private:
  SmCase c_;
  Reference want_;
  std::vector<float> lowp_;
  std::unique_ptr<DeviceTensor> dx_, dy_;
};

// The contract of softmax.h, restated from the header: the group kernel up to
// kSoftmaxGroupMaxCols, the vector path when n, the lds and both base pointers allow a pack
// (DeviceTensor's bases are 256-byte aligned before the offset).
KernelCase make(const std::string& name, const SmCase& c, bool demo = false) {
  KernelCase k;
  k.family = "softmax";
  k.name = name;
  k.tolerance = kFp32Tolerance;
  k.demo = demo;
  k.prepare = [c, seed = seed_of(name)](int replicas) {
    return std::make_unique<SoftmaxRun>(c, seed, replicas);
  };
  const int pack = softmax_pack(c.x_dtype, c.y_dtype);
  const bool vec = c.n % pack == 0 && ld_of(c.ld_x, c.n) % pack == 0 &&
                   ld_of(c.ld_y, c.n) % pack == 0 && c.x_offset % pack == 0 &&
                   c.y_offset % pack == 0;
  k.expect_impl = c.n <= kSoftmaxGroupMaxCols ? "softmax_group_per_row" : "softmax_block_per_row";
  k.expect_vec = vec ? pack : 1;
  return k;
}

std::string pair_name(DType x, DType y) {
  return std::string(dtype_name(x)) + "_" + dtype_name(y);
}

std::string shape_name(int64_t rows, int n, DType x, DType y) {
  return "n" + std::to_string(n) + "_r" + std::to_string(rows) + "_" + pair_name(x, y);
}

// Rows for a sweep case: not a multiple of any block's row count (a partial last block), and
// >= 256 outputs (the file comment's tolerance note).
int64_t sweep_rows(int n) {
  return std::max<int64_t>(37, (256 + n - 1) / n | 1);
}

void add(std::vector<KernelCase>& out, const SmCase& c, const std::string& suffix = "",
         bool demo = false) {
  out.push_back(make(shape_name(c.rows, c.n, c.x_dtype, c.y_dtype) + suffix, c, demo));
}

void add_full(std::vector<KernelCase>& out, const SmCase& c) {
  out.push_back(make("Full_" + shape_name(c.rows, c.n, c.x_dtype, c.y_dtype), c));
}

void add_model_rows(std::vector<KernelCase>& out) {
  // Batch 1, rows 16 N. f32 -> f16 at every N (the f16 model); f32 -> f32 and f32 -> bf16 and
  // the same-type pairs at the 256x256 input's stages.
  for (int n : {16, 15, 49, 60, 64, 196, 240, 256}) {
    add(out, {16LL * n, n, kF32, kF16}, "", n == 64);
  }
  for (int n : {16, 64, 256}) {
    add(out, {16LL * n, n, kF32, kF32});
    add(out, {16LL * n, n, kF32, kBF16});
    add(out, {16LL * n, n, kF16, kF16});
    add(out, {16LL * n, n, kBF16, kBF16});
  }
  add_full(out, {16LL * 1024, 1024, kF32, kF16});
  add_full(out, {16LL * 1024, 1024, kF32, kF32});
  add_full(out, {4096, 4096, kF32, kF16});
  add_full(out, {4096, 4096, kF32, kBF16});
  add(out, {64, 1024, kF32, kF16}, "_slice");
  add(out, {64, 4096, kF32, kF16}, "_slice");
  add(out, {64, 4096, kF32, kF32}, "_slice");
  // Batch 8, rows 128 N.
  add(out, {128LL * 16, 16, kF32, kF16});
  add(out, {128LL * 16, 16, kF32, kF32});
  add(out, {128LL * 64, 64, kF32, kF16});
  add(out, {128LL * 64, 64, kBF16, kBF16});
  for (int n : {196, 256}) add_full(out, {128LL * n, n, kF32, kF16});
}

// One n per instance of softmax.cu's table for f32 -> f16: vector path (pack 4) and scalar path
// (odd n), each n the largest or a non-power-of-two value of its instance's range.
void add_sweep(std::vector<KernelCase>& out) {
  for (int n : {12, 28, 60, 100, 200, 500, 1000, 1500, 4000}) {
    add(out, {sweep_rows(n), n, kF32, kF16});
  }
  for (int n : {3, 7, 13, 31, 63, 127, 255, 511, 1023, 2047, 4095}) {
    add(out, {sweep_rows(n), n, kF32, kF16});
  }
}

// Both kernels on both paths for every dtype pair: n = 8 * 13 = 104 (a multiple of every pack)
// and 101 for the group kernel, 1032 (8 * 129) and 1031 for the block kernel.
void add_pairs(std::vector<KernelCase>& out) {
  for (DType x : {kF32, kF16, kBF16}) {
    for (DType y : {kF32, kF16, kBF16}) {
      for (int n : {104, 101}) add(out, {5, n, x, y});
      for (int n : {1032, 1031}) add(out, {3, n, x, y});
    }
  }
}

void add_edges(std::vector<KernelCase>& out) {
  add(out, {7, 1, kF32, kF32});
  add(out, {300, 1, kF32, kF16});
  add(out, {257, 1, kBF16, kBF16});
  // ld > n: vector path (72, 80 multiples of 4), scalar because of ld (66), scalar n (17),
  // the block kernel (2052).
  SmCase ld{40, 64, kF32, kF16};
  ld.ld_x = 72;
  ld.ld_y = 80;
  add(out, ld, "_ld72_80");
  SmCase ld_odd{40, 64, kF32, kF32};
  ld_odd.ld_x = 66;
  add(out, ld_odd, "_ld66");
  SmCase ld17{30, 17, kF16, kF16};
  ld17.ld_x = 24;
  ld17.ld_y = 19;
  add(out, ld17, "_ld24_19");
  SmCase ldb{4, 2048, kF32, kBF16};
  ldb.ld_x = 2052;
  ldb.ld_y = 2056;
  add(out, ldb, "_ld2052_2056");
  // Unaligned bases: scalar path; an offset of a whole pack keeps the vector path.
  SmCase ux{64, 256, kF32, kF16};
  ux.x_offset = 1;
  add(out, ux, "_unaligned_x");
  SmCase uy{40, 64, kF16, kF16};
  uy.y_offset = 3;
  add(out, uy, "_unaligned_y");
  SmCase ub{3, 2048, kBF16, kBF16};
  ub.x_offset = 5;
  ub.y_offset = 5;
  add(out, ub, "_unaligned_xy");
  SmCase pack_off{40, 64, kF32, kF32};
  pack_off.x_offset = 4;
  pack_off.y_offset = 8;
  add(out, pack_off, "_offset_4_8");
  // Scales of other head dims, a negative scale, zero (uniform rows).
  SmCase d20{16 * 16, 16, kF32, kF16};
  d20.scale = 1.0f / std::sqrt(20.0f);
  add(out, d20, "_d20");
  SmCase d36{64, 256, kF32, kBF16};
  d36.scale = 1.0f / std::sqrt(36.0f);
  add(out, d36, "_d36");
  SmCase d60{16 * 16, 16, kF32, kF32};
  d60.scale = 1.0f / std::sqrt(60.0f);
  add(out, d60, "_d60");
  SmCase neg{32, 100, kF32, kF32};
  neg.scale = -0.5f;
  add(out, neg, "_negative_scale");
  SmCase zero{20, 64, kF32, kF16};
  zero.scale = 0.0f;
  add(out, zero, "_zero_scale");
}

}  // namespace

std::vector<KernelCase> softmax_cases() {
  std::vector<KernelCase> cases;
  add_model_rows(cases);
  add_sweep(cases);
  add_pairs(cases);
  add_edges(cases);
  return cases;
}

}  // namespace test
}  // namespace mvit
