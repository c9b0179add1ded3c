// Dropout (torch::dropout) and channel dropout (torch::feature_dropout, nn::Dropout2d):
// in training, zero with probability p and scale the rest by 1/(1-p); identity otherwise.
// Masks come from the global generator (cnnkit::manual_seed).
#pragma once

#include "cnnkit/core/tensor.h"

namespace cnnkit {

Tensor dropout(const Tensor& input, double p, bool train);
Tensor feature_dropout(const Tensor& input, double p, bool train);  // whole (H, W) planes
Tensor alpha_dropout(const Tensor& input, double p, bool train);
// 0 <= p <= 1, the one rule for p: the ops above, F::dropout* (also when not training) and
// the Dropout modules (at construction) run it. `name` starts the message.
void check_dropout_p(double p, const char* name);

}  // namespace cnnkit
