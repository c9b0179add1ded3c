// Model summaries (torchinfo's summary, `cnnkit info`): one row per layer with its output
// shape, parameter count and forward FLOPs, found by running one forward on zeros of the
// given shape (no grad, eval mode; every module's train/eval flag is restored after).
//
//   nn::Sequential net = models::lenet5();
//   models::ModelSummary s = models::summary(*net, {1, 1, 28, 28});
//   std::cout << s.table();          // s.total_params == 61706, s.total_flops == 845852
//
// How the walk works. nn::Sequential (each child in order), models::BasicBlock and
// models::Residual (their children in the order their forward uses them) are walked: those
// are container rows, with the totals of their children, followed by their children one
// level deeper. Any other module (a user's own `struct NetImpl : nn::Module`) is run through
// its own forward, and every layer it calls as `layer(x)` (a holder call, or a Sequential's
// child) becomes a row, nested as the calls nest (nn::detail::ForwardObserver). FLOPs come
// from the layer table of models/layers.h, where every layer of nn has a FLOP rule; a layer
// without one counts as unknown ("+?"). Arithmetic written in a custom forward itself, and
// calls written `layer->forward(x)`, are not seen: such a summary says so under its table.
//
//   struct NetImpl : nn::Module { ... Tensor forward(Tensor x) { return fc(relu(conv(x)).flatten(1)); } };
//   Net net;
//   std::cout << models::summary(net, {1, 1, 28, 28}).table();   // rows conv, relu, fc
//
// FLOPs (forward, for the given batch; a multiply-add counts 2, biases are not counted):
//   Conv2d     2 * N * C_out * H_out * W_out * (C_in / groups) * K_h * K_w   (BENCH.md)
//   Conv1d     2 * N * C_out * L_out * (C_in / groups) * K
//   Linear     2 * rows * in_features * out_features
//   BatchNorm1d/2d, InstanceNorm2d, LayerNorm, GroupNorm: 2 per output element (scale, shift)
//   activations (ReLU, GELU, Softmax, ...): 1 per output element
//   MaxPool2d / AvgPool2d: K_h * K_w per output element (1-d: K); adaptive pools: 1 per input element
//   residual add (BasicBlock, Residual): 1 per output element, plus the final activation
//   Flatten, Identity, Dropout, Dropout2d: 0
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cnnkit/core/array_ref.h"
#include "cnnkit/nn/module.h"

namespace cnnkit::models {

struct SummaryRow {
  std::string name;                   // path in the model, as in state-dict keys: "layer1.0.conv1"
  std::string type;                   // "Conv2d", "BasicBlock", "Sequential", ...
  int depth = 0;                      // 0 for the model's own children
  std::vector<int64_t> output_shape;  // with the batch dimension
  int64_t params = 0;                 // parameters of this module and its descendants
  int64_t flops = 0;                  // forward FLOPs of this module and its descendants
  bool flops_known = true;            // false: a layer of unknown cost is inside (counted 0)
  bool container = false;             // its children follow it, one level deeper
};

struct ModelSummary {
  std::vector<int64_t> input_shape;
  std::vector<int64_t> output_shape;
  std::vector<SummaryRow> rows;  // depth-first, in forward order
  int64_t total_params = 0;      // every parameter of the model
  int64_t trainable_params = 0;  // those with requires_grad
  int64_t buffer_elements = 0;   // persistent buffers (running statistics)
  int64_t total_flops = 0;       // sum over the leaf rows and the blocks' own adds
  bool flops_complete = true;    // false when some layer's cost is unknown (counted 0)
  bool traced = false;           // rows from the layer calls of a custom forward (see above)

  // An aligned table (name indented by depth, type, output shape, params, FLOPs) and the
  // totals. max_depth >= 0 leaves out deeper rows (their cost stays in the containers).
  std::string table(int max_depth = -1) const;
};

// Runs `model` on zeros of `input_shape` (with the batch: (N, C, H, W)) and summarises it.
// As an nn::Module& the model must be an nn::Sequential, a models::BasicBlock or a
// models::Residual (every zoo and config-built model is a Sequential); another type ->
// ValueError. A forward that fails on this shape throws that layer's error, prefixed with
// the row's name.
ModelSummary summary(nn::Module& model, IntArrayRef input_shape);
// Any module, run by `forward` when it is not one of the walked types above.
ModelSummary summary(nn::Module& model, IntArrayRef input_shape, const std::function<Tensor(const Tensor&)>& forward);

// A module of any type with forward(Tensor), or its holder: summary(net, {1, 3, 32, 32}).
template <typename M>
  requires std::derived_from<M, nn::Module> && requires(M& m, Tensor x) {
    { m.forward(x) } -> std::convertible_to<Tensor>;
  }
ModelSummary summary(M& model, IntArrayRef input_shape) {
  return summary(static_cast<nn::Module&>(model), input_shape, [&model](const Tensor& x) { return model.forward(x); });
}
template <typename H>
  requires nn::detail::is_module_holder<H>::value
ModelSummary summary(H& holder, IntArrayRef input_shape) {
  return summary(*holder, input_shape);
}

}  // namespace cnnkit::models
