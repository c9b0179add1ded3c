// Models from the `model:` section of a YAML config: a zoo model by name, or a list of
// layers with PyTorch's class and argument names and defaults. Checks every name, key and
// type, infers omitted channel counts, and, given the input shape, runs one dry forward
// (batch 1, eval mode, no grad) layer by layer so that a shape mismatch is reported at the
// layer's line in the file, before any training starts.
//
//   model:                                  model:
//     zoo: resnet20                           input_shape: [1, 28, 28]   # (C, H, W), no batch
//     num_classes: 10                         layers:
//                                               - Conv2d: {out_channels: 6, kernel_size: 5, padding: 2}
//                                               - ReLU
//                                               - MaxPool2d: {kernel_size: 2}
//                                               - Residual:          # y = act(body(x) + shortcut(x))
//                                                   body: [{Conv2d: {out_channels: 6, kernel_size: 3, padding: 1}},
//                                                          BatchNorm2d]
//                                                   activation: ReLU   # shortcut omitted: identity
//                                               - BasicBlock: {planes: 16, stride: 2}
//                                               - Flatten
//                                               - Linear: {out_features: 10}
//
//   nn::Sequential net = models::build_from_yaml(text, path);   // text: a config with `model:`
//   nn::Sequential net = models::build(cfg.model, {1, 28, 28});  // a run config's section
//
// Layers: every layer of nn (layer_names()), plus BasicBlock {in_planes, planes, stride},
// Residual {body, shortcut, activation} and Sequential [layers]. A layer is written as its
// name alone ("ReLU") or as a one-key mapping {Name: {arguments}}. in_channels, in_features,
// num_features, num_channels (GroupNorm) and in_planes may be omitted: they are taken from
// the previous layer (from the dry forward when the input shape is known, else from the
// last layer that fixes the channel count). Softmax/LogSoftmax default to dim 1. The
// `inplace` argument is accepted and has no effect. Zoo keys: zoo, num_classes,
// in_channels, width, blocks, input_size (H, W) and input_shape; see models/zoo.h.
//
// Errors: cnnkit::ValueError for unknown layers, keys, bad types and values; ShapeError for a
// shape mismatch found by the dry forward; every message starts with "file:line:" and names
// the layer by its path in the model (its state-dict prefix), e.g.
//   "configs/x.yaml:12: layer 7 (Linear): expects 400 input features, the previous layer gives 576"
#pragma once

#include <string>
#include <vector>

#include "cnnkit/io/config_node.h"
#include "cnnkit/nn/modules/container/sequential.h"

namespace cnnkit::models {

// The model described by `model_section` (the value of the `model:` key), in training mode.
// input_shape: (C, H, W) or (features,) without the batch dimension, used when the section
// has no input_shape of its own (the run config's data section knows it); empty = unknown.
nn::Sequential build(const io::ConfigNode& model_section, const std::vector<int64_t>& input_shape = {});

// The same from YAML text: a document with a `model:` key, or the section itself; `file`
// names it in messages.
nn::Sequential build_from_yaml(const std::string& yaml_text, const std::string& file = "",
                               const std::vector<int64_t>& input_shape = {});

// The layer names accepted in `layers:` lists, in the order error messages list them.
std::vector<std::string> layer_names();

}  // namespace cnnkit::models
