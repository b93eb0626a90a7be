// Launch checks that need more than the launch's shape (runtime.cpp's validate_launch has those):
// the kernel's MVIT_LAUNCH_BOUNDS, its pointer arguments against device allocations, and the
// sanitizers' report hooks that name the emulated kernel, block and thread.
#include <elf.h>
#include <link.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "block_run.h"
#include "error_state.h"
#include "kernels/common/check.h"
#include "mvit_emu/device_ops.h"
#include "mvit_emu/launch.h"
#include "symbols.h"

namespace mvit {
namespace emu {

using detail::format;

namespace {

// ---- launch bounds ------------------------------------------------------------------------------

// Note [launch bounds encoding]
// In the emulated build MVIT_LAUNCH_BOUNDS(n[, min_blocks]) (kernels/common/launch.cuh) becomes
// __attribute__((patchable_function_entry(n, n))): GCC puts n one-byte NOPs (0x90) right before
// the kernel's entry and records the address of the first in the module's
// __patchable_function_entries section (relocated at load time, so it holds run-time addresses).
// That is the only function attribute we found that carries a number to run time and that GCC 12
// honours on function templates too: section and abi_tag are silently dropped from template
// instantiations. At a kernel's first launch its bound is the distance from the nearest record
// below its address, provided every byte in between is such a NOP (n <= 1024, the most a block
// can have); the answer is cached per kernel. Nothing else in the project uses the attribute
// (it is the GCC/Clang spelling of -fpatchable-function-entry, which the build does not set).
constexpr uintptr_t kMaxBound = 1024;

struct Module {
  uintptr_t address;  // in
  std::string path;   // out: "" when no module holds the address
  uintptr_t load_bias;
};

// Finds the loaded module whose segments hold m->address (the main program has no name:
// /proc/self/exe opens it whatever the current directory).
int find_module(dl_phdr_info* info, size_t, void* data) {
  Module* m = static_cast<Module*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && m->address >= begin && m->address < begin + ph.p_memsz) {
      m->path = info->dlpi_name[0] != '\0' ? info->dlpi_name : "/proc/self/exe";
      m->load_bias = info->dlpi_addr;
      return 1;
    }
  }
  return 0;
}

// The records of the module's __patchable_function_entries section (run-time addresses of the
// NOP areas), read from memory: where the ELF section headers in `path` say the section lies.
std::vector<uintptr_t> patch_records(const Module& m) {
  std::vector<uintptr_t> out;
  std::ifstream f(m.path, std::ios::binary);
  Elf64_Ehdr eh;
  if (!f.read(reinterpret_cast<char*>(&eh), sizeof eh) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_shentsize != sizeof(Elf64_Shdr)) {
    return out;
  }
  std::vector<Elf64_Shdr> sections(eh.e_shnum);
  f.seekg(static_cast<std::streamoff>(eh.e_shoff));
  if (!f.read(reinterpret_cast<char*>(sections.data()),
              static_cast<std::streamsize>(sections.size() * sizeof(Elf64_Shdr))) ||
      eh.e_shstrndx >= sections.size()) {
    return out;
  }
  const Elf64_Shdr& names_header = sections[eh.e_shstrndx];
  std::string names(names_header.sh_size, '\0');
  f.seekg(static_cast<std::streamoff>(names_header.sh_offset));
  if (!f.read(&names[0], static_cast<std::streamsize>(names.size()))) return out;
  for (const Elf64_Shdr& s : sections) {
    if (s.sh_name >= names.size() || !(s.sh_flags & SHF_ALLOC)) continue;
    if (std::strcmp(names.c_str() + s.sh_name, "__patchable_function_entries") != 0) continue;
    const auto* records = reinterpret_cast<const uintptr_t*>(m.load_bias + s.sh_addr);
    out.insert(out.end(), records, records + s.sh_size / sizeof(uintptr_t));
  }
  return out;
}

std::mutex g_bounds_mutex;
std::map<std::string, std::vector<uintptr_t>> g_module_records;  // by module path
std::map<const void*, unsigned> g_kernel_bounds;                 // 0: none declared

unsigned launch_bound(const void* kernel) {
  std::lock_guard<std::mutex> lock(g_bounds_mutex);
  auto known = g_kernel_bounds.find(kernel);
  if (known != g_kernel_bounds.end()) return known->second;
  unsigned bound = 0;
  Module m{reinterpret_cast<uintptr_t>(kernel), "", 0};
  if (dl_iterate_phdr(&find_module, &m) != 0) {
    auto it = g_module_records.find(m.path);
    if (it == g_module_records.end()) it = g_module_records.emplace(m.path, patch_records(m)).first;
    uintptr_t nearest = 0;
    for (uintptr_t r : it->second) {
      if (r < m.address && r > nearest) nearest = r;
    }
    if (nearest != 0 && m.address - nearest <= kMaxBound) {
      const auto* nop = reinterpret_cast<const unsigned char*>(nearest);
      const size_t n = m.address - nearest;
      if (std::all_of(nop, nop + n, [](unsigned char c) { return c == 0x90; })) {
        bound = static_cast<unsigned>(n);
      }
    }
  }
  g_kernel_bounds[kernel] = bound;
  return bound;
}

}  // namespace

unsigned kernel_launch_bound(const void* kernel) {
  return launch_bound(kernel);
}

cudaError_t check_launch_bounds(const KernelLaunch& l) {
  const unsigned bound = launch_bound(l.kernel);
  const unsigned long long threads = 1ull * l.block.x * l.block.y * l.block.z;
  if (bound == 0 || threads <= bound) return cudaSuccess;
  // What the CUDA runtime returns: the kernel was compiled for at most `bound` threads, so the
  // block asks for more than it has (cudaErrorLaunchOutOfResources: "the kernel launch specifies
  // too many threads for the kernel's register count").
  return fail_api(
      cudaErrorLaunchOutOfResources,
      format("launch of %s: block (%u,%u,%u) = %llu threads exceeds the kernel's "
             "MVIT_LAUNCH_BOUNDS of %u threads (too many resources requested for "
             "launch)",
             symbol_name(l.kernel).c_str(), l.block.x, l.block.y, l.block.z, threads, bound));
}

// ---- pointer arguments --------------------------------------------------------------------------

// Note [pointer arguments]
// A GPU faults when a kernel dereferences a host pointer; the emulator would simply read host
// memory. So when a kernel starts to run, every non-null top-level pointer argument must point
// into a live cudaMalloc allocation, else the launch fails as the GPU's would: with the sticky,
// asynchronous cudaErrorIllegalAddress. Allowed as well: one past the end of an allocation (a
// legal C++ pointer value, e.g. an end marker; any access through it is still caught, by ASan,
// as the byte after an exact-size allocation). Rejected although a GPU with unified addressing
// would accept it: pinned host memory (cudaMallocHost), since the project never reads host memory
// from kernels and passing the host staging buffer instead of the device one is the likely bug.
// Checked at run time, not at submission, so that memory freed between launch and execution,
// and graph replays after a free, are caught too. Pointers inside a by-value struct argument are
// invisible here (launch() sees only the parameter types); only ASan catches those.
void check_pointer_arguments(const KernelLaunch& l) {
  for (const auto& [index, pointer] : l.pointer_args) {
    const auto address = reinterpret_cast<uintptr_t>(pointer);
    const void* last_byte_before = reinterpret_cast<const void*>(address - 1);
    if (is_device_range(pointer, 1) || is_device_range(last_byte_before, 1)) continue;
    throw DeviceFault(cudaErrorIllegalAddress,
                      format("an illegal memory access was encountered: kernel %s, argument %d "
                             "is %p, which does not point into a live device allocation (a host "
                             "pointer, a freed allocation or a stray value)",
                             symbol_name(l.kernel).c_str(), index, pointer));
  }
}

// ---- sanitizer reports --------------------------------------------------------------------------

#if defined(MVIT_EMU_SANITIZE)
namespace {

// Note [sanitizer context]
// AddressSanitizer and UBSan report the host stack of the worker thread, which shows the kernel's
// source line but not which emulated block and thread ran it. Both runtimes call a hook while
// reporting (GCC 12's libasan: __asan_on_error, at the start of every report, including SEGV;
// libubsan: __ubsan_on_report, before each diagnostic is printed); it prints the emulated
// context from the scheduler's thread-local state, which is set only while a block runs.
void print_emulated_context(const char* sanitizer) {
  const BlockInfo* block = t_block;
  const ThreadInfo* thread = t_thread;
  const sched::BlockRun* run = sched::t_run;
  if (block == nullptr || thread == nullptr || run == nullptr || run->grid == nullptr) return;
  const std::string name = symbol_name(run->grid->launch->kernel);
  std::fprintf(stderr,
               "mvit emulator: this %s report comes from kernel %s, block (%u,%u,%u), thread "
               "(%u,%u,%u)\n",
               sanitizer, name.c_str(), block->block_idx.x, block->block_idx.y, block->block_idx.z,
               thread->thread_idx.x, thread->thread_idx.y, thread->thread_idx.z);
}

}  // namespace
#endif

}  // namespace emu
}  // namespace mvit

#if defined(MVIT_EMU_SANITIZE)
// Weak in the sanitizer runtimes; these definitions replace them.
extern "C" void __asan_on_error() {
  mvit::emu::print_emulated_context("AddressSanitizer");
}
extern "C" void __ubsan_on_report() {
  mvit::emu::print_emulated_context("UndefinedBehaviorSanitizer");
}
#endif
