// What the CLI tests share: running the `cnnkit` executable as a subprocess with its output
// captured, writing small files, and a tiny synthetic dataset with a run config over it.
#pragma once

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "cnnkit/core/rng.h"
#include "cnnkit/io/npy.h"
#include "cnnkit/ops/factory.h"
#include "test_util.h"

#ifndef CNNKIT_CLI_PATH
#define CNNKIT_CLI_PATH "../bin/cnnkit"
#endif
#ifndef CNNKIT_SOURCE_DIR
#define CNNKIT_SOURCE_DIR "."
#endif

namespace cnnkit::test::cli {

using namespace cnnkit;
namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out, err;
};

inline std::string read_all(const std::string& path) { return test::read_bytes(path); }

// Runs `cnnkit <args>` with stdout and stderr captured to files; `env` ("NAME=value ...") is
// set for it.
inline Result run(const std::string& args, const std::string& env = "") {
  static int n = 0;
  const std::string out = test::temp_path("out" + std::to_string(n)), err = test::temp_path("err" + std::to_string(n));
  ++n;
  const std::string cmd = std::string("CNNKIT_NUM_THREADS=1 ") + env + " " + CNNKIT_CLI_PATH + " " + args + " >" + out +
                          " 2>" + err + " </dev/null";
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_all(out);
  r.err = read_all(err);
  return r;
}

inline std::string write(const std::string& name, const std::string& text) {
  const std::string path = test::temp_path(name);
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// 4 classes of 1x28x28 uint8 images: class c has a bright horizontal band in rows 7c..7c+6,
// plus noise, so a LeNet-5 learns it in one short epoch.
inline void write_dataset(const std::string& dir, int64_t n, uint64_t seed) {
  fs::create_directories(dir);
  Tensor x = empty({n, 1, 28, 28}, kByte);
  Tensor y = empty({n}, kLong);
  Generator gen(seed);
  uint8_t* px = x.data_ptr<uint8_t>();
  int64_t* py = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 4;
    py[i] = c;
    for (int64_t r = 0; r < 28; ++r)
      for (int64_t k = 0; k < 28; ++k)
        px[(i * 28 + r) * 28 + k] = static_cast<uint8_t>((r / 7 == c ? 160 : 0) + gen.next_u32() % 80);
  }
  io::save_npy(dir + "/x.npy", x);
  io::save_npy(dir + "/y.npy", y);
}

// A tiny run config over the synthetic data; `extra` is appended (top-level keys).
inline std::string tiny_config(const std::string& name, const std::string& run_dir, const std::string& extra = "",
                        const std::string& optimizer = "{name: SGD, lr: 0.05, momentum: 0.9}") {
  static bool written = false;
  const std::string data = test::temp_path("data");
  if (!written) {
    write_dataset(data + "/train", 512, 1);
    write_dataset(data + "/test", 128, 2);
    written = true;
  }
  return write(name, "data:\n"
                     "  dataset: npy\n"
                     "  paths: {train_images: " + data + "/train/x.npy, train_labels: " + data + "/train/y.npy,\n"
                     "          test_images: " + data + "/test/x.npy, test_labels: " + data + "/test/y.npy}\n"
                     "  batch_size: 32\n"
                     "  workers: 1\n"
                     "  split: {val: 0.25}\n"
                     "model: {zoo: lenet5, in_channels: 1, num_classes: 4}\n"
                     "optimizer: " + optimizer + "\n"
                     "epochs: 1\n"
                     "output_dir: " + run_dir + "\n" + extra);
}

// One trained run shared by the tests that read it.
inline const std::string& trained_run() {
  static std::string dir = [] {
    const std::string d = test::temp_path("runs/tiny");
    const Result r = run("train -q " + tiny_config("tiny.yaml", d));
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    return d;
  }();
  return dir;
}

}  // namespace cnnkit::test::cli
