// Builds models from the `model:` section of a YAML config (a zoo name or a list of
// layers), read with the io layer's strict YAML helpers (io/yaml.h). It checks names,
// arguments and types; it does not train or load weights.
#include "cnnkit/models/builder.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <string>
#include <optional>
#include <sstream>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/models/layers.h"
#include "io/yaml.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/modules/conv.h"
#include "cnnkit/nn/modules/linear.h"
#include "cnnkit/nn/modules/normalization.h"
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

// One layer's arguments, read from its YAML mapping for the layer table (models/layers.h);
// every error names the file and line of the key (or of the layer).
class YamlArgs final : public LayerArgs {
 public:
  YamlArgs(const YAML::Node& item, const YAML::Node& node, const YamlContext& ctx, const Trace& trace,
           std::string label)
      : LayerArgs(std::move(label)), item_(item), node_(node), ctx_(ctx), trace_(trace) {}

  bool has(std::string_view key) const override { return models::has(node_, key); }
  bool is_null(std::string_view key) const override {
    return node_.IsMap() && node_[std::string(key)].IsDefined() && node_[std::string(key)].IsNull();
  }
  int64_t integer(std::string_view key) const override { return as<int64_t>(at(key), ctx_, what(key)); }
  double number(std::string_view key) const override { return as<double>(at(key), ctx_, what(key)); }
  bool boolean(std::string_view key) const override { return as<bool>(at(key), ctx_, what(key)); }
  std::string text(std::string_view key) const override { return as<std::string>(at(key), ctx_, what(key)); }
  bool is_text(std::string_view key) const override {
    int64_t i = 0;
    return at(key).IsScalar() && !YAML::convert<int64_t>::decode(at(key), i);
  }
  std::vector<int64_t> ints(std::string_view key, size_t n) const override {
    return models::ints(at(key), n, ctx_, what(key));
  }
  std::vector<int64_t> int_list(std::string_view key) const override {
    int64_t one = 0;
    if (at(key).IsScalar() && YAML::convert<int64_t>::decode(at(key), one)) return {one};
    return as<std::vector<int64_t>>(at(key), ctx_, what(key));
  }
  std::vector<double> numbers(std::string_view key) const override {
    if (at(key).IsScalar()) return {number(key)};
    return as<std::vector<double>>(at(key), ctx_, what(key));
  }
  std::vector<std::optional<int64_t>> optional_ints(std::string_view key, size_t n) const override {
    const YAML::Node v = at(key);
    const std::string expected = what(key) + ": expected an integer or a list of " + std::to_string(n) +
                                 " integers or nulls, got " + describe(v);
    int64_t one = 0;
    if (v.IsScalar()) {
      if (!YAML::convert<int64_t>::decode(v, one)) models::fail(v, ctx_, expected);
      return std::vector<std::optional<int64_t>>(n, one);
    }
    if (!v.IsSequence() || v.size() != n) models::fail(v, ctx_, expected);
    std::vector<std::optional<int64_t>> out(n);
    for (size_t k = 0; k < n; ++k) {
      if (v[k].IsNull()) continue;
      if (!v[k].IsScalar() || !YAML::convert<int64_t>::decode(v[k], one)) models::fail(v, ctx_, expected);
      out[k] = one;
    }
    return out;
  }
  std::optional<int64_t> previous_channels() const override { return trace_.channels; }
  void raise(std::string_view key, const std::string& message) const override {
    if (!key.empty() && node_.IsMap() && node_[std::string(key)].IsDefined()) models::fail(at(key), ctx_, message);
    models::fail(node_.IsDefined() && !node_.IsNull() ? node_ : item_, ctx_, message);
  }

 private:
  YAML::Node at(std::string_view key) const { return node_[std::string(key)]; }
  static std::string what(std::string_view key) { return "key '" + std::string(key) + "'"; }

  const YAML::Node& item_;  // the layer's list item
  const YAML::Node& node_;  // its mapping of arguments (may be null)
  const YamlContext& ctx_;
  const Trace& trace_;
};

std::vector<std::string_view> all_layer_names() {
  std::vector<std::string_view> names;
  for (const auto& s : layer_table()) names.push_back(s.name);
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
    const LayerSpec* spec = find_layer(name);
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
      m = spec->make(YamlArgs(item, args, ctx_, trace, label));
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
  // 0 means "the model's default" to the zoo (ZooOptions): written in a config, it is a mistake.
  for (const char* key : {"in_channels", "num_classes", "width"})
    if (has(s, key)) check_value(get<int64_t>(s, key, ctx, 0) > 0, s, key, ctx, "> 0");
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
