// `cnnkit shard` then `cnnkit train` with `data.dataset: shards`: the npy fixture and the
// Fashion-MNIST IDX files converted and trained for an epoch, validation from held-out shards,
// and the errors a user meets: a non-empty output directory, a bad --shard-size, split.val on
// a stream, a missing shard, a corrupt and a truncated shard during training.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_util.h"
#include "cnnkit/data/shards.h"
#include "cnnkit/train/shard.h"

namespace cnnkit::test::cli {
namespace {

std::string shards_config(const std::string& name, const std::string& paths, const std::string& run_dir,
                          const std::string& extra = "") {
  return write(name, "data:\n"
                     "  dataset: shards\n"
                     "  paths: {" + paths + "}\n"
                     "  shuffle_buffer: 64\n"
                     "  batch_size: 32\n"
                     "  workers: 2\n" + extra +
                     "model: {zoo: lenet5, in_channels: 1, num_classes: 4}\n"
                     "optimizer: {name: SGD, lr: 0.05, momentum: 0.9}\n"
                     "epochs: 1\n"
                     "threads: 1\n"
                     "output_dir: " + run_dir + "\n");
}

// The tiny npy dataset of cli_util.h as shards of 64 kB (512 train examples: several shards).
const std::string& npy_shards() {
  static const std::string dir = [] {
    const std::string d = test::temp_path("shards/npy");
    const Result r = run("shard " + tiny_config("src.yaml", test::temp_path("unused")) + " " + d + " --shard-size 256KB");
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_TRUE(contains(r.out, "train: 512 examples in 6 shards (1.3 MB), uint8 [1, 28, 28] as .png")) << r.out;
    EXPECT_TRUE(contains(r.out, "test: 128 examples in 2 shards")) << r.out;
    EXPECT_TRUE(contains(r.out, "dataset: shards")) << r.out;
    return d;
  }();
  return dir;
}

size_t count_shards(const std::string& dir, const std::string& prefix) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix + "-", 0) == 0 && e.path().extension() == ".tar") ++n;
  return n;
}

std::string last_shard(size_t n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06zu", n - 1);
  return buf;
}

// "dir/test-{000000..00000N}.tar": every shard of a split.
std::string all_of(const std::string& dir, const std::string& prefix) {
  return "\"" + dir + "/" + prefix + "-{000000.." + last_shard(count_shards(dir, prefix)) + "}.tar\"";
}

TEST(ShardCommand, NpyToShardsThenTrainAnEpochWithHeldOutValidationShards) {
  const std::string dir = npy_shards();
  const size_t n = count_shards(dir, "train");
  ASSERT_GE(n, 3u);
  EXPECT_TRUE(fs::exists(dir + "/train.json"));
  EXPECT_TRUE(fs::exists(dir + "/test.json"));
  // Every shard but the last trains; the last validates.
  const std::string train = dir + "/train-{000000.." + last_shard(n - 1) + "}.tar";
  const std::string run_dir = test::temp_path("runs/shards_npy");
  const Result r = run("train -q " + shards_config("shards.yaml", "train: \"" + train + "\", val: " + dir + "/train-" +
                                                                      last_shard(n) + ".tar, test: " +
                                                                      all_of(dir, "test"),
                                                  run_dir));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "data: shards (")) << r.out;
  EXPECT_TRUE(contains(r.out, "128 test examples")) << r.out;
  EXPECT_TRUE(contains(r.out, "(of the training shards)")) << r.out;  // normalize: auto from the index
  EXPECT_TRUE(contains(r.out, "val_accuracy")) << r.out;
  EXPECT_TRUE(contains(r.out, "test accuracy:")) << r.out;
  const std::string saved = read_all(run_dir + "/config.yaml");
  EXPECT_TRUE(contains(saved, "dataset: shards")) << saved;
  EXPECT_TRUE(contains(saved, "shuffle_buffer: 64")) << saved;
  // The run's model file evaluates on the test shards.
  const Result e = run("eval " + run_dir);
  EXPECT_EQ(e.code, 0) << e.out << e.err;
  EXPECT_TRUE(contains(e.out, "accuracy")) << e.out;
}

TEST(ShardCommand, FashionMnistIdxToShardsTrainsLeNetForAnEpoch) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(root)) GTEST_SKIP() << root << " is not installed";
  const std::string dir = test::temp_path("shards/fmnist");
  const Result s = run("shard " + std::string(CNNKIT_SOURCE_DIR) + "/configs/lenet5-fashion-mnist.yaml " + dir +
                       " --shard-size 1MB --set data.subset.train=3000 --set data.subset.test=500");
  ASSERT_EQ(s.code, 0) << s.out << s.err;
  EXPECT_TRUE(contains(s.out, "train: 3000 examples in ")) << s.out;
  EXPECT_TRUE(contains(s.out, "uint8 [1, 28, 28] as .png, 10 classes")) << s.out;
  const data::ShardIndex index = data::load_shard_index(dir + "/train.json");
  EXPECT_EQ(index.classes.front(), "T-shirt/top");
  const size_t n = count_shards(dir, "train");
  ASSERT_GE(n, 2u);
  const std::string run_dir = test::temp_path("runs/shards_fmnist");
  const Result r = run("train -q " + shards_config("fm.yaml",
                                                   "train: \"" + dir + "/train-{000000.." + last_shard(n) +
                                                       "}.tar\", test: " + all_of(dir, "test"),
                                                   run_dir) +
                       " --set model.num_classes=10");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "3000 train, 0 validation, 500 test examples")) << r.out;
  const size_t at = r.out.find("test accuracy: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  EXPECT_GT(std::stod(r.out.substr(at + 15)), 50.0) << r.out;  // one epoch of 3,000 images learns something
}

TEST(ShardCommand, RefusesANonEmptyDirectoryUnlessForced) {
  const std::string dir = test::temp_path("shards/occupied");
  fs::create_directories(dir);
  write("shards/occupied/notes.txt", "mine");
  const std::string cfg = tiny_config("src2.yaml", test::temp_path("unused2"));
  Result r = run("shard " + cfg + " " + dir + " --split test");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "is not empty")) << r.err;
  EXPECT_EQ(count_shards(dir, "test"), 0u);
  r = run("shard " + cfg + " " + dir + " --split test --force -q");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(count_shards(dir, "test"), 1u);
  EXPECT_EQ(count_shards(dir, "train"), 0u);  // --split test writes the test split only
  EXPECT_EQ(read_all(dir + "/notes.txt"), "mine");
}

TEST(ShardCommand, ShardSizeMustBeASize) {
  const std::string cfg = tiny_config("src3.yaml", test::temp_path("unused3"));
  Result r = run("shard " + cfg + " " + test::temp_path("shards/badsize") + " --shard-size 12XB");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--shard-size: '12XB' is not a size (e.g. 256MB, 1GB, 64KiB")) << r.err;
  EXPECT_FALSE(fs::exists(test::temp_path("shards/badsize")));
  EXPECT_EQ(train::parse_size("256MB"), 256000000u);
  EXPECT_EQ(train::parse_size("64KiB"), 65536u);
  EXPECT_EQ(train::parse_size("1gb"), 1000000000u);
  EXPECT_EQ(train::parse_size("1.5 MiB"), 1572864u);
  EXPECT_EQ(train::parse_size("4096"), 4096u);
}

TEST(ShardCommand, StreamedDataRefusesARandomValidationSplit) {
  const std::string dir = npy_shards();
  const Result r = run("train -q " + shards_config("val.yaml", "train: " + dir + "/train-000000.tar, test: " + dir +
                                                                   "/test-000000.tar",
                                                   test::temp_path("runs/val"), "  split: {val: 0.1}\n"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "val.yaml:")) << r.err;
  EXPECT_TRUE(contains(r.err, "cannot be split at random; give validation shards as data.paths.val")) << r.err;
}

TEST(ShardCommand, MissingCorruptAndTruncatedShardsNameTheFile) {
  const std::string src = npy_shards();
  const std::string dir = test::temp_path("shards/damaged");
  fs::remove_all(dir);
  fs::copy(src, dir);
  const size_t n = count_shards(dir, "train");
  const std::string all = "train: " + all_of(dir, "train") + ", test: " + all_of(dir, "test");
  // Missing: one more shard than there are.
  Result r = run("train -q " + shards_config("m.yaml", "train: \"" + dir + "/train-{000000.." + last_shard(n + 1) +
                                                           "}.tar\", test: " + dir + "/test-000000.tar",
                                             test::temp_path("runs/missing")));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "1 of " + std::to_string(n + 1) + " shards not found: " + dir + "/train-" +
                                  last_shard(n + 1) + ".tar"))
      << r.err;
  EXPECT_FALSE(fs::exists(test::temp_path("runs/missing/config.yaml")));  // refused before the run directory

  // Corrupt: a byte of the third member's header in shard 1.
  const std::string victim = dir + "/train-000001.tar";
  std::string bytes = read_all(victim);
  size_t header = 0;
  for (int m = 0; m < 2; ++m) {  // skip two members: header + data padded to 512
    const size_t size = std::stoul(bytes.substr(header + 124, 11), nullptr, 8);
    header += 512 + (size + 511) / 512 * 512;
  }
  bytes[header + 5] ^= 0x40;
  std::ofstream(victim, std::ios::binary) << bytes;
  r = run("train -q " + shards_config("c.yaml", all, test::temp_path("runs/corrupt")));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, victim + ": corrupt header")) << r.err;
  EXPECT_TRUE(contains(r.err, "checksum")) << r.err;

  // Truncated: shard 1 cut inside its third member's data (the index's size no longer holds:
  // the header scan at open reports it before training).
  bytes[header + 5] ^= 0x40;  // undo the corruption
  const size_t size = std::stoul(bytes.substr(header + 124, 11), nullptr, 8);
  const std::string name = bytes.substr(header, bytes.find('\0', header) - header);
  std::ofstream(victim, std::ios::binary | std::ios::trunc) << bytes.substr(0, header + 512 + size / 2);
  r = run("train -q " + shards_config("t.yaml", all, test::temp_path("runs/truncated")));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, victim + ": member " + name + ": truncated (header says " + std::to_string(size) +
                                  " bytes, " + std::to_string(size / 2) + " left)"))
      << r.err;
}

}  // namespace
}  // namespace cnnkit::test::cli
