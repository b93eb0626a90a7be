#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "mvit_emu/emu.h"

namespace mvit {
namespace emu {

namespace {

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
  if (const char* v = std::getenv("MVIT_EMU_STREAM_DELAY_US")) {
    c.stream_delay_us = std::atoi(v);
    if (c.stream_delay_us < 0) bad_env("MVIT_EMU_STREAM_DELAY_US", v, "microseconds >= 0");
  }
  return c;
}

std::mutex g_mutex;
Config& state() {
  static Config c = from_environment();
  return c;
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

ScopedThreadOrder::ScopedThreadOrder(ThreadOrder order, uint64_t seed) : saved_(config()) {
  set_thread_order(order, seed);
}

ScopedThreadOrder::~ScopedThreadOrder() {
  set_thread_order(saved_.order, saved_.seed);
}

}  // namespace emu
}  // namespace mvit
