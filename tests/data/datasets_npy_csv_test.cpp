// NpyDataset (an X.npy / y.npy pair) and CsvDataset (header detection, target by name or
// index, text labels, regression, quoting) on files this test writes, with every error.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cnnkit/data/datasets/csv.h"
#include "cnnkit/data/datasets/npy.h"
#include "cnnkit/io/npy.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::data;
using cnnkit::test::contains;
using cnnkit::test::error_of;
using cnnkit::test::temp_path;

namespace {
std::string write_text(const std::string& name, const std::string& text) {
  std::string p = temp_path(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}
std::vector<float> floats(const Tensor& t) { return t.contiguous().to_vector(); }
}  // namespace

// ---- NpyDataset --------------------------------------------------------------------------

TEST(NpyDataset, IntegerLabelsMakeClassificationFloatTargetsRegression) {
  Tensor x = empty({4, 2, 3}, TensorOptions(kByte));
  for (int64_t i = 0; i < 24; ++i) x.data_ptr<uint8_t>()[i] = static_cast<uint8_t>(i * 3);
  Tensor y = empty({4}, TensorOptions(kByte));  // uint8 labels, as np.uint8 arrays often are
  for (int64_t i = 0; i < 4; ++i) y.data_ptr<uint8_t>()[i] = static_cast<uint8_t>(3 - i);
  io::save_npy(temp_path("x.npy"), x);
  io::save_npy(temp_path("y.npy"), y);
  datasets::NpyDataset ds(temp_path("x.npy"), temp_path("y.npy"));
  EXPECT_TRUE(ds.is_classification());
  EXPECT_EQ(ds.size().value(), 4u);
  EXPECT_EQ(ds.num_classes(), 4);
  auto ex = ds.get(1);
  EXPECT_EQ(ex.data.sizes(), IntArrayRef({2, 3}));
  EXPECT_EQ(ex.data.scalar_type(), kByte);
  EXPECT_EQ(ex.data.data_ptr<uint8_t>()[0], 18);
  EXPECT_EQ(ex.target.dim(), 0);
  EXPECT_EQ(ex.target.scalar_type(), kLong);
  EXPECT_EQ(ex.target.item<int64_t>(), 2);
  EXPECT_EQ(ds.labels(), (std::vector<int64_t>{3, 2, 1, 0}));
  EXPECT_THROW(ds.get(4), ValueError);

  Tensor yr = test::lit({0.5f, -1, 2, 2.5f, 3, 3.5f, 4, 4.5f}, {4, 2});
  io::save_npy(temp_path("yr.npy"), yr);
  datasets::NpyDataset reg(temp_path("x.npy"), temp_path("yr.npy"),
                           datasets::NpyOptions().task(datasets::Task::kRegression));
  EXPECT_FALSE(reg.is_classification());
  EXPECT_TRUE(reg.labels().empty());
  EXPECT_EQ(floats(reg.get(0).target), (std::vector<float>{0.5f, -1}));
  EXPECT_EQ(reg.get(0).target.scalar_type(), kFloat);
}

TEST(NpyDataset, MismatchedRowsAndMissingFilesAreIOErrors) {
  io::save_npy(temp_path("x3.npy"), test::seq({3, 2}));
  io::save_npy(temp_path("y2.npy"), empty({2}, TensorOptions(kLong)).fill_(1));
  std::string msg = error_of([] { datasets::NpyDataset ds(temp_path("x3.npy"), temp_path("y2.npy")); });
  EXPECT_TRUE(contains(msg, "x3.npy") && contains(msg, "y2.npy") && contains(msg, "[3, 2]") && contains(msg, "[2]"))
      << msg;
  EXPECT_THROW(datasets::NpyDataset ds(temp_path("x3.npy"), temp_path("y2.npy")), IOError);
  msg = error_of([] { datasets::NpyDataset ds(temp_path("x3.npy"), temp_path("nope.npy")); });
  EXPECT_TRUE(contains(msg, "nope.npy") && contains(msg, "no such file")) << msg;
}

// ---- CsvDataset --------------------------------------------------------------------------

TEST(CsvDataset, HeaderDetectedTextLabelsNumberedInSortedOrder) {
  std::string p = write_text("iris.csv",
                             "sepal_length,sepal_width,species\r\n"
                             "5.1,3.5,setosa\r\n"
                             "7.0,3.2,versicolor\r\n"
                             "\r\n"
                             "6.3,3.3,virginica\r\n"
                             "4.9,3.0,setosa\r\n");
  datasets::CsvDataset ds(p);
  ASSERT_EQ(ds.size().value(), 4u);
  EXPECT_TRUE(ds.is_classification());
  EXPECT_EQ(ds.classes(), (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(ds.labels(), (std::vector<int64_t>{0, 1, 2, 0}));
  EXPECT_EQ(ds.feature_names(), (std::vector<std::string>{"sepal_length", "sepal_width"}));
  EXPECT_EQ(ds.target_name(), "species");
  auto ex = ds.get(2);
  EXPECT_EQ(ex.data.sizes(), IntArrayRef({2}));
  EXPECT_EQ(floats(ex.data), (std::vector<float>{6.3f, 3.3f}));
  EXPECT_EQ(ex.target.item<int64_t>(), 2);
}

TEST(CsvDataset, TargetByNameOrIndexNoHeaderDelimiterAndQuotes) {
  std::string p = write_text("semi.csv", "label;a;b\n1;0.5;\"2\"\n0;-1e3; 7 \n");
  datasets::CsvDataset ds(p, datasets::CsvOptions().delimiter(';').target_column("label"));
  EXPECT_EQ(ds.labels(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(floats(ds.features()), (std::vector<float>{0.5f, 2, -1000, 7}));
  EXPECT_TRUE(ds.classes().empty());

  std::string q = write_text("nohdr.csv", "3,1.5,2.5\n4,3.5,4.5\n");
  datasets::CsvDataset first(q, datasets::CsvOptions().target_column(int64_t{0}));
  EXPECT_EQ(first.labels(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(floats(first.features()), (std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f}));
  // Float targets in the last column: regression when asked for.
  datasets::CsvDataset last(q, datasets::CsvOptions().task(datasets::Task::kRegression));
  EXPECT_FALSE(last.is_classification());
  EXPECT_EQ(floats(last.targets()), (std::vector<float>{2.5f, 4.5f}));
  EXPECT_EQ(last.get(1).target.scalar_type(), kFloat);
  EXPECT_EQ(last.get(1).target.dim(), 0);
  // Integer targets forced to regression.
  datasets::CsvDataset reg(q, datasets::CsvOptions().target_column(int64_t{-3}).task(datasets::CsvTask::kRegression));
  EXPECT_EQ(floats(reg.targets()), (std::vector<float>{3, 4}));
  // nan / inf parse when allowed (clean() reports them).
  std::string r = write_text("nan.csv", "nan,1\ninf,0\n");
  datasets::CsvDataset nans(r, datasets::CsvOptions().allow_non_finite(true));
  EXPECT_TRUE(std::isnan(nans.features().data_ptr<float>()[0]));
  EXPECT_TRUE(std::isinf(nans.features().data_ptr<float>()[1]));
}

TEST(CsvDataset, BadCellsNameFileLineAndColumn) {
  std::string p = write_text("bad.csv", "a,b,y\n1,2,0\n3,oops,1\n");
  std::string msg = error_of([&] { datasets::CsvDataset ds(p); });
  EXPECT_TRUE(contains(msg, p + ":3:2") && contains(msg, "'oops'") && contains(msg, "column 'b'")) << msg;
  EXPECT_THROW(datasets::CsvDataset ds(p), IOError);

  p = write_text("empty_cell.csv", "1,2,0\n1,,0\n");
  msg = error_of([&] { datasets::CsvDataset ds(p); });
  EXPECT_TRUE(contains(msg, p + ":2:2") && contains(msg, "cannot parse ''")) << msg;

  p = write_text("ragged.csv", "a,b,y\n1,2,0\n3,1\n");
  msg = error_of([&] { datasets::CsvDataset ds(p); });
  EXPECT_TRUE(contains(msg, p + ":3") && contains(msg, "expected 3 cells") && contains(msg, "got 2")) << msg;

  p = write_text("regr.csv", "a,y\n1,2.5\n2,high\n");
  msg = error_of([&] { datasets::CsvDataset ds(p, datasets::CsvOptions().task(datasets::CsvTask::kRegression)); });
  EXPECT_TRUE(contains(msg, p + ":3:2") && contains(msg, "'high'")) << msg;

  p = write_text("name.csv", "a,y\n1,2\n");
  msg = error_of([&] { datasets::CsvDataset ds(p, datasets::CsvOptions().target_column("label")); });
  EXPECT_TRUE(contains(msg, "no column named 'label'") && contains(msg, "'a', 'y'")) << msg;

  p = write_text("quote.csv", "1,\"2\n");
  EXPECT_THROW(datasets::CsvDataset ds(p), IOError);
  p = write_text("onecol.csv", "1\n2\n");
  msg = error_of([&] { datasets::CsvDataset ds(p); });
  EXPECT_TRUE(contains(msg, "wrong delimiter?")) << msg;
  msg = error_of([&] { datasets::CsvDataset ds(temp_path("missing.csv")); });
  EXPECT_TRUE(contains(msg, "missing.csv") && contains(msg, "no such file")) << msg;
  EXPECT_THROW(datasets::CsvDataset ds(temp_path("missing.csv")), IOError);
  p = write_text("hdr_only.csv", "a,b\n");
  EXPECT_THROW(datasets::CsvDataset ds(p), IOError);
}
