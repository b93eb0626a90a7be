// ModelSpec: everything the graph needs to know about a MobileViT v1 model, whichever file it came
// from (model.json or a Hugging Face config.json). Field meanings and ranges are in
// weights/FORMAT.md; flavour differences in shared/reference/mobilevit.md section 2.1.
//
// Plain C++, no CUDA: the loader fills and validates it before any device memory exists.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mvit {

enum class Flavour { kOfficial, kSeed };
enum class BlockKind { kMv2, kMobileVit };
// Which tensor comes first in the fusion conv's input: official cat[input, branch], seed
// cat[branch, input].
enum class ConcatOrder { kInputBranch, kBranchInput };
// Official: global mean over H, W. Seed: AvgPool2d(pool_size, 1), a global mean only when the last
// map is pool_size x pool_size.
enum class PoolKind { kGlobalMean, kAvgPool };
enum class ChannelOrder { kRgb, kBgr };

// Inverted residual (MV2): expand 1x1 -> depthwise 3x3 (stride) -> project 1x1, + input when
// stride == 1 and in == out.
struct Mv2Spec {
  int in_channels = 0;
  int out_channels = 0;
  int hidden_channels = 0;
  int stride = 1;
  double expansion = 0.0;  // informational; hidden_channels is what the graph uses
  bool residual() const { return stride == 1 && in_channels == out_channels; }
};

// MobileViT block: conv_kxk -> conv_1x1 -> unfold -> depth x transformer -> [LN] -> fold ->
// conv_proj -> fusion(cat) (shared/reference/mobilevit.md sections 4.2, 4.3).
struct MobileVitSpec {
  int channels = 0;  // C: block input and output channels
  int dim = 0;       // d: transformer width
  int depth = 0;     // transformer layers
  int heads = 0;     // Hd
  int head_dim = 0;  // D; heads * head_dim is the attention inner width
  int ffn_dim = 0;   // hidden width of the FFN
  int kernel = 3;    // conv_kxk and fusion kernel size
  int patch_h = 2;
  int patch_w = 2;
  bool qkv_bias = true;
  bool conv_1x1_bn_act = false;  // seed: BN + SiLU after conv_1x1; official: plain conv
  bool final_layernorm = true;   // official: LayerNorm after the transformer stack
  ConcatOrder concat = ConcatOrder::kInputBranch;
  int inner() const { return heads * head_dim; }
};

struct BlockSpec {
  BlockKind kind = BlockKind::kMv2;
  Mv2Spec mv2;         // valid when kind == kMv2
  MobileVitSpec mvit;  // valid when kind == kMobileVit
};

struct StageSpec {
  std::vector<BlockSpec> blocks;
};

struct HeadSpec {
  int channels = 0;  // 1x1 expansion output (C6), the `features` output
  bool classifier_bias = true;
  PoolKind pool = PoolKind::kGlobalMean;
  int pool_size = 0;  // kAvgPool only
};

// Image preprocessing as the checkpoint's training pipeline expects it (mobilevit.md section 11).
struct Preprocessing {
  int resize_shortest_edge = 0;  // 0: no resize
  std::string interpolation = "bilinear";
  int crop_h = 0, crop_w = 0;  // 0: no center crop
  double scale = 1.0 / 255.0;
  double mean[3] = {0.0, 0.0, 0.0};
  double std[3] = {1.0, 1.0, 1.0};
  ChannelOrder channel_order = ChannelOrder::kRgb;
};

struct ModelSpec {
  Flavour flavour = Flavour::kOfficial;
  std::string variant;  // "xxs", "xs", "s" or a user's name
  int in_channels = 3;
  int stem_channels = 0;
  int stem_kernel = 3;
  int stem_stride = 2;
  std::vector<StageSpec> stages;
  HeadSpec head;
  int num_classes = 0;
  double bn_eps = 1e-5;
  double ln_eps = 1e-5;
  // Official: bilinear resize when a map is not divisible by the patch; seed: such sizes are
  // errors.
  bool interpolate_if_indivisible = true;
  int input_h = 256, input_w = 256;  // the default input size (MACs and `info` are reported there)
  Preprocessing preprocessing;
  std::vector<std::string> labels;  // empty or num_classes entries
};

const char* to_string(Flavour f);
const char* to_string(ConcatOrder c);
const char* to_string(PoolKind p);
const char* to_string(ChannelOrder c);

// Checks every hyperparameter range and every cross-field rule (weights/FORMAT.md "Rules"); throws
// mvit::Error naming `source` (the file the spec came from) and the field.
void validate_spec(const ModelSpec& spec, const std::string& source);

// One tensor the architecture needs, under its canonical name (weights/FORMAT.md).
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
  bool trainable;  // counted as a parameter (BatchNorm running statistics are not)
};
std::vector<ExpectedTensor> expected_tensors(const ModelSpec& spec);

// Published-style counts: parameters = sum of trainable tensor sizes (PyTorch's
// sum(p.numel() for p in model.parameters())); MACs count convs, linears and the two attention
// matmuls at input_h x input_w (mobilevit.md section 7).
struct StageShape {
  std::string name;  // "stem", "stage1".."stageN", "features", "logits"
  int channels, height, width;
};
int64_t parameter_count(const ModelSpec& spec);
int64_t mac_count(const ModelSpec& spec);
std::vector<StageShape> stage_shapes(const ModelSpec& spec);

}  // namespace mvit
