// The `cnnkit` executable, run as a subprocess: info, a tiny training run producing the run
// directory, eval and predict on its output, and the exit code and message of every user
// error (exit 1 with the message on stderr, 2 for usage; never a crash or a stack trace).
// The data are small synthetic .npy files, so the whole file runs in seconds.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cnnkit/core/rng.h"
#include "cnnkit/data/image.h"
#include "cnnkit/ops/factory.h"
#include "cnnkit/io/npy.h"
#include "cnnkit/io/safetensors.h"
#include "cli/cli_util.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::test::cli;
using cnnkit::test::contains;
namespace fs = std::filesystem;

TEST(Cli, InfoOnTheDefaultConfig) {
  const Result r = run(std::string("info ") + CNNKIT_SOURCE_DIR + "/configs/lenet5-fashion-mnist.yaml");
  ASSERT_EQ(r.code, 0) << r.err;
  // LeNet-5: 156 + 2,416 + 48,120 + 10,164 + 850 parameters (torch: sum(p.numel() for p in net.parameters()))
  EXPECT_TRUE(contains(r.out, "61706") || contains(r.out, "61,706")) << r.out;
}

// Every shipped config parses and builds its model (`cnnkit info` checks every key and runs
// the model on one input), so a README command never meets a config error.
TEST(Cli, EveryShippedConfigIsValid) {
  int seen = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(CNNKIT_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    ++seen;
    const Result r = run("info " + entry.path().string());
    EXPECT_EQ(r.code, 0) << entry.path() << ":\n" << r.err;
    EXPECT_TRUE(contains(r.out, "Total params")) << entry.path() << ":\n" << r.out;
  }
  EXPECT_GE(seen, 4);
}

TEST(Cli, TrainWritesTheRunDirectory) {
  const std::string& dir = trained_run();
  for (const char* f : {"config.yaml", "metrics.csv", "model.safetensors", "summary.txt",
                        "checkpoints/best.safetensors", "checkpoints/checkpoint_last.safetensors"})
    EXPECT_TRUE(fs::exists(fs::path(dir) / f)) << f;
  const std::string csv = read_all(dir + "/metrics.csv");
  EXPECT_TRUE(contains(csv, "train_loss")) << csv;
  const std::string summary = read_all(dir + "/summary.txt");
  EXPECT_TRUE(contains(summary, "confusion matrix")) << summary;
  EXPECT_TRUE(contains(summary, "wall time")) << summary;
  // the resolved config has the computed normalisation and reads back
  const std::string config = read_all(dir + "/config.yaml");
  EXPECT_TRUE(contains(config, "mean:")) << config;
  const Result info = run("info " + dir + "/config.yaml");
  EXPECT_EQ(info.code, 0) << info.err;
}

TEST(Cli, TrainEndsWithTheTestAccuracyLine) {
  const std::string d = test::temp_path("runs/line");
  const Result r = run("train -q " + tiny_config("line.yaml", d) + " --set epochs=2");
  ASSERT_EQ(r.code, 0) << r.err;
  const size_t at = r.out.rfind("test accuracy: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const double acc = std::stod(r.out.substr(at + 15));
  EXPECT_GT(acc, 90.0) << r.out;  // the bands are easy
  EXPECT_TRUE(contains(read_all(d + "/config.yaml"), "epochs: 2"));
}

TEST(Cli, EvalAndPredictOnTheRun) {
  const std::string& dir = trained_run();
  const Result e = run("eval " + dir);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_TRUE(contains(e.out, "accuracy")) << e.out;
  EXPECT_TRUE(contains(e.out, "confusion matrix")) << e.out;
  // the model file alone carries its config
  const Result e2 = run("eval " + dir + "/model.safetensors");
  EXPECT_EQ(e2.code, 0) << e2.err;

  // a class-2 image: band in rows 14..20
  Tensor img = zeros({1, 28, 28}, kByte);
  for (int64_t r = 14; r < 21; ++r)
    for (int64_t k = 0; k < 28; ++k) img.data_ptr<uint8_t>()[r * 28 + k] = 200;
  const std::string png = test::temp_path("band2.png");
  data::write_png(png, img);
  const Result p = run("predict " + dir + " " + png + " --top-k 3");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_TRUE(contains(p.out, png)) << p.out;
  EXPECT_TRUE(contains(p.out, "%")) << p.out;

  // --json: one object a line, the same top classes; an unreadable file is a line with its
  // error and the exit code says so.
  const std::string bad = write("not_an_image.png", "garbage");
  const Result pj = run("predict " + dir + " " + png + " " + bad + " --top-k 3 --json");
  EXPECT_EQ(pj.code, 1) << pj.err;
  std::istringstream lines(pj.out);
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const nlohmann::json first = nlohmann::json::parse(line);
  EXPECT_EQ(first["path"], png);
  ASSERT_EQ(first["top"].size(), 3u);
  EXPECT_EQ(first["outputs"].size(), 4u);  // 4 classes
  EXPECT_GE(first["top"][0]["probability"].get<double>(), first["top"][1]["probability"].get<double>());
  // The table's first line names the same class as the JSON's first entry.
  std::string needle = std::to_string(first["top"][0]["index"].get<int64_t>());
  needle.insert(0, 1, '(').push_back(')');
  std::istringstream table(p.out);
  std::string table_line;
  std::getline(table, table_line);  // the path
  std::getline(table, table_line);  // the most probable class
  EXPECT_TRUE(contains(table_line, needle)) << p.out;
  ASSERT_TRUE(std::getline(lines, line));
  const nlohmann::json second = nlohmann::json::parse(line);
  EXPECT_EQ(second["path"], bad);
  EXPECT_TRUE(second.contains("error")) << line;
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("train").code, 2);
  EXPECT_EQ(run("frobnicate").code, 2);
  EXPECT_EQ(run("--help").code, 0);
}

TEST(Cli, MissingConfigFile) {
  const Result r = run("train /nonexistent/config.yaml");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "config file not found: /nonexistent/config.yaml")) << r.err;
  EXPECT_FALSE(contains(r.err, "terminate")) << r.err;
}

TEST(Cli, UnknownKeyNamesFileAndLine) {
  const std::string cfg = write("typo.yaml", "model: lenet5\noptimizer:\n  name: SGD\n  momentun: 0.9\n");
  const Result r = run("train " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, cfg + ":4: unknown key 'momentun'")) << r.err;
  EXPECT_TRUE(contains(r.err, "did you mean 'momentum'")) << r.err;
}

TEST(Cli, WrongTypeNamesKeyAndLine) {
  const std::string cfg = write("type.yaml", "model: lenet5\nepochs: ten\n");
  const Result r = run("info " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, cfg + ":2: key 'epochs': expected an integer, got 'ten'")) << r.err;
  const Result s = run("train " + cfg + " --set epochs=abc");
  EXPECT_EQ(s.code, 1);
}

TEST(Cli, BadSetOverride) {
  const std::string cfg = write("ok.yaml", "model: lenet5\n");
  const Result r = run("info " + cfg + " --set optimizer.lr=fast");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--set optimizer.lr=fast")) << r.err;
  EXPECT_TRUE(contains(r.err, "key 'lr': expected a number, got 'fast'")) << r.err;
}

TEST(Cli, UnknownModelAndLayer) {
  const std::string cfg = write("zoo.yaml", "model:\n  zoo: lenet6\n");
  Result r = run("info " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, cfg + ":2:")) << r.err;
  EXPECT_TRUE(contains(r.err, "lenet6")) << r.err;
  const std::string layers = write("layer.yaml", "model:\n  layers:\n    - Conv2d: {out_channels: 6, kernel_size: 5}\n"
                                                 "    - Conv3d: {out_channels: 6, kernel_size: 5}\n");
  r = run("info " + layers);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, layers + ":4:")) << r.err;
  EXPECT_TRUE(contains(r.err, "Conv3d")) << r.err;
}

TEST(Cli, MissingDataFiles) {
  const std::string cfg = write("nodata.yaml", "data: {dataset: mnist, root: /nonexistent/mnist}\nmodel: lenet5\n");
  const Result r = run("train " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "/nonexistent/mnist")) << r.err;
}

TEST(Cli, CorruptIdxFiles) {
  const std::string dir = test::temp_path("badidx");
  fs::create_directories(dir);
  const std::string cfg = write("badidx.yaml", "data: {dataset: mnist, root: " + dir + "}\nmodel: lenet5\n");
  // labels: a good header for 2 items; images: bad magic
  write("badidx/train-labels-idx1-ubyte", std::string("\0\0\x08\x01\0\0\0\x02\x01\x02", 10));
  write("badidx/train-images-idx3-ubyte", std::string("\x12\x34\x08\x03\0\0\0\x02\0\0\0\x1c\0\0\0\x1c", 16));
  Result r = run("train " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "train-images-idx3-ubyte")) << r.err;
  // truncated: the header promises 2 images of 28x28, the file holds 10 bytes of pixels
  write("badidx/train-images-idx3-ubyte", std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x1c\0\0\0\x1c", 16) + std::string(10, 'x'));
  r = run("train " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "train-images-idx3-ubyte")) << r.err;
}

TEST(Cli, CheckpointFromAnotherModel) {
  const std::string& dir = trained_run();
  const std::string other = write("other.yaml", "model: {zoo: resnet8, in_channels: 1, num_classes: 4}\n"
                                                "data: {dataset: npy, image_shape: [1, 28, 28], paths: {train_images: a, "
                                                "train_labels: b, test_images: c, test_labels: d}}\n");
  const Result r = run("eval " + dir + "/checkpoints/checkpoint_last.safetensors --config " + other);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "checkpoint_last.safetensors")) << r.err;
  EXPECT_TRUE(contains(r.err, "another model")) << r.err;
}

TEST(Cli, ImageThatDoesNotDecode) {
  const std::string& dir = trained_run();
  const std::string bad = write("garbage.png", "this is not a png");
  const Result r = run("predict " + dir + " " + bad);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, bad)) << r.err;
}

TEST(Cli, NanLossStopsNamingTheStep) {
  const std::string d = test::temp_path("runs/nan");
  const Result r = run("train -q " + tiny_config("nan.yaml", d, "", "{name: SGD, lr: 1.0e+30}"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.err, "step")) << r.err;
  EXPECT_FALSE(contains(r.err, "terminate")) << r.err;
}

TEST(Cli, DetectAnomalyNamesTheBackwardThatMadeTheFirstNaN) {
  const std::string d = test::temp_path("runs/anomaly");
  const Result r =
      run("train -q " + tiny_config("anomaly.yaml", d, "detect_anomaly: true\n", "{name: SGD, lr: 1.0e+30}"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.err, "returned nan values in its 0th output")) << r.err;
  EXPECT_TRUE(contains(r.err, "Backward")) << r.err;
}

TEST(Cli, NanLossLeavesTheLastGoodCheckpointLoadable) {
  // epoch 1 trains normally; the schedule then multiplies the lr by 1e20 and epoch 2 diverges
  const std::string d = test::temp_path("runs/nan2");
  const Result r = run("train -q " + tiny_config("nan2.yaml", d, "scheduler: {name: ExponentialLR, gamma: 1.0e+20}\n") +
                       " --set epochs=2");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.err, "step")) << r.err;
  EXPECT_TRUE(contains(r.err, "checkpoint_last.safetensors")) << r.err;
  const Result e = run("eval " + d + "/checkpoints/checkpoint_last.safetensors");
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_TRUE(contains(e.out, "accuracy")) << e.out;
}

TEST(Cli, TrainWithMixupAndSwaShipsTheAverage) {
  const std::string d = test::temp_path("runs/mixswa");
  const Result r = run("train -q " +
                       tiny_config("mixswa.yaml", d,
                                   "mixup: {mixup_alpha: 0.2, cutmix_alpha: 1.0, label_smoothing: 0.1}\n"
                                   "swa: {swa_start: 0, swa_lr: 0.01, anneal_epochs: 1}\n") +
                       " --set epochs=3");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string summary = read_all(d + "/summary.txt");
  EXPECT_TRUE(contains(summary, "stochastic weight average of the epochs from 1 on")) << summary;
  EXPECT_TRUE(contains(summary, "batch mixing: mixup alpha 0.2, cutmix alpha 1")) << summary;
  EXPECT_TRUE(contains(read_all(d + "/metrics.csv"), "raw_val_loss"));
  const std::string config = read_all(d + "/config.yaml");
  EXPECT_TRUE(contains(config, "swa_start: 0")) << config;
  EXPECT_TRUE(contains(config, "cutmix_alpha: 1")) << config;
  // The shipped model is the average: eval of model.safetensors reproduces the run's test line.
  const size_t at = r.out.rfind("test accuracy: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const Result e = run("eval " + d);
  ASSERT_EQ(e.code, 0) << e.err;
  const std::string acc = r.out.substr(at + 15, 5);
  EXPECT_TRUE(contains(e.out, acc)) << r.out << "\n---\n" << e.out;
  // Temperature scaling fitted on the validation split: in the summary with its reliability
  // table, recorded in the model file, and applied by eval's calibrated line.
  EXPECT_TRUE(contains(summary, "calibration: temperature ")) << summary;
  EXPECT_TRUE(contains(summary, "reliability (top-1 probability bins")) << summary;
  EXPECT_TRUE(contains(e.out, "calibrated (temperature ")) << e.out;
  // A loss without class-probability targets cannot take mixed labels: refused by name.
  const Result bad = run("train -q " + tiny_config("mixbad.yaml", test::temp_path("runs/mixbad"),
                                                   "loss: {name: NLLLoss}\nmixup: {mixup_alpha: 0.2}\n"));
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "mixup: needs loss CrossEntropyLoss")) << bad.err;
}

TEST(Cli, BenchPrintsImagesPerSecond) {
  const Result r = run("bench --model lenet5 --batch 16 --steps 3 --warmup 1 --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "bench framework=cnnkit model=lenet5 batch=16 threads=1 steps=3 images_per_s=")) << r.out;
}

TEST(Cli, ResumeOfAMissingRun) {
  // Resuming an unfinished run: run_safety_test.cpp (CtrlCStopsAndNamesTheResumeCommand).
  const std::string cfg = tiny_config("resume.yaml", test::temp_path("runs/resume"));
  const Result missing = run("train -q " + cfg + " --resume " + test::temp_path("runs/none"));
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, "--resume")) << missing.err;
}
