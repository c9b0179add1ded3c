// `cnnkit search` on the tiny synthetic dataset with a one-layer model: a random search writes
// trials.csv and a best.yaml that loads as a run config, a rerun skips every trial, halving
// and --cv run end to end, and bad arguments fail naming the argument.
#include <gtest/gtest.h>

#include "cli/cli_util.h"
#include "cnnkit/train/config.h"

namespace cnnkit::test::cli {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// tiny_config's data and settings with a linear model instead of LeNet-5 (a trial trains in
// well under a second) and `epochs` epochs.
std::string config(const std::string& name, int epochs = 1) {
  std::string text = read_all(tiny_config(name, test::temp_path("search/unused-" + name)));
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    ASSERT_NE(at, std::string::npos) << from << " not in\n" << text;
    text.replace(at, from.size(), to);
  };
  replace("model: {zoo: lenet5, in_channels: 1, num_classes: 4}", "model: {layers: [Flatten, Linear: {out_features: 4}]}");
  replace("epochs: 1", "epochs: " + std::to_string(epochs));
  return write(name, text);
}

TEST(CliSearch, RandomSearchWritesTrialsAndALoadableBestConfigAndARerunSkipsEveryTrial) {
  const std::string dir = test::temp_path("search/random");
  const std::string cfg = config("random.yaml");
  const std::string args = "search " + cfg +
                           " --random 3 --seed 7 --space 'optimizer.lr=loguniform(0.001,0.1)'"
                           " --space 'data.batch_size=choice(16,64)' -o " + dir;
  Result r = run(args);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto csv = lines(read_all(dir + "/trials.csv"));
  ASSERT_EQ(csv.size(), 4u) << read_all(dir + "/trials.csv");
  EXPECT_EQ(csv[0], "id,rung,epochs,data.batch_size,optimizer.lr,score,metric,status,seconds");
  for (size_t i = 1; i < csv.size(); ++i) {
    EXPECT_EQ(csv[i].rfind(std::to_string(i - 1) + ",0,1,", 0), 0u) << csv[i];
    EXPECT_TRUE(contains(csv[i], ",val_accuracy,ok,")) << csv[i];
  }
  EXPECT_TRUE(contains(r.out, "best: trial")) << r.out;
  EXPECT_TRUE(fs::exists(dir + "/trial-0-e1/summary.txt"));
  EXPECT_TRUE(fs::exists(dir + "/search.json"));

  // best.yaml: the whole config, loadable by `cnnkit train`, with the best trial's values.
  const train::RunConfig best = train::load_run_config(dir + "/best.yaml");
  EXPECT_EQ(best.epochs, 1);
  EXPECT_EQ(best.output_dir, dir + "/best");
  const std::string best_line = r.out.substr(r.out.find("best: trial"));
  EXPECT_TRUE(contains(best_line, "--set data.batch_size=" + std::to_string(best.data.batch_size))) << best_line;

  // The same command again: nothing trains, the table is the same.
  Result again = run(args);
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_TRUE(contains(again.out, "0 trained, 3 skipped")) << again.out;
  EXPECT_EQ(lines(read_all(dir + "/trials.csv")).size(), 4u);

  // A trial whose row was lost but whose run directory is finished is scored from it, not
  // trained again: the same score.
  const auto before = lines(read_all(dir + "/trials.csv"));
  std::string without_last;
  for (size_t i = 0; i + 1 < before.size(); ++i) without_last += before[i] + "\n";
  std::ofstream(dir + "/trials.csv", std::ios::binary) << without_last;
  Result reread = run(args);
  ASSERT_EQ(reread.code, 0) << reread.out << reread.err;
  const auto after = lines(read_all(dir + "/trials.csv"));
  ASSERT_EQ(after.size(), before.size());
  auto score_of = [](const std::string& row) {  // id,rung,epochs,batch,lr,score,...
    size_t at = 0;
    for (int i = 0; i < 5; ++i) at = row.find(',', at) + 1;
    return row.substr(at, row.find(',', at) - at);
  };
  EXPECT_EQ(score_of(after.back()), score_of(before.back())) << before.back() << "\n" << after.back();
  EXPECT_TRUE(contains(after.back(), ",ok,")) << after.back();

  // Another search into that directory is refused.
  Result other = run("search " + cfg + " --random 4 --seed 7 --space 'optimizer.lr=loguniform(0.001,0.1)'"
                     " --space 'data.batch_size=choice(16,64)' -o " + dir);
  EXPECT_EQ(other.code, 1);
  EXPECT_TRUE(contains(other.err, "holds a search made with another 'n_random' (3 there, 4 here)")) << other.err;
}

TEST(CliSearch, HalvingGridTrainsTheBestThirdLonger) {
  const std::string dir = test::temp_path("search/halving");
  // 3 trials, epochs 2: rung 0 trains all three 1 epoch, rung 1 the best one 2 epochs.
  Result r = run("search " + config("halving.yaml", 2) +
                 " --grid optimizer.lr=0.001,0.01,0.1 --halving -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string csv = read_all(dir + "/trials.csv");
  EXPECT_EQ(lines(csv).size(), 5u) << csv;
  size_t pruned = 0;
  for (const std::string& l : lines(csv)) pruned += contains(l, ",pruned,");
  EXPECT_EQ(pruned, 2u) << csv;
  EXPECT_TRUE(contains(csv, ",1,2,")) << csv;  // a rung-1 row at 2 epochs
  EXPECT_EQ(train::load_run_config(dir + "/best.yaml").epochs, 2);
}

TEST(CliSearch, CrossValidatedTrialsScoreByTheMeanOverFolds) {
  const std::string dir = test::temp_path("search/cv");
  Result r = run("search " + config("cv.yaml") + " --grid optimizer.lr=0.01,0.1 --cv 2 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(dir + "/trial-0-e1/cv.json"));
  EXPECT_TRUE(fs::exists(dir + "/trial-1-e1/fold-1/summary.txt"));
  EXPECT_TRUE(contains(read_all(dir + "/trials.csv"), ",val_accuracy,ok,"));
}

TEST(CliSearch, BadArgumentsFailNamingTheArgument) {
  const std::string cfg = config("bad.yaml");
  const std::string out = " -o " + test::temp_path("search/bad");
  Result r = run("search " + cfg + " --random 2 --space 'optimizer.lr=loguniform(0,1)'" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--space optimizer.lr=loguniform(0,1)")) << r.err;

  r = run("search " + cfg + " --random 2 --space 'optimizer.lerning_rate=loguniform(0.001,1)'" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--space optimizer.lerning_rate=")) << r.err;
  EXPECT_TRUE(contains(r.err, "did you mean 'lr'")) << r.err;

  // A model key: the config keeps the model section as written, the builder checks it.
  r = run("search " + cfg + " --grid model.layres=[Flatten],[Flatten,ReLU]" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--grid model.layres=")) << r.err;
  EXPECT_TRUE(contains(r.err, "did you mean 'layers'")) << r.err;

  r = run("search " + cfg + " --grid optimizer.lr=0.1,0.2 --cv 1" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--cv 1")) << r.err;

  r = run("search " + cfg + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "--grid")) << r.err;

  r = run("search " + cfg + " --grid optimizer.lr=0.1 --random 2 --space 'optimizer.lr=uniform(0,1)'" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "not both")) << r.err;

  // Halving's first rung must outlast the config's warm-up (else every trial would fail).
  r = run("search " + cfg + " --grid optimizer.lr=0.1,0.2 --halving --set epochs=4 --set scheduler.name=CosineAnnealingLR "
          "--set scheduler.warmup.epochs=1" + out);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "pass --min-epochs 2 or more")) << r.err;
  EXPECT_FALSE(fs::exists(test::temp_path("search/bad")));  // nothing written
}

TEST(CliSearch, InvalidTrialIsRecordedAsFailedAndTheOthersRun) {
  const std::string dir = test::temp_path("search/failed");
  // lr -1 is a valid YAML number that SGD refuses: that trial fails, the other trains.
  Result r = run("search " + config("failed.yaml") + " --grid optimizer.lr=-1,0.05 -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string csv = read_all(dir + "/trials.csv");
  EXPECT_TRUE(contains(csv, "failed: ")) << csv;
  EXPECT_TRUE(contains(csv, ",val_accuracy,ok,")) << csv;

  // Every trial failing is an error.
  r = run("search " + config("allfail.yaml") + " --grid optimizer.lr=-1,-2 -o " + test::temp_path("search/allfail"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, "every trial failed")) << r.err;
}

}  // namespace
}  // namespace cnnkit::test::cli
