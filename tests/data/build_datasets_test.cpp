// train::build_datasets, the data side of a run: the test split numbered by the training
// classes (also when loaded alone, as `cnnkit eval` does), the target task taken from the
// loss, npy image layouts, non-finite values rejected or cleaned, and the report lines.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "cnnkit/data/dataset.h"
#include "cnnkit/data/image.h"
#include "cnnkit/io/npy.h"
#include "cnnkit/train/config.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::fresh_dir;
using cnnkit::test::temp_path;
namespace fs = std::filesystem;

namespace {

// root/<class>/<k>.png, two 3x4x4 images per class.
std::string image_folder(const std::string& name, const std::vector<std::string>& classes) {
  std::string root = fresh_dir(name);
  int seed = 0;
  for (const std::string& c : classes) {
    fs::create_directories(root + "/" + c);
    for (int k = 0; k < 2; ++k, ++seed) {
      Tensor img = empty({3, 4, 4}, TensorOptions(kByte));
      for (int64_t i = 0; i < img.numel(); ++i)
        img.data_ptr<uint8_t>()[i] = static_cast<uint8_t>((seed * 37 + i * 11) % 256);
      data::write_png(root + "/" + c + "/" + std::to_string(k) + ".png", img);
    }
  }
  return root;
}

train::RunConfig config(const std::string& data_yaml, const std::string& loss = "CrossEntropyLoss") {
  return train::parse_run_config("model: lenet5\nloss: " + loss + "\ndata:\n" + data_yaml +
                                     "  split: {val: 0}\n  workers: 0\n",
                                 "cfg.yaml");
}

std::vector<int64_t> test_labels(const train::RunData& d) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < d.test->size().value(); ++i) out.push_back(d.test->get(i).target.item<int64_t>());
  return out;
}

bool report_has(const train::RunData& d, const std::string& part) {
  for (const std::string& line : d.report)
    if (contains(line, part)) return true;
  return false;
}

std::string report_of(const train::RunData& d) {
  std::string s;
  for (const std::string& line : d.report) s += line + "\n";
  return s;
}

Tensor floats(std::vector<float> v, std::vector<int64_t> shape) {
  Tensor t = empty(shape, TensorOptions(kFloat));
  std::copy(v.begin(), v.end(), t.data_ptr<float>());
  return t;
}

// X (n, 1, 4, 4) uint8 with varied pixels.
Tensor npy_images(int64_t n) {
  Tensor x = empty({n, 1, 4, 4}, TensorOptions(kByte));
  for (int64_t i = 0; i < x.numel(); ++i) x.data_ptr<uint8_t>()[i] = static_cast<uint8_t>((i * 13) % 256);
  return x;
}

std::string npy_yaml(const std::string& dir) {
  return "  dataset: npy\n  paths: {train_images: " + dir + "/x.npy, train_labels: " + dir +
         "/y.npy, test_images: " + dir + "/x.npy, test_labels: " + dir + "/y.npy}\n";
}

}  // namespace

// ---- image-folder: class indices from the training split ----------------------------------

TEST(BuildDatasets, ImageFolderTestSplitMissingAClassKeepsTrainingIndices) {
  const std::string train_root = image_folder("bd_train", {"bag", "coat", "shirt"});
  const std::string test_root = image_folder("bd_test", {"coat", "shirt"});  // test/bag removed
  const std::string yaml = "  dataset: image-folder\n  paths: {train: " + train_root + ", test: " + test_root + "}\n";

  train::RunConfig cfg = config(yaml);
  train::RunData d = train::build_datasets(cfg);
  EXPECT_EQ(d.classes, (std::vector<std::string>{"bag", "coat", "shirt"}));
  EXPECT_EQ(test_labels(d), (std::vector<int64_t>{1, 1, 2, 2}));  // not {0, 0, 1, 1}

  // Only the test split (cnnkit eval): the training folder still gives the numbering.
  train::RunConfig eval_cfg = config(yaml);
  train::RunData e = train::build_datasets(eval_cfg, /*need_train=*/false);
  EXPECT_EQ(e.classes, (std::vector<std::string>{"bag", "coat", "shirt"}));
  EXPECT_EQ(test_labels(e), (std::vector<int64_t>{1, 1, 2, 2}));
}

TEST(BuildDatasets, ImageFolderClassesGivenByTheCallerWithoutATrainingFolder) {
  const std::string test_root = image_folder("bd_test_only", {"coat", "shirt"});
  const std::string yaml =
      "  dataset: image-folder\n  paths: {train: " + temp_path("bd_no_train") + ", test: " + test_root + "}\n";
  train::RunConfig cfg = config(yaml);
  cfg.data.classes = {"bag", "coat", "shirt"};  // e.g. from the model file's metadata
  train::RunData d = train::build_datasets(cfg, /*need_train=*/false);
  EXPECT_EQ(d.classes, cfg.data.classes);
  EXPECT_EQ(test_labels(d), (std::vector<int64_t>{1, 1, 2, 2}));

  // Neither given nor listable: numbered from the test folder, and the report says so.
  train::RunConfig bare = config(yaml);
  train::RunData b = train::build_datasets(bare, /*need_train=*/false);
  EXPECT_EQ(b.classes, (std::vector<std::string>{"coat", "shirt"}));
  EXPECT_TRUE(report_has(b, "numbered from the test split itself")) << report_of(b);
}

TEST(BuildDatasets, ImageFolderTestClassUnknownToTrainingFailsAtLoad) {
  const std::string train_root = image_folder("bd_train2", {"bag", "coat"});
  const std::string test_root = image_folder("bd_test2", {"coat", "hat"});
  train::RunConfig cfg =
      config("  dataset: image-folder\n  paths: {train: " + train_root + ", test: " + test_root + "}\n");
  std::string msg = error_of([&] { train::build_datasets(cfg); });
  EXPECT_TRUE(contains(msg, test_root + "/hat") && contains(msg, "'bag', 'coat'")) << msg;
  EXPECT_THROW(train::build_datasets(cfg, false), IOError);
}

// ---- npy: the task from the loss, image layouts -------------------------------------------

TEST(BuildDatasets, NpyTargetsAreCheckedForTheLossTask) {
  const std::string dir = fresh_dir("bd_npy_task");
  io::save_npy(dir + "/x.npy", npy_images(4));
  io::save_npy(dir + "/y.npy", floats({0, 0.5f, 1, 2}, {4}));
  std::string msg = error_of([&] {
    train::RunConfig cfg = config(npy_yaml(dir));
    train::build_datasets(cfg);
  });
  EXPECT_TRUE(contains(msg, dir + "/y.npy") && contains(msg, "label 0.5 at index 1")) << msg;

  // The same floats are regression targets under MSELoss.
  train::RunConfig reg = config(npy_yaml(dir), "MSELoss");
  train::RunData r = train::build_datasets(reg);
  EXPECT_EQ(r.test->get(1).target.scalar_type(), kFloat);
  EXPECT_EQ(r.test->get(1).target.item<float>(), 0.5f);

  // Multi-hot rows under BCEWithLogitsLoss.
  Tensor multi = empty({4, 3}, TensorOptions(kByte)).fill_(0);
  multi.data_ptr<uint8_t>()[4] = 1;
  io::save_npy(dir + "/y.npy", multi);
  train::RunConfig ml = config(npy_yaml(dir), "BCEWithLogitsLoss");
  train::RunData m = train::build_datasets(ml);
  EXPECT_EQ(m.test->get(1).target.sizes(), IntArrayRef({3}));
  EXPECT_EQ(m.test->get(1).target.data_ptr<float>()[1], 1.0f);
}

TEST(BuildDatasets, NpyImagesNHWAreOneChannelAndNHWCIsRejected) {
  const std::string dir = fresh_dir("bd_npy_layout");
  io::save_npy(dir + "/x.npy", npy_images(4).view({4, 4, 4}));
  io::save_npy(dir + "/y.npy", empty({4}, TensorOptions(kLong)).fill_(1));
  train::RunConfig cfg = config(npy_yaml(dir));
  EXPECT_EQ(train::build_datasets(cfg).input_shape, (std::vector<int64_t>{1, 4, 4}));

  io::save_npy(dir + "/x.npy", empty({4, 28, 28, 3}, TensorOptions(kByte)).fill_(7));
  train::RunConfig nhwc = config(npy_yaml(dir));
  std::string msg = error_of([&] { train::build_datasets(nhwc); });
  EXPECT_TRUE(contains(msg, dir + "/x.npy") && contains(msg, "[4, 28, 28, 3]") &&
              contains(msg, "np.transpose(x, (0, 3, 1, 2))"))
      << msg;
  EXPECT_FALSE(contains(msg, "normalize")) << msg;
}

// ---- csv: non-finite cells rejected, or dropped with clean: true --------------------------

TEST(BuildDatasets, CsvNaNCellFailsAtLoadOrIsCleanedAndReported) {
  const std::string dir = fresh_dir("bd_csv");
  std::string text = "label,p0,p1,p2,p3\n";
  for (int i = 0; i < 8; ++i)
    text += std::to_string(i % 2) + "," + std::to_string(i) + "," + std::to_string(2 * i) + ",0.5," +
            (i == 5 ? "nan" : std::to_string(i % 3)) + "\n";
  std::ofstream(dir + "/train.csv") << text;
  std::ofstream(dir + "/test.csv") << text;
  const std::string yaml = "  dataset: csv\n  paths: {train: " + dir + "/train.csv, test: " + dir +
                           "/test.csv}\n  image_shape: [1, 2, 2]\n";

  train::RunConfig cfg = config(yaml);
  std::string msg = error_of([&] { train::build_datasets(cfg); });
  EXPECT_TRUE(contains(msg, dir + "/train.csv:7:5") && contains(msg, "non-finite value 'nan' in column 'p3'")) << msg;

  train::RunConfig clean_cfg = config(yaml + "  clean: true\n");
  train::RunData d = train::build_datasets(clean_cfg);
  EXPECT_EQ(d.train->size().value(), 7u);
  EXPECT_EQ(d.test->size().value(), 7u);
  EXPECT_TRUE(report_has(d, "clean (training split): 8 examples, kept 7")) << report_of(d);
  EXPECT_TRUE(report_has(d, "clean (test split): 8 examples, kept 7")) << report_of(d);
  EXPECT_FALSE(report_has(d, "clean: clean:")) << report_of(d);
  for (size_t c = 0; c < d.mean.size(); ++c) EXPECT_TRUE(std::isfinite(d.mean[c]) && d.std[c] > 0) << c;

  // A row that does not fill image_shape fails at load, naming the file.
  train::RunConfig wrong = config("  dataset: csv\n  paths: {train: " + dir + "/train.csv, test: " + dir +
                                  "/test.csv}\n  image_shape: [1, 3, 3]\n  clean: true\n");
  msg = error_of([&] { train::build_datasets(wrong); });
  EXPECT_TRUE(contains(msg, dir + "/train.csv") && contains(msg, "4 feature columns") && contains(msg, "needs 9"))
      << msg;
}
