// What the readers check at load, so that bad data fails before training with the file,
// the record and the value: ImageFolder numbering a test split by the training classes,
// labels against the task (IDX, npy, csv), npy image layouts, non-finite values, and
// messages that stay readable (capped lists, normal paths).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "cnnkit/data/clean.h"
#include "cnnkit/data/datasets/csv.h"
#include "cnnkit/data/datasets/image_folder.h"
#include "cnnkit/data/datasets/mnist.h"
#include "cnnkit/data/datasets/npy.h"
#include "cnnkit/data/datasets/tensor.h"
#include "cnnkit/data/image.h"
#include "cnnkit/data/stats.h"
#include "cnnkit/io/npy.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::data;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::fresh_dir;
using cnnkit::test::temp_path;
namespace fs = std::filesystem;

namespace {

std::string write_text(const std::string& name, const std::string& text) {
  std::string p = temp_path(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// An IDX file of unsigned bytes with the given dims.
std::string idx_u8(const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s = std::string("\0\0\x08", 3) + static_cast<char>(dims.size());
  for (uint32_t d : dims)
    s += std::string{static_cast<char>(d >> 24), static_cast<char>(d >> 16), static_cast<char>(d >> 8),
                     static_cast<char>(d)};
  return s + data;
}

// A small RGB image whose pixels depend on `seed`.
void write_image(const std::string& path, int seed) {
  Tensor img = empty({3, 4, 4}, TensorOptions(kByte));
  for (int64_t i = 0; i < img.numel(); ++i) img.data_ptr<uint8_t>()[i] = static_cast<uint8_t>((seed * 37 + i * 11) % 256);
  fs::create_directories(fs::path(path).parent_path());
  write_png(path, img);
}

// root/<class>/<k>.png for each class, two images each.
std::string image_folder(const std::string& name, const std::vector<std::string>& classes) {
  std::string root = fresh_dir(name);
  int seed = 0;
  for (const std::string& c : classes)
    for (int k = 0; k < 2; ++k) write_image(root + "/" + c + "/" + std::to_string(k) + ".png", ++seed);
  return root;
}

Tensor floats(std::vector<float> v, std::vector<int64_t> shape) {
  Tensor t = empty(shape, TensorOptions(kFloat));
  std::copy(v.begin(), v.end(), t.data_ptr<float>());
  return t;
}

}  // namespace

// ---- ImageFolder: the test split numbered by the training classes -------------------------

TEST(ImageFolder, TestSplitMissingAClassKeepsTheTrainingIndices) {
  const std::string train_root = image_folder("if_train", {"bag", "coat", "shirt"});
  const std::string test_root = image_folder("if_test", {"coat", "shirt"});  // no test/bag
  datasets::ImageFolder train(train_root);
  datasets::ImageFolder test(test_root, datasets::ImageFolderOptions().classes(train.classes()));
  EXPECT_EQ(test.classes(), (std::vector<std::string>{"bag", "coat", "shirt"}));
  EXPECT_EQ(test.class_to_idx().at("coat"), 1);
  // coat is 1 and shirt 2, as in training: not 0 and 1.
  EXPECT_EQ(test.labels(), (std::vector<int64_t>{1, 1, 2, 2}));
  EXPECT_EQ(test.get(2).target.item<int64_t>(), 2);
  EXPECT_EQ(test.size().value(), 4u);
  // find_classes is what the training split used.
  EXPECT_EQ(datasets::find_classes(train_root), train.classes());
}

TEST(ImageFolder, TestClassUnknownToTrainingIsAnIOErrorNamingItAndTheKnownClasses) {
  const std::string test_root = image_folder("if_test_extra", {"coat", "hat"});
  std::string msg = error_of([&] {
    datasets::ImageFolder ds(test_root, datasets::ImageFolderOptions().classes({"bag", "coat", "shirt"}));
  });
  EXPECT_TRUE(contains(msg, test_root + "/hat") && contains(msg, "'hat' is not one of the 3 known classes") &&
              contains(msg, "'bag', 'coat', 'shirt'"))
      << msg;
  EXPECT_THROW(datasets::ImageFolder(test_root, datasets::ImageFolderOptions().classes({"coat"})), IOError);
  msg = error_of([&] { datasets::ImageFolder ds(test_root, datasets::ImageFolderOptions().classes({"coat", "coat"})); });
  EXPECT_TRUE(contains(msg, "'coat' is listed twice")) << msg;
}

TEST(ImageFolder, LongClassListsInMessagesAreCapped) {
  std::vector<std::string> known;
  for (int i = 0; i < 30; ++i) known.push_back("class" + std::to_string(100 + i));
  const std::string root = image_folder("if_many", {"zebra"});
  std::string msg = error_of([&] { datasets::ImageFolder ds(root, datasets::ImageFolderOptions().classes(known)); });
  EXPECT_TRUE(contains(msg, "'class100'") && contains(msg, "... (30 classes)") && !contains(msg, "class129")) << msg;
}

// ---- IDX: labels checked at load ----------------------------------------------------------

TEST(MNIST, OutOfRangeLabelFailsAtLoadNamingFileRecordAndValue) {
  const std::string root = fresh_dir("mnist_label12");
  std::string px(50 * 28 * 28, '\x10'), labels;
  for (int i = 0; i < 50; ++i) labels += static_cast<char>(i == 44 ? 12 : i % 10);
  write_bytes(root + "/t10k-images-idx3-ubyte", idx_u8({50, 28, 28}, px));
  write_bytes(root + "/t10k-labels-idx1-ubyte", idx_u8({50}, labels));
  std::string msg = error_of([&] { datasets::FashionMNIST ds(root + "/.", datasets::MNIST::Mode::kTest); });
  EXPECT_TRUE(contains(msg, root + "/t10k-labels-idx1-ubyte") &&
              contains(msg, "label 12 at record 44 is out of range [0, 10)"))
      << msg;
  EXPECT_FALSE(contains(msg, "/./")) << msg;  // paths printed lexically normal
  EXPECT_THROW(datasets::MNIST(root, datasets::MNIST::Mode::kTest), IOError);
}

// ---- NpyDataset: targets against the task -------------------------------------------------

TEST(NpyDataset, FractionalFloatLabelIsAnIOErrorNamingFileIndexAndValue) {
  io::save_npy(temp_path("v_x.npy"), empty({3, 2}, TensorOptions(kFloat)).fill_(1));
  io::save_npy(temp_path("v_yhalf.npy"), floats({1, 0.5f, 2}, {3}));
  std::string msg = error_of([] { datasets::NpyDataset ds(temp_path("v_x.npy"), temp_path("v_yhalf.npy")); });
  EXPECT_TRUE(contains(msg, "v_yhalf.npy") && contains(msg, "label 0.5 at index 1") &&
              contains(msg, "not an integer class index"))
      << msg;
  EXPECT_THROW(datasets::NpyDataset(temp_path("v_x.npy"), temp_path("v_yhalf.npy")), IOError);

  // Integral floats are class indices (np.loadtxt / pandas labels).
  io::save_npy(temp_path("v_yint.npy"), floats({3, 0, 1}, {3}));
  datasets::NpyDataset ok(temp_path("v_x.npy"), temp_path("v_yint.npy"));
  EXPECT_TRUE(ok.is_classification());
  EXPECT_EQ(ok.labels(), (std::vector<int64_t>{3, 0, 1}));
  EXPECT_EQ(ok.get(0).target.scalar_type(), kLong);

  io::save_npy(temp_path("v_yneg.npy"), empty({3}, TensorOptions(kLong)).fill_(-1));
  msg = error_of([] { datasets::NpyDataset ds(temp_path("v_x.npy"), temp_path("v_yneg.npy")); });
  EXPECT_TRUE(contains(msg, "v_yneg.npy") && contains(msg, "label -1 at index 0 is negative")) << msg;

  io::save_npy(temp_path("v_ynan.npy"), floats({1, NAN, 2}, {3}));
  msg = error_of([] { datasets::NpyDataset ds(temp_path("v_x.npy"), temp_path("v_ynan.npy")); });
  EXPECT_TRUE(contains(msg, "label nan at index 1")) << msg;
}

TEST(NpyDataset, RegressionTargetsMustBeFiniteUnlessAllowed) {
  Tensor x = empty({3, 2}, TensorOptions(kFloat)).fill_(1);
  const auto reg = datasets::NpyOptions().task(datasets::Task::kRegression);
  datasets::NpyDataset ok(x, floats({0.5f, -2, 1e3f}, {3}), reg);
  EXPECT_FALSE(ok.is_classification());
  EXPECT_EQ(ok.get(1).target.item<float>(), -2.0f);
  std::string msg = error_of([&] { datasets::NpyDataset ds(x, floats({0.5f, INFINITY, 1}, {3}), reg); });
  EXPECT_TRUE(contains(msg, "targets") && contains(msg, "non-finite target inf at record 1")) << msg;
  EXPECT_THROW(datasets::NpyDataset(x, floats({0.5f, INFINITY, 1}, {3}), reg), IOError);
  datasets::NpyDataset kept(x, floats({0.5f, INFINITY, 1}, {3}), datasets::NpyOptions(reg).allow_non_finite(true));
  EXPECT_TRUE(std::isinf(kept.get(1).target.item<float>()));
}

TEST(NpyDataset, MultiLabelRowsAreZerosAndOnes) {
  Tensor x = empty({2, 3}, TensorOptions(kFloat)).fill_(1);
  Tensor y = empty({2, 4}, TensorOptions(kByte)).fill_(0);
  y.data_ptr<uint8_t>()[1] = 1;
  const auto ml = datasets::NpyOptions().task(datasets::Task::kMultiLabel);
  datasets::NpyDataset ds(x, y, ml);
  auto ex = ds.get(0);
  EXPECT_EQ(ex.target.scalar_type(), kFloat);
  EXPECT_EQ(ex.target.sizes(), IntArrayRef({4}));
  EXPECT_EQ(ex.target.data_ptr<float>()[1], 1.0f);
  EXPECT_TRUE(ds.labels().empty());
  y.data_ptr<uint8_t>()[6] = 2;
  std::string msg = error_of([&] { datasets::NpyDataset bad(x, y, ml); });
  EXPECT_TRUE(contains(msg, "value 2 at index [1, 2] is not 0 or 1")) << msg;
  msg = error_of([&] { datasets::NpyDataset bad(x, empty({2}, TensorOptions(kLong)).fill_(1), ml); });
  EXPECT_TRUE(contains(msg, "(N, C)")) << msg;
}

TEST(NpyDataset, NonFiniteDataNamesRecordAndElement) {
  Tensor x = empty({3, 2, 2}, TensorOptions(kFloat)).fill_(0.5f);
  x.data_ptr<float>()[2 * 4 + 3] = NAN;  // record 2, element [1, 1]
  Tensor y = empty({3}, TensorOptions(kLong)).fill_(0);
  std::string msg = error_of([&] { datasets::NpyDataset ds(x, y); });
  EXPECT_TRUE(contains(msg, "non-finite value nan at record 2, element [1, 1]") && contains(msg, "data::clean")) << msg;
  EXPECT_THROW(datasets::NpyDataset(x, y), IOError);
  datasets::NpyDataset kept(x, y, datasets::NpyOptions().allow_non_finite(true));
  EXPECT_EQ(kept.size().value(), 3u);
}

TEST(NpyDataset, ImagesAcceptNHWAsOneChannelAndRejectChannelsLast) {
  const auto images = datasets::NpyOptions().images(true);
  Tensor y = empty({2}, TensorOptions(kLong)).fill_(1);
  io::save_npy(temp_path("v_nhw.npy"), empty({2, 5, 6}, TensorOptions(kByte)).fill_(3));
  io::save_npy(temp_path("v_y2.npy"), y);
  datasets::NpyDataset gray(temp_path("v_nhw.npy"), temp_path("v_y2.npy"), images);
  EXPECT_EQ(gray.get(1).data.sizes(), IntArrayRef({1, 5, 6}));

  io::save_npy(temp_path("v_nhwc.npy"), empty({2, 28, 28, 3}, TensorOptions(kByte)).fill_(3));
  std::string msg = error_of([&] { datasets::NpyDataset ds(temp_path("v_nhwc.npy"), temp_path("v_y2.npy"), images); });
  EXPECT_TRUE(contains(msg, "v_nhwc.npy") && contains(msg, "[2, 28, 28, 3]") && contains(msg, "(N, C, H, W)") &&
              contains(msg, "np.transpose(x, (0, 3, 1, 2))"))
      << msg;
  EXPECT_THROW(datasets::NpyDataset(temp_path("v_nhwc.npy"), temp_path("v_y2.npy"), images), IOError);
  // NCHW with a small width is not mistaken for NHWC.
  datasets::NpyDataset nchw(empty({2, 3, 8, 4}, TensorOptions(kByte)), y, images);
  EXPECT_EQ(nchw.get(0).data.sizes(), IntArrayRef({3, 8, 4}));

  io::save_npy(temp_path("v_flat.npy"), empty({2, 784}, TensorOptions(kByte)).fill_(3));
  msg = error_of([&] { datasets::NpyDataset ds(temp_path("v_flat.npy"), temp_path("v_y2.npy"), images); });
  EXPECT_TRUE(contains(msg, "v_flat.npy") && contains(msg, "[2, 784]") && contains(msg, "(N, C, H, W)")) << msg;
  // Without images(true), any (N, ...) is fine (features).
  EXPECT_NO_THROW(datasets::NpyDataset(temp_path("v_flat.npy"), temp_path("v_y2.npy")));
}

// ---- CsvDataset: targets against the task, non-finite cells, capped messages -------------

TEST(CsvDataset, FractionalOrNegativeLabelForClassificationNamesLineAndValue) {
  std::string p = write_text("v_half.csv", "a,b,label\n1,2,0\n3,4,0.5\n");
  std::string msg = error_of([&] { datasets::CsvDataset ds(p); });
  EXPECT_TRUE(contains(msg, p + ":3:3") && contains(msg, "label '0.5' is not an integer class index")) << msg;
  EXPECT_THROW(datasets::CsvDataset ds(p), IOError);

  p = write_text("v_neg.csv", "a,label\n1,2\n3,-1\n");
  msg = error_of([&] { datasets::CsvDataset ds(p); });
  EXPECT_TRUE(contains(msg, p + ":3:2") && contains(msg, "label -1 is negative")) << msg;

  p = write_text("v_intfloat.csv", "a,label\n1,2.0\n3,1\n");
  EXPECT_EQ(datasets::CsvDataset(p).labels(), (std::vector<int64_t>{2, 1}));
  // The same 0.5 is a fine regression target.
  p = write_text("v_reg.csv", "a,y\n1,0.5\n3,-1\n");
  datasets::CsvDataset reg(p, datasets::CsvOptions().task(datasets::Task::kRegression));
  EXPECT_EQ(reg.targets().data_ptr<float>()[0], 0.5f);
}

TEST(CsvDataset, GivenClassesNumberTextLabelsAndRejectUnknownOnes) {
  std::string train_p = write_text("v_tr.csv", "x,label\n1,bag\n2,coat\n3,shirt\n");
  std::string test_p = write_text("v_te.csv", "x,label\n1,shirt\n2,coat\n");  // no bag
  datasets::CsvDataset train(train_p);
  datasets::CsvDataset test(test_p, datasets::CsvOptions().classes(train.classes()));
  EXPECT_EQ(test.classes(), train.classes());
  EXPECT_EQ(test.labels(), (std::vector<int64_t>{2, 1}));  // not {1, 0}

  std::string bad = write_text("v_te_bad.csv", "x,label\n1,shirt\n2,hat\n");
  std::string msg = error_of([&] { datasets::CsvDataset ds(bad, datasets::CsvOptions().classes(train.classes())); });
  EXPECT_TRUE(contains(msg, bad + ":3:2") && contains(msg, "label 'hat' is not one of the 3 known classes") &&
              contains(msg, "'bag', 'coat', 'shirt'"))
      << msg;
  // Integer labels must be below the number of given classes.
  std::string ints = write_text("v_te_int.csv", "x,label\n1,0\n2,3\n");
  msg = error_of([&] { datasets::CsvDataset ds(ints, datasets::CsvOptions().classes(train.classes())); });
  EXPECT_TRUE(contains(msg, ints + ":3:2") && contains(msg, "label 3 is out of range [0, 3)")) << msg;
}

TEST(CsvDataset, NonFiniteCellsFailAtLoadUnlessAllowed) {
  std::string p = write_text("v_nan.csv", "a,b,label\n1,2,0\n3,nan,1\n");
  std::string msg = error_of([&] { datasets::CsvDataset ds(p); });
  EXPECT_TRUE(contains(msg, p + ":3:2") && contains(msg, "non-finite value 'nan' in column 'b'")) << msg;
  EXPECT_THROW(datasets::CsvDataset ds(p), IOError);
  datasets::CsvDataset kept(p, datasets::CsvOptions().allow_non_finite(true));
  auto cleaned = clean(std::make_shared<datasets::CsvDataset>(kept));
  EXPECT_EQ(cleaned.report.non_finite, (std::vector<size_t>{1}));

  p = write_text("v_reg_inf.csv", "a,y\n1,0.5\n3,inf\n");
  msg = error_of([&] { datasets::CsvDataset ds(p, datasets::CsvOptions().task(datasets::Task::kRegression)); });
  EXPECT_TRUE(contains(msg, p + ":3:2") && contains(msg, "non-finite target 'inf'")) << msg;
}

TEST(CsvDataset, MultiLabelTargetIsAOneElementZeroOrOne) {
  std::string p = write_text("v_ml.csv", "a,y\n1,1\n3,0\n");
  const auto ml = datasets::CsvOptions().task(datasets::Task::kMultiLabel);
  datasets::CsvDataset ds(p, ml);
  EXPECT_EQ(ds.get(0).target.sizes(), IntArrayRef({1}));
  EXPECT_EQ(ds.get(0).target.scalar_type(), kFloat);
  EXPECT_EQ(ds.get(0).target.item<float>(), 1.0f);
  p = write_text("v_ml_bad.csv", "a,y\n1,1\n3,2\n");
  std::string msg = error_of([&] { datasets::CsvDataset bad(p, ml); });
  EXPECT_TRUE(contains(msg, p + ":3:2") && contains(msg, "target '2' is not 0 or 1")) << msg;
}

TEST(CsvDataset, MissingLabelColumnListsTheFirstColumnsAndTheCount) {
  std::string header, row;
  for (int c = 0; c < 785; ++c) {
    if (c) header += ',', row += ',';
    header.append("px").append(std::to_string(c));
    row.append(std::to_string(c % 7));
  }
  std::string p = write_text("v_wide.csv", header + "\n" + row + "\n");
  std::string msg = error_of([&] { datasets::CsvDataset ds(p, datasets::CsvOptions().target_column("label")); });
  EXPECT_TRUE(contains(msg, "no column named 'label'") && contains(msg, "'px0', 'px1'") &&
              contains(msg, "... (785 columns)") && !contains(msg, "'px700'"))
      << msg;
  EXPECT_LT(msg.size(), 400u) << msg;
}

// ---- clean and statistics -----------------------------------------------------------------

TEST(Clean, SummaryMarksKindsThatWereKept) {
  Tensor x = empty({3, 2}, TensorOptions(kFloat)).fill_(1);
  Tensor y = empty({3}, TensorOptions(kLong)).fill_(0);
  auto ds = std::make_shared<TensorDataset>(x, y);  // three identical examples
  auto kept = clean(ds, CleanOptions().drop_duplicates(false));
  EXPECT_EQ(kept.report.kept, 3u);
  EXPECT_TRUE(contains(kept.summary(), "2 duplicates (kept)") && contains(kept.summary(), "dropped 0")) << kept.summary();
  auto dropped = clean(ds);
  EXPECT_TRUE(contains(dropped.summary(), "2 duplicates)") && !contains(dropped.summary(), "(kept)"))
      << dropped.summary();
  EXPECT_EQ(dropped.summary().rfind("clean: ", 0), 0u);
  EXPECT_FALSE(contains(dropped.summary(), "clean: clean:"));
}

TEST(ComputeMeanStd, NonFiniteDataIsAValueErrorNamingTheChannel) {
  Tensor x = empty({4, 2, 3}, TensorOptions(kFloat)).fill_(0.25f);
  x.data_ptr<float>()[1 * 6 + 4] = NAN;  // example 1, channel 1
  auto ds = std::make_shared<TensorDataset>(x, empty({4}, TensorOptions(kLong)).fill_(0));
  std::string msg = error_of([&] { compute_mean_std(ds); });
  EXPECT_TRUE(contains(msg, "channel 1 has mean nan")) << msg;
  EXPECT_THROW(compute_mean_std(ds), ValueError);
}
