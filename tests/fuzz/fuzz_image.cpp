// libFuzzer target: image decoding (data::decode_image_from_memory, and decode_image for the
// file path): JPEG (libjpeg-turbo), PNG (libpng), BMP, GIF, PNM and TGA (stb_image). Each
// input is decoded with the file's own channels, then as RGB and as gray.
#include "cnnkit/data/image.h"
#include "fuzz/fuzz_util.h"

using namespace cnnkit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (fuzz::loads([&] { data::decode_image_from_memory(data, size, "input.img"); })) {
    fuzz::loads([&] { data::decode_image_from_memory(data, size, "input.img", data::ImageReadMode::RGB); });
    fuzz::loads([&] { data::decode_image(fuzz::write_file("input.img", data, size), data::ImageReadMode::GRAY); });
  }
  return 0;
}
