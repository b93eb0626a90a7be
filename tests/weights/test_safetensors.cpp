// One crafted file per safetensors rule (ecosystem.md sections 7.2 and 8.2), each asserting the
// specific message. Every crafted file is also a fuzz seed (save_fuzz_seed).
#include <gtest/gtest.h>

#include "runtime/safetensors.h"
#include "tests/weights/fuzz/fuzz_input.h"
#include "tests/weights/weights_test_util.h"

namespace mvit {
namespace {

std::string u64le(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

// A file with `header` as its JSON and `data_bytes` bytes of zeros after it.
std::string file(const std::string& header, size_t data_bytes) {
  return u64le(header.size()) + header + std::string(data_bytes, '\0');
}

// Parses `bytes` and returns the error message; saves the file as a fuzz seed.
std::string parse_error(const std::string& seed, const std::string& bytes) {
  test::save_fuzz_seed("st_" + seed, fuzz::encode_single(fuzz::kSafetensors, bytes));
  return test::error_of([&] { parse_safetensors(bytes, "w.safetensors"); });
}

#define EXPECT_ST_ERROR(seed, bytes, ...)                                                      \
  do {                                                                                         \
    const std::string msg_ = parse_error(seed, bytes);                                         \
    for (const char* frag : {__VA_ARGS__}) {                                                   \
      EXPECT_NE(msg_.find(frag), std::string::npos) << "want \"" << frag << "\" in: " << msg_; \
    }                                                                                          \
  } while (0)

const char* kOne = R"("a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]})";

TEST(Safetensors, ValidFileParses) {
  const std::string bytes =
      file(std::string("{") + kOne + R"(,"__metadata__":{"format":"pt"}})", 24);
  test::save_fuzz_seed("st_valid", fuzz::encode_single(fuzz::kSafetensors, bytes));
  const SafetensorsIndex idx = parse_safetensors(bytes, "w.safetensors");
  ASSERT_EQ(idx.tensors.size(), 1u);
  EXPECT_EQ(idx.tensors[0].name, "a");
  EXPECT_EQ(idx.tensors[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(idx.data_offset, bytes.size() - 24);
  ASSERT_EQ(idx.metadata.size(), 1u);
  EXPECT_EQ(idx.metadata[0].second, "pt");
}

TEST(Safetensors, WriterOutputParsesBack) {
  TensorEntry a{"x.weight", WeightDType::kBF16, {3}, 0, 0};
  TensorEntry b{"x.bn.num_batches_tracked", WeightDType::kI64, {}, 0, 0};
  const std::string bytes =
      write_safetensors({a, b}, {std::string(6, '\1'), std::string(8, '\2')}, {{"k", "v"}});
  EXPECT_EQ((bytes.size() - 14) % 8, 0u) << "header padded to a multiple of 8";
  const SafetensorsIndex idx = parse_safetensors(bytes, "w.safetensors");
  ASSERT_EQ(idx.tensors.size(), 2u);
  EXPECT_EQ(idx.tensors[0].name, "x.weight");
  EXPECT_EQ(idx.tensors[1].begin, 6u);
  EXPECT_EQ(idx.tensors[1].dtype, WeightDType::kI64);
}

TEST(Safetensors, TooShortForTheLength) {
  EXPECT_ST_ERROR("short", std::string(5, '\0'), "w.safetensors",
                  "expected at least 8 bytes (the header length), found 5");
}

TEST(Safetensors, HeaderLengthOverTheCap) {
  EXPECT_ST_ERROR("header_cap", u64le(uint64_t{1} << 40) + "{}",
                  "expected a header of at most 4194304 bytes, found a header length of "
                  "1099511627776");
}

TEST(Safetensors, HeaderLengthPastTheFile) {
  EXPECT_ST_ERROR("header_past_end", u64le(100) + "{}",
                  "header length 100 runs past the end of "
                  "the file (2 bytes after the length)");
}

TEST(Safetensors, HeaderMustBeginWithBrace) {
  EXPECT_ST_ERROR("no_brace", file(" {}", 0), "expected the header to begin with '{', found ' {}'");
}

TEST(Safetensors, InvalidUtf8) {
  EXPECT_ST_ERROR("bad_utf8", file("{\"a\xC0\xAF\":1}", 0),
                  "invalid UTF-8 sequence at byte 3 (0xc0)");
}

TEST(Safetensors, InvalidJson) {
  EXPECT_ST_ERROR("bad_json", file("{\"a\":", 0), "expected valid JSON, found a syntax error");
}

TEST(Safetensors, NestingTooDeep) {
  EXPECT_ST_ERROR("deep", file(R"({"a":{"shape":[[[[1]]]]}})", 0),
                  "expected JSON nested at most 4 levels deep");
}

TEST(Safetensors, DuplicateKey) {
  EXPECT_ST_ERROR("dup_key", file(std::string("{") + kOne + "," + kOne + "}", 24),
                  "duplicate key 'a'");
}

TEST(Safetensors, MetadataValuesMustBeStrings) {
  EXPECT_ST_ERROR("meta_not_string", file(R"({"__metadata__":{"n":1}})", 0),
                  "__metadata__ 'n': expected a string value, found an integer");
}

TEST(Safetensors, DtypeOutsideTheWhitelist) {
  EXPECT_ST_ERROR("dtype_f64", file(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 8),
                  "tensor 'a': expected dtype F32, F16 or BF16 (I64 for num_batches_tracked), "
                  "found 'F64'");
}

TEST(Safetensors, I64OnlyForBatchNormCounters) {
  EXPECT_ST_ERROR("i64_weight",
                  file(R"({"a.weight":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})", 8),
                  "tensor 'a.weight': dtype I64 is accepted only for BatchNorm's "
                  "num_batches_tracked");
}

TEST(Safetensors, BatchNormCounterMustBeScalar) {
  EXPECT_ST_ERROR(
      "i64_shape",
      file(R"({"b.num_batches_tracked":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", 16),
      "num_batches_tracked: expected shape [] (a scalar), found [2]");
}

TEST(Safetensors, RankOverTheCap) {
  EXPECT_ST_ERROR("rank5",
                  file(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1],"data_offsets":[0,4]}})", 4),
                  "field 'tensor 'a'.shape': expected an array of 0 to 4 integers");
}

TEST(Safetensors, ZeroDimension) {
  EXPECT_ST_ERROR("dim0", file(R"({"a":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]}})", 0),
                  "field 'tensor 'a'.shape[1]': expected an integer in [1, 9223372036854775807], "
                  "found an integer '0'");
}

TEST(Safetensors, NegativeDimension) {
  EXPECT_ST_ERROR("dim_neg", file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4),
                  "shape[0]': expected an integer in [1, 9223372036854775807], found an integer "
                  "'-1'");
}

TEST(Safetensors, UnknownEntryField) {
  EXPECT_ST_ERROR("entry_field",
                  file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"offset":9}})", 4),
                  "unknown keys 'offset'; expected only: dtype, shape, data_offsets");
}

TEST(Safetensors, ElementCountOverflow) {
  // 2^62 * 2^3 overflows 64 bits; unchecked it would wrap to 0 elements and match [0, 0].
  EXPECT_ST_ERROR("overflow",
                  file(R"({"a":{"dtype":"F32","shape":[4611686018427387904,8],)"
                       R"("data_offsets":[0,0]}})",
                       0),
                  "tensor 'a': element count of shape overflows 64 bits");
}

TEST(Safetensors, ByteSizeOverflow) {
  EXPECT_ST_ERROR("byte_overflow",
                  file(R"({"a":{"dtype":"F32","shape":[4611686018427387904],)"
                       R"("data_offsets":[0,0]}})",
                       0),
                  "tensor 'a': byte size of shape overflows 64 bits");
}

TEST(Safetensors, ByteRangeDisagreesWithShape) {
  EXPECT_ST_ERROR("size_mismatch",
                  file(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}})", 20),
                  "tensor 'a': expected 24 bytes (shape [2, 3] x F32), found data_offsets [0, "
                  "20] (20 bytes)");
}

TEST(Safetensors, OffsetsWrongArity) {
  EXPECT_ST_ERROR("offsets_arity",
                  file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 4),
                  "data_offsets': expected an array of 2 to 2 integers");
}

TEST(Safetensors, BeginAfterEnd) {
  EXPECT_ST_ERROR("begin_after_end",
                  file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8),
                  "data_offsets: expected begin <= end, found [8, 4]");
}

TEST(Safetensors, OffsetsPastTheData) {
  EXPECT_ST_ERROR("past_data", file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
                  "tensor 'a': data_offsets [0, 8] run past the end of the data section (4 bytes)");
}

TEST(Safetensors, Overlap) {
  EXPECT_ST_ERROR("overlap",
                  file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                       8),
                  "tensor 'b': data_offsets [4, 8] overlap tensor 'a', which ends at 8");
}

TEST(Safetensors, Hole) {
  EXPECT_ST_ERROR("hole",
                  file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                       12),
                  "tensor 'b': expected data to begin at byte 4 (contiguous, no holes), found 8");
}

TEST(Safetensors, TrailingBytes) {
  EXPECT_ST_ERROR("trailing", file(std::string("{") + kOne + "}", 30),
                  "expected the tensors to cover the whole data section (30 bytes), found 6 "
                  "trailing bytes after the last tensor");
}

TEST(Safetensors, NameTooLong) {
  const std::string name(300, 'n');
  EXPECT_ST_ERROR("long_name",
                  file("{\"" + name + R"(":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4),
                  "expected a name of 1 to 256 bytes, found 300 bytes");
}

TEST(Safetensors, TooManyTensors) {
  std::string h = "{";
  for (int i = 0; i <= 8192; ++i) {
    h += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
         R"(":{"dtype":"F16","shape":[1],"data_offsets":[)" + std::to_string(2 * i) + "," +
         std::to_string(2 * i + 2) + "]}";
  }
  h += "}";
  const std::string msg = test::error_of([&] { parse_safetensors(file(h, 2 * 8193), "w"); });
  EXPECT_NE(msg.find("expected at most 8192 tensors, found 8193"), std::string::npos) << msg;
}

TEST(Safetensors, MessagesQuoteHostileNames) {
  // Control bytes in a name are shown escaped, never written raw to a terminal.
  EXPECT_ST_ERROR(
      "escape",
      file("{\"a\\u001b[2J\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8),
      "tensor 'a\\x1b[2J'");
}

}  // namespace
}  // namespace mvit
