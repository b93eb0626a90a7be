// Warp collectives (__syncwarp, shuffles, votes, match, reduce, and the WMMA gather): each lane
// arrives with its mask and operation, checked against the lanes already waiting; the last lane of
// the mask to arrive computes the results of the mask's lanes and makes the others ready (Note
// [strict scheduling] in block_scheduler.cpp).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "block_run.h"
#include "kernels/common/check.h"

namespace mvit {
namespace emu {

using detail::format;
using namespace sched;

namespace {

bool is_reduce(WarpOp op) {
  return op == WarpOp::kReduceAdd || op == WarpOp::kReduceMin || op == WarpOp::kReduceMax ||
         op == WarpOp::kReduceAnd || op == WarpOp::kReduceOr || op == WarpOp::kReduceXor;
}

// The reduction of the 32-bit values of the lanes in `mask` (is_signed: min and max of int).
uint64_t reduce(WarpOp op, unsigned mask, const uint64_t* values, bool is_signed) {
  uint32_t acc = 0;
  bool first = true;
  for (unsigned l = 0; l < 32; ++l) {
    if (!((mask >> l) & 1u)) continue;
    const uint32_t v = static_cast<uint32_t>(values[l]);
    if (first) {
      acc = v;
      first = false;
      continue;
    }
    switch (op) {
      case WarpOp::kReduceAdd:
        acc += v;  // wraps modulo 2^32, as the hardware's adder does for int and unsigned alike
        break;
      case WarpOp::kReduceMin:
        acc = is_signed ? (static_cast<int32_t>(v) < static_cast<int32_t>(acc) ? v : acc)
                        : (v < acc ? v : acc);
        break;
      case WarpOp::kReduceMax:
        acc = is_signed ? (static_cast<int32_t>(v) > static_cast<int32_t>(acc) ? v : acc)
                        : (v > acc ? v : acc);
        break;
      case WarpOp::kReduceAnd:
        acc &= v;
        break;
      case WarpOp::kReduceOr:
        acc |= v;
        break;
      default:
        acc ^= v;
        break;
    }
  }
  return acc;
}

bool is_shuffle(WarpOp op) {
  return op == WarpOp::kShfl || op == WarpOp::kShflUp || op == WarpOp::kShflDown ||
         op == WarpOp::kShflXor;
}

// The lane whose value `lane` receives, per the CUDA Programming Guide's shuffle definitions.
unsigned source_lane(WarpOp op, int param, int width, unsigned lane) {
  const unsigned w = static_cast<unsigned>(width);
  const unsigned p = static_cast<unsigned>(param);
  const unsigned segment = lane & ~(w - 1);
  switch (op) {
    case WarpOp::kShfl:
      return segment + (p & (w - 1));
    case WarpOp::kShflUp:
      return (lane - segment) >= p ? lane - p : lane;
    case WarpOp::kShflDown:
      return (lane - segment) + p < w ? lane + p : lane;
    case WarpOp::kShflXor: {
      const unsigned src = lane ^ p;
      return src >= segment + w || src >= 32 ? lane : src;  // later segments: own value
    }
    default:
      return lane;
  }
}

// Only the lanes of the mask: a lane outside it may be ready with the unread result of its own
// collective, completed just before this one.
void set_results(uint64_t* results, unsigned mask, uint64_t r) {
  for (unsigned l = 0; l < 32; ++l) {
    if ((mask >> l) & 1u) results[l] = r;
  }
}

// __match_*_sync and __reduce_*_sync: one instruction per value type on a GPU (match.b32/.b64,
// redux.s32/.u32), so lanes passing different types are at different collectives.
void complete_match_or_reduce(BlockRun& b, unsigned base, const WarpGroup& g) {
  const uint64_t* values = &b.values[base];
  uint64_t* results = &b.results[base];
  const unsigned first = static_cast<unsigned>(__builtin_ctz(g.mask));
  for (unsigned l = first + 1; l < 32; ++l) {
    if (((g.mask >> l) & 1u) && b.params[base + l] != b.params[base + first]) {
      const Slot& t = b.slots[base + l];
      fail(
          format("Divergent thread(s) in warp: lanes %u and %u call %s (mask 0x%08x) with "
                 "values of different types at %s and %s",
                 first, l, to_string(g.op), g.mask,
                 site(b.slots[base + first].file, b.slots[base + first].line).c_str(),
                 site(t.file, t.line).c_str()));
    }
  }
  if (is_reduce(g.op)) {
    set_results(results, g.mask, reduce(g.op, g.mask, values, b.params[base + first] != 0));
    return;
  }
  bool all_equal = true;
  for (unsigned l = 0; l < 32; ++l) {
    if (!((g.mask >> l) & 1u)) continue;
    unsigned same = 0;
    for (unsigned k = 0; k < 32; ++k) {
      if (((g.mask >> k) & 1u) && values[k] == values[l]) same |= 1u << k;
    }
    results[l] = same;
    all_equal = all_equal && same == g.mask;
  }
  if (g.op == WarpOp::kMatchAll) set_results(results, g.mask, all_equal ? g.mask : 0);
}

// The last lane of `g` has arrived: compute every lane's result and release the waiting ones.
void complete_group(BlockRun& b, unsigned warp, const WarpGroup& g, int width) {
  const unsigned base = warp * 32;
  const uint64_t* values = &b.values[base];
  uint64_t* results = &b.results[base];
  if (g.op == WarpOp::kBallot || g.op == WarpOp::kAny || g.op == WarpOp::kAll) {
    uint64_t vote = 0;
    for (unsigned l = 0; l < 32; ++l) {
      if ((g.mask >> l) & 1u) vote |= (values[l] != 0 ? 1ull : 0ull) << l;
    }
    const uint64_t r = g.op == WarpOp::kBallot ? vote
                       : g.op == WarpOp::kAny  ? uint64_t{vote != 0}
                                               : uint64_t{vote == g.mask};
    set_results(results, g.mask, r);
  } else if (g.op == WarpOp::kMatchAny || g.op == WarpOp::kMatchAll || is_reduce(g.op)) {
    complete_match_or_reduce(b, base, g);
  } else if (g.op == WarpOp::kGather) {
    // Only WMMA gathers, always with the full mask, so one row per warp serves all 32 lanes: the
    // warp's next gather completes only once every lane has arrived at it, that is after each has
    // resumed from this one and read the row (gathered_values). A row per lane cost 17% of a
    // WMMA GEMM's instructions (callgrind, emu-bench --work-only --filter=WMMA).
    if (g.mask != 0xffffffffu) {
      fail(
          format("internal: a gather with the partial mask 0x%08x (only full-warp WMMA gathers "
                 "are supported)",
                 g.mask));
    }
    if (b.gathered.size() < static_cast<size_t>(base) + 32) b.gathered.resize(base + 32);
    std::copy(values, values + 32, &b.gathered[base]);
  } else if (g.op != WarpOp::kSyncwarp) {
    for (unsigned l = 0; l < 32; ++l) {
      if (!((g.mask >> l) & 1u)) continue;
      const unsigned src = source_lane(g.op, b.params[base + l], width, l);
      if (!((g.mask >> src) & 1u)) {
        const Slot& t = b.slots[base + l];
        fail(
            format("%s: lane %u reads lane %u, which is not in mask 0x%08x (undefined value "
                   "on a GPU) at %s",
                   to_string(g.op), l, src, g.mask, site(t.file, t.line).c_str()));
      }
      results[l] = values[src];
    }
  }
  for (unsigned l = 0; l < 32; ++l) {
    State& st = b.states[base + l];
    if (((g.mask >> l) & 1u) && st == State::kWarp) st = State::kReady;
  }
}

// Each message ends with the call's source line, like every other report of a misuse (formatted
// only on failure: this runs on every collective).
void validate_collective(const BlockRun& b, const Slot& s, WarpOp op, unsigned mask, int width) {
  const unsigned lane = s.info.lane;
  const unsigned warp = s.info.warp;
  auto at = [&s] { return site(s.file, s.line); };
  if (!((mask >> lane) & 1u)) {
    fail(format("Invalid arguments: %s mask 0x%08x does not name the calling lane %u at %s",
                to_string(op), mask, lane, at().c_str()));
  }
  if (mask & ~b.present[warp]) {
    fail(format(
        "Invalid arguments: %s mask 0x%08x names lanes 0x%08x that do not exist (warp %u "
        "of a %u-thread block has lanes 0x%08x) at %s",
        to_string(op), mask, mask & ~b.present[warp], warp, b.n, b.present[warp], at().c_str()));
  }
  if (mask & b.exited[warp]) {
    fail(format("Invalid arguments: %s mask 0x%08x names exited lanes 0x%08x at %s", to_string(op),
                mask, mask & b.exited[warp], at().c_str()));
  }
  if (is_shuffle(op) && (width < 1 || width > 32 || (width & (width - 1)) != 0)) {
    fail(format("Invalid arguments: %s width %d is not a power of two in [1, 32] at %s",
                to_string(op), width, at().c_str()));
  }
}

}  // namespace

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int param, int width,
                         const char* file, int line) {
  BlockRun& b = *t_run;
  Slot& s = *b.current;
  s.file = file;
  s.line = line;
  validate_collective(b, s, op, mask, width);
  std::vector<WarpGroup>& groups = b.groups[s.info.warp];
  WarpGroup* g = nullptr;
  for (WarpGroup& candidate : groups) {
    if (candidate.mask == mask) {
      g = &candidate;
    } else if (candidate.mask & mask) {
      fail(format(
          "Divergent thread(s) in warp: this lane calls %s with mask 0x%08x at %s while "
          "lanes 0x%08x wait in %s with mask 0x%08x at %s",
          to_string(op), mask, site(file, line).c_str(), candidate.arrived, to_string(candidate.op),
          candidate.mask, site(candidate.file, candidate.line).c_str()));
    }
  }
  if (g == nullptr) {
    groups.push_back(WarpGroup{mask, 0, op, file, line});
    g = &groups.back();
  } else if (g->op != op) {
    fail(
        format("Divergent thread(s) in warp: this lane calls %s at %s while lanes 0x%08x wait in "
               "%s at %s (mask 0x%08x)",
               to_string(op), site(file, line).c_str(), g->arrived, to_string(g->op),
               site(g->file, g->line).c_str(), mask));
  }
  s.op = op;
  s.mask = mask;
  s.width = width;
  b.values[s.info.linear] = value;
  b.params[s.info.linear] = param;
  g->arrived |= 1u << s.info.lane;
  if (g->arrived == mask) {
    const WarpGroup done = *g;
    groups.erase(groups.begin() + (g - groups.data()));
    complete_group(b, s.info.warp, done, width);
    return b.results[s.info.linear];
  }
  b.states[s.info.linear] = State::kWarp;
  wait_in_scheduler(s);
  return b.results[s.info.linear];
}

const uint64_t* gathered_values() {
  BlockRun& b = *t_run;
  return &b.gathered[static_cast<size_t>(b.current->info.linear) / 32 * 32];
}

}  // namespace emu
}  // namespace mvit
