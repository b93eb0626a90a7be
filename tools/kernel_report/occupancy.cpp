// mvit-occupancy: theoretical occupancy of a kernel on a compute capability without a GPU, from the
// toolkit's cuda_occupancy.h (the calculator cudaOccupancyMaxActiveBlocksPerMultiprocessor uses)
// and the documented per-SM limits of each architecture.
//
//   mvit-occupancy < queries     one query a line: <cc> <registers> <static smem B> <dynamic smem
//   B>
//                                <block threads>, e.g. "80 32 4224 0 256"; '#' starts a comment
//   answer, one line per query:  <active blocks per SM> <active warps> <max warps> <limiters>
//                                (limiters: comma-separated of warps, registers, smem, blocks,
//                                barriers; "-" when none), or "error <why>"
//   mvit-occupancy --archs       the compute capabilities it knows, one per line
//
// Used by tools/kernel_report/kernel_report.py; exits non-zero on a malformed line.
#include <cuda_occupancy.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

namespace {

// Per-SM limits from the CUDA C++ Programming Guide, "Compute Capabilities", table "Technical
// Specifications per Compute Capability" (rows: maximum number of resident threads per SM,
// maximum amount of shared memory per SM, maximum amount of shared memory per thread block
// (opt-in), shared memory reserved by the system per thread block (CUDA 11+: 1 KB on 8.x and 9.0,
// none on 7.5), number of 32-bit registers per SM (64 K) and per block (64 K), maximum threads per
// block (1024)). The per-block default without the opt-in attribute is 48 KB on all of them.
// The rest of what the guide lists is built into cuda_occupancy.h itself, keyed by compute
// capability, and is not filled here: maximum resident blocks per SM (7.5: 16, 8.0: 32, 8.6: 16,
// 8.9: 24, 9.0: 32: cudaOccMaxBlocksPerMultiprocessor), the register allocation unit (256
// registers per warp: cudaOccRegAllocationGranularity), the shared memory allocation unit (128 B
// on 8.x and 9.0, 256 B on 7.x: cudaOccSMemAllocationGranularity), the carveout sizes an SM can
// be configured to (cudaOccAlignUpShmemSizeVoltaPlus), and 4 warp schedulers per SM.
struct ArchLimits {
  int major, minor;
  const char* part;     // a GPU of that compute capability, for the reader
  int threads_per_sm;   // maximum resident threads per SM
  int smem_per_sm_kib;  // maximum shared memory per SM (the carveout the default preference picks)
  int smem_per_block_optin_kib;
  int reserved_smem_per_block;  // bytes the driver adds to every block's allocation
  int sms;                      // SM count of `part`; the per-SM calculation does not use it
};

constexpr ArchLimits kArchs[] = {
    {7, 5, "T4", 1024, 64, 64, 0, 40},         {8, 0, "A100", 2048, 164, 163, 1024, 108},
    {8, 6, "A10", 1536, 100, 99, 1024, 72},    {8, 9, "L4", 1536, 100, 99, 1024, 58},
    {9, 0, "H100", 2048, 228, 227, 1024, 132},
};

const ArchLimits* find_arch(int cc) {
  for (const ArchLimits& a : kArchs) {
    if (a.major * 10 + a.minor == cc) return &a;
  }
  return nullptr;
}

cudaOccDeviceProp device_properties(const ArchLimits& a) {
  cudaOccDeviceProp p;
  p.computeMajor = a.major;
  p.computeMinor = a.minor;
  p.maxThreadsPerBlock = 1024;
  p.maxThreadsPerMultiprocessor = a.threads_per_sm;
  p.regsPerBlock = 64 * 1024;
  p.regsPerMultiprocessor = 64 * 1024;
  p.warpSize = 32;
  p.sharedMemPerBlock = 48 * 1024;
  p.sharedMemPerMultiprocessor = static_cast<size_t>(a.smem_per_sm_kib) * 1024;
  p.numSms = a.sms;
  p.sharedMemPerBlockOptin = static_cast<size_t>(a.smem_per_block_optin_kib) * 1024;
  p.reservedSharedMemPerBlock = static_cast<size_t>(a.reserved_smem_per_block);
  return p;
}

std::string limiters(unsigned bits) {
  static const struct {
    unsigned bit;
    const char* name;
  } kNames[] = {{OCC_LIMIT_WARPS, "warps"},        {OCC_LIMIT_REGISTERS, "registers"},
                {OCC_LIMIT_SHARED_MEMORY, "smem"}, {OCC_LIMIT_BLOCKS, "blocks"},
                {OCC_LIMIT_BARRIERS, "barriers"},  {OCC_LIMIT_VIRTUAL_RESOURCES, "virtual"}};
  std::string out;
  for (const auto& n : kNames) {
    if (bits & n.bit) out += (out.empty() ? "" : ",") + std::string(n.name);
  }
  return out.empty() ? "-" : out;
}

// One query line -> one answer line; false on a malformed line.
bool answer(const std::string& line, std::string* out) {
  std::istringstream in(line);
  long long cc = 0, regs = 0, static_smem = 0, dynamic_smem = 0, threads = 0;
  std::string extra;
  if (!(in >> cc >> regs >> static_smem >> dynamic_smem >> threads) || (in >> extra)) return false;
  const ArchLimits* arch = find_arch(static_cast<int>(cc));
  if (arch == nullptr) {
    *out = "error compute capability " + std::to_string(cc) + " is not in the table";
    return true;
  }
  if (regs < 0 || regs > 255 || static_smem < 0 || dynamic_smem < 0 || threads <= 0 ||
      threads > 1024) {
    *out = "error out of range: " + line;
    return true;
  }
  const cudaOccDeviceProp props = device_properties(*arch);
  cudaOccFuncAttributes attr;
  // The block the launcher uses is the kernel's MVIT_LAUNCH_BOUNDS, so the bound is the block.
  attr.maxThreadsPerBlock = static_cast<int>(threads);
  attr.numRegs = static_cast<int>(regs);
  attr.sharedSizeBytes = static_cast<size_t>(static_smem);
  // As cudaFuncAttributes converts: one block barrier, and the launcher has opted in to exactly
  // the dynamic shared memory it launches with (cudaFuncAttributeMaxDynamicSharedMemorySize).
  attr.numBlockBarriers = 1;
  attr.shmemLimitConfig = FUNC_SHMEM_LIMIT_OPTIN;
  attr.maxDynamicSharedSizeBytes = static_cast<size_t>(dynamic_smem);
  const cudaOccDeviceState state;  // default carveout preference, as a launch without attributes
  cudaOccResult result;
  const cudaOccError status = cudaOccMaxActiveBlocksPerMultiprocessor(
      &result, &props, &attr, &state, static_cast<int>(threads), static_cast<size_t>(dynamic_smem));
  if (status != CUDA_OCC_SUCCESS) {
    *out = std::string("error cuda_occupancy.h status ") + std::to_string(status);
    return true;
  }
  const int warps_per_block = static_cast<int>((threads + props.warpSize - 1) / props.warpSize);
  const int max_warps = props.maxThreadsPerMultiprocessor / props.warpSize;
  *out = std::to_string(result.activeBlocksPerMultiprocessor) + " " +
         std::to_string(result.activeBlocksPerMultiprocessor * warps_per_block) + " " +
         std::to_string(max_warps) + " " + limiters(result.limitingFactors);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--archs") == 0) {
    for (const ArchLimits& a : kArchs) std::printf("%d%d %s\n", a.major, a.minor, a.part);
    return 0;
  }
  if (argc != 1) {
    std::fprintf(stderr, "usage: %s < queries   (or --archs); see the file comment\n", argv[0]);
    return 2;
  }
  std::string line;
  int lineno = 0;
  while (std::getline(std::cin, line)) {
    ++lineno;
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string out;
    if (!answer(line, &out)) {
      std::fprintf(stderr, "line %d: expected <cc> <regs> <static smem> <dynamic smem> <threads>\n",
                   lineno);
      return 2;
    }
    std::printf("%s\n", out.c_str());
  }
  return 0;
}
