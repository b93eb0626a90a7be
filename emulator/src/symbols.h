// Kernel names, from a kernel's function address (symbols.cpp): for messages and cudaFuncGetName.
#pragma once

#include <string>

namespace mvit {
namespace emu {

// The demangled name of a kernel (a function's symbol), or "kernel at 0x..." if unknown.
std::string symbol_name(const void* fn);
// The mangled symbol (what cudaFuncGetName returns), or nullptr if unknown. Cached; stable.
const char* mangled_symbol(const void* fn);

}  // namespace emu
}  // namespace mvit
