// Must not compile in the emulated build: a <<<>>> launch (use mvit::launch).
__global__ void empty_kernel() {}
void launch() { empty_kernel<<<1, 32>>>(); }
