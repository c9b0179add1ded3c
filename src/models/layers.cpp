// The layer table of models/layers.h: one entry per layer, PyTorch's class and argument
// names, each argument read into the module's own Options over the defaults they hold, and
// the FLOP rule the summary uses. The activations without options come from the list in
// ops/activation.h. Reading YAML or JSON is the callers' (LayerArgs); checking option
// values is the modules' and ops' (one rule each, there).
#include "cnnkit/models/layers.h"

#include <algorithm>

#include "cnnkit/core/error.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/modules/activation.h"
#include "cnnkit/nn/modules/conv.h"
#include "cnnkit/nn/modules/dropout.h"
#include "cnnkit/nn/modules/linear.h"
#include "cnnkit/nn/modules/normalization.h"
#include "cnnkit/nn/modules/padding.h"
#include "cnnkit/nn/modules/pooling.h"
#include "cnnkit/nn/modules/upsampling.h"

namespace cnnkit::models {

// ---- LayerArgs helpers ----------------------------------------------------------------------

void LayerArgs::read(std::string_view key, int64_t& field) const {
  if (has(key)) field = integer(key);
}
void LayerArgs::read(std::string_view key, double& field) const {
  if (has(key)) field = number(key);
}
void LayerArgs::read(std::string_view key, bool& field) const {
  if (has(key)) field = boolean(key);
}
void LayerArgs::read(std::string_view key, std::string& field) const {
  if (has(key)) field = text(key);
}
void LayerArgs::read(std::string_view key, std::vector<int64_t>& field) const {
  if (has(key)) field = int_list(key);
}
void LayerArgs::read(std::string_view key, std::optional<double>& field) const {
  if (is_null(key)) field = std::nullopt;
  if (has(key)) field = number(key);
}
void LayerArgs::read(std::string_view key, std::optional<int64_t>& field) const {
  if (is_null(key)) field = std::nullopt;
  if (has(key)) field = integer(key);
}

void LayerArgs::fail(std::string_view key, const std::string& message) const {
  raise(key, message);
  throw ValueError(message);  // a reader whose raise() returned
}

void LayerArgs::require(std::string_view key) const {
  if (!has(key)) fail("", "missing required key '" + std::string(key) + "' in " + layer);
}

int64_t LayerArgs::required(std::string_view key) const {
  require(key);
  return integer(key);
}

std::vector<int64_t> LayerArgs::required_ints(std::string_view key, size_t n) const {
  require(key);
  return ints(key, n);
}

int64_t LayerArgs::channels(std::string_view key) const {
  if (has(key)) return integer(key);
  if (auto c = previous_channels()) return *c;
  fail("", layer + ": cannot infer '" + std::string(key) + "' (give it, or give model.input_shape so that it " +
               "can be taken from the previous layer)");
}

namespace {

// One entry for module holder M: make returns an M, flops takes M's Impl.
template <class M, class Make, class Flops>
LayerSpec entry(const char* name, std::vector<std::string_view> keys, Make make, Flops flops) {
  using Impl = typename M::Impl;
  return {name, typeid(Impl), std::move(keys), [make](const LayerArgs& a) { return nn::AnyModule(M(make(a))); },
          [flops](const nn::Module& m, const Tensor& x, const Tensor& y) -> int64_t {
            return flops(static_cast<const Impl&>(m), x, y);
          }};
}

// FLOP rules shared by several layers (models/summary.h lists them).
constexpr auto per_output = [](const auto&, const Tensor&, const Tensor& y) { return y.numel(); };
constexpr auto two_per_output = [](const auto&, const Tensor&, const Tensor& y) { return 2 * y.numel(); };
constexpr auto per_input = [](const auto&, const Tensor& x, const Tensor&) { return x.numel(); };
constexpr auto free_of_cost = [](const auto&, const Tensor&, const Tensor&) { return int64_t{0}; };
constexpr auto window = [](const auto& pool, const Tensor&, const Tensor& y) {
  return y.numel() * pool.options.kernel_size()[0] * pool.options.kernel_size()[1];
};

constexpr auto window1d = [](const auto& pool, const Tensor&, const Tensor& y) {
  return y.numel() * pool.options.kernel_size()[0];
};

// padding: an integer, a list of D integers, 'same' or 'valid'.
template <size_t D>
void read_padding(const LayerArgs& a, nn::detail::conv_padding_t<D>& field) {
  if (!a.has("padding")) return;
  if (!a.is_text("padding")) {
    field = ExpandingArray<D>(a.ints("padding", D));
    return;
  }
  const std::string p = a.text("padding");
  if (p == "same") field = kSame;
  else if (p == "valid") field = kValid;
  else a.fail("padding", "key 'padding': expected an integer" + std::string(D > 1 ? ", a list of 2 integers" : "") +
                             ", 'same' or 'valid', got '" + p + "'");
}

void read_padding_mode(const LayerArgs& a, nn::Conv2dOptions::padding_mode_t& field) {
  if (!a.has("padding_mode")) return;
  const std::string m = a.text("padding_mode");
  if (m == "zeros") field = kZeros;
  else if (m == "reflect") field = kReflect;
  else if (m == "replicate") field = kReplicate;
  else if (m == "circular") field = kCircular;
  else a.fail("padding_mode", "key 'padding_mode': expected one of zeros, reflect, replicate, circular, got '" + m + "'");
}

void no_indices(const LayerArgs& a) {
  if (a.has("return_indices") && a.boolean("return_indices"))
    a.fail("return_indices", a.layer + ": return_indices: true is not supported in a model (a layer here returns one "
                                       "tensor)");
}

// output_size: an integer or a list of 2 integers or nulls (null: the input's size).
nn::OptionalExpandingArray<2> output_size(const LayerArgs& a) {
  a.require("output_size");
  const std::vector<std::optional<int64_t>> hw = a.optional_ints("output_size", 2);
  return nn::OptionalExpandingArray<2>({hw[0], hw[1]});
}

template <class Options>
Options inplace_only(const LayerArgs& a) {
  Options o;
  a.read("inplace", o.inplace());
  return o;
}

template <class Options>
Options dropout_options(const LayerArgs& a) {
  Options o;
  a.read("p", o.p());
  a.read("inplace", o.inplace());
  return o;
}

// dim: PyTorch's dim=None takes 1 for the (N, C) and (N, C, H, W) inputs of a model.
template <class Options>
Options softmax_options(const LayerArgs& a) {
  Options o(1);
  a.read("dim", o.dim());
  return o;
}

template <class Options>
Options batch_norm_options(const LayerArgs& a) {
  Options o(a.channels("num_features"));
  a.read("eps", o.eps());
  a.read("momentum", o.momentum());
  a.read("affine", o.affine());
  a.read("track_running_stats", o.track_running_stats());
  return o;
}

std::vector<std::string_view> batch_norm_keys() {
  return {"num_features", "eps", "momentum", "affine", "track_running_stats"};
}

// An activation whose only argument is PyTorch's `inplace` (accepted; cnnkit computes out
// of place under autograd anyway).
template <class M>
LayerSpec plain_activation(const char* name) {
  return entry<M>(name, {"inplace"}, [](const LayerArgs&) { return M(); }, per_output);
}

std::vector<LayerSpec> make_table() {
  std::vector<LayerSpec> t = {
      entry<nn::Conv1d>(
          "Conv1d",
          {"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
           "padding_mode"},
          [](const LayerArgs& a) {
            nn::Conv1dOptions o(a.channels("in_channels"), a.required("out_channels"),
                                ExpandingArray<1>(a.required_ints("kernel_size", 1)));
            a.read("stride", o.stride());
            read_padding<1>(a, o.padding());
            a.read("dilation", o.dilation());
            a.read("groups", o.groups());
            a.read("bias", o.bias());
            read_padding_mode(a, o.padding_mode());
            return o;
          },
          [](const nn::Conv1dImpl& c, const Tensor&, const Tensor& y) {
            const Tensor& w = c.weight;  // (C_out, C_in / groups, k)
            return 2 * y.numel() * w.size(1) * w.size(2);
          }),
      entry<nn::Conv2d>(
          "Conv2d",
          {"in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
           "padding_mode"},
          [](const LayerArgs& a) {
            nn::Conv2dOptions o(a.channels("in_channels"), a.required("out_channels"),
                                ExpandingArray<2>(a.required_ints("kernel_size", 2)));
            a.read("stride", o.stride());
            read_padding<2>(a, o.padding());
            a.read("dilation", o.dilation());
            a.read("groups", o.groups());
            a.read("bias", o.bias());
            read_padding_mode(a, o.padding_mode());
            return o;
          },
          [](const nn::Conv2dImpl& c, const Tensor&, const Tensor& y) {
            const Tensor& w = c.weight;  // (C_out, C_in / groups, kH, kW)
            return 2 * y.numel() * w.size(1) * w.size(2) * w.size(3);
          }),
      entry<nn::ConvTranspose2d>(
          "ConvTranspose2d",
          {"in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding", "groups", "bias",
           "dilation", "padding_mode"},
          [](const LayerArgs& a) {
            nn::ConvTranspose2dOptions o(a.channels("in_channels"), a.required("out_channels"),
                                         ExpandingArray<2>(a.required_ints("kernel_size", 2)));
            a.read("stride", o.stride());
            a.read("padding", o.padding());
            a.read("output_padding", o.output_padding());
            a.read("groups", o.groups());
            a.read("bias", o.bias());
            a.read("dilation", o.dilation());
            if (a.has("padding_mode") && a.text("padding_mode") != "zeros")
              a.fail("padding_mode", "key 'padding_mode': only 'zeros' is supported for ConvTranspose2d, got '" +
                                         a.text("padding_mode") + "'");
            return o;
          },
          [](const nn::ConvTranspose2dImpl& c, const Tensor& x, const Tensor&) {
            const Tensor& w = c.weight;  // (C_in, C_out / groups, kH, kW): each input value feeds that many
            return 2 * x.numel() * w.size(1) * w.size(2) * w.size(3);
          }),
      entry<nn::Linear>(
          "Linear", {"in_features", "out_features", "bias"},
          [](const LayerArgs& a) {
            nn::LinearOptions o(a.channels("in_features"), a.required("out_features"));
            a.read("bias", o.bias());
            return o;
          },
          [](const nn::LinearImpl& l, const Tensor&, const Tensor& y) { return 2 * y.numel() * l.options.in_features(); }),
      entry<nn::Flatten>(
          "Flatten", {"start_dim", "end_dim"},
          [](const LayerArgs& a) {
            nn::FlattenOptions o;
            a.read("start_dim", o.start_dim());
            a.read("end_dim", o.end_dim());
            return o;
          },
          free_of_cost),
      entry<nn::Identity>("Identity", {}, [](const LayerArgs&) { return nn::Identity(); }, free_of_cost),
      entry<nn::Dropout>("Dropout", {"p", "inplace"}, dropout_options<nn::DropoutOptions>, free_of_cost),
      entry<nn::Dropout2d>("Dropout2d", {"p", "inplace"}, dropout_options<nn::Dropout2dOptions>, free_of_cost),
      // Pooling
      entry<nn::MaxPool1d>(
          "MaxPool1d", {"kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"},
          [](const LayerArgs& a) {
            no_indices(a);
            nn::MaxPool1dOptions o(ExpandingArray<1>(a.required_ints("kernel_size", 1)));
            a.read("stride", o.stride());
            a.read("padding", o.padding());
            a.read("dilation", o.dilation());
            a.read("ceil_mode", o.ceil_mode());
            return o;
          },
          window1d),
      entry<nn::AvgPool1d>(
          "AvgPool1d", {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"},
          [](const LayerArgs& a) {
            nn::AvgPool1dOptions o(ExpandingArray<1>(a.required_ints("kernel_size", 1)));
            a.read("stride", o.stride());
            a.read("padding", o.padding());
            a.read("ceil_mode", o.ceil_mode());
            a.read("count_include_pad", o.count_include_pad());
            return o;
          },
          window1d),
      entry<nn::AdaptiveAvgPool1d>(
          "AdaptiveAvgPool1d", {"output_size"},
          [](const LayerArgs& a) {
            return nn::AdaptiveAvgPool1dOptions(ExpandingArray<1>(a.required_ints("output_size", 1)));
          },
          per_input),
      entry<nn::AdaptiveMaxPool1d>(
          "AdaptiveMaxPool1d", {"output_size", "return_indices"},
          [](const LayerArgs& a) {
            no_indices(a);
            return nn::AdaptiveMaxPool1dOptions(ExpandingArray<1>(a.required_ints("output_size", 1)));
          },
          per_input),
      entry<nn::MaxPool2d>(
          "MaxPool2d", {"kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode"},
          [](const LayerArgs& a) {
            no_indices(a);
            nn::MaxPool2dOptions o(ExpandingArray<2>(a.required_ints("kernel_size", 2)));
            a.read("stride", o.stride());
            a.read("padding", o.padding());
            a.read("dilation", o.dilation());
            a.read("ceil_mode", o.ceil_mode());
            return o;
          },
          window),
      entry<nn::AvgPool2d>(
          "AvgPool2d", {"kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"},
          [](const LayerArgs& a) {
            nn::AvgPool2dOptions o(ExpandingArray<2>(a.required_ints("kernel_size", 2)));
            a.read("stride", o.stride());
            a.read("padding", o.padding());
            a.read("ceil_mode", o.ceil_mode());
            a.read("count_include_pad", o.count_include_pad());
            a.read("divisor_override", o.divisor_override());
            return o;
          },
          window),
      entry<nn::AdaptiveAvgPool2d>(
          "AdaptiveAvgPool2d", {"output_size"},
          [](const LayerArgs& a) { return nn::AdaptiveAvgPool2dOptions(output_size(a)); }, per_input),
      entry<nn::AdaptiveMaxPool2d>(
          "AdaptiveMaxPool2d", {"output_size", "return_indices"},
          [](const LayerArgs& a) {
            no_indices(a);
            return nn::AdaptiveMaxPool2dOptions(output_size(a));
          },
          per_input),
      // Padding and rearranging: memory moves, no arithmetic. padding: an integer (every side)
      // or [left, right, top, bottom].
      entry<nn::ZeroPad2d>(
          "ZeroPad2d", {"padding"},
          [](const LayerArgs& a) { return nn::ZeroPad2dOptions(ExpandingArray<4>(a.required_ints("padding", 4))); },
          free_of_cost),
      entry<nn::ConstantPad2d>(
          "ConstantPad2d", {"padding", "value"},
          [](const LayerArgs& a) {
            a.require("value");
            return nn::ConstantPad2dOptions(ExpandingArray<4>(a.required_ints("padding", 4)), a.number("value"));
          },
          free_of_cost),
      entry<nn::ReflectionPad2d>(
          "ReflectionPad2d", {"padding"},
          [](const LayerArgs& a) {
            return nn::ReflectionPad2dOptions(ExpandingArray<4>(a.required_ints("padding", 4)));
          },
          free_of_cost),
      entry<nn::ReplicationPad2d>(
          "ReplicationPad2d", {"padding"},
          [](const LayerArgs& a) {
            return nn::ReplicationPad2dOptions(ExpandingArray<4>(a.required_ints("padding", 4)));
          },
          free_of_cost),
      entry<nn::PixelShuffle>(
          "PixelShuffle", {"upscale_factor"},
          [](const LayerArgs& a) { return nn::PixelShuffleOptions(a.required("upscale_factor")); }, free_of_cost),
      entry<nn::PixelUnshuffle>(
          "PixelUnshuffle", {"downscale_factor"},
          [](const LayerArgs& a) { return nn::PixelUnshuffleOptions(a.required("downscale_factor")); }, free_of_cost),
      entry<nn::Unflatten>(
          "Unflatten", {"dim", "unflattened_size"},
          [](const LayerArgs& a) {
            a.require("unflattened_size");
            return nn::UnflattenOptions(a.required("dim"), a.int_list("unflattened_size"));
          },
          free_of_cost),
      // Upsample: size or scale_factor, one number for every spatial dim or a list of one per
      // dim; mode nearest (no arithmetic), linear or bilinear (3 FLOPs per output
      // element per interpolated dim).
      entry<nn::Upsample>(
          "Upsample", {"size", "scale_factor", "mode", "align_corners"},
          [](const LayerArgs& a) {
            nn::UpsampleOptions o;
            if (!a.has("size") && !a.has("scale_factor"))
              a.fail("", a.layer + ": give either size or scale_factor");
            if (a.has("size")) o.size(a.int_list("size"));
            if (a.has("scale_factor")) o.scale_factor(a.numbers("scale_factor"));
            if (a.has("mode")) {
              const std::string m = a.text("mode");
              if (m == "nearest") o.mode(kNearest);
              else if (m == "linear") o.mode(kLinear);
              else if (m == "bilinear") o.mode(kBilinear);
              else a.fail("mode", "key 'mode': expected one of nearest, linear, bilinear, got '" + m + "'");
            }
            if (a.has("align_corners")) o.align_corners(a.boolean("align_corners"));
            return o;
          },
          [](const nn::UpsampleImpl& u, const Tensor& x, const Tensor& y) -> int64_t {
            if (std::holds_alternative<enumtype::kNearest>(u.options.mode())) return 0;
            return 3 * y.numel() * (x.dim() - 2);
          }),
      // Normalisation: 2 FLOPs per output element (scale and shift)
      entry<nn::BatchNorm1d>("BatchNorm1d", batch_norm_keys(), batch_norm_options<nn::BatchNormOptions>, two_per_output),
      entry<nn::BatchNorm2d>("BatchNorm2d", batch_norm_keys(), batch_norm_options<nn::BatchNormOptions>, two_per_output),
      entry<nn::InstanceNorm2d>("InstanceNorm2d", batch_norm_keys(), batch_norm_options<nn::InstanceNorm2dOptions>,
                                two_per_output),
      entry<nn::LayerNorm>(
          "LayerNorm", {"normalized_shape", "eps", "elementwise_affine"},
          [](const LayerArgs& a) {
            a.require("normalized_shape");
            nn::LayerNormOptions o(a.int_list("normalized_shape"));
            a.read("eps", o.eps());
            a.read("elementwise_affine", o.elementwise_affine());
            return o;
          },
          two_per_output),
      entry<nn::GroupNorm>(
          "GroupNorm", {"num_groups", "num_channels", "eps", "affine"},
          [](const LayerArgs& a) {
            nn::GroupNormOptions o(a.required("num_groups"), a.channels("num_channels"));
            a.read("eps", o.eps());
            a.read("affine", o.affine());
            return o;
          },
          two_per_output),
      // Activations: 1 FLOP per output element
      entry<nn::ReLU>("ReLU", {"inplace"}, inplace_only<nn::ReLUOptions>, per_output),
      entry<nn::ReLU6>("ReLU6", {"inplace"}, inplace_only<nn::ReLU6Options>, per_output),
      entry<nn::SELU>("SELU", {"inplace"}, inplace_only<nn::SELUOptions>, per_output),
      entry<nn::LeakyReLU>(
          "LeakyReLU", {"negative_slope", "inplace"},
          [](const LayerArgs& a) {
            nn::LeakyReLUOptions o;
            a.read("negative_slope", o.negative_slope());
            a.read("inplace", o.inplace());
            return o;
          },
          per_output),
      entry<nn::ELU>(
          "ELU", {"alpha", "inplace"},
          [](const LayerArgs& a) {
            nn::ELUOptions o;
            a.read("alpha", o.alpha());
            a.read("inplace", o.inplace());
            return o;
          },
          per_output),
      entry<nn::GELU>(
          "GELU", {"approximate"},
          [](const LayerArgs& a) {
            nn::GELUOptions o;
            a.read("approximate", o.approximate());
            return o;
          },
          per_output),
      entry<nn::Hardtanh>(
          "Hardtanh", {"min_val", "max_val", "inplace"},
          [](const LayerArgs& a) {
            nn::HardtanhOptions o;
            a.read("min_val", o.min_val());
            a.read("max_val", o.max_val());
            a.read("inplace", o.inplace());
            return o;
          },
          per_output),
      entry<nn::Softplus>(
          "Softplus", {"beta", "threshold"},
          [](const LayerArgs& a) {
            nn::SoftplusOptions o;
            a.read("beta", o.beta());
            a.read("threshold", o.threshold());
            return o;
          },
          per_output),
      entry<nn::PReLU>(
          "PReLU", {"num_parameters", "init"},
          [](const LayerArgs& a) {
            nn::PReLUOptions o;
            a.read("num_parameters", o.num_parameters());
            a.read("init", o.init());
            return o;
          },
          per_output),
      entry<nn::Softmax>("Softmax", {"dim"}, softmax_options<nn::SoftmaxOptions>, per_output),
      entry<nn::LogSoftmax>("LogSoftmax", {"dim"}, softmax_options<nn::LogSoftmaxOptions>, per_output),
  };
#define CNNKIT_PLAIN_ACTIVATION_ENTRY(Module, ...) t.push_back(plain_activation<nn::Module>(#Module));
  CNNKIT_PLAIN_ACTIVATIONS(CNNKIT_PLAIN_ACTIVATION_ENTRY)
#undef CNNKIT_PLAIN_ACTIVATION_ENTRY
  // Blocks. The summary walks a BasicBlock's children; this rule is the block's own cost:
  // the residual add and the final ReLU.
  t.push_back(entry<BasicBlock>(
      "BasicBlock", {"in_planes", "planes", "stride"},
      [](const LayerArgs& a) {
        const int64_t in = a.channels("in_planes"), planes = a.required("planes");
        return a.has("stride") ? BasicBlock(in, planes, a.integer("stride")) : BasicBlock(in, planes);
      },
      two_per_output));
  return t;
}

}  // namespace

const std::vector<LayerSpec>& layer_table() {
  static const std::vector<LayerSpec> table = make_table();
  return table;
}

const LayerSpec* find_layer(std::string_view name) {
  for (const LayerSpec& s : layer_table())
    if (s.name == name) return &s;
  return nullptr;
}

const LayerSpec* find_layer(const nn::Module& m) {
  const std::type_index type(typeid(m));
  for (const LayerSpec& s : layer_table())
    if (s.type == type) return &s;
  return nullptr;
}

nn::AnyModule make_layer(std::string_view name, const LayerArgs& args) {
  const LayerSpec* spec = find_layer(name);
  if (!spec) {
    std::string known;
    for (const LayerSpec& s : layer_table()) known += (known.empty() ? "" : ", ") + s.name;
    CNNKIT_CHECK(false, "unknown layer '", name, "' (known: ", known, ")");
  }
  return spec->make(args);
}

}  // namespace cnnkit::models
