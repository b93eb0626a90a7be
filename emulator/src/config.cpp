#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "mvit_emu/emu.h"

namespace mvit {
namespace emu {

// Note [poison]
// Fresh device memory (cudaMalloc) and shared memory (every block) are filled with a poison, so a
// read of memory nobody wrote shows in the results (compute-sanitizer's initcheck reports such
// reads on a GPU). 0xFF bytes are NaN in fp32, fp16, bf16 and fp64, and NaN spreads through
// arithmetic; but fmaxf, fminf and comparisons drop it, so a clamp or a max over unwritten memory
// gives plausible numbers (fmaxf(NaN, 0) = 0). The second poison is finite and large, of both
// signs, in every format a kernel may read it as: the 8-byte pattern
//   bytes FF 7B FF FB  FF FB FF 7B   (little-endian)
// is, as fp32, -1.3e36 then +1.3e36 (words 0xFBFF7BFF, 0x7BFFFBFF); as fp16, +65504, -65504,
// -65504, +65504 (the largest finite half); as bf16, +-1.3e36; as fp64, +1.2e289; as int32,
// -67 million and +2 billion (an index read from it is far out of bounds). A max over it is huge,
// a min hugely negative, a clamp hits both ends, a sum overflows or dominates. CI runs the second
// thread order (reverse) with it (cmake/MvitTesting.cmake), so such a read changes the result in
// at least one of the two runs.

namespace {

constexpr uint64_t kFinitePoison = 0x7BFFFBFFFBFF7BFFull;

[[noreturn]] void bad_env(const char* name, const char* value, const char* expected) {
  std::fprintf(stderr, "mvit emulator: environment variable %s=\"%s\" is invalid; expected %s\n",
               name, value, expected);
  std::exit(2);
}

Config from_environment() {
  Config c;
  if (const char* v = std::getenv("MVIT_EMU_THREAD_ORDER")) {
    if (std::strcmp(v, "forward") == 0)
      c.order = ThreadOrder::kForward;
    else if (std::strcmp(v, "reverse") == 0)
      c.order = ThreadOrder::kReverse;
    else if (std::strcmp(v, "random") == 0)
      c.order = ThreadOrder::kRandom;
    else
      bad_env("MVIT_EMU_THREAD_ORDER", v, "forward, reverse or random");
  }
  if (const char* v = std::getenv("MVIT_EMU_SEED")) c.seed = std::strtoull(v, nullptr, 10);
  c.workers = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* v = std::getenv("MVIT_EMU_WORKERS")) {
    c.workers = std::atoi(v);
    if (c.workers < 1 || c.workers > 1024) bad_env("MVIT_EMU_WORKERS", v, "1..1024");
  }
  if (c.workers < 1) c.workers = 1;
  if (const char* v = std::getenv("MVIT_EMU_CC")) {
    if (std::sscanf(v, "%d.%d", &c.cc_major, &c.cc_minor) != 2 || c.cc_major < 7 ||
        c.cc_major > 12 || c.cc_minor < 0 || c.cc_minor > 9) {
      bad_env("MVIT_EMU_CC", v, "a compute capability such as 7.5, 8.0, 8.6, 8.9 or 9.0");
    }
  }
  if (const char* v = std::getenv("MVIT_EMU_POISON")) {
    if (std::strcmp(v, "nan") == 0)
      c.poison = Poison::kNan;
    else if (std::strcmp(v, "finite") == 0)
      c.poison = Poison::kFinite;
    else
      bad_env("MVIT_EMU_POISON", v, "nan or finite");
  }
  c.stack_kb = default_stack_kb();
  if (const char* v = std::getenv("MVIT_EMU_STACK_KB")) {
    char* end = nullptr;
    const unsigned long long kb = std::strtoull(v, &end, 10);
    if (end == v || *end != '\0' || kb < 16 || kb > 64 * 1024) {
      bad_env("MVIT_EMU_STACK_KB", v, "KiB in 16..65536");
    }
    c.stack_kb = static_cast<size_t>(kb);
  }
  if (const char* v = std::getenv("MVIT_EMU_STREAM_DELAY_US")) {
    c.stream_delay_us = std::atoi(v);
    if (c.stream_delay_us < 0) bad_env("MVIT_EMU_STREAM_DELAY_US", v, "microseconds >= 0");
  }
  return c;
}

std::mutex g_mutex;
// Read without the mutex where every block or shared-memory refill would otherwise take it.
std::atomic<int> g_poison{-1};

Config& state() {
  static Config c = [] {
    Config e = from_environment();
    g_poison.store(static_cast<int>(e.poison));
    return e;
  }();
  return c;
}

Poison current_poison() {
  const int p = g_poison.load(std::memory_order_relaxed);
  if (p >= 0) return static_cast<Poison>(p);
  return config().poison;
}

}  // namespace

const char* to_string(ThreadOrder order) {
  switch (order) {
    case ThreadOrder::kForward:
      return "forward";
    case ThreadOrder::kReverse:
      return "reverse";
    case ThreadOrder::kRandom:
      return "random";
  }
  return "?";
}

const char* to_string(Poison poison) {
  return poison == Poison::kNan ? "nan" : "finite";
}

size_t default_stack_kb() {
#if defined(MVIT_EMU_SANITIZE) || defined(__SANITIZE_ADDRESS__)
  return 768;
#else
  return 576;
#endif
}

Config config() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return state();
}

void set_thread_order(ThreadOrder order, uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_mutex);
  state().order = order;
  state().seed = seed;
}

void set_compute_capability(int major, int minor) {
  std::lock_guard<std::mutex> lock(g_mutex);
  state().cc_major = major;
  state().cc_minor = minor;
}

void set_stream_delay_us(int microseconds) {
  std::lock_guard<std::mutex> lock(g_mutex);
  state().stream_delay_us = microseconds;
}

void set_poison(Poison poison) {
  std::lock_guard<std::mutex> lock(g_mutex);
  state().poison = poison;
  g_poison.store(static_cast<int>(poison));
}

void set_stack_kb(size_t kib) {
  std::lock_guard<std::mutex> lock(g_mutex);
  state().stack_kb = kib;
}

void fill_poison(void* p, size_t bytes) {
  if (current_poison() == Poison::kNan) {
    std::memset(p, 0xFF, bytes);
    return;
  }
  unsigned char* out = static_cast<unsigned char*>(p);
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) std::memcpy(out + i, &kFinitePoison, 8);
  std::memcpy(out + i, &kFinitePoison, bytes - i);
}

ScopedPoison::ScopedPoison(Poison poison) : saved_(config().poison) {
  set_poison(poison);
}

ScopedPoison::~ScopedPoison() {
  set_poison(saved_);
}

ScopedThreadOrder::ScopedThreadOrder(ThreadOrder order, uint64_t seed) : saved_(config()) {
  set_thread_order(order, seed);
}

ScopedThreadOrder::~ScopedThreadOrder() {
  set_thread_order(saved_.order, saved_.seed);
}

}  // namespace emu
}  // namespace mvit
