#include "runtime/model_files.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/common/check.h"

namespace mvit {

namespace {

// Closes a descriptor on every path out, including throws.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : std::string();
}

bool inside(const std::string& file, const std::string& root) {
  return !root.empty() && file.size() > root.size() + 1 &&
         file.compare(0, root.size() + 1, root + "/") == 0;
}

// A symlinked file is followed only to a regular file inside the model directory, or inside the
// blobs/ directory of a huggingface_hub cache entry when the directory is one of its
// snapshots/<revision>/ folders (the hub cache stores every file that way).
int open_symlink(const std::string& dir_real, const std::string& name) {
  const std::string target = real_path(dir_real + "/" + name);
  MVIT_CHECK(!target.empty(), "%s/%s: a symlink whose target cannot be resolved (%s)",
             dir_real.c_str(), name.c_str(), std::strerror(errno));
  std::string blobs;
  const size_t snap = dir_real.rfind("/snapshots/");
  if (snap != std::string::npos && dir_real.find('/', snap + 11) == std::string::npos) {
    blobs = dir_real.substr(0, snap) + "/blobs";
  }
  MVIT_CHECK(inside(target, dir_real) || inside(target, blobs),
             "%s/%s: expected a file inside the model directory, found a symlink to %s outside it",
             dir_real.c_str(), name.c_str(), target.c_str());
  return ::open(target.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
}

std::string read_fixed(int dir_fd, const std::string& dir_real, const std::string& name,
                       uint64_t max_bytes) {
  const std::string shown = dir_real + "/" + name;
  Fd f;
  f.fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (f.fd < 0 && errno == ELOOP) f.fd = open_symlink(dir_real, name);
  MVIT_CHECK(f.fd >= 0, "%s: cannot open: %s", shown.c_str(), std::strerror(errno));
  struct stat st;
  MVIT_CHECK(::fstat(f.fd, &st) == 0, "%s: cannot stat: %s", shown.c_str(), std::strerror(errno));
  MVIT_CHECK(S_ISREG(st.st_mode), "%s: expected a regular file, found another kind of file",
             shown.c_str());
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  MVIT_CHECK(size <= max_bytes, "%s: expected at most %llu bytes, found %llu", shown.c_str(),
             static_cast<unsigned long long>(max_bytes), static_cast<unsigned long long>(size));
  std::string data(size, '\0');
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(f.fd, &data[done], size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    MVIT_CHECK(n > 0, "%s: expected %llu bytes, read %llu (%s)", shown.c_str(),
               static_cast<unsigned long long>(size), static_cast<unsigned long long>(done),
               n < 0 ? std::strerror(errno) : "the file shrank while being read");
    done += static_cast<uint64_t>(n);
  }
  return data;
}

bool present(int dir_fd, const char* name) {
  struct stat st;
  return ::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

}  // namespace

const char* to_string(SourceFormat f) {
  return f == SourceFormat::kModelDir ? "model directory" : "Hugging Face checkpoint";
}

namespace detail {

FoundModelFiles read_model_files(const std::string& path, uint64_t max_weights_bytes) {
  Fd dir;
  dir.fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  MVIT_CHECK(dir.fd >= 0,
             "%s: expected a model directory (model.json + model.safetensors) or a Hugging Face "
             "checkpoint folder, cannot open it: %s",
             path.c_str(), std::strerror(errno));
  FoundModelFiles found;
  found.dir = real_path(path);
  const std::string& dir_real = found.dir;
  MVIT_CHECK(!dir_real.empty(), "%s: cannot resolve the path: %s", path.c_str(),
             std::strerror(errno));
  ModelFiles& f = found.files;
  const bool ours = present(dir.fd, "model.json");
  MVIT_CHECK(ours || present(dir.fd, "config.json"),
             "%s: expected model.json (this project's format) or config.json (a Hugging Face "
             "checkpoint), found neither",
             dir_real.c_str());
  f.format = ours ? SourceFormat::kModelDir : SourceFormat::kHuggingFace;
  f.config_name = dir_real + (ours ? "/model.json" : "/config.json");
  f.config = read_fixed(dir.fd, dir_real, ours ? "model.json" : "config.json", kMaxJsonFileBytes);
  f.weights_name = dir_real + "/model.safetensors";
  f.preprocessor_name = dir_real + "/preprocessor_config.json";
  found.has_weights = present(dir.fd, "model.safetensors");
  if (!found.has_weights) {
    found.has_sharded_index = present(dir.fd, "model.safetensors.index.json");
    found.has_pytorch_bin = present(dir.fd, "pytorch_model.bin");
    found.has_tf_h5 = present(dir.fd, "tf_model.h5");
    return found;
  }
  f.weights = read_fixed(dir.fd, dir_real, "model.safetensors", max_weights_bytes);
  if (!ours && present(dir.fd, "preprocessor_config.json")) {
    f.has_preprocessor = true;
    f.preprocessor = read_fixed(dir.fd, dir_real, "preprocessor_config.json", kMaxJsonFileBytes);
  }
  return found;
}

}  // namespace detail
}  // namespace mvit
