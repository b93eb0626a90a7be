// Image files for `mvit classify`: PNG (libpng) and JPEG (libjpeg-turbo) decoded to 8-bit RGB the
// way PIL's Image.open(path).convert("RGB") does, and the model's own preprocessing
// (runtime/model_spec.h Preprocessing) done the way transformers' image processors and
// torchvision do it on a PIL image. CUDA-free; the tests compare it with transformers' tensors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model_spec.h"

namespace mvit::image {

// Decoded pixel limit: PIL's decompression-bomb threshold (Image.MAX_IMAGE_PIXELS, 89,478,485 =
// 1024 * 1024 * 1024 / 4 / 3 pixels); a header claiming more is rejected before any pixel memory
// is allocated.
constexpr int64_t kMaxPixels = 89478485;

struct Rgb8 {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // [height, width, 3] RGB, row-major
};

// Reads `path` (the format from its first bytes, not its name) and converts to RGB as PIL's
// convert("RGB") does: grayscale replicated, alpha dropped (not composited), palette expanded,
// 16-bit samples reduced to their high byte. Throws mvit::Error naming the file and the defect:
// missing, empty, not PNG or JPEG, truncated, corrupt, zero-sized, too many pixels, CMYK JPEG.
Rgb8 decode_file(const std::string& path);

// The interpolation names of weights/FORMAT.md (PIL's filters).
enum class Filter { kNearest, kBox, kBilinear, kHamming, kBicubic, kLanczos };
Filter parse_filter(const std::string& name);  // throws naming the value and the accepted ones

// PIL's Image.resize(size, filter) on an 8-bit RGB image, with PIL's fixed-point arithmetic
// (Note [PIL resampling]); bit-identical to Pillow 9.4 on every case tests/tools checks.
Rgb8 resize(const Rgb8& in, int width, int height, Filter filter);

// The network input for one image: resize so the shortest edge is `resize_shortest_edge` (the
// longer one int(size * long / short), as transformers and torchvision compute it), center crop
// (offsets floor((in - crop) / 2), zero padding where the crop is larger, as transformers'
// center_crop), x * scale, (x - mean) / std, channel order; float32 [3, H, W].
struct Tensor {
  int height = 0, width = 0;
  std::vector<float> chw;
};
Tensor preprocess(const Rgb8& img, const Preprocessing& p);

}  // namespace mvit::image
