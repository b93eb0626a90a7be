// Lint control: what the rules allow: __device__ functions (one line or several) and
// MVIT_LAUNCH_BOUNDS with integer literals.
__device__ inline float twice(float x) { return 2.0f * x; }
template <class T>
__device__ __forceinline__ T
thrice(T x) {
  return 3 * x;
}
__global__ void MVIT_LAUNCH_BOUNDS(256) k(float* out) { out[threadIdx.x] = twice(1.0f); }
__global__ void MVIT_LAUNCH_BOUNDS(128, 4) k2(float* out) { out[threadIdx.x] = thrice(1.0f); }
