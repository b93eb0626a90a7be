// The engine's plan: the step list of one forward at a given batch, the activation buffers the
// steps read and write, and their places in one arena (shared/DESIGN.md section 3). Host-only,
// plain C++: the params structs are the kernel families' CUDA-free ones.
//
// Note [step pointers]
// A step's params hold device pointers. Weight pointers are the Engine's (uploaded before
// planning) and are set directly. Activation pointers depend on the arena, which each Context owns,
// so a step carries fixups (field offset in its params, buffer, byte offset) that
// Context::materialize writes once the arena's base is known. Offsets come from the plan at
// max_batch; a smaller batch builds the same step list (same buffer ids, each no larger) and takes
// those offsets, so every batch size runs in the same arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "kernels/attention.h"
#include "kernels/conv3x3.h"
#include "kernels/depthwise_conv.h"
#include "kernels/gemm_epilogue.h"
#include "kernels/layernorm.h"
#include "kernels/pool_classifier.h"
#include "kernels/resize.h"
#include "kernels/to_nchw.h"
#include "mvit/mvit.h"
#include "runtime/model_spec.h"

namespace mvit {
namespace plan {

using Op = std::variant<Conv3x3StemParams, Conv3x3Params, DepthwiseConvParams, GemmEpilogueParams,
                        ResizeParams, LayerNormParams, AttentionParams, PoolClassifierParams,
                        ToNchwParams>;
const char* op_name(const Op& op);
// Arithmetic of one step (a multiply-add counts 2; softmax, LayerNorm and resize at the few
// operations per element their kernels do), for `mvit bench --kernels`' TFLOP/s column.
uint64_t op_flops(const Op& op);

struct Fixup {
  size_t field = 0;   // byte offset of a pointer member in the params struct
  int buffer = -1;    // Plan::buffers index
  size_t offset = 0;  // bytes into the buffer
};

struct Step {
  std::string name;
  std::string stage;
  Op op;
  std::vector<Fixup> fixups;
  std::vector<int> reads, writes;  // buffer ids (for liveness and the traffic model)
  uint64_t weight_bytes = 0;
};

struct Buffer {
  std::string name;
  size_t bytes = 0;
  int first = 0, last = 0;  // steps that produce and last read it; -1 / steps.size() = outside
  size_t offset = 0;        // in the activation region (assign_offsets)
};

// The weights as uploaded: name -> device pointer and bytes.
struct DeviceWeight {
  std::string name;
  const void* ptr = nullptr;
  size_t bytes = 0;
};

struct Plan {
  std::vector<Step> steps;
  std::vector<Buffer> buffers;
  int input = -1;                                    // buffer the Context copies the input into
  int outputs[kOutputCount];                         // buffer of each provided output, -1 otherwise
  std::vector<int64_t> output_shapes[kOutputCount];  // per image
  size_t workspace_bytes = 0;    // the largest library workspace any step asks for
  size_t activation_bytes = 0;   // after assign_offsets
  size_t lower_bound_bytes = 0;  // max over steps of the live bytes
};

// What the weights turned into, by name, for the planner (weights.h).
class WeightTable;

struct PlanOptions {
  int batch = 1;
  int input_h = 0, input_w = 0;
  DType dtype = DType::kF32;
  bool allow_tf32 = false;
  AttentionImpl attention = AttentionImpl::kAuto;
  bool want[kOutputCount] = {};
};

// Throws mvit::Error naming the block and what is supported when the model cannot run at these
// options. `handles` are used for workspace queries only.
Plan build_plan(const ModelSpec& spec, const WeightTable& weights, const PlanOptions& options,
                const LibraryHandles& handles);

// Liveness-based placement: buffers whose step ranges overlap get disjoint byte ranges, each
// 256-byte aligned (Note [arena placement] in plan.cpp).
void assign_offsets(Plan& plan);

// Writes every fixup's pointer: activation buffer b at base + plan.buffers[b].offset.
void apply_fixups(Step& step, const Plan& layout, unsigned char* base);

// Head-dimension padding (Note [head padding] in weights.cpp).
int padded_head_dim(int head_dim);

}  // namespace plan
}  // namespace mvit
