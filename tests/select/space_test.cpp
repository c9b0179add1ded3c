// Search spaces: parsing every --space distribution and --grid list, the messages of bad
// arguments, ParameterGrid's order, random trials (bounds, distribution, independence of n,
// exact round trip of drawn numbers) and the overrides.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <set>

#include "cnnkit/select/space.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::model_selection;
using Kind = SearchParam::Kind;

namespace {

TEST(ParseSpace, ParsesEachDistribution) {
  SearchParam lr = parse_space("optimizer.lr=loguniform(1e-4,1e-1)");
  EXPECT_EQ(lr.key, "optimizer.lr");
  EXPECT_EQ(lr.kind, Kind::kLogUniform);
  EXPECT_EQ(lr.low, 1e-4);
  EXPECT_EQ(lr.high, 0.1);
  SearchParam p = parse_space("model.dropout = uniform( 0 , 0.5 )");
  EXPECT_EQ(p.key, "model.dropout");
  EXPECT_EQ(p.kind, Kind::kUniform);
  EXPECT_EQ(p.high, 0.5);
  SearchParam e = parse_space("train.epochs=int(-2,4)");
  EXPECT_EQ(e.kind, Kind::kInt);
  EXPECT_EQ(e.low, -2);
  EXPECT_EQ(e.high, 4);
  SearchParam c = parse_space("optimizer.name=choice(SGD, Adam)");
  EXPECT_EQ(c.kind, Kind::kChoice);
  EXPECT_EQ(c.values, (std::vector<std::string>{"SGD", "Adam"}));
  EXPECT_EQ(parse_space("model.kernel=choice([3,3],[5,5],'a,b')").values,
            (std::vector<std::string>{"[3,3]", "[5,5]", "'a,b'"}));
  EXPECT_EQ(lr.to_string(), "optimizer.lr=loguniform(1e-04,0.1)");  // std::to_chars: shortest form
  EXPECT_EQ(e.to_string(), "train.epochs=int(-2,4)");
}

TEST(ParseSpace, ErrorsNameTheArgumentAndTheProblem) {
  EXPECT_EQ(test::error_of([] { parse_space("optimizer.lr=loguniform(0,1)"); }),
            "--space optimizer.lr=loguniform(0,1): loguniform needs 0 < a < b");
  EXPECT_EQ(test::error_of([] { parse_space("x=uniform(1,1)"); }), "--space x=uniform(1,1): uniform needs a < b");
  EXPECT_EQ(test::error_of([] { parse_space("x=int(5,2)"); }), "--space x=int(5,2): int needs integers a <= b");
  EXPECT_EQ(test::error_of([] { parse_space("x=int(1.5,2)"); }), "--space x=int(1.5,2): int needs integers, got '1.5'");
  EXPECT_EQ(test::error_of([] { parse_space("x=uniform(a,1)"); }), "--space x=uniform(a,1): uniform needs numbers, got 'a'");
  EXPECT_EQ(test::error_of([] { parse_space("x=uniform(1)"); }),
            "--space x=uniform(1): uniform takes two bounds (a,b), got 1 arguments");
  EXPECT_EQ(test::error_of([] { parse_space("x=normal(0,1)"); }),
            "--space x=normal(0,1): unknown distribution 'normal' (loguniform, uniform, int, choice)");
  EXPECT_EQ(test::error_of([] { parse_space("x=0.1"); }),
            "--space x=0.1: expected loguniform(a,b), uniform(a,b), int(a,b) or choice(v1,v2,...) after '='");
  EXPECT_EQ(test::error_of([] { parse_space("optimizer.lr"); }),
            "--space optimizer.lr: expected key=distribution, e.g. optimizer.lr=loguniform(1e-4,1e-1)");
  EXPECT_EQ(test::error_of([] { parse_space("=choice(a)"); }),
            "--space =choice(a): the key before '=' must be a config key such as optimizer.lr, got ''");
  EXPECT_EQ(test::error_of([] { parse_space("x=choice(a,,b)"); }),
            "--space x=choice(a,,b): an empty value (two commas in a row, or one at an end)");
  EXPECT_EQ(test::error_of([] { parse_space("x=choice(a,a)"); }), "--space x=choice(a,a): the value a is listed twice");
  EXPECT_THROW(parse_space("x=loguniform(1,inf)"), ValueError);
}

TEST(ParseGrid, ParsesListsAndNamesBadArguments) {
  SearchParam g = parse_grid("data.batch_size=32,64");
  EXPECT_EQ(g.key, "data.batch_size");
  EXPECT_EQ(g.kind, Kind::kChoice);
  EXPECT_EQ(g.values, (std::vector<std::string>{"32", "64"}));
  EXPECT_EQ(parse_grid("a=7").values, (std::vector<std::string>{"7"}));
  EXPECT_EQ(test::error_of([] { parse_grid("data.batch_size=32,,64"); }),
            "--grid data.batch_size=32,,64: an empty value (two commas in a row, or one at an end)");
  EXPECT_EQ(test::error_of([] { parse_grid("data.batch_size"); }),
            "--grid data.batch_size: expected key=v1,v2,..., e.g. data.batch_size=32,64");
}

TEST(GridTrials, FollowSklearnParameterGridOrder) {
  // list(ParameterGrid({"b": [1, 2], "a": ["x", "y"]})) ==
  //   [{"a": "x", "b": 1}, {"a": "x", "b": 2}, {"a": "y", "b": 1}, {"a": "y", "b": 2}]
  auto trials = grid_trials({parse_grid("b=1,2"), parse_grid("a=x,y")});
  ASSERT_EQ(trials.size(), 4u);
  std::vector<std::vector<std::string>> got;
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i].id, static_cast<int64_t>(i));
    got.push_back(to_overrides(trials[i]));
  }
  EXPECT_EQ(got, (std::vector<std::vector<std::string>>{
                     {"a=x", "b=1"}, {"a=x", "b=2"}, {"a=y", "b=1"}, {"a=y", "b=2"}}));
  auto none = grid_trials({});
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].params.empty());
  EXPECT_EQ(grid_trials({parse_grid("a=1,2,3"), parse_grid("b=1,2"), parse_grid("c=1,2")}).size(), 12u);
}

TEST(GridTrials, RejectRepeatedKeysAndDistributions) {
  EXPECT_EQ(test::error_of([] { grid_trials({parse_grid("a=1,2"), parse_grid("a=3")}); }),
            "grid_trials: the key a is given twice (a=choice(1,2) and a=choice(3))");
  EXPECT_EQ(test::error_of([] { grid_trials({parse_space("lr=loguniform(0.001,0.1)")}); }),
            "grid_trials: lr=loguniform(0.001,0.1) is a distribution; a grid takes lists of values (key=v1,v2,...)");
}

double parsed(const std::string& s) {
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  EXPECT_TRUE(r.ec == std::errc() && r.ptr == s.data() + s.size()) << s;
  return v;
}

TEST(RandomTrials, DrawWithinBoundsFromTheRightDistributions) {
  std::vector<SearchParam> space = {parse_space("lr=loguniform(1e-4,1e-1)"), parse_space("drop=uniform(0.1,0.5)"),
                                    parse_space("layers=int(1,4)"), parse_space("opt=choice(SGD,Adam,AdamW)")};
  const int64_t n = 2000;
  auto trials = random_trials(space, n, 3);
  ASSERT_EQ(trials.size(), static_cast<size_t>(n));
  double log_sum = 0, drop_sum = 0;
  std::set<std::string> layers, opts;
  for (const auto& t : trials) {
    ASSERT_EQ(t.params.size(), 4u);  // keys sorted: drop, layers, lr, opt
    EXPECT_EQ(t.params[0].first, "drop");
    EXPECT_EQ(t.params[3].first, "opt");
    double drop = parsed(t.params[0].second), lr = parsed(t.params[2].second);
    EXPECT_TRUE(drop >= 0.1 && drop <= 0.5) << drop;
    EXPECT_TRUE(lr >= 1e-4 && lr <= 0.1) << lr;
    log_sum += std::log10(lr);
    drop_sum += drop;
    layers.insert(t.params[1].second);
    opts.insert(t.params[3].second);
  }
  // log10(lr) ~ U[-4, -1]: mean -2.5, sd 0.87, so the mean of 2000 has sd 0.019; uniform(0.1,
  // 0.5): mean 0.3, sd of the mean 0.0026. Tolerances are 5 sd.
  EXPECT_NEAR(log_sum / n, -2.5, 0.1);
  EXPECT_NEAR(drop_sum / n, 0.3, 0.013);
  EXPECT_EQ(layers, (std::set<std::string>{"1", "2", "3", "4"}));
  EXPECT_EQ(opts, (std::set<std::string>{"SGD", "Adam", "AdamW"}));
}

TEST(RandomTrials, TrialIDependsOnlyOnSeedAndI) {
  std::vector<SearchParam> space = {parse_space("lr=loguniform(1e-4,1e-1)"), parse_space("opt=choice(a,b,c,d)")};
  auto five = random_trials(space, 5, 11), twenty = random_trials(space, 20, 11);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(five[i].id, static_cast<int64_t>(i));
    EXPECT_EQ(five[i].params, twenty[i].params);
  }
  auto other = random_trials(space, 5, 12);
  EXPECT_NE(five[0].params, other[0].params);
  EXPECT_TRUE(random_trials(space, 0, 1).empty());
  EXPECT_EQ(test::error_of([&] { random_trials(space, -1, 1); }),
            "random_trials: n (the number of trials) must be >= 0, got -1");
}

TEST(RandomTrials, DrawnNumbersRoundTripExactly) {
  for (const auto& t : random_trials({parse_space("lr=loguniform(1e-6,1)"), parse_space("m=uniform(-1,1)")}, 200, 5))
    for (const auto& [key, value] : t.params) {
      double v = parsed(value);
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v);
      EXPECT_EQ(std::string(buf, r.ptr), value);  // shortest form: no digits lost or added
    }
}

TEST(Trial, OverridesAreKeyEqualsValue) {
  Trial t{3, {{"optimizer.lr", "0.01"}, {"data.batch_size", "64"}}};
  EXPECT_EQ(to_overrides(t), (std::vector<std::string>{"optimizer.lr=0.01", "data.batch_size=64"}));
}

}  // namespace
