// runtime/npy: round trips through write_npy and read_npy; files built byte by byte from the npy
// spec (magic, version, header length, the dict padded with spaces to 64 bytes including its
// newline) in every accepted form; every rejection with its message naming the file; and that a
// failed write leaves no file behind.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "runtime/npy.h"
#include "tests/weights/weights_test_util.h"

namespace mvit {
namespace {

using test::read_file;
using test::TempDir;
using test::write_file;

// An .npy file from its parts, as the spec lays it out: "\x93NUMPY", major, minor, the header
// length (2 bytes in 1.0, 4 otherwise, little-endian), the dict padded with 1 to 64 spaces and a
// final '\n' to a multiple of 64 bytes, as numpy pads (pad = false: the dict as given, no padding,
// no newline).
std::string npy_file(int major, const std::string& dict, const std::string& data, int minor = 0,
                     bool pad = true) {
  const size_t length_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  if (pad) {
    const size_t unpadded = 8 + length_bytes + header.size() + 1;
    header.append(64 - unpadded % 64, ' ');
    header += '\n';
  }
  std::string f = "\x93NUMPY";
  f += static_cast<char>(major);
  f += static_cast<char>(minor);
  for (size_t i = 0; i < length_bytes; ++i)
    f += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return f + header + data;
}

template <class T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

std::string f4_dict(const std::string& shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

// The names in `dir`.
std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  return names;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST(Npy, RoundTripsEveryShapeBitForBit) {
  TempDir dir;
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<std::vector<int64_t>> shapes = {{2, 3}, {5}, {}, {0}, {1, 3, 4, 5}, {3, 0, 2}};
  for (const auto& shape : shapes) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<float> values(static_cast<size_t>(n));
    for (size_t i = 0; i < values.size(); ++i) values[i] = 0.37f * static_cast<float>(i) - 3.0f;
    if (n >= 5) {
      values[1] = -0.0f;
      values[2] = inf;
      values[3] = std::numeric_limits<float>::quiet_NaN();
      values[4] = std::numeric_limits<float>::denorm_min();
    }
    const std::string path = dir.file("a.npy");
    write_npy(path, shape, values.data());
    const NpyArray a = read_npy(path);
    EXPECT_EQ(a.type, NpyArray::Type::kF32);
    EXPECT_EQ(a.shape, shape);
    EXPECT_EQ(a.elements(), n);
    EXPECT_TRUE(same_bits(a.f32, values)) << ::testing::PrintToString(shape);
    EXPECT_TRUE(a.i64.empty());
    EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"a.npy"}) << "no temporary is left";
  }
}

// What write_npy puts on disk is what numpy writes: format 1.0, the dict in numpy's spelling,
// padded with spaces so that the data starts at a multiple of 64.
TEST(Npy, WritesNumpysExactLayout) {
  TempDir dir;
  const std::vector<float> v = {1, 2, 3, 4, 5, 6};
  write_npy(dir.file("m.npy"), {2, 3}, v.data());
  EXPECT_EQ(read_file(dir.file("m.npy")), npy_file(1, f4_dict("(2, 3)"), bytes_of(v)));
  write_npy(dir.file("s.npy"), {}, v.data());
  const std::string scalar = read_file(dir.file("s.npy"));
  EXPECT_EQ(scalar, npy_file(1, f4_dict("()"), bytes_of(std::vector<float>{1})));
  EXPECT_EQ(scalar.size(), 128u + 4u);
  write_npy(dir.file("v.npy"), {5}, v.data());
  EXPECT_EQ(read_file(dir.file("v.npy")), npy_file(1, f4_dict("(5,)"), bytes_of(v).substr(0, 20)));
}

TEST(Npy, ReplacingAnExistingFile) {
  TempDir dir;
  const std::vector<float> a = {1, 2, 3}, b = {7, 8};
  write_npy(dir.file("x.npy"), {3}, a.data());
  write_npy(dir.file("x.npy"), {1, 2}, b.data());
  const NpyArray r = read_npy(dir.file("x.npy"));
  EXPECT_EQ(r.shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(r.f32, b);
}

struct Accepted {
  const char* what;
  std::string file;
  NpyArray::Type type;
  std::vector<int64_t> shape;
};

// Hand-built files in each form the reader accepts.
TEST(Npy, ReadsHandBuiltFilesOfEveryAcceptedForm) {
  TempDir dir;
  const std::vector<float> six = {0.5f, -1, 2, -3, 4.25f, 1e30f};
  const std::vector<int64_t> i5 = {-1, 0, 1, INT64_MAX, INT64_MIN};
  const std::vector<Accepted> cases = {
      {"1.0 <f4 (2, 3)",
       npy_file(1, f4_dict("(2, 3)"), bytes_of(six)),
       NpyArray::Type::kF32,
       {2, 3}},
      {"2.0", npy_file(2, f4_dict("(2, 3)"), bytes_of(six)), NpyArray::Type::kF32, {2, 3}},
      {"3.0", npy_file(3, f4_dict("(6,)"), bytes_of(six)), NpyArray::Type::kF32, {6}},
      {"<i8 1-D",
       npy_file(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (5,), }", bytes_of(i5)),
       NpyArray::Type::kI64,
       {5}},
      {"scalar",
       npy_file(1, f4_dict("()"), bytes_of(std::vector<float>{0.5f})),
       NpyArray::Type::kF32,
       {}},
      {"double quotes, no trailing comma, other key order",
       npy_file(1, "{\"shape\": (3, 2), \"fortran_order\": False, \"descr\": \"<f4\"}",
                bytes_of(six)),
       NpyArray::Type::kF32,
       {3, 2}},
      {"no byte-order character",
       npy_file(1, "{'descr': 'f4', 'fortran_order': False, 'shape': (6,)}", bytes_of(six)),
       NpyArray::Type::kF32,
       {6}},
      {"'=' (native) i8",
       npy_file(1, "{'descr': '=i8', 'fortran_order': False, 'shape': (5,)}", bytes_of(i5)),
       NpyArray::Type::kI64,
       {5}},
      {"spaces inside the tuple, trailing comma in it",
       npy_file(1, "{ 'descr' : '<f4' , 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }",
                bytes_of(six)),
       NpyArray::Type::kF32,
       {2, 3}},
      {"unpadded header (old numpy: no 64-byte alignment, no newline)",
       npy_file(1, f4_dict("(2, 3)"), bytes_of(six), 0, false),
       NpyArray::Type::kF32,
       {2, 3}},
      {"zero elements", npy_file(1, f4_dict("(0, 3)"), ""), NpyArray::Type::kF32, {0, 3}},
  };
  for (const Accepted& c : cases) {
    SCOPED_TRACE(c.what);
    write_file(dir.file("h.npy"), c.file);
    const NpyArray a = read_npy(dir.file("h.npy"));
    EXPECT_EQ(a.type, c.type);
    EXPECT_EQ(a.shape, c.shape);
    if (c.type == NpyArray::Type::kF32) {
      EXPECT_EQ(a.f32.size(), static_cast<size_t>(a.elements()));
      // Every case's data is a prefix of `six`: the whole of it, one value, or none.
      ASSERT_LE(a.elements(), 6);
      EXPECT_EQ(a.f32, std::vector<float>(six.begin(), six.begin() + a.elements()));
      EXPECT_TRUE(a.i64.empty());
    } else {
      EXPECT_EQ(a.i64, i5);
      EXPECT_TRUE(a.f32.empty());
    }
  }
}

struct Rejected {
  const char* what;
  std::string file;
  std::vector<const char*> message;  // fragments the error must contain (besides the path)
};

TEST(Npy, RejectsEachDefectNamingTheFileAndTheDefect) {
  TempDir dir;
  const std::string six = bytes_of(std::vector<float>(6, 1.0f));
  auto dict = [](const std::string& descr, const std::string& fortran, const std::string& shape) {
    return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  };
  auto ones = [](int n) {  // "(1, 1, ..., 1)" of n dimensions
    std::string t = "(";
    for (int i = 0; i < n; ++i) t += i ? ", 1" : "1";
    return t + ")";
  };
  std::string v2_huge = npy_file(2, f4_dict("(2, 3)"), six);
  v2_huge[8] = 0, v2_huge[9] = 0, v2_huge[10] = 0x10, v2_huge[11] = 0;  // 1 MiB header
  const std::vector<Rejected> cases = {
      {"empty file", "", {"not an npy file", "magic"}},
      {"text", "hello, world", {"not an npy file"}},
      {"bad magic",
       std::string("\x93NUMPX\x01\x00", 8) + std::string(60, ' '),
       {"not an npy file"}},
      {"ends inside the version", "\x93NUMPY\x01", {"truncated", "format version"}},
      {"version 4.0", npy_file(4, f4_dict("(2, 3)"), six), {"unsupported npy format version 4.0"}},
      {"version 1.1", npy_file(1, f4_dict("(2, 3)"), six, 1), {"version 1.1"}},
      {"ends inside the header length",
       std::string("\x93NUMPY\x01\x00\x40", 9),
       {"inside the header length"}},
      {"header past the end",
       npy_file(1, f4_dict("(2, 3)"), "").substr(0, 40),
       {"truncated", "header of 118 bytes extends past the end of the file (40 bytes)"}},
      {"header over the limit", v2_huge, {"header length 1048576 exceeds the limit of 65536"}},
      {"not a dict", npy_file(1, "['descr', '<f4']", six), {"malformed header dict", "'{'"}},
      {"missing key",
       npy_file(1, "{'descr': '<f4', 'shape': (2, 3), }", six),
       {"malformed header dict", "the key 'fortran_order' is missing"}},
      {"unknown key",
       npy_file(1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), "
                "'extra': 1}",
                six),
       {"malformed header dict", "not 'extra'"}},
      {"duplicate key",
       npy_file(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", six),
       {"malformed header dict", "'descr' comes again"}},
      {"(5) is not a tuple",
       npy_file(1, f4_dict("(6)"), six),
       {"malformed header dict", "needs a comma, (N,)"}},
      {"shape as a list",
       npy_file(1, f4_dict("[2, 3]"), six),
       {"malformed header dict", "a tuple '(...)' for 'shape'"}},
      {"negative dimension",
       npy_file(1, f4_dict("(-6,)"), six),
       {"malformed header dict", "a dimension (a decimal integer), found '-'"}},
      {"leading zero", npy_file(1, f4_dict("(06,)"), six), {"without leading zeros"}},
      {"fortran_order 0",
       npy_file(1, dict("<f4", "0", "(2, 3)"), six),
       {"True or False for 'fortran_order'"}},
      {"descr as a structured list",
       npy_file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", six),
       {"a dtype string for 'descr'", "found '['"}},
      {"unterminated string",
       npy_file(1, "{'descr': '<f4, 'fortran_order': False}", six),
       {"malformed header dict"}},
      {"text after the dict",
       npy_file(1, f4_dict("(2, 3)") + " x", six),
       {"only spaces and newlines after the dict", "found 'x'"}},
      {"<f8",
       npy_file(1, dict("<f8", "False", "(2, 3)"), six + six),
       {"unsupported dtype '<f8'", "'<f4' float32, '<i8' int64"}},
      {">f4 (big-endian)",
       npy_file(1, dict(">f4", "False", "(2, 3)"), six),
       {"unsupported dtype '>f4'"}},
      {"|u1", npy_file(1, dict("|u1", "False", "(24,)"), six), {"unsupported dtype '|u1'"}},
      {"<i4", npy_file(1, dict("<i4", "False", "(6,)"), six), {"unsupported dtype '<i4'"}},
      {"fortran order",
       npy_file(1, dict("<f4", "True", "(2, 3)"), six),
       {"fortran_order True is not supported"}},
      {"more than 2^31 elements",
       npy_file(1, f4_dict("(65536, 32769)"), six),
       {"shape too large", "more than 2^31 elements"}},
      {"a dimension that overflows 64 bits",
       npy_file(1, f4_dict("(99999999999999999999999,)"), six),
       {"shape too large", "exceeds the limit of 2^31 elements"}},
      {"33 dimensions", npy_file(1, f4_dict(ones(33)), six), {"at most 32 dimensions"}},
      {"32 dimensions are fine, the data is not",
       npy_file(1, f4_dict(ones(32)), six),
       {"expected 4 bytes of data"}},
      {"truncated data",
       npy_file(1, f4_dict("(2, 3)"), six.substr(0, 20)),
       {"truncated: expected 24 bytes of data for shape (2, 3), found 20"}},
      {"no data", npy_file(3, f4_dict("(2, 3)"), ""), {"expected 24 bytes of data", "found 0"}},
      {"trailing bytes",
       npy_file(1, f4_dict("(2, 3)"), six + "abcd"),
       {"4 trailing bytes: expected 24 bytes of data for shape (2, 3), found 28"}},
  };
  for (const Rejected& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string path = dir.file("bad.npy");
    write_file(path, c.file);
    const std::string e = test::error_of([&] { (void)read_npy(path); });
    EXPECT_NE(e.find(path + ": "), std::string::npos) << "names the file: " << e;
    for (const char* frag : c.message) {
      EXPECT_NE(e.find(frag), std::string::npos) << "want: " << frag << "\ngot: " << e;
    }
  }
}

TEST(Npy, RejectsWhatIsNotAFile) {
  TempDir dir;
  EXPECT_MVIT_ERROR((void)read_npy(dir.file("missing.npy")), "missing.npy: cannot open");
  EXPECT_MVIT_ERROR((void)read_npy(dir.path()), "expected a regular .npy file");
}

TEST(Npy, AFailedWriteLeavesNothing) {
  TempDir dir;
  const std::vector<float> v = {1, 2, 3};
  // The directory does not exist: nothing can be created.
  const std::string missing = dir.file("no-such-dir/out.npy");
  EXPECT_MVIT_ERROR(write_npy(missing, {3}, v.data()), missing.c_str(), "cannot create");
  EXPECT_TRUE(entries(dir.path()).empty());
  // The temporary is written, but renaming it over a directory fails: it is removed again.
  std::filesystem::create_directory(dir.file("taken.npy"));
  EXPECT_MVIT_ERROR(write_npy(dir.file("taken.npy"), {3}, v.data()), "taken.npy: cannot rename");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"taken.npy"});
  EXPECT_TRUE(std::filesystem::is_directory(dir.file("taken.npy")));
  // Arguments are checked before anything is created.
  EXPECT_MVIT_ERROR(write_npy(dir.file("n.npy"), {2, -1}, v.data()), "n.npy: write_npy",
                    "dimension -1 of shape (2, -1)");
  EXPECT_MVIT_ERROR(write_npy(dir.file("n.npy"), {3}, nullptr), "data is null for shape (3,)");
  EXPECT_MVIT_ERROR(write_npy(dir.file("n.npy"), {65536, 65536}, v.data()),
                    "more than 2^31 elements");
  EXPECT_EQ(entries(dir.path()), std::vector<std::string>{"taken.npy"});
}

TEST(Npy, WritesAZeroElementArrayWithoutData) {
  TempDir dir;
  write_npy(dir.file("z.npy"), {4, 0}, nullptr);
  const NpyArray a = read_npy(dir.file("z.npy"));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{4, 0}));
  EXPECT_EQ(a.elements(), 0);
  EXPECT_TRUE(a.f32.empty());
}

}  // namespace
}  // namespace mvit
