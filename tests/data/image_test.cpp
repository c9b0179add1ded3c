// decode_image / write_png / write_jpeg / write_bmp: round trips, read modes, and errors.
#include "cnnkit/data/image.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::data;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::temp_path;

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
