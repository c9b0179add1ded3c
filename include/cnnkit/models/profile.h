// Per-layer timing of a training step (`cnnkit info --profile`): the forward and backward time
// of each child of a Sequential (a nested block such as a BasicBlock is one row), medians over
// `steps` steps after `warmup` untimed ones, with each layer's share of the step, beside the
// summary's columns (output shape, parameters, FLOPs).
//
//   nn::Sequential net = models::lenet5();
//   models::LayerProfile p = models::profile_layers(*net, randn({64, 1, 28, 28}), /*steps=*/20);
//   std::cout << p.table();   // Layer (type)  Output shape  Params  FLOPs  Forward ms  Backward ms  Share
//
// How: each step runs the children one by one in training mode, child i on a detached copy
// of child i-1's output that requires grad (child 0 on the input itself, which needs no
// gradient, as in training), keeping each output; then, from the last child to the first,
// calls backward on child i's output with the upstream gradient (ones for the last child: the
// loss is not timed) and hands input.grad() to child i-1. Each call is timed with a steady
// clock; oneDNN and the kernels run synchronously, so a call's time is its work.
//
// Contracts: the model comes back as it was - parameters untouched (no optimiser step), their
// gradients as before the call (the sweep's own are dropped), buffers (batch-norm running
// statistics) and the default generator's state restored, every module's train/eval flag
// restored. The shares sum to 100%. The times include what a layer's ops do beyond
// arithmetic (layout reorders, allocation); the Sequential's own dispatch between children,
// the loss and the optimiser step are outside every row.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/module.h"

namespace cnnkit::models {

struct LayerTiming {
  std::string name;                   // the child's key in the Sequential ("0", "features", ...)
  std::string type;                   // "Conv2d", "BasicBlock", ...
  std::vector<int64_t> output_shape;  // with the batch dimension
  int64_t params = 0;
  int64_t flops = 0;                  // forward FLOPs (models::summary's rule); flops_known as there
  bool flops_known = true;
  double forward_ms = 0;              // median over the timed steps
  double backward_ms = 0;             // median; 0 when nothing before it needs a gradient
  double share = 0;                   // (forward + backward) / the sum over the rows, in percent
};

struct LayerProfile {
  std::vector<int64_t> input_shape;
  std::vector<LayerTiming> layers;  // the Sequential's children in order
  int64_t steps = 0, warmup = 0;
  int threads = 0;                  // the math's threads while timing
  double forward_ms = 0, backward_ms = 0;  // sums of the rows' medians

  // The table: name (type), output shape, params, FLOPs, forward and backward ms, share, and a
  // total row, then one line saying how it was measured.
  std::string table() const;
};

// `model` must be an nn::Sequential (every zoo and config-built model is); another type ->
// ValueError. steps >= 1, warmup >= 0 (ValueError otherwise). A child that fails on the input
// throws its error, prefixed with its name.
LayerProfile profile_layers(nn::Module& model, const Tensor& example_input, int64_t steps = 20, int64_t warmup = 2);

}  // namespace cnnkit::models
