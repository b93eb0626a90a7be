#include "runtime/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "kernels/common/check.h"

// '<f4' and '<i8' data is copied as is: the host must be little-endian (x86-64 and arm64 are).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.cpp assumes a little-endian host");

namespace mvit {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;

// Closes a descriptor on every path out, including throws.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// "(2, 3)", "(5,)", "()": a shape as numpy writes it (and as messages show it).
std::string tuple_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Reads n bytes at `offset`, which the caller has checked lie inside the file.
void read_exact(int fd, const std::string& path, uint64_t offset, void* out, uint64_t n) {
  auto* p = static_cast<unsigned char*>(out);
  uint64_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    MVIT_CHECK(got > 0, "%s: expected %llu bytes at offset %llu, read %llu (%s)", path.c_str(),
               static_cast<unsigned long long>(n), static_cast<unsigned long long>(offset),
               static_cast<unsigned long long>(done),
               got < 0 ? std::strerror(errno) : "the file shrank while being read");
    done += static_cast<uint64_t>(got);
  }
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  int64_t elements = 1;
};

// The header dict: a Python literal of exactly three keys, in any order, each once, a trailing
// comma allowed, whitespace between tokens, then only spaces and newlines (the padding).
// 'descr' is a string (no escapes: no dtype name has one), 'fortran_order' True or False,
// 'shape' a tuple of non-negative decimal integers ("(5)" is an int, not a tuple: malformed).
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path, size_t file_offset)
      : s_(text), path_(path), base_(file_offset) {}

  Header parse() {
    Header h;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    skip_space();
    expect('{', "'{' opening the header dict");
    for (;;) {
      skip_space();
      if (eat('}')) break;
      const size_t key_at = i_;
      const std::string key = string_literal("a key ('descr', 'fortran_order', 'shape') or '}'");
      skip_space();
      expect(':', "':' after the key");
      skip_space();
      if (key == "descr") {
        check_once(&seen_descr, key, key_at);
        h.descr = string_literal("a dtype string for 'descr'");
      } else if (key == "fortran_order") {
        check_once(&seen_fortran, key, key_at);
        h.fortran_order = boolean();
      } else if (key == "shape") {
        check_once(&seen_shape, key, key_at);
        h.shape = shape_tuple(&h.elements);
      } else {
        i_ = key_at;
        fail(("one of the keys 'descr', 'fortran_order', 'shape', not '" + key + "'").c_str());
      }
      skip_space();
      if (eat(',')) continue;
      expect('}', "',' or '}' after a value");
      break;
    }
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n')) ++i_;
    if (i_ != s_.size()) fail("only spaces and newlines after the dict");
    for (auto [seen, key] :
         {std::pair{seen_descr, "descr"}, {seen_fortran, "fortran_order"}, {seen_shape, "shape"}}) {
      MVIT_CHECK(seen, "%s: malformed header dict: the key '%s' is missing: %s", path_.c_str(), key,
                 shown().c_str());
    }
    return h;
  }

 private:
  // What stands at the cursor, for messages.
  std::string found() const {
    if (i_ >= s_.size()) return "the end of the header";
    const unsigned char c = static_cast<unsigned char>(s_[i_]);
    if (c >= 0x20 && c < 0x7f) return detail::format("'%c'", c);
    return detail::format("byte 0x%02x", c);
  }
  // The header as messages quote it: its dict, without the padding, at most 200 characters.
  std::string shown() const {
    std::string t = s_.substr(0, s_.find_last_not_of(" \n") + 1).substr(0, 200);
    for (char& c : t) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    }
    return "\"" + t + "\"";
  }
  [[noreturn]] void fail(const char* expected) const {
    MVIT_FAIL("%s: malformed header dict at byte %zu of the file: expected %s, found %s: %s",
              path_.c_str(), base_ + i_, expected, found().c_str(), shown().c_str());
  }
  void check_once(bool* seen, const std::string& key, size_t at) {
    if (*seen) {
      i_ = at;
      fail(("each key once, but '" + key + "' comes again").c_str());
    }
    *seen = true;
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c, const char* what) {
    if (!eat(c)) fail(what);
  }
  std::string string_literal(const char* what) {
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) fail(what);
    const char quote = s_[i_++];
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] != quote) {
      const unsigned char c = static_cast<unsigned char>(s_[i_]);
      if (c == '\\' || c == '\n' || c < 0x20 || c >= 0x7f) fail("a plain ASCII string literal");
      ++i_;
    }
    if (i_ >= s_.size()) fail("the closing quote of a string");
    return s_.substr(start, i_++ - start);
  }
  bool boolean() {
    if (s_.compare(i_, 4, "True") == 0) {
      i_ += 4;
      return true;
    }
    if (s_.compare(i_, 5, "False") == 0) {
      i_ += 5;
      return false;
    }
    fail("True or False for 'fortran_order'");
  }
  // A dimension: decimal digits, no sign, no leading zero; at most kMaxNpyElements.
  int64_t dimension() {
    const size_t start = i_;
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') fail("a dimension (a decimal integer)");
    int64_t v = 0;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      v = v * 10 + (s_[i_] - '0');
      ++i_;
      MVIT_CHECK(v <= kMaxNpyElements,
                 "%s: shape too large: dimension %s... exceeds the limit of 2^31 elements: %s",
                 path_.c_str(), s_.substr(start, i_ - start).c_str(), shown().c_str());
    }
    if (s_[start] == '0' && i_ - start > 1) {
      i_ = start;
      fail("a dimension without leading zeros");
    }
    return v;
  }
  std::vector<int64_t> shape_tuple(int64_t* elements) {
    expect('(', "a tuple '(...)' for 'shape'");
    std::vector<int64_t> shape;
    bool comma = false;
    for (;;) {
      skip_space();
      if (eat(')')) break;
      if (shape.size() == kMaxNpyRank) fail("at most 32 dimensions");
      const int64_t d = dimension();
      shape.push_back(d);
      // Both factors are <= 2^31, so the product fits before it is compared.
      *elements *= d;
      MVIT_CHECK(*elements <= kMaxNpyElements,
                 "%s: shape too large: more than 2^31 elements (the product of the dimensions "
                 "so far is %lld): %s",
                 path_.c_str(), static_cast<long long>(*elements), shown().c_str());
      skip_space();
      comma = eat(',');
      if (comma) continue;
      expect(')', "',' or ')' in the shape tuple");
      break;
    }
    if (shape.size() == 1 && !comma) fail("a tuple for 'shape': one dimension needs a comma, (N,)");
    return shape;
  }

  const std::string& s_;
  const std::string& path_;
  size_t base_;  // the header's offset in the file
  size_t i_ = 0;
};

// The dtypes read_npy accepts: '<' or '=' or no byte-order character (native: little-endian).
bool is_descr(const std::string& d, const char* code) {
  return d == code || d == std::string("<") + code || d == std::string("=") + code;
}

}  // namespace

int64_t NpyArray::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

NpyArray read_npy(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  MVIT_CHECK(f.fd >= 0, "%s: cannot open: %s", path.c_str(), std::strerror(errno));
  struct stat st;
  MVIT_CHECK(::fstat(f.fd, &st) == 0, "%s: cannot stat: %s", path.c_str(), std::strerror(errno));
  MVIT_CHECK(S_ISREG(st.st_mode), "%s: expected a regular .npy file, found another kind of file",
             path.c_str());
  const uint64_t size = static_cast<uint64_t>(st.st_size);

  unsigned char pre[12] = {};
  read_exact(f.fd, path, 0, pre, size < sizeof pre ? size : sizeof pre);
  MVIT_CHECK(size >= kMagicBytes && std::memcmp(pre, kMagic, kMagicBytes) == 0,
             "%s: not an npy file: expected it to start with the magic \\x93NUMPY, found %llu "
             "bytes that do not",
             path.c_str(), static_cast<unsigned long long>(size));
  MVIT_CHECK(size >= 8, "%s: truncated: the file ends inside the format version", path.c_str());
  const int major = pre[6], minor = pre[7];
  MVIT_CHECK((major == 1 || major == 2 || major == 3) && minor == 0,
             "%s: unsupported npy format version %d.%d (supported: 1.0, 2.0, 3.0)", path.c_str(),
             major, minor);
  const size_t length_bytes = major == 1 ? 2 : 4;
  const uint64_t header_at = 8 + length_bytes;
  MVIT_CHECK(size >= header_at, "%s: truncated: the file ends inside the header length",
             path.c_str());
  uint32_t header_len = uint32_t{pre[8]} | uint32_t{pre[9]} << 8;
  if (major != 1) header_len |= uint32_t{pre[10]} << 16 | uint32_t{pre[11]} << 24;
  MVIT_CHECK(header_len <= kMaxNpyHeaderBytes,
             "%s: the header length %u exceeds the limit of %u bytes", path.c_str(), header_len,
             kMaxNpyHeaderBytes);
  MVIT_CHECK(header_at + header_len <= size,
             "%s: truncated: the header of %u bytes extends past the end of the file (%llu bytes)",
             path.c_str(), header_len, static_cast<unsigned long long>(size));
  std::string text(header_len, '\0');
  read_exact(f.fd, path, header_at, text.data(), header_len);
  const Header h = HeaderParser(text, path, header_at).parse();

  NpyArray a;
  if (is_descr(h.descr, "f4")) {
    a.type = NpyArray::Type::kF32;
  } else if (is_descr(h.descr, "i8")) {
    a.type = NpyArray::Type::kI64;
  } else {
    MVIT_FAIL("%s: unsupported dtype '%s' (supported: '<f4' float32, '<i8' int64)", path.c_str(),
              h.descr.c_str());
  }
  MVIT_CHECK(!h.fortran_order,
             "%s: fortran_order True is not supported: expected a C-order array (save it with "
             "numpy.ascontiguousarray)",
             path.c_str());
  a.shape = h.shape;
  const uint64_t elem_bytes = a.type == NpyArray::Type::kF32 ? 4 : 8;
  const uint64_t want = static_cast<uint64_t>(h.elements) * elem_bytes;
  const uint64_t data_at = header_at + header_len, have = size - data_at;
  MVIT_CHECK(have >= want, "%s: truncated: expected %llu bytes of data for shape %s, found %llu",
             path.c_str(), static_cast<unsigned long long>(want), tuple_str(h.shape).c_str(),
             static_cast<unsigned long long>(have));
  MVIT_CHECK(have == want,
             "%s: %llu trailing bytes: expected %llu bytes of data for shape %s, found %llu",
             path.c_str(), static_cast<unsigned long long>(have - want),
             static_cast<unsigned long long>(want), tuple_str(h.shape).c_str(),
             static_cast<unsigned long long>(have));
  if (a.type == NpyArray::Type::kF32) {
    a.f32.resize(static_cast<size_t>(h.elements));
    read_exact(f.fd, path, data_at, a.f32.data(), want);
  } else {
    a.i64.resize(static_cast<size_t>(h.elements));
    read_exact(f.fd, path, data_at, a.i64.data(), want);
  }
  return a;
}

namespace {

// The temporary file of write_npy: closed and removed on every path out unless committed.
class TempFile {
 public:
  TempFile(const std::string& path, const std::string& final_path)
      : path_(path), final_(final_path) {
    f_ = std::fopen(path_.c_str(), "wb");
    MVIT_CHECK(f_ != nullptr, "%s: cannot create the temporary file %s: %s", final_.c_str(),
               path_.c_str(), std::strerror(errno));
  }
  ~TempFile() {
    if (f_ != nullptr) std::fclose(f_);
    if (!committed_) std::remove(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const void* p, size_t bytes) {
    MVIT_CHECK(bytes == 0 || std::fwrite(p, 1, bytes, f_) == bytes,
               "%s: writing the temporary file %s failed: %s", final_.c_str(), path_.c_str(),
               std::strerror(errno));
  }
  // Flushes, syncs and closes the file, then renames it over the final path.
  void commit() {
    const bool flushed = std::fflush(f_) == 0 && ::fsync(::fileno(f_)) == 0;
    const int flush_errno = errno;
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    MVIT_CHECK(flushed && closed, "%s: writing the temporary file %s failed: %s", final_.c_str(),
               path_.c_str(), std::strerror(flushed ? errno : flush_errno));
    MVIT_CHECK(std::rename(path_.c_str(), final_.c_str()) == 0,
               "%s: cannot rename the temporary file %s to it: %s", final_.c_str(), path_.c_str(),
               std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string path_, final_;
  std::FILE* f_ = nullptr;
  bool committed_ = false;
};

}  // namespace

void write_npy(const std::string& path, const std::vector<int64_t>& shape, const float* data) {
  MVIT_CHECK(shape.size() <= kMaxNpyRank, "%s: write_npy: shape has %zu dimensions (at most %zu)",
             path.c_str(), shape.size(), kMaxNpyRank);
  int64_t elements = 1;
  for (int64_t d : shape) {
    MVIT_CHECK(d >= 0 && d <= kMaxNpyElements,
               "%s: write_npy: dimension %lld of shape %s is negative or too large", path.c_str(),
               static_cast<long long>(d), tuple_str(shape).c_str());
    elements *= d;
    MVIT_CHECK(elements <= kMaxNpyElements, "%s: write_npy: shape %s has more than 2^31 elements",
               path.c_str(), tuple_str(shape).c_str());
  }
  MVIT_CHECK(data != nullptr || elements == 0, "%s: write_npy: data is null for shape %s",
             path.c_str(), tuple_str(shape).c_str());

  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + tuple_str(shape) + ", }";
  // Magic, version, uint16 length, dict, padding, '\n': a multiple of 64 bytes. numpy's rule
  // (format._wrap_header): 1 to 64 spaces, a whole 64 when the rest is already aligned.
  const size_t unpadded = kMagicBytes + 2 + 2 + header.size() + 1;
  header.append(64 - unpadded % 64, ' ');
  header += '\n';
  const unsigned char pre[10] = {0x93,
                                 'N',
                                 'U',
                                 'M',
                                 'P',
                                 'Y',
                                 1,
                                 0,
                                 static_cast<unsigned char>(header.size() & 0xff),
                                 static_cast<unsigned char>(header.size() >> 8)};

  TempFile tmp(path + ".tmp." + std::to_string(::getpid()), path);
  tmp.write(pre, sizeof pre);
  tmp.write(header.data(), header.size());
  tmp.write(data, static_cast<size_t>(elements) * sizeof(float));
  tmp.commit();
}

}  // namespace mvit
