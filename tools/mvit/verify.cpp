// mvit verify --model DIR --reference DIR [--input X.npy] [--precision P] [--attention A]
// Runs the model on the reference folder's input and prints the per-stage error table against
// the reference outputs (tests/support/reference_outputs.h describes the folder). Exit code 0
// when every compared tensor is within the precision's tolerance, 1 otherwise.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/common/check.h"
#include "runtime/npy.h"
#include "tests/support/reference_outputs.h"
#include "tools/mvit/commands.h"
#include "tools/mvit/forward.h"

namespace mvit::cli {

namespace {

const char* kVerifyUsage =
    "usage: mvit verify --model DIR --reference DIR [options]\n"
    "\n"
    "  --model DIR          a model directory or a Hugging Face MobileViT folder\n"
    "  --reference DIR      .npy files: logits, features, stem, stage1..stage5 (whole, or as\n"
    "                       <name>.index.npy + <name>.samples.npy), and the input\n"
    "  --input FILE         the input (default: DIR/input.npy, else the file DIR/reference.json\n"
    "                       names, relative to DIR/..)\n"
    "  --precision P        fp32 (default), tf32, fp16, bf16\n"
    "  --attention A        auto (default), fused, cublas\n";

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

std::string find_input(const std::string& dir) {
  if (exists(dir + "/input.npy")) return dir + "/input.npy";
  const std::string meta = dir + "/reference.json";
  MVIT_CHECK(exists(meta), "%s: no input.npy and no reference.json naming the input; give --input",
             dir.c_str());
  std::ifstream f(meta);
  std::stringstream s;
  s << f.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(s.str(), nullptr, false);
  MVIT_CHECK(!j.is_discarded() && j.contains("input") && j["input"].is_string(),
             "%s: expected a JSON object with an \"input\" path", meta.c_str());
  return dir + "/../" + j["input"].get<std::string>();
}

}  // namespace

int verify_main(const std::vector<std::string>& args) {
  std::string model_dir, ref_dir, input;
  ForwardOptions options;
  try {
    for (size_t i = 0; i < args.size(); ++i) {
      const std::string& a = args[i];
      if (a == "--help" || a == "-h") {
        std::fputs(kVerifyUsage, stdout);
        return 0;
      }
      MVIT_CHECK(i + 1 < args.size(), "%s: missing its value", a.c_str());
      const std::string& v = args[++i];
      if (a == "--model") {
        model_dir = v;
      } else if (a == "--reference") {
        ref_dir = v;
      } else if (a == "--input") {
        input = v;
      } else if (a == "--precision") {
        options.precision = parse_precision(v);
      } else if (a == "--attention") {
        options.attention = parse_attention_path(v);
      } else {
        MVIT_CHECK(false, "unknown option '%s'", a.c_str());
      }
    }
    MVIT_CHECK(!model_dir.empty() && !ref_dir.empty(), "--model and --reference are required");
  } catch (const Error& e) {
    std::fprintf(stderr, "mvit verify: %s\n%s", e.what(), kVerifyUsage);
    return 2;
  }
  try {
    const Model model = Model::load(model_dir);
    const std::vector<test::ReferenceTensor> ref = test::load_reference(ref_dir);
    if (input.empty()) input = find_input(ref_dir);
    const NpyArray x = read_npy(input);
    std::vector<Output> outputs;
    for (const test::ReferenceTensor& t : ref) outputs.push_back(parse_output(t.name));
    const ForwardResult r = host_forward(model, x, input.c_str(), outputs, options);
    // host_forward returns logits first, then `outputs` in order (logits skipped there).
    std::vector<std::vector<float>> ours;
    size_t next = 1;
    for (const test::ReferenceTensor& t : ref) {
      ours.push_back(t.name == "logits" ? r.values[0] : r.values[next++]);
    }
    const double tol = test::precision_tolerance(options.precision);
    const std::vector<test::StageError> rows = test::compare_to_reference(ref, ours, tol);
    std::printf(
        "mvit verify: %s against %s, %lld image%s %lldx%lld, %s (tolerance %g x "
        "max(1, max|ref|)), attention %s (%s)\n%s",
        model_dir.c_str(), ref_dir.c_str(), static_cast<long long>(x.shape[0]),
        x.shape[0] == 1 ? "" : "s", static_cast<long long>(x.shape[2]),
        static_cast<long long>(x.shape[3]), to_string(options.precision), tol,
        to_string(options.attention), build_kind(), test::format_error_table(rows).c_str());
    for (const test::StageError& e : rows) {
      if (!e.ok) return 1;
    }
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "mvit verify: %s\n", e.what());
    return 1;
  }
}

}  // namespace mvit::cli
