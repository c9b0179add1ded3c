// `cnnkit lr-find` through the CLI on the tiny synthetic dataset: the files it writes (CSV, a
// YAML that parses, the figure as SVG and a PNG with something drawn on it), the suggested
// command trains, no suggestion is an error, bad arguments are named. The sweep's numbers are
// tests/train/lr_find_test.cpp's.
#include <gtest/gtest.h>

#include "cli/cli_util.h"
#include "cnnkit/data/image.h"
#include "io/yaml.h"  // private to the library: tests see src/

namespace cnnkit::test::cli {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The value after `key` up to the end of its line.
std::string after(const std::string& text, const std::string& key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return "";
  const size_t from = at + key.size();
  return text.substr(from, text.find_first_of(" \n", from) - from);
}

TEST(CliLrFind, WritesTheCurveTheFigureAndASuggestionThatTrains) {
  const std::string cfg = tiny_config("lr_find.yaml", test::temp_path("lr_find/unused"));
  const std::string dir = test::temp_path("lr_find/out");
  Result r = run("lr-find " + cfg + " --threads 1 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "lr-find: step  100/100") || contains(r.out, "diverged at step")) << r.out;
  const std::string lr = after(r.out, "suggested lr: ");
  ASSERT_FALSE(lr.empty()) << r.out;
  EXPECT_TRUE(contains(r.out, "(the lowest smoothed loss, at step ")) << r.out;
  EXPECT_TRUE(contains(r.out, "train with it: cnnkit train " + cfg + " --set optimizer.lr=" + lr + "\n")) << r.out;

  // lr_find.csv: a header and a row a step.
  const std::string csv = read_all(dir + "/lr_find.csv");
  EXPECT_EQ(csv.rfind("step,lr,loss,smoothed_loss\n1,1e-07,", 0), 0u) << csv.substr(0, 200);
  EXPECT_GE(std::count(csv.begin(), csv.end(), '\n'), 12);
  // lr_find.yaml parses, and holds the lr printed.
  const YAML::Node y = YAML::LoadFile(dir + "/lr_find.yaml");
  EXPECT_DOUBLE_EQ(y["optimizer"]["lr"].as<double>(), std::stod(lr));
  EXPECT_TRUE(contains(read_all(dir + "/lr_find.yaml"), "--set optimizer.lr=" + lr)) << read_all(dir + "/lr_find.yaml");
  // The figure: an SVG with the marker's label, and a PNG with a chart on it.
  const std::string svg = read_all(dir + "/lr_find.svg");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u) << svg.substr(0, 100);
  EXPECT_TRUE(contains(svg, "suggested " + lr)) << svg.substr(0, 400);
  const std::string png = read_all(dir + "/lr_find.png");
  ASSERT_GT(png.size(), 2000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  const Tensor img = data::decode_image(dir + "/lr_find.png", data::ImageReadMode::RGB);
  EXPECT_GT(img.size(2), 200);
  EXPECT_LT(img.min().item<int64_t>(), 100);  // dark lines and text on white
  EXPECT_EQ(img.max().item<int64_t>(), 255);

  // The command it prints trains.
  r = run("train -q --no-report " + cfg + " --set optimizer.lr=" + lr + " --set output_dir=" +
          test::temp_path("lr_find/train"));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "test accuracy")) << r.out;
}

TEST(CliLrFind, SteepestRuleAndOverridesInTheCommand) {
  const std::string cfg = tiny_config("lr_find2.yaml", test::temp_path("lr_find/unused2"));
  const std::string dir = test::temp_path("lr_find/steep");
  const Result r = run("lr-find " + cfg + " --set epochs=2 --set optimizer.lr=0.5 --suggest steepest --steps 40 "
                       "--threads 1 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "(the steepest descent of the smoothed loss, at step ")) << r.out;
  // The user's own overrides stay in the command, their lr gives way to the suggestion.
  EXPECT_TRUE(contains(r.out, "train with it: cnnkit train " + cfg + " --set epochs=2 --set optimizer.lr=")) << r.out;
  EXPECT_FALSE(contains(r.out, "optimizer.lr=0.5")) << r.out;
  EXPECT_TRUE(contains(read_all(dir + "/lr_find.yaml"), "# suggested (steepest rule)")) << read_all(dir + "/lr_find.yaml");
}

TEST(CliLrFind, NoSuggestionIsAnErrorAfterTheFilesAreWritten) {
  // From lr 10 on, the loss only climbs (or breaks) from the first steps.
  const std::string cfg = tiny_config("lr_find3.yaml", test::temp_path("lr_find/unused3"));
  const std::string dir = test::temp_path("lr_find/none");
  const Result r = run("lr-find " + cfg + " --start-lr 10 --end-lr 1e6 --steps 20 --threads 1 -o " + dir);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_TRUE(contains(r.err, "lr-find: no suggestion: ")) << r.err;
  EXPECT_TRUE(contains(r.err, dir + "/lr_find.svg")) << r.err;
  EXPECT_TRUE(fs::exists(dir + "/lr_find.csv"));
  EXPECT_TRUE(contains(read_all(dir + "/lr_find.yaml"), "# no suggestion: ")) << read_all(dir + "/lr_find.yaml");
}

TEST(CliLrFind, BadArgumentsAreNamed) {
  const std::string cfg = tiny_config("lr_find4.yaml", test::temp_path("lr_find/unused4"));
  const std::string out = " -o " + test::temp_path("lr_find/bad");
  Result r = run("lr-find" + out);
  EXPECT_EQ(r.code, 2);  // a usage error
  EXPECT_TRUE(contains(r.err, "config is required")) << r.err;
  r = run("lr-find " + test::temp_path("lr_find/missing.yaml") + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "missing.yaml")) << r.err;
  r = run("lr-find " + cfg + " --set optimizer.lerning_rate=0.1" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "lerning_rate")) << r.err;
  r = run("lr-find " + cfg + " --start-lr 0.1 --end-lr 0.01" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "start_lr (--start-lr) 0.1 must be below end_lr (--end-lr) 0.01")) << r.err;
  r = run("lr-find " + cfg + " --start-lr -1" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "start_lr (--start-lr) must be a positive lr, got -1")) << r.err;
  r = run("lr-find " + cfg + " --end-lr 0" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "end_lr (--end-lr) must be a positive lr, got 0")) << r.err;
  r = run("lr-find " + cfg + " --steps 5" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "steps (--steps) must be at least 10, got 5")) << r.err;
  r = run("lr-find " + cfg + " --suggest valley" + out);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(contains(r.err, "--suggest")) << r.err;
  EXPECT_FALSE(fs::exists(test::temp_path("lr_find/bad")));  // nothing written for any of them
}

}  // namespace
}  // namespace cnnkit::test::cli
