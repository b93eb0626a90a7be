// Shared memory (MVIT_SHARED, MVIT_DYNAMIC_SHARED): one heap object per declaration site per
// worker, exactly sized so AddressSanitizer sees overflows, exactly aligned, refilled with the
// poison for every block; each kernel's static usage, known at launch.
#include "shared_memory.h"

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "kernels/common/check.h"
#include "symbols.h"
#include "worker.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define MVIT_EMU_POISON_PAD(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#else
#define MVIT_EMU_POISON_PAD(p, n) ((void)(p), (void)(n))
#endif

namespace mvit {
namespace emu {

using detail::format;
using namespace sched;

// Note [static shared memory per kernel]
// A GPU knows a kernel's static shared memory (every __shared__ in its body and in the device
// functions it calls, reached or not) before launching it, and applies the limits to static +
// dynamic at the launch: by default dynamic <= 48 KiB - static; with cudaFuncAttribute-
// MaxDynamicSharedMemorySize = A, dynamic <= A and static + A <= the opt-in limit.
// The emulator learns it the same way for arrays declared in the kernel's own body: MVIT_SHARED
// declares a class local to the enclosing function and names SharedSite<that class>, whose static
// member registers the site during static initialisation. The local class's mangled name is
// "Z<encoding of the enclosing function>E<name>", and the kernel's symbol is "_Z<encoding>", so
// the launch attributes every site of the kernel's body to it by that prefix (once per kernel,
// then cached), before its first launch runs, whether or not a block ever reaches the site.
// What that cannot attribute: an MVIT_SHARED in a __device__ helper (its owner is the helper,
// which any kernel may call), a kernel without a symbol the emulator can find (symbols.cpp), or a
// kernel declared extern "C". Those sites are attributed when a block of a launch first touches
// them: that launch fails at the touch if the limits are exceeded (cudaErrorLaunchFailure rather
// than the launch's cudaErrorInvalidValue), and every later launch of the kernel counts them
// before it runs. So a helper's array reached only in a branch no launch has taken yet is
// invisible; a GPU would count it.

namespace {

constexpr size_t kStaticSharedLimit = 48 * 1024;  // CUDA's limit on static __shared__ per block
constexpr size_t kMinSharedAlign = 16;

struct SiteInfo {
  SharedSiteInfo site;
  std::string owner;  // the declaring function's local-class prefix (see the Note)
};

// What the launches know of one kernel's static shared memory.
struct KernelRecord {
  std::vector<bool> has;  // indexed by site id - 1
  size_t bytes = 0;
  std::string sites;
};

struct Registry {
  std::mutex mutex;
  std::vector<SiteInfo> sites;
  std::map<const void*, std::unique_ptr<KernelRecord>> kernels;
};

// A function-local static: sites register from other translation units' static initialisers,
// in an order C++ leaves unspecified.
Registry& registry() {
  static Registry r;
  return r;
}

std::string describe(const SharedSiteInfo& s) {
  return format("MVIT_SHARED %s (%zu bytes) at %s", s.name, s.bytes, site(s.file, s.line).c_str());
}

void add_site(KernelRecord& k, int index, const SharedSiteInfo& s) {
  if (k.has.size() <= static_cast<size_t>(index)) k.has.resize(index + 1);
  k.has[index] = true;
  k.bytes += s.bytes;
  if (!k.sites.empty()) k.sites += ", ";
  k.sites += describe(s);
}

// The kernel's record, created on first use from the sites its body declares. Caller holds the
// registry's mutex.
KernelRecord& record_of(Registry& r, const void* kernel) {
  std::unique_ptr<KernelRecord>& slot = r.kernels[kernel];
  if (slot) return *slot;
  slot = std::make_unique<KernelRecord>();
  const char* mangled = mangled_symbol(kernel);
  if (mangled != nullptr && std::strncmp(mangled, "_Z", 2) == 0) {
    const std::string prefix = "Z" + std::string(mangled + 2) + "E";
    for (size_t i = 0; i < r.sites.size(); ++i) {
      if (r.sites[i].owner.compare(0, prefix.size(), prefix) == 0) {
        add_site(*slot, static_cast<int>(i), r.sites[i].site);
      }
    }
  }
  return *slot;
}

// The usable address inside an allocation at `base` (16-byte aligned) for an object aligned to
// exactly `align`: base + pad is an odd multiple of `align`. At most 2 * align - 16 bytes of pad.
size_t pad_for(const unsigned char* base, size_t align) {
  const size_t a = reinterpret_cast<uintptr_t>(base) % (2 * align);
  return (align + 2 * align - a) % (2 * align);
}

// Makes `buf` hold `bytes` of poison at an address aligned to exactly `align` for the current
// block; returns that address. The pad before it and the slack after it are poisoned for ASan.
unsigned char* refresh(SharedBuf& buf, size_t bytes, size_t align, uint64_t serial) {
  const size_t total = bytes + 2 * align - kMinSharedAlign;
  if (buf.ptr == nullptr || buf.bytes != total) {
    free_shared(buf.ptr);
    buf.ptr = static_cast<unsigned char*>(::operator new (total, std::align_val_t{16}));
    buf.bytes = total;
    const size_t pad = pad_for(buf.ptr, align);
    MVIT_EMU_POISON_PAD(buf.ptr, pad);
    MVIT_EMU_POISON_PAD(buf.ptr + pad + bytes, total - pad - bytes);
  }
  unsigned char* p = buf.ptr + pad_for(buf.ptr, align);
  fill_poison(p, bytes);
  buf.serial = serial;
  return p;
}

// A site the launch did not count beforehand (Note [static shared memory per kernel]): count it
// for this block and every later launch of the kernel, and apply the limits.
void learn(BlockRun& b, int index, const SharedSiteInfo& s) {
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    KernelRecord& k = *static_cast<KernelRecord*>(b.kernel_shared);
    if (k.has.size() > static_cast<size_t>(index) && k.has[index]) return;  // another block did
    add_site(k, index, s);
  }
  b.static_shared += s.bytes;
  if (b.static_shared > kStaticSharedLimit) {
    fail(format("static shared memory exceeds the 48 KiB limit: %s brings the block to %zu bytes",
                describe(s).c_str(), b.static_shared));
  }
  const size_t dynamic = b.grid->launch->dynamic_smem;
  if (b.static_shared + dynamic > b.shared_cap) {
    fail(
        format("too much shared memory: %s, declared outside the kernel's body, brings its "
               "static shared memory to %zu bytes; with %zu bytes dynamic that exceeds the "
               "launch's limit of %zu bytes static + dynamic (48 KiB without "
               "cudaFuncAttributeMaxDynamicSharedMemorySize; with it, the opt-in limit minus "
               "the attribute's value, plus the dynamic bytes)",
               describe(s).c_str(), b.static_shared, dynamic, b.shared_cap));
  }
}

}  // namespace

int register_shared_site(const SharedSiteInfo& info, const char* owner) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  SiteInfo s{info, owner[0] == '*' ? owner + 1 : owner};  // '*': g++'s mark of internal linkage
  if (s.site.align < kMinSharedAlign) s.site.align = kMinSharedAlign;
  r.sites.push_back(std::move(s));
  return static_cast<int>(r.sites.size());
}

StaticShared static_shared_of(const void* kernel) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  KernelRecord& k = record_of(r, kernel);
  return StaticShared{k.bytes, k.sites, &k};
}

void* shared_storage(int site_id, size_t align) {
  if (site_id == 0) fail("MVIT_SHARED reached before the emulator's static initialisation ran");
  if (align < kMinSharedAlign) align = kMinSharedAlign;
  Worker& w = worker();
  BlockRun& b = w.block;
  const int index = site_id - 1;
  if (static_cast<size_t>(index) >= w.shared.size()) w.shared.resize(index + 1);
  SharedBuf& buf = w.shared[index];
  if (buf.serial == b.serial) return buf.ptr + pad_for(buf.ptr, align);
  SharedSiteInfo info;
  bool known = false;
  {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mutex);
    info = r.sites[index].site;
    const KernelRecord& k = *static_cast<const KernelRecord*>(b.kernel_shared);
    known = k.has.size() > static_cast<size_t>(index) && k.has[index];
  }
  unsigned char* p = refresh(buf, info.bytes, align, b.serial);
  if (!known) learn(b, index, info);
  return p;
}

void* dynamic_shared() {
  Worker& w = worker();
  BlockRun& b = w.block;
  if (w.dynamic.serial != b.serial) {
    return refresh(w.dynamic, b.grid->launch->dynamic_smem, kMinSharedAlign, b.serial);
  }
  return w.dynamic.ptr + pad_for(w.dynamic.ptr, kMinSharedAlign);
}

}  // namespace emu
}  // namespace mvit
