// The CUDA runtime subset: memory, copies, streams (asynchronous, ordered), events, the legacy
// stream, stream capture into graphs and what capture forbids, the device's description.
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "tests/emulator/test_kernels.h"
#include "tests/emulator/test_util.h"

namespace mvit {
namespace emutest {
namespace {

using RuntimeTest = DeviceFaultTest;

// Sets MVIT_EMU_STREAM_DELAY_US for a scope: every stream operation waits that long first.
class ScopedStreamDelay {
 public:
  explicit ScopedStreamDelay(int us) : saved_(emu::config().stream_delay_us) {
    emu::set_stream_delay_us(us);
  }
  ~ScopedStreamDelay() { emu::set_stream_delay_us(saved_); }

 private:
  int saved_;
};

TEST_F(RuntimeTest, FreshDeviceMemoryIsNaN) {
  emu::ScopedPoison nan(emu::Poison::kNan);  // the suite's reverse run uses the finite one
  DeviceBuffer<float> a(1000);
  for (float v : a.download()) EXPECT_TRUE(std::isnan(v));
}

TEST_F(RuntimeTest, MallocEdgeCases) {
  void* p = reinterpret_cast<void*>(1);
  EXPECT_EQ(cudaMalloc(&p, 0), cudaSuccess);
  EXPECT_EQ(p, nullptr);
  EXPECT_EQ(cudaMalloc(nullptr, 4), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMalloc(&p, size_t{1} << 62), cudaErrorMemoryAllocation);
  EXPECT_TRUE(contains(emu::error_detail(cudaErrorMemoryAllocation), "exceeds"));
  EXPECT_EQ(cudaMalloc(&p, 100), cudaSuccess);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 256, 0u);
  EXPECT_EQ(cudaFree(static_cast<char*>(p) + 4), cudaErrorInvalidValue) << "not the start";
  EXPECT_EQ(cudaFree(p), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaErrorInvalidValue) << "double free";
  int host = 0;
  EXPECT_EQ(cudaFree(&host), cudaErrorInvalidValue);
  cudaGetLastError();
}

TEST_F(RuntimeTest, CopiesAreCheckedAgainstTheirKindAndBounds) {
  DeviceBuffer<float> d(16);
  std::vector<float> h(16, 1.0f), big(17, 1.0f);
  EXPECT_EQ(cudaMemcpy(d.get(), h.data(), 64, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(d.get(), big.data(), 68, cudaMemcpyHostToDevice), cudaErrorInvalidValue)
      << "one float past the allocation";
  EXPECT_TRUE(
      contains(emu::error_detail(cudaErrorInvalidValue), "not inside one device allocation"));
  EXPECT_EQ(cudaMemcpy(h.data(), d.get(), 64, cudaMemcpyHostToDevice), cudaErrorInvalidValue)
      << "directions swapped";
  EXPECT_EQ(cudaMemcpy(d.get(), d.get(), 64, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(h.data(), d.get(), 64, cudaMemcpyDefault), cudaSuccess);
  EXPECT_EQ(cudaMemset(d.get() + 1, 0, 64), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemset(d.get(), 0, 64), cudaSuccess);
  for (float v : d.download()) EXPECT_EQ(v, 0.0f);
  cudaGetLastError();
}

TEST_F(RuntimeTest, PinnedHostMemory) {
  float* p = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&p), 64), cudaSuccess);
  DeviceBuffer<float> d(16);
  for (int i = 0; i < 16; ++i) p[i] = static_cast<float>(i);
  ASSERT_EQ(cudaMemcpyAsync(d.get(), p, 64, cudaMemcpyHostToDevice, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(d.download()[15], 15.0f);
  EXPECT_EQ(cudaFreeHost(p), cudaSuccess);
  EXPECT_EQ(cudaFreeHost(p), cudaErrorInvalidValue);
  cudaGetLastError();
}

// Known-bad: reading a kernel's output without synchronizing. Streams really are asynchronous,
// so the host sees the old contents; with the synchronization it sees the result.
TEST_F(RuntimeTest, KnownBadMissingStreamSynchronization) {
  ScopedStreamDelay delay(20000);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  const int n = 256;
  DeviceBuffer<float> x(std::vector<float>(n, 1.0f)), y(n);
  std::vector<float> host(n, -7.0f);
  scale_add(x.get(), y.get(), n, s);
  ASSERT_EQ(cudaMemcpyAsync(host.data(), y.get(), n * sizeof(float), cudaMemcpyDeviceToHost, s),
            cudaSuccess);
  const float unsynchronized = host[0];
  EXPECT_EQ(cudaStreamQuery(s), cudaErrorNotReady);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(unsynchronized, -7.0f) << "the copy had not run yet";
  EXPECT_EQ(host[0], 3.0f);
  EXPECT_EQ(cudaStreamQuery(s), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(RuntimeTest, LegacyStreamOrdersWithBlockingStreams) {
  ScopedStreamDelay delay(2000);
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  const int n = 1024;
  DeviceBuffer<float> x(std::vector<float>(n, 2.0f)), y(n), z(n);
  scale_add(x.get(), y.get(), n, s);        // y = 5 on s
  scale_add(y.get(), z.get(), n, nullptr);  // legacy stream: waits for s, z = 11
  std::vector<float> host(n);
  ASSERT_EQ(cudaMemcpy(host.data(), z.get(), n * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(host[n - 1], 11.0f);
  ASSERT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(RuntimeTest, EventsMeasureElapsedTimeAndOrderStreams) {
  cudaStream_t a, b;
  ASSERT_EQ(cudaStreamCreate(&a), cudaSuccess);
  ASSERT_EQ(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking), cudaSuccess);
  cudaEvent_t start, stop, done;
  ASSERT_EQ(cudaEventCreate(&start), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&stop), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&done, cudaEventDisableTiming), cudaSuccess);
  float ms = 0;
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, stop), cudaErrorInvalidResourceHandle)
      << "never recorded";
  cudaGetLastError();
  const int n = 1 << 16;
  DeviceBuffer<float> x(std::vector<float>(n, 1.0f)), y(n), z(n);
  {
    // Every operation executes 5 ms after the previous one: the kernel on b would run long
    // before y is written unless it really waits for the event.
    ScopedStreamDelay delay(5000);
    ASSERT_EQ(cudaEventRecord(start, a), cudaSuccess);
    scale_add(x.get(), y.get(), n, a);
    ASSERT_EQ(cudaEventRecord(stop, a), cudaSuccess);
    ASSERT_EQ(cudaEventRecord(done, a), cudaSuccess);
    ASSERT_EQ(cudaStreamWaitEvent(b, done, 0), cudaSuccess);
    scale_add(y.get(), z.get(), n, b);  // must see y written on stream a
    ASSERT_EQ(cudaStreamSynchronize(b), cudaSuccess);
  }
  EXPECT_EQ(z.download()[n - 1], 7.0f);
  ASSERT_EQ(cudaEventSynchronize(stop), cudaSuccess);
  ASSERT_EQ(cudaEventElapsedTime(&ms, start, stop), cudaSuccess);
  EXPECT_GE(ms, 9.0f) << "two 5 ms stream delays lie between the two records";
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, done), cudaErrorInvalidResourceHandle);
  cudaGetLastError();
  for (cudaEvent_t e : {start, stop, done}) EXPECT_EQ(cudaEventDestroy(e), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(a), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(b), cudaSuccess);
}

TEST_F(RuntimeTest, GraphCaptureRecordsAndReplaysLaunchesAndCopies) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  const int n = 300;
  DeviceBuffer<float> x(n), y(n);
  std::vector<float> in(n), out(n, 0.0f);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  cudaStreamCaptureStatus status;
  ASSERT_EQ(cudaStreamIsCapturing(s, &status), cudaSuccess);
  EXPECT_EQ(status, cudaStreamCaptureStatusActive);
  ASSERT_EQ(cudaMemcpyAsync(x.get(), in.data(), n * sizeof(float), cudaMemcpyHostToDevice, s),
            cudaSuccess);
  scale_add(x.get(), y.get(), n, s);
  ASSERT_EQ(cudaMemcpyAsync(out.data(), y.get(), n * sizeof(float), cudaMemcpyDeviceToHost, s),
            cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  ASSERT_NE(graph, nullptr);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(out[0], 0.0f) << "capturing executes nothing";
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  for (int replay = 0; replay < 3; ++replay) {
    for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i * (replay + 1));
    ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
    for (int i = 0; i < n; ++i) ASSERT_EQ(out[i], 2.0f * i * (replay + 1) + 1.0f) << replay;
  }
  EXPECT_EQ(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

// Each call below is illegal while a stream is being captured: it returns the runtime's error
// and invalidates the capture, so cudaStreamEndCapture fails too.
struct IllegalDuringCapture {
  const char* name;
  cudaError_t expected;
  std::function<cudaError_t(cudaStream_t)> call;
};

class CaptureTest : public DeviceFaultTest,
                    public ::testing::WithParamInterface<IllegalDuringCapture> {};

TEST_P(CaptureTest, IllegalCallInvalidatesTheCapture) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  DeviceBuffer<float> x(64), y(64);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  scale_add(x.get(), y.get(), 64, s);
  EXPECT_EQ(GetParam().call(s), GetParam().expected);
  cudaStreamCaptureStatus status;
  ASSERT_EQ(cudaStreamIsCapturing(s, &status), cudaSuccess);
  EXPECT_EQ(status, cudaStreamCaptureStatusInvalidated);
  cudaGraph_t graph = reinterpret_cast<cudaGraph_t>(1);
  EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(graph, nullptr);
  cudaGetLastError();
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

INSTANTIATE_TEST_SUITE_P(
    Runtime, CaptureTest,
    ::testing::Values(IllegalDuringCapture{"Malloc", cudaErrorStreamCaptureUnsupported,
                                           [](cudaStream_t) {
                                             void* p = nullptr;
                                             return cudaMalloc(&p, 16);
                                           }},
                      IllegalDuringCapture{"StreamSynchronize", cudaErrorStreamCaptureUnsupported,
                                           [](cudaStream_t s) { return cudaStreamSynchronize(s); }},
                      IllegalDuringCapture{"DeviceSynchronize", cudaErrorStreamCaptureUnsupported,
                                           [](cudaStream_t) { return cudaDeviceSynchronize(); }},
                      IllegalDuringCapture{"SynchronousMemcpy", cudaErrorStreamCaptureImplicit,
                                           [](cudaStream_t) {
                                             float h[4] = {1, 2, 3, 4};
                                             return cudaMemcpy(h, h + 2, 8, cudaMemcpyHostToHost);
                                           }},
                      IllegalDuringCapture{"LegacyStreamLaunch", cudaErrorStreamCaptureImplicit,
                                           [](cudaStream_t) {
                                             cudaError_t e = cudaSuccess;
                                             try {
                                               empty_kernel(dim3(1), dim3(32), nullptr);
                                             } catch (const mvit::Error&) {
                                               e = cudaErrorStreamCaptureImplicit;
                                             }
                                             return e;
                                           }}),
    [](const ::testing::TestParamInfo<IllegalDuringCapture>& info) { return info.param.name; });

TEST_F(RuntimeTest, RelaxedCaptureAllowsAllocation) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaSuccess);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 16), cudaSuccess);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  EXPECT_EQ(cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
  EXPECT_EQ(cudaStreamDestroy(s), cudaSuccess);
}

TEST_F(RuntimeTest, DeviceDescriptionSaysEmulatedAndFollowsComputeCapability) {
  int count = 0;
  ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
  EXPECT_EQ(count, 1);
  const emu::Config saved = emu::config();
  emu::set_compute_capability(8, 6);
  cudaDeviceProp prop;
  ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
  EXPECT_TRUE(contains(prop.name, "emulated"));
  EXPECT_EQ(prop.major, 8);
  EXPECT_EQ(prop.minor, 6);
  EXPECT_EQ(prop.warpSize, 32);
  EXPECT_EQ(prop.sharedMemPerBlockOptin, 101376u);
  int major = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0), cudaSuccess);
  EXPECT_EQ(major, 8);
  emu::set_compute_capability(saved.cc_major, saved.cc_minor);
  EXPECT_EQ(cudaSetDevice(1), cudaErrorInvalidDevice);
  cudaGetLastError();
}

TEST_F(RuntimeTest, FuncGetNameReturnsTheKernelSymbol) {
  const char* name = nullptr;
  ASSERT_EQ(cudaFuncGetName(&name, empty_kernel_address()), cudaSuccess);
  EXPECT_TRUE(contains(name, "empty_kernel_impl")) << name;
}

TEST_F(RuntimeTest, ErrorNamesAndStrings) {
  EXPECT_STREQ(cudaGetErrorName(cudaErrorInvalidValue), "cudaErrorInvalidValue");
  EXPECT_STREQ(cudaGetErrorString(cudaErrorInvalidValue), "invalid argument");
  EXPECT_STREQ(cudaGetErrorName(cudaErrorStreamCaptureImplicit), "cudaErrorStreamCaptureImplicit");
}

TEST_F(RuntimeTest, StreamsFromSeveralHostThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      cudaStream_t s;
      if (cudaStreamCreate(&s) != cudaSuccess) return;
      const int n = 512;
      DeviceBuffer<float> x(std::vector<float>(n, static_cast<float>(t))), y(n);
      scale_add(x.get(), y.get(), n, s);
      std::vector<float> host(n);
      cudaMemcpyAsync(host.data(), y.get(), n * sizeof(float), cudaMemcpyDeviceToHost, s);
      cudaStreamSynchronize(s);
      if (host[n - 1] == 2.0f * t + 1.0f) ++good;
      cudaStreamDestroy(s);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 4);
}

}  // namespace
}  // namespace emutest
}  // namespace mvit
