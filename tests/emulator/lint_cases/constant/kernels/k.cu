// Lint case: a __constant__ table (not modelled by the emulator).
__constant__ float kTable[16];
__global__ void k(float* out) { out[threadIdx.x] = kTable[threadIdx.x]; }
