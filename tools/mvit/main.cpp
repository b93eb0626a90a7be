// mvit: the command line tool (shared/DESIGN.md section 8). `info` is the first subcommand;
// classify, run, bench and verify arrive with the engine.
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
  std::fprintf(stderr, "mvit: unknown command '%s'; expected one of: info\n", command.c_str());
  usage(stderr);
  return 2;
}
