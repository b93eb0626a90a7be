/* The C API: opaque handles over the C++ API of mvit.h, status codes, and a thread-local
 * description of the last failure. Every function that can fail returns an mvit_status; on
 * failure mvit_last_error() says what and where (the C++ mvit::Error's text). Nothing here throws
 * or aborts: a null handle or pointer is MVIT_ERROR_INVALID_ARGUMENT.
 *
 *   mvit_model* model; mvit_engine* engine; mvit_context* ctx;
 *   mvit_engine_options o;
 *   mvit_engine_options_default(&o);
 *   o.max_batch = 8;
 *   if (mvit_model_load("models/xxs", &model) != MVIT_OK) fprintf(stderr, "%s\n",
 * mvit_last_error()); mvit_engine_create(model, &o, &engine); mvit_context_create(engine, NULL, 0,
 * 1, &ctx); float* out[MVIT_OUTPUT_COUNT] = {d_logits}; mvit_context_run(ctx, d_input, batch, out,
 * stream);
 *
 * Lifetimes: an engine keeps no reference to its model (destroy the model once engines exist);
 * a context keeps its engine's state alive, so destroying the engine first is safe. */
#ifndef MVIT_MVIT_C_H_
#define MVIT_MVIT_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mvit_status {
  MVIT_OK = 0,
  MVIT_ERROR_INVALID_ARGUMENT = 1, /* a null handle or pointer, an out-of-range enum value */
  MVIT_ERROR = 2,                  /* rejected input, unsupported model or size, CUDA failure */
  MVIT_ERROR_OUT_OF_MEMORY = 3,    /* host memory */
  MVIT_ERROR_INTERNAL = 4          /* anything else (a bug: please report the message) */
} mvit_status;

typedef enum mvit_precision {
  MVIT_PRECISION_FP32 = 0,
  MVIT_PRECISION_TF32 = 1,
  MVIT_PRECISION_FP16 = 2,
  MVIT_PRECISION_BF16 = 3
} mvit_precision;

typedef enum mvit_attention {
  MVIT_ATTENTION_AUTO = 0,
  MVIT_ATTENTION_FUSED = 1,
  MVIT_ATTENTION_CUBLAS = 2
} mvit_attention;

/* Index into mvit_context_run's outputs array and bit of mvit_engine_options.outputs. */
typedef enum mvit_output {
  MVIT_OUTPUT_LOGITS = 0,
  MVIT_OUTPUT_FEATURES = 1,
  MVIT_OUTPUT_STEM = 2,
  MVIT_OUTPUT_STAGE1 = 3,
  MVIT_OUTPUT_STAGE2 = 4,
  MVIT_OUTPUT_STAGE3 = 5,
  MVIT_OUTPUT_STAGE4 = 6,
  MVIT_OUTPUT_STAGE5 = 7,
  MVIT_OUTPUT_COUNT = 8
} mvit_output;

typedef struct mvit_model mvit_model;
typedef struct mvit_engine mvit_engine;
typedef struct mvit_context mvit_context;

typedef struct mvit_engine_options {
  int max_batch;        /* default 1 */
  int input_h, input_w; /* 0: the model's input size */
  /* int, not the enum types: a C caller may store any int, which C++ may not read as the enum. */
  int precision;    /* mvit_precision, default MVIT_PRECISION_FP32 */
  int attention;    /* mvit_attention, default MVIT_ATTENTION_AUTO */
  int device;       /* CUDA device ordinal, default 0 */
  uint32_t outputs; /* bits (1u << MVIT_OUTPUT_*) besides logits: outputs to provide */
} mvit_engine_options;

/* "0.1.0" and 100 * (100 * major + minor) + patch. */
const char* mvit_version(void);
int mvit_version_number(void);
/* The calling thread's last failure ("" if none); valid until its next failing call. */
const char* mvit_last_error(void);
const char* mvit_status_string(mvit_status status);

mvit_status mvit_model_load(const char* path, mvit_model** model);
void mvit_model_destroy(mvit_model* model); /* null: no-op */

void mvit_engine_options_default(mvit_engine_options* options);
mvit_status mvit_engine_create(const mvit_model* model, const mvit_engine_options* options,
                               mvit_engine** engine);
void mvit_engine_destroy(mvit_engine* engine);
/* One image's shape: rank 1 (classes) for logits, 3 (C, h, w) otherwise; dims holds 3. */
mvit_status mvit_engine_output_shape(const mvit_engine* engine, mvit_output output, int* rank,
                                     int64_t dims[3]);
/* Device bytes a context's workspace must hold (mvit_context_create with a workspace). */
mvit_status mvit_engine_workspace_size(const mvit_engine* engine, size_t* bytes);

/* workspace: null (the context allocates) or device memory of mvit_engine_workspace_size bytes,
 * 256-byte aligned. use_graphs: non-zero captures the forward once per batch size. */
mvit_status mvit_context_create(const mvit_engine* engine, void* workspace, size_t workspace_bytes,
                                int use_graphs, mvit_context** context);
void mvit_context_destroy(mvit_context* context);
/* input: device [batch, 3, H, W] fp32 NCHW; outputs[i]: device fp32 buffer of output i, or null;
 * stream: a cudaStream_t (null: the legacy default stream). Asynchronous. */
mvit_status mvit_context_run(mvit_context* context, const float* input, int batch,
                             float* const outputs[MVIT_OUTPUT_COUNT], void* stream);

#ifdef __cplusplus
}
#endif

#endif /* MVIT_MVIT_C_H_ */
