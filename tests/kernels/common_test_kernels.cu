#include "tests/kernels/common_test_kernels.h"

#include "kernels/common/launch.cuh"
#include "kernels/common/reduce.cuh"
#include "kernels/common/vector.cuh"

namespace mvit {
namespace test {

template <int kThreads>
__global__ void reductions_kernel(const float* x, float* out) {
  MVIT_SHARED(float, scratch, kThreads / kWarpSize);
  const int t = threadIdx.x;
  const float v = x[t];
  out[t] = warp_reduce(v, SumOp());
  out[kThreads + t] = warp_reduce(v, MaxOp());
  out[2 * kThreads + t] = block_reduce<kThreads>(v, SumOp(), scratch);
  out[3 * kThreads + t] = block_reduce<kThreads>(v, MaxOp(), scratch);
}

void reductions(const float* x, float* out, int threads, Stream stream) {
  switch (threads) {
    case 32:
      return mvit::launch(reductions_kernel<32>, dim3(1), dim3(32), 0, stream, x, out);
    case 64:
      return mvit::launch(reductions_kernel<64>, dim3(1), dim3(64), 0, stream, x, out);
    case 256:
      return mvit::launch(reductions_kernel<256>, dim3(1), dim3(256), 0, stream, x, out);
    case 1024:
      return mvit::launch(reductions_kernel<1024>, dim3(1), dim3(1024), 0, stream, x, out);
  }
  MVIT_FAIL("reductions: %d threads is not instantiated (32, 64, 256, 1024)", threads);
}

template <class TIn, class TOut, int N>
__global__ void convert_kernel(const TIn* x, TOut* y, int packs) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= packs) return;
  float v[N];
  load_floats(x + i * N, v);
  store_floats(y + i * N, v);
}

namespace {

template <class TIn, class TOut, int N>
void launch_convert(const void* x, void* y, int n, Stream stream) {
  const int packs = n / N;
  constexpr int kThreads = 128;
  mvit::launch(convert_kernel<TIn, TOut, N>, dim3((packs + kThreads - 1) / kThreads),
               dim3(kThreads), 0, stream, static_cast<const TIn*>(x), static_cast<TOut*>(y), packs);
}

template <class TIn, class TOut>
void convert_pack(const void* x, void* y, int n, int pack, Stream stream) {
  switch (pack) {
    case 1:
      return launch_convert<TIn, TOut, 1>(x, y, n, stream);
    case 2:
      return launch_convert<TIn, TOut, 2>(x, y, n, stream);
    case 4:
      return launch_convert<TIn, TOut, 4>(x, y, n, stream);
  }
  if constexpr (sizeof(TIn) == 2 && sizeof(TOut) == 2) {  // 8 x 2 bytes: a 128-bit pack
    if (pack == 8) return launch_convert<TIn, TOut, 8>(x, y, n, stream);
  }
  MVIT_FAIL("convert_through_packs: packs of %d are not instantiated for these types", pack);
}

template <class TIn>
void convert_to(const void* x, DType out, void* y, int n, int pack, Stream stream) {
  switch (out) {
    case DType::kF32:
      return convert_pack<TIn, float>(x, y, n, pack, stream);
    case DType::kF16:
      return convert_pack<TIn, __half>(x, y, n, pack, stream);
    case DType::kBF16:
      return convert_pack<TIn, __nv_bfloat16>(x, y, n, pack, stream);
  }
  MVIT_FAIL("convert_through_packs: output dtype %d is not a DType", static_cast<int>(out));
}

}  // namespace

void convert_through_packs(const void* x, DType in, void* y, DType out, int n, int pack,
                           Stream stream) {
  MVIT_CHECK(n % pack == 0, "convert_through_packs: n %d is not a multiple of the pack %d", n,
             pack);
  switch (in) {
    case DType::kF32:
      return convert_to<float>(x, out, y, n, pack, stream);
    case DType::kF16:
      return convert_to<__half>(x, out, y, n, pack, stream);
    case DType::kBF16:
      return convert_to<__nv_bfloat16>(x, out, y, n, pack, stream);
  }
  MVIT_FAIL("convert_through_packs: input dtype %d is not a DType", static_cast<int>(in));
}

__global__ void empty_test_kernel() {}

void launch_oversized_block(int* line, Stream stream) {
  *line = __LINE__ + 1;
  mvit::launch(empty_test_kernel, dim3(1), dim3(2048), 0, stream);
}

__global__ void MVIT_LAUNCH_BOUNDS(32)
    converting_kernel(float scale, const LaunchBase* base, const int* absent, float* out) {
  out[0] = absent == nullptr ? base->value * scale : -1.0f;
}

void converting_launch(const LaunchDerived* derived, float* out, Stream stream) {
  // NULL to a pointer, the int literal 3 to a float, a LaunchDerived* to a const LaunchBase*.
  mvit::launch(converting_kernel, 1, 1, 0, stream, 3, derived, NULL, out);
}

}  // namespace test
}  // namespace mvit
