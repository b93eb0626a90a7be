// Lint case: a __managed__ variable.
__device__ __managed__ float g_scale;
__global__ void k(float* out) { out[0] = g_scale; }
