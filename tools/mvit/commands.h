// Subcommands of the `mvit` command line tool. Each takes the arguments after its name and returns
// the process exit code: 0 success, 1 the model or input was rejected, 2 a usage error.
#pragma once

#include <string>
#include <vector>

namespace mvit::cli {

int info_main(const std::vector<std::string>& args);
int run_main(const std::vector<std::string>& args);
int verify_main(const std::vector<std::string>& args);
int classify_main(const std::vector<std::string>& args);
int bench_main(const std::vector<std::string>& args);

}  // namespace mvit::cli
