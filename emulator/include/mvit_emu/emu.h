// The emulator's own controls: what a test or a tool may set beyond the CUDA API.
// Host-only C++; available in the emulated build only (MVIT_EMULATED is defined there).
//
// Environment variables read once at start-up (each also has a setter below):
//   MVIT_EMU_THREAD_ORDER  forward | reverse | random   order in which a block's threads run, and
//                          in which a launch's blocks are dispatched (Note [block order] in
//                          worker_pool.cpp)
//   MVIT_EMU_SEED          seed of the random order (default 1)
//   MVIT_EMU_POISON        nan | finite: what fresh device and shared memory is filled with
//                          (Note [poison] in config.cpp; default nan)
//   MVIT_EMU_STACK_KB      each emulated thread's stack, in KiB (default 576; 768 under
//                          sanitizers); an overflow is reported, naming kernel, block and thread
//   MVIT_EMU_WORKERS       OS threads executing blocks (default: all cores)
//   MVIT_EMU_CC            compute capability the emulated device reports, "9.0" by default
//   MVIT_EMU_STREAM_DELAY_US  each stream waits this long before every operation (default 0);
//                          makes a missing synchronization visible deterministically
//
// Operation counters (op_counts below): every kernel, cuBLAS GEMM, cudnnConvolutionForward, copy
// and fill is counted when it EXECUTES on its stream, process-wide. An operation captured into a
// graph counts nothing at capture and once each time the graph is launched; one that never runs
// (rejected at the call, a zero-size copy, a GEMM with m, n or batchCount of 0, or anything queued
// after a device fault) counts nothing. This is how "kernel launches + library calls per forward"
// is measured on a real forward pass.
#pragma once

#include <driver_types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mvit {
namespace emu {

enum class ThreadOrder { kForward, kReverse, kRandom };
enum class Poison { kNan, kFinite };

const char* to_string(ThreadOrder order);
const char* to_string(Poison poison);

struct Config {
  ThreadOrder order = ThreadOrder::kForward;
  uint64_t seed = 1;
  int workers = 0;  // resolved to >= 1 at start-up
  int cc_major = 9;
  int cc_minor = 0;
  int stream_delay_us = 0;
  Poison poison = Poison::kNan;
  size_t stack_kb = 0;  // resolved at start-up (default_stack_kb())
};

// The default stack of an emulated thread: a GPU's 512 KiB local-memory limit per thread plus
// room for the emulator's own frames (more under sanitizers, whose reports and redzones need it).
size_t default_stack_kb();

Config config();
void set_thread_order(ThreadOrder order, uint64_t seed = 1);
void set_compute_capability(int major, int minor);
void set_stream_delay_us(int microseconds);
void set_poison(Poison poison);
// Applies to the blocks a worker starts afterwards (its fibers are remade at the new size).
void set_stack_kb(size_t kib);

// Fills `bytes` at `p` with the current poison: 0xFF bytes (NaN in every float format) or the
// large-finite pattern of Note [poison] (config.cpp).
void fill_poison(void* p, size_t bytes);

// The emulator's description of the error `status` most recently reported by the runtime (the
// kernel, block, thread and source line of a fault; the violated limit of a bad launch), or "" if
// it has none for that status.
std::string error_detail(cudaError_t status);

// Operations executed since start-up or the last reset_op_counts(), by kind.
struct OpCounts {
  uint64_t kernel_launches = 0;       // kernels executed (a graph replay counts each kernel node)
  uint64_t cublas_calls = 0;          // cuBLAS calls that do device work (GEMMs), executed
  uint64_t cudnn_calls = 0;           // cudnnConvolutionForward calls, executed
  uint64_t memcpys = 0, memsets = 0;  // async/sync copies and fills, executed
  uint64_t total() const;             // all of them
};

// Process-wide and thread-safe. To count one forward pass: synchronize, reset, run it,
// synchronize, read (an operation still queued when you read has not executed yet).
OpCounts op_counts();
void reset_op_counts();
// The same operations per name, sorted by name: a kernel by its demangled symbol as the
// emulator's messages name it ("mvit::demo::transpose_tiled_kernel(mvit::demo::TransposeParams)";
// "kernel at 0x..." where no symbol is found), a library call by its function ("cublasGemmEx",
// "cublasGemmStridedBatchedEx", "cublasSgemm", "cublasSgemmStridedBatched",
// "cudnnConvolutionForward"), copies as "cudaMemcpy" (cudaMemcpy and cudaMemcpyAsync) or
// "cudaMemcpy2D", fills as "cudaMemset" or "cudaMemset2D" (each with its Async form). Kernels of
// different addresses with one name are summed.
std::vector<std::pair<std::string, uint64_t>> op_counts_by_name();

// RAII: sets the thread order for a scope and restores the previous one.
class ScopedThreadOrder {
 public:
  explicit ScopedThreadOrder(ThreadOrder order, uint64_t seed = 1);
  ~ScopedThreadOrder();
  ScopedThreadOrder(const ScopedThreadOrder&) = delete;
  ScopedThreadOrder& operator=(const ScopedThreadOrder&) = delete;

 private:
  Config saved_;
};

// RAII: sets the poison for a scope and restores the previous one.
class ScopedPoison {
 public:
  explicit ScopedPoison(Poison poison);
  ~ScopedPoison();
  ScopedPoison(const ScopedPoison&) = delete;
  ScopedPoison& operator=(const ScopedPoison&) = delete;

 private:
  Poison saved_;
};

}  // namespace emu
}  // namespace mvit
