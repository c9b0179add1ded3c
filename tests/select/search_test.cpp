// The search driver with fake score functions (no training): grid order and trials.csv,
// successive halving rung by rung (NaN and failed trials never promoted), resuming (nothing
// finished is run twice), refusing a directory of another search, failed trials recorded;
// and the config search's checks of its arguments, which fail before anything trains.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cnnkit/select/search.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::read_bytes;
using namespace cnnkit::model_selection;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string fresh_dir(const std::string& name) {
  const std::string d = test::temp_path("search/" + name);
  fs::remove_all(d);
  return d;
}

std::vector<Trial> numbered(int64_t n) {
  std::vector<Trial> t;
  for (int64_t i = 0; i < n; ++i) t.push_back({i, {{"x", std::to_string(i)}}});
  return t;
}

struct Call {
  int64_t id, epochs;
  bool operator==(const Call& o) const { return id == o.id && epochs == o.epochs; }
};

std::string status_of(const SearchResult& r, int64_t id, int64_t rung) {
  for (const auto& row : r.rows)
    if (row.trial.id == id && row.rung == rung) return row.status;
  return "<none>";
}

}  // namespace

TEST(Search, GridTrialsRunInIdOrderAndEachRowIsInTrialsCsv) {
  const std::string dir = fresh_dir("grid");
  auto trials = grid_trials({parse_grid("opt.b=1,2"), parse_grid("opt.a=x,[3,3]")});
  std::vector<int64_t> order;
  auto score = [&](const Trial& t, int64_t epochs, const std::string& d) {
    EXPECT_EQ(epochs, 2);
    EXPECT_EQ(d, dir + "/trial-" + std::to_string(t.id) + "-e2");
    order.push_back(t.id);
    return static_cast<double>(t.id) / 10;
  };
  SearchResult r = search(trials, score, SearchOptions().epochs(2).output_dir(dir).metric("acc"));
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3}));
  ASSERT_EQ(r.rows.size(), 4u);
  EXPECT_EQ(r.trained, 4);
  ASSERT_TRUE(r.best.has_value());
  EXPECT_EQ(r.best->trial.id, 3);
  const auto csv = lines(read_bytes(dir + "/trials.csv"));
  ASSERT_EQ(csv.size(), 5u);
  EXPECT_EQ(csv[0], "id,rung,epochs,opt.a,opt.b,score,metric,status,seconds");
  // ParameterGrid order: keys sorted, the last key fastest; a value with a comma is quoted.
  EXPECT_EQ(csv[1].substr(0, csv[1].rfind(',')), "0,0,2,x,1,0,acc,ok");
  EXPECT_EQ(csv[2].substr(0, csv[2].rfind(',')), "1,0,2,x,2,0.1,acc,ok");
  EXPECT_EQ(csv[4].substr(0, csv[4].rfind(',')), "3,0,2,\"[3,3]\",2,0.3,acc,ok");
  EXPECT_TRUE(fs::exists(dir + "/search.json"));
  // Read back (a quoted value included): nothing runs again.
  order.clear();
  SearchResult again = search(trials, score, SearchOptions().epochs(2).output_dir(dir).metric("acc"));
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(again.skipped, 4);
  // The table: best first.
  const auto table = lines(search_table(r));
  ASSERT_EQ(table.size(), 5u);
  EXPECT_EQ(table[1].rfind("3 ", 0), 0u) << table[1];
}

TEST(Search, HalvingPromotesTheBestThirdRungByRung) {
  const std::string dir = fresh_dir("halving");
  // 9 trials, eta 3, epochs 1..9: rungs {1 epoch, 9}, {3, 3}, {9, 1}. At 1 epoch the score is
  // the id (8, 7, 6 go on); at 3 epochs it is -id (6 goes on).
  std::vector<Call> calls;
  auto score = [&](const Trial& t, int64_t epochs, const std::string&) {
    calls.push_back({t.id, epochs});
    return epochs == 1 ? static_cast<double>(t.id) : -static_cast<double>(t.id);
  };
  SearchResult r = search(numbered(9), score, SearchOptions().epochs(9).halving(true).output_dir(dir));
  std::vector<Call> expected;
  for (int64_t i = 0; i < 9; ++i) expected.push_back({i, 1});
  for (int64_t i : {6, 7, 8}) expected.push_back({i, 3});
  expected.push_back({6, 9});
  EXPECT_EQ(calls, expected);
  ASSERT_EQ(r.rows.size(), 13u);
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(status_of(r, i, 0), "pruned") << i;
  for (int64_t i : {6, 7, 8}) EXPECT_EQ(status_of(r, i, 0), "ok") << i;
  EXPECT_EQ(status_of(r, 6, 1), "ok");
  EXPECT_EQ(status_of(r, 7, 1), "pruned");
  EXPECT_EQ(status_of(r, 6, 2), "ok");
  ASSERT_TRUE(r.best.has_value());
  EXPECT_EQ(r.best->trial.id, 6);
  EXPECT_EQ(r.best->epochs, 9);
  EXPECT_EQ(r.best->rung, 2);
}

TEST(Search, HalvingNeverPromotesNanOrFailedTrials) {
  const std::string dir = fresh_dir("halving_nan");
  // 6 trials, eta 3, epochs 1..3: {1, 6} then {3, 2}. The two highest ids are a failure and
  // a NaN: 3 and 2 go on. Minimising would pick 0 and 1; maximising must skip 5 and 4.
  std::vector<Call> calls;
  auto score = [&](const Trial& t, int64_t epochs, const std::string&) -> double {
    calls.push_back({t.id, epochs});
    if (t.id == 5) throw ValueError("boom");
    if (t.id == 4) return NAN;
    return static_cast<double>(t.id);
  };
  SearchResult r = search(numbered(6), score, SearchOptions().epochs(3).halving(true).output_dir(dir));
  ASSERT_EQ(calls.size(), 8u);
  EXPECT_EQ(calls[6], (Call{2, 3}));
  EXPECT_EQ(calls[7], (Call{3, 3}));
  EXPECT_EQ(status_of(r, 5, 0), "failed: boom");
  EXPECT_EQ(status_of(r, 4, 0), "pruned");
  ASSERT_TRUE(r.best.has_value());
  EXPECT_EQ(r.best->trial.id, 3);
}

TEST(Search, HalvingStopsWhenNothingIsLeftToPromote) {
  const std::string dir = fresh_dir("halving_all_fail");
  int64_t calls = 0;
  auto score = [&](const Trial&, int64_t, const std::string&) -> double {
    ++calls;
    throw ValueError("bad config");
  };
  SearchResult r = search(numbered(4), score, SearchOptions().epochs(4).halving(true).eta(2).output_dir(dir));
  EXPECT_EQ(calls, 4);  // rung 0 only
  EXPECT_FALSE(r.best.has_value());
}

TEST(Search, RerunSkipsEveryFinishedTrialAndGivesTheSameResult) {
  const std::string dir = fresh_dir("resume");
  int64_t calls = 0;
  auto score = [&](const Trial& t, int64_t epochs, const std::string&) -> double {
    ++calls;
    if (t.id == 2) throw ValueError("invalid");
    return std::sin(static_cast<double>(t.id * 7 + epochs));
  };
  const auto opts = SearchOptions().epochs(9).halving(true).output_dir(dir).mode(train::Mode::kMin);
  SearchResult first = search(numbered(9), score, opts);
  const int64_t first_calls = calls;
  EXPECT_EQ(first.trained, first_calls);
  const std::string csv = read_bytes(dir + "/trials.csv");

  calls = 0;
  SearchResult again = search(numbered(9), score, opts);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(again.trained, 0);
  EXPECT_EQ(again.skipped, first_calls);
  ASSERT_EQ(again.rows.size(), first.rows.size());
  for (size_t i = 0; i < first.rows.size(); ++i) {
    EXPECT_EQ(again.rows[i].trial.id, first.rows[i].trial.id);
    EXPECT_EQ(again.rows[i].status, first.rows[i].status);
    if (!std::isnan(first.rows[i].score)) {
      EXPECT_EQ(again.rows[i].score, first.rows[i].score);  // bit for bit
    }
  }
  ASSERT_TRUE(again.best && first.best);
  EXPECT_EQ(again.best->trial.id, first.best->trial.id);
  // Same rows and statuses; only the timing column may be rewritten.
  EXPECT_EQ(lines(read_bytes(dir + "/trials.csv")).size(), lines(csv).size());
}

TEST(Search, InterruptedSearchKeepsFinishedRowsAndContinuesWhereItStopped) {
  const std::string dir = fresh_dir("interrupted");
  auto opts = SearchOptions().epochs(1).output_dir(dir);
  std::vector<int64_t> ran;
  auto stopping = [&](const Trial& t, int64_t, const std::string&) -> double {
    if (t.id == 3) throw train::Interrupted("stopped by Ctrl-C");
    ran.push_back(t.id);
    return 1.0;
  };
  try {
    search(numbered(6), stopping, opts);
    FAIL() << "expected Interrupted";
  } catch (const train::Interrupted& e) {
    EXPECT_NE(std::string(e.what()).find("trials.csv"), std::string::npos) << e.what();
  }
  EXPECT_EQ(lines(read_bytes(dir + "/trials.csv")).size(), 4u);  // header + trials 0, 1, 2

  ran.clear();
  auto counting = [&](const Trial& t, int64_t, const std::string&) {
    ran.push_back(t.id);
    return 1.0;
  };
  SearchResult r = search(numbered(6), counting, opts);
  EXPECT_EQ(ran, (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(r.skipped, 3);
  EXPECT_EQ(r.rows.size(), 6u);
}

TEST(Search, DirectoryOfAnotherSearchIsRefused) {
  const std::string dir = fresh_dir("refuse");
  auto score = [](const Trial&, int64_t, const std::string&) { return 0.5; };
  const auto opts = SearchOptions().epochs(3).halving(true).output_dir(dir).fingerprint("abc");
  search(numbered(3), score, opts);

  auto refused = [&](const std::vector<Trial>& trials, const SearchOptions& o, const std::string& needle) {
    try {
      search(trials, score, o);
      ADD_FAILURE() << "expected a refusal mentioning " << needle;
    } catch (const ValueError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("holds a search made with another"), std::string::npos) << msg;
      EXPECT_NE(msg.find(needle), std::string::npos) << msg;
    }
  };
  refused(numbered(3), SearchOptions(opts).eta(2), "'eta' (3 there, 2 here)");
  refused(numbered(3), SearchOptions(opts).fingerprint("abd"), "another config");
  refused(numbered(4), opts, "'trials' (\"3 trials");
  // The same search again is fine.
  EXPECT_NO_THROW(search(numbered(3), score, opts));

  // A directory holding something else.
  const std::string other = fresh_dir("not_a_search");
  fs::create_directories(other);
  std::ofstream(other + "/config.yaml") << "epochs: 1\n";
  try {
    search(numbered(1), score, SearchOptions().epochs(1).output_dir(other));
    ADD_FAILURE() << "expected a refusal";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("holds no search.json"), std::string::npos) << e.what();
  }
}

TEST(Search, FailedTrialIsRecordedAndTheOthersStillRun) {
  const std::string dir = fresh_dir("failed");
  auto score = [](const Trial& t, int64_t, const std::string&) -> double {
    if (t.id == 1) throw ValueError("config.yaml (after --set x=1): key 'x': expected a number,\ngot 'abc'");
    return static_cast<double>(t.id);
  };
  SearchResult r = search(numbered(3), score, SearchOptions().epochs(1).output_dir(dir).mode(train::Mode::kMin));
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[1].status, "failed: config.yaml (after --set x=1): key 'x': expected a number, got 'abc'");
  EXPECT_TRUE(std::isnan(r.rows[1].score));
  EXPECT_EQ(r.rows[2].status, "ok");
  ASSERT_TRUE(r.best.has_value());
  EXPECT_EQ(r.best->trial.id, 0);
  const std::string csv = read_bytes(dir + "/trials.csv");
  EXPECT_NE(csv.find("1,0,1,1,,score,\"failed: config.yaml (after --set x=1): key 'x': expected a number, got 'abc'\""),
            std::string::npos)
      << csv;
  // The table puts the failure last.
  EXPECT_NE(lines(search_table(r)).back().find("failed"), std::string::npos);
}

TEST(Search, DriverArgumentsAreChecked) {
  auto score = [](const Trial&, int64_t, const std::string&) { return 0.0; };
  const std::string dir = fresh_dir("args");
  EXPECT_THROW(search({}, score, SearchOptions().epochs(1).output_dir(dir)), ValueError);
  EXPECT_THROW(search(numbered(2), score, SearchOptions().output_dir(dir)), ValueError);  // epochs 0
  EXPECT_THROW(search(numbered(2), score, SearchOptions().epochs(1)), ValueError);       // no output_dir
  EXPECT_THROW(search(numbered(2), score, SearchOptions().epochs(3).halving(true).eta(1).output_dir(dir)), ValueError);
  EXPECT_THROW(search(numbered(2), score, SearchOptions().epochs(3).halving(true).min_epochs(4).output_dir(dir)),
               ValueError);
  EXPECT_THROW(search({{0, {}}, {0, {}}}, score, SearchOptions().epochs(1).output_dir(dir)), ValueError);
}

// ---- the config search's argument checks (before anything trains) ---------------------------

namespace {

train::RunConfig tiny_config(const std::string& extra = "") {
  return train::parse_run_config("data:\n"
                                 "  dataset: npy\n"
                                 "  paths: {train_images: x.npy, train_labels: y.npy, test_images: x.npy, "
                                 "test_labels: y.npy}\n"
                                 "model: {layers: [Flatten, Linear: {out_features: 4}]}\n"
                                 "optimizer: {name: SGD, lr: 0.1}\n"
                                 "epochs: 2\n" + extra,
                                 "tiny.yaml");
}

std::string error_of(const train::RunConfig& cfg, const SearchOptions& o) {
  try {
    search(cfg, SearchOptions(o).output_dir(fresh_dir("config_args")));
  } catch (const ValueError& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST(SearchConfig, BadArgumentsFailUpFrontNamingTheArgument) {
  const auto cfg = tiny_config();
  EXPECT_NE(error_of(cfg, SearchOptions()).find("--grid"), std::string::npos);
  EXPECT_NE(error_of(cfg, SearchOptions().grid({parse_grid("optimizer.lr=0.1,0.2")})
                              .space({parse_space("optimizer.lr=uniform(0,1)")}).n_random(2))
                .find("not both"),
            std::string::npos);
  EXPECT_NE(error_of(cfg, SearchOptions().space({parse_space("optimizer.lr=uniform(0,1)")})).find("--random"),
            std::string::npos);
  const std::string cv1 = error_of(cfg, SearchOptions().grid({parse_grid("optimizer.lr=0.1,0.2")}).cv_folds(1));
  EXPECT_NE(cv1.find("--cv 1"), std::string::npos) << cv1;

  const std::string typo =
      error_of(cfg, SearchOptions().space({parse_space("optimizer.lerning_rate=loguniform(1e-3,1)")}).n_random(2));
  EXPECT_NE(typo.find("--space optimizer.lerning_rate="), std::string::npos) << typo;
  EXPECT_NE(typo.find("did you mean 'lr'"), std::string::npos) << typo;

  const std::string section = error_of(cfg, SearchOptions().grid({parse_grid("optimiser.lr=0.1,0.2")}));
  EXPECT_NE(section.find("--grid optimiser.lr=0.1,0.2"), std::string::npos) << section;
  EXPECT_NE(section.find("did you mean 'optimizer'"), std::string::npos) << section;

  const auto no_val_cfg = train::parse_run_config(train::to_yaml_string(cfg), "tiny.yaml", {"data.split.val=0"});
  const std::string no_val = error_of(no_val_cfg, SearchOptions().grid({parse_grid("optimizer.lr=0.1,0.2")}));
  EXPECT_NE(no_val.find("no validation split"), std::string::npos) << no_val;

  const std::string halving_epochs =
      error_of(cfg, SearchOptions().grid({parse_grid("epochs=1,2")}).halving(true));
  EXPECT_NE(halving_epochs.find("--grid epochs=1,2"), std::string::npos) << halving_epochs;
}
