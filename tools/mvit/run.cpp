// mvit run --model DIR --input x.npy --output logits.npy [--features f.npy] [--stage NAME=FILE]...
//          [--precision P] [--attention A] [--batch-size N]
// One forward of a float32 NCHW .npy through the engine; float32 .npy out. Every output file is
// written only after the whole forward succeeded, each atomically, and on any failure none is left.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common/check.h"
#include "runtime/npy.h"
#include "tools/mvit/commands.h"
#include "tools/mvit/forward.h"

namespace mvit::cli {

namespace {

const char* kRunUsage =
    "usage: mvit run --model DIR --input X.npy --output LOGITS.npy [options]\n"
    "\n"
    "  --model DIR          a model directory or a Hugging Face MobileViT folder\n"
    "  --input FILE         float32 [B, 3, H, W] NCHW, already preprocessed (C order)\n"
    "  --output FILE        logits, float32 [B, classes]\n"
    "  --features FILE      the final 1x1 expansion conv's output, float32 [B, C, h, w]\n"
    "  --stage NAME=FILE    a stage output (stem, stage1 .. stage5), float32 [B, C, h, w];\n"
    "                       may be repeated\n"
    "  --precision P        fp32 (default), tf32, fp16, bf16\n"
    "  --attention A        auto (default), fused, cublas\n"
    "  --batch-size N       images per forward (default: all of them)\n";

}  // namespace

int run_main(const std::vector<std::string>& args) {
  std::string model_dir, input, logits_file;
  std::vector<std::pair<Output, std::string>> extra;
  ForwardOptions options;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--help" || a == "-h") {
        std::fputs(kRunUsage, stdout);
        return 0;
      }
      MVIT_CHECK(i + 1 < args.size(), "%s: missing its value", a.c_str());
      const std::string& v = args[++i];
      if (a == "--model") {
        model_dir = v;
      } else if (a == "--input") {
        input = v;
      } else if (a == "--output") {
        logits_file = v;
      } else if (a == "--features") {
        extra.push_back({Output::kFeatures, v});
      } else if (a == "--stage") {
        const size_t eq = v.find('=');
        MVIT_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < v.size(),
                   "--stage %s: expected NAME=FILE", v.c_str());
        const Output o = parse_output(v.substr(0, eq));
        MVIT_CHECK(o != Output::kLogits && o != Output::kFeatures,
                   "--stage %s: expected stem or stage1 .. stage5", v.c_str());
        extra.push_back({o, v.substr(eq + 1)});
      } else if (a == "--precision") {
        options.precision = parse_precision(v);
      } else if (a == "--attention") {
        options.attention = parse_attention_path(v);
      } else if (a == "--batch-size") {
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        MVIT_CHECK(*end == '\0' && n >= 1 && n <= 65535, "--batch-size %s: expected 1 to 65535",
                   v.c_str());
        options.batch_size = static_cast<int>(n);
      } else {
        MVIT_CHECK(false, "unknown option '%s'", a.c_str());
      }
    }
    MVIT_CHECK(!model_dir.empty() && !input.empty() && !logits_file.empty(),
               "--model, --input and --output are required");
  } catch (const Error& e) {
    std::fprintf(stderr, "mvit run: %s\n%s", e.what(), kRunUsage);
    return 2;
  }
  std::vector<std::string> written;
  try {
    const Model model = Model::load(model_dir);
    const NpyArray x = read_npy(input);
    std::vector<Output> outputs;
    for (const auto& [o, file] : extra) outputs.push_back(o);
    const ForwardResult r = host_forward(model, x, input.c_str(), outputs, options);
    write_npy(logits_file, r.shapes[0], r.values[0].data());
    written.push_back(logits_file);
    for (size_t i = 0; i < extra.size(); ++i) {
      write_npy(extra[i].second, r.shapes[i + 1], r.values[i + 1].data());
      written.push_back(extra[i].second);
    }
    std::printf("mvit run: %s (%s %s), %lld image%s %lldx%lld, %s, attention %s (%s)\n",
                model_dir.c_str(), to_string(model.spec().flavour), model.spec().variant.c_str(),
                static_cast<long long>(x.shape[0]), x.shape[0] == 1 ? "" : "s",
                static_cast<long long>(x.shape[2]), static_cast<long long>(x.shape[3]),
                to_string(options.precision), to_string(options.attention), build_kind());
    for (size_t i = 0; i < written.size(); ++i) {
      std::string shape;
      for (int64_t d : r.shapes[i]) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
      std::printf("  %-8s [%s] -> %s\n", i == 0 ? "logits" : output_name(extra[i - 1].first),
                  shape.c_str(), written[i].c_str());
    }
    return 0;
  } catch (const Error& e) {
    for (const std::string& f : written) std::remove(f.c_str());
    std::fprintf(stderr, "mvit run: %s\n", e.what());
    return 1;
  }
}

}  // namespace mvit::cli
