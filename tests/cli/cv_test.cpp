// `cnnkit cv`: k-fold cross-validation through the CLI on the tiny synthetic dataset.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"

namespace cnnkit::test::cli {
namespace {

using json = nlohmann::json;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(CliCv, FoldsPartitionTheTrainingSetAndTheSummaryIsTheirMeanAndStd) {
  const std::string dir = test::temp_path("cv/strat");
  const std::string cfg = tiny_config("cv.yaml", test::temp_path("cv/unused"));
  Result r = run("cv -q " + cfg + " --folds 4 --stratified --seed 3 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "ddof = 0")) << r.out;
  const json cv = json::parse(read_all(dir + "/cv.json"));
  ASSERT_EQ(cv["folds"].size(), 4u);
  size_t val_total = 0;
  std::vector<double> acc;
  for (const json& f : cv["folds"]) {
    // 512 training examples (data.split.val is replaced by the folds), 128 of each class:
    // every stratified validation fold holds 32 of each, 128 in all.
    EXPECT_EQ(f["train_size"].get<size_t>() + f["val_size"].get<size_t>(), 512u);
    EXPECT_EQ(f["val_size"].get<size_t>(), 128u);
    val_total += f["val_size"].get<size_t>();
    acc.push_back(f["metrics"]["val_accuracy"].get<double>());
  }
  EXPECT_EQ(val_total, 512u);
  double mean = 0, var = 0;
  for (double a : acc) mean += a / 4;
  for (double a : acc) var += (a - mean) * (a - mean) / 4;  // ddof = 0
  EXPECT_NEAR(cv["mean"]["val_accuracy"].get<double>(), mean, 1e-12);
  EXPECT_NEAR(cv["std"]["val_accuracy"].get<double>(), std::sqrt(var), 1e-12);
  EXPECT_EQ(cv["stratified"], true);
  const std::string csv = read_all(dir + "/cv.csv");
  EXPECT_TRUE(contains(csv, "fold,train_size,val_size,seconds,")) << csv;
  EXPECT_TRUE(contains(csv, "\nmean,")) << csv;
  EXPECT_TRUE(contains(csv, "\nstd,")) << csv;
  // Each fold is an ordinary run directory, its summary without test numbers.
  const std::string summary = read_all(dir + "/fold-0/summary.txt");
  EXPECT_TRUE(contains(summary, "test: not evaluated")) << summary;

  // The same command again: every fold is reused, nothing trains.
  r = run("cv -q " + cfg + " --folds 4 --stratified --seed 3 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "fold 4/4: finished before, reused")) << r.out;
  EXPECT_FALSE(contains(r.out, "epoch 1/1")) << r.out;
  EXPECT_EQ(json::parse(read_all(dir + "/cv.json"))["mean"], cv["mean"]);

  // Another config or other folds into the same directory: refused, nothing overwritten.
  r = run("cv -q " + cfg + " --set optimizer.lr=0.2 --folds 4 --stratified --seed 3 -o " + dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "holds a cross-validation made with another config")) << r.err;
  r = run("cv -q " + cfg + " --folds 3 --stratified --seed 3 -o " + dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "another 'k' (4 there, 3 here)")) << r.err;
}

TEST(CliCv, RefitTrainsOnEverythingAndReportsTheTestSplit) {
  const std::string dir = test::temp_path("cv/refit");
  Result r = run("cv -q " + tiny_config("cv2.yaml", test::temp_path("cv/unused2")) + " --folds 2 --refit -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "refit on the whole training set, test: accuracy")) << r.out;
  const json cv = json::parse(read_all(dir + "/cv.json"));
  EXPECT_GT(cv["refit"]["test"]["test_accuracy"].get<double>(), 0.5);  // 4 easy classes
  EXPECT_TRUE(contains(read_all(dir + "/refit/summary.txt"), "data: npy, 512 train / 0 validation / 128 test"));
}

TEST(CliCv, BadArgumentsAreNamed) {
  const std::string cfg = tiny_config("cv3.yaml", test::temp_path("cv/unused3"));
  Result r = run("cv " + cfg + " --folds 1 -o " + test::temp_path("cv/bad1"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--folds must be at least 2, got 1")) << r.err;
  r = run("cv " + cfg + " --folds 200 --stratified -o " + test::temp_path("cv/bad2"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "has only 128 examples; at least 200 needed")) << r.err;
  r = run("cv " + cfg + " --folds 2 --stratified --set loss=MSELoss -o " + test::temp_path("cv/bad3"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--stratified needs a classification loss")) << r.err;
}

}  // namespace
}  // namespace cnnkit::test::cli
