// What the runtime and the block scheduler ask of shared_memory.cpp: a kernel's static shared
// memory, known before its launch runs (Note [static shared memory per kernel]).
#pragma once

#include <cstddef>
#include <string>

namespace mvit {
namespace emu {

struct StaticShared {
  size_t bytes = 0;        // the sum of the kernel's MVIT_SHARED arrays
  std::string sites;       // "MVIT_SHARED big (53248 bytes) at f.cu:12, ..." (for messages)
  void* record = nullptr;  // the kernel's record, for BlockRun::kernel_shared
};

// The static shared memory of `kernel`: every MVIT_SHARED declared in its body (whether or not a
// block reaches it), plus those in functions it calls that an earlier launch has touched.
StaticShared static_shared_of(const void* kernel);

}  // namespace emu
}  // namespace mvit
