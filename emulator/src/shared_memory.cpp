// Shared memory (MVIT_SHARED, MVIT_DYNAMIC_SHARED): one heap object per declaration site per
// worker, exactly sized so AddressSanitizer sees overflows, refilled with 0xFF (NaN) for every
// block; the static and opt-in limits are checked as a block first touches each object.
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "kernels/common/check.h"
#include "worker.h"

namespace mvit {
namespace emu {

using detail::format;
using namespace sched;

namespace {

constexpr size_t kStaticSharedLimit = 48 * 1024;  // CUDA's limit on static __shared__ per block

struct SiteInfo {
  const char* name;
  const char* file;
  int line;
  size_t bytes;
};

std::mutex g_sites_mutex;
std::vector<SiteInfo> g_sites;

// Makes `buf` hold exactly `bytes` of 0xFF (NaN in every float format) for the current block.
void refresh(SharedBuf& buf, size_t bytes, uint64_t serial) {
  if (buf.ptr == nullptr || buf.bytes != bytes) {
    free_shared(buf.ptr);
    buf.ptr = static_cast<unsigned char*>(::operator new (bytes, std::align_val_t{16}));
    buf.bytes = bytes;
  }
  std::memset(buf.ptr, 0xFF, bytes);
  buf.serial = serial;
}

}  // namespace

int register_shared_site(const char* name, const char* file, int line, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_sites_mutex);
  g_sites.push_back(SiteInfo{name, file, line, bytes});
  return static_cast<int>(g_sites.size() - 1);
}

void* shared_storage(int site_id) {
  Worker& w = worker();
  BlockRun& b = w.block;
  if (static_cast<size_t>(site_id) >= w.shared.size()) w.shared.resize(site_id + 1);
  SharedBuf& buf = w.shared[site_id];
  if (buf.serial != b.serial) {
    SiteInfo info;
    {
      std::lock_guard<std::mutex> lock(g_sites_mutex);
      info = g_sites[site_id];
    }
    refresh(buf, info.bytes, b.serial);
    b.static_shared += info.bytes;
    if (b.static_shared > kStaticSharedLimit) {
      fail(
          format("static shared memory exceeds the 48 KiB limit: MVIT_SHARED %s (%zu bytes) at "
                 "%s brings the block to %zu bytes",
                 info.name, info.bytes, site(info.file, info.line).c_str(), b.static_shared));
    }
    if (b.static_shared + b.grid->launch->dynamic_smem > b.grid->shared_limit) {
      fail(
          format("too much shared memory: %zu bytes static (MVIT_SHARED %s at %s) + %zu bytes "
                 "dynamic exceeds the device's %zu bytes per block",
                 b.static_shared, info.name, site(info.file, info.line).c_str(),
                 b.grid->launch->dynamic_smem, b.grid->shared_limit));
    }
  }
  return buf.ptr;
}

void* dynamic_shared() {
  Worker& w = worker();
  BlockRun& b = w.block;
  if (w.dynamic.serial != b.serial) refresh(w.dynamic, b.grid->launch->dynamic_smem, b.serial);
  return w.dynamic.ptr;
}

}  // namespace emu
}  // namespace mvit
