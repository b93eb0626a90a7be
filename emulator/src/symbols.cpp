// Kernel names for messages and cudaFuncGetName: dladdr for exported symbols, else the symbol
// table (.symtab) of the object that contains the address, so kernels with internal linkage (in
// an anonymous namespace) are named too. Executables are not stripped in our builds.
#include <cxxabi.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "symbols.h"

namespace mvit {
namespace emu {

namespace {

// Searches the ELF file's .symtab for a function symbol whose value is `offset`.
std::string find_in_symtab(const char* path, uintptr_t offset) {
  std::string found;
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return found;
  struct stat st;
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) < sizeof(Elf64_Ehdr)) {
    close(fd);
    return found;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return found;
  const auto* base = static_cast<const unsigned char*>(map);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  const bool ok = std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 &&
                  eh->e_ident[EI_CLASS] == ELFCLASS64 && eh->e_shoff < size &&
                  eh->e_shoff + static_cast<size_t>(eh->e_shnum) * sizeof(Elf64_Shdr) <= size;
  if (ok) {
    const auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum && found.empty(); ++i) {
      if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum) continue;
      const Elf64_Shdr& strtab = sh[sh[i].sh_link];
      if (sh[i].sh_offset + sh[i].sh_size > size || strtab.sh_offset + strtab.sh_size > size) {
        continue;
      }
      const auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
      const size_t count = sh[i].sh_size / sizeof(Elf64_Sym);
      for (size_t k = 0; k < count; ++k) {
        if (ELF64_ST_TYPE(syms[k].st_info) == STT_FUNC && syms[k].st_value == offset &&
            syms[k].st_name < strtab.sh_size) {
          found = reinterpret_cast<const char*>(base + strtab.sh_offset + syms[k].st_name);
          break;
        }
      }
    }
  }
  munmap(map, size);
  return found;
}

std::string lookup(const void* fn) {
  Dl_info info;
  if (dladdr(fn, &info) == 0) return std::string();
  if (info.dli_sname != nullptr && info.dli_saddr == fn) return info.dli_sname;
  if (info.dli_fname == nullptr) return std::string();
  const auto addr = reinterpret_cast<uintptr_t>(fn);
  const auto load = reinterpret_cast<uintptr_t>(info.dli_fbase);
  std::string s = find_in_symtab(info.dli_fname, addr - load);  // PIE and shared objects
  if (s.empty()) s = find_in_symtab(info.dli_fname, addr);      // non-PIE executables
  return s;
}

std::mutex g_mutex;
std::map<const void*, std::string>& cache() {
  static std::map<const void*, std::string> c;
  return c;
}

const std::string& cached(const void* fn) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = cache().find(fn);
  if (it == cache().end()) it = cache().emplace(fn, lookup(fn)).first;
  return it->second;
}

}  // namespace

const char* mangled_symbol(const void* fn) {
  const std::string& s = cached(fn);
  return s.empty() ? nullptr : s.c_str();
}

std::string symbol_name(const void* fn) {
  const char* mangled = mangled_symbol(fn);
  if (mangled == nullptr) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "kernel at %p", fn);
    return buf;
  }
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  if (demangled == nullptr) return mangled;
  std::string s(demangled);
  std::free(demangled);
  return s;
}

}  // namespace emu
}  // namespace mvit
