// `cnnkit ensemble`: bagging, SAMME boosting and stacking on the tiny synthetic dataset; the
// ensemble is one model file that eval and predict take.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

#include "cli/cli_util.h"
#include "cnnkit/data/image.h"

namespace cnnkit::test::cli {
namespace {

using json = nlohmann::json;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// "accuracy 93.75%" in eval's output -> 0.9375
double eval_accuracy(const std::string& out) {
  std::smatch m;
  EXPECT_TRUE(std::regex_search(out, m, std::regex("accuracy ([0-9.]+)%"))) << out;
  return m.empty() ? -1 : std::stod(m[1]) / 100;
}

TEST(CliEnsemble, BaggingIsOneModelFileThatEvalAndPredictTake) {
  const std::string dir = test::temp_path("ens/bag");
  const std::string cfg = tiny_config("bag.yaml", test::temp_path("ens/unused"));
  Result r = run("ensemble -q " + cfg + " --method bagging -m 3 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const json e = json::parse(read_all(dir + "/ensemble.json"));
  ASSERT_EQ(e["members"].size(), 3u);
  for (const json& m : e["members"]) {
    EXPECT_EQ(m["train_size"].get<size_t>(), 384u);  // a bootstrap of the 75% split
    EXPECT_TRUE(m.contains("val_accuracy") && m.contains("test_accuracy")) << m;
  }
  EXPECT_EQ(e["method"], "bagging");
  EXPECT_TRUE(e["ensemble"].contains("val_accuracy")) << e["ensemble"];
  EXPECT_EQ(e["ensemble"]["combine"], "mean");
  // One preprocessing for all: each member normalises with the base split's statistics (the
  // ensemble feeds them all the same input), not with its own resample's.
  auto normalize_line = [](const std::string& yaml) {
    std::smatch m;
    EXPECT_TRUE(std::regex_search(yaml, m, std::regex("mean: \\[[^\\]]*\\]"))) << yaml;
    return m.empty() ? std::string() : m.str();
  };
  const std::string base = normalize_line(read_all(dir + "/config.yaml"));
  for (int m = 0; m < 3; ++m)
    EXPECT_EQ(normalize_line(read_all(dir + "/member-" + std::to_string(m) + "/config.yaml")), base) << m;
  EXPECT_FALSE(contains(r.out, "(computed from the training split)")) << r.out;
  // eval of the ensemble's directory gives the test accuracy ensemble.json recorded.
  const Result ev = run("eval " + dir);
  ASSERT_EQ(ev.code, 0) << ev.err;
  EXPECT_NEAR(eval_accuracy(ev.out), e["ensemble"]["test_accuracy"].get<double>(), 1e-4) << ev.out;
  Tensor img = zeros({1, 28, 28}, kByte);  // a class-2 image: band in rows 14..20
  for (int64_t row = 14; row < 21; ++row)
    for (int64_t k = 0; k < 28; ++k) img.data_ptr<uint8_t>()[row * 28 + k] = 200;
  const std::string png = test::temp_path("ens/band2.png");
  data::write_png(png, img);
  const Result p = run("predict " + dir + " " + png + " -k 2");
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_TRUE(contains(p.out, "%")) << p.out;

  // Again: the members are reused; other settings in the same directory are refused.
  r = run("ensemble -q " + cfg + " --method bagging -m 3 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "member 3/3: finished before, reused")) << r.out;
  r = run("ensemble -q " + cfg + " --method bagging -m 4 -o " + dir);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "holds an ensemble made with another 'M' (3 there, 4 here)")) << r.err;
}

TEST(CliEnsemble, BoostingRecordsSammeErrorsAndAlphas) {
  const std::string dir = test::temp_path("ens/boost");
  // One epoch at a small lr: members that still make mistakes, so the rounds have something to fix.
  // At 0.002 the first member sat at chance (weighted error 0.75) in the clang ASan build and
  // 0.747 in the GCC build; at 0.01 both builds train three members with errors 0.12 to 0.55.
  Result r = run("ensemble -q " + tiny_config("boost.yaml", test::temp_path("ens/unused2"), "",
                                              "{name: SGD, lr: 0.01, momentum: 0.9}") +
                 " --method boosting -m 3 --learning-rate 0.5 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const json e = json::parse(read_all(dir + "/ensemble.json"));
  ASSERT_FALSE(e["members"].empty());
  std::vector<double> weights;
  for (const json& m : e["members"]) {
    EXPECT_EQ(m["train_size"].get<size_t>(), 384u);  // the whole split, its examples weighted
    const double err = m["error"].get<double>(), alpha = m["alpha"].get<double>();
    EXPECT_LT(err, 0.75);  // better than chance with K = 4
    if (err > 0) {
      EXPECT_NEAR(alpha, 0.5 * (std::log((1 - err) / err) + std::log(3.0)), 1e-9);  // --learning-rate 0.5
    }
    weights.push_back(alpha);
    EXPECT_GE(m["ensemble_error"].get<double>(), 0.0);
  }
  EXPECT_EQ(e["ensemble"]["combine"], "weighted");
  EXPECT_EQ(e["ensemble"]["weights"].get<std::vector<double>>(), weights);
  const Result ev = run("eval " + dir);
  ASSERT_EQ(ev.code, 0) << ev.err;
  EXPECT_NEAR(eval_accuracy(ev.out), e["ensemble"]["test_accuracy"].get<double>(), 1e-4) << ev.out;
}

TEST(CliEnsemble, StackingTrainsTheMetaLearnerOutOfFold) {
  const std::string dir = test::temp_path("ens/stack");
  Result r = run("ensemble -q " + tiny_config("stack.yaml", test::temp_path("ens/unused3")) +
                 " --method stacking -m 2 -k 3 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const json e = json::parse(read_all(dir + "/ensemble.json"));
  EXPECT_EQ(e["members"].size(), 2u);
  EXPECT_GT(e["meta_learner"]["oof_accuracy"].get<double>(), 0.5);
  // Each out-of-fold copy trained on the other two folds of the 384 training examples
  // (stratified: 128 held out each) and predicted only the held-out third.
  size_t held_out = 0;
  for (int m = 0; m < 2; ++m)
    for (int f = 0; f < 3; ++f) {
      const json copy = json::parse(read_all(dir + "/oof-" + std::to_string(m) + "-" + std::to_string(f) + "/member.json"));
      EXPECT_EQ(copy["train_size"].get<size_t>(), 256u);
      EXPECT_FALSE(copy.contains("test_accuracy"));  // the copies never see the test split
      EXPECT_TRUE(copy.contains("val_accuracy"));
      held_out += 384 - copy["train_size"].get<size_t>();
    }
  EXPECT_EQ(held_out, 2u * 384u);  // every training example predicted once per member
  const Result ev = run("eval " + dir);
  ASSERT_EQ(ev.code, 0) << ev.err;
  EXPECT_NEAR(eval_accuracy(ev.out), e["ensemble"]["test_accuracy"].get<double>(), 1e-4) << ev.out;
}

TEST(CliEnsemble, BadArgumentsAreNamed) {
  const std::string cfg = tiny_config("bad.yaml", test::temp_path("ens/unused4"));
  Result r = run("ensemble " + cfg + " -m 1 -o " + test::temp_path("ens/bad1"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--members must be at least 2, got 1")) << r.err;
  r = run("ensemble " + cfg + " --method bosting -o " + test::temp_path("ens/bad2"));
  EXPECT_EQ(r.code, 2);
  r = run("ensemble " + cfg + " --set loss=MSELoss -o " + test::temp_path("ens/bad3"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "ensemble: needs a classification loss")) << r.err;
}

}  // namespace
}  // namespace cnnkit::test::cli
