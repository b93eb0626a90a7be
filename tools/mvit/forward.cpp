#include "tools/mvit/forward.h"

#include <algorithm>

#include "kernels/common/check.h"
#include "runtime/engine/device.h"

namespace mvit::cli {

const char* build_kind() {
#ifdef MVIT_EMULATED
  return "emulated build: kernels executed on the CPU by emulator/";
#else
  return "cuda build";
#endif
}

ForwardResult host_forward(const Model& model, const NpyArray& input, const char* input_name,
                           const std::vector<Output>& outputs, const ForwardOptions& options) {
  MVIT_CHECK(input.type == NpyArray::Type::kF32 && input.shape.size() == 4 &&
                 input.shape[1] == model.spec().in_channels,
             "%s: expected float32 [B, %d, H, W] (NCHW, preprocessed), found %s with %zu "
             "dimensions%s",
             input_name, model.spec().in_channels,
             input.type == NpyArray::Type::kF32 ? "float32" : "int64", input.shape.size(),
             input.shape.size() == 4
                 ? (" and " + std::to_string(input.shape[1]) + " channels").c_str()
                 : "");
  const int B = static_cast<int>(input.shape[0]);
  MVIT_CHECK(B >= 1, "%s: the batch dimension is 0", input_name);
  MVIT_CHECK(input.shape[2] <= 4096 && input.shape[3] <= 4096, "%s: image %lldx%lld is too large",
             input_name, static_cast<long long>(input.shape[2]),
             static_cast<long long>(input.shape[3]));
  const int chunk = options.batch_size > 0 ? std::min(options.batch_size, B) : B;
  EngineOptions eo;
  eo.max_batch = chunk;
  eo.input_h = static_cast<int>(input.shape[2]);
  eo.input_w = static_cast<int>(input.shape[3]);
  eo.precision = options.precision;
  eo.attention = options.attention;
  std::vector<Output> all = {Output::kLogits};
  for (Output o : outputs) {
    if (o == Output::kLogits) continue;
    eo.outputs.push_back(o);
    all.push_back(o);
  }
  const Engine engine = Engine::create(model, eo);
  ContextOptions co;
  Context context(engine, co);
  ForwardResult r;
  r.arena = engine.arena();
  r.steps = engine.steps().size();
  std::vector<int64_t> per_image(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const std::vector<int64_t> s = engine.output_shape(all[i]);
    per_image[i] = 1;
    for (int64_t d : s) per_image[i] *= d;
    std::vector<int64_t> shape = {B};
    shape.insert(shape.end(), s.begin(), s.end());
    r.shapes.push_back(shape);
    r.values.emplace_back(static_cast<size_t>(B * per_image[i]));
  }
  const size_t image = static_cast<size_t>(input.shape[1] * input.shape[2] * input.shape[3]);
  DeviceArray d_in(chunk * image);
  std::vector<std::unique_ptr<DeviceArray>> d_out;
  for (size_t i = 0; i < all.size(); ++i) {
    d_out.push_back(std::make_unique<DeviceArray>(chunk * static_cast<size_t>(per_image[i])));
  }
  const Stream stream = device::create_stream();
  try {
    for (int first = 0; first < B; first += chunk) {
      const int n = std::min(chunk, B - first);
      device::copy_async(d_in.p, input.f32.data() + first * image, n * image * sizeof(float),
                         stream);
      OutputBuffers ob;
      for (size_t i = 0; i < all.size(); ++i) ob[all[i]] = d_out[i]->p;
      context.run(d_in.p, n, ob, stream);
      for (size_t i = 0; i < all.size(); ++i) {
        device::copy_async(r.values[i].data() + first * per_image[i], d_out[i]->p,
                           n * per_image[i] * sizeof(float), stream);
      }
      device::synchronize(stream);
    }
  } catch (...) {
    device::destroy_stream(stream);
    throw;
  }
  device::destroy_stream(stream);
  return r;
}

}  // namespace mvit::cli
