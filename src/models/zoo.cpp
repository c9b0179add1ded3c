// The model zoo: LeNet-5, VGG-style, CIFAR ResNets, ResNet-18, MobileNet-style, and the two
// block modules they share with the config builder (BasicBlock, Residual). Every model is
// an nn::Sequential of named children so state-dict keys are PyTorch's and a forward is the
// layers' own forwards, nothing else. No pretrained weights.
#include "cnnkit/models/zoo.h"

#include <algorithm>
#include <cctype>
#include <ostream>

#include "cnnkit/core/error.h"
#include "cnnkit/io/onnx.h"
#include "cnnkit/nn/init.h"
#include "cnnkit/nn/modules/container/sequential.h"
#include "cnnkit/nn/modules/linear.h"
#include "cnnkit/nn/modules/pooling.h"
#include "cnnkit/ops/norm.h"

namespace cnnkit::models {

namespace {

// N = batch, C = channels, H, W = height, width.
nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

int64_t or_default(int64_t v, int64_t d) { return v != 0 ? v : d; }

void check_positive(const char* model, const char* what, int64_t v) {
  CNNKIT_CHECK(v > 0, "models::", model, ": ", what, " must be positive, got ", v);
}

// torchvision's ResNet init: kaiming_normal_(fan_out, relu) for convs, BN weight 1 bias 0
// (BatchNorm2d's own default already), Linear left at PyTorch's default.
void resnet_init(nn::Module& net) {
  for (const auto& m : net.modules()) {
    if (auto* conv = m->as<nn::Conv2dImpl>()) nn::init::kaiming_normal_(conv->weight, 0, kFanOut, kReLU);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// BasicBlock
// ---------------------------------------------------------------------------------------

BasicBlockImpl::BasicBlockImpl(int64_t in_planes_, int64_t planes_, int64_t stride_)
    : in_planes(in_planes_), planes(planes_), stride(stride_) {
  reset();
}

void BasicBlockImpl::reset() {
  CNNKIT_CHECK(in_planes > 0 && planes > 0 && stride > 0, "BasicBlock: in_planes, planes and stride must be ",
               "positive, got in_planes=", in_planes, ", planes=", planes, ", stride=", stride);
  conv1 = register_module("conv1", conv3x3(in_planes, planes, stride));
  bn1 = register_module("bn1", nn::BatchNorm2d(planes));
  relu = register_module("relu", nn::ReLU());
  conv2 = register_module("conv2", conv3x3(planes, planes));
  bn2 = register_module("bn2", nn::BatchNorm2d(planes));
  if (stride != 1 || in_planes != planes)
    downsample = register_module("downsample", nn::Sequential(conv1x1(in_planes, planes, stride),
                                                              nn::BatchNorm2d(planes)));
  else
    downsample = nullptr;
}

void BasicBlockImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::models::BasicBlock(in_planes=" << in_planes << ", planes=" << planes
         << ", stride=" << stride << ")";
}

// The summary (summary.cpp) walks the same steps to time and count each child; keep the two
// in step.
Tensor BasicBlockImpl::forward(const Tensor& x) {
  if (!nn::sequential_rewrites() || nn::detail::forward_observer() != nullptr) {
    // as written (a summary or profile must see the ReLU calls)
    Tensor out = relu(bn1(conv1(x)));
    out = bn2(conv2(out));
    return relu(out + (downsample.is_empty() ? x : downsample(x)));
  }
  // The same ops with batch norm, residual sum and ReLU in one kernel where they can run so
  // (BatchNorm2d::forward_relu), each batch norm taking its statistics from the convolution
  // before it where that one can take them (detail::ConvBatchNormScope).
  Tensor out;
  {
    detail::ConvBatchNormScope scope;
    out = bn1->forward_relu(conv1(x));
  }
  const Tensor shortcut = downsample.is_empty() ? x : downsample(x);
  detail::ConvBatchNormScope scope;
  return bn2->forward_relu(conv2(out), shortcut);
}

// ---------------------------------------------------------------------------------------
// Residual
// ---------------------------------------------------------------------------------------

ResidualImpl::ResidualImpl(nn::Sequential body_, nn::Sequential shortcut_, nn::AnyModule activation_)
    : body(std::move(body_)), shortcut(std::move(shortcut_)), activation(std::move(activation_)) {
  reset();
}

void ResidualImpl::reset() {
  CNNKIT_CHECK(!body.is_empty(), "Residual: the body must be a module, got an empty Sequential");
  register_module("body", body);
  if (!shortcut.is_empty()) register_module("shortcut", shortcut);
  if (!activation.is_empty()) register_module("activation", activation.ptr());
}

std::shared_ptr<nn::Module> ResidualImpl::clone(const std::optional<Device>& device) const {
  // Cloneable's clone() would call reset() on a copy that still shares body and shortcut;
  // clone the children themselves instead.
  auto body_copy = std::dynamic_pointer_cast<nn::SequentialImpl>(body->clone(device));
  nn::Sequential shortcut_copy = nullptr;
  if (!shortcut.is_empty())
    shortcut_copy = std::dynamic_pointer_cast<nn::SequentialImpl>(shortcut->clone(device));
  auto copy = std::make_shared<ResidualImpl>(nn::Sequential(body_copy), shortcut_copy, activation.clone(device));
  copy->train(is_training());
  return copy;
}

void ResidualImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::models::Residual";
}

Tensor ResidualImpl::forward(const Tensor& x) {
  Tensor y = body(x) + (shortcut.is_empty() ? x : shortcut(x));
  return activation.is_empty() ? y : activation.forward(y);
}

// ---------------------------------------------------------------------------------------
// ONNX export of the two blocks: their children's nodes, then Add (and the activation).
// Registered here, in the file that every program building one of them links.
// ---------------------------------------------------------------------------------------

namespace {

std::string child(const std::string& scope, const char* name) { return scope.empty() ? name : scope + "." + name; }

// y = act(body + shortcut): the Add node, then the activation's own exporter (or Relu).
io::OnnxValue export_residual_sum(const std::string& scope, const io::OnnxValue& body, const io::OnnxValue& shortcut,
                                  nn::Module* activation, bool relu, io::OnnxGraphBuilder& g) {
  io::OnnxValue sum{g.node("Add", {body.name, shortcut.name}, {}, scope), body.value + shortcut.value};
  if (activation) return g.module(*activation, child(scope, "activation"), sum);
  if (relu) return io::OnnxValue{g.node("Relu", {sum.name}, {}, child(scope, "relu")), sum.value.relu()};
  return sum;
}

const bool kOnnxExportersRegistered = [] {
  io::register_onnx_exporter<BasicBlockImpl>([](BasicBlockImpl& b, const std::string& scope, const io::OnnxValue& x,
                                                io::OnnxGraphBuilder& g) {
    io::OnnxValue out = g.module(*b.conv1, child(scope, "conv1"), x);
    out = g.module(*b.bn1, child(scope, "bn1"), out);
    out = g.module(*b.relu, child(scope, "relu"), out);
    out = g.module(*b.conv2, child(scope, "conv2"), out);
    out = g.module(*b.bn2, child(scope, "bn2"), out);
    const io::OnnxValue shortcut = b.downsample.is_empty() ? x : g.module(*b.downsample, child(scope, "downsample"), x);
    return export_residual_sum(scope, out, shortcut, nullptr, true, g);
  });
  io::register_onnx_exporter<ResidualImpl>([](ResidualImpl& r, const std::string& scope, const io::OnnxValue& x,
                                              io::OnnxGraphBuilder& g) {
    const io::OnnxValue body = g.module(*r.body, child(scope, "body"), x);
    const io::OnnxValue shortcut = r.shortcut.is_empty() ? x : g.module(*r.shortcut, child(scope, "shortcut"), x);
    return export_residual_sum(scope, body, shortcut, r.activation.is_empty() ? nullptr : r.activation.ptr().get(),
                               false, g);
  });
  return true;
}();

}  // namespace

// ---------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------

// An option the model has no use for is an error, not a silent no-op (a search over
// model.width on lenet5 would otherwise train the same network every trial).
static void reject(const char* model, const char* key, bool given, const char* why) {
  CNNKIT_CHECK(!given, "models::", model, ": takes no ", key, " (", why, ")");
}

nn::Sequential lenet5(const ZooOptions& o) {
  reject("lenet5", "width", o.width != 0, "its layer sizes are LeNet-5's: 6, 16, 120, 84");
  reject("lenet5", "blocks", !o.blocks.empty(), "it has no residual stages");
  const int64_t c = or_default(o.in_channels, 1), classes = or_default(o.num_classes, 10);
  std::vector<int64_t> hw = o.input_size.empty() ? std::vector<int64_t>{28, 28} : o.input_size;
  CNNKIT_CHECK(hw.size() == 2, "models::lenet5: input_size must be (H, W), got ", hw.size(), " values");
  check_positive("lenet5", "in_channels", c);
  check_positive("lenet5", "num_classes", classes);
  // conv1 keeps H, W (5x5, padding 2); pool /2; conv2 (5x5, no padding) -4; pool /2.
  int64_t h = (hw[0] / 2 - 4) / 2, w = (hw[1] / 2 - 4) / 2;
  CNNKIT_CHECK(hw[0] / 2 >= 5 && hw[1] / 2 >= 5, "models::lenet5: input_size must be at least 10x10, got ",
               hw[0], "x", hw[1]);
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(c, 6, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                        nn::Conv2d(6, 16, 5), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                        nn::Linear(16 * h * w, 120), nn::ReLU(), nn::Linear(120, 84), nn::ReLU(),
                        nn::Linear(84, classes));
}

nn::Sequential vgg_small(const ZooOptions& o) {
  reject("vgg_small", "blocks", !o.blocks.empty(), "its stages are two convolutions each");
  const int64_t c = or_default(o.in_channels, 3), classes = or_default(o.num_classes, 10);
  const int64_t w = or_default(o.width, 32);
  check_positive("vgg_small", "in_channels", c);
  check_positive("vgg_small", "num_classes", classes);
  nn::Sequential features;
  int64_t in = c;
  for (int64_t out : std::initializer_list<int64_t>{w, w, 0, 2 * w, 2 * w, 0, 4 * w, 4 * w, 0}) {  // 0: pool
    if (out == 0) {
      features->push_back(nn::MaxPool2d(2));
      continue;
    }
    features->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
    features->push_back(nn::BatchNorm2d(out));
    features->push_back(nn::ReLU());
    in = out;
  }
  return nn::Sequential({{"features", features},
                         {"avgpool", nn::AdaptiveAvgPool2d(1)},
                         {"flatten", nn::Flatten()},
                         {"classifier", nn::Linear(4 * w, classes)}});
}

namespace {

// Stages of BasicBlocks after a stem: layer1.., avgpool, flatten, fc.
void add_stages(nn::Sequential& net, int64_t width, const std::vector<int64_t>& blocks, int64_t classes) {
  int64_t in = width, planes = width;
  for (size_t s = 0; s < blocks.size(); ++s) {
    nn::Sequential stage;
    for (int64_t b = 0; b < blocks[s]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      stage->push_back(BasicBlock(in, planes, stride));
      in = planes;
    }
    net->push_back("layer" + std::to_string(s + 1), stage);
    planes *= 2;
  }
  net->push_back("avgpool", nn::AdaptiveAvgPool2d(1));
  net->push_back("flatten", nn::Flatten());
  net->push_back("fc", nn::Linear(in, classes));
}

void check_blocks(const char* model, const std::vector<int64_t>& blocks) {
  CNNKIT_CHECK(!blocks.empty(), "models::", model, ": blocks must list at least one stage");
  for (int64_t b : blocks) check_positive(model, "blocks per stage", b);
}

}  // namespace

nn::Sequential resnet20(const ZooOptions& o) {
  const int64_t c = or_default(o.in_channels, 3), classes = or_default(o.num_classes, 10);
  const int64_t w = or_default(o.width, 16);
  const std::vector<int64_t> blocks = o.blocks.empty() ? std::vector<int64_t>{3, 3, 3} : o.blocks;
  check_positive("resnet20", "in_channels", c);
  check_positive("resnet20", "num_classes", classes);
  check_positive("resnet20", "width", w);
  check_blocks("resnet20", blocks);
  nn::Sequential net({{"conv1", conv3x3(c, w)}, {"bn1", nn::BatchNorm2d(w)}, {"relu", nn::ReLU()}});
  add_stages(net, w, blocks, classes);
  resnet_init(*net);
  return net;
}

nn::Sequential resnet18(const ZooOptions& o) {
  const int64_t c = or_default(o.in_channels, 3), classes = or_default(o.num_classes, 1000);
  const int64_t w = or_default(o.width, 64);
  const std::vector<int64_t> blocks = o.blocks.empty() ? std::vector<int64_t>{2, 2, 2, 2} : o.blocks;
  check_positive("resnet18", "in_channels", c);
  check_positive("resnet18", "num_classes", classes);
  check_positive("resnet18", "width", w);
  check_blocks("resnet18", blocks);
  nn::Sequential net({{"conv1", nn::Conv2d(nn::Conv2dOptions(c, w, 7).stride(2).padding(3).bias(false))},
                      {"bn1", nn::BatchNorm2d(w)},
                      {"relu", nn::ReLU()},
                      {"maxpool", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1))}});
  add_stages(net, w, blocks, classes);
  resnet_init(*net);
  return net;
}

nn::Sequential mobilenet_small(const ZooOptions& o) {
  reject("mobilenet_small", "blocks", !o.blocks.empty(), "its stages are fixed");
  const int64_t c = or_default(o.in_channels, 3), classes = or_default(o.num_classes, 10);
  const int64_t w = or_default(o.width, 32);
  check_positive("mobilenet_small", "in_channels", c);
  check_positive("mobilenet_small", "num_classes", classes);
  nn::Sequential features;
  features->push_back(nn::Sequential(conv3x3(c, w), nn::BatchNorm2d(w), nn::ReLU()));
  struct Step { int64_t out, stride; };
  int64_t in = w;
  for (Step s : {Step{2 * w, 1}, Step{4 * w, 2}, Step{4 * w, 1}, Step{8 * w, 2}, Step{8 * w, 1},
                 Step{16 * w, 2}}) {
    features->push_back(nn::Sequential(
        nn::Conv2d(nn::Conv2dOptions(in, in, 3).stride(s.stride).padding(1).groups(in).bias(false)),
        nn::BatchNorm2d(in), nn::ReLU(), conv1x1(in, s.out), nn::BatchNorm2d(s.out), nn::ReLU()));
    in = s.out;
  }
  return nn::Sequential({{"features", features},
                         {"avgpool", nn::AdaptiveAvgPool2d(1)},
                         {"flatten", nn::Flatten()},
                         {"classifier", nn::Linear(in, classes)}});
}

// ---------------------------------------------------------------------------------------
// By name
// ---------------------------------------------------------------------------------------

std::vector<std::string> zoo_names() {
  return {"lenet5", "vgg_small", "resnet20", "resnet18", "mobilenet_small"};
}

nn::Sequential make(const std::string& name, const ZooOptions& options) {
  std::string key;
  for (char ch : name) key += (ch == '-') ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (key == "lenet5" || key == "lenet" || key == "lenet_5") return lenet5(options);
  if (key == "vgg_small" || key == "vgg_style" || key == "vgg") return vgg_small(options);
  if (key == "resnet18") return resnet18(options);
  if (key == "mobilenet_small" || key == "mobilenet_style" || key == "mobilenet") return mobilenet_small(options);
  // CIFAR ResNets: depth 6n + 2 with n blocks per stage, unless blocks are given.
  if (key.rfind("resnet", 0) == 0 && key != "resnet18") {
    const std::string depth = key.substr(key[6] == '_' ? 7 : 6);
    if (!depth.empty() && std::all_of(depth.begin(), depth.end(), ::isdigit) && depth.size() < 4) {
      const int64_t d = std::stoll(depth);
      if (d >= 8 && (d - 2) % 6 == 0) {
        ZooOptions o = options;
        if (o.blocks.empty()) o.blocks.assign(3, (d - 2) / 6);
        return resnet20(o);
      }
    }
  }
  std::string known;
  for (const auto& n : zoo_names()) known += (known.empty() ? "" : ", ") + n;
  throw ValueError("models::make: unknown model '" + name + "' (known: " + known +
                   "; CIFAR ResNets resnet<6n+2> such as resnet8, resnet14, resnet20, resnet32)");
}

}  // namespace cnnkit::models
