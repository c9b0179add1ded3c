// The strict YAML helpers: typed values, defaults, unknown keys with hints, file:line in
// every message.
#include "io/yaml.h"  // private to the library: tests see src/

#include <gtest/gtest.h>

#include "cnnkit/core/error.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::io::yaml;
namespace {
const YamlContext ctx{"configs/x.yaml"};

// The message of the E thrown by f; "" when f throws nothing (another type fails the test).
template <class E, class F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(YamlUtil, ReadsTypedValuesAndDefaults) {
  YAML::Node n = YAML::Load("a: 3\nb: 1e-3\nc: true\nd: hello\ne: [1, 2]\nf: ~\n");
  EXPECT_EQ(require<int64_t>(n, "a", ctx), 3);
  EXPECT_EQ(get<int>(n, "a", ctx, 7), 3);
  EXPECT_DOUBLE_EQ(get<double>(n, "b", ctx, 0.0), 1e-3);
  EXPECT_DOUBLE_EQ(get<double>(n, "a", ctx, 0.0), 3.0);  // an integer is a number
  EXPECT_TRUE(get<bool>(n, "c", ctx, false));
  EXPECT_EQ(get<std::string>(n, "d", ctx, ""), "hello");
  EXPECT_EQ(get<std::vector<int64_t>>(n, "e", ctx, {}), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(get<int>(n, "missing", ctx, 7), 7);
  EXPECT_EQ(get<int>(n, "f", ctx, 9), 9);  // null reads as missing
  EXPECT_FALSE(get_optional<double>(n, "f", ctx).has_value());
  EXPECT_EQ(*get_optional<double>(n, "a", ctx), 3.0);
  EXPECT_TRUE(has(n, "a"));
  EXPECT_FALSE(has(n, "f"));
}

TEST(YamlUtil, TypeErrorsNameFileLineKeyAndValue) {
  YAML::Node n = YAML::Load("lr: 0.1\nepochs: ten\nk: 3.0\nflag: maybe\nl: [1, x]\n");
  EXPECT_EQ(thrown<ValueError>([&] { require<int64_t>(n, "epochs", ctx); }),
            "configs/x.yaml:2: key 'epochs': expected an integer, got 'ten'");
  EXPECT_THROW(require<int64_t>(n, "epochs", ctx), ConfigError);  // a ValueError with its position
  EXPECT_EQ(thrown<ValueError>([&] { require<int64_t>(n, "k", ctx); }),
            "configs/x.yaml:3: key 'k': expected an integer, got '3.0'");
  EXPECT_EQ(thrown<ValueError>([&] { get<bool>(n, "flag", ctx, false); }),
            "configs/x.yaml:4: key 'flag': expected true or false, got 'maybe'");
  EXPECT_EQ(thrown<ValueError>([&] { get<std::vector<int64_t>>(n, "l", ctx, {}); }),
            "configs/x.yaml:5: key 'l'[1]: expected an integer, got 'x'");
  EXPECT_EQ(thrown<ValueError>([&] { get<double>(n, "l", ctx, 0.0); }),
            "configs/x.yaml:5: key 'l': expected a number, got a list [1, x]");
  EXPECT_EQ(thrown<ValueError>([&] { require<double>(n, "momentum", ctx, "optimizer"); }),
            "configs/x.yaml:1: missing required key 'momentum' in optimizer");
}

TEST(YamlUtil, UnknownKeySuggestsClosest) {
  YAML::Node n = YAML::Load("optimizer:\n  lr: 0.1\n  momentun: 0.9\n");
  const YAML::Node opt = n["optimizer"];
  EXPECT_EQ(thrown<ValueError>(
                [&] { check_keys(opt, {"name", "lr", "momentum"}, ctx, "optimizer"); }),
            "configs/x.yaml:3: unknown key 'momentun' in optimizer (allowed: name, lr, momentum); "
            "did you mean 'momentum'?");
  YAML::Node far = YAML::Load("zzzzzz: 1");
  EXPECT_EQ(thrown<ValueError>([&] { check_keys(far, {"lr"}, ctx, "optimizer"); }),
            "configs/x.yaml:1: unknown key 'zzzzzz' in optimizer (allowed: lr)");
  EXPECT_NO_THROW(check_keys(opt, {"lr", "momentun"}, ctx, "optimizer"));
  EXPECT_NO_THROW(check_keys(n["absent"], {"lr"}, ctx, "optimizer"));  // empty section
  EXPECT_THROW(check_keys(YAML::Load("[1, 2]"), {"lr"}, ctx, "optimizer"), ValueError);
  EXPECT_EQ(closest("lerning_rate", {"learning_rate", "lr"}), "learning_rate");
  EXPECT_EQ(closest("Conv2D", {"Conv2d", "Linear"}), "Conv2d");
  EXPECT_EQ(closest("qqq", {"Conv2d", "Linear"}), "");
}

TEST(YamlUtil, IntsExpandOrCheckLength) {
  YAML::Node n = YAML::Load("a: 3\nb: [3, 5]\nc: [3, 5, 7]\nd: x\n");
  EXPECT_EQ(get_ints(n, "a", 2, ctx, {}), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(get_ints(n, "b", 2, ctx, {}), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(get_ints(n, "zz", 2, ctx, {1, 1}), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(thrown<ValueError>([&] { get_ints(n, "c", 2, ctx, {}); }),
            "configs/x.yaml:3: key 'c': expected an integer or a list of 2 integers, got a list "
            "[3, 5, 7]");
  EXPECT_THROW(get_ints(n, "d", 2, ctx, {}), ValueError);
}

TEST(YamlUtil, WhereWithoutFileOrPosition) {
  YAML::Node n = YAML::Load("a: 1");
  EXPECT_EQ(where(n["a"], YamlContext{}), "<yaml>:1");
  YAML::Node built;
  built["a"] = 1;
  EXPECT_EQ(where(built["a"], ctx), "configs/x.yaml");
  EXPECT_EQ(where(n["missing"], ctx), "configs/x.yaml");
}

TEST(ConfigNode, KeepsTheYamlWithItsFileAndLines) {
  const io::ConfigNode c = io::ConfigNode::parse("model:\n  zoo: resnet20\n  blocks: [1, 1, 1]\n", "configs/r.yaml");
  EXPECT_TRUE(c.defined());
  EXPECT_EQ(c.file(), "configs/r.yaml");
  EXPECT_EQ(c.str(), "{model: {zoo: resnet20, blocks: [1, 1, 1]}}");
  const YAML::Node blocks = node_of(c)["model"]["blocks"];
  EXPECT_EQ(where(blocks, YamlContext{c.file()}), "configs/r.yaml:3");
  EXPECT_FALSE(io::ConfigNode().defined());
  EXPECT_EQ(io::ConfigNode().str(), "");
  EXPECT_FALSE(io::ConfigNode::parse("~").defined());
}

TEST(ConfigNode, ParseErrorsNameTheFileAndLine) {
  const std::string tab = thrown<IOError>([] { io::ConfigNode::parse("a:\n\tb: 1\n", "x.yaml"); });
  EXPECT_NE(tab.find("x.yaml:2: malformed YAML: a tab in the indentation"), std::string::npos) << tab;
  const std::string bad = thrown<IOError>([] { io::ConfigNode::parse("a: [1, 2\n", "x.yaml"); });
  EXPECT_NE(bad.find("x.yaml:"), std::string::npos) << bad;
  const std::string dup = thrown<ValueError>([] { io::ConfigNode::parse("a: 1\nb: 2\na: 3\n", "x.yaml"); });
  EXPECT_NE(dup.find("x.yaml:3: duplicate key 'a' (first at line 1)"), std::string::npos) << dup;
}
