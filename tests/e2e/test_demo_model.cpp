// The shipped model (weights/digits-xxs, tools/train_demo.py) on its whole held-out split: the
// library's preprocessing (tools/image, PIL-exact) and forward against the PyTorch logits the
// training script recorded, in fp32 and fp16. Prints the figures weights/README.md records.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "kernels/common/cuda_check.h"
#include "mvit/mvit.h"
#include "runtime/model.h"
#include "runtime/npy.h"
#include "tests/support/device_buffer.h"
#include "tests/support/reference_outputs.h"
#include "tools/image/image.h"

namespace mvit {
namespace test {
namespace {

const std::string kModel = MVIT_DEMO_MODEL;
// Held-out images run: all 360 in the plain emulated build (~5 s fp32, ~12 s fp16); the first 8
// under the sanitizers, which look for memory errors that do not depend on the image count (all
// 360 there take ~2 min in fp32 alone).
constexpr int kImages = MVIT_DEMO_IMAGES;

struct HeldOut {
  int n = 0, classes = 0;
  std::vector<float> input;   // [n, 3, 64, 64], preprocessed by tools/image
  std::vector<int64_t> labels;
  std::vector<float> torch;   // [n, classes]
};

const HeldOut& held_out(const Model& model) {
  static const HeldOut h = [&] {
    HeldOut r;
    const NpyArray images = read_npy(kModel + "/heldout/images.npy");  // [n, 8, 8], 0..255
    const NpyArray labels = read_npy(kModel + "/heldout/labels.npy");
    const NpyArray torch = read_npy(kModel + "/heldout/torch_logits.npy");
    EXPECT_EQ(images.shape.at(0), 360);
    r.n = std::min(kImages, static_cast<int>(images.shape.at(0)));
    r.classes = model.spec().num_classes;
    EXPECT_EQ(torch.shape, (std::vector<int64_t>{360, r.classes}));
    r.labels = labels.i64;
    r.torch = torch.f32;
    const int h = static_cast<int>(images.shape[1]), w = static_cast<int>(images.shape[2]);
    for (int i = 0; i < r.n; ++i) {
      image::Rgb8 img;  // a grayscale PNG's pixels, replicated as PIL's convert("RGB")
      img.width = w, img.height = h;
      for (int p = 0; p < h * w; ++p) {
        const auto v = static_cast<uint8_t>(images.f32[size_t(i) * h * w + p]);
        img.pixels.insert(img.pixels.end(), {v, v, v});
      }
      const image::Tensor t = image::preprocess(img, model.spec().preprocessing);
      r.input.insert(r.input.end(), t.chw.begin(), t.chw.end());
    }
    return r;
  }();
  return h;
}

std::vector<float> forward(const Model& model, const HeldOut& h, Precision p) {
  const int kChunk = std::min(72, h.n);  // 5 forwards of the 360 images: bounded emulated memory
  EngineOptions o;
  o.max_batch = kChunk;
  o.input_h = o.input_w = 64;
  o.precision = p;
  const Engine engine = Engine::create(model, o);
  Context context(engine);
  DeviceBuffer<float> in(size_t(kChunk) * 3 * 64 * 64), out(size_t(kChunk) * h.classes);
  std::vector<float> logits;
  for (int first = 0; first < h.n; first += kChunk) {
    const int b = std::min(kChunk, h.n - first);
    MVIT_CUDA_CHECK(cudaMemcpy(in.get(), h.input.data() + size_t(first) * 3 * 64 * 64,
                               size_t(b) * 3 * 64 * 64 * sizeof(float), cudaMemcpyHostToDevice));
    OutputBuffers ob;
    ob.logits = out.get();
    context.run(in.get(), b, ob, nullptr);
    MVIT_CUDA_CHECK(cudaDeviceSynchronize());
    const std::vector<float> all = out.download();
    logits.insert(logits.end(), all.begin(), all.begin() + size_t(b) * h.classes);
  }
  return logits;
}

int argmax(const float* v, int n) {
  return static_cast<int>(std::max_element(v, v + n) - v);
}

class DemoModel : public ::testing::TestWithParam<Precision> {};

TEST_P(DemoModel, GivesPyTorchsPredictionOnTheHeldOutSplit) {
  const Precision p = GetParam();
  const Model model = Model::load(kModel);
  const HeldOut& h = held_out(model);
  ASSERT_EQ(h.n, kImages);
  const std::vector<float> logits = forward(model, h, p);
  double max_ref = 0, max_diff = 0;
  ASSERT_EQ(logits.size(), size_t(h.n) * h.classes);
  for (size_t i = 0; i < logits.size(); ++i) {
    max_ref = std::max(max_ref, double(std::fabs(h.torch[i])));
    const double d = std::fabs(double(logits[i]) - h.torch[i]);
    max_diff = std::isfinite(d) ? std::max(max_diff, d) : INFINITY;
  }
  // Note [e2e tolerances]; a prediction may differ only where PyTorch's top-1/top-2 margin is
  // within twice the bound (each of the two logits may move by the bound).
  const double tol = precision_tolerance(p) * std::max(1.0, max_ref);
  int correct = 0, torch_correct = 0, excluded = 0, disagree = 0;
  for (int i = 0; i < h.n; ++i) {
    const float* ref = &h.torch[size_t(i) * h.classes];
    const int top = argmax(ref, h.classes), mine = argmax(&logits[size_t(i) * h.classes], h.classes);
    float second = -INFINITY;
    for (int c = 0; c < h.classes; ++c) {
      if (c != top) second = std::max(second, ref[c]);
    }
    correct += mine == h.labels[i];
    torch_correct += top == h.labels[i];
    if (ref[top] - second <= 2 * tol) {
      ++excluded;
    } else {
      disagree += mine != top;
    }
  }
  std::printf("demo model %s: held-out accuracy %d/%d = %.2f%% (PyTorch fp32 %d/%d = %.2f%%), "
              "max |logit - PyTorch| %.3g (tolerance %.3g), %d image(s) within the margin "
              "excluded, %d disagreement(s)\n",
              to_string(p), correct, h.n, 100.0 * correct / h.n, torch_correct, h.n,
              100.0 * torch_correct / h.n, max_diff, tol, excluded, disagree);
  EXPECT_LE(max_diff, tol);
  EXPECT_EQ(disagree, 0);
  EXPECT_GE(correct, h.n * 95 / 100);
}

INSTANTIATE_TEST_SUITE_P(Precisions, DemoModel,
                         ::testing::Values(Precision::kFp32, Precision::kFp16),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace test
}  // namespace mvit
