// The checks both attention paths share (kernels/attention_params.h).
#include "kernels/attention_params.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>

#include "kernels/common/check.h"

namespace mvit {
namespace {

using detail::format;

struct Dim {
  int64_t stride;
  int64_t extent;
};

// Checks that the (sequence, head, row, lane) elements of one tensor are distinct addresses: with
// the dims of extent > 1 sorted by stride, each stride is at least the span of the dims below it.
// Returns the problem, empty if none.
std::string strides_problem(const char* name, const AttentionStrides& s, int sequences, int heads,
                            int tokens, int lanes) {
  if (s.seq < 0 || s.head < 0 || s.row < 0) {
    return format("%s_strides must be >= 0, got seq %lld, head %lld, row %lld", name,
                  static_cast<long long>(s.seq), static_cast<long long>(s.head),
                  static_cast<long long>(s.row));
  }
  struct Named {
    const char* field;
    Dim dim;
  };
  Named dims[] = {{"lanes", {1, lanes}},
                  {"row", {s.row, tokens}},
                  {"head", {s.head, heads}},
                  {"seq", {s.seq, sequences}}};
  std::stable_sort(std::begin(dims), std::end(dims),
                   [](const Named& a, const Named& b) { return a.dim.stride < b.dim.stride; });
  int64_t span = 0;  // (elements the dims with smaller strides cover) - 1
  for (const Named& d : dims) {
    if (d.dim.extent <= 1) continue;
    if (d.dim.stride <= span) {
      return format(
          "%s_strides.%s must be >= %lld (the span of the dims with smaller strides) for "
          "distinct elements, got %lld (seq %lld, head %lld, row %lld for %d sequences, %d heads, "
          "%d tokens, %d lanes)",
          name, d.field, static_cast<long long>(span + 1), static_cast<long long>(d.dim.stride),
          static_cast<long long>(s.seq), static_cast<long long>(s.head),
          static_cast<long long>(s.row), sequences, heads, tokens, lanes);
    }
    span += (d.dim.extent - 1) * d.dim.stride;
  }
  return "";
}

// Byte range [first, last] one tensor's addressed elements cover.
struct Range {
  uintptr_t first, last;
};
Range range_of(const void* p, const AttentionStrides& s, const AttentionParams& a, int lanes) {
  const size_t es = dtype_size(a.dtype);
  const int64_t last =
      (a.sequences - 1) * s.seq + (a.heads - 1) * s.head + (a.tokens - 1) * s.row + (lanes - 1);
  const uintptr_t base = reinterpret_cast<uintptr_t>(p);
  return {base, base + static_cast<uintptr_t>(last) * es + es - 1};
}
bool overlaps(Range a, Range b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

std::string attention_params_problem(const AttentionParams& p) {
  if (p.q == nullptr) return "q is null";
  if (p.k == nullptr) return "k is null";
  if (p.v == nullptr) return "v is null";
  if (p.o == nullptr) return "o is null";
  if (p.sequences <= 0 || p.heads <= 0 || p.tokens <= 0 || p.head_dim <= 0) {
    return format("sequences, heads, tokens, head_dim must be > 0, got %d, %d, %d, %d", p.sequences,
                  p.heads, p.tokens, p.head_dim);
  }
  if (p.tokens > kAttentionMaxTokens) {
    return format("tokens must be <= %d, got %d", kAttentionMaxTokens, p.tokens);
  }
  if (p.head_dim_padded != 0 && p.head_dim_padded < p.head_dim) {
    return format("head_dim_padded must be 0 or >= head_dim %d, got %d", p.head_dim,
                  p.head_dim_padded);
  }
  if (p.dtype != DType::kF32 && p.dtype != DType::kF16 && p.dtype != DType::kBF16) {
    return format("dtype %d is not a DType", static_cast<int>(p.dtype));
  }
  if (p.impl != AttentionImpl::kAuto && p.impl != AttentionImpl::kFused &&
      p.impl != AttentionImpl::kCublas) {
    return format("impl %d is not an AttentionImpl (supported: auto, fused, cublas)",
                  static_cast<int>(p.impl));
  }
  if (p.allow_tf32 && p.dtype != DType::kF32) {
    return format("allow_tf32 applies to dtype f32 only, got dtype %s", dtype_name(p.dtype));
  }
  const size_t es = dtype_size(p.dtype);
  const struct {
    const char* name;
    const void* ptr;
  } ptrs[] = {{"q", p.q}, {"k", p.k}, {"v", p.v}, {"o", p.o}};
  for (const auto& t : ptrs) {
    if (reinterpret_cast<uintptr_t>(t.ptr) % es != 0) {
      return format("%s must be aligned to its %zu-byte elements, got address %p", t.name, es,
                    t.ptr);
    }
  }
  const int dp = attention_padded_dim(p);
  for (const auto& [name, s, lanes] :
       {std::make_tuple("q", p.q_strides, p.head_dim),
        std::make_tuple("k", p.k_strides, p.head_dim),
        std::make_tuple("v", p.v_strides, p.head_dim), std::make_tuple("o", p.o_strides, dp)}) {
    const std::string why = strides_problem(name, s, p.sequences, p.heads, p.tokens, lanes);
    if (!why.empty()) return why;
  }
  const Range o = range_of(p.o, p.o_strides, p, dp);
  const struct {
    const char* name;
    Range r;
  } inputs[] = {{"q", range_of(p.q, p.q_strides, p, p.head_dim)},
                {"k", range_of(p.k, p.k_strides, p, p.head_dim)},
                {"v", range_of(p.v, p.v_strides, p, p.head_dim)}};
  for (const auto& in : inputs) {
    if (overlaps(o, in.r)) return format("o overlaps %s", in.name);
  }
  return "";
}

}  // namespace mvit
