// Lint case: a __device__ variable (a plain host global in the emulated build).
__device__ int g_counter = 0;
__global__ void k(int* out) { out[0] = atomicAdd(&g_counter, 1); }
