// The layer table: one entry per layer a model can be built from (every module of nn, plus
// models::BasicBlock), read by the config builder (models/builder.h), the model summary
// (models/summary.h) and the golden tests. An entry holds the PyTorch class name, the
// argument names, how to read them into the module's own Options (starting from the
// Options' defaults: no default is typed twice), how to make the module, and its FLOP rule.
// Where arguments come from (YAML, a golden's JSON) is behind LayerArgs, so this header
// has no YAML in it.
//
//   models::LayerArgs& args = ...;                       // e.g. {negative_slope: 0.2}
//   nn::AnyModule m = models::make_layer("LeakyReLU", args);
//   const models::LayerSpec* spec = models::find_layer(*m.ptr());   // its row, by type
//
// Adding a layer: docs/adding-a-layer.md (an activation without options is one line in
// ops/activation.h; a layer with options is one entry in src/models/layers.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <typeindex>
#include <vector>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/module.h"
#include "cnnkit/nn/modules/container/any.h"

namespace cnnkit::models {

// A layer's arguments by PyTorch's names. The virtual readers are given a key that has() a
// value; a value of the wrong type is an error naming the key (fail()).
class LayerArgs {
 public:
  explicit LayerArgs(std::string layer_name) : layer(std::move(layer_name)) {}
  virtual ~LayerArgs() = default;

  virtual bool has(std::string_view key) const = 0;      // given, not null
  virtual bool is_null(std::string_view key) const = 0;  // given as null (momentum: null)
  virtual int64_t integer(std::string_view key) const = 0;
  virtual double number(std::string_view key) const = 0;
  virtual bool boolean(std::string_view key) const = 0;
  virtual std::string text(std::string_view key) const = 0;
  virtual bool is_text(std::string_view key) const = 0;  // a word, not a number ('same')
  // An integer (repeated n times) or a list of n integers.
  virtual std::vector<int64_t> ints(std::string_view key, size_t n) const = 0;
  // An integer or a list of any length of integers.
  virtual std::vector<int64_t> int_list(std::string_view key) const = 0;
  // An integer or a list of n integers or nulls (output_size: [null, 7]).
  virtual std::vector<std::optional<int64_t>> optional_ints(std::string_view key, size_t n) const = 0;
  // A number or a list of numbers (Upsample's scale_factor); a number gives a list of one.
  virtual std::vector<double> numbers(std::string_view key) const { return {number(key)}; }
  // The channel count the previous layer gives, when the caller knows it.
  virtual std::optional<int64_t> previous_channels() const { return std::nullopt; }
  // Throws a cnnkit::ValueError (or a subclass) that says where `key` (empty: the layer) is.
  virtual void raise(std::string_view key, const std::string& message) const = 0;
  [[noreturn]] void fail(std::string_view key, const std::string& message) const;  // raise()

  // Sets `field` (an Options' member, holding its default) from `key` when given.
  void read(std::string_view key, int64_t& field) const;
  void read(std::string_view key, double& field) const;
  void read(std::string_view key, bool& field) const;
  void read(std::string_view key, std::string& field) const;
  void read(std::string_view key, std::vector<int64_t>& field) const;  // int_list
  // null -> nullopt (PyTorch's None), a value -> that value, missing -> the default.
  void read(std::string_view key, std::optional<double>& field) const;
  void read(std::string_view key, std::optional<int64_t>& field) const;
  template <size_t D>
  void read(std::string_view key, ExpandingArray<D>& field) const {
    if (has(key)) field = ExpandingArray<D>(ints(key, D));
  }
  void require(std::string_view key) const;  // "missing required key" when not given
  int64_t required(std::string_view key) const;
  std::vector<int64_t> required_ints(std::string_view key, size_t n) const;
  // A channel count that may be omitted: the previous layer's.
  int64_t channels(std::string_view key) const;

  const std::string layer;  // "layer 3 (Conv2d)", for messages
};

// Forward FLOPs of one module from its input x and output y (formulas in models/summary.h).
using FlopRule = std::function<int64_t(const nn::Module& m, const Tensor& x, const Tensor& y)>;

struct LayerSpec {
  std::string name;                     // PyTorch's class name: "Conv2d"
  std::type_index type;                 // of the module make gives: nn::Conv2dImpl
  std::vector<std::string_view> keys;   // the arguments it accepts, PyTorch's names
  std::function<nn::AnyModule(const LayerArgs&)> make;
  FlopRule flops;
};

// Every entry, in the order error messages list them.
const std::vector<LayerSpec>& layer_table();
// The entry named `name`, or of m's type; nullptr when there is none.
const LayerSpec* find_layer(std::string_view name);
const LayerSpec* find_layer(const nn::Module& m);
// Makes layer `name` from `args` (whose keys the caller has checked against the entry's):
// an unknown name -> ValueError listing the names and the closest one. The module's own
// option checks throw as they do in C++.
nn::AnyModule make_layer(std::string_view name, const LayerArgs& args);

}  // namespace cnnkit::models
