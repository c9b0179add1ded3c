// `cnnkit train / eval / predict` on each task the loss implies: regression (MSELoss) and
// multi-label (BCEWithLogitsLoss) runs end to end, with their own metrics, checkpoint
// monitor and predictions; and a CSV of 0-255 pixel values whose model predicts PNG files
// of the same pixels correctly (the input scale is part of the run).
#include <gtest/gtest.h>

#include <fstream>

#include "cli/cli_util.h"
#include "cnnkit/data/image.h"

using namespace cnnkit;
using namespace cnnkit::test::cli;
using cnnkit::test::contains;
namespace fs = std::filesystem;

namespace {

// (N, 1, 8, 8) float images in [0, 1]; every pixel of example i is noise plus a level.
struct Arrays {
  Tensor x, y;
};

// Regression: the target is the mean pixel value times 10.
Arrays regression_data(int64_t n, uint64_t seed) {
  Generator gen(seed);
  Arrays a{empty({n, 1, 8, 8}), empty({n})};
  float* px = a.x.data_ptr<float>();
  float* py = a.y.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    const float level = static_cast<float>(gen.next_u32() % 1000) / 1000.0f;
    double sum = 0;
    for (int64_t j = 0; j < 64; ++j) {
      px[i * 64 + j] = 0.5f * level + 0.5f * static_cast<float>(gen.next_u32() % 1000) / 1000.0f;
      sum += px[i * 64 + j];
    }
    py[i] = static_cast<float>(10 * sum / 64);
  }
  return a;
}

// Multi-label: 3 labels, label j on when quadrant j of the 8x8 image is bright.
Arrays multilabel_data(int64_t n, uint64_t seed) {
  Generator gen(seed);
  Arrays a{empty({n, 1, 8, 8}), zeros({n, 3})};
  float* px = a.x.data_ptr<float>();
  float* py = a.y.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) {
    bool on[3];
    for (int j = 0; j < 3; ++j) on[j] = gen.next_u32() % 2 == 1;
    for (int j = 0; j < 3; ++j) py[i * 3 + j] = on[j] ? 1.0f : 0.0f;
    for (int64_t r = 0; r < 8; ++r)
      for (int64_t c = 0; c < 8; ++c) {
        const int q = (r / 4) * 2 + c / 4;  // quadrant 0..3; quadrant 3 is never a label
        const float noise = static_cast<float>(gen.next_u32() % 100) / 500.0f;
        px[i * 64 + r * 8 + c] = (q < 3 && on[q] ? 0.8f : 0.0f) + noise;
      }
  }
  return a;
}

std::string npy_config(const std::string& name, const std::string& dir, const Arrays& train, const Arrays& test,
                       const std::string& rest) {
  fs::create_directories(dir);
  io::save_npy(dir + "/xtr.npy", train.x);
  io::save_npy(dir + "/ytr.npy", train.y);
  io::save_npy(dir + "/xte.npy", test.x);
  io::save_npy(dir + "/yte.npy", test.y);
  return write(name, "data:\n"
                     "  dataset: npy\n"
                     "  paths: {train_images: " + dir + "/xtr.npy, train_labels: " + dir + "/ytr.npy,\n"
                     "          test_images: " + dir + "/xte.npy, test_labels: " + dir + "/yte.npy}\n"
                     "  batch_size: 32\n"
                     "  workers: 1\n"
                     "  split: {val: 0.25, stratified: false}\n"
                     "output_dir: " + dir + "/run\n" + rest);
}

double value_after(const std::string& text, const std::string& key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return NAN;
  return std::stod(text.substr(at + key.size()));
}

}  // namespace

TEST(CliTasks, RegressionTrainsEvaluatesAndPredicts) {
  const std::string dir = test::temp_path("reg");
  const std::string cfg = npy_config("reg.yaml", dir, regression_data(512, 1), regression_data(128, 2),
                                     "model:\n  layers: [Flatten, Linear: {out_features: 1}]\n"
                                     "loss: MSELoss\n"
                                     "optimizer: {name: Adam, lr: 0.05}\n"
                                     "early_stopping: {monitor: val_r2, patience: 50}\n"
                                     "epochs: 30\n");
  const Result r = run("train -q " + cfg);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "test mse: ")) << r.out;
  const std::string summary = read_all(dir + "/run/summary.txt");
  EXPECT_TRUE(contains(summary, "val_r2")) << summary;
  EXPECT_FALSE(contains(summary, "confusion matrix")) << summary;
  EXPECT_TRUE(contains(summary, "early stopping: did not stop")) << summary;
  const double r2 = value_after(summary, "  r2 ");
  EXPECT_GT(r2, 0.9) << summary;  // a linear model of a linear target
  // The best checkpoint watched the validation loss, not an accuracy.
  EXPECT_TRUE(fs::exists(dir + "/run/checkpoints/best.safetensors"));

  const Result e = run("eval " + dir + "/run");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_TRUE(contains(e.out, "mse ")) << e.out;
  EXPECT_TRUE(contains(e.out, "r2 ")) << e.out;
  EXPECT_FALSE(contains(e.out, "top-5")) << e.out;
  EXPECT_NEAR(value_after(e.out, "r2 "), r2, 1e-3) << e.out << summary;

  // An 8x8 gray PNG of level 255: mean pixel 1.0 after ToTensor -> output near 10.
  Tensor img = full({1, 8, 8}, 255.0).to(kByte);
  const std::string png = dir + "/white.png";
  data::write_png(png, img);
  const Result p = run("predict " + dir + "/run " + png);
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_NEAR(value_after(p.out, "output[0] = "), 10.0, 1.5) << p.out;
}

TEST(CliTasks, MultiLabelTrainsEvaluatesAndPredicts) {
  const std::string dir = test::temp_path("ml");
  const std::string cfg = npy_config("ml.yaml", dir, multilabel_data(512, 3), multilabel_data(128, 4),
                                     "model:\n  layers: [Flatten, Linear: {out_features: 3}]\n"
                                     "loss: BCEWithLogitsLoss\n"
                                     "optimizer: {name: Adam, lr: 0.05}\n"
                                     "epochs: 15\n");
  const Result r = run("train -q " + cfg);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string summary = read_all(dir + "/run/summary.txt");
  EXPECT_TRUE(contains(summary, "micro F1")) << summary;
  EXPECT_TRUE(contains(summary, "val_microF1")) << summary;
  EXPECT_GT(value_after(summary, "subset accuracy "), 90.0) << summary;  // percent; the quadrants are easy

  const Result e = run("eval " + dir + "/run");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_TRUE(contains(e.out, "hamming loss")) << e.out;
  EXPECT_FALSE(contains(e.out, "confusion matrix")) << e.out;

  // Quadrants 0 and 2 bright: labels 0 and 2 on (marked *), label 1 off.
  Tensor img = zeros({1, 8, 8}, kByte);
  for (int64_t r8 = 0; r8 < 8; ++r8)
    for (int64_t c = 0; c < 8; ++c)
      if ((r8 < 4 && c < 4) || (r8 >= 4 && c < 4)) img.data_ptr<uint8_t>()[r8 * 8 + c] = 204;
  const std::string png = dir + "/q02.png";
  data::write_png(png, img);
  const Result p = run("predict " + dir + "/run " + png + " -k 3");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_TRUE(contains(p.out, "(0)  *")) << p.out;
  EXPECT_TRUE(contains(p.out, "(2)  *")) << p.out;
  EXPECT_FALSE(contains(p.out, "(1)  *")) << p.out;
}

// data.target: input: an autoencoder (Conv2d down, ConvTranspose2d up) learns to reproduce its
// 8x8 inputs; every test metric is a per-pixel one, and predict prints the reconstruction.
TEST(CliTasks, AutoencoderReconstructsItsInput) {
  const std::string dir = test::temp_path("ae");
  const std::string cfg = npy_config(
      "ae.yaml", dir, regression_data(512, 5), regression_data(128, 6),
      "model:\n  layers:\n"
      "    - Conv2d: {out_channels: 8, kernel_size: 3, stride: 2, padding: 1}\n"
      "    - ReLU\n"
      "    - ConvTranspose2d: {out_channels: 1, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}\n"
      "loss: MSELoss\n"
      "optimizer: {name: Adam, lr: 0.01}\n"
      "epochs: 15\n");
  // The labels file holds scalars; the run must not read them as targets.
  std::string text = read_all(cfg);
  text.replace(text.find("  dataset: npy\n"), 14, "  dataset: npy\n  target: input\n  normalize: none\n");
  { std::ofstream(cfg) << text; }
  const Result r = run("train -q " + cfg);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string summary = read_all(dir + "/run/summary.txt");
  EXPECT_TRUE(contains(read_all(dir + "/run/config.yaml"), "target: input")) << read_all(dir + "/run/config.yaml");
  // Per-pixel values in [0, 1] with variance ~0.03: a reconstruction explains most of it.
  ASSERT_NE(summary.find("test: mse "), std::string::npos) << summary;
  const std::string test_line = summary.substr(summary.find("test: mse "));
  EXPECT_LT(value_after(test_line, "mse "), 0.01) << summary;
  EXPECT_GT(value_after(test_line, "r2 "), 0.7) << summary;

  const Result e = run("eval " + dir + "/run");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NEAR(value_after(e.out, "r2 "), value_after(test_line, "r2 "), 1e-3) << e.out << summary;

  // A flat gray image comes back as 64 values near its level.
  Tensor img = full({1, 8, 8}, 128.0).to(kByte);
  const std::string png = dir + "/gray.png";
  data::write_png(png, img);
  const Result p = run("predict " + dir + "/run " + png);
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_TRUE(contains(p.out, "output[63] = ")) << p.out;
  EXPECT_NEAR(value_after(p.out, "output[27] = "), 128.0 / 255.0, 0.15) << p.out;
}

TEST(CliTasks, InputTargetNeedsARegressionLoss) {
  const std::string cfg = write("aece.yaml", "data: {dataset: fashion-mnist, target: input}\nmodel: lenet5\n");
  const Result r = run("info " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "aece.yaml:1")) << r.err;
  EXPECT_TRUE(contains(r.err, "data.target: input makes each example's input its own target")) << r.err;
  EXPECT_TRUE(contains(r.err, "the loss is CrossEntropyLoss")) << r.err;
  const Result bad = run("info " + write("aebad.yaml", "data: {dataset: fashion-mnist, target: pixels}\n"));
  EXPECT_EQ(bad.code, 1);
  EXPECT_TRUE(contains(bad.err, "target")) << bad.err;
  EXPECT_TRUE(contains(bad.err, "pixels")) << bad.err;
}

TEST(CliTasks, MonitorThatTheTaskDoesNotLogIsAConfigError) {
  const std::string cfg = write("mon.yaml", "model: lenet5\nloss: MSELoss\nearly_stopping: {monitor: val_accuracy}\n");
  const Result r = run("info " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "val_accuracy is not logged by a regression run")) << r.err;
}

TEST(CliTasks, CsvPixelModelPredictsPngsOfTheSamePixels) {
  // The tiny band dataset (4 classes) as a CSV of 0-255 pixel values.
  const std::string dir = test::temp_path("csvpx");
  fs::create_directories(dir);
  write_dataset(dir + "/npy", 512, 5);
  const Tensor x = io::load_npy(dir + "/npy/x.npy"), y = io::load_npy(dir + "/npy/y.npy");
  auto csv = [&](const std::string& path, int64_t from, int64_t n) {
    std::ofstream f(path);
    f << "label";
    for (int j = 0; j < 784; ++j) f << ",p" << j;
    f << "\n";
    for (int64_t i = from; i < from + n; ++i) {
      f << y.data_ptr<int64_t>()[i];
      for (int j = 0; j < 784; ++j) f << "," << static_cast<int>(x.data_ptr<uint8_t>()[i * 784 + j]);
      f << "\n";
    }
  };
  csv(dir + "/train.csv", 0, 448);
  csv(dir + "/test.csv", 448, 64);
  const std::string cfg = write("csvpx.yaml", "data:\n  dataset: csv\n  image_shape: [1, 28, 28]\n"
                                              "  paths: {train: " + dir + "/train.csv, test: " + dir + "/test.csv}\n"
                                              "  batch_size: 32\n  workers: 1\n"
                                              "model: {zoo: lenet5, in_channels: 1, num_classes: 4}\n"
                                              "optimizer: {name: SGD, lr: 0.05, momentum: 0.9}\n"
                                              "epochs: 2\noutput_dir: " + dir + "/run\n");
  const Result r = run("train -q " + cfg);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(read_all(dir + "/run/config.yaml"), "input_values: pixels")) << read_all(dir + "/run/config.yaml");
  EXPECT_GT(value_after(r.out, "test accuracy: "), 90.0) << r.out;

  // One PNG per class, the same kind of band: each must come out as its class.
  for (int c = 0; c < 4; ++c) {
    Tensor img = zeros({1, 28, 28}, kByte);
    for (int64_t row = 7 * c; row < 7 * c + 7; ++row)
      for (int64_t k = 0; k < 28; ++k) img.data_ptr<uint8_t>()[row * 28 + k] = 200;
    const std::string png = dir + "/band" + std::to_string(c) + ".png";
    data::write_png(png, img);
    const Result p = run("predict " + dir + "/run/model.safetensors " + png + " -k 1");
    ASSERT_EQ(p.code, 0) << p.err;
    // Appended, not "(" + std::to_string(c): GCC 12 at -O3 warns -Wrestrict on that
    // operator+ inside libstdc++ (a known GCC 12 false positive), which -Werror fails.
    std::string label = "(";
    label += std::to_string(c);
    label += ")";
    EXPECT_TRUE(contains(p.out, label)) << "class " << c << ":\n" << p.out;
  }
}

TEST(CliTasks, CsvWithANanCellFailsAtLoadNamingLineAndColumn) {
  const std::string dir = test::temp_path("csvnan");
  fs::create_directories(dir);
  std::string text = "label,a,b,c,d\n";
  for (int i = 0; i < 20; ++i) text += std::to_string(i % 2) + (i == 6 ? ",1,nan,3,4\n" : ",1,2,3,4\n");
  write("csvnan/train.csv", text);
  write("csvnan/test.csv", "label,a,b,c,d\n0,1,2,3,4\n1,1,2,3,4\n");
  const std::string cfg = write("csvnan.yaml", "data:\n  dataset: csv\n  image_shape: [1, 2, 2]\n"
                                               "  paths: {train: " + dir + "/train.csv, test: " + dir + "/test.csv}\n"
                                               "model:\n  layers: [Flatten, Linear: {out_features: 2}]\n"
                                               "output_dir: " + dir + "/run\n");
  const Result r = run("train -q " + cfg);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.err, dir + "/train.csv:8")) << r.err;  // header + 6 rows before it
  EXPECT_FALSE(fs::exists(dir + "/run"));
  // clean: true drops the row and says so.
  const Result c = run("train -q " + cfg + " --set data.clean=true");
  EXPECT_EQ(c.code, 0) << c.err;
  EXPECT_TRUE(contains(c.out, "non-finite")) << c.out;
}
