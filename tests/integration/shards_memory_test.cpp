// Bounded memory: `cnnkit train` streams a shard set several times larger than a memory cap
// for an epoch with a peak RSS under the cap. The cap is the peak of the same run over a
// 64-example shard set (the program, its libraries, the model, the loader's buffers) plus
// 64 MiB for data; the big set is ~490 MB of float32 (3, 96, 96) examples as .npy members.
// The peak comes from the kernel (wait4's ru_maxrss: the child's VmHWM at exit). A run whose
// shuffle buffer holds the whole set shows the measurement would catch data kept in memory.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cnnkit/data/shards.h"
#include "cnnkit/ops/factory.h"
#include "test_util.h"

#ifndef CNNKIT_CLI_PATH
#define CNNKIT_CLI_PATH "../bin/cnnkit"
#endif

using namespace cnnkit;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kC = 3, kH = 96, kW = 96;

// n examples of 4 classes; class c's images are brighter in rows of band c, plus noise.
std::string write_set(const std::string& dir, const std::string& prefix, int64_t n, uint64_t seed) {
  data::ShardWriter w(dir, data::ShardWriterOptions().prefix(prefix).max_bytes(uint64_t{32} << 20));
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 4;
    Tensor x = empty({kC, kH, kW});
    float* p = x.data_ptr<float>();
    for (int64_t k = 0; k < kC * kH * kW; ++k) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      const int64_t row = (k / kW) % kH;
      p[k] = (row / 24 == c ? 0.6f : 0.1f) + static_cast<float>(state >> 40) / static_cast<float>(1 << 24) * 0.3f;
    }
    w.write(data::Example<>(x, full({}, c, kLong)));
  }
  const data::ShardIndex index = w.close();
  return dir + "/" + prefix + "-{000000.." + std::string(6 - std::to_string(index.shards.size() - 1).size(), '0') +
         std::to_string(index.shards.size() - 1) + "}.tar";
}

uint64_t bytes_of(const std::string& dir, const std::string& prefix) {
  uint64_t b = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind(prefix + "-", 0) == 0) b += e.file_size();
  return b;
}

struct Measured {
  int code = -1;
  long peak_kb = 0;  // ru_maxrss
  std::string out, err;
};

// Runs `cnnkit train CONFIG -q` as a child process and takes its peak RSS from wait4.
Measured train_measured(const std::string& config) {
  const std::string out = test::temp_path(fs::path(config).stem().string() + ".out"),
                    err = test::temp_path(fs::path(config).stem().string() + ".err");
  const pid_t pid = fork();
  if (pid == 0) {
    const int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fo, 1);
    ::dup2(fe, 2);
    ::setenv("CNNKIT_NUM_THREADS", "1", 1);
    execl(CNNKIT_CLI_PATH, CNNKIT_CLI_PATH, "train", config.c_str(), "-q", static_cast<char*>(nullptr));
    _exit(127);
  }
  Measured m;
  int status = 0;
  struct rusage ru {};
  EXPECT_EQ(wait4(pid, &status, 0, &ru), pid);
  m.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  m.peak_kb = ru.ru_maxrss;
  std::ifstream fo(out), fe(err);
  std::stringstream so, se;
  so << fo.rdbuf();
  se << fe.rdbuf();
  m.out = so.str();
  m.err = se.str();
  return m;
}

std::string config_for(const std::string& name, const std::string& train, const std::string& test,
                       int64_t shuffle_buffer = 16) {
  const std::string path = test::temp_path(name + ".yaml");
  std::ofstream(path) << "data:\n"
                         "  dataset: shards\n"
                         "  paths: {train: \"" << train << "\", test: \"" << test << "\"}\n"
                         "  shuffle_buffer: " << shuffle_buffer << "\n"
                         "  batch_size: 32\n"
                         "  eval_batch_size: 32\n"
                         "  workers: 2\n"
                         "model:\n"
                         "  layers: [AvgPool2d: {kernel_size: 8}, Flatten, Linear: {out_features: 4}]\n"
                         "loss: CrossEntropyLoss\n"
                         "optimizer: {name: SGD, lr: 0.1}\n"
                         "epochs: 1\n"
                         "threads: 1\n"
                         "output_dir: " << test::temp_path("runs/" + name) << "\n";
  return path;
}

}  // namespace

TEST(ShardsMemory, AnEpochOverShardsSeveralTimesTheCapStaysUnderIt) {
  const std::string dir = test::fresh_dir("rss");
  const std::string test_set = write_set(dir, "test", 64, 2);
  const std::string small = write_set(dir, "small", 64, 3);
  const std::string big = write_set(dir, "big", 4400, 1);

  const Measured base = train_measured(config_for("small", small, test_set));
  ASSERT_EQ(base.code, 0) << base.out << base.err;
  const Measured run = train_measured(config_for("big", big, test_set));
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_NE(run.out.find("data: shards (4400 train, 0 validation, 64 test examples)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("epoch 1/1"), std::string::npos) << run.out;

  const double mib = 1024.0 * 1024.0;
  const double cap = static_cast<double>(base.peak_kb) * 1024.0 + 64 * mib;
  const double shards = static_cast<double>(bytes_of(dir, "big"));
  const double peak = static_cast<double>(run.peak_kb) * 1024.0;
  std::cout << "shards " << shards / mib << " MiB; peak RSS " << peak / mib << " MiB (64 examples: "
            << static_cast<double>(base.peak_kb) / 1024.0 << " MiB); cap " << cap / mib << " MiB\n";
  EXPECT_GT(shards, 2.5 * cap) << "the shard set must be several times the cap for the test to mean anything";
  EXPECT_LT(peak, cap) << "peak RSS " << peak / mib << " MiB over " << shards / mib << " MiB of shards";

  // The measurement can fail: a shuffle buffer as large as the set holds all of it.
  const Measured hoard = train_measured(config_for("hoard", big, test_set, 4400));
  ASSERT_EQ(hoard.code, 0) << hoard.out << hoard.err;
  std::cout << "with shuffle_buffer 4400: peak RSS " << static_cast<double>(hoard.peak_kb) / 1024.0 << " MiB\n";
  EXPECT_GT(static_cast<double>(hoard.peak_kb) * 1024.0, cap);
}
