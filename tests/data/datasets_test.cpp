// Dataset readers on small files this test writes: IDX (raw and gzipped) and MNIST,
// CIFAR-10/100 binary batches, an ImageFolder with PNG, JPEG and BMP files and a corrupt
// one. Every corruption path is checked for an IOError naming the file and the problem.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "cnnkit/data/datasets/cifar.h"
#include "cnnkit/data/datasets/image_folder.h"
#include "cnnkit/data/datasets/mnist.h"
#include "cnnkit/data/image.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::data;
using cnnkit::test::be32;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::fresh_dir;
using cnnkit::test::temp_path;
namespace fs = std::filesystem;

namespace {

void write_file(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gz(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

// An IDX file of unsigned bytes with the given dims.
std::string idx_u8(const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s = std::string("\0\0\x08", 3) + static_cast<char>(dims.size());
  for (uint32_t d : dims) s += be32(d);
  return s + data;
}

// n images of h x w whose pixel (i, r, c) is (i * 7 + r * w + c) % 256; labels i % 10.
std::string mnist_images(uint32_t n, uint32_t h, uint32_t w) {
  std::string px;
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t p = 0; p < h * w; ++p) px += static_cast<char>((i * 7 + p) % 256);
  return idx_u8({n, h, w}, px);
}
std::string mnist_labels(uint32_t n) {
  std::string l;
  for (uint32_t i = 0; i < n; ++i) l += static_cast<char>(i % 10);
  return idx_u8({n}, l);
}

}  // namespace

// ---- IDX -------------------------------------------------------------------------------

TEST(ReadIdx, RawAndGzipGiveTheSameTensor) {
  std::string bytes = mnist_images(3, 2, 4);
  std::string raw = temp_path("x.idx"), gz = temp_path("x.idx.gz");
  write_file(raw, bytes);
  write_gz(gz, bytes);
  for (const std::string& p : {raw, gz}) {
    Tensor t = read_idx(p);
    EXPECT_EQ(t.scalar_type(), kByte);
    EXPECT_EQ(t.sizes(), IntArrayRef({3, 2, 4}));
    EXPECT_EQ(t.data_ptr<uint8_t>()[0], 0);
    EXPECT_EQ(t.data_ptr<uint8_t>()[8 + 5], 7 + 5);  // image 1, pixel 5
  }
}

TEST(ReadIdx, WiderTypesAreBigEndianAndConverted) {
  // int (0x0C): -2, 70000; float (0x0D): 1.5; double (0x0E): -0.25
  std::string ints = std::string("\0\0\x0C\x01", 4) + be32(2) + be32(static_cast<uint32_t>(-2)) + be32(70000);
  write_file(temp_path("i.idx"), ints);
  Tensor i = read_idx(temp_path("i.idx"));
  EXPECT_EQ(i.scalar_type(), kLong);
  EXPECT_EQ(i.data_ptr<int64_t>()[0], -2);
  EXPECT_EQ(i.data_ptr<int64_t>()[1], 70000);

  std::string f = std::string("\0\0\x0D\x01", 4) + be32(1) + std::string("\x3f\xc0\x00\x00", 4);
  write_file(temp_path("f.idx"), f);
  EXPECT_EQ(read_idx(temp_path("f.idx")).item<float>(), 1.5f);

  std::string d = std::string("\0\0\x0E\x00", 4) + std::string("\xbf\xd0\0\0\0\0\0\0", 8);  // 0-dim
  write_file(temp_path("d.idx"), d);
  Tensor dt = read_idx(temp_path("d.idx"));
  EXPECT_EQ(dt.dim(), 0);
  EXPECT_EQ(dt.item<float>(), -0.25f);

  std::string s8 = std::string("\0\0\x09\x01", 4) + be32(2) + "\xff\x05";
  write_file(temp_path("s8.idx"), s8);
  Tensor sb = read_idx(temp_path("s8.idx"));
  EXPECT_EQ(sb.data_ptr<int64_t>()[0], -1);
  EXPECT_EQ(sb.data_ptr<int64_t>()[1], 5);
}

TEST(ReadIdx, CorruptionIsAnIOErrorNamingFileAndProblem) {
  std::string p = temp_path("bad.idx");
  std::string good = mnist_images(2, 3, 3);

  std::string msg = error_of([&] { read_idx(temp_path("nope.idx")); });
  EXPECT_TRUE(contains(msg, "nope.idx") && contains(msg, "no such file")) << msg;
  EXPECT_THROW(read_idx(temp_path("nope.idx")), IOError);

  write_file(p, "\x12\x34" + good.substr(2));
  msg = error_of([&] { read_idx(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "bad magic 0x12340803")) << msg;
  EXPECT_THROW(read_idx(p), IOError);

  write_file(p, std::string("\0\0\x07\x03", 4) + good.substr(4));
  msg = error_of([&] { read_idx(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "unknown element type byte 0x7")) << msg;

  write_file(p, good.substr(0, good.size() - 1));
  msg = error_of([&] { read_idx(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "truncated") && contains(msg, "[2, 3, 3]")) << msg;
  EXPECT_THROW(read_idx(p), IOError);

  write_file(p, good.substr(0, 9));  // inside the dims
  msg = error_of([&] { read_idx(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "truncated")) << msg;

  write_file(p, good + "xx");
  msg = error_of([&] { read_idx(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "2 bytes after the data")) << msg;

  // A gzip stream cut short, and one with a damaged body.
  write_gz(p, good);
  std::ifstream in(p, std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  write_file(p, gz.substr(0, gz.size() / 2));
  msg = error_of([&] { read_idx(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "truncated gzip")) << msg;
  std::string damaged = gz;
  for (size_t k = 12; k < damaged.size() - 8; ++k) damaged[k] = static_cast<char>(0xff);
  write_file(p, damaged);
  msg = error_of([&] { read_idx(p); });
  EXPECT_TRUE(contains(msg, p) && contains(msg, "gzip")) << msg;
  EXPECT_THROW(read_idx(p), IOError);

  // Dims whose product overflows: reported as truncated, no huge allocation.
  write_file(p, std::string("\0\0\x08\x03", 4) + be32(0xffffffff) + be32(0xffffffff) + be32(0xffffffff));
  EXPECT_THROW(read_idx(p), IOError);
}

// ---- MNIST -----------------------------------------------------------------------------

TEST(MNIST, ReadsRawAndGzipFilesWithViewsPerExample) {
  std::string root = fresh_dir("mnist");
  write_file(root + "/train-images-idx3-ubyte", mnist_images(12, 28, 28));
  write_gz(root + "/train-labels-idx1-ubyte.gz", mnist_labels(12));
  write_gz(root + "/t10k-images-idx3-ubyte.gz", mnist_images(5, 28, 28));
  write_file(root + "/t10k-labels-idx1-ubyte", mnist_labels(5));

  datasets::MNIST train(root);
  EXPECT_TRUE(train.is_train());
  EXPECT_EQ(train.size().value(), 12u);
  EXPECT_EQ(train.classes().size(), 10u);
  EXPECT_EQ(train.classes()[3], "3 - three");
  auto ex = train.get(11);  // LibTorch's MNIST: float32 in [0, 1]
  EXPECT_EQ(ex.data.sizes(), IntArrayRef({1, 28, 28}));
  EXPECT_EQ(ex.data.scalar_type(), kFloat);
  EXPECT_EQ(ex.data.data_ptr<float>()[0], static_cast<float>((11 * 7) % 256) / 255.0f);
  EXPECT_EQ(ex.data.data_ptr<float>()[300], static_cast<float>((11 * 7 + 300) % 256) / 255.0f);
  EXPECT_EQ(train.images().scalar_type(), kByte);
  EXPECT_EQ(ex.target.dim(), 0);
  EXPECT_EQ(ex.target.scalar_type(), kLong);
  EXPECT_EQ(ex.target.item<int64_t>(), 1);
  EXPECT_EQ(train.labels()[9], 9);
  EXPECT_EQ(train.images().sizes(), IntArrayRef({12, 1, 28, 28}));
  EXPECT_THROW(train.get(12), ValueError);

  datasets::MNIST test(root, datasets::MNIST::Mode::kTest);
  EXPECT_FALSE(test.is_train());
  EXPECT_EQ(test.size().value(), 5u);
  EXPECT_EQ(test.get(4).target.item<int64_t>(), 4);
}

TEST(MNIST, FindsTorchvisionLayoutAndFashionClassNames) {
  std::string root = fresh_dir("fmnist");
  write_gz(root + "/FashionMNIST/raw/train-images-idx3-ubyte.gz", mnist_images(3, 28, 28));
  write_gz(root + "/FashionMNIST/raw/train-labels-idx1-ubyte.gz", mnist_labels(3));
  datasets::FashionMNIST ds(root);
  EXPECT_EQ(ds.size().value(), 3u);
  EXPECT_EQ(ds.classes()[0], "T-shirt/top");
  EXPECT_EQ(ds.classes()[9], "Ankle boot");
  EXPECT_EQ(ds.get(0).data.scalar_type(), kByte);  // torchvision's: uint8 until ToTensor
}

TEST(MNIST, MissingMismatchedAndCorruptFilesAreIOErrors) {
  std::string root = fresh_dir("mnist_bad");
  std::string msg = error_of([&] { datasets::MNIST ds(root); });
  EXPECT_TRUE(contains(msg, "cannot find 'train-images-idx3-ubyte'") && contains(msg, root)) << msg;
  EXPECT_THROW(datasets::MNIST ds(root), IOError);

  write_file(root + "/train-images-idx3-ubyte", mnist_images(4, 28, 28));
  write_file(root + "/train-labels-idx1-ubyte", mnist_labels(3));
  msg = error_of([&] { datasets::MNIST ds(root); });
  EXPECT_TRUE(contains(msg, "holds 4 images") && contains(msg, "holds 3 labels") &&
              contains(msg, "train-labels-idx1-ubyte"))
      << msg;
  EXPECT_THROW(datasets::MNIST ds(root), IOError);

  // Labels where images belong: the magic says so.
  write_file(root + "/train-images-idx3-ubyte", mnist_labels(4));
  msg = error_of([&] { datasets::MNIST ds(root); });
  EXPECT_TRUE(contains(msg, "train-images-idx3-ubyte") && contains(msg, "bad magic 0x801")) << msg;

  std::string trunc = mnist_images(4, 28, 28);
  write_file(root + "/train-images-idx3-ubyte", trunc.substr(0, trunc.size() - 100));
  write_file(root + "/train-labels-idx1-ubyte", mnist_labels(4));
  msg = error_of([&] { datasets::MNIST ds(root); });
  EXPECT_TRUE(contains(msg, "train-images-idx3-ubyte") && contains(msg, "truncated")) << msg;
}

// ---- CIFAR -----------------------------------------------------------------------------

namespace {
// n records; record i: labels (i % 10) [and fine (i * 3) % 100], pixel p = (i + p) % 256.
std::string cifar_records(int n, int label_bytes, int offset) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    int k = i + offset;
    if (label_bytes == 2) s += static_cast<char>(k % 20);
    s += static_cast<char>(label_bytes == 2 ? (k * 3) % 100 : k % 10);
    for (int p = 0; p < 3072; ++p) s += static_cast<char>((k + p) % 256);
  }
  return s;
}
}  // namespace

TEST(CIFAR10, ReadsTheFiveTrainBatchesInOrderAndTheTestBatch) {
  std::string root = fresh_dir("cifar10");
  std::string dir = root + "/cifar-10-batches-bin";
  for (int b = 1; b <= 5; ++b) write_file(dir + "/data_batch_" + std::to_string(b) + ".bin", cifar_records(3, 1, (b - 1) * 3));
  write_file(dir + "/test_batch.bin", cifar_records(2, 1, 100));

  datasets::CIFAR10 train(root);
  EXPECT_EQ(train.size().value(), 15u);
  EXPECT_EQ(train.classes()[0], "airplane");
  auto ex = train.get(13);  // batch 5, record 1: k = 13
  EXPECT_EQ(ex.data.sizes(), IntArrayRef({3, 32, 32}));
  EXPECT_EQ(ex.target.item<int64_t>(), 3);
  EXPECT_EQ(ex.data.data_ptr<uint8_t>()[0], 13);
  EXPECT_EQ(ex.data.data_ptr<uint8_t>()[1024 + 5], (13 + 1024 + 5) % 256);  // green plane

  datasets::CIFAR10 test(dir, datasets::CIFAR10::Mode::kTest);
  EXPECT_EQ(test.size().value(), 2u);
  EXPECT_EQ(test.get(1).target.item<int64_t>(), 101 % 10);
}

TEST(CIFAR100, FineLabelsByDefaultCoarseOnRequest) {
  std::string root = fresh_dir("cifar100");
  write_file(root + "/cifar-100-binary/train.bin", cifar_records(4, 2, 0));
  datasets::CIFAR100 fine(root);
  EXPECT_EQ(fine.classes().size(), 100u);
  EXPECT_EQ(fine.get(3).target.item<int64_t>(), 9);
  EXPECT_EQ(fine.get(3).data.data_ptr<uint8_t>()[0], 3);
  datasets::CIFAR100 coarse(root, datasets::CIFAR100::Mode::kTrain, datasets::CIFAR100::Label::kCoarse);
  EXPECT_EQ(coarse.classes().size(), 20u);
  EXPECT_EQ(coarse.get(3).target.item<int64_t>(), 3);
  EXPECT_EQ(coarse.labels(), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(CIFAR10, MissingTruncatedAndBadLabelFilesAreIOErrors) {
  std::string root = fresh_dir("cifar_bad");
  std::string msg = error_of([&] { datasets::CIFAR10 ds(root); });
  EXPECT_TRUE(contains(msg, "cannot find 'data_batch_1.bin'")) << msg;
  EXPECT_THROW(datasets::CIFAR10 ds(root), IOError);

  for (int b = 1; b <= 5; ++b) write_file(root + "/data_batch_" + std::to_string(b) + ".bin", cifar_records(1, 1, 0));
  write_file(root + "/data_batch_3.bin", cifar_records(2, 1, 0).substr(0, 5000));
  msg = error_of([&] { datasets::CIFAR10 ds(root); });
  EXPECT_TRUE(contains(msg, "data_batch_3.bin") && contains(msg, "5000 bytes is not a whole number of 3073-byte"))
      << msg;

  std::string bad = cifar_records(2, 1, 0);
  bad[3073] = 42;  // record 1's label
  write_file(root + "/data_batch_3.bin", bad);
  msg = error_of([&] { datasets::CIFAR10 ds(root); });
  EXPECT_TRUE(contains(msg, "data_batch_3.bin") && contains(msg, "record 1 has label 42")) << msg;
  EXPECT_THROW(datasets::CIFAR10 ds(root), IOError);

  std::remove((root + "/data_batch_4.bin").c_str());
  msg = error_of([&] { datasets::CIFAR10 ds(root); });
  EXPECT_TRUE(contains(msg, "data_batch_4.bin") && contains(msg, "no such file")) << msg;
}

// ---- ImageFolder -------------------------------------------------------------------------

namespace {
// (C, H, W) uint8 with value (c * 50 + h * W + w) % 256.
Tensor test_image(int64_t C, int64_t H, int64_t W) {
  Tensor t = empty({C, H, W}, TensorOptions(kByte));
  uint8_t* p = t.data_ptr<uint8_t>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < H * W; ++i) p[c * H * W + i] = static_cast<uint8_t>((c * 50 + i) % 256);
  return t;
}
}  // namespace

TEST(ImageFolder, ListsClassesSortedAndDecodesPngJpegBmpLazily) {
  std::string root = fresh_dir("folder");
  Tensor rgb = test_image(3, 5, 7), gray = test_image(1, 4, 6);
  for (const char* d : {"/dog", "/cat/sub", "/.hidden_is_a_class_too_in_torchvision"}) fs::create_directories(root + d);
  write_png(root + "/dog/b.png", rgb);
  write_bmp(root + "/cat/z.BMP", rgb);
  write_png(root + "/cat/a.png", gray);
  write_jpeg(root + "/cat/sub/c.jpg", rgb, 95);
  write_file(root + "/cat/notes.txt", "not an image");
  write_png(root + "/.hidden_is_a_class_too_in_torchvision/x.png", gray);

  datasets::ImageFolder ds(root);
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{".hidden_is_a_class_too_in_torchvision", "cat", "dog"}));
  EXPECT_EQ(ds.class_to_idx().at("dog"), 2);
  ASSERT_EQ(ds.size().value(), 5u);
  // torchvision's order: cat/a.png, cat/z.BMP (dir "cat"), then cat/sub/c.jpg, then dog.
  EXPECT_EQ(fs::path(ds.samples()[1].first).filename(), "a.png");
  EXPECT_EQ(fs::path(ds.samples()[2].first).filename(), "z.BMP");
  EXPECT_EQ(fs::path(ds.samples()[3].first).filename(), "c.jpg");
  EXPECT_EQ(ds.labels(), (std::vector<int64_t>{0, 1, 1, 1, 2}));

  // Gray PNG converted to RGB: three equal planes.
  auto a = ds.get(1);
  EXPECT_EQ(a.data.sizes(), IntArrayRef({3, 4, 6}));
  EXPECT_EQ(a.target.item<int64_t>(), 1);
  const uint8_t* ap = a.data.data_ptr<uint8_t>();
  for (int i = 0; i < 24; ++i) ASSERT_TRUE(ap[i] == i && ap[24 + i] == i && ap[48 + i] == i) << i;

  auto bmp = ds.get(2);
  EXPECT_TRUE(bmp.data.equal(rgb));
  auto png = ds.get(4);
  EXPECT_TRUE(png.data.equal(rgb));
  EXPECT_EQ(png.target.item<int64_t>(), 2);
  auto jpg = ds.get(3);  // lossy: close, not equal
  EXPECT_EQ(jpg.data.sizes(), IntArrayRef({3, 5, 7}));
  EXPECT_LT(test::max_abs_diff(jpg.data.to(kFloat), rgb.to(kFloat)), 40.0);

  // UNCHANGED keeps the file's single channel.
  datasets::ImageFolder raw(root, {".png"}, ImageReadMode::UNCHANGED);
  EXPECT_EQ(raw.size().value(), 3u);
  EXPECT_EQ(raw.get(1).data.sizes(), IntArrayRef({1, 4, 6}));
}

TEST(ImageFolder, CorruptFileThrowsFromGetNamingTheFileAndReason) {
  std::string root = fresh_dir("folder_bad");
  fs::create_directories(root + "/a");
  write_png(root + "/a/ok.png", test_image(3, 2, 2));
  write_file(root + "/a/broken.png", "\x89PNG\r\n\x1a\n garbage that is not a png");
  datasets::ImageFolder ds(root);
  ASSERT_EQ(ds.size().value(), 2u);
  std::string msg = error_of([&] { ds.get(0); });  // broken.png sorts first
  EXPECT_TRUE(contains(msg, root + "/a/broken.png") && contains(msg, "cannot decode")) << msg;
  EXPECT_THROW(ds.get(0), IOError);
  EXPECT_EQ(ds.get(1).data.sizes(), IntArrayRef({3, 2, 2}));
}

TEST(ImageFolder, EmptyRootsAndClassesAreIOErrors) {
  std::string root = fresh_dir("folder_empty");
  std::string msg = error_of([&] { datasets::ImageFolder ds(root); });
  EXPECT_TRUE(contains(msg, "couldn't find any class folder") && contains(msg, root)) << msg;
  fs::create_directories(root + "/cls");
  write_file(root + "/cls/readme.txt", "x");
  msg = error_of([&] { datasets::ImageFolder ds(root); });
  EXPECT_TRUE(contains(msg, "found no valid file for the classes cls") && contains(msg, ".png")) << msg;
  EXPECT_THROW(datasets::ImageFolder ds(root), IOError);
  msg = error_of([&] { datasets::ImageFolder ds(root + "/nope"); });
  EXPECT_TRUE(contains(msg, "is not a directory")) << msg;
}
