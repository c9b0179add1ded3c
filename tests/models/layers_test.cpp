// The layer table (models/layers.h) against what exists: every module class declared in
// include/cnnkit/nn/modules/*.h (read from the headers themselves, so a new class that is
// not registered fails here), each row with a FLOP rule, a golden case and a name the
// builder accepts. Containers (container/) and losses (loss.h: two inputs) are not layers.
#include "cnnkit/models/layers.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "cnnkit/models/builder.h"
#include "cnnkit/nn/modules/activation.h"
#include "cnnkit/nn/modules/normalization.h"
#include "cnnkit/ops/factory.h"
#include "test_util.h"

using namespace cnnkit;

namespace {

namespace fs = std::filesystem;

// The source tree, from the golden data folder the tests are given (<src>/tests/golden/data).
fs::path source_dir() { return fs::path(CNNKIT_GOLDEN_DIR).parent_path().parent_path().parent_path(); }

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Lines of `text` outside #define bodies.
std::vector<std::string> code_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  bool in_define = false;
  for (std::string line; std::getline(in, line);) {
    const bool continued = !line.empty() && line.back() == '\\';
    if (in_define || line.rfind("#define", 0) == 0) {
      in_define = continued;
      continue;
    }
    out.push_back(line);
  }
  return out;
}

// Module classes declared by the nn headers: CNNKIT_MODULE(Name), CNNKIT_ACTIVATION*(Name, ...)
// outside macro definitions, and the lines X(Name, ...) of the activation lists in
// ops/activation.h, from which nn/modules/activation.h declares a module each.
std::set<std::string> declared_nn_modules() {
  std::set<std::string> names;
  const std::regex declaration(R"(\bCNNKIT_(?:MODULE|ACTIVATION\w*)\((\w+))");
  for (const auto& entry : fs::directory_iterator(source_dir() / "include/cnnkit/nn/modules")) {
    if (entry.path().extension() != ".h" || entry.path().filename() == "loss.h") continue;
    for (const std::string& line : code_lines(read_text(entry.path())))
      for (std::sregex_iterator m(line.begin(), line.end(), declaration), end; m != end; ++m)
        names.insert((*m)[1]);
  }
  const std::regex list_line(R"(^\s*X\((\w+),)");
  std::istringstream ops(read_text(source_dir() / "include/cnnkit/ops/activation.h"));
  for (std::string line; std::getline(ops, line);) {
    std::smatch m;
    if (std::regex_search(line, m, list_line)) names.insert(m[1]);
  }
  return names;
}

TEST(Layers, HeadersDeclareTheKnownModules) {
  // The parser itself: a few classes it must find, and nothing of the macros' parameters.
  const auto names = declared_nn_modules();
  for (const char* n : {"Conv2d", "Linear", "BatchNorm2d", "ReLU", "Softplus", "Sigmoid", "Hardswish", "PReLU"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_FALSE(names.count("Name"));
  EXPECT_FALSE(names.count("Module"));
  EXPECT_GE(names.size(), 30u);
}

TEST(Layers, EveryNnModuleIsInTheTable) {
  for (const std::string& name : declared_nn_modules())
    EXPECT_NE(models::find_layer(name), nullptr)
        << "nn::" << name << " has no entry in the layer table (src/models/layers.cpp); "
        << "see docs/adding-a-layer.md";
}

TEST(Layers, EveryRowHasAFlopRuleAndAUniqueName) {
  std::set<std::string> seen;
  for (const models::LayerSpec& spec : models::layer_table()) {
    EXPECT_TRUE(static_cast<bool>(spec.flops)) << spec.name << " has no FLOP rule";
    EXPECT_TRUE(static_cast<bool>(spec.make)) << spec.name;
    EXPECT_TRUE(seen.insert(spec.name).second) << spec.name << " twice";
  }
}

TEST(Layers, TheBuilderAcceptsEveryRow) {
  const auto names = models::layer_names();
  for (const models::LayerSpec& spec : models::layer_table())
    EXPECT_NE(std::find(names.begin(), names.end(), spec.name), names.end()) << spec.name;
  for (const char* n : {"Residual", "Sequential"}) EXPECT_NE(std::find(names.begin(), names.end(), n), names.end());
}

// No arguments given: every row reads nothing, and a channel count comes from "the previous
// layer" (3 channels).
class NoArgs final : public models::LayerArgs {
 public:
  NoArgs() : LayerArgs("test layer") {}
  bool has(std::string_view) const override { return false; }
  bool is_null(std::string_view) const override { return false; }
  int64_t integer(std::string_view) const override { return 0; }
  double number(std::string_view) const override { return 0; }
  bool boolean(std::string_view) const override { return false; }
  std::string text(std::string_view) const override { return ""; }
  bool is_text(std::string_view) const override { return false; }
  std::vector<int64_t> ints(std::string_view, size_t n) const override { return std::vector<int64_t>(n); }
  std::vector<int64_t> int_list(std::string_view) const override { return {}; }
  std::vector<std::optional<int64_t>> optional_ints(std::string_view, size_t n) const override {
    return std::vector<std::optional<int64_t>>(n);
  }
  std::optional<int64_t> previous_channels() const override { return 3; }
  void raise(std::string_view, const std::string& message) const override { throw ValueError(message); }
};

TEST(Layers, RowsStartFromTheOptionsDefaults) {
  nn::AnyModule bn = models::make_layer("BatchNorm2d", NoArgs());
  const nn::BatchNormOptions want(3);
  EXPECT_EQ(bn.ptr()->as<nn::BatchNorm2dImpl>()->options.num_features(), 3);
  EXPECT_EQ(bn.ptr()->as<nn::BatchNorm2dImpl>()->options.eps(), want.eps());
  EXPECT_EQ(bn.ptr()->as<nn::BatchNorm2dImpl>()->options.momentum(), want.momentum());
  nn::AnyModule leaky = models::make_layer("LeakyReLU", NoArgs());
  EXPECT_EQ(leaky.ptr()->as<nn::LeakyReLUImpl>()->options.negative_slope(), nn::LeakyReLUOptions().negative_slope());
  nn::AnyModule ht = models::make_layer("Hardtanh", NoArgs());
  EXPECT_EQ(ht.ptr()->as<nn::HardtanhImpl>()->options.max_val(), nn::HardtanhOptions().max_val());
  EXPECT_THROW(models::make_layer("Conv2d", NoArgs()), ValueError);  // out_channels is required
  EXPECT_THROW(models::make_layer("Conv3d", NoArgs()), ValueError);
}

// Each row that needs no arguments, made and run on (2, 3, 4, 4) (or (2, 3, 16) for the
// layers that take 3 dims): its FLOP rule applies to
// the module its make gives, and the table finds the row again from the module's type.
TEST(Layers, RowsWithoutRequiredArgumentsRunAndCountFlops) {
  const Tensor x = randn({2, 3, 4, 4});
  int made = 0;
  for (const models::LayerSpec& spec : models::layer_table()) {
    nn::AnyModule m;
    try {
      m = spec.make(NoArgs());
    } catch (const ValueError&) {
      continue;  // a required argument
    }
    ++made;
    EXPECT_EQ(models::find_layer(*m.ptr()), &spec) << spec.name;
    Tensor in = x, y;
    try {
      y = m.forward(in);
    } catch (const ShapeError&) {
      in = x.flatten(2);  // BatchNorm1d: (N, C, L)
      y = m.forward(in);
    }
    EXPECT_GE(spec.flops(*m.ptr(), in, y), 0) << spec.name;
  }
  EXPECT_GE(made, 20);
}

// Every row is checked against PyTorch by a golden case built through the table
// (tests/golden/*_test.cpp call build_layer), except the zoo's block, whose golden is the
// whole-model one.
TEST(Layers, EveryRowHasAGoldenCase) {
  std::set<std::string> covered = {"BasicBlock"};  // resnet_tiny (tests/models/zoo_test.cpp)
  for (const char* family :
       {"activation", "conv2d", "linear", "normalization", "pooling", "padding", "upsample", "conv_transpose",
        "layers1d"}) {
    test::Golden g(family);
    for (const std::string& c : g.cases()) covered.insert(g.options(c).at("module").get<std::string>());
  }
  for (const models::LayerSpec& spec : models::layer_table())
    EXPECT_TRUE(covered.count(spec.name)) << spec.name << " has no golden case: add one to tools/golden/gen_*.py";
}

}  // namespace
