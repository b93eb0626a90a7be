// mvit: the command line tool (shared/DESIGN.md section 8): info, run, verify, classify, bench.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/mvit/commands.h"

namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: mvit <command> [options]\n"
               "\n"
               "commands:\n"
               "  info --model PATH   load and validate a model directory or Hugging Face\n"
               "                      MobileViT folder; print its architecture, parameters,\n"
               "                      MACs and tensors\n"
               "  run --model PATH --input X.npy --output L.npy\n"
               "                      one forward of a float32 NCHW .npy; logits (and on\n"
               "                      request features and stage outputs) as .npy\n"
               "  verify --model PATH --reference DIR\n"
               "                      per-stage error table against reference .npy outputs\n"
               "  classify --model PATH IMAGE...\n"
               "                      top-k classes of PNG / JPEG images, with the model's own\n"
               "                      preprocessing and labels\n"
               "  bench --model PATH  end-to-end latency and throughput per batch size and\n"
               "                      precision, graph on and off; --kernels: per step\n"
               "\n"
               "`mvit <command> --help` describes a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "info") return mvit::cli::info_main(args);
  if (command == "run") return mvit::cli::run_main(args);
  if (command == "verify") return mvit::cli::verify_main(args);
  if (command == "classify") return mvit::cli::classify_main(args);
  if (command == "bench") return mvit::cli::bench_main(args);
  std::fprintf(stderr,
               "mvit: unknown command '%s'; expected one of: info, run, verify, classify, bench\n",
               command.c_str());
  usage(stderr);
  return 2;
}
