// Issue 12: CUDA C++ that nvcc accepts and the emulated build must accept too, with the same
// meaning: atomicInc / atomicDec and their wrap-around, atomicAdd on __nv_bfloat162, __trap()
// (a launch failure naming kernel, block, thread and line), cudaMemcpy2D / cudaMemset2D with the
// plain copies' checks per row, and the runtime calls that take a kernel (the occupancy ones on
// the emulated device's limits).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/emulator/compat_kernels.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

using namespace compat;

unsigned one_inc_dec(bool inc, unsigned start, unsigned val, unsigned* old) {
  DeviceBuffer<unsigned> p(std::vector<unsigned>{start}), olds(1);
  inc_dec(inc, p.get(), val, olds.get(), 1, 1);
  *old = olds.download()[0];
  return p.download()[0];
}

// ---- atomicInc / atomicDec ----------------------------------------------------------------------

TEST(Compat, AtomicIncWrapsAsCudaDefinesIt) {
  struct Case {
    unsigned start, val, stored;
  };
  // atomicInc stores (old >= val) ? 0 : old + 1.
  for (const Case c :
       {Case{0, 10, 1}, Case{9, 10, 10}, Case{10, 10, 0}, Case{15, 10, 0}, Case{5, 0, 0},
        Case{0xfffffffeu, 0xffffffffu, 0xffffffffu}, Case{0xffffffffu, 0xffffffffu, 0}}) {
    unsigned old = 0;
    EXPECT_EQ(one_inc_dec(true, c.start, c.val, &old), c.stored) << c.start << " " << c.val;
    EXPECT_EQ(old, c.start);
  }
}

TEST(Compat, AtomicDecWrapsAsCudaDefinesIt) {
  struct Case {
    unsigned start, val, stored;
  };
  // atomicDec stores (old == 0 || old > val) ? val : old - 1.
  for (const Case c : {Case{0, 10, 10}, Case{5, 10, 4}, Case{10, 10, 9}, Case{15, 10, 10},
                       Case{1, 0, 0}, Case{0, 0, 0}, Case{1, 1, 0}}) {
    unsigned old = 0;
    EXPECT_EQ(one_inc_dec(false, c.start, c.val, &old), c.stored) << c.start << " " << c.val;
    EXPECT_EQ(old, c.start);
  }
}

TEST(Compat, ConcurrentAtomicIncDecAreAtomic) {
  const int blocks = 8, threads = 128, n = blocks * threads;
  for (bool inc : {true, false}) {
    DeviceBuffer<unsigned> p(std::vector<unsigned>{0}), olds(n);
    inc_dec(inc, p.get(), 9, olds.get(), blocks, threads);  // a counter modulo 10
    EXPECT_EQ(p.download()[0], inc ? n % 10u : (10u - n % 10u) % 10u);
    std::vector<int> seen(10, 0);
    for (unsigned o : olds.download()) {
      ASSERT_LT(o, 10u);
      ++seen[o];
    }
    // Every value the counter passed through was returned exactly once per pass.
    for (int v = 0; v < 10; ++v) {
      const int passes = inc ? n / 10 + (v < n % 10) : n / 10 + ((10 - v) % 10 < n % 10);
      EXPECT_EQ(seen[v], passes) << (inc ? "atomicInc " : "atomicDec ") << v;
    }
  }
}

// ---- atomicAdd on __nv_bfloat162 ---------------------------------------------------------------

float bf16_to_float(uint32_t bits16) {
  const uint32_t b = bits16 << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

TEST(Compat, AtomicAddOnBfloat162AddsEachHalf) {
  DeviceBuffer<uint32_t> p(std::vector<uint32_t>{0});
  bf162_add(p.get(), 8, 32);  // 256 adds of (1, 0.5): every partial sum is exact in bfloat16
  const uint32_t got = p.download()[0];
  EXPECT_EQ(bf16_to_float(got & 0xffffu), 256.0f);
  EXPECT_EQ(bf16_to_float(got >> 16), 128.0f);
}

// ---- __trap -------------------------------------------------------------------------------------

using CompatFaultTest = DeviceFaultTest;

TEST_F(CompatFaultTest, TrapAbortsTheLaunchNamingKernelBlockThreadAndLine) {
  int* out = nullptr;  // not a DeviceBuffer: cudaDeviceReset below frees it
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&out), 64 * sizeof(int)), cudaSuccess);
  const std::string text = fault_text([&] { trap(out); });
  EXPECT_TRUE(contains(text, "cudaErrorLaunchFailure")) << text;
  EXPECT_TRUE(contains(text, "__trap()")) << text;
  EXPECT_TRUE(contains(text, "trap_kernel")) << text;
  EXPECT_TRUE(contains(text, "block (1,0,0)")) << text;
  EXPECT_TRUE(contains(text, "thread (5,0,0)")) << text;
  EXPECT_TRUE(contains(text, "compat_kernels.cu:" + std::to_string(kTrapLine))) << text;
  // Sticky, as on a GPU: every call fails until cudaDeviceReset.
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  void* q = nullptr;
  EXPECT_EQ(cudaMalloc(&q, 16), cudaErrorLaunchFailure);
  ASSERT_EQ(cudaDeviceReset(), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

// ---- cudaMemcpy2D / cudaMemset2D ---------------------------------------------------------------

TEST(Compat, Memcpy2DCopiesRowsAndLeavesThePitchGapAlone) {
  const size_t width = 16, height = 4, dpitch = 64;
  std::vector<unsigned char> host(width * height);
  for (size_t i = 0; i < host.size(); ++i) host[i] = static_cast<unsigned char>(i + 1);
  DeviceBuffer<unsigned char> d(dpitch * height);
  ASSERT_EQ(cudaMemset(d.get(), 0xAB, dpitch * height), cudaSuccess);
  ASSERT_EQ(
      cudaMemcpy2D(d.get(), dpitch, host.data(), width, width, height, cudaMemcpyHostToDevice),
      cudaSuccess);
  const std::vector<unsigned char> got = d.download();
  for (size_t r = 0; r < height; ++r) {
    for (size_t c = 0; c < dpitch; ++c) {
      EXPECT_EQ(got[r * dpitch + c], c < width ? host[r * width + c] : 0xAB) << r << "," << c;
    }
  }
  // Back to the host with another pitch, asynchronously on a stream.
  std::vector<unsigned char> back(32 * height, 0);
  cudaStream_t s = nullptr;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  ASSERT_EQ(
      cudaMemcpy2DAsync(back.data(), 32, d.get(), dpitch, width, height, cudaMemcpyDeviceToHost, s),
      cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(s), cudaSuccess);
  for (size_t r = 0; r < height; ++r) {
    for (size_t c = 0; c < 32; ++c) {
      EXPECT_EQ(back[r * 32 + c], c < width ? host[r * width + c] : 0) << r << "," << c;
    }
  }
  EXPECT_EQ(cudaMemcpy2D(d.get(), dpitch, host.data(), width, width, 0, cudaMemcpyHostToDevice),
            cudaSuccess)
      << "an empty copy";
}

TEST(Compat, Memcpy2DChecksPitchKindAndEveryRow) {
  const size_t width = 16, height = 4, pitch = 64;
  std::vector<unsigned char> host(pitch * height);
  // The last row ends at its width: rows of width 17 run past the allocation in the last row.
  DeviceBuffer<unsigned char> d(pitch * (height - 1) + width);
  EXPECT_EQ(cudaMemcpy2D(d.get(), pitch, host.data(), pitch, width, height, cudaMemcpyHostToDevice),
            cudaSuccess);
  EXPECT_EQ(
      cudaMemcpy2D(d.get(), pitch, host.data(), pitch, width + 1, height, cudaMemcpyHostToDevice),
      cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(
      cudaMemcpy2D(d.get(), pitch, host.data(), pitch, width, height + 1, cudaMemcpyHostToDevice),
      cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy2D(d.get(), 8, host.data(), pitch, width, 1, cudaMemcpyHostToDevice),
            cudaErrorInvalidPitchValue)
      << "dpitch < width";
  EXPECT_EQ(cudaMemcpy2D(d.get(), pitch, host.data(), 8, width, 1, cudaMemcpyHostToDevice),
            cudaErrorInvalidPitchValue)
      << "spitch < width";
  EXPECT_EQ(
      cudaMemcpy2DAsync(d.get(), 8, host.data(), pitch, width, 1, cudaMemcpyHostToDevice, nullptr),
      cudaErrorInvalidPitchValue);
  EXPECT_EQ(cudaMemcpy2D(host.data(), pitch, d.get(), pitch, width, 2, cudaMemcpyHostToDevice),
            cudaErrorInvalidValue)
      << "the kind says the device pointer is host memory";
  EXPECT_EQ(
      cudaMemcpy2D(d.get(), pitch, host.data(), pitch, width, 2, static_cast<cudaMemcpyKind>(7)),
      cudaErrorInvalidMemcpyDirection);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidMemcpyDirection);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "argument errors are not sticky";
}

TEST(Compat, Memset2DFillsEachRowsWidthAndChecksRows) {
  const size_t width = 10, height = 3, pitch = 32;
  DeviceBuffer<unsigned char> d(pitch * height);
  ASSERT_EQ(cudaMemset(d.get(), 0, pitch * height), cudaSuccess);
  ASSERT_EQ(cudaMemset2D(d.get(), pitch, 0x5A, width, height), cudaSuccess);
  const std::vector<unsigned char> got = d.download();
  for (size_t r = 0; r < height; ++r) {
    for (size_t c = 0; c < pitch; ++c) {
      EXPECT_EQ(got[r * pitch + c], c < width ? 0x5A : 0) << r << "," << c;
    }
  }
  ASSERT_EQ(cudaMemset2DAsync(d.get() + 1, pitch, 0x11, width, height, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(d.download()[pitch + 1], 0x11);
  EXPECT_EQ(cudaMemset2D(d.get(), 4, 0, width, height), cudaErrorInvalidValue) << "pitch < width";
  EXPECT_EQ(cudaMemset2D(d.get(), pitch, 0, width, height + 1), cudaErrorInvalidValue)
      << "the fourth row is outside the allocation";
  std::vector<unsigned char> host(pitch * height);
  EXPECT_EQ(cudaMemset2D(host.data(), pitch, 0, width, height), cudaErrorInvalidValue)
      << "host memory";
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
}

// ---- min / max with mixed signedness
// -------------------------------------------------------------

TEST(Compat, MixedSignednessMinMaxConvertAsCudaDoes) {
  DeviceBuffer<uint64_t> out(6);
  mixed_min_max(-1, out.get());
  const std::vector<uint64_t> got = out.download();
  EXPECT_EQ(got[0], 1u) << "min(-1, 1u): -1 becomes 0xffffffff";
  EXPECT_EQ(got[1], 0xffffffffu);
  EXPECT_EQ(got[2], 1u);
  EXPECT_EQ(got[3], ~uint64_t{0});
  EXPECT_EQ(got[4], 1u);
  EXPECT_EQ(got[5], 2u) << "max(float, double) is a double";
}

// ---- __forceinline__ through pointers and references ----------------------------------------

TEST(Compat, ForceinlineFunctionsPassToGenericCode) {
  const std::vector<float> v = {1.0f, 4.0f, -2.0f, 0.5f};
  DeviceBuffer<float> in(v), out(3);
  forceinline_folds(in.get(), 4, out.get());
  const std::vector<float> got = out.download();
  EXPECT_EQ(got[0], 3.5f);
  EXPECT_EQ(got[1], 3.5f);
  EXPECT_EQ(got[2], 4.0f);
}

// ---- the runtime calls that take a kernel -------------------------------------------------------

TEST(Compat, FuncSetAndGetAttributesTakeTheKernel) {
  cudaFuncAttributes a;
  ASSERT_EQ(func_get_attributes(Kernel::kPlain, &a), cudaSuccess);
  EXPECT_EQ(a.maxThreadsPerBlock, 1024);
  EXPECT_EQ(a.maxDynamicSharedSizeBytes, 48 * 1024);
  EXPECT_EQ(a.numRegs, 0) << "registers are unknown on the CPU";
  ASSERT_EQ(func_get_attributes(Kernel::kBounded, &a), cudaSuccess);
  EXPECT_EQ(a.maxThreadsPerBlock, 256) << "MVIT_LAUNCH_BOUNDS(256)";

  ASSERT_EQ(func_set_max_dynamic_smem(Kernel::kPlain, 64 * 1024), cudaSuccess);
  ASSERT_EQ(func_get_attributes(Kernel::kPlain, &a), cudaSuccess);
  EXPECT_EQ(a.maxDynamicSharedSizeBytes, 64 * 1024);
  EXPECT_EQ(func_set_max_dynamic_smem(Kernel::kPlain, 1 << 30), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  ASSERT_EQ(func_set_max_dynamic_smem(Kernel::kPlain, 48 * 1024), cudaSuccess);
}

TEST(Compat, OccupancyUsesTheEmulatedDevicesLimits) {
  cudaDeviceProp prop;
  ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
  ASSERT_EQ(prop.maxThreadsPerMultiProcessor, 2048);
  ASSERT_EQ(prop.maxBlocksPerMultiProcessor, 32);
  struct Case {
    int block;
    size_t smem;
    int blocks;
  };
  const int per_smem_block = static_cast<int>(prop.sharedMemPerMultiprocessor / (48 * 1024 + 1024));
  for (const Case c :
       {Case{256, 0, 8}, Case{1024, 0, 2}, Case{32, 0, 32}, Case{33, 0, 32}, Case{96, 0, 21},
        Case{1025, 0, 0}, Case{128, 48 * 1024, per_smem_block}, Case{128, 48 * 1024 + 1, 0}}) {
    int n = -1;
    ASSERT_EQ(max_active_blocks(Kernel::kPlain, &n, c.block, c.smem), cudaSuccess);
    EXPECT_EQ(n, c.blocks) << "block " << c.block << ", " << c.smem << " bytes";
  }
  int n = -1;
  ASSERT_EQ(max_active_blocks(Kernel::kBounded, &n, 512, 0), cudaSuccess);
  EXPECT_EQ(n, 0) << "over the kernel's MVIT_LAUNCH_BOUNDS(256)";
  EXPECT_EQ(max_active_blocks(Kernel::kPlain, &n, 0, 0), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);

  int min_grid = 0, block = 0;
  ASSERT_EQ(max_potential_block_size(Kernel::kPlain, &min_grid, &block, 0, 0), cudaSuccess);
  EXPECT_EQ(block, 1024);
  EXPECT_EQ(min_grid, 2 * prop.multiProcessorCount);
  ASSERT_EQ(max_potential_block_size(Kernel::kBounded, &min_grid, &block, 0, 0), cudaSuccess);
  EXPECT_EQ(block, 256);
  EXPECT_EQ(min_grid, 8 * prop.multiProcessorCount);
  // Limit 100: 100 threads (4 warps) fit 16 blocks = 1600 threads, 96 fit 21 = 2016, 64 fill the
  // SM with 32 blocks.
  ASSERT_EQ(max_potential_block_size(Kernel::kPlain, &min_grid, &block, 0, 100), cudaSuccess);
  EXPECT_EQ(block, 64);
  EXPECT_EQ(min_grid, 32 * prop.multiProcessorCount);
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
