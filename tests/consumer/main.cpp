// The consumer of the installed package: loads a model, runs one image of zeros through the C++
// API and one through the C API, and checks the two agree and are finite. Usage: consumer MODEL.
#include <cuda_runtime_api.h>
#include <mvit/model.h>
#include <mvit/mvit.h>
#include <mvit/mvit_c.h>

#include <cmath>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer MODEL_DIR\n");
    return 2;
  }
  try {
    const mvit::Model model = mvit::Model::load(argv[1]);
    const mvit::Engine engine = mvit::Engine::create(model);
    mvit::Context context(engine);
    const mvit::EngineOptions& o = engine.options();
    const size_t n = size_t{3} * o.input_h * o.input_w;
    const std::vector<float> zeros(n, 0.0f);
    float *input = nullptr, *logits = nullptr;
    cudaMalloc(reinterpret_cast<void**>(&input), n * sizeof(float));
    cudaMalloc(reinterpret_cast<void**>(&logits), 2 * engine.classes() * sizeof(float));
    cudaMemcpy(input, zeros.data(), n * sizeof(float), cudaMemcpyHostToDevice);
    mvit::OutputBuffers out;
    out.logits = logits;
    context.run(input, 1, out, nullptr);
    // The same image through the C API into the second row.
    mvit_model* m = nullptr;
    mvit_engine* e = nullptr;
    mvit_context* c = nullptr;
    mvit_engine_options eo;
    mvit_engine_options_default(&eo);
    float* outputs[MVIT_OUTPUT_COUNT] = {logits + engine.classes()};
    if (mvit_model_load(argv[1], &m) != MVIT_OK || mvit_engine_create(m, &eo, &e) != MVIT_OK ||
        mvit_context_create(e, nullptr, 0, 1, &c) != MVIT_OK ||
        mvit_context_run(c, input, 1, outputs, nullptr) != MVIT_OK) {
      std::fprintf(stderr, "consumer: C API: %s\n", mvit_last_error());
      return 1;
    }
    std::vector<float> host(2 * engine.classes());
    cudaMemcpy(host.data(), logits, host.size() * sizeof(float), cudaMemcpyDeviceToHost);
    mvit_context_destroy(c);
    mvit_engine_destroy(e);
    mvit_model_destroy(m);
    cudaFree(input);
    cudaFree(logits);
    for (int k = 0; k < engine.classes(); ++k) {
      if (!std::isfinite(host[k]) || host[k] != host[engine.classes() + k]) {
        std::fprintf(stderr, "consumer: logit %d: C++ %g, C %g\n", k, host[k],
                     host[engine.classes() + k]);
        return 1;
      }
    }
    std::printf("consumer: mobilevit_cuda %s, %d logits from the C++ and the C API agree\n",
                mvit_version(), engine.classes());
  } catch (const mvit::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
  }
  return 0;
}
