// The C API (include/mvit/mvit_c.h) over the C++ one: every entry catches what the C++ side throws
// and turns it into a status plus the thread-local message.
#include <new>
#include <string>

#include "mvit/mvit.h"
#include "mvit/mvit_c.h"
#include "runtime/model.h"

struct mvit_model {
  mvit::Model model;
};
struct mvit_engine {
  mvit::Engine engine;
};
struct mvit_context {
  mvit::Context context;
};

namespace {

thread_local std::string last_error;

mvit_status fail(mvit_status status, const std::string& message) {
  last_error = message;
  return status;
}

template <class F>
mvit_status guarded(F&& f) {
  try {
    f();
    return MVIT_OK;
  } catch (const mvit::Error& e) {
    return fail(MVIT_ERROR, e.what());
  } catch (const std::bad_alloc&) {
    return fail(MVIT_ERROR_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::exception& e) {
    return fail(MVIT_ERROR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(MVIT_ERROR_INTERNAL, "internal error: unknown exception");
  }
}

#define MVIT_C_REQUIRE(ptr, function)                                                         \
  do {                                                                                        \
    if ((ptr) == nullptr) {                                                                   \
      return fail(MVIT_ERROR_INVALID_ARGUMENT, std::string(function) + ": " #ptr " is null"); \
    }                                                                                         \
  } while (0)

}  // namespace

extern "C" {

// MVIT_VERSION_* come from CMake's project(VERSION) (runtime/CMakeLists.txt).
const char* mvit_version(void) {
  return MVIT_VERSION_STRING;
}

int mvit_version_number(void) {
  return 100 * (100 * MVIT_VERSION_MAJOR + MVIT_VERSION_MINOR) + MVIT_VERSION_PATCH;
}

const char* mvit_last_error(void) {
  return last_error.c_str();
}

const char* mvit_status_string(mvit_status status) {
  switch (status) {
    case MVIT_OK:
      return "MVIT_OK";
    case MVIT_ERROR_INVALID_ARGUMENT:
      return "MVIT_ERROR_INVALID_ARGUMENT";
    case MVIT_ERROR:
      return "MVIT_ERROR";
    case MVIT_ERROR_OUT_OF_MEMORY:
      return "MVIT_ERROR_OUT_OF_MEMORY";
    case MVIT_ERROR_INTERNAL:
      return "MVIT_ERROR_INTERNAL";
  }
  return "unknown mvit_status";
}

mvit_status mvit_model_load(const char* path, mvit_model** model) {
  MVIT_C_REQUIRE(path, "mvit_model_load");
  MVIT_C_REQUIRE(model, "mvit_model_load");
  *model = nullptr;
  return guarded([&] { *model = new mvit_model{mvit::Model::load(path)}; });
}

void mvit_model_destroy(mvit_model* model) {
  delete model;
}

void mvit_engine_options_default(mvit_engine_options* options) {
  if (!options) return;
  *options = mvit_engine_options{};
  options->max_batch = 1;
  options->precision = MVIT_PRECISION_FP32;
  options->attention = MVIT_ATTENTION_AUTO;
}

mvit_status mvit_engine_create(const mvit_model* model, const mvit_engine_options* options,
                               mvit_engine** engine) {
  MVIT_C_REQUIRE(model, "mvit_engine_create");
  MVIT_C_REQUIRE(options, "mvit_engine_create");
  MVIT_C_REQUIRE(engine, "mvit_engine_create");
  *engine = nullptr;
  if (options->precision < MVIT_PRECISION_FP32 || options->precision > MVIT_PRECISION_BF16) {
    return fail(MVIT_ERROR_INVALID_ARGUMENT, "mvit_engine_create: options->precision " +
                                                 std::to_string(options->precision) +
                                                 " is not an mvit_precision");
  }
  if (options->attention < MVIT_ATTENTION_AUTO || options->attention > MVIT_ATTENTION_CUBLAS) {
    return fail(MVIT_ERROR_INVALID_ARGUMENT, "mvit_engine_create: options->attention " +
                                                 std::to_string(options->attention) +
                                                 " is not an mvit_attention");
  }
  if (options->outputs >> MVIT_OUTPUT_COUNT) {
    return fail(MVIT_ERROR_INVALID_ARGUMENT,
                "mvit_engine_create: options->outputs has bits beyond MVIT_OUTPUT_COUNT");
  }
  return guarded([&] {
    mvit::EngineOptions o;
    o.max_batch = options->max_batch;
    o.input_h = options->input_h, o.input_w = options->input_w;
    o.precision = static_cast<mvit::Precision>(options->precision);
    o.attention = static_cast<mvit::AttentionPath>(options->attention);
    o.device = options->device;
    for (int i = 1; i < MVIT_OUTPUT_COUNT; ++i) {
      if (options->outputs & (1u << i)) o.outputs.push_back(static_cast<mvit::Output>(i));
    }
    *engine = new mvit_engine{mvit::Engine::create(model->model, o)};
  });
}

void mvit_engine_destroy(mvit_engine* engine) {
  delete engine;
}

mvit_status mvit_engine_output_shape(const mvit_engine* engine, mvit_output output, int* rank,
                                     int64_t dims[3]) {
  MVIT_C_REQUIRE(engine, "mvit_engine_output_shape");
  MVIT_C_REQUIRE(rank, "mvit_engine_output_shape");
  MVIT_C_REQUIRE(dims, "mvit_engine_output_shape");
  if (output < 0 || output >= MVIT_OUTPUT_COUNT) {
    return fail(MVIT_ERROR_INVALID_ARGUMENT, "mvit_engine_output_shape: output " +
                                                 std::to_string(output) + " is not an mvit_output");
  }
  return guarded([&] {
    const std::vector<int64_t> s = engine->engine.output_shape(static_cast<mvit::Output>(output));
    *rank = static_cast<int>(s.size());
    for (size_t i = 0; i < s.size() && i < 3; ++i) dims[i] = s[i];
  });
}

mvit_status mvit_engine_workspace_size(const mvit_engine* engine, size_t* bytes) {
  MVIT_C_REQUIRE(engine, "mvit_engine_workspace_size");
  MVIT_C_REQUIRE(bytes, "mvit_engine_workspace_size");
  return guarded([&] { *bytes = engine->engine.arena().arena_bytes; });
}

mvit_status mvit_context_create(const mvit_engine* engine, void* workspace, size_t workspace_bytes,
                                int use_graphs, mvit_context** context) {
  MVIT_C_REQUIRE(engine, "mvit_context_create");
  MVIT_C_REQUIRE(context, "mvit_context_create");
  *context = nullptr;
  return guarded([&] {
    mvit::ContextOptions o;
    o.workspace = workspace;
    o.workspace_bytes = workspace_bytes;
    o.use_graphs = use_graphs != 0;
    *context = new mvit_context{mvit::Context(engine->engine, o)};
  });
}

void mvit_context_destroy(mvit_context* context) {
  delete context;
}

mvit_status mvit_context_run(mvit_context* context, const float* input, int batch,
                             float* const outputs[MVIT_OUTPUT_COUNT], void* stream) {
  MVIT_C_REQUIRE(context, "mvit_context_run");
  MVIT_C_REQUIRE(outputs, "mvit_context_run");
  return guarded([&] {
    mvit::OutputBuffers o;
    for (int i = 0; i < MVIT_OUTPUT_COUNT; ++i) o[static_cast<mvit::Output>(i)] = outputs[i];
    context->context.run(input, batch, o, static_cast<mvit::Stream>(stream));
  });
}

}  // extern "C"
