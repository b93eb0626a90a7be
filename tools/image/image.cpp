#include "tools/image/image.h"

#include <png.h>
#include <jpeglib.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

#include "kernels/common/check.h"

namespace mvit::image {

namespace {

// Largest image file read: far above any photograph (a 89 MP PNG of noise is ~270 MB), small
// enough that a mistaken path to a huge file fails at once instead of filling memory.
constexpr int64_t kMaxFileBytes = int64_t{512} << 20;

std::vector<uint8_t> read_file(const std::string& path) {
  struct stat st {};
  MVIT_CHECK(::stat(path.c_str(), &st) == 0, "%s: cannot open: %s", path.c_str(),
             std::strerror(errno));
  MVIT_CHECK(S_ISREG(st.st_mode), "%s: not a regular file", path.c_str());
  MVIT_CHECK(st.st_size > 0, "%s: the file is empty", path.c_str());
  MVIT_CHECK(st.st_size <= kMaxFileBytes, "%s: %lld bytes; image files over %lld MiB are refused",
             path.c_str(), static_cast<long long>(st.st_size),
             static_cast<long long>(kMaxFileBytes >> 20));
  std::ifstream f(path, std::ios::binary);
  MVIT_CHECK(f.good(), "%s: cannot open", path.c_str());
  std::vector<uint8_t> data(static_cast<size_t>(st.st_size));
  f.read(reinterpret_cast<char*>(data.data()), st.st_size);
  MVIT_CHECK(f.gcount() == st.st_size, "%s: read %lld of %lld bytes", path.c_str(),
             static_cast<long long>(f.gcount()), static_cast<long long>(st.st_size));
  return data;
}

void check_size(const std::string& path, const char* kind, int64_t w, int64_t h) {
  MVIT_CHECK(w > 0 && h > 0, "%s: %s image of %lldx%lld pixels (zero-sized)", path.c_str(), kind,
             static_cast<long long>(w), static_cast<long long>(h));
  MVIT_CHECK(w * h <= kMaxPixels,
             "%s: %s header claims %lldx%lld = %lld pixels, over the limit of %lld (PIL's "
             "decompression-bomb threshold)",
             path.c_str(), kind, static_cast<long long>(w), static_cast<long long>(h),
             static_cast<long long>(w * h), static_cast<long long>(kMaxPixels));
}

// ---- PNG ---------------------------------------------------------------------------------------
// libpng reports errors by longjmp: the functions between png_create_read_struct and the end of
// decode_png_into hold only trivially destructible locals, and every owned buffer lives in the
// caller, so the jump skips no destructor.

struct PngSource {
  const uint8_t* data;
  size_t size, at;
  char message[256];
};

void png_read(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (src->size - src->at < n) png_error(png, "the file ends early (truncated)");
  std::memcpy(out, src->data + src->at, n);
  src->at += n;
}

void png_fail(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", msg);
  png_longjmp(png, 1);
}

void png_warn(png_structp, png_const_charp) {}  // ancillary-chunk warnings: PIL ignores them too

// Returns false with src->message set on a libpng error; on success `raw` holds rows of `rowbytes`
// bytes in libpng's layout after the transforms below, and *w, *h, *depth, *color are set.
bool decode_png_into(PngSource* src, std::vector<uint8_t>* raw,
                     png_uint_32* w, png_uint_32* h, int* depth, int* color, size_t* rowbytes,
                     std::vector<png_bytep>* rows) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, src, png_fail, png_warn);
  if (!png) {
    std::snprintf(src->message, sizeof src->message, "libpng could not start");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return false;
  }
  png_set_read_fn(png, src, png_read);
  // No limit of libpng's own below ours (its default caps each side at 1,000,000 pixels).
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, info);
  int interlace = 0;
  png_get_IHDR(png, info, w, h, depth, color, &interlace, nullptr, nullptr);
  // PIL's conversions: palette -> RGB (tRNS ignored), 1/2/4-bit gray -> 8-bit, alpha kept for
  // now (dropped below), 16-bit samples kept (Note [PNG 16-bit]).
  if (*color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (*color == PNG_COLOR_TYPE_GRAY && *depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  *rowbytes = png_get_rowbytes(png, info);
  *color = png_get_color_type(png, info);
  *depth = png_get_bit_depth(png, info);
  raw->resize(*rowbytes * *h);
  rows->resize(*h);
  for (png_uint_32 y = 0; y < *h; ++y) (*rows)[y] = raw->data() + y * *rowbytes;
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

// Note [PNG 16-bit]: Pillow 9.4 opens 16-bit RGB, RGBA and gray+alpha PNGs keeping each sample's
// high byte, but 16-bit gray as mode "I" (the full 0..65535 value), whose convert("RGB") clips to
// 0..255. Both are reproduced here.
Rgb8 decode_png(const std::vector<uint8_t>& data, const std::string& path) {
  // The size limit from IHDR itself (always the first chunk: bytes 8..32) before libpng reads
  // further, so a crafted header fails on its claim, whatever follows it.
  if (data.size() >= 24 && std::memcmp(data.data() + 12, "IHDR", 4) == 0) {
    auto be32 = [&](size_t at) {
      return uint32_t{data[at]} << 24 | uint32_t{data[at + 1]} << 16 | uint32_t{data[at + 2]} << 8 |
             data[at + 3];
    };
    const int64_t w = be32(16), h = be32(20);
    if (w > 0 && h > 0) check_size(path, "PNG", w, h);
  }
  PngSource src{data.data(), data.size(), 0, {0}};
  std::vector<uint8_t> raw;
  std::vector<png_bytep> rows;
  png_uint_32 w = 0, h = 0;
  int depth = 0, color = 0;
  size_t rowbytes = 0;
  if (!decode_png_into(&src, &raw, &w, &h, &depth, &color, &rowbytes, &rows)) {
    MVIT_CHECK(false, "%s: not a readable PNG: %s", path.c_str(), src.message);
  }
  const int channels = color == PNG_COLOR_TYPE_GRAY         ? 1
                       : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                       : color == PNG_COLOR_TYPE_RGB        ? 3
                                                            : 4;
  const int bytes = depth == 16 ? 2 : 1;
  Rgb8 out;
  out.width = static_cast<int>(w), out.height = static_cast<int>(h);
  out.pixels.resize(size_t{w} * h * 3);
  for (png_uint_32 y = 0; y < h; ++y) {
    const uint8_t* row = raw.data() + y * rowbytes;
    uint8_t* o = out.pixels.data() + size_t{y} * w * 3;
    for (png_uint_32 x = 0; x < w; ++x) {
      auto sample = [&](int c) -> uint8_t {
        const uint8_t* s = row + (size_t{x} * channels + c) * bytes;
        if (bytes == 1) return s[0];
        if (channels == 1) return static_cast<uint8_t>(std::min(256 * s[0] + s[1], 255));
        return s[0];
      };
      if (channels <= 2) {
        o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = sample(0);
      } else {
        for (int c = 0; c < 3; ++c) o[3 * x + c] = sample(c);
      }
    }
  }
  return out;
}

// ---- JPEG --------------------------------------------------------------------------------------
// Every libjpeg warning (premature end of data, corrupt entropy data) is an error here: libjpeg
// would otherwise fill the missing part with gray and the prediction would silently be made on a
// damaged image (PIL refuses truncated files too).

struct JpegError {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);  // a warning
}

bool decode_jpeg_into(const std::vector<uint8_t>& data, JpegError* err, Rgb8* out,
                      bool* cmyk, bool* too_large) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->mgr);
  err->mgr.error_exit = jpeg_fail;
  err->mgr.emit_message = jpeg_message;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data.data(), static_cast<unsigned long>(data.size()));
  jpeg_read_header(&cinfo, TRUE);
  out->width = static_cast<int>(cinfo.image_width);
  out->height = static_cast<int>(cinfo.image_height);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    *cmyk = true;
  } else if (int64_t{cinfo.image_width} * cinfo.image_height > kMaxPixels ||
             cinfo.image_width == 0 || cinfo.image_height == 0) {
    *too_large = true;
  } else {
    // Gray -> RGB replicates, as PIL's convert("L" -> "RGB"); libjpeg's defaults (islow IDCT,
    // fancy upsampling) are PIL's.
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    out->pixels.resize(size_t{cinfo.output_width} * cinfo.output_height * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
      JSAMPROW row = out->pixels.data() + size_t{cinfo.output_scanline} * cinfo.output_width * 3;
      jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
  }
  jpeg_destroy_decompress(&cinfo);
  return true;
}

Rgb8 decode_jpeg(const std::vector<uint8_t>& data, const std::string& path) {
  JpegError err{};
  Rgb8 out;
  bool cmyk = false, too_large = false;
  if (!decode_jpeg_into(data, &err, &out, &cmyk, &too_large)) {
    MVIT_CHECK(false, "%s: not a readable JPEG: %s", path.c_str(), err.message);
  }
  MVIT_CHECK(!cmyk, "%s: CMYK/YCCK JPEG is not supported; convert it to RGB first", path.c_str());
  check_size(path, "JPEG", out.width, out.height);
  return out;
}

}  // namespace

Rgb8 decode_file(const std::string& path) {
  const std::vector<uint8_t> data = read_file(path);
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (data.size() >= 8 && std::memcmp(data.data(), kPng, 8) == 0) return decode_png(data, path);
  if (data.size() >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) {
    return decode_jpeg(data, path);
  }
  MVIT_CHECK(false, "%s: not a PNG or JPEG file (its first bytes match neither format)",
             path.c_str());
  return {};
}

// ---- resampling --------------------------------------------------------------------------------

Filter parse_filter(const std::string& name) {
  static const std::pair<const char*, Filter> kNames[] = {
      {"nearest", Filter::kNearest}, {"box", Filter::kBox},         {"bilinear", Filter::kBilinear},
      {"hamming", Filter::kHamming}, {"bicubic", Filter::kBicubic}, {"lanczos", Filter::kLanczos}};
  for (const auto& [n, f] : kNames) {
    if (name == n) return f;
  }
  MVIT_CHECK(false, "interpolation '%s': expected nearest, box, bilinear, hamming, bicubic or "
             "lanczos", name.c_str());
  return Filter::kBilinear;
}

namespace {

// Note [PIL resampling]: Pillow's ImagingResample (src/libImaging/Resample.c, read to learn its
// exact arithmetic): separable, horizontal pass first into an 8-bit intermediate, then vertical.
// Per output pixel, the filter (support scaled by max(1, in/out) so downscaling antialiases) is
// evaluated at the source pixel centres in double, normalised to sum 1, then rounded to 22-bit
// fixed point; the sum starts at one half and is shifted and clamped to 0..255. Nearest is an
// affine scale: source = floor((x + 0.5) * in/out), accumulated in double as Pillow does.
constexpr int kPrecisionBits = 32 - 8 - 2;

double filter_value(Filter f, double x) {
  constexpr double kPi = 3.14159265358979323846;
  auto sinc = [&](double v) { return v == 0.0 ? 1.0 : std::sin(v * kPi) / (v * kPi); };
  switch (f) {
    case Filter::kBox: return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
    case Filter::kBilinear: x = std::fabs(x); return x < 1.0 ? 1.0 - x : 0.0;
    case Filter::kHamming:
      x = std::fabs(x);
      if (x == 0.0) return 1.0;
      if (x >= 1.0) return 0.0;
      x *= kPi;
      // Pillow writes these two constants as floats (0.54f, 0.46f).
      return std::sin(x) / x * (double{0.54f} + double{0.46f} * std::cos(x));
    case Filter::kBicubic: {
      constexpr double a = -0.5;
      x = std::fabs(x);
      if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
      return 0.0;
    }
    case Filter::kLanczos: return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
    case Filter::kNearest: break;
  }
  return 0.0;
}

double filter_support(Filter f) {
  switch (f) {
    case Filter::kBox: return 0.5;
    case Filter::kBilinear:
    case Filter::kHamming: return 1.0;
    case Filter::kBicubic: return 2.0;
    case Filter::kLanczos: return 3.0;
    case Filter::kNearest: break;
  }
  return 0.0;
}

struct Coefficients {
  int ksize = 0;
  std::vector<int> first, count;  // per output pixel: first source pixel, how many
  std::vector<int32_t> k;         // [out, ksize] fixed point
};

Coefficients coefficients(int in_size, int out_size, Filter f) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = filter_support(f) * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size), c.count.resize(out_size);
  c.k.assign(size_t{static_cast<size_t>(out_size)} * c.ksize, 0);
  std::vector<double> w(c.ksize);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int lo = static_cast<int>(center - support + 0.5);
    lo = std::max(lo, 0);
    int hi = static_cast<int>(center + support + 0.5);
    hi = std::min(hi, in_size);
    const int n = hi - lo;
    double total = 0.0;
    for (int i = 0; i < n; ++i) {
      w[i] = filter_value(f, (i + lo - center + 0.5) * ss);
      total += w[i];
    }
    for (int i = 0; i < n; ++i) {
      const double v = total != 0.0 ? w[i] / total : w[i];
      c.k[size_t{static_cast<size_t>(o)} * c.ksize + i] =
          v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    c.first[o] = lo, c.count[o] = n;
  }
  return c;
}

uint8_t clip8(int32_t v) {
  return static_cast<uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255));
}

Rgb8 nearest(const Rgb8& in, int width, int height) {
  Rgb8 out;
  out.width = width, out.height = height;
  out.pixels.resize(size_t{static_cast<size_t>(width)} * height * 3);
  const double ax = static_cast<double>(in.width) / width;
  const double ay = static_cast<double>(in.height) / height;
  std::vector<int> xs(width);
  double xo = ax * 0.5;
  for (int x = 0; x < width; ++x, xo += ax) xs[x] = std::min(static_cast<int>(xo), in.width - 1);
  double yo = ay * 0.5;
  for (int y = 0; y < height; ++y, yo += ay) {
    const int sy = std::min(static_cast<int>(yo), in.height - 1);
    for (int x = 0; x < width; ++x) {
      std::memcpy(&out.pixels[(size_t{static_cast<size_t>(y)} * width + x) * 3],
                  &in.pixels[(size_t{static_cast<size_t>(sy)} * in.width + xs[x]) * 3], 3);
    }
  }
  return out;
}

}  // namespace

Rgb8 resize(const Rgb8& in, int width, int height, Filter filter) {
  MVIT_CHECK(width > 0 && height > 0 && int64_t{width} * height <= kMaxPixels,
             "resize to %dx%d: expected 1 to %lld pixels", width, height,
             static_cast<long long>(kMaxPixels));
  if (width == in.width && height == in.height) return in;
  if (filter == Filter::kNearest) return nearest(in, width, height);
  Rgb8 cur = in;
  if (width != in.width) {
    const Coefficients c = coefficients(in.width, width, filter);
    Rgb8 t;
    t.width = width, t.height = cur.height;
    t.pixels.resize(size_t{static_cast<size_t>(width)} * cur.height * 3);
    for (int y = 0; y < cur.height; ++y) {
      const uint8_t* row = &cur.pixels[size_t{static_cast<size_t>(y)} * cur.width * 3];
      for (int x = 0; x < width; ++x) {
        const int32_t* k = &c.k[size_t{static_cast<size_t>(x)} * c.ksize];
        for (int ch = 0; ch < 3; ++ch) {
          int32_t s = 1 << (kPrecisionBits - 1);
          for (int i = 0; i < c.count[x]; ++i) s += row[(c.first[x] + i) * 3 + ch] * k[i];
          t.pixels[(size_t{static_cast<size_t>(y)} * width + x) * 3 + ch] = clip8(s);
        }
      }
    }
    cur = std::move(t);
  }
  if (height != in.height) {
    const Coefficients c = coefficients(in.height, height, filter);
    Rgb8 t;
    t.width = cur.width, t.height = height;
    t.pixels.resize(size_t{static_cast<size_t>(cur.width)} * height * 3);
    for (int y = 0; y < height; ++y) {
      const int32_t* k = &c.k[size_t{static_cast<size_t>(y)} * c.ksize];
      for (int x = 0; x < cur.width * 3; ++x) {
        int32_t s = 1 << (kPrecisionBits - 1);
        for (int i = 0; i < c.count[y]; ++i) {
          s += cur.pixels[size_t{static_cast<size_t>(c.first[y] + i)} * cur.width * 3 + x] * k[i];
        }
        t.pixels[size_t{static_cast<size_t>(y)} * cur.width * 3 + x] = clip8(s);
      }
    }
    cur = std::move(t);
  }
  return cur;
}

Tensor preprocess(const Rgb8& img, const Preprocessing& p) {
  Rgb8 resized;
  const Rgb8* src = &img;
  if (p.resize_shortest_edge > 0) {
    const bool wide = img.width >= img.height;
    const int64_t s = p.resize_shortest_edge;
    const int64_t shorter = wide ? img.height : img.width, longer = wide ? img.width : img.height;
    const int64_t l = s * longer / shorter;  // int(size * long / short)
    const int w = static_cast<int>(wide ? l : s), h = static_cast<int>(wide ? s : l);
    resized = resize(img, w, h, parse_filter(p.interpolation));
    src = &resized;
  }
  const int H = p.crop_h > 0 ? p.crop_h : src->height;
  const int W = p.crop_w > 0 ? p.crop_w : src->width;
  // floor((in - crop) / 2), negative where the crop is larger (zero padding).
  auto floor_half = [](int d) { return d >= 0 ? d / 2 : -((-d + 1) / 2); };
  const int top = floor_half(src->height - H), left = floor_half(src->width - W);
  Tensor t;
  t.height = H, t.width = W;
  t.chw.resize(size_t{3} * H * W);
  const bool bgr = p.channel_order == ChannelOrder::kBgr;
  for (int c = 0; c < 3; ++c) {
    const int from = bgr ? 2 - c : c;
    const float mean = static_cast<float>(p.mean[c]), std = static_cast<float>(p.std[c]);
    for (int y = 0; y < H; ++y) {
      for (int x = 0; x < W; ++x) {
        const int sy = y + top, sx = x + left;
        const uint8_t v = sy >= 0 && sy < src->height && sx >= 0 && sx < src->width
                              ? src->pixels[(size_t{static_cast<size_t>(sy)} * src->width + sx) *
                                                3 + from]
                              : 0;
        // x * scale in double, then float32 (transformers' rescale); normalisation in float32.
        const float scaled = static_cast<float>(v * p.scale);
        t.chw[(size_t{static_cast<size_t>(c)} * H + y) * W + x] = (scaled - mean) / std;
      }
    }
  }
  return t;
}

}  // namespace mvit::image
