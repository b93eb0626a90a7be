// mvit classify --model DIR IMAGE... [--top-k K] [--json] [--precision P] [--batch-size N]
// Decodes PNG/JPEG files, applies the model's own preprocessing (tools/image), runs them through
// the engine in batches and prints the top-k classes with their probabilities, under the model's
// own labels (model.json `labels`, a Hugging Face folder's id2label) or "class N" without them.
// Every image is decoded and checked before any forward runs: one bad file fails the command
// with its name and nothing is printed for the others.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/common/check.h"
#include "tools/image/image.h"
#include "tools/mvit/commands.h"
#include "tools/mvit/forward.h"

namespace mvit::cli {

namespace {

const char* kClassifyUsage =
    "usage: mvit classify --model DIR [options] IMAGE...\n"
    "\n"
    "  --model DIR        a model directory or a Hugging Face MobileViT folder\n"
    "  IMAGE              PNG or JPEG files (grayscale, RGB, RGBA, palette; 8 or 16 bit)\n"
    "  --top-k K          classes printed per image (default 5, at most the class count)\n"
    "  --json             one JSON document on stdout instead of the text lines\n"
    "  --precision P      fp32 (default), tf32, fp16, bf16\n"
    "  --batch-size N     images per forward (default 16)\n";

struct Prediction {
  int index;
  double probability;
};

// Softmax in double of one row of logits, sorted by probability, ties by class index.
std::vector<Prediction> top_k(const float* logits, int classes, int k) {
  const double mx = *std::max_element(logits, logits + classes);
  std::vector<double> p(classes);
  double total = 0;
  for (int c = 0; c < classes; ++c) total += p[c] = std::exp(double{logits[c]} - mx);
  std::vector<int> order(classes);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
  std::vector<Prediction> out;
  for (int i = 0; i < k; ++i) out.push_back({order[i], p[order[i]] / total});
  return out;
}

}  // namespace

int classify_main(const std::vector<std::string>& args) {
  std::string model_dir;
  std::vector<std::string> files;
  int k = 5;
  bool json = false;
  ForwardOptions options;
  options.batch_size = 16;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--help" || a == "-h") {
        std::fputs(kClassifyUsage, stdout);
        return 0;
      }
      if (a == "--json") {
        json = true;
        continue;
      }
      if (a.size() < 2 || a.compare(0, 2, "--") != 0) {
        files.push_back(a);
        continue;
      }
      MVIT_CHECK(i + 1 < args.size(), "%s: missing its value", a.c_str());
      const std::string& v = args[++i];
      auto number = [&](long lo, long hi) {
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        MVIT_CHECK(*end == '\0' && !v.empty() && n >= lo && n <= hi, "%s %s: expected %ld to %ld",
                   a.c_str(), v.c_str(), lo, hi);
        return static_cast<int>(n);
      };
      if (a == "--model") {
        model_dir = v;
      } else if (a == "--top-k") {
        k = number(1, 1 << 20);
      } else if (a == "--batch-size") {
        options.batch_size = number(1, 4096);
      } else if (a == "--precision") {
        options.precision = parse_precision(v);
      } else {
        MVIT_CHECK(false, "unknown option '%s'", a.c_str());
      }
    }
    MVIT_CHECK(!model_dir.empty(), "--model is required");
    MVIT_CHECK(!files.empty(), "no image given");
  } catch (const Error& e) {
    std::fprintf(stderr, "mvit classify: %s\n%s", e.what(), kClassifyUsage);
    return 2;
  }
  try {
    const Model model = Model::load(model_dir);
    const ModelSpec& spec = model.spec();
    MVIT_CHECK(spec.in_channels == 3, "%s: the model takes %d input channels; classify feeds RGB "
               "images (3)", model_dir.c_str(), spec.in_channels);
    k = std::min(k, spec.num_classes);
    // Decode and preprocess everything first, grouped by network input size (the crop makes it
    // one size; a model without a crop may get several).
    std::vector<image::Tensor> inputs;
    std::map<std::pair<int, int>, std::vector<size_t>> by_size;
    for (size_t i = 0; i < files.size(); ++i) {
      inputs.push_back(image::preprocess(image::decode_file(files[i]), spec.preprocessing));
      by_size[{inputs.back().height, inputs.back().width}].push_back(i);
    }
    std::vector<std::vector<float>> logits(files.size());
    for (const auto& [hw, members] : by_size) {
      NpyArray x;
      x.shape = {static_cast<int64_t>(members.size()), 3, hw.first, hw.second};
      for (size_t i : members) x.f32.insert(x.f32.end(), inputs[i].chw.begin(), inputs[i].chw.end());
      const ForwardResult r = host_forward(model, x, files[members[0]].c_str(), {}, options);
      for (size_t j = 0; j < members.size(); ++j) {
        logits[members[j]].assign(r.values[0].begin() + j * spec.num_classes,
                                  r.values[0].begin() + (j + 1) * spec.num_classes);
      }
    }
    auto label = [&](int c) {
      return c < static_cast<int>(spec.labels.size()) ? spec.labels[c]
                                                      : "class " + std::to_string(c);
    };
    if (json) {
      nlohmann::json doc = {{"model", model_dir},
                            {"precision", to_string(options.precision)},
                            {"build", build_kind()},
                            {"images", nlohmann::json::array()}};
      for (size_t i = 0; i < files.size(); ++i) {
        nlohmann::json top = nlohmann::json::array();
        for (const Prediction& p : top_k(logits[i].data(), spec.num_classes, k)) {
          top.push_back({{"index", p.index}, {"label", label(p.index)},
                         {"probability", p.probability}});
        }
        doc["images"].push_back({{"file", files[i]}, {"top", top}});
      }
      std::printf("%s\n", doc.dump(2).c_str());
      return 0;
    }
    std::printf("mvit classify: %s (%s %s, %d classes), %zu image%s, %s (%s)\n",
                model_dir.c_str(), to_string(spec.flavour), spec.variant.c_str(),
                spec.num_classes, files.size(), files.size() == 1 ? "" : "s",
                to_string(options.precision), build_kind());
    for (size_t i = 0; i < files.size(); ++i) {
      std::string line;
      for (const Prediction& p : top_k(logits[i].data(), spec.num_classes, k)) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " (%.4f)", p.probability);
        line += (line.empty() ? "" : ", ") + label(p.index) + buf;
      }
      std::printf("%s: %s\n", files[i].c_str(), line.c_str());
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "mvit classify: %s\n", e.what());
    return 1;
  }
}

}  // namespace mvit::cli
