/* The C API from a program compiled as C (label runtime): the Hugging Face fixture folder of
 * tests/fixtures/e2e/hf_xxs_256 runs through mvit_c.h and matches transformers' logits within the
 * fp32 tolerance; every misuse returns its status with a message. Exit code 0 when all pass. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvit/mvit_c.h"

static int failures = 0;

#define CHECK(cond, ...)                                    \
  do {                                                      \
    if (!(cond)) {                                          \
      fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                         \
      fprintf(stderr, "\n");                                \
      ++failures;                                           \
    }                                                       \
  } while (0)

/* The payload of a little-endian float32 C-order .npy (format 1.0), or NULL. */
static float* read_npy_f32(const char* path, size_t expected) {
  FILE* f = fopen(path, "rb");
  unsigned char head[10];
  float* data = NULL;
  if (!f) return NULL;
  if (fread(head, 1, 10, f) == 10 && memcmp(head, "\x93NUMPY\x01", 7) == 0) {
    const long header = head[8] | (head[9] << 8);
    data = (float*)malloc(expected * sizeof(float));
    if (fseek(f, 10 + header, SEEK_SET) != 0 ||
        fread(data, sizeof(float), expected, f) != expected) {
      free(data);
      data = NULL;
    }
  }
  fclose(f);
  return data;
}

static int contains(const char* text, const char* part) {
  return strstr(text, part) != NULL;
}

int main(int argc, char** argv) {
  const char* fixtures = argc > 1 ? argv[1] : ".";
  char path[4096];
  mvit_model* model = NULL;
  mvit_engine* engine = NULL;
  mvit_context* context = NULL;
  mvit_engine_options o;
  float* outputs[MVIT_OUTPUT_COUNT] = {0};
  const size_t image = 3 * 256 * 256, classes = 1000;
  float *d_in = NULL, *d_logits = NULL, *input, *want, *got;
  int rank = 0;
  int64_t dims[3] = {0, 0, 0};
  size_t i, ws = 0;
  double diff = 0.0, peak = 0.0;

  CHECK(strcmp(mvit_version(), "") != 0 && mvit_version_number() > 0, "version");
  CHECK(strcmp(mvit_status_string(MVIT_ERROR), "MVIT_ERROR") == 0, "status string");

  /* Misuse: statuses and messages. */
  CHECK(mvit_model_load(NULL, &model) == MVIT_ERROR_INVALID_ARGUMENT, "null path");
  CHECK(contains(mvit_last_error(), "path is null"), "message: %s", mvit_last_error());
  CHECK(mvit_model_load("/no/such/model", &model) == MVIT_ERROR && model == NULL, "missing dir");
  CHECK(contains(mvit_last_error(), "/no/such/model"), "message: %s", mvit_last_error());

  snprintf(path, sizeof path, "%s/hf_xxs_256/hf", fixtures);
  CHECK(mvit_model_load(path, &model) == MVIT_OK, "load %s: %s", path, mvit_last_error());
  if (!model) return 1;
  mvit_engine_options_default(&o);
  CHECK(o.max_batch == 1 && o.precision == MVIT_PRECISION_FP32, "defaults");
  o.max_batch = 0;
  CHECK(mvit_engine_create(model, &o, &engine) == MVIT_ERROR && engine == NULL, "max_batch 0");
  CHECK(contains(mvit_last_error(), "max_batch"), "message: %s", mvit_last_error());
  o.max_batch = 2;
  o.precision = 7;
  CHECK(mvit_engine_create(model, &o, &engine) == MVIT_ERROR_INVALID_ARGUMENT, "bad precision");
  o.precision = MVIT_PRECISION_FP32;
  o.input_h = 8;
  CHECK(mvit_engine_create(model, &o, &engine) == MVIT_ERROR, "unsupported size");
  CHECK(contains(mvit_last_error(), "[32, 4096]"), "message: %s", mvit_last_error());
  o.input_h = 0;
  CHECK(mvit_engine_create(model, &o, &engine) == MVIT_OK, "engine: %s", mvit_last_error());
  mvit_model_destroy(model); /* the engine holds what it needs */
  if (!engine) return 1;
  CHECK(mvit_engine_output_shape(engine, MVIT_OUTPUT_LOGITS, &rank, dims) == MVIT_OK && rank == 1 &&
            dims[0] == (int64_t)classes,
        "logits shape");
  CHECK(mvit_engine_workspace_size(engine, &ws) == MVIT_OK && ws > 0, "workspace size");
  CHECK(mvit_context_create(engine, NULL, 0, 1, &context) == MVIT_OK, "context: %s",
        mvit_last_error());
  mvit_engine_destroy(engine); /* the context keeps the engine's state alive */
  if (!context) return 1;

  /* The forward against transformers' logits. */
  snprintf(path, sizeof path, "%s/inputs/input_256x256.npy", fixtures);
  input = read_npy_f32(path, 2 * image);
  snprintf(path, sizeof path, "%s/hf_xxs_256/logits.npy", fixtures);
  want = read_npy_f32(path, 2 * classes);
  CHECK(input && want, "fixture files");
  if (!input || !want) return 1;
  CHECK(cudaMalloc((void**)&d_in, 2 * image * sizeof(float)) == cudaSuccess, "cudaMalloc");
  CHECK(cudaMalloc((void**)&d_logits, 2 * classes * sizeof(float)) == cudaSuccess, "cudaMalloc");
  cudaMemcpy(d_in, input, 2 * image * sizeof(float), cudaMemcpyHostToDevice);
  CHECK(mvit_context_run(context, d_in, 0, outputs, NULL) == MVIT_ERROR, "batch 0");
  CHECK(contains(mvit_last_error(), "batch 0"), "message: %s", mvit_last_error());
  CHECK(mvit_context_run(context, d_in, 2, NULL, NULL) == MVIT_ERROR_INVALID_ARGUMENT,
        "null outputs");
  outputs[MVIT_OUTPUT_STEM] = d_logits;
  CHECK(mvit_context_run(context, d_in, 2, outputs, NULL) == MVIT_ERROR, "stem not requested");
  CHECK(contains(mvit_last_error(), "'stem' was not requested"), "message: %s", mvit_last_error());
  outputs[MVIT_OUTPUT_STEM] = NULL;
  outputs[MVIT_OUTPUT_LOGITS] = d_logits;
  CHECK(mvit_context_run(context, d_in, 2, outputs, NULL) == MVIT_OK, "run: %s", mvit_last_error());
  got = (float*)malloc(2 * classes * sizeof(float));
  CHECK(
      cudaMemcpy(got, d_logits, 2 * classes * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess,
      "download");
  for (i = 0; i < 2 * classes; ++i) {
    const double d = fabs((double)got[i] - want[i]);
    diff = (d > diff || d != d) ? d : diff;
    peak = fabs(want[i]) > peak ? fabs(want[i]) : peak;
  }
  CHECK(diff <= 1e-4 * (peak > 1 ? peak : 1), "logits: max |diff| %g, max |ref| %g", diff, peak);
  printf("C API: logits max |diff| %.3g against transformers (max |ref| %.3g)\n", diff, peak);
  mvit_context_destroy(context);
  cudaFree(d_in);
  cudaFree(d_logits);
  free(input);
  free(want);
  free(got);
  printf("%d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
}
