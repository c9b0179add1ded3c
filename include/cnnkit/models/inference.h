// optimize_for_inference (as torch.jit.optimize_for_inference, for eval-mode forwards without
// autograd): a copy of a network whose convolutions absorb what follows them.
//   - Conv2d -> BatchNorm2d (running statistics) : the batch norm folded into the convolution's
//     weight and bias, w' = w * g / sqrt(var + eps), b' = (b - mean) * g / sqrt(var + eps) + beta;
//   - ... -> ReLU : run by the convolution's call on its result while it is in cache (oneDNN's
//     ReLU post-op would turn NaN into 0; PyTorch's relu keeps NaN, and so does this);
//   - BasicBlock (and Residual whose body ends in a convolution, with a ReLU or no activation):
//     the shortcut's sum as a post-op of the second convolution, then its ReLU, so a block is
//     two convolution calls (three with a downsample) and nothing else.
// Everything else is copied as it is; nested Sequentials are rewritten the same way.
//
//   nn::Sequential fast = models::optimize_for_inference(net);   // net: any mode, unchanged
//   NoGradGuard no_grad;
//   Tensor logits = fast->forward(x);                            // net's eval-mode logits
//
// The copy is in eval mode and a snapshot: later changes to net do not reach it (a module that
// cannot be cloned, a Module subclass that is not Cloneable, is shared with net instead, and
// put in eval mode with the copy). Its outputs
// are net's in eval mode within float rounding (the tests hold them to 1e-5 relative).
// `cnnkit eval`, `predict` and the validation pass of `train` use it. CNNKIT_FUSE=0 (or
// nn::set_sequential_rewrites(false)) makes it an unfused eval-mode copy.
#pragma once

#include "cnnkit/nn/modules/container/sequential.h"

namespace cnnkit::models {

nn::Sequential optimize_for_inference(const nn::Sequential& net);

}  // namespace cnnkit::models
