// Image decode/encode over stb_image and stb_image_write (Debian's libstb), converting
// between stb's interleaved (H, W, C) bytes and cnnkit's planar (C, H, W) uint8 tensors.
// Not here: resizing and colour transforms (data/transforms), 16-bit or float images
// (stb's 16-bit PNGs are read as 8 bits).
#include "cnnkit/data/image.h"

#include "cnnkit/io/file.h"

#include <stb_image.h>
#include <stb_image_write.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

namespace cnnkit::data {

namespace {

int desired_channels(ImageReadMode mode) {
  switch (mode) {
    case ImageReadMode::UNCHANGED: return 0;
    case ImageReadMode::GRAY: return 1;
    case ImageReadMode::GRAY_ALPHA: return 2;
    case ImageReadMode::RGB: return 3;
    case ImageReadMode::RGB_ALPHA: return 4;
  }
  return 0;
}

// H, W, C = height, width, channels.
Tensor hwc_to_chw(const uint8_t* src, int64_t H, int64_t W, int64_t C) {  // src: (H, W, C)
  Tensor out = empty({C, H, W}, TensorOptions(kByte));
  uint8_t* dst = out.data_ptr<uint8_t>();  // (C, H, W)
  const int64_t HW = H * W;
  if (C == 1) {
    std::memcpy(dst, src, static_cast<size_t>(HW));
    return out;
  }
  for (int64_t c = 0; c < C; ++c) {
    uint8_t* plane = dst + c * HW;
    for (int64_t p = 0; p < HW; ++p) plane[p] = src[p * C + c];
  }
  return out;
}

// The (H, W, C) interleaved bytes stb_image_write wants; checks dtype and shape.
std::vector<uint8_t> chw_to_hwc(const char* fn, const std::string& path, const Tensor& image, int& H,
                                int& W, int& C) {
  CNNKIT_CHECK(image.defined(), fn, ": undefined tensor for '", path, "'");
  CNNKIT_CHECK_TYPE(image.scalar_type() == kByte, fn, ": expected a uint8 image for '", path, "', got ",
                    image.scalar_type(), " (convert with .mul(255).clamp(0, 255).to(kByte))");
  Tensor img = image.dim() == 2 ? image.unsqueeze(0) : image;
  CNNKIT_CHECK_SHAPE(img.dim() == 3 && img.size(0) >= 1 && img.size(0) <= 4 && img.size(1) > 0 &&
                         img.size(2) > 0,
                     fn, ": expected an image (C, H, W) with C in 1..4 or (H, W), got ", image.sizes(),
                     " for '", path, "'");
  C = static_cast<int>(img.size(0));
  H = static_cast<int>(img.size(1));
  W = static_cast<int>(img.size(2));
  std::vector<uint8_t> hwc(static_cast<size_t>(C) * H * W);
  auto a = img.accessor<uint8_t, 3>();
  for (int h = 0; h < H; ++h)
    for (int w = 0; w < W; ++w)
      for (int c = 0; c < C; ++c) hwc[(static_cast<size_t>(h) * W + w) * C + c] = a[c][h][w];
  return hwc;
}

void append_bytes(void* ctx, void* data, int size) {
  auto* out = static_cast<std::string*>(ctx);
  out->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

// The most pixels an image may claim (Pillow's DecompressionBombError threshold, twice its
// MAX_IMAGE_PIXELS warning): 178,956,970, about 13,000 x 13,000.
constexpr uint64_t kMaxImagePixels = 178956970;

}  // namespace

Tensor decode_image_from_memory(const void* bytes, size_t nbytes, const std::string& name,
                                ImageReadMode mode) {
  CNNKIT_CHECK_IO(nbytes > 0, "decode_image: cannot decode '", name, "': empty file");
  CNNKIT_CHECK_IO(nbytes <= static_cast<size_t>(INT32_MAX), "decode_image: cannot decode '", name,
                  "': ", nbytes, " bytes is more than stb_image reads");
  int w = 0, h = 0, file_c = 0, want = desired_channels(mode);
  // The header's size first: a few hundred bytes can claim 60000 x 60000 pixels, which stb
  // would allocate before finding the data missing. Pillow's decompression-bomb limit.
  if (stbi_info_from_memory(static_cast<const stbi_uc*>(bytes), static_cast<int>(nbytes), &w, &h, &file_c)) {
    const uint64_t pixels = static_cast<uint64_t>(w) * static_cast<uint64_t>(h);
    CNNKIT_CHECK_IO(pixels <= kMaxImagePixels, "decode_image: '", name, "' claims ", w, "x", h, " = ", pixels,
                    " pixels, more than the ", kMaxImagePixels,
                    " decoded (Pillow's decompression-bomb limit): a corrupt or hostile header");
  }
  // stbi_failure_reason() is thread-local in this stb (STBI_THREAD_LOCAL), so concurrent
  // decodes in loader threads each see their own reason.
  uint8_t* pixels = stbi_load_from_memory(static_cast<const stbi_uc*>(bytes), static_cast<int>(nbytes),
                                          &w, &h, &file_c, want);
  if (!pixels) {
    const char* why = stbi_failure_reason();
    CNNKIT_CHECK_IO(false, "decode_image: cannot decode '", name, "': ", why ? why : "unknown reason");
  }
  int C = want ? want : file_c;
  Tensor out;
  try {
    out = hwc_to_chw(pixels, h, w, C);
  } catch (...) {
    stbi_image_free(pixels);
    throw;
  }
  stbi_image_free(pixels);
  return out;
}

Tensor decode_image(const std::string& path, ImageReadMode mode) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) {
    std::error_code ec;
    bool exists = std::filesystem::exists(path, ec);
    CNNKIT_CHECK_IO(false, "decode_image: cannot open '", path, "': ",
                    exists ? std::strerror(errno) : "no such file");
  }
  std::streamoff size = f.tellg();
  CNNKIT_CHECK_IO(size >= 0, "decode_image: cannot read the size of '", path, "'");
  std::vector<char> bytes(static_cast<size_t>(size));
  f.seekg(0);
  CNNKIT_CHECK_IO(size == 0 || f.read(bytes.data(), size), "decode_image: cannot read '", path, "'");
  return decode_image_from_memory(bytes.data(), bytes.size(), path, mode);
}

namespace {

std::string encode_png_named(const std::string& path, const Tensor& image, int compression_level) {
  int H, W, C;
  std::vector<uint8_t> hwc = chw_to_hwc("write_png", path, image, H, W, C);
  CNNKIT_CHECK(compression_level >= 0 && compression_level <= 9,
               "write_png: compression_level must be in [0, 9], got ", compression_level);
  // stb's compression level is a process-wide global: set it and encode under one lock.
  static std::mutex level_mutex;
  std::string out;
  int ok;
  {
    std::lock_guard<std::mutex> lock(level_mutex);
    stbi_write_png_compression_level = compression_level;
    ok = stbi_write_png_to_func(append_bytes, &out, W, H, C, hwc.data(), W * C);
  }
  CNNKIT_CHECK_IO(ok, "write_png: stb_image_write failed to encode '", path, "'");
  return out;
}

}  // namespace

void write_png(const std::string& path, const Tensor& image, int compression_level) {
  io::write_file_atomic(path, encode_png_named(path, image, compression_level), "write_png");
}

std::string encode_png(const Tensor& image, int compression_level) {
  return encode_png_named("<memory>", image, compression_level);
}

void write_jpeg(const std::string& path, const Tensor& image, int quality) {
  int H, W, C;
  std::vector<uint8_t> hwc = chw_to_hwc("write_jpeg", path, image, H, W, C);
  CNNKIT_CHECK(quality >= 1 && quality <= 100, "write_jpeg: quality must be in [1, 100], got ", quality);
  std::string out;
  int ok = stbi_write_jpg_to_func(append_bytes, &out, W, H, C, hwc.data(), quality);
  CNNKIT_CHECK_IO(ok, "write_jpeg: stb_image_write failed to encode '", path, "'");
  io::write_file_atomic(path, out, "write_jpeg");
}

void write_bmp(const std::string& path, const Tensor& image) {
  int H, W, C;
  std::vector<uint8_t> hwc = chw_to_hwc("write_bmp", path, image, H, W, C);
  std::string out;
  int ok = stbi_write_bmp_to_func(append_bytes, &out, W, H, C, hwc.data());
  CNNKIT_CHECK_IO(ok, "write_bmp: stb_image_write failed to encode '", path, "'");
  io::write_file_atomic(path, out, "write_bmp");
}

}  // namespace cnnkit::data
