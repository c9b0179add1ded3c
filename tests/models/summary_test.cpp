// Model summaries: LeNet-5's totals computed by hand, ResNet-20's FLOPs against the same
// conventions counted with forward hooks in PyTorch, nested rows, the table, and that the
// walk changes nothing in the model.
#include "cnnkit/models/summary.h"

#include <gtest/gtest.h>

#include "cnnkit/models/builder.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::models;
using cnnkit::test::contains;

namespace {

const SummaryRow& row(const ModelSummary& s, const std::string& name) {
  for (const auto& r : s.rows)
    if (r.name == name) return r;
  static SummaryRow none;
  ADD_FAILURE() << "no row " << name;
  return none;
}

}  // namespace

TEST(Summary, LeNet5TotalsByHand) {
  nn::Sequential net = lenet5();
  ModelSummary s = summary(*net, {1, 1, 28, 28});
  EXPECT_EQ(s.total_params, 61706);
  EXPECT_EQ(s.trainable_params, 61706);
  EXPECT_EQ(s.buffer_elements, 0);
  // conv1 2*6*28*28*1*25 = 235,200; relu 4,704; pool 1,176 outputs * 4 = 4,704;
  // conv2 2*16*10*10*6*25 = 480,000; relu 1,600; pool 400 * 4 = 1,600; flatten 0;
  // fc1 2*400*120 = 96,000; relu 120; fc2 2*120*84 = 20,160; relu 84; fc3 2*84*10 = 1,680.
  const int64_t want = 235200 + 4704 + 4704 + 480000 + 1600 + 1600 + 0 + 96000 + 120 + 20160 + 84 + 1680;
  EXPECT_EQ(s.total_flops, want);
  EXPECT_EQ(want, 845852);
  EXPECT_TRUE(s.flops_complete);
  ASSERT_EQ(s.rows.size(), 12u);
  EXPECT_EQ(s.rows[0].name, "0");
  EXPECT_EQ(s.rows[0].type, "Conv2d");
  EXPECT_EQ(s.rows[0].output_shape, (std::vector<int64_t>{1, 6, 28, 28}));
  EXPECT_EQ(s.rows[0].params, 156);
  EXPECT_EQ(s.rows[0].flops, 235200);
  EXPECT_EQ(s.rows[2].type, "MaxPool2d");
  EXPECT_EQ(s.rows[2].flops, 4704);
  EXPECT_EQ(s.rows[6].output_shape, (std::vector<int64_t>{1, 400}));
  EXPECT_EQ(s.rows[7].params, 48120);
  EXPECT_EQ(s.output_shape, (std::vector<int64_t>{1, 10}));
  // FLOPs scale with the batch.
  EXPECT_EQ(summary(*net, {4, 1, 28, 28}).total_flops, 4 * want);

  const std::string t = s.table();
  EXPECT_TRUE(contains(t, "Layer (type)")) << t;
  EXPECT_TRUE(contains(t, "0 (Conv2d)")) << t;
  EXPECT_TRUE(contains(t, "[1, 6, 28, 28]")) << t;
  EXPECT_TRUE(contains(t, "235,200")) << t;
  EXPECT_TRUE(contains(t, "Total params: 61,706\n")) << t;
  EXPECT_TRUE(contains(t, "Forward FLOPs: 845,852 (845.85 KFLOPs)\n")) << t;
  // Every table line has the same width up to the totals.
  std::istringstream lines(t);
  std::string first, line;
  std::getline(lines, first);
  for (int k = 0; k < 12 && std::getline(lines, line);) {  // the 12 rows
    if (line.empty() || line[0] == '=') continue;
    EXPECT_EQ(line.size(), first.size()) << line;
    ++k;
  }
}

TEST(Summary, ResNet20NestedRowsAndFlops) {
  nn::Sequential net = resnet20();
  ModelSummary s = summary(*net, {1, 3, 32, 32});
  EXPECT_EQ(s.total_params, 272474);
  // PyTorch, the same net (tools/golden/gen_models.py cifar_resnet) with forward hooks on
  // every leaf using these formulas plus one add per BasicBlock: 82,306,304.
  EXPECT_EQ(s.total_flops, 82306304);
  EXPECT_GT(s.buffer_elements, 0);  // running means and variances
  const SummaryRow& stage = row(s, "layer2");
  EXPECT_TRUE(stage.container);
  EXPECT_EQ(stage.type, "Sequential");
  EXPECT_EQ(stage.output_shape, (std::vector<int64_t>{1, 32, 16, 16}));
  const SummaryRow& block = row(s, "layer2.0");
  EXPECT_EQ(block.type, "BasicBlock");
  EXPECT_EQ(block.depth, 1);
  EXPECT_EQ(row(s, "layer2.0.downsample.0").type, "Conv2d");
  EXPECT_EQ(row(s, "layer2.0.downsample.0").depth, 3);
  EXPECT_EQ(row(s, "layer2.0.conv1").flops, 2 * 32 * 16 * 16 * 16 * 9);
  // A block's FLOPs: its children's plus the add and the second ReLU.
  int64_t children = 0;
  for (const auto& r : s.rows)
    if (r.depth == 2 && r.name.rfind("layer2.0.", 0) == 0) children += r.flops;
  EXPECT_EQ(block.flops, children + 2 * 32 * 16 * 16);
  EXPECT_EQ(row(s, "fc").output_shape, (std::vector<int64_t>{1, 10}));
  // max_depth keeps the table short and the totals the same.
  const std::string t = s.table(0);
  EXPECT_TRUE(contains(t, "layer3 (Sequential)")) << t;
  EXPECT_FALSE(contains(t, "layer3.0")) << t;
  EXPECT_TRUE(contains(t, "Forward FLOPs: 82,306,304 (82.31 MFLOPs)")) << t;
}

TEST(Summary, OtherZooModelsMatchTorchHookCounts) {
  // The same hook count in PyTorch as above.
  EXPECT_EQ(summary(*mobilenet_small(), {1, 3, 32, 32}).total_flops, 38279168);
  EXPECT_EQ(summary(*vgg_small(), {1, 3, 32, 32}).total_flops, 77672960);
}

TEST(Summary, LeavesTheModelAsItWas) {
  nn::Sequential net = resnet20({.blocks = {1, 1, 1}});
  net->ptr<nn::SequentialImpl>(3)->eval();  // a mixed state must come back as it was
  summary(*net, {2, 3, 8, 8});
  EXPECT_TRUE(net->is_training());
  EXPECT_FALSE(net->ptr<nn::SequentialImpl>(3)->is_training());
  EXPECT_FALSE(net->ptr<nn::SequentialImpl>(3)->ptr(0)->is_training());
  EXPECT_TRUE(net->ptr<nn::SequentialImpl>(4)->ptr(0)->is_training());
  auto bn = net->ptr<nn::BatchNorm2dImpl>(1);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);  // eval: statistics untouched
  for (const Tensor& p : net->parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Summary, ResidualFromConfigAndBareBlocks) {
  nn::Sequential net = build_from_yaml(R"(
model:
  layers:
    - Conv2d: {in_channels: 2, out_channels: 4, kernel_size: 3, padding: 1}
    - Residual: {body: [{Conv2d: {in_channels: 4, out_channels: 4, kernel_size: 1}}], activation: ReLU}
)");
  ModelSummary s = summary(*net, {1, 2, 5, 5});
  EXPECT_EQ(row(s, "1").type, "Residual");
  EXPECT_EQ(row(s, "1.body.0").flops, 2 * 4 * 25 * 4);
  EXPECT_EQ(row(s, "1.activation").flops, 100);
  EXPECT_EQ(row(s, "1").flops, 2 * 4 * 25 * 4 + 100 + 100);  // body, add, activation
  EXPECT_EQ(s.total_flops, 2 * 4 * 25 * 2 * 9 + row(s, "1").flops);

  BasicBlock block(4, 8, 2);
  ModelSummary b = summary(*block, {1, 4, 8, 8});
  EXPECT_EQ(b.rows[0].type, "BasicBlock");
  EXPECT_EQ(b.rows[1].name, "conv1");
  EXPECT_EQ(b.total_flops, b.rows[0].flops);
  EXPECT_EQ(b.output_shape, (std::vector<int64_t>{1, 8, 4, 4}));
}

namespace {
struct PlainImpl : nn::Module {
  Tensor forward(const Tensor& x) { return x * 2.0; }
};
CNNKIT_MODULE(Plain);
}  // namespace

TEST(Summary, UnknownLayersAndErrors) {
  // A custom module inside a Sequential: one row, cost unknown.
  nn::Sequential net(nn::Linear(3, 4), Plain());
  ModelSummary s = summary(*net, {2, 3});
  EXPECT_EQ(s.rows[1].type, "Plain");
  EXPECT_FALSE(s.rows[1].flops_known);
  EXPECT_FALSE(s.flops_complete);
  EXPECT_EQ(s.total_flops, 2 * 2 * 3 * 4);
  EXPECT_TRUE(contains(s.table(), "some layers of unknown cost counted as 0"));
  // A custom module given as a bare nn::Module&: its forward cannot be reached.
  Plain plain;
  nn::Module& bare = *plain;
  EXPECT_TRUE(contains(test::error_of([&] { summary(bare, {1, 3}); }), "pass the module itself or its holder"));
  // A shape the model rejects: the row's name and the input shape.
  std::string msg = test::error_of([] { summary(*lenet5(), {1, 3, 28, 28}); });
  EXPECT_TRUE(contains(msg, "summary: 0 (Conv2d) fails on input [1, 3, 28, 28]")) << msg;
}

// An ensemble's cost is its members' (each on the same input) plus the stacking meta-learner's
// multiply-adds; every member appears as a container row.
TEST(Summary, EnsembleCountsEveryMemberAndTheMetaLearner) {
  const int64_t one = summary(*models::lenet5(), {2, 1, 28, 28}).total_flops;
  std::vector<nn::AnyModule> members;
  for (int i = 0; i < 3; ++i) members.emplace_back(models::lenet5());
  nn::Sequential mean{nn::Ensemble(members)};
  ModelSummary s = summary(*mean, {2, 1, 28, 28});
  EXPECT_TRUE(s.flops_complete);
  EXPECT_EQ(s.total_flops, 3 * one);
  EXPECT_EQ(s.rows[1].name, "0.member0");
  std::vector<nn::AnyModule> again;
  for (int i = 0; i < 3; ++i) again.emplace_back(models::lenet5());
  nn::Sequential stack{nn::Ensemble(again, nn::EnsembleOptions("stacking").num_classes(10))};
  EXPECT_EQ(summary(*stack, {2, 1, 28, 28}).total_flops, 3 * one + 2 * 2 * 30 * 10);
}

// A LibTorch-style custom module: its layer calls (holder calls, a Sequential's children) are
// the rows, nested as the calls nest, with the layers' FLOP rules; the custom block inside
// does arithmetic of its own, so its cost is unknown, and the table says what is not seen.
namespace {
struct BlockImpl : nn::Module {
  BlockImpl() {
    conv = register_module("conv", nn::Conv2d(nn::Conv2dOptions(4, 4, 3).padding(1)));
    bn = register_module("bn", nn::BatchNorm2d(4));
  }
  Tensor forward(const Tensor& x) { return relu(bn(conv(x)) + x); }
  nn::Conv2d conv{nullptr};
  nn::BatchNorm2d bn{nullptr};
};
CNNKIT_MODULE(Block);

struct NetImpl : nn::Module {
  NetImpl() {
    stem = register_module("stem", nn::Conv2d(1, 4, 3));
    block = register_module("block", Block());
    head = register_module("head", nn::Sequential(nn::AdaptiveAvgPool2d(1), nn::Flatten(), nn::Linear(4, 10)));
  }
  Tensor forward(Tensor x) {
    x = relu(stem(x));  // a function, not a layer: the model's own arithmetic, not a row
    x = block(x);
    return head(x);
  }
  nn::Conv2d stem{nullptr};
  Block block{nullptr};
  nn::Sequential head{nullptr};
};
CNNKIT_MODULE(Net);
}  // namespace

TEST(Summary, AnyModuleByItsLayerCalls) {
  Net net;
  net->train();
  ModelSummary s = summary(net, {2, 1, 10, 10});
  EXPECT_TRUE(net->is_training());  // restored
  std::vector<std::string> names, types;
  std::vector<int> depths;
  for (const auto& r : s.rows) {
    names.push_back(r.name);
    types.push_back(r.type);
    depths.push_back(r.depth);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"stem", "block", "block.conv", "block.bn", "head", "head.0", "head.1",
                                             "head.2"}));
  EXPECT_EQ(types, (std::vector<std::string>{"Conv2d", "Block", "Conv2d", "BatchNorm2d", "Sequential",
                                             "AdaptiveAvgPool2d", "Flatten", "Linear"}));
  EXPECT_EQ(depths, (std::vector<int>{0, 0, 1, 1, 0, 1, 1, 1}));
  EXPECT_EQ(row(s, "stem").output_shape, (std::vector<int64_t>{2, 4, 8, 8}));
  EXPECT_EQ(row(s, "stem").flops, 2 * 2 * 4 * 8 * 8 * 1 * 3 * 3);
  EXPECT_EQ(row(s, "block.conv").flops, 2 * 2 * 4 * 8 * 8 * 4 * 3 * 3);
  EXPECT_FALSE(row(s, "block").flops_known);  // its add and ReLU are its own arithmetic
  EXPECT_TRUE(row(s, "head").flops_known);
  EXPECT_EQ(row(s, "head").flops, 2 * 4 * 8 * 8 + 0 + 2 * 2 * 4 * 10);
  EXPECT_EQ(s.output_shape, (std::vector<int64_t>{2, 10}));
  EXPECT_EQ(s.total_params, 4 * 9 + 4 + 4 * 4 * 9 + 4 + 8 + 4 * 10 + 10);
  EXPECT_TRUE(s.traced);
  EXPECT_FALSE(s.flops_complete);
  EXPECT_TRUE(contains(s.table(), "calls written layer->forward(x) are not counted")) << s.table();
  // The same from the Impl, and a Sequential's summary is the walk it always was.
  EXPECT_EQ(summary(*net, {2, 1, 10, 10}).rows.size(), s.rows.size());
  nn::Sequential seq = models::lenet5();
  EXPECT_FALSE(summary(seq, {1, 1, 28, 28}).traced);
  EXPECT_EQ(summary(seq, {1, 1, 28, 28}).total_flops, summary(*seq, {1, 1, 28, 28}).total_flops);
  // A failing forward names the model and leaves no observer behind.
  EXPECT_TRUE(contains(test::error_of([&] { summary(net, {2, 3, 10, 10}); }), "summary: Net fails on input [2, 3, 10, 10]"));
  EXPECT_EQ(nn::detail::forward_observer(), nullptr);
}
