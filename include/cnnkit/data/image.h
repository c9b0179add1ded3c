// Image files <-> uint8 tensors (C, H, W), as torchvision.io: decode_image / write_png.
// Decoding: JPEG through libjpeg-turbo (torchvision.io.decode_jpeg's and Pillow's pixels,
// bit for bit; Adobe CMYK converted to RGB), PNG through libpng (torchvision.io.decode_png's;
// 16-bit samples read as their high byte, as Pillow), the rest through stb_image (BMP, GIF's
// first frame, PNM, TGA; Photoshop, Radiance HDR and Softimage PIC files are refused);
// encoding is stb_image_write (PNG, JPEG, BMP).
//
//   Tensor img = data::decode_image("cat.jpg", data::ImageReadMode::RGB);  // (3, H, W) uint8
//   data::write_png("out.png", img);
//
// Intended usage: ImageFolder decodes in DataLoader worker threads (everything here is
// thread-safe); `cnnkit predict` decodes the files it is given; write_png saves tensors as
// images (tests and tools); encode_png makes the PNG members of tar shards (data/shards.h)
// and the report's figures (report/report.h: written atomically, embedded as data URIs).
#pragma once

#include <string>

#include "cnnkit/core/tensor.h"

namespace cnnkit::data {

// torchvision.io.ImageReadMode: keep the file's channels, or convert.
enum class ImageReadMode {
  UNCHANGED,   // the file's own channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  GRAY,        // 1 channel
  GRAY_ALPHA,  // 2 channels
  RGB,         // 3 channels (what torchvision's ImageFolder loader, PIL .convert("RGB"), gives)
  RGB_ALPHA,   // 4 channels
};

// Decodes an image file into (C, H, W) uint8 (torchvision.io.decode_image(read_file(path))).
// Throws IOError naming the file: missing or unreadable, or undecodable (with the decoder's
// reason; a truncated or corrupt JPEG is undecodable, not padded with gray). The read modes
// convert as torchvision's: GRAY of a YCbCr JPEG is its luma channel; gray from the colour of
// any other file is torchvision.io.decode_png's (libpng's, with coefficients 0.2989, 0.587);
// a missing alpha is 255. GRAY_ALPHA and RGB_ALPHA, which torchvision refuses for JPEG, add an
// opaque alpha there; a palette PNG's UNCHANGED is its colours (torchvision 0.14: indices);
// a PNG's tRNS transparency is an alpha channel, as in Pillow (torchvision 0.14 drops it
// from gray and RGB files).
Tensor decode_image(const std::string& path, ImageReadMode mode = ImageReadMode::UNCHANGED);
// The same from bytes already in memory; `name` is used in error messages.
Tensor decode_image_from_memory(const void* bytes, size_t nbytes, const std::string& name,
                                ImageReadMode mode = ImageReadMode::UNCHANGED);

// Writes a (C, H, W) uint8 tensor with C in 1..4 (or (H, W) grayscale), any strides.
// Atomic: a temporary file next to `path`, fsynced and renamed. TypeError for another dtype,
// ShapeError for another shape, IOError if the file cannot be written.
void write_png(const std::string& path, const Tensor& image, int compression_level = 6);  // torchvision.io.write_png
void write_jpeg(const std::string& path, const Tensor& image, int quality = 75);          // torchvision.io.write_jpeg
void write_bmp(const std::string& path, const Tensor& image);
// The bytes write_png writes (torchvision.io.encode_png): a PNG member of a tar shard.
std::string encode_png(const Tensor& image, int compression_level = 6);

}  // namespace cnnkit::data
