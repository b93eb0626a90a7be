// Must not compile in the emulated build: a raw __launch_bounds__ (use MVIT_LAUNCH_BOUNDS, which
// the emulated build enforces).
__global__ void __launch_bounds__(128) raw_launch_bounds_kernel(float* out) {
  out[threadIdx.x] = 1.0f;
}
