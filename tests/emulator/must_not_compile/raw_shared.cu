// Must not compile in the emulated build: a raw __shared__ declaration (use MVIT_SHARED).
__global__ void raw_shared_kernel(float* out) {
  __shared__ float tile[32];
  tile[threadIdx.x] = 1.0f;
  out[threadIdx.x] = tile[threadIdx.x];
}
