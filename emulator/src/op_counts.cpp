// Operation counters (op_counts in mvit_emu/emu.h): every executed kernel, library call, copy and
// fill, counted from inside the operation's body so that capture counts nothing and each graph
// replay counts again.
//
// One mutex guards two small maps. An operation costs one lock and one map lookup (well under a
// microsecond), against tens of microseconds for the cheapest emulated kernel, so no per-thread
// sharding is needed. Kernels are keyed by address and named only when the counts are read:
// symbol_name() reads the ELF symbol table on a cache miss, which must not happen per launch.
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "mvit_emu/device_ops.h"
#include "mvit_emu/emu.h"
#include "symbols.h"

namespace mvit {
namespace emu {

namespace {

struct NamedCount {
  OpKind kind;
  uint64_t count;
};

struct Counters {
  std::mutex mutex;
  std::map<const void*, uint64_t> kernels;      // kernel address -> executions
  std::map<const char*, NamedCount> named_ops;  // API name (static storage) -> kind, executions
};

// Never destroyed: a stream worker may still execute (and count) while statics are torn down.
Counters& counters() {
  static Counters* c = new Counters;
  return *c;
}

}  // namespace

void count_kernel(const void* kernel) {
  Counters& s = counters();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.kernels[kernel];
}

void count_op(OpKind kind, const char* name) {
  Counters& s = counters();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.named_ops.try_emplace(name, NamedCount{kind, 0}).first;
  ++it->second.count;
}

uint64_t OpCounts::total() const {
  return kernel_launches + cublas_calls + cudnn_calls + memcpys + memsets;
}

OpCounts op_counts() {
  OpCounts c;
  Counters& s = counters();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (const auto& k : s.kernels) c.kernel_launches += k.second;
  for (const auto& op : s.named_ops) {
    switch (op.second.kind) {
      case OpKind::kKernel:
        c.kernel_launches += op.second.count;
        break;
      case OpKind::kCublas:
        c.cublas_calls += op.second.count;
        break;
      case OpKind::kCudnn:
        c.cudnn_calls += op.second.count;
        break;
      case OpKind::kMemcpy:
        c.memcpys += op.second.count;
        break;
      case OpKind::kMemset:
        c.memsets += op.second.count;
        break;
    }
  }
  return c;
}

void reset_op_counts() {
  Counters& s = counters();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.kernels.clear();
  s.named_ops.clear();
}

std::vector<std::pair<std::string, uint64_t>> op_counts_by_name() {
  std::vector<std::pair<const void*, uint64_t>> kernels;
  std::map<std::string, uint64_t> by_name;
  {
    Counters& s = counters();
    std::lock_guard<std::mutex> lock(s.mutex);
    kernels.assign(s.kernels.begin(), s.kernels.end());
    for (const auto& op : s.named_ops) by_name[op.first] += op.second.count;
  }
  // Named outside the lock: a first lookup reads the executable's symbol table.
  for (const auto& k : kernels) by_name[symbol_name(k.first)] += k.second;
  return {by_name.begin(), by_name.end()};
}

}  // namespace emu
}  // namespace mvit
