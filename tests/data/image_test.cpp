// decode_image / write_png / write_jpeg / write_bmp: round trips, read modes, and errors.
#include "cnnkit/data/image.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <zlib.h>  // compress

#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::data;
using cnnkit::test::be32;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::png_chunk;
using cnnkit::test::temp_path;
using cnnkit::test::read_bytes;
using cnnkit::test::write_bytes;

namespace {
Tensor ramp(int64_t C, int64_t H, int64_t W) {
  Tensor t = empty({C, H, W}, TensorOptions(kByte));
  for (int64_t i = 0; i < t.numel(); ++i) t.data_ptr<uint8_t>()[i] = static_cast<uint8_t>((i * 13) % 256);
  return t;
}
}  // namespace

TEST(Image, PngAndBmpRoundTripExactlyForEveryChannelCount) {
  for (int64_t C : {1, 2, 3, 4}) {
    Tensor img = ramp(C, 6, 9);
    std::string p = temp_path("rt" + std::to_string(C) + ".png");
    write_png(p, img);
    EXPECT_FALSE(std::filesystem::exists(p + ".tmp"));
    Tensor back = decode_image(p);
    EXPECT_EQ(back.sizes(), IntArrayRef({C, 6, 9}));
    EXPECT_TRUE(back.equal(img)) << C;
  }
  Tensor rgb = ramp(3, 5, 7);
  write_bmp(temp_path("rt.bmp"), rgb);
  EXPECT_TRUE(decode_image(temp_path("rt.bmp")).equal(rgb));
  // (H, W) grayscale input; a strided view.
  write_png(temp_path("hw.png"), ramp(1, 4, 5).squeeze(0));
  EXPECT_EQ(decode_image(temp_path("hw.png")).sizes(), IntArrayRef({1, 4, 5}));
  Tensor t = ramp(3, 8, 8).transpose(1, 2);
  write_png(temp_path("strided.png"), t);
  EXPECT_TRUE(decode_image(temp_path("strided.png")).equal(t.contiguous()));
}

TEST(Image, JpegIsCloseAndReadModesConvert) {
  Tensor flat = empty({3, 16, 16}, TensorOptions(kByte));
  for (int64_t c = 0; c < 3; ++c) flat.select(0, c).fill_(static_cast<double>(40 + 80 * c));
  write_jpeg(temp_path("q.jpg"), flat, 95);
  Tensor back = decode_image(temp_path("q.jpg"));
  EXPECT_EQ(back.sizes(), IntArrayRef({3, 16, 16}));
  EXPECT_LT(test::max_abs_diff(back.to(kFloat), flat.to(kFloat)), 4.0);

  write_png(temp_path("g.png"), ramp(1, 3, 3));
  Tensor rgb = decode_image(temp_path("g.png"), ImageReadMode::RGB);
  EXPECT_EQ(rgb.sizes(), IntArrayRef({3, 3, 3}));
  EXPECT_TRUE(rgb.select(0, 2).equal(ramp(1, 3, 3).squeeze(0)));
  Tensor rgba = decode_image(temp_path("g.png"), ImageReadMode::RGB_ALPHA);
  EXPECT_EQ(rgba.select(0, 3).to(kFloat).min().item<float>(), 255.0f);  // opaque alpha added
  write_png(temp_path("c3.png"), ramp(3, 6, 9));
  EXPECT_EQ(decode_image(temp_path("c3.png"), ImageReadMode::GRAY).size(0), 1);
}

TEST(Image, ConcurrentDecodesAgree) {
  Tensor img = ramp(3, 32, 32);
  write_png(temp_path("mt.png"), img);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int r = 0; r < 20; ++r) good += decode_image(temp_path("mt.png")).equal(img);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 80);
}

TEST(Image, ErrorsNameTheFileAndTheReason) {
  std::string missing = temp_path("none.png");
  std::string msg = error_of([&] { decode_image(missing); });
  EXPECT_TRUE(contains(msg, missing) && contains(msg, "no such file")) << msg;
  EXPECT_THROW(decode_image(missing), IOError);

  std::string junk = temp_path("junk.png");
  std::ofstream(junk, std::ios::binary) << "this is not an image at all";
  msg = error_of([&] { decode_image(junk); });
  EXPECT_TRUE(contains(msg, junk) && contains(msg, "cannot decode") && contains(msg, "unknown image type")) << msg;
  EXPECT_THROW(decode_image(junk), IOError);

  std::string empty_file = temp_path("empty.png");
  std::ofstream(empty_file, std::ios::binary).flush();
  EXPECT_THROW(decode_image(empty_file), IOError);

  EXPECT_THROW(write_png(temp_path("f.png"), empty({3, 2, 2})), TypeError);
  EXPECT_THROW(write_png(temp_path("c5.png"), ramp(5, 2, 2)), ShapeError);
  EXPECT_THROW(write_png(temp_path("d4.png"), ramp(1, 2, 2).unsqueeze(0)), ShapeError);
  EXPECT_THROW(write_jpeg(temp_path("q0.jpg"), ramp(3, 2, 2), 0), ValueError);
  msg = error_of([] { write_png("/nonexistent_dir/x.png", ramp(3, 2, 2)); });
  EXPECT_TRUE(contains(msg, "/nonexistent_dir/x.png")) << msg;
  EXPECT_THROW(write_png("/nonexistent_dir/x.png", ramp(3, 2, 2)), IOError);
}

// JPEG goes through libjpeg-turbo (torchvision's and Pillow's decoder: tests/golden/
// image_decode_test.cpp has the pixels). A file cut short is an error naming it, not an
// image padded with gray: libjpeg's "premature end" warnings fail the decode.
namespace {
std::string corpus_jpeg(const std::string& file) {
  return read_bytes(std::string(CNNKIT_FUZZ_CORPUS_DIR) + "/fuzz_image/" + file);
}
}  // namespace

TEST(Image, JpegCutShortIsAnErrorNamingTheFile) {
  Tensor img = ramp(3, 32, 40);
  write_jpeg(temp_path("whole.jpg"), img, 90);
  const std::string whole = read_bytes(temp_path("whole.jpg"));
  ASSERT_GT(whole.size(), 400u);
  const std::string cut = write_bytes("cut.jpg", whole.substr(0, whole.size() * 3 / 5));
  std::string msg = error_of([&] { decode_image(cut); });
  EXPECT_TRUE(contains(msg, cut) && contains(msg, "Premature end of JPEG file") && contains(msg, "libjpeg")) << msg;
  EXPECT_THROW(decode_image(cut), IOError);
  // A progressive file cut inside its last scan.
  const std::string prog = corpus_jpeg("ycbcr-8x8-progressive.jpg");
  const std::string pcut = write_bytes("pcut.jpg", prog.substr(0, prog.size() - 6));
  msg = error_of([&] { decode_image(pcut); });
  EXPECT_TRUE(contains(msg, pcut) && contains(msg, "libjpeg")) << msg;
  // Whole, both decode.
  EXPECT_EQ(decode_image(temp_path("whole.jpg")).sizes(), IntArrayRef({3, 32, 40}));
  EXPECT_EQ(decode_image(write_bytes("prog.jpg", prog)).sizes(), IntArrayRef({3, 8, 8}));
}

TEST(Image, JpegFillBytesBeforeTheStartMarkerAreSkipped) {
  const std::string prog = corpus_jpeg("ycbcr420-16x16.jpg");
  const Tensor plain = decode_image(write_bytes("plain.jpg", prog));
  const Tensor filled = decode_image(write_bytes("filled.jpg", "\xFF\xFF\xFF" + prog));
  EXPECT_TRUE(filled.equal(plain));
}

// A progressive scan at full precision may repeat without libjpeg noticing (each repeat sets
// the same coefficients again), and every repeat is a pass over the whole image: a small file
// of many repeats would take seconds. More than 1000 scans are refused (real encoders write
// about 10); a few extra repeats still decode to the same image.
TEST(Image, JpegOfMoreThanAThousandScansIsRefused) {
  const std::string prog = corpus_jpeg("ycbcr-8x8-progressive.jpg");  // 7 scans, the last one "3: 6..63, 0, 0"
  const size_t last = prog.rfind("\xFF\xDA");
  ASSERT_NE(last, std::string::npos);
  const std::string scan = prog.substr(last, prog.size() - 2 - last);
  auto repeated = [&](int copies) {
    std::string out = prog.substr(0, prog.size() - 2);
    for (int i = 0; i < copies; ++i) out += scan;
    return out + "\xFF\xD9";
  };
  const Tensor once = decode_image(write_bytes("scans7.jpg", prog));
  EXPECT_TRUE(decode_image(write_bytes("scans1000.jpg", repeated(993))).equal(once));
  const std::string many = write_bytes("scans1001.jpg", repeated(994));
  const std::string msg = error_of([&] { decode_image(many); });
  EXPECT_TRUE(contains(msg, many) && contains(msg, "more than 1000 progressive scans")) << msg;
}

// Photoshop, Radiance HDR and Softimage PIC files, which stb_image would also read, are
// refused by their signature with the formats that are decoded.
TEST(Image, PhotoshopHdrAndPicFilesAreRefusedByName) {
  const std::pair<const char*, std::string> files[] = {
      {"Photoshop (PSD)", std::string("8BPS\x00\x01", 6) + std::string(40, '\0')},
      {"Radiance HDR", "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n" + std::string(16, '\x80')},
      {"Radiance HDR", "#?RGBE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n" + std::string(16, '\x80')},
      {"Softimage PIC", std::string("\x53\x80\xF6\x34", 4) + std::string(84, ' ') + "PICT" + std::string(32, '\0')},
  };
  int i = 0;
  for (const auto& [format, bytes] : files) {
    const std::string path = write_bytes("refused" + std::to_string(i++), bytes);
    const std::string msg = error_of([&] { decode_image(path); });
    EXPECT_TRUE(contains(msg, path) && contains(msg, std::string("a ") + format + " file") &&
                contains(msg, "JPEG, PNG, BMP, GIF, PNM and TGA"))
        << msg;
  }
}

// JPEGs with nothing to decode: a start marker alone, start and end markers, tables without a
// frame, a frame claiming more pixels than the file can hold. Each an IOError naming the file.
TEST(Image, JpegWithoutAnImageIsAnErrorNamingTheFile) {
  const std::string whole = corpus_jpeg("ycbcr420-16x16.jpg");
  const size_t frame = whole.find("\xFF\xC0");
  ASSERT_NE(frame, std::string::npos);
  std::string huge = whole;  // the frame's height and width (bytes 5..8 after the marker) 60000 x 60000
  huge[frame + 5] = huge[frame + 7] = static_cast<char>(0xEA);
  huge[frame + 6] = huge[frame + 8] = static_cast<char>(0x60);
  const std::pair<std::string, std::string> files[] = {
      {std::string("\xFF\xD8", 2), "Premature end of JPEG file"},
      {std::string("\xFF\xD8\xFF\xD9", 4), "contains no image"},
      {whole.substr(0, frame) + "\xFF\xD9", "contains no image"},
      {huge, "60000x60000"},
  };
  int i = 0;
  for (const auto& [bytes, why] : files) {
    const std::string path = write_bytes("noimage" + std::to_string(i++) + ".jpg", bytes);
    const std::string msg = error_of([&] { decode_image(path); });
    EXPECT_TRUE(contains(msg, path) && contains(msg, why)) << msg;
  }
}

// PNG goes through libpng (torchvision's and Pillow's decoder: tests/golden/
// image_decode_test.cpp has the pixels). A PNG built chunk by chunk: 8-bit RGB rows of
// `pixels`, deflated into one IDAT chunk or `split` into an empty one and the rest.
namespace {
std::string deflated_rgb_rows(int W, int H) {
  std::string raw;
  for (int y = 0; y < H; ++y) {
    raw += '\0';  // filter: none
    for (int x = 0; x < W * 3; ++x) raw += static_cast<char>((y * 31 + x * 7) & 255);
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out(size, '\0');
  compress(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
           static_cast<uLong>(raw.size()));
  out.resize(size);
  return out;
}

std::string rgb_png(int W, int H, const std::string& idat_chunks) {
  const std::string ihdr = be32(static_cast<uint32_t>(W)) + be32(static_cast<uint32_t>(H)) + std::string("\x08\x02\0\0\0", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + idat_chunks + png_chunk("IEND", "");
}
}  // namespace

// A zero-length IDAT chunk is legal (the standard lets an encoder split the data anywhere);
// stb_image 2.27 passed it to memcpy from a null buffer (UBSan, a fuzzing find).
TEST(Image, PngWithAnEmptyDataChunkDecodes) {
  const std::string data = deflated_rgb_rows(5, 3);
  const Tensor whole = decode_image(write_bytes("one_idat.png", rgb_png(5, 3, png_chunk("IDAT", data))));
  const Tensor split = decode_image(
      write_bytes("empty_idat.png", rgb_png(5, 3, png_chunk("IDAT", "") + png_chunk("IDAT", data.substr(0, 7)) +
                                                      png_chunk("IDAT", "") + png_chunk("IDAT", data.substr(7)))));
  ASSERT_EQ(whole.sizes(), IntArrayRef({3, 3, 5}));
  EXPECT_EQ(whole[1][2][4].item<int64_t>(), (2 * 31 + 13 * 7) & 255);  // G of the last pixel
  EXPECT_TRUE(split.equal(whole));
}

// A damaged PNG is an IOError naming the file and libpng's reason, never an image.
TEST(Image, CorruptPngIsAnErrorNamingTheFileAndTheReason) {
  const std::string data = deflated_rgb_rows(5, 3);
  const std::pair<std::string, std::string> files[] = {
      {rgb_png(5, 3, png_chunk("IDAT", data, false)), "IDAT: CRC error (libpng)"},
      {rgb_png(5, 3, png_chunk("IDAT", data.substr(0, data.size() / 2))), "Not enough image data (libpng)"},
      {rgb_png(5, 3, ""), "(libpng)"},  // no IDAT at all
      // Apple's CgBI PNGs (BGR, no zlib header) are no standard PNG; libpng and Pillow refuse them.
      {std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("CgBI", std::string("\x50\0\x20\x06", 4)) +
           rgb_png(5, 3, png_chunk("IDAT", data)).substr(8),
       "CgBI: unhandled critical chunk (libpng)"},
  };
  int i = 0;
  for (const auto& [bytes, why] : files) {
    const std::string path = write_bytes("corrupt" + std::to_string(i++) + ".png", bytes);
    const std::string msg = error_of([&] { decode_image(path); });
    EXPECT_TRUE(contains(msg, path) && contains(msg, why)) << msg;
    EXPECT_THROW(decode_image(path), IOError);
  }
}
