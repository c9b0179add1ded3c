// Builds models from the `model:` section of a YAML config (a zoo name or a list of
// layers), read with the io layer's strict YAML helpers (io/yaml.h). It checks names,
// arguments and types; it does not train or load weights.
#include "cnnkit/models/builder.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <string>
#include <functional>
#include <optional>
#include <sstream>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "io/yaml.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/modules/activation.h"
#include "cnnkit/nn/modules/conv.h"
#include "cnnkit/nn/modules/dropout.h"
#include "cnnkit/nn/modules/linear.h"
#include "cnnkit/nn/modules/normalization.h"
#include "cnnkit/nn/modules/pooling.h"
#include "cnnkit/ops/factory.h"

namespace cnnkit::models {

using namespace io::yaml;  // the strict YAML readers (io/yaml.h)

// ---------------------------------------------------------------------------------------
// Model builder
// ---------------------------------------------------------------------------------------

namespace {

std::string shape_str(IntArrayRef s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

// What flows between layers while building: a probe tensor (batch 1) when the input shape
// is known, else only the channel count when some earlier layer fixed it.
struct Trace {
  Tensor x;                         // (1, ...) or undefined
  std::optional<int64_t> channels;  // dim 1 of what flows

  void set(Tensor y) {
    x = std::move(y);
    channels = x.dim() >= 2 ? std::optional<int64_t>(x.size(1)) : std::nullopt;
  }
};

// One layer's arguments with the context for messages.
struct Args {
  const YAML::Node& node;  // the mapping of arguments (may be null)
  const YamlContext& ctx;
  const Trace& trace;
  const std::string& layer;  // "layer 3 (Conv2d)"

  bool has(const char* key) const { return models::has(node, key); }
  int64_t i(const char* key, int64_t d) const { return get<int64_t>(node, key, ctx, d); }
  int64_t req(const char* key) const { return require<int64_t>(node, key, ctx, layer); }
  double f(const char* key, double d) const { return get<double>(node, key, ctx, d); }
  bool b(const char* key, bool d) const { return get<bool>(node, key, ctx, d); }
  std::string s(const char* key, const std::string& d) const { return get<std::string>(node, key, ctx, d); }
  std::vector<int64_t> i2(const char* key, std::vector<int64_t> d) const {
    return get_ints(node, key, 2, ctx, std::move(d));
  }
  std::vector<int64_t> req2(const char* key) const {
    if (!has(key)) require<int64_t>(node, key, ctx, layer);  // throws "missing required key"
    return i2(key, {});
  }
  // A channel count that may be omitted: taken from what the previous layer gives.
  int64_t channels(const char* key) const {
    if (has(key)) return i(key, 0);
    if (trace.channels) return *trace.channels;
    fail(node.IsDefined() && !node.IsNull() ? node : YAML::Node(), ctx,
         layer + ": cannot infer '" + key + "' (give it, or give model.input_shape so that it can " +
             "be taken from the previous layer)");
  }
  // momentum: null means a cumulative average (PyTorch's momentum=None).
  std::optional<double> momentum(double d) const {
    if (node.IsMap() && node["momentum"].IsDefined() && node["momentum"].IsNull()) return std::nullopt;
    return f("momentum", d);
  }
};

struct LayerSpec {
  std::string name;
  std::vector<std::string_view> keys;
  std::function<nn::AnyModule(const Args&)> make;
};

nn::Conv2dOptions::padding_t conv_padding(const Args& a) {
  if (!a.has("padding")) return ExpandingArray<2>(0);
  const YAML::Node p = a.node["padding"];
  if (p.IsScalar() && (p.Scalar() == "same" || p.Scalar() == "valid")) {
    if (p.Scalar() == "same") return kSame;
    return kValid;
  }
  int64_t one = 0;
  if (p.IsScalar() && !YAML::convert<int64_t>::decode(p, one))
    fail(p, a.ctx, "key 'padding': expected an integer, a list of 2 integers, 'same' or 'valid', got " +
                       describe(p));
  return ExpandingArray<2>(ints(p, 2, a.ctx, "key 'padding'"));
}

nn::Conv2dOptions::padding_mode_t conv_padding_mode(const Args& a) {
  const std::string m = a.s("padding_mode", "zeros");
  if (m == "zeros") return kZeros;
  if (m == "reflect") return kReflect;
  if (m == "replicate") return kReplicate;
  if (m == "circular") return kCircular;
  fail(a.node["padding_mode"], a.ctx,
       "key 'padding_mode': expected one of zeros, reflect, replicate, circular, got '" + m + "'");
}

nn::OptionalExpandingArray<2> output_size(const Args& a) {
  if (!a.has("output_size")) require<int64_t>(a.node, "output_size", a.ctx, a.layer);
  const YAML::Node v = a.node["output_size"];
  const char* expected = "key 'output_size': expected an integer or a list of 2 integers or nulls, got ";
  int64_t one = 0;
  if (v.IsScalar()) {
    if (!YAML::convert<int64_t>::decode(v, one)) fail(v, a.ctx, expected + describe(v));
    return nn::OptionalExpandingArray<2>(one);
  }
  if (!v.IsSequence() || v.size() != 2) fail(v, a.ctx, expected + describe(v));
  std::optional<int64_t> hw[2];
  for (size_t k = 0; k < 2; ++k) {
    if (v[k].IsNull()) continue;
    if (!v[k].IsScalar() || !YAML::convert<int64_t>::decode(v[k], one)) fail(v, a.ctx, expected + describe(v));
    hw[k] = one;
  }
  return nn::OptionalExpandingArray<2>({hw[0], hw[1]});
}

void no_indices(const Args& a) {
  if (a.b("return_indices", false))
    fail(a.node["return_indices"], a.ctx, a.layer + ": return_indices: true is not supported in a model " +
                                              "(a layer here returns one tensor)");
}

template <class M>
nn::AnyModule any(M m) {
  return nn::AnyModule(std::move(m));
}

const std::vector<LayerSpec>& registry() {
  using nn::AnyModule;
  static const std::vector<LayerSpec> specs = {
      {"Conv2d",
       {"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
        "padding_mode"},
       [](const Args& a) {
         nn::Conv2dOptions o(a.channels("in_channels"), a.req("out_channels"), a.req2("kernel_size"));
         o.stride(a.i2("stride", {1, 1})).padding(conv_padding(a)).dilation(a.i2("dilation", {1, 1}));
         o.groups(a.i("groups", 1)).bias(a.b("bias", true)).padding_mode(conv_padding_mode(a));
         return any(nn::Conv2d(o));
       }},
      {"Linear", {"in_features", "out_features", "bias"},
       [](const Args& a) {
         return any(nn::Linear(
             nn::LinearOptions(a.channels("in_features"), a.req("out_features")).bias(a.b("bias", true))));
       }},
      {"Flatten", {"start_dim", "end_dim"},
       [](const Args& a) {
         return any(nn::Flatten(nn::FlattenOptions().start_dim(a.i("start_dim", 1)).end_dim(a.i("end_dim", -1))));
       }},
      {"Identity", {}, [](const Args&) { return any(nn::Identity()); }},
      {"Dropout", {"p", "inplace"},
       [](const Args& a) { return any(nn::Dropout(nn::DropoutOptions(a.f("p", 0.5)).inplace(a.b("inplace", false)))); }},
      {"Dropout2d", {"p", "inplace"},
       [](const Args& a) {
         return any(nn::Dropout2d(nn::Dropout2dOptions(a.f("p", 0.5)).inplace(a.b("inplace", false))));
       }},
      // Pooling
      {"MaxPool2d", {"kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"},
       [](const Args& a) {
         no_indices(a);
         const auto k = a.req2("kernel_size");
         nn::MaxPool2dOptions o(k);
         o.stride(a.i2("stride", k)).padding(a.i2("padding", {0, 0})).dilation(a.i2("dilation", {1, 1}));
         o.ceil_mode(a.b("ceil_mode", false));
         return any(nn::MaxPool2d(o));
       }},
      {"AvgPool2d", {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"},
       [](const Args& a) {
         const auto k = a.req2("kernel_size");
         nn::AvgPool2dOptions o(k);
         o.stride(a.i2("stride", k)).padding(a.i2("padding", {0, 0})).ceil_mode(a.b("ceil_mode", false));
         o.count_include_pad(a.b("count_include_pad", true));
         o.divisor_override(get_optional<int64_t>(a.node, "divisor_override", a.ctx));
         return any(nn::AvgPool2d(o));
       }},
      {"AdaptiveAvgPool2d", {"output_size"}, [](const Args& a) { return any(nn::AdaptiveAvgPool2d(output_size(a))); }},
      {"AdaptiveMaxPool2d", {"output_size", "return_indices"},
       [](const Args& a) {
         no_indices(a);
         return any(nn::AdaptiveMaxPool2d(output_size(a)));
       }},
      // Normalisation
      {"BatchNorm1d", {"num_features", "eps", "momentum", "affine", "track_running_stats"},
       [](const Args& a) {
         nn::BatchNormOptions o(a.channels("num_features"));
         o.eps(a.f("eps", 1e-5)).momentum(a.momentum(0.1)).affine(a.b("affine", true));
         o.track_running_stats(a.b("track_running_stats", true));
         return any(nn::BatchNorm1d(o));
       }},
      {"BatchNorm2d", {"num_features", "eps", "momentum", "affine", "track_running_stats"},
       [](const Args& a) {
         nn::BatchNormOptions o(a.channels("num_features"));
         o.eps(a.f("eps", 1e-5)).momentum(a.momentum(0.1)).affine(a.b("affine", true));
         o.track_running_stats(a.b("track_running_stats", true));
         return any(nn::BatchNorm2d(o));
       }},
      {"InstanceNorm2d", {"num_features", "eps", "momentum", "affine", "track_running_stats"},
       [](const Args& a) {
         nn::InstanceNorm2dOptions o(a.channels("num_features"));
         o.eps(a.f("eps", 1e-5)).momentum(a.f("momentum", 0.1)).affine(a.b("affine", false));
         o.track_running_stats(a.b("track_running_stats", false));
         return any(nn::InstanceNorm2d(o));
       }},
      {"LayerNorm", {"normalized_shape", "eps", "elementwise_affine"},
       [](const Args& a) {
         std::vector<int64_t> shape;
         const YAML::Node v = a.node.IsMap() ? a.node["normalized_shape"] : YAML::Node();
         int64_t one = 0;
         if (v.IsScalar() && YAML::convert<int64_t>::decode(v, one))
           shape = {one};
         else
           shape = require<std::vector<int64_t>>(a.node, "normalized_shape", a.ctx, a.layer);
         nn::LayerNormOptions o(shape);
         o.eps(a.f("eps", 1e-5)).elementwise_affine(a.b("elementwise_affine", true));
         return any(nn::LayerNorm(o));
       }},
      {"GroupNorm", {"num_groups", "num_channels", "eps", "affine"},
       [](const Args& a) {
         nn::GroupNormOptions o(a.req("num_groups"), a.channels("num_channels"));
         o.eps(a.f("eps", 1e-5)).affine(a.b("affine", true));
         return any(nn::GroupNorm(o));
       }},
      // Activations
      {"ReLU", {"inplace"}, [](const Args& a) { return any(nn::ReLU(nn::ReLUOptions(a.b("inplace", false)))); }},
      {"ReLU6", {"inplace"}, [](const Args& a) { return any(nn::ReLU6(nn::ReLU6Options(a.b("inplace", false)))); }},
      {"SELU", {"inplace"}, [](const Args& a) { return any(nn::SELU(nn::SELUOptions(a.b("inplace", false)))); }},
      {"LeakyReLU", {"negative_slope", "inplace"},
       [](const Args& a) {
         return any(nn::LeakyReLU(
             nn::LeakyReLUOptions().negative_slope(a.f("negative_slope", 1e-2)).inplace(a.b("inplace", false))));
       }},
      {"ELU", {"alpha", "inplace"},
       [](const Args& a) {
         return any(nn::ELU(nn::ELUOptions().alpha(a.f("alpha", 1.0)).inplace(a.b("inplace", false))));
       }},
      {"GELU", {"approximate"},
       [](const Args& a) {
         const std::string m = a.s("approximate", "none");
         if (m != "none" && m != "tanh")
           fail(a.node["approximate"], a.ctx, "key 'approximate': expected 'none' or 'tanh', got '" + m + "'");
         return any(nn::GELU(nn::GELUOptions().approximate(m)));
       }},
      {"Hardtanh", {"min_val", "max_val", "inplace"},
       [](const Args& a) {
         return any(nn::Hardtanh(nn::HardtanhOptions()
                                     .min_val(a.f("min_val", -1.0))
                                     .max_val(a.f("max_val", 1.0))
                                     .inplace(a.b("inplace", false))));
       }},
      {"Softplus", {"beta", "threshold"},
       [](const Args& a) {
         return any(nn::Softplus(nn::SoftplusOptions().beta(a.f("beta", 1.0)).threshold(a.f("threshold", 20.0))));
       }},
      {"PReLU", {"num_parameters", "init"},
       [](const Args& a) {
         return any(nn::PReLU(nn::PReLUOptions().num_parameters(a.i("num_parameters", 1)).init(a.f("init", 0.25))));
       }},
      {"Softmax", {"dim"}, [](const Args& a) { return any(nn::Softmax(a.i("dim", 1))); }},
      {"LogSoftmax", {"dim"}, [](const Args& a) { return any(nn::LogSoftmax(a.i("dim", 1))); }},
      {"Sigmoid", {}, [](const Args&) { return any(nn::Sigmoid()); }},
      {"Tanh", {}, [](const Args&) { return any(nn::Tanh()); }},
      {"SiLU", {"inplace"}, [](const Args&) { return any(nn::SiLU()); }},
      {"Mish", {"inplace"}, [](const Args&) { return any(nn::Mish()); }},
      {"Hardswish", {"inplace"}, [](const Args&) { return any(nn::Hardswish()); }},
      {"Hardsigmoid", {"inplace"}, [](const Args&) { return any(nn::Hardsigmoid()); }},
      // Blocks
      {"BasicBlock", {"in_planes", "planes", "stride"},
       [](const Args& a) {
         return any(BasicBlock(a.channels("in_planes"), a.req("planes"), a.i("stride", 1)));
       }},
  };
  return specs;
}

std::vector<std::string_view> all_layer_names() {
  std::vector<std::string_view> names;
  for (const auto& s : registry()) names.push_back(s.name);
  names.push_back("Residual");
  names.push_back("Sequential");
  return names;
}

class Builder {
 public:
  explicit Builder(const YamlContext& ctx) : ctx_(ctx) {}

  // Builds the layers of `list` into a Sequential, advancing `trace` through each.
  nn::Sequential sequence(const YAML::Node& list, Trace& trace, const std::string& prefix) {
    if (!list.IsSequence() || list.size() == 0)
      fail(list, ctx_, (prefix.empty() ? std::string("layers") : prefix) +
                           ": expected a non-empty list of layers, got " + describe(list));
    nn::Sequential seq;
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string path = prefix.empty() ? std::to_string(i) : prefix + "." + std::to_string(i);
      seq->push_back(layer(list[i], trace, path));
    }
    return seq;
  }

  // One layer: builds it from its item and runs the probe (or the channel count) through it.
  nn::AnyModule layer(const YAML::Node& item, Trace& trace, const std::string& path) {
    std::string name;
    YAML::Node args;
    if (item.IsScalar()) {
      name = item.Scalar();
    } else if (item.IsMap() && item.size() == 1) {
      name = item.begin()->first.as<std::string>();
      args = item.begin()->second;
    } else {
      fail(item, ctx_, "layer " + path + ": expected a layer name (ReLU) or a mapping with one key " +
                           "({Conv2d: {...}}), got " + describe(item));
    }
    const std::string label = "layer " + path + " (" + name + ")";
    if (name == "Residual") return residual(item, args, trace, path, label);
    if (name == "Sequential") {
      nn::AnyModule m(sequence(args, trace, path));  // the trace advanced through its layers
      return m;
    }
    const LayerSpec* spec = nullptr;
    for (const auto& s : registry())
      if (s.name == name) spec = &s;
    if (!spec) {
      const auto known = all_layer_names();
      std::string msg = "unknown layer '" + name + "' (known: ";
      for (size_t k = 0; k < known.size(); ++k) msg += (k ? ", " : "") + std::string(known[k]);
      msg += ")";
      const std::string hint = closest(name, known);
      if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
      fail(item, ctx_, msg);
    }
    if (args.IsDefined() && !args.IsNull() && !args.IsMap())
      fail(args, ctx_, label + ": expected a mapping of arguments, got " + describe(args));
    check_keys(args, spec->keys, ctx_, label);
    nn::AnyModule m;
    try {
      m = spec->make(Args{args, ctx_, trace, label});
    } catch (const ConfigError&) {
      throw;  // already says where
    } catch (const Error& e) {
      fail(item, ctx_, label + ": " + e.what());  // the layer's own option checks
    }
    advance(m, item, trace, label);
    return m;
  }

 private:
  nn::AnyModule residual(const YAML::Node& item, const YAML::Node& args, Trace& trace, const std::string& path,
                         const std::string& label) {
    check_map(args, ctx_, label);
    check_keys(args, {"body", "shortcut", "activation"}, ctx_, label);
    if (!models::has(args, "body")) fail(args, ctx_, "missing required key 'body' in " + label);
    Trace body_trace = trace, short_trace = trace;
    nn::Sequential body = sequence(args["body"], body_trace, path + ".body");
    nn::Sequential shortcut = nullptr;
    if (models::has(args, "shortcut")) shortcut = sequence(args["shortcut"], short_trace, path + ".shortcut");
    if (body_trace.x.defined() && body_trace.x.sizes() != short_trace.x.sizes())
      throw ShapeError(where(item, ctx_) + ": " + label + ": the body gives " + shape_str(body_trace.x.sizes()) +
                       ", the shortcut gives " + shape_str(short_trace.x.sizes()) +
                       "; they must match to be added (a shortcut with a 1x1 Conv2d and the body's stride "
                       "changes the channels and size)");
    if (!body_trace.x.defined() && body_trace.channels && short_trace.channels &&
        *body_trace.channels != *short_trace.channels)
      throw ShapeError(where(item, ctx_) + ": " + label + ": the body gives " + std::to_string(*body_trace.channels) +
                       " channels, the shortcut gives " + std::to_string(*short_trace.channels));
    nn::AnyModule activation;
    if (models::has(args, "activation")) {
      Trace act_trace = body_trace;
      activation = layer(args["activation"], act_trace, path + ".activation");
    }
    nn::AnyModule m(Residual(body, shortcut, std::move(activation)));
    if (trace.x.defined()) {
      advance(m, item, trace, label);
    } else {
      trace.channels = body_trace.channels;
    }
    return m;
  }

  // Runs the probe through `m` (eval mode: batch norm on a batch of 1), or updates the
  // channel count from what the module fixes when there is no probe.
  void advance(nn::AnyModule& m, const YAML::Node& item, Trace& trace, const std::string& label) {
    const std::shared_ptr<nn::Module> p = m.ptr();
    if (!trace.x.defined()) {
      if (auto* c = p->as<nn::Conv2dImpl>()) trace.channels = c->options.out_channels();
      else if (auto* l = p->as<nn::LinearImpl>()) trace.channels = l->options.out_features();
      else if (auto* b = p->as<BasicBlockImpl>()) trace.channels = b->planes;
      else if (p->as<nn::FlattenImpl>()) trace.channels.reset();
      return;
    }
    const Tensor& x = trace.x;
    const std::string got = "the previous layer gives ";
    auto mismatch = [&](const std::string& what, int64_t want, int64_t have) {
      throw ShapeError(where(item, ctx_) + ": " + label + ": expects " + std::to_string(want) + " " + what + ", " +
                       got + std::to_string(have) + " (shape " + shape_str(x.sizes()) + " with batch 1)");
    };
    if (auto* c = p->as<nn::Conv2dImpl>()) {
      if (x.dim() != 4) mismatch("dims (N, C, H, W)", 4, x.dim());
      if (x.size(1) != c->options.in_channels()) mismatch("input channels", c->options.in_channels(), x.size(1));
    } else if (auto* l = p->as<nn::LinearImpl>()) {
      if (x.size(-1) != l->options.in_features() && x.dim() > 2) {
        // A Linear over the last dim of a feature map: almost always a forgotten Flatten.
        const int64_t flat = x.numel() / x.size(0);
        throw ShapeError(where(item, ctx_) + ": " + label + ": expects " + std::to_string(l->options.in_features()) +
                         " input features, " + got + "shape " + shape_str(x.sizes()) +
                         " with batch 1, and Linear acts on the last dim (" + std::to_string(x.size(-1)) +
                         "); add Flatten before it? (flattened, that is " + std::to_string(flat) +
                         " features: in_features " + std::to_string(flat) + ")");
      }
      if (x.size(-1) != l->options.in_features()) mismatch("input features", l->options.in_features(), x.size(-1));
    } else if (auto* bn = p->as<nn::BatchNorm2dImpl>()) {
      if (x.dim() >= 2 && x.size(1) != bn->options.num_features())
        mismatch("channels (num_features)", bn->options.num_features(), x.size(1));
    } else if (auto* bn1 = p->as<nn::BatchNorm1dImpl>()) {
      if (x.dim() >= 2 && x.size(1) != bn1->options.num_features())
        mismatch("features (num_features)", bn1->options.num_features(), x.size(1));
    } else if (auto* in = p->as<nn::InstanceNorm2dImpl>()) {
      if (x.dim() >= 2 && x.size(1) != in->options.num_features())
        mismatch("channels (num_features)", in->options.num_features(), x.size(1));
    } else if (auto* gn = p->as<nn::GroupNormImpl>()) {
      if (x.dim() >= 2 && x.size(1) != gn->options.num_channels())
        mismatch("channels (num_channels)", gn->options.num_channels(), x.size(1));
    } else if (auto* b = p->as<BasicBlockImpl>()) {
      if (x.dim() == 4 && x.size(1) != b->in_planes) mismatch("input channels (in_planes)", b->in_planes, x.size(1));
    }
    const bool was_training = p->is_training();
    p->eval();
    Tensor y;
    try {
      NoGradGuard no_grad;
      y = m.forward(x);
    } catch (const Error& e) {
      p->train(was_training);
      throw ShapeError(where(item, ctx_) + ": " + label + ": fails on the input " + shape_str(x.sizes()) +
                       " (batch 1): " + e.what());
    }
    p->train(was_training);
    trace.set(y);
  }

  const YamlContext& ctx_;
};

nn::Sequential build_zoo(const YAML::Node& s, const YamlContext& ctx, const std::vector<int64_t>& shape) {
  ZooOptions o;
  o.in_channels = get<int64_t>(s, "in_channels", ctx, shape.size() == 3 ? shape[0] : 0);
  o.num_classes = get<int64_t>(s, "num_classes", ctx, 0);
  o.width = get<int64_t>(s, "width", ctx, 0);
  o.blocks = get<std::vector<int64_t>>(s, "blocks", ctx, {});
  std::vector<int64_t> hw;
  if (shape.size() == 3) hw = {shape[1], shape[2]};
  o.input_size = get_ints(s, "input_size", 2, ctx, hw);
  const std::string name = require<std::string>(s, "zoo", ctx, "model");
  nn::Sequential net;
  try {
    net = make(name, o);
  } catch (const Error& e) {
    fail(s["zoo"], ctx, e.what());
  }
  if (!shape.empty()) {
    std::vector<int64_t> full{1};
    full.insert(full.end(), shape.begin(), shape.end());
    net->eval();
    try {
      NoGradGuard no_grad;
      net->forward(zeros(full));
    } catch (const Error& e) {
      throw ShapeError(where(s["zoo"], ctx) + ": zoo model '" + name + "' does not accept the input shape " +
                       shape_str(full) + " (batch 1): " + e.what());
    }
    net->train();
  }
  return net;
}

}  // namespace

std::vector<std::string> layer_names() {
  std::vector<std::string> out;
  for (auto n : all_layer_names()) out.emplace_back(n);
  return out;
}

nn::Sequential build(const io::ConfigNode& section, const std::vector<int64_t>& input_shape) {
  const YAML::Node s = io::yaml::node_of(section);
  const YamlContext ctx{section.file()};
  if (!s.IsDefined() || s.IsNull()) fail(s, ctx, "missing the model section (model: {zoo: ...} or model: {layers: [...]})");
  check_map(s, ctx, "model");
  check_keys(s, {"zoo", "layers", "input_shape", "num_classes", "in_channels", "width", "blocks", "input_size"}, ctx,
             "model");
  const std::vector<int64_t> shape = get<std::vector<int64_t>>(s, "input_shape", ctx, input_shape);
  for (int64_t d : shape)
    if (d <= 0) fail(s["input_shape"].IsDefined() ? s["input_shape"] : s, ctx,
                     "input_shape must hold positive sizes (C, H, W) without the batch, got " + shape_str(shape));
  const bool zoo = has(s, "zoo"), layers = has(s, "layers");
  if (zoo == layers)
    fail(s, ctx, zoo ? "model: give either 'zoo' or 'layers', not both"
                     : "model: missing 'zoo' (a zoo model name) or 'layers' (a list of layers)");
  if (zoo) return build_zoo(s, ctx, shape);
  for (const char* key : {"num_classes", "in_channels", "width", "blocks", "input_size"})
    if (has(s, key)) fail(s[key], ctx, std::string("model: '") + key + "' is an option of zoo models; " +
                                           "with 'layers', give the sizes in the layers");
  Trace trace;
  if (!shape.empty()) {
    std::vector<int64_t> full{1};
    full.insert(full.end(), shape.begin(), shape.end());
    trace.set(zeros(full));
  }
  nn::Sequential net = Builder(ctx).sequence(s["layers"], trace, "");
  net->train();
  return net;
}

nn::Sequential build_from_yaml(const std::string& yaml_text, const std::string& file,
                               const std::vector<int64_t>& input_shape) {
  const YAML::Node root = io::yaml::load(yaml_text, file);
  return build(io::yaml::wrap(root.IsMap() && root["model"] ? root["model"] : root, file), input_shape);
}

}  // namespace cnnkit::models
