// ONNX import and export inside cnnkit: PyTorch's exports (tests/golden/data/onnx, written by
// tools/golden/gen_onnx.py) imported and run against PyTorch's outputs, fine-tuned against
// PyTorch's 5 SGD steps; cnnkit's exports imported back (and exported again); bad files.
// The external runtimes (ONNX Runtime, onnx.checker, OpenCV) are tests/onnx/.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "cnnkit/cnnkit.h"
#include "io/onnx_proto.h"
#include "onnx_models.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::read_bytes;
using cnnkit::test::write_bytes;

namespace {

std::string golden_onnx(const std::string& name) { return std::string(CNNKIT_GOLDEN_DIR) + "/onnx/" + name; }

const std::vector<std::string> kImportModels = {"lenet5",      "resnet20_bn", "mobilenet",   "convbn",
                                                "convbn_bn",   "conv_options", "activations", "pooling",
                                                "global_pool", "norms",       "layernorm13", "layernorm17",
                                                "shape_ops",   "custom_ops"};

}  // namespace

TEST(OnnxImport, PyTorchExportsMatchPyTorchOutputs) {
  for (const auto& name : kImportModels) {
    SCOPED_TRACE(name);
    auto m = io::import_onnx(golden_onnx(name + ".onnx"));
    m->eval();
    auto t = io::load_safetensors(golden_onnx(name + ".safetensors"));
    NoGradGuard no_grad;
    EXPECT_TRUE(test::allclose(m->forward(t.at("input")), t.at("output"), 1e-4, 1e-4));
  }
}

TEST(OnnxImport, WeightsKeepPyTorchNamesAndBatchNormKeepsRunningStats) {
  auto m = io::import_onnx(golden_onnx("resnet20_bn.onnx"));
  auto params = m->named_parameters();
  auto buffers = m->named_buffers();
  EXPECT_NE(params.find("conv1.weight"), nullptr);
  EXPECT_NE(params.find("bn1.weight"), nullptr);
  EXPECT_NE(params.find("layers.0.conv1.weight"), nullptr);
  EXPECT_NE(buffers.find("bn1.running_mean"), nullptr);
  EXPECT_NE(buffers.find("bn1.running_var"), nullptr);
  EXPECT_EQ(params.find("bn1.running_mean"), nullptr);  // statistics are not trained
  EXPECT_EQ(m->state_names().at("bn1.running_var"), "bn1.running_var");
  EXPECT_EQ(m->opset(), 13);
  EXPECT_EQ(m->input_names().at(0), "input");
  EXPECT_EQ(m->input_shape(), (std::vector<int64_t>{-1, 3, 32, 32}));
  EXPECT_FALSE(m->is_training());  // an inference graph comes back in eval mode
}

// PyTorch trained the same model 5 SGD steps (lr 0.05, momentum 0.9) on one fixed batch in
// train mode; the imported model must follow step for step: loss, weights, running stats.
TEST(OnnxImport, FineTuningFollowsPyTorchFiveSgdSteps) {
  for (const std::string name : {"lenet5", "convbn_bn"}) {
    SCOPED_TRACE(name);
    auto m = io::import_onnx(golden_onnx(name + ".onnx"));
    auto t = io::load_safetensors(golden_onnx(name + "_finetune.safetensors"));
    m->train();
    optim::SGD opt(m->parameters(), optim::SGDOptions(0.05).momentum(0.9));
    nn::CrossEntropyLoss loss_fn;
    const Tensor losses = t.at("losses");
    for (int step = 0; step < 5; ++step) {
      opt.zero_grad();
      Tensor loss = loss_fn(m->forward(t.at("x")), t.at("y"));
      EXPECT_NEAR(loss.item<float>(), losses[step].item<float>(), 1e-4) << "step " << step;
      loss.backward();
      opt.step();
    }
    auto params = m->named_parameters();
    auto buffers = m->named_buffers();
    int compared = 0;
    for (const auto& [key, expected] : t) {
      if (key.rfind("step5/", 0) != 0) continue;
      const std::string onnx_name = key.substr(6);
      const std::string state = m->state_names().at(onnx_name);
      const Tensor* actual = params.find(state);
      if (!actual) actual = buffers.find(state);
      ASSERT_NE(actual, nullptr) << onnx_name;
      EXPECT_TRUE(test::allclose(*actual, expected, 1e-4, 1e-4)) << onnx_name;
      ++compared;
    }
    EXPECT_GE(compared, 8);
  }
}

TEST(OnnxExport, EveryFamilyImportsBackWithTheSameOutputs) {
  for (auto& c : test::onnx_cases()) {
    SCOPED_TRACE(c.name);
    const std::string path = test::temp_path(c.name + ".onnx");
    manual_seed(1);
    const Tensor x = randn(c.input);
    io::export_onnx(*c.model, x, path);
    EXPECT_FALSE(c.model->is_training());  // perturb() left it in eval mode; export restores that
    NoGradGuard no_grad;
    const Tensor expected = c.model->forward(x);
    auto m = io::import_onnx(path);
    m->eval();
    EXPECT_TRUE(test::allclose(m->forward(x), expected, 1e-5, 1e-5));
    // A different batch size: the batch dimension is dynamic.
    const Tensor x1 = x.narrow(0, 0, 1).contiguous();
    EXPECT_TRUE(test::allclose(m->forward(x1), c.model->forward(x1), 1e-5, 1e-5));
    // Export of the import, import again: the same outputs.
    const std::string again = test::temp_path(c.name + "_again.onnx");
    io::export_onnx(*m, x, again);
    EXPECT_TRUE(test::allclose(io::import_onnx(again)->forward(x), expected, 1e-5, 1e-5));
  }
}

TEST(OnnxExport, EveryLayerOfTheLayerTableHasAnExporter) {
  for (const auto& spec : models::layer_table()) {
    EXPECT_TRUE(io::has_onnx_exporter(spec.type)) << spec.name;
  }
  EXPECT_TRUE(io::has_onnx_exporter(typeid(models::ResidualImpl)));
  EXPECT_TRUE(io::has_onnx_exporter(typeid(nn::SequentialImpl)));
  EXPECT_TRUE(io::has_onnx_exporter(typeid(nn::EnsembleImpl)));
  EXPECT_TRUE(io::has_onnx_exporter(typeid(io::OnnxModelImpl)));
}

// Initializers are named by the state dict (conv1.weight, bn1.running_mean, ...), so a model
// exported by cnnkit and imported anywhere keeps PyTorch's names, and imported back into
// cnnkit its parameters and buffers have the original names.
TEST(OnnxExport, InitializersCarryStateDictNames) {
  manual_seed(2);
  nn::Sequential net = models::resnet20({.num_classes = 4, .width = 4, .blocks = {1, 1, 1}});
  net->eval();
  const std::string path = test::temp_path("names.onnx");
  io::export_onnx(*net, randn({1, 3, 16, 16}), path);
  onnx::ModelProto model = io::detail::read_model_proto(path);
  std::set<std::string> names;
  for (const auto& t : model.graph().initializer()) names.insert(t.name());
  auto imported = io::import_onnx(path);
  auto params = imported->named_parameters();
  auto buffers = imported->named_buffers();
  for (const auto& p : net->named_parameters()) {
    EXPECT_TRUE(names.count(p.key())) << p.key();
    ASSERT_NE(params.find(p.key()), nullptr) << p.key();
    EXPECT_TRUE(params.find(p.key())->equal(p.value())) << p.key();
  }
  for (const auto& b : net->named_buffers()) {
    if (b.key().find("num_batches_tracked") != std::string::npos) continue;  // not part of inference
    EXPECT_TRUE(names.count(b.key())) << b.key();
    ASSERT_NE(buffers.find(b.key()), nullptr) << b.key();
  }
}

TEST(OnnxExport, Opset17WritesOneLayerNormalizationAndHardSwish) {
  nn::Sequential net(nn::LayerNorm(nn::LayerNormOptions({3, 4})), nn::Hardswish());
  const std::string path = test::temp_path("ln17.onnx");
  const Tensor x = randn({2, 5, 3, 4});
  io::export_onnx(*net, x, path, io::OnnxExportOptions().opset_version(17));
  onnx::ModelProto model = io::detail::read_model_proto(path);
  std::vector<std::string> ops;
  for (const auto& n : model.graph().node()) ops.push_back(n.op_type());
  EXPECT_EQ(ops, (std::vector<std::string>{"LayerNormalization", "HardSwish"}));
  EXPECT_EQ(io::detail::default_opset(model), 17);
  EXPECT_TRUE(test::allclose(io::import_onnx(path)->forward(x), net->forward(x), 1e-5, 1e-5));
}

TEST(OnnxExport, NamesDynamicBatchAndMetadata) {
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 2, 3)), nn::BatchNorm2d(2), nn::Dropout(0.5), nn::Flatten());
  net->train();
  const std::string path = test::temp_path("meta.onnx");
  io::export_onnx(*net, randn({1, 1, 5, 5}), path,
                  io::OnnxExportOptions().input_name("image").output_name("logits").metadata({{"classes", "[\"a\", \"b\"]"}}));
  EXPECT_TRUE(net->is_training());  // the caller's mode comes back
  onnx::ModelProto model = io::detail::read_model_proto(path);
  EXPECT_EQ(model.graph().input(0).name(), "image");
  EXPECT_EQ(model.graph().output(0).name(), "logits");
  EXPECT_EQ(model.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(model.graph().output(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(io::load_onnx_metadata(path).at("classes"), "[\"a\", \"b\"]");
  std::vector<std::string> ops;
  for (const auto& n : model.graph().node()) ops.push_back(n.op_type());
  EXPECT_EQ(ops, (std::vector<std::string>{"Conv", "BatchNormalization", "Flatten"}));  // no Dropout
}

TEST(OnnxExport, ZooBlocksAndEnsemblesExport) {
  manual_seed(3);
  nn::Sequential a = models::resnet20({.num_classes = 3, .width = 4, .blocks = {1, 1, 1}});
  nn::Sequential b = models::resnet20({.num_classes = 3, .width = 4, .blocks = {1, 1, 1}});
  a->eval();
  b->eval();
  const Tensor x = randn({2, 3, 16, 16});
  for (const std::string method : {"mean", "stacking"}) {
    SCOPED_TRACE(method);
    nn::Ensemble e(std::vector<nn::AnyModule>{nn::AnyModule(a), nn::AnyModule(b)}, nn::EnsembleOptions(method).num_classes(3));
    e->eval();
    const std::string path = test::temp_path("ensemble_" + method + ".onnx");
    io::export_onnx(*e, x, path);
    NoGradGuard no_grad;
    EXPECT_TRUE(test::allclose(io::import_onnx(path)->forward(x), e->forward(x), 1e-5, 1e-5));
  }
  nn::Ensemble vote(std::vector<nn::AnyModule>{nn::AnyModule(a), nn::AnyModule(b)}, nn::EnsembleOptions("vote"));
  EXPECT_THROW(io::export_onnx(*vote, x, test::temp_path("vote.onnx")), NotImplementedError);
}

namespace {
struct Doubler : nn::Module {
  Tensor forward(const Tensor& x) { return x * 2.0; }
};
}  // namespace

TEST(OnnxExport, CustomLayerNeedsAnExporterAndCanRegisterOne) {
  auto net = nn::Sequential(nn::Linear(3, 2));
  net->push_back("double", std::make_shared<Doubler>());
  const Tensor x = randn({2, 3});
  const std::string path = test::temp_path("custom.onnx");
  const std::string msg = test::message_of([&] { io::export_onnx(*net, x, path); });
  EXPECT_NE(msg.find("module 'double'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("register_onnx_exporter"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(path));
  io::register_onnx_exporter<Doubler>([](Doubler& m, const std::string& scope, const io::OnnxValue& v,
                                         io::OnnxGraphBuilder& g) {
    return io::OnnxValue{g.node("Mul", {v.name, g.scalar(2.0, scope + ".two")}, {}, scope), m.forward(v.value)};
  });
  io::export_onnx(*net, x, path);
  NoGradGuard no_grad;
  EXPECT_TRUE(test::allclose(io::import_onnx(path)->forward(x), net->forward(x), 1e-6, 1e-6));
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

namespace {

onnx::ModelProto lenet_proto() { return io::detail::read_model_proto(golden_onnx("lenet5.onnx")); }

std::string save(const std::string& name, const onnx::ModelProto& m) {
  std::string bytes;
  m.SerializeToString(&bytes);
  return write_bytes(name, bytes);
}

}  // namespace

TEST(OnnxImport, CorruptTruncatedAndMissingFilesNameTheFile) {
  const std::string good = read_bytes(golden_onnx("lenet5.onnx"));
  for (size_t keep : {size_t{0}, size_t{7}, good.size() / 3, good.size() - 5}) {
    SCOPED_TRACE(keep);
    const std::string path = write_bytes("truncated.onnx", good.substr(0, keep));
    const std::string msg = test::message_of([&] { io::import_onnx(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
  }
  EXPECT_THROW(io::import_onnx(write_bytes("text.onnx", "not a model at all\n")), IOError);
  EXPECT_THROW(io::import_onnx("/nonexistent/model.onnx"), IOError);
}

TEST(OnnxImport, UnsupportedOpNamesOpNodeAndOpset) {
  onnx::ModelProto m = lenet_proto();
  m.mutable_graph()->mutable_node(1)->set_op_type("Einsum");
  m.mutable_graph()->mutable_node(1)->set_name("my_einsum");
  const std::string msg = test::message_of([&] { io::import_onnx(save("einsum.onnx", m)); });
  EXPECT_NE(msg.find("Einsum"), std::string::npos) << msg;
  EXPECT_NE(msg.find("my_einsum"), std::string::npos) << msg;
  EXPECT_NE(msg.find("opset 13"), std::string::npos) << msg;
  EXPECT_THROW(io::import_onnx(save("einsum.onnx", m)), NotImplementedError);
}

TEST(OnnxImport, OpsetTooOldOrTooNewIsRefused) {
  for (int64_t opset : {7, 18}) {
    onnx::ModelProto m = lenet_proto();
    m.mutable_opset_import(0)->set_version(opset);
    const std::string msg = test::message_of([&] { io::import_onnx(save("opset.onnx", m)); });
    EXPECT_NE(msg.find("opset " + std::to_string(opset)), std::string::npos) << msg;
  }
  EXPECT_THROW(io::export_onnx(*nn::Sequential(nn::ReLU()), randn({1, 2}), test::temp_path("x.onnx"),
                               io::OnnxExportOptions().opset_version(12)),
               ValueError);
}

TEST(OnnxImport, NonFloatDataAndWrongShapesAreRefused) {
  onnx::ModelProto m = lenet_proto();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::DOUBLE);
  EXPECT_THROW(io::import_onnx(save("double_input.onnx", m)), TypeError);

  m = lenet_proto();
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->set_data_type(onnx::TensorProto::DOUBLE);
  EXPECT_THROW(io::import_onnx(save("double_weight.onnx", m)), TypeError);

  m = lenet_proto();
  m.mutable_graph()->mutable_initializer(0)->add_dims(2);  // dims no longer match the bytes
  EXPECT_THROW(io::import_onnx(save("bad_dims.onnx", m)), IOError);

  m = lenet_proto();
  m.mutable_graph()->mutable_node(2)->set_input(0, "nowhere");
  const std::string msg = test::message_of([&] { io::import_onnx(save("dangling.onnx", m)); });
  EXPECT_NE(msg.find("nowhere"), std::string::npos) << msg;

  auto net = io::import_onnx(golden_onnx("lenet5.onnx"));
  const std::string shape_msg = test::message_of([&] { net->forward(randn({2, 3, 28, 28})); });
  EXPECT_NE(shape_msg.find("[2, 3, 28, 28]"), std::string::npos) << shape_msg;
  EXPECT_THROW(net->forward(randn({2, 1, 28, 28}).to(kLong)), TypeError);
}

// Hand-built graphs for forms torch.onnx writes in some configurations: int64 shape
// arithmetic (x.view(-1, x.size(1) * x.size(2))), a strided Slice, and a BatchNormalization
// of a training-mode export (5 outputs at opset 13).
TEST(OnnxImport, ShapeArithmeticStridedSliceAndTrainingModeBatchNorm) {
  onnx::ModelProto model;
  model.set_ir_version(7);
  model.add_opset_import()->set_version(13);
  auto* g = model.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : {-1, 2, 3, 4}) {
    auto* dim = in->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim();
    if (d > 0) dim->set_dim_value(d);
  }
  auto ints = [&](const std::string& name, std::vector<int64_t> v, bool scalar = false) {
    Tensor t = from_blob(v.data(), {static_cast<int64_t>(v.size())}, kLong).clone();
    io::detail::to_proto(scalar ? t.reshape({}) : t, name, g->add_initializer());
  };
  auto node = [&](const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(op + "_" + outs[0]);
    for (auto& i : ins) n->add_input(i);
    for (auto& o : outs) n->add_output(o);
    return n;
  };
  ints("one", {1}, true);
  ints("two", {2}, true);
  ints("three", {3}, true);
  ints("zero_axis", {0});
  ints("minus_one", {-1});
  ints("starts", {0});
  ints("ends", {4});
  ints("axes", {3});
  ints("steps", {2});
  for (const char* name : {"scale", "bias", "mean", "var"}) {
    Tensor t = std::string(name) == "var" ? full({2}, 2.0) : std::string(name) == "scale" ? full({2}, 1.5) : full({2}, 0.25);
    io::detail::to_proto(t, name, g->add_initializer());
  }
  node("BatchNormalization", {"x", "scale", "bias", "mean", "var"}, {"bn", "rm", "rv", "sm", "sv"});
  node("Slice", {"bn", "starts", "ends", "axes", "steps"}, {"sliced"});  // (N, 2, 3, 2)
  node("Shape", {"sliced"}, {"shape"});
  node("Gather", {"shape", "one"}, {"c"});
  node("Gather", {"shape", "two"}, {"h"});
  node("Mul", {"c", "h"}, {"ch"});
  node("Unsqueeze", {"ch", "zero_axis"}, {"ch1"});
  node("Gather", {"shape", "three"}, {"w"});
  node("Unsqueeze", {"w", "zero_axis"}, {"w1"});
  node("Concat", {"minus_one", "ch1", "w1"}, {"target"})->add_attribute()->CopyFrom([] {
    onnx::AttributeProto a;
    a.set_name("axis");
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(0);
    return a;
  }());
  node("Reshape", {"sliced", "target"}, {"y"});  // (N, 6, 2)
  g->add_output()->set_name("y");
  std::string bytes;
  model.SerializeToString(&bytes);
  const std::string path = test::temp_path("handmade.onnx");
  std::ofstream(path, std::ios::binary) << bytes;

  auto m = io::import_onnx(path);
  const Tensor x = randn({3, 2, 3, 4});
  NoGradGuard no_grad;
  const Tensor bn = (x - 0.25) / std::sqrt(2.0 + 1e-5) * 1.5 + 0.25;  // eval: running statistics
  const Tensor expected = index_select(bn, 3, arange(0, 4, 2)).reshape({3, 6, 2});
  EXPECT_TRUE(test::allclose(m->forward(x), expected, 1e-5, 1e-5));
}
