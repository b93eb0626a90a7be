// tools/image against PIL and transformers (tests/fixtures/images, tools/make_image_fixtures.py):
// decoding to RGB as PIL's convert("RGB"), every PIL resampling filter bit for bit, the model's
// preprocessing as MobileViTImageProcessor computes it; and every defective file refused by name.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/common/check.h"
#include "runtime/npy.h"
#include "tests/support/temp_dir.h"
#include "tools/image/image.h"

namespace mvit {
namespace {

const std::string kDir = MVIT_IMAGE_FIXTURES;

const char* const kImages[] = {"rgb.png",     "gray.png",       "rgba.png",      "gray_alpha.png",
                               "palette.png", "interlaced.png", "rgb16.png",     "gray16.png",
                               "rgb.jpg",     "gray.jpg",       "tall.jpg"};

// Max |a - b| over the pixels of an image and a PIL [H, W, 3] array, shapes checked.
double max_diff(const image::Rgb8& img, const NpyArray& ref) {
  EXPECT_EQ(ref.shape, (std::vector<int64_t>{img.height, img.width, 3}));
  if (ref.shape != std::vector<int64_t>{img.height, img.width, 3}) return INFINITY;
  double worst = 0;
  for (size_t i = 0; i < img.pixels.size(); ++i) {
    worst = std::max(worst, std::fabs(double(img.pixels[i]) - ref.f32[i]));
  }
  return worst;
}

TEST(ImageDecode, MatchesPilConvertRgbForEveryColourTypeAndDepth) {
  for (const char* name : kImages) {
    SCOPED_TRACE(name);
    const image::Rgb8 img = image::decode_file(kDir + "/" + name);
    EXPECT_EQ(max_diff(img, read_npy(kDir + "/" + name + ".rgb.npy")), 0.0);
  }
  // The fixtures discriminate: the gray and colour decodes of one picture differ.
  const image::Rgb8 a = image::decode_file(kDir + "/rgb.png");
  const image::Rgb8 b = image::decode_file(kDir + "/gray.png");
  EXPECT_GT(max_diff(a, read_npy(kDir + "/gray.png.rgb.npy")), 100.0);
  EXPECT_EQ(b.width, a.width);
}

TEST(ImageResize, BitIdenticalToPilForEveryFilterUpAndDown) {
  // resize/<src>.<filter>.<W>x<H>.npy, the sizes tools/make_image_fixtures.py writes.
  const char* const filters[] = {"nearest", "box", "bilinear", "hamming", "bicubic", "lanczos"};
  int checked = 0;
  for (const char* src : {"rgb.png", "tall.jpg"}) {
    const image::Rgb8 img = image::decode_file(kDir + "/" + src);
    const int w = img.width, h = img.height;
    const int sizes[][2] = {{w + 13, h + 9}, {w / 3, h / 2}, {w, h / 3 + 1}, {w + 5, h}};
    for (const auto& s : sizes) {
      std::vector<double> per_filter;
      for (const char* f : filters) {
        SCOPED_TRACE(std::string(src) + " " + f + " " + std::to_string(s[0]) + "x" +
                     std::to_string(s[1]));
        const std::string ref = kDir + "/resize/" + src + "." + f + "." + std::to_string(s[0]) +
                                "x" + std::to_string(s[1]) + ".npy";
        const image::Rgb8 out = image::resize(img, s[0], s[1], image::parse_filter(f));
        EXPECT_EQ(max_diff(out, read_npy(ref)), 0.0);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 48);
  // Filters differ from each other on these images by far more than the 0 asked above.
  const image::Rgb8 img = image::decode_file(kDir + "/rgb.png");
  const image::Rgb8 a = image::resize(img, 19, 21, image::Filter::kNearest);
  const image::Rgb8 b = image::resize(img, 19, 21, image::Filter::kLanczos);
  int differ = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) differ += a.pixels[i] != b.pixels[i];
  EXPECT_GT(differ, static_cast<int>(a.pixels.size()) / 2);
}

TEST(ImagePreprocess, MatchesTransformersMobileViTImageProcessor) {
  // MobileViTImageProcessor(size={"shortest_edge": 40}, crop_size 32x32): bilinear resize, center
  // crop, x / 255, RGB -> BGR. Tolerance 1e-7: the same uint8 values scaled by the same double.
  Preprocessing p;
  p.resize_shortest_edge = 40;
  p.interpolation = "bilinear";
  p.crop_h = p.crop_w = 32;
  p.scale = 1.0 / 255.0;
  p.channel_order = ChannelOrder::kBgr;
  for (const char* name : kImages) {
    SCOPED_TRACE(name);
    const image::Tensor t = image::preprocess(image::decode_file(kDir + "/" + name), p);
    const NpyArray ref = read_npy(kDir + "/hf/" + std::string(name) + ".npy");
    ASSERT_EQ(ref.shape, (std::vector<int64_t>{3, 32, 32}));
    ASSERT_EQ(t.height, 32);
    ASSERT_EQ(t.width, 32);
    double worst = 0;
    for (size_t i = 0; i < t.chw.size(); ++i) {
      worst = std::max(worst, std::fabs(double(t.chw[i]) - ref.f32[i]));
    }
    EXPECT_LE(worst, 1e-7);
  }
}

TEST(ImagePreprocess, MeanStdCropPaddingAndChannelOrder) {
  // A 4x2 image, no resize, crop 2x4 (taller than the image: zero rows above and below, as
  // transformers' center_crop pads), mean/std per network channel, RGB order kept.
  image::Rgb8 img;
  img.width = 4, img.height = 2;
  for (int i = 0; i < 24; ++i) img.pixels.push_back(static_cast<uint8_t>(10 * i));
  Preprocessing p;
  p.crop_h = 4, p.crop_w = 2;
  p.scale = 1.0 / 255.0;
  p.mean[0] = 0.5, p.std[0] = 0.25;
  const image::Tensor t = image::preprocess(img, p);
  ASSERT_EQ(t.height, 4);
  ASSERT_EQ(t.width, 2);
  // Crop offsets floor((2 - 4) / 2) = -1 rows, floor((4 - 2) / 2) = 1 column.
  auto at = [&](int c, int y, int x) { return t.chw[(c * 4 + y) * 2 + x]; };
  EXPECT_FLOAT_EQ(at(0, 0, 0), (0.0f - 0.5f) / 0.25f);                          // padding
  EXPECT_FLOAT_EQ(at(0, 1, 0), (static_cast<float>(30 / 255.0) - 0.5f) / 0.25f);  // (0, 1) R
  EXPECT_FLOAT_EQ(at(1, 2, 1), static_cast<float>(190 / 255.0));                // (1, 2) G
  EXPECT_FLOAT_EQ(at(2, 3, 1), 0.0f);                                           // padding
}

// ---- defective files ---------------------------------------------------------------------------

std::string write(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A PNG signature and an IHDR chunk (with its CRC) claiming w x h RGB, then nothing.
std::vector<uint8_t> png_header(uint32_t w, uint32_t h) {
  std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                            'I',  'H', 'D', 'R'};
  for (uint32_t v : {w, h}) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
  }
  for (uint8_t v : {8, 2, 0, 0, 0}) b.push_back(v);
  uint32_t crc = 0xffffffffu;  // CRC-32 of type + data (the PNG specification's algorithm)
  for (size_t i = 12; i < b.size(); ++i) {
    crc ^= b[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  crc ^= 0xffffffffu;
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(crc >> s));
  return b;
}

void expect_refused(const std::string& path, const std::string& what) {
  try {
    image::decode_file(path);
    ADD_FAILURE() << path << ": decoded, expected an error saying " << what;
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
  }
}

TEST(ImageDecode, RefusesEachDefectNamingTheFile) {
  test::TempDir dir;
  const std::vector<uint8_t> png = read_all(kDir + "/rgb.png");
  const std::vector<uint8_t> jpg = read_all(kDir + "/rgb.jpg");
  ASSERT_GT(png.size(), 200u);
  ASSERT_GT(jpg.size(), 200u);
  expect_refused(dir.path() + "/missing.png", "cannot open");
  expect_refused(dir.path(), "not a regular file");
  expect_refused(write(dir.path() + "/empty.png", {}), "empty");
  expect_refused(write(dir.path() + "/text.png", {'h', 'e', 'l', 'l', 'o', '\n'}),
                 "not a PNG or JPEG");
  expect_refused(write(dir.path() + "/cut.png", {png.begin(), png.begin() + png.size() / 2}),
                 "truncated");
  expect_refused(write(dir.path() + "/cut.jpg", {jpg.begin(), jpg.begin() + jpg.size() / 2}),
                 "not a readable JPEG");
  std::vector<uint8_t> bad = png;
  bad[40] ^= 0xff;  // inside IDAT: a CRC mismatch or a zlib error
  expect_refused(write(dir.path() + "/crc.png", bad), "not a readable PNG");
  expect_refused(write(dir.path() + "/huge.png", png_header(100000, 100000)),
                 "100000x100000 = 10000000000 pixels, over the limit");
  expect_refused(write(dir.path() + "/zero.png", png_header(0, 5)), "not a readable PNG");
  std::vector<uint8_t> jhead(jpg.begin(), jpg.begin() + 3);
  expect_refused(write(dir.path() + "/jhead.jpg", jhead), "not a readable JPEG");
}

TEST(ImageResize, RejectsSizesOutsideTheLimit) {
  image::Rgb8 img;
  img.width = img.height = 2;
  img.pixels.assign(12, 0);
  EXPECT_THROW(image::resize(img, 0, 3, image::Filter::kBilinear), Error);
  EXPECT_THROW(image::resize(img, 100000, 100000, image::Filter::kBilinear), Error);
  EXPECT_THROW(image::parse_filter("cubic"), Error);
}

}  // namespace
}  // namespace mvit
