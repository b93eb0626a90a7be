// The two tables of the published MobileViT sizes agree: runtime/variants.h (what the loader names
// and the C++ tests build) and tools/mvit_variants.py (what the exporters write), compared through
// the JSON the Python module prints.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <sys/wait.h>

#include <nlohmann/json.hpp>

#include "runtime/variants.h"

namespace mvit {
namespace {

using nlohmann::json;

// The C++ table in the layout of mvit_variants.as_json().
json cpp_table() {
  json variants = json::array();
  for (const VariantSizes& v : kVariants) {
    variants.push_back(
        {{"name", v.name}, {"dims", v.dims}, {"channels", v.channels}, {"expansion", v.expansion}});
  }
  return {{"variants", variants},
          {"depths", kVariantDepths},
          {"official_heads", kOfficialHeads},
          {"official_mlp_ratio", kOfficialMlpRatio},
          {"seed_heads", kSeedHeads},
          {"seed_head_dim", kSeedHeadDim},
          {"seed_ffn_multipliers", kSeedFfnMultipliers}};
}

TEST(Variants, PythonTableEqualsTheCppTable) {
  const std::string python = MVIT_PYTHON3;
  if (python.empty() || python.find("NOTFOUND") != std::string::npos) {
    GTEST_SKIP() << "no python3 found when configuring: tools/mvit_variants.py not compared";
  }
  const std::string command = "'" + python + "' '" MVIT_VARIANTS_PY "'";
  FILE* p = ::popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr) << command;
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int status = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << " failed: " << out;
  const json py = json::parse(out, nullptr, false);
  ASSERT_FALSE(py.is_discarded()) << command << " printed no JSON: " << out;
  const json cpp = cpp_table();
  for (const auto& item : cpp.items()) {
    ASSERT_TRUE(py.contains(item.key())) << "tools/mvit_variants.py lacks " << item.key();
    EXPECT_EQ(py.at(item.key()), item.value())
        << item.key() << ": tools/mvit_variants.py and runtime/variants.h disagree";
  }
  // make_divisible(v) for v = 0, 1, ... (MAKE_DIVISIBLE_CHECKED values): the first difference.
  ASSERT_TRUE(py.contains("make_divisible_8")) << "tools/mvit_variants.py lacks make_divisible_8";
  const json& divisible = py.at("make_divisible_8");
  EXPECT_GE(divisible.size(), 1024u);
  for (size_t v = 0; v < divisible.size(); ++v) {
    if (divisible[v] != make_divisible(static_cast<int>(v))) {
      ADD_FAILURE() << "make_divisible(" << v << "): Python " << divisible[v] << ", C++ "
                    << make_divisible(static_cast<int>(v));
      break;
    }
  }
  EXPECT_EQ(py.size(), cpp.size() + 1) << "tools/mvit_variants.py has entries the C++ test lacks";
}

TEST(Variants, FindVariant) {
  ASSERT_NE(find_variant("xs"), nullptr);
  EXPECT_EQ(find_variant("xs")->dims[2], 144);
  EXPECT_EQ(find_variant("tiny"), nullptr);
}

}  // namespace
}  // namespace mvit
