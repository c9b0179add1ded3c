// Files whose headers lie about their size: each reader rejects them with an error naming
// the file before allocating what the header claims, so a hostile file costs its own bytes
// of memory, not gigabytes. Peak memory is measured (getrusage's max RSS, this process runs
// one test) and must stay within 64 MiB of what it was before the read.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "cnnkit/cnnkit.h"
#include "cnnkit/io/npy.h"
#include "cnnkit/train/config.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::be32;
using cnnkit::test::contains;
using cnnkit::test::message_of;
using cnnkit::test::png_chunk;
using cnnkit::test::write_bytes;

namespace {

int64_t max_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A gzip stream deflated a piece at a time.
class Gzip {
 public:
  explicit Gzip(int level) {
    EXPECT_EQ(deflateInit2(&zs_, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  }
  ~Gzip() { deflateEnd(&zs_); }
  void add(const std::string& bytes, bool last = false) {
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    zs_.avail_in = static_cast<uInt>(bytes.size());
    do {
      zs_.next_out = reinterpret_cast<Bytef*>(out_.data());
      zs_.avail_out = static_cast<uInt>(out_.size());
      deflate(&zs_, last ? Z_FINISH : Z_NO_FLUSH);
      gz.append(out_.data(), out_.size() - zs_.avail_out);
    } while (zs_.avail_out == 0);
  }
  std::string gz;

 private:
  z_stream zs_{};
  std::string out_ = std::string(1 << 16, '\0');
};

std::string gzip(const std::string& bytes) {
  Gzip g(6);
  g.add(bytes, true);
  return g.gz;
}

// Runs `read`, which must throw a cnnkit::Error whose message holds `expect`, within 64 MiB.
void expect_rejected_cheaply(const std::function<void()>& read, const std::string& expect) {
  const int64_t before = max_rss_kib();
  const std::string msg = message_of(read);
  EXPECT_TRUE(contains(msg, expect)) << msg;
  EXPECT_LT(max_rss_kib() - before, 64 * 1024) << "peak memory grew by " << (max_rss_kib() - before) << " KiB";
}

}  // namespace

TEST(HostileFiles, SafetensorsHeaderClaimingTenGigabytes) {
  const std::string path = write_bytes("ten_gb.safetensors", le64(10'000'000'000ULL) + "{}");
  expect_rejected_cheaply([&] { io::load_safetensors(path); }, "header length 10000000000");
}

TEST(HostileFiles, SafetensorsTensorClaimingFortyGigabytes) {
  const std::string header =
      R"({"w":{"dtype":"F32","shape":[100000,100000],"data_offsets":[0,40000000000]}})";
  const std::string path = write_bytes("forty_gb.safetensors", le64(header.size()) + header + std::string(64, '\0'));
  expect_rejected_cheaply([&] { io::load_safetensors(path); }, path);
}

TEST(HostileFiles, NpyShapeClaimingTwoBillionImages) {
  std::string header = "{'descr': '|u1', 'fortran_order': False, 'shape': (2147483648, 28, 28), }";
  header.resize(118, ' ');
  header += '\n';
  const std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size() & 0xff) +
                            static_cast<char>(header.size() >> 8) + header + std::string(100, '\0');
  const std::string path = write_bytes("huge.npy", bytes);
  expect_rejected_cheaply([&] { io::load_npy(path); }, path);
}

TEST(HostileFiles, IdxHeaderClaimingTwoBillionImages) {
  const std::string bytes = std::string("\0\0\x08\x03", 4) + be32(0x80000000u) + be32(28) + be32(28) + "abcd";
  const std::string path = write_bytes("huge-idx3-ubyte", bytes);
  expect_rejected_cheaply([&] { data::read_idx(path); }, "truncated");
}

TEST(HostileFiles, GzipBombBehindASmallIdxHeader) {
  // The header claims 10 images of 28 x 28 (7,856 bytes with it); the gzip stream inflates
  // to 256 MiB of zeros from about 250 KiB.
  Gzip g(9);
  std::string chunk = std::string("\0\0\x08\x03", 4) + be32(10) + be32(28) + be32(28);
  chunk.resize(1 << 20, '\0');
  for (int i = 0; i < 256; ++i) {
    g.add(chunk, i == 255);
    if (i == 0) chunk.assign(1 << 20, '\0');
  }
  const std::string gz = g.gz;
  ASSERT_LT(gz.size(), 1u << 20);
  const std::string path = write_bytes("bomb-idx3-ubyte.gz", gz);
  expect_rejected_cheaply([&] { data::read_idx(path); }, "inflates past the 7856 bytes its IDX header claims");
}

// The other side of the same rule: a real gzipped IDX file costs its tensor and little
// more. Fashion-MNIST's 47 MB of images used to pass through the compressed file and a
// decompressed copy on their way into the tensor (120 MB at the peak, kept by malloc).
TEST(HostileFiles, GzipIdxIsInflatedStraightIntoItsTensor) {
  const uint32_t n = 60000;  // Fashion-MNIST's training images: 47,040,000 bytes
  std::string gz;
  {
    Gzip g(1);
    g.add(std::string("\0\0\x08\x03", 4) + be32(n) + be32(28) + be32(28));
    std::string image;
    for (uint32_t i = 0; i < n; ++i) {  // image i: every pixel (i + row) % 251
      image.clear();
      for (uint32_t r = 0; r < 28; ++r) image.append(28, static_cast<char>((i + r) % 251));
      g.add(image, i + 1 == n);
    }
    gz = std::move(g.gz);
  }
  const std::string path = write_bytes("big-idx3-ubyte.gz", gz);
  gz = std::string();
  const int64_t before = max_rss_kib();
  Tensor images = data::read_idx(path);
  const int64_t grew = max_rss_kib() - before;
  ASSERT_EQ(images.sizes(), (std::vector<int64_t>{n, 28, 28}));
  const auto* px = images.data_ptr<uint8_t>();
  for (uint32_t i : {0u, 1u, 250u, 251u, 31337u, n - 1})
    for (uint32_t r : {0u, 27u}) EXPECT_EQ(px[(i * 28 + r) * 28 + 5], (i + r) % 251) << i << " " << r;
  // The tensor's 45,938 KiB, plus the reader's buffers (1 MiB of input, zlib's window).
  EXPECT_LT(grew, 45938 + 8 * 1024) << "reading 45,938 KiB of images raised the peak by " << grew << " KiB";
}

TEST(HostileFiles, GzipIdxInSeveralMembersOrDamaged) {
  // gzip -c a >f; gzip -c b >>f: one file of two members, read as their concatenation.
  std::string idx = std::string("\0\0\x08\x02", 4) + be32(3) + be32(4);
  for (int i = 0; i < 12; ++i) idx += static_cast<char>(i * 7);
  const std::string two = gzip(idx.substr(0, 10)) + gzip(idx.substr(10));
  Tensor t = data::read_idx(write_bytes("two-members-idx2-ubyte.gz", two));
  ASSERT_EQ(t.sizes(), (std::vector<int64_t>{3, 4}));
  for (int i = 0; i < 12; ++i) EXPECT_EQ(t.data_ptr<uint8_t>()[i], i * 7);

  // The stream is parsed as it inflates: a damaged one is still reported as damaged gzip
  // data (its CRC), not as the bad header or short body its garbage first looks like.
  std::string bad = gzip(idx);
  bad[bad.size() - 8] = static_cast<char>(bad[bad.size() - 8] ^ 0x5a);  // the CRC32 trailer
  std::string msg = message_of([&] { data::read_idx(write_bytes("bad-crc-idx2-ubyte.gz", bad)); });
  EXPECT_TRUE(contains(msg, "bad-crc-idx2-ubyte.gz") && contains(msg, "corrupt gzip data")) << msg;
  // A member cut short, then a stray byte after a whole member.
  msg = message_of([&] { data::read_idx(write_bytes("cut-idx2-ubyte.gz", two.substr(0, two.size() - 3))); });
  EXPECT_TRUE(contains(msg, "truncated gzip data")) << msg;
  msg = message_of([&] { data::read_idx(write_bytes("stray-idx2-ubyte.gz", gzip(idx) + "x")); });
  EXPECT_TRUE(contains(msg, "stray-idx2-ubyte.gz") && contains(msg, "gzip")) << msg;
}

TEST(HostileFiles, PngsClaimingBillionsOfPixels) {
  // A valid signature and IHDR (8-bit gray, its CRC right), then a tiny IDAT.
  auto png = [](uint32_t side) {
    const std::string ihdr = be32(side) + be32(side) + std::string("\x08\x00\x00\x00\x00", 5);
    return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) +
           png_chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) + png_chunk("IEND", "");
  };
  // Both within libpng's own limit of a million pixels a side: the decompression-bomb limit
  // refuses them from the header, before a row is allocated.
  const std::string huge = write_bytes("huge.png", png(60000)), big = write_bytes("big.png", png(30000));
  expect_rejected_cheaply([&] { data::decode_image(huge); }, "claims 60000x60000 = 3600000000 pixels");
  expect_rejected_cheaply([&] { data::decode_image(big); }, "claims 30000x30000 = 900000000 pixels");
}

TEST(HostileFiles, YamlAliasBombIsRejectedWithoutExpanding) {
  // Billion laughs: nine levels of ten aliases each name 10^9 strings.
  std::ostringstream text;
  text << "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    text << 'a' << i << ": &a" << i << " [*a" << i - 1;
    for (int k = 1; k < 10; ++k) text << ", *a" << i - 1;
    text << "]\n";
  }
  const std::string yaml = text.str();
  const int64_t before = max_rss_kib();
  // The bomb as unknown keys, as a transform list the config walks, and as the model's layers.
  const std::string unknown = message_of([&] {
    train::parse_run_config(yaml + "data: {dataset: fashion-mnist}\nmodel: lenet5\n", "unknown.yaml");
  });
  EXPECT_TRUE(contains(unknown, "unknown.yaml")) << unknown;
  EXPECT_TRUE(contains(unknown, "alias bomb")) << unknown;
  const std::string transforms = message_of([&] {
    train::parse_run_config(yaml + "data: {dataset: fashion-mnist, transforms: {train: *a9}}\nmodel: lenet5\n",
                            "transforms.yaml");
  });
  EXPECT_TRUE(contains(transforms, "transforms.yaml")) << transforms;
  const std::string layers = message_of([&] {
    const std::string config = yaml + "data: {dataset: fashion-mnist}\nmodel: {layers: *a9}\n";
    models::build(train::parse_run_config(config, "layers.yaml").model, {1, 28, 28});
  });
  EXPECT_TRUE(contains(layers, "layers.yaml")) << layers;
  EXPECT_LT(max_rss_kib() - before, 64 * 1024);
}
