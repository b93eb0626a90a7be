// The emulated CUDA runtime: device memory, the device's description, kernel launches (the error
// state is in error_state.cpp, streams in streams.cpp).
// Declarations come from the real cuda_runtime_api.h; only the subset the library uses exists,
// and libcudart is never linked into the emulated build.
#include <sys/sysinfo.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>

#include "error_state.h"
#include "kernels/common/check.h"
#include "mvit_emu/device_ops.h"
#include "mvit_emu/emu.h"
#include "mvit_emu/launch.h"
#include "scheduler.h"
#include "shared_memory.h"
#include "streams.h"
#include "symbols.h"

namespace mvit {
namespace emu {

using detail::format;

namespace {

std::mutex g_memory_mutex;
std::map<uintptr_t, size_t> g_device;  // cudaMalloc'd ranges: start -> bytes
std::map<uintptr_t, size_t> g_host;    // cudaMallocHost'd ranges

std::mutex g_func_mutex;
std::map<const void*, int> g_max_dynamic_smem;  // cudaFuncAttributeMaxDynamicSharedMemorySize

constexpr size_t kDefaultDynamicSharedLimit = 48 * 1024;  // without the opt-in attribute
constexpr size_t kStaticSharedLimit = 48 * 1024;          // static __shared__ per kernel

// Shared memory a block may opt in to, per compute capability (CUDA C++ Programming Guide,
// "Technical Specifications per Compute Capability").
size_t shared_optin_limit() {
  const Config c = config();
  const int cc = c.cc_major * 10 + c.cc_minor;
  if (cc >= 90) return 232448;              // 227 KiB
  if (cc == 80 || cc == 87) return 166912;  // 163 KiB
  if (cc >= 86) return 101376;              // 99 KiB (8.6, 8.9, 12.x)
  if (cc == 75) return 65536;
  return 98304;  // 7.0
}

// The emulated device's memory: half the machine's RAM, so an absurd request fails cleanly with
// cudaErrorMemoryAllocation instead of aborting the process.
size_t device_memory_bytes() {
  struct sysinfo si;
  if (sysinfo(&si) != 0) return size_t{8} << 30;
  return static_cast<size_t>(si.totalram) * si.mem_unit / 2;
}

bool lookup(const std::map<uintptr_t, size_t>& m, const void* p, size_t bytes, bool* inside) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = m.upper_bound(a);
  if (it == m.begin()) {
    *inside = false;
    return false;
  }
  --it;
  *inside = a < it->first + it->second || (a == it->first);
  return *inside && bytes <= it->first + it->second - a;
}

}  // namespace

bool is_device_range(const void* ptr, size_t bytes) {
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  bool inside = false;
  return lookup(g_device, ptr, bytes, &inside);
}

static bool points_into_device(const void* ptr) {
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  bool inside = false;
  lookup(g_device, ptr, 0, &inside);
  return inside;
}

void require_device_range(const void* ptr, size_t bytes, const char* api, const char* what) {
  if (!is_device_range(ptr, bytes)) {
    throw DeviceFault(cudaErrorIllegalAddress,
                      format("%s: %s [%p, +%zu bytes) is not inside one device allocation", api,
                             what, ptr, bytes));
  }
}

// ---- kernel launches ----------------------------------------------------------------------------

namespace {

cudaError_t validate_launch(const KernelLaunch& l) {
  const dim3 b = l.block, g = l.grid;
  const unsigned long long threads = 1ull * b.x * b.y * b.z;
  // The kernel's name is looked up and demangled only for a message: not on every launch.
  auto name = [&] { return symbol_name(l.kernel); };
  if (b.x == 0 || b.y == 0 || b.z == 0 || g.x == 0 || g.y == 0 || g.z == 0) {
    return fail_api(cudaErrorInvalidConfiguration,
                    format("launch of %s with an empty grid (%u,%u,%u) or block (%u,%u,%u)",
                           name().c_str(), g.x, g.y, g.z, b.x, b.y, b.z));
  }
  if (b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024) {
    return fail_api(cudaErrorInvalidConfiguration,
                    format("launch of %s: block (%u,%u,%u) = %llu threads exceeds the limits "
                           "(1024 threads; x, y <= 1024, z <= 64)",
                           name().c_str(), b.x, b.y, b.z, threads));
  }
  if (g.x > 2147483647u || g.y > 65535 || g.z > 65535) {
    return fail_api(cudaErrorInvalidConfiguration,
                    format("launch of %s: grid (%u,%u,%u) exceeds the limits (x < 2^31, y, z <= "
                           "65535)",
                           name().c_str(), g.x, g.y, g.z));
  }
  return cudaSuccess;
}

// Static + dynamic shared memory, as a GPU checks them at the launch (Note [static shared memory
// per kernel] in shared_memory.cpp). On success, *cap is the bound on static + dynamic that a
// block which touches a site not counted here must still respect.
cudaError_t validate_shared_memory(const KernelLaunch& l, size_t* cap) {
  auto name = [&] { return symbol_name(l.kernel); };
  const StaticShared st = static_shared_of(l.kernel);
  if (st.bytes > kStaticSharedLimit) {
    return fail_api(cudaErrorInvalidValue,
                    format("launch of %s: static shared memory exceeds the 48 KiB limit (nvcc "
                           "rejects such a kernel): %zu bytes: %s",
                           name().c_str(), st.bytes, st.sites.c_str()));
  }
  int attribute = -1;
  {
    std::lock_guard<std::mutex> lock(g_func_mutex);
    auto it = g_max_dynamic_smem.find(l.kernel);
    if (it != g_max_dynamic_smem.end()) attribute = it->second;
  }
  const size_t optin = shared_optin_limit();
  if (attribute >= 0 && st.bytes + attribute > optin) {
    return fail_api(cudaErrorInvalidValue,
                    format("launch of %s: cudaFuncAttributeMaxDynamicSharedMemorySize %d plus %zu "
                           "bytes of static shared memory (%s) exceed the device's opt-in limit "
                           "of %zu (a GPU rejects the cudaFuncSetAttribute call)",
                           name().c_str(), attribute, st.bytes, st.sites.c_str(), optin));
  }
  const size_t limit =
      attribute >= 0 ? static_cast<size_t>(attribute) : kDefaultDynamicSharedLimit - st.bytes;
  if (l.dynamic_smem > limit) {
    return fail_api(
        cudaErrorInvalidValue,
        format("launch of %s: %zu bytes of dynamic shared memory exceed the kernel's "
               "limit of %zu (%s; raise it with cudaFuncSetAttribute("
               "cudaFuncAttributeMaxDynamicSharedMemorySize), up to %zu minus the "
               "static bytes on this device)",
               name().c_str(), l.dynamic_smem, limit,
               attribute >= 0 ? "its cudaFuncAttributeMaxDynamicSharedMemorySize"
                              : format("48 KiB minus %zu bytes of static shared memory%s%s",
                                       st.bytes, st.bytes ? ": " : "", st.sites.c_str())
                                    .c_str(),
               optin));
  }
  *cap = attribute >= 0 ? optin - attribute + l.dynamic_smem : kDefaultDynamicSharedLimit;
  return cudaSuccess;
}

}  // namespace

void submit(std::shared_ptr<const KernelLaunch> launch, cudaStream_t stream) {
  if (cudaError_t e = sticky_error()) {
    set_last_error(e);
    return;
  }
  if (validate_launch(*launch) != cudaSuccess) return;
  if (check_launch_bounds(*launch) != cudaSuccess) return;
  size_t shared_limit = 0;
  if (validate_shared_memory(*launch, &shared_limit) != cudaSuccess) return;
  const Config c = config();
  const uint64_t blocks = 1ull * launch->grid.x * launch->grid.y * launch->grid.z;
  auto op = [launch, c, shared_limit, blocks] {
    count_kernel(launch->kernel);
    check_pointer_arguments(*launch);
    GridRun run;
    run.launch = launch;
    run.order = c.order;
    run.seed = c.seed;
    run.shared_limit = shared_limit;
    run.total_blocks = blocks;
    run_grid(run);
    if (run.failed) throw DeviceFault(cudaErrorLaunchFailure, run.error);
  };
  set_last_error(enqueue(stream, std::move(op), "kernel launch"));
}

}  // namespace emu
}  // namespace mvit

using namespace mvit::emu;
using mvit::detail::format;

// ---- memory
// ---------------------------------------------------------------------------------------

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (ptr == nullptr) return fail_api(cudaErrorInvalidValue, "cudaMalloc: null output pointer");
  if (cudaError_t e = sticky_error()) return e;
  if (cudaError_t e = check_unsafe_during_capture("cudaMalloc")) return e;
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (bytes > device_memory_bytes()) {
    return fail_api(cudaErrorMemoryAllocation,
                    format("cudaMalloc of %zu bytes exceeds the emulated device's %zu bytes", bytes,
                           device_memory_bytes()));
  }
  // Exact size (no rounding) so AddressSanitizer flags the first byte past the allocation; 256-byte
  // alignment as cudaMalloc guarantees.
  void* p = ::operator new (bytes, std::align_val_t{256}, std::nothrow);
  if (p == nullptr) {
    return fail_api(cudaErrorMemoryAllocation, format("cudaMalloc of %zu bytes failed", bytes));
  }
  fill_poison(p, bytes);  // reading memory nobody wrote shows up in results (Note [poison])
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  g_device[reinterpret_cast<uintptr_t>(p)] = bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  if (cudaError_t e = check_unsafe_during_capture("cudaFree")) return e;
  drain_all();  // cudaFree synchronizes: no queued operation may still use the memory
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  auto it = g_device.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == g_device.end()) {
    return fail_api(cudaErrorInvalidValue,
                    format("cudaFree(%p): not the start of a live cudaMalloc allocation", ptr));
  }
  g_device.erase(it);
  ::operator delete (ptr, std::align_val_t{256});
  return sticky_error();
}

cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  if (ptr == nullptr) return fail_api(cudaErrorInvalidValue, "cudaMallocHost: null output");
  if (cudaError_t e = check_unsafe_during_capture("cudaMallocHost")) return e;
  void* p = ::operator new (bytes == 0 ? 1 : bytes, std::align_val_t{256}, std::nothrow);
  if (p == nullptr) return fail_api(cudaErrorMemoryAllocation, "cudaMallocHost failed");
  std::memset(p, 0xFF, bytes);
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  g_host[reinterpret_cast<uintptr_t>(p)] = bytes;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned int flags) {
  if (flags != cudaHostAllocDefault) {
    return fail_api(cudaErrorNotSupported, "cudaHostAlloc: only cudaHostAllocDefault is modelled");
  }
  return cudaMallocHost(ptr, bytes);
}

cudaError_t cudaFreeHost(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  if (cudaError_t e = check_unsafe_during_capture("cudaFreeHost")) return e;
  drain_all();
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  if (g_host.erase(reinterpret_cast<uintptr_t>(ptr)) == 0) {
    return fail_api(cudaErrorInvalidValue,
                    format("cudaFreeHost(%p): not an allocation from cudaMallocHost", ptr));
  }
  ::operator delete (ptr, std::align_val_t{256});
  return cudaSuccess;
}

// Checks a copy's pointers against its kind, as the runtime does with unified addressing.
static cudaError_t validate_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                                 const char* api) {
  const bool dst_dev = points_into_device(dst), src_dev = points_into_device(src);
  bool want_dst_dev = dst_dev, want_src_dev = src_dev;
  switch (kind) {
    case cudaMemcpyHostToHost:
      want_dst_dev = want_src_dev = false;
      break;
    case cudaMemcpyHostToDevice:
      want_dst_dev = true, want_src_dev = false;
      break;
    case cudaMemcpyDeviceToHost:
      want_dst_dev = false, want_src_dev = true;
      break;
    case cudaMemcpyDeviceToDevice:
      want_dst_dev = want_src_dev = true;
      break;
    case cudaMemcpyDefault:
      break;
    default:
      return fail_api(cudaErrorInvalidMemcpyDirection, format("%s: bad kind %d", api, kind));
  }
  auto check = [&](const void* p, bool is_dev, bool want_dev, const char* which) -> cudaError_t {
    if (want_dev && !is_device_range(p, bytes)) {
      return fail_api(cudaErrorInvalidValue,
                      format("%s: %s [%p, +%zu bytes) is not inside one device allocation", api,
                             which, p, bytes));
    }
    if (!want_dev && is_dev) {
      return fail_api(
          cudaErrorInvalidValue,
          format("%s: %s %p is device memory but the copy kind says host", api, which, p));
    }
    if (!want_dev && p == nullptr) {
      return fail_api(cudaErrorInvalidValue, format("%s: %s is null", api, which));
    }
    return cudaSuccess;
  };
  if (cudaError_t e = check(dst, dst_dev, want_dst_dev, "destination")) return e;
  return check(src, src_dev, want_src_dev, "source");
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (bytes == 0) return sticky_error();
  if (cudaError_t e = validate_copy(dst, src, bytes, kind, "cudaMemcpyAsync")) return e;
  return enqueue(
      stream,
      [dst, src, bytes] {
        count_op(OpKind::kMemcpy, "cudaMemcpy");
        std::memmove(dst, src, bytes);
      },
      "cudaMemcpyAsync");
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (cudaError_t e = check_legacy_sync_during_capture("cudaMemcpy")) return e;
  if (cudaError_t e = cudaMemcpyAsync(dst, src, bytes, kind, nullptr)) return e;
  drain(*find_stream(nullptr));
  return sticky_error();
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  if (bytes == 0) return sticky_error();
  if (!is_device_range(dst, bytes)) {
    return fail_api(
        cudaErrorInvalidValue,
        format("cudaMemset: [%p, +%zu bytes) is not inside one device allocation", dst, bytes));
  }
  return enqueue(
      stream,
      [dst, value, bytes] {
        count_op(OpKind::kMemset, "cudaMemset");
        std::memset(dst, value, bytes);
      },
      "cudaMemset");
}

cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (cudaError_t e = check_legacy_sync_during_capture("cudaMemset")) return e;
  if (cudaError_t e = cudaMemsetAsync(dst, value, bytes, nullptr)) return e;
  drain(*find_stream(nullptr));
  return sticky_error();
}

// ---- pitched copies and fills: each row is checked as the plain copies check a whole copy ----

namespace {

bool is_pitched_device(const void* p, size_t pitch, size_t width, size_t height) {
  const auto* c = static_cast<const char*>(p);
  for (size_t r = 0; r < height; ++r) {
    if (!is_device_range(c + r * pitch, width)) return false;
  }
  return true;
}

cudaError_t validate_copy_2d(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                             size_t height, cudaMemcpyKind kind, const char* api) {
  if (dpitch < width || spitch < width) {
    return fail_api(
        cudaErrorInvalidPitchValue,
        format("%s: width %zu exceeds the destination pitch %zu or the source pitch %zu", api,
               width, dpitch, spitch));
  }
  for (size_t r = 0; r < height; ++r) {
    if (cudaError_t e =
            validate_copy(static_cast<char*>(dst) + r * dpitch,
                          static_cast<const char*>(src) + r * spitch, width, kind, api)) {
      return e;
    }
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
  if (width == 0 || height == 0) return sticky_error();
  if (cudaError_t e =
          validate_copy_2d(dst, dpitch, src, spitch, width, height, kind, "cudaMemcpy2DAsync")) {
    return e;
  }
  return enqueue(
      stream,
      [dst, dpitch, src, spitch, width, height] {
        count_op(OpKind::kMemcpy, "cudaMemcpy2D");
        for (size_t r = 0; r < height; ++r) {
          std::memmove(static_cast<char*>(dst) + r * dpitch,
                       static_cast<const char*>(src) + r * spitch, width);
        }
      },
      "cudaMemcpy2DAsync");
}

cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                         size_t height, cudaMemcpyKind kind) {
  if (cudaError_t e = check_legacy_sync_during_capture("cudaMemcpy2D")) return e;
  if (cudaError_t e = cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height, kind, nullptr)) {
    return e;
  }
  drain(*find_stream(nullptr));
  return sticky_error();
}

cudaError_t cudaMemset2DAsync(void* dst, size_t pitch, int value, size_t width, size_t height,
                              cudaStream_t stream) {
  if (width == 0 || height == 0) return sticky_error();
  if (pitch < width) {
    return fail_api(cudaErrorInvalidValue,
                    format("cudaMemset2D: width %zu exceeds the pitch %zu", width, pitch));
  }
  if (!is_pitched_device(dst, pitch, width, height)) {
    return fail_api(
        cudaErrorInvalidValue,
        format("cudaMemset2D: a row of %zu rows of %zu bytes, pitch %zu, from %p is not "
               "inside one device allocation",
               height, width, pitch, dst));
  }
  return enqueue(
      stream,
      [dst, pitch, value, width, height] {
        count_op(OpKind::kMemset, "cudaMemset2D");
        for (size_t r = 0; r < height; ++r) {
          std::memset(static_cast<char*>(dst) + r * pitch, value, width);
        }
      },
      "cudaMemset2D");
}

cudaError_t cudaMemset2D(void* dst, size_t pitch, int value, size_t width, size_t height) {
  if (cudaError_t e = check_legacy_sync_during_capture("cudaMemset2D")) return e;
  if (cudaError_t e = cudaMemset2DAsync(dst, pitch, value, width, height, nullptr)) return e;
  drain(*find_stream(nullptr));
  return sticky_error();
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  if (free_bytes == nullptr || total_bytes == nullptr) {
    return fail_api(cudaErrorInvalidValue, "cudaMemGetInfo: null output");
  }
  size_t used = 0;
  {
    std::lock_guard<std::mutex> lock(g_memory_mutex);
    for (auto& entry : g_device) used += entry.second;
  }
  *total_bytes = device_memory_bytes();
  *free_bytes = *total_bytes > used ? *total_bytes - used : 0;
  return cudaSuccess;
}

// ---- functions
// ------------------------------------------------------------------------------------

cudaError_t cudaFuncSetAttribute(const void* func, enum cudaFuncAttribute attr, int value) {
  if (func == nullptr)
    return fail_api(cudaErrorInvalidDeviceFunction, "cudaFuncSetAttribute: null");
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<size_t>(value) > shared_optin_limit()) {
      return fail_api(cudaErrorInvalidValue,
                      format("cudaFuncSetAttribute: MaxDynamicSharedMemorySize %d outside [0, %zu] "
                             "for compute capability %d.%d",
                             value, shared_optin_limit(), config().cc_major, config().cc_minor));
    }
    std::lock_guard<std::mutex> lock(g_func_mutex);
    g_max_dynamic_smem[func] = value;
    return cudaSuccess;
  }
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) {
    if (value < -1 || value > 100) {
      return fail_api(cudaErrorInvalidValue, "cudaFuncSetAttribute: carveout outside [-1, 100]");
    }
    return cudaSuccess;
  }
  return fail_api(
      cudaErrorNotSupported,
      format("cudaFuncSetAttribute: attribute %d is not modelled by the emulator", attr));
}

// What the emulator knows of a kernel: its MVIT_SHARED bytes (known once it has run: Note [static
// shared memory per kernel] in shared_memory.cpp), its MVIT_LAUNCH_BOUNDS and its
// MaxDynamicSharedMemorySize attribute. Registers are unknown on the CPU: numRegs is 0, and the
// occupancy below assumes registers never limit it.
cudaError_t cudaFuncGetAttributes(struct cudaFuncAttributes* attr, const void* func) {
  if (attr == nullptr) return fail_api(cudaErrorInvalidValue, "cudaFuncGetAttributes: null output");
  if (func == nullptr) {
    return fail_api(cudaErrorInvalidDeviceFunction, "cudaFuncGetAttributes: null function");
  }
  if (cudaError_t e = sticky_error()) return e;
  const Config c = config();
  const size_t st = static_shared_of(func).bytes;
  const unsigned bound = kernel_launch_bound(func);
  int attribute = -1;
  {
    std::lock_guard<std::mutex> lock(g_func_mutex);
    auto it = g_max_dynamic_smem.find(func);
    if (it != g_max_dynamic_smem.end()) attribute = it->second;
  }
  std::memset(attr, 0, sizeof *attr);
  attr->sharedSizeBytes = st;
  attr->constSizeBytes = 0;
  attr->localSizeBytes = 0;
  attr->maxThreadsPerBlock = bound != 0 && bound < 1024 ? static_cast<int>(bound) : 1024;
  attr->numRegs = 0;
  attr->ptxVersion = c.cc_major * 10 + c.cc_minor;
  attr->binaryVersion = c.cc_major * 10 + c.cc_minor;
  attr->maxDynamicSharedSizeBytes =
      attribute >= 0
          ? attribute
          : static_cast<int>(kDefaultDynamicSharedLimit > st ? kDefaultDynamicSharedLimit - st : 0);
  attr->preferredShmemCarveout = -1;
  return cudaSuccess;
}

// Occupancy on the emulated device's limits (cudaGetDeviceProperties): 2048 threads and 32 blocks
// per SM, blocks in whole warps, sharedMemPerMultiprocessor with 1 KiB reserved per block as on
// sm_80 and later; registers are assumed not to limit (the CPU cannot know them).
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* num_blocks,
                                                                   const void* func, int block_size,
                                                                   size_t dynamic_smem,
                                                                   unsigned int flags) {
  if (num_blocks == nullptr || block_size <= 0 ||
      (flags != cudaOccupancyDefault && flags != cudaOccupancyDisableCachingOverride)) {
    return fail_api(cudaErrorInvalidValue,
                    "cudaOccupancyMaxActiveBlocksPerMultiprocessor: null output, block size <= 0 "
                    "or unknown flags");
  }
  cudaFuncAttributes a;
  if (cudaError_t e = cudaFuncGetAttributes(&a, func)) return e;
  *num_blocks = 0;
  if (block_size > a.maxThreadsPerBlock) return cudaSuccess;
  if (dynamic_smem > static_cast<size_t>(a.maxDynamicSharedSizeBytes)) return cudaSuccess;
  const int warps = (block_size + 31) / 32;
  int blocks = std::min(32, 2048 / (warps * 32));
  const size_t smem = a.sharedSizeBytes + dynamic_smem;
  if (smem > 0) {
    const size_t per_sm = shared_optin_limit() + 1024;
    blocks = std::min(blocks, static_cast<int>(per_sm / (smem + 1024)));
  }
  *num_blocks = blocks;
  return cudaSuccess;
}

cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* num_blocks, const void* func,
                                                          int block_size, size_t dynamic_smem) {
  return cudaOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(num_blocks, func, block_size,
                                                                dynamic_smem, cudaOccupancyDefault);
}

cudaError_t cudaFuncGetName(const char** name, const void* func) {
  if (name == nullptr || func == nullptr) {
    return fail_api(cudaErrorInvalidValue, "cudaFuncGetName: null argument");
  }
  *name = mangled_symbol(func);
  if (*name == nullptr) {
    return fail_api(cudaErrorInvalidDeviceFunction,
                    format("cudaFuncGetName: no symbol for %p", func));
  }
  return cudaSuccess;
}

// ---- the device
// -----------------------------------------------------------------------------------

cudaError_t cudaGetDeviceCount(int* count) {
  if (count == nullptr) return fail_api(cudaErrorInvalidValue, "cudaGetDeviceCount: null output");
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int* device) {
  if (device == nullptr) return fail_api(cudaErrorInvalidValue, "cudaGetDevice: null output");
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device != 0) {
    return fail_api(cudaErrorInvalidDevice,
                    format("cudaSetDevice(%d): the emulator has one device, 0", device));
  }
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp* prop, int device) {
  if (prop == nullptr || device != 0) {
    return fail_api(cudaErrorInvalidDevice, "cudaGetDeviceProperties: device must be 0");
  }
  const Config c = config();
  std::memset(prop, 0, sizeof *prop);
  std::snprintf(prop->name, sizeof prop->name, "mvit emulated device (CPU, %d workers, sm_%d%d)",
                worker_count(), c.cc_major, c.cc_minor);
  prop->totalGlobalMem = device_memory_bytes();
  prop->sharedMemPerBlock = kDefaultDynamicSharedLimit;
  prop->sharedMemPerBlockOptin = shared_optin_limit();
  prop->sharedMemPerMultiprocessor = shared_optin_limit() + 1024;
  prop->regsPerBlock = 65536;
  prop->regsPerMultiprocessor = 65536;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = 1024;
  prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = 65535;
  prop->maxGridSize[2] = 65535;
  prop->totalConstMem = 65536;
  prop->major = c.cc_major;
  prop->minor = c.cc_minor;
  prop->multiProcessorCount = worker_count();
  prop->maxThreadsPerMultiProcessor = 2048;
  prop->maxBlocksPerMultiProcessor = 32;
  prop->unifiedAddressing = 1;
  prop->concurrentKernels = 1;
  prop->l2CacheSize = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, enum cudaDeviceAttr attr, int device) {
  if (value == nullptr || device != 0) {
    return fail_api(cudaErrorInvalidDevice, "cudaDeviceGetAttribute: device must be 0");
  }
  cudaDeviceProp p;
  cudaGetDeviceProperties(&p, 0);
  switch (attr) {
    case cudaDevAttrMaxThreadsPerBlock:
      *value = p.maxThreadsPerBlock;
      break;
    case cudaDevAttrMaxBlockDimX:
      *value = p.maxThreadsDim[0];
      break;
    case cudaDevAttrMaxBlockDimY:
      *value = p.maxThreadsDim[1];
      break;
    case cudaDevAttrMaxBlockDimZ:
      *value = p.maxThreadsDim[2];
      break;
    case cudaDevAttrMaxGridDimX:
      *value = p.maxGridSize[0];
      break;
    case cudaDevAttrMaxGridDimY:
      *value = p.maxGridSize[1];
      break;
    case cudaDevAttrMaxGridDimZ:
      *value = p.maxGridSize[2];
      break;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = static_cast<int>(p.sharedMemPerBlock);
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = static_cast<int>(p.sharedMemPerBlockOptin);
      break;
    case cudaDevAttrWarpSize:
      *value = 32;
      break;
    case cudaDevAttrMultiProcessorCount:
      *value = p.multiProcessorCount;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *value = p.major;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *value = p.minor;
      break;
    case cudaDevAttrL2CacheSize:
      *value = p.l2CacheSize;
      break;
    case cudaDevAttrMaxThreadsPerMultiProcessor:
      *value = p.maxThreadsPerMultiProcessor;
      break;
    case cudaDevAttrMaxBlocksPerMultiprocessor:
      *value = p.maxBlocksPerMultiProcessor;
      break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = static_cast<int>(p.sharedMemPerMultiprocessor);
      break;
    case cudaDevAttrMaxRegistersPerBlock:
      *value = p.regsPerBlock;
      break;
    case cudaDevAttrMaxRegistersPerMultiprocessor:
      *value = p.regsPerMultiprocessor;
      break;
    default:
      return fail_api(cudaErrorInvalidValue,
                      format("cudaDeviceGetAttribute: attribute %d is not modelled", attr));
  }
  return cudaSuccess;
}

cudaError_t cudaDeviceReset(void) {
  drain_all();
  std::lock_guard<std::mutex> lock(g_memory_mutex);
  for (auto& entry : g_device) {
    ::operator delete (reinterpret_cast<void*>(entry.first), std::align_val_t{256});
  }
  g_device.clear();
  clear_sticky_error();
  clear_last_error();
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) {
  if (version == nullptr) return fail_api(cudaErrorInvalidValue, "null output");
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  if (version == nullptr) return fail_api(cudaErrorInvalidValue, "null output");
  *version = CUDART_VERSION;
  return cudaSuccess;
}
