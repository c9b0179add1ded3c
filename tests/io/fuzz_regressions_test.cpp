// Inputs the libFuzzer targets of tests/fuzz found, read through the public API in the
// ordinary build: each is rejected with an IOError naming the file and the problem (or, for
// the top-down BMP, decoded). Their reproducers are tests/fuzz/corpus/<target>/regress-*,
// which `ctest -L fuzz` replays under the sanitizers of a clang build.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "cnnkit/cnnkit.h"
#include "cnnkit/io/npy.h"
#include "data/tar.h"
#include "test_util.h"

using namespace cnnkit;
namespace F = cnnkit::nn::functional;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::temp_path;
using cnnkit::test::write_bytes;

namespace {

std::string corpus(const std::string& file) { return std::string(CNNKIT_FUZZ_CORPUS_DIR) + "/" + file; }

}  // namespace

// An empty shape whose other sizes multiply past int64 ([0, 2^32 - 1, 2^32 - 97]) made the
// tensor's strides overflow (signed overflow in contiguous_strides).
TEST(FuzzRegressions, IdxEmptyShapeWhoseStridesOverflow) {
  const std::string path = corpus("fuzz_idx/regress-empty-shape-strides-overflow");
  const std::string msg = error_of([&] { data::read_idx(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "shape [0, 4294967295, 4288651126] is absurd")) << msg;
}

TEST(FuzzRegressions, NpyEmptyShapeWhoseStridesOverflow) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296), }";
  header.resize(117, ' ');
  header += '\n';
  const std::string path = write_bytes("strides.npy", std::string("\x93NUMPY\x01\x00", 8) +
                                                          static_cast<char>(header.size()) + '\0' + header);
  const std::string msg = error_of([&] { io::load_npy(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "field 'shape': (0, 4294967296, 4294967296) is absurd")) << msg;
}

TEST(FuzzRegressions, EmptyTensorWhoseStridesOverflowIsAShapeError) {
  EXPECT_THROW(empty({0, int64_t{1} << 32, int64_t{1} << 32}), ShapeError);
  EXPECT_EQ(empty({0, int64_t{1} << 31, int64_t{1} << 31}).numel(), 0);  // 2^62: still fits
}

// stb_image 2.27 grew its buffer to an IDAT chunk's claimed length before reading it: this
// 121-byte PNG made it allocate 2 GiB.
TEST(FuzzRegressions, PngChunkClaimingMoreThanTheFile) {
  const std::string path = corpus("fuzz_image/regress-png-idat-claims-1gib");
  const std::string msg = error_of([&] { data::decode_image(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "PNG chunk 'IDAT' at byte 89 claims 1308622856 bytes, the file has 24"))
      << msg;
}

TEST(FuzzRegressions, ShardWithSuchAPngMember) {
  const std::string path = write_bytes("png-000000.tar", [] {
    std::ifstream f(corpus("fuzz_shards/regress-png-member-idat-claims-1gib"), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }());
  const std::string msg = error_of([&] {
    data::ShardDataset ds(path);
    data::Example<> ex;
    auto stream = ds.stream(data::WorkerInfo{});
    while (stream->next(ex)) {
    }
  });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "claims 1308622856 bytes")) << msg;
}

// A DHT segment whose 16 counts sum to 590: stb_image 2.27 wrote past its 257-byte table.
TEST(FuzzRegressions, JpegHuffmanTableOfMoreThan256Codes) {
  const std::string path = corpus("fuzz_image/regress-jpeg-huffman-table-590-codes");
  const std::string msg = error_of([&] { data::decode_image(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "declares 590 codes; a table holds at most 256")) << msg;
}

// The same table behind 0xFF fill bytes before the start-of-image marker, which stb skips
// (a JPEG to stb, but not to the check, which looked for FF D8 at byte 0; UBSan in
// `ctest -L fuzz`, scripts/sanitize asan).
TEST(FuzzRegressions, JpegHuffmanTableBehindFillBytesBeforeTheSoi) {
  const std::string path = corpus("fuzz_image/regress-jpeg-fill-bytes-before-soi");
  const std::string msg = error_of([&] { data::decode_image(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "codes; a table holds at most 256")) << msg;
}

// A progressive JPEG whose AC scan is cut short by a marker: stb 2.27 went on with fewer bits
// than a code needs, its bit count went negative and it shifted by 33 (UBSan in
// `ctest -L fuzz`, scripts/sanitize asan; stb issue 1293, fixed in 2.28). JPEG is now
// libjpeg-turbo's, which reports the segment's premature end: an error, not a padded image.
TEST(FuzzRegressions, JpegProgressiveScanCutShortByAMarker) {
  const std::string path = corpus("fuzz_image/regress-jpeg-progressive-scan-cut-short-by-marker");
  const std::string msg = error_of([&] { data::decode_image(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "(libjpeg)")) << msg;
}

// A PNG whose IDAT chunk is empty: stb 2.27 copied its zero bytes from a null buffer
// (memcpy's argument declared nonnull: UBSan in `ctest -L fuzz`). PNG is now libpng's, which
// reads empty chunks as the standard allows; this one's CRC is wrong, which libpng reports.
// (tests/data/image_test.cpp decodes a valid PNG with empty IDAT chunks.)
TEST(FuzzRegressions, PngEmptyDataChunk) {
  const std::string path = corpus("fuzz_image/regress-png-empty-idat-chunk");
  const std::string msg = error_of([&] { data::decode_image(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "IDAT: CRC error (libpng)")) << msg;
}

// A PNM header of width 0: stb decoded it into an empty buffer, copied from with memcpy.
TEST(FuzzRegressions, PnmOfWidthZero) {
  const std::string path = corpus("fuzz_image/regress-pnm-width-0");
  const std::string msg = error_of([&] { data::decode_image(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "decodes to an empty 0x0 image")) << msg;
}

// stb fills a truncated TGA (also JPEG, BMP, PNM, PSD, HDR, PIC) with zeros: 115 bytes of
// run-length TGA claiming 6148 x 6168 pixels cost 114 MB and seconds of decoding.
TEST(FuzzRegressions, TgaClaimingMorePixelsThanItsBytesHold) {
  const std::string path = corpus("fuzz_image/regress-tga-rle-115-bytes-claims-38m-pixels");
  const std::string msg = error_of([&] { data::decode_image(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "claims 6148x6168 = 37920864 pixels in 115 bytes")) << msg;
}

// The pixels-per-byte bound leaves real images alone: blank ones compress best.
TEST(FuzzRegressions, BlankImagesStillDecode) {
  const Tensor blank = zeros({1, 2048, 2048}, TensorOptions(kByte));
  const std::string png = temp_path("blank.png"), jpg = temp_path("blank.jpg");
  data::write_png(png, blank, 9);
  data::write_jpeg(jpg, blank, 50);
  EXPECT_EQ(data::decode_image(png).sizes(), IntArrayRef({1, 2048, 2048}));
  EXPECT_EQ(data::decode_image(jpg, data::ImageReadMode::GRAY).sizes(), IntArrayRef({1, 2048, 2048}));  // stb writes YCbCr
}

// stb_image 2.27 converted a 16-bit PNM's channels as if it were 8-bit, then read twice the
// bytes it had allocated; such files now convert after decoding, as stb converts 8-bit ones.
TEST(FuzzRegressions, SixteenBitPnmInAnotherChannelCount) {
  const std::string path = corpus("fuzz_image/regress-pnm16-gray-as-rgb");
  const Tensor gray = data::decode_image(path);
  ASSERT_EQ(gray.sizes(), IntArrayRef({1, 2, 4}));
  const Tensor rgb = data::decode_image(path, data::ImageReadMode::RGB);
  ASSERT_EQ(rgb.sizes(), IntArrayRef({3, 2, 4}));
  for (int64_t c = 0; c < 3; ++c) EXPECT_TRUE(rgb[c].to(kLong).equal(gray[0].to(kLong))) << c;
  const Tensor ga = data::decode_image(path, data::ImageReadMode::GRAY_ALPHA);
  EXPECT_EQ(ga[1][0][0].item<int64_t>(), 255);
}

// ... and left the samples a truncated PNM lacks uninitialised.
TEST(FuzzRegressions, TruncatedPnm) {
  const std::string path = corpus("fuzz_image/regress-pnm16-truncated");
  const std::string msg = error_of([&] { data::decode_image(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "claims 4x2 pixels of 2 bytes, the file has 2 after the header"))
      << msg;
  const std::string huge = write_bytes("huge.pgm", "P5\n99999999999 1\n255\n\x01");
  EXPECT_TRUE(contains(error_of([&] { data::decode_image(huge); }), "width has more than 9 digits"));
}

// A Constant node without an output: the importer read its first output (protobuf aborts).
TEST(FuzzRegressions, OnnxNodeWithoutOutput) {
  const std::string path = corpus("fuzz_onnx/regress-constant-without-output");
  const std::string msg = error_of([&] { io::import_onnx(path); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "(Constant, opset 13)") && contains(msg, "the node has no output"))
      << msg;
}

// Found by the seeds: stb reports a top-down BMP's height negative, which the size check took
// for 2^64 - 2 pixels.
TEST(FuzzRegressions, TopDownBmpDecodes) {
  const Tensor img = data::decode_image(corpus("fuzz_image/bgra32-2x2-topdown.bmp"));
  ASSERT_EQ(img.sizes(), IntArrayRef({4, 2, 2}));
  EXPECT_EQ(img[0][0][0].item<int64_t>(), 3);   // red of the first stored row, which is the top one
  EXPECT_EQ(img[0][1][0].item<int64_t>(), 11);
  EXPECT_EQ(img[3][1][1].item<int64_t>(), 16);  // alpha
}

// A tar header's size field (11 octal digits: up to 8 GiB) was allocated before it was
// compared with what the file holds, for a member's data and for a GNU long-name record.
TEST(FuzzRegressions, TarMemberClaimingGigabytes) {
  for (char type : {'0', 'L'}) {
    std::string h = data::tar::header("00000000.png", 6442450965);
    h[156] = type;
    std::fill(h.begin() + 148, h.begin() + 156, ' ');
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    char field[8];
    std::snprintf(field, sizeof(field), "%06o", sum);
    std::copy(field, field + 7, h.begin() + 148);
    const std::string path = write_bytes(std::string("huge-") + type + ".tar", h + data::tar::end_of_archive());
    data::tar::Reader reader(path);
    data::tar::Member m;
    const std::string msg = error_of([&] { reader.next(m); });
    EXPECT_TRUE(contains(msg, path) && contains(msg, "truncated (header says 6442450965 bytes, 1024 left)"))
        << type << ": " << msg;
  }
}

// A pax record "4 4 18446744073709551612 x": the second length wrapped at + len around to 0,
// and the reader went back to the first record forever (found reading the code the fuzzer
// ran; fuzz_shards replays it).
TEST(FuzzRegressions, TarPaxRecordLengthWrapsAround) {
  const std::string path = corpus("fuzz_shards/regress-pax-length-wraps-around");
  data::tar::Reader reader(path);
  data::tar::Member m;
  const std::string msg = error_of([&] { reader.next(m); });
  EXPECT_TRUE(contains(msg, path) && contains(msg, "corrupt pax header")) << msg;
}

// A checkpoint with NaN weights resumed and trained: the cross-entropy kernel converted the
// NaN exponent of exp(NaN) to int (undefined). The loss of a row with a NaN logit stays NaN.
TEST(FuzzRegressions, CrossEntropyOfANanLogitIsNan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t at : {0, 1, 2}) {
    std::vector<float> row = {0.5f, -1.0f, 2.0f};
    row[static_cast<size_t>(at)] = nan;
    const Tensor loss = F::cross_entropy(tensor(row).view({1, 3}), tensor(std::vector<int64_t>{0}));
    EXPECT_TRUE(std::isnan(loss.item<float>())) << "NaN logit at " << at;
  }
}

// A shard index whose integer fields hold a number no integer type holds (1e300: nlohmann's
// get<uint64_t>() casts the double, which is undefined) or a negative count (-1 became
// 2^64 - 1 samples): each is refused naming the file and the field.
TEST(FuzzRegressions, ShardIndexIntegerFieldsAreRangeChecked) {
  struct Case {
    std::string file, expect;
  };
  for (const Case& c : {Case{"regress-bytes-a-huge-double.json", "field 'shards.bytes': expected an integer, got 1e+300"},
                        Case{"regress-samples-negative.json", "field 'shards.samples': -1 is out of range"}}) {
    const std::string path = corpus("fuzz_shard_index/" + c.file);
    const std::string msg = error_of([&] { data::load_shard_index(path); });
    EXPECT_TRUE(contains(msg, path) && contains(msg, c.expect)) << c.file << ": " << msg;
  }
  // More samples than 512-byte tar headers fit in the shard's bytes.
  const std::string text = [] {
    std::ifstream f(corpus("fuzz_shard_index/train.json"));
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const size_t at = s.find("\"samples\": 2,\n   \"stats\"");
    return s.replace(at, 13, "\"samples\": 11,");
  }();
  const std::string path = write_bytes("train.json", text);
  const std::string msg = error_of([&] { data::load_shard_index(path); });
  EXPECT_TRUE(contains(msg, "11 samples cannot fit in 5120 bytes")) << msg;
}
