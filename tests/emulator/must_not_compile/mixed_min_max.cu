// Must compile (issue 12, item 1): CUDA's min / max overload set, mixed signedness included, with
// CUDA's result types. Under nvcc every call below resolves; with only same-type overloads the
// mixed ones are ambiguous. The values are checked at run time by test_compat.
#include <type_traits>

#include "kernels/common/launch.cuh"

template <class Expected, class Got>
constexpr bool same() {
  return std::is_same<Expected, Got>::value;
}

__global__ void mixed_min_max_kernel(unsigned* out, int c, long l, unsigned long ul, long long ll,
                                     unsigned long long ull, float f, double d) {
  static_assert(same<unsigned, decltype(min(c - 1, threadIdx.x))>(), "int, unsigned");
  static_assert(same<unsigned, decltype(max(threadIdx.x, c))>(), "unsigned, int");
  static_assert(same<int, decltype(min(c, c))>(), "int, int");
  static_assert(same<long, decltype(min(l, l))>(), "long, long");
  static_assert(same<unsigned long, decltype(min(l, ul))>(), "long, unsigned long");
  static_assert(same<unsigned long, decltype(max(ul, l))>(), "unsigned long, long");
  static_assert(same<long long, decltype(max(ll, ll))>(), "long long");
  static_assert(same<unsigned long long, decltype(min(ll, ull))>(), "long long, unsigned");
  static_assert(same<unsigned long long, decltype(max(ull, ll))>(), "unsigned, long long");
  static_assert(same<double, decltype(min(f, d))>(), "float, double");
  static_assert(same<double, decltype(max(d, f))>(), "double, float");
  static_assert(same<float, decltype(min(f, f))>(), "float, float");
  out[threadIdx.x] = min(c - 1, threadIdx.x) + umin(1u, 2u) + static_cast<unsigned>(llmax(ll, 0));
}

void launch(unsigned* out) {
  mvit::launch(mixed_min_max_kernel, dim3(1), dim3(32), 0, nullptr, out, 4, 1L, 2UL, 3LL, 4ULL,
               1.0f, 2.0);
}
