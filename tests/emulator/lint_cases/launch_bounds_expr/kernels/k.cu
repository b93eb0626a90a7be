// Lint case: MVIT_LAUNCH_BOUNDS with a named constant instead of an integer literal.
constexpr int kThreads = 256;
__global__ void MVIT_LAUNCH_BOUNDS(kThreads) k(float* out) { out[threadIdx.x] = 0.0f; }
