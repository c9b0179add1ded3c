// cnnkit's ONNX files in the runtimes people deploy with: every exported model passes
// onnx.checker (full_check), runs in ONNX Runtime (onnxruntime-node, via tools/onnx/ort_run.js)
// and, where OpenCV 4.6's dnn module has the ops, in OpenCV, with cnnkit's outputs to 1e-4.
// And the whole path a user takes: train, `cnnkit export`, the Fashion-MNIST test split through
// ONNX Runtime and through `cnnkit predict --input`, the same top-1 for all 10,000 images.
// Needs what scripts/install-deps installs (nodejs, onnxruntime-node, python3-onnx, python3-opencv).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cnnkit/cnnkit.h"
#include "onnx_models.h"
#include "test_util.h"

using namespace cnnkit;

namespace {

const std::string kSource = CNNKIT_SOURCE_DIR;

struct Result {
  int code;
  std::string out;
};

Result run(const std::string& command) {
  Result r{-1, ""};
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

// ONNX Runtime's output for `in`, or a failure with its message.
Tensor ort(const std::string& model, const std::string& in, const std::string& out) {
  Result r = run("node " + q(kSource + "/tools/onnx/ort_run.js") + " " + q(model) + " " + q(in) + " " + q(out));
  EXPECT_EQ(r.code, 0) << r.out;
  return r.code == 0 ? io::load_npy(out) : Tensor();
}

Result checker(const std::string& model, const std::string& extra = "") {
  return run("/usr/bin/python3 " + q(kSource + "/tools/onnx/check_onnx.py") + " " + q(model) + " " + extra);
}

// OpenCV 4.6's dnn reads these families; the others use ops it lacks or reads differently
// (Clip with min/max inputs, broadcasting Div, LayerNormalization, PRelu per channel, the
// count_include_pad=0 border), tools/onnx's INDEX of the goldens lists them.
const std::set<std::string> kOpenCv = {"lenet5", "resnet20", "vgg_small", "resnet18", "conv", "global_pool", "linear"};

}  // namespace

TEST(OnnxRuntimes, EveryExportPassesTheCheckerAndMatchesOnnxRuntime) {
  for (auto& c : test::onnx_cases()) {
    for (int64_t opset : {13, 17}) {
      SCOPED_TRACE(c.name + " opset " + std::to_string(opset));
      const std::string base = test::temp_path(c.name + "_" + std::to_string(opset));
      manual_seed(5);
      const Tensor x = randn(c.input);
      io::save_npy(base + "_in.npy", x);
      io::export_onnx(*c.model, x, base + ".onnx", io::OnnxExportOptions().opset_version(opset));
      NoGradGuard no_grad;
      const Tensor expected = c.model->forward(x);

      Result meta = checker(base + ".onnx", "--print-meta");
      ASSERT_EQ(meta.code, 0) << meta.out;
      EXPECT_NE(meta.out.find("\"opset\":" + std::to_string(opset)), std::string::npos) << meta.out;
      EXPECT_NE(meta.out.find("\"shape\":[\"batch\""), std::string::npos) << meta.out;  // dynamic batch

      const Tensor y = ort(base + ".onnx", base + "_in.npy", base + "_ort.npy");
      if (y.defined()) {
        EXPECT_TRUE(test::allclose(y, expected, 1e-4, 1e-4));
      }
      if (kOpenCv.count(c.name) && opset == 13) {
        Result cv = checker(base + ".onnx", "--opencv " + q(base + "_in.npy") + " " + q(base + "_cv.npy"));
        ASSERT_EQ(cv.code, 0) << cv.out;
        EXPECT_TRUE(test::allclose(io::load_npy(base + "_cv.npy"), expected, 1e-4, 1e-4));
      }
    }
  }
}

TEST(OnnxRuntimes, OnnxRuntimeTakesAnyBatchSize) {
  auto c = test::onnx_cases().at(0);  // lenet5
  const std::string base = test::temp_path("batch");
  io::export_onnx(*c.model, randn({1, 1, 28, 28}), base + ".onnx");
  const Tensor x = randn({7, 1, 28, 28});
  io::save_npy(base + "_in.npy", x);
  NoGradGuard no_grad;
  const Tensor y = ort(base + ".onnx", base + "_in.npy", base + "_out.npy");
  ASSERT_TRUE(y.defined());
  EXPECT_TRUE(test::allclose(y, c.model->forward(x), 1e-4, 1e-4));
}

// The path of the README: train, export, deploy. Every test image through ONNX Runtime and
// through `cnnkit predict --input` (the run directory and the .onnx file): the same top-1.
TEST(OnnxRuntimes, TrainedLeNetGivesTheSameTop1OnTheWholeFashionMnistTestSplit) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const std::string cli = CNNKIT_CLI_PATH;
  const std::string dir = test::fresh_dir("lenet") + "/run";
  Result train = run(q(cli) + " train " + q(kSource + "/configs/lenet5-fashion-mnist.yaml") +
                     " --set epochs=1 --set data.subset.train=6000 --threads 2 -q --set output_dir=" + q(dir));
  ASSERT_EQ(train.code, 0) << train.out;
  const std::string onnx = dir + "/model.onnx";
  Result exp = run(q(cli) + " export " + q(dir) + " --onnx " + q(onnx));
  ASSERT_EQ(exp.code, 0) << exp.out;

  // The test images preprocessed as the metadata says: x / 255, then (x - mean) / std.
  Result meta = checker(onnx, "--print-meta");
  ASSERT_EQ(meta.code, 0) << meta.out;
  auto metadata = io::load_onnx_metadata(onnx);
  EXPECT_NE(metadata.at("classes").find("\"Ankle boot\""), std::string::npos) << metadata.at("classes");
  auto number = [](const std::string& list) { return std::stod(list.substr(1)); };  // "[0.286]"
  const double mean = number(metadata.at("mean")), std_ = number(metadata.at("std"));
  EXPECT_NEAR(mean, 0.286, 0.01);
  EXPECT_EQ(metadata.at("input_shape"), "[1, 28, 28]");
  data::datasets::FashionMNIST test_set(root, data::datasets::MNIST::Mode::kTest);
  const Tensor images = test_set.images();  // (10000, 1, 28, 28) uint8
  const Tensor x = (images.to(kFloat) / 255.0 - mean) / std_;
  io::save_npy(dir + "/x.npy", x.contiguous());

  const Tensor y_ort = ort(onnx, dir + "/x.npy", dir + "/y_ort.npy");
  ASSERT_TRUE(y_ort.defined());
  Result p1 = run(q(cli) + " predict " + q(dir) + " --input " + q(dir + "/x.npy") + " --output " + q(dir + "/y_run.npy"));
  ASSERT_EQ(p1.code, 0) << p1.out;
  Result p2 = run(q(cli) + " predict " + q(onnx) + " --input " + q(dir + "/x.npy") + " --output " +
                  q(dir + "/y_onnx.npy") + " --batch 999");
  ASSERT_EQ(p2.code, 0) << p2.out;
  const Tensor y_run = io::load_npy(dir + "/y_run.npy"), y_onnx = io::load_npy(dir + "/y_onnx.npy");
  ASSERT_EQ(y_ort.sizes(), (std::vector<int64_t>{10000, 10}));
  EXPECT_TRUE(test::allclose(y_ort, y_run, 1e-4, 1e-4));
  EXPECT_TRUE(test::allclose(y_onnx, y_run, 1e-4, 1e-4));
  const Tensor top_ort = y_ort.argmax(1), top_run = y_run.argmax(1);
  EXPECT_EQ(top_ort.eq(top_run).sum().item<int64_t>(), 10000);

  // And the accuracy from those outputs is what `cnnkit eval` reports: the preprocessing the
  // metadata describes is the training's.
  const double acc = top_run.eq(test_set.targets()).to(kFloat).mean().item<double>() * 100;
  Result ev = run(q(cli) + " eval " + q(dir));
  ASSERT_EQ(ev.code, 0) << ev.out;
  std::ostringstream want;
  want.precision(2);
  want << std::fixed << acc << "%";
  EXPECT_NE(ev.out.find(want.str()), std::string::npos) << "accuracy from the array " << want.str() << "\n" << ev.out;
}

TEST(OnnxRuntimes, CliExplainsBadInput) {
  const std::string cli = CNNKIT_CLI_PATH;
  auto c = test::onnx_cases().at(0);
  const std::string base = test::temp_path("bad");
  io::export_onnx(*c.model, randn({1, 1, 28, 28}), base + ".onnx");
  io::save_npy(base + "_wrong.npy", randn({2, 3, 28, 28}));
  Result r = run(q(cli) + " predict " + q(base + ".onnx") + " --input " + q(base + "_wrong.npy") + " --output " +
                 q(base + "_y.npy"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("[2, 3, 28, 28]"), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(base + "_y.npy"));

  std::ofstream(base + "_corrupt.onnx") << "garbage";
  io::save_npy(base + "_x.npy", randn({2, 1, 28, 28}));
  r = run(q(cli) + " predict " + q(base + "_corrupt.onnx") + " --input " + q(base + "_x.npy") + " --output " +
          q(base + "_y.npy"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("_corrupt.onnx"), std::string::npos) << r.out;

  r = run(q(cli) + " export " + q(kSource + "/configs/lenet5-fashion-mnist.yaml") + " --onnx " + q(base + "_c.onnx"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("is a config"), std::string::npos) << r.out;
}
