// cnnkit: build, train and ship convolutional networks in C++ with PyTorch's C++ API.
// The one header for users (the counterpart of <torch/torch.h>); the library itself never
// includes it.
//
//   #include <cnnkit/cnnkit.h>
//   using namespace cnnkit;
//   auto net = nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2)), nn::ReLU(),
//                             nn::MaxPool2d(2), nn::Flatten(), nn::Linear(6 * 14 * 14, 10));
//   Tensor x = randn({8, 1, 28, 28}, requires_grad());
//   Tensor loss = net->forward(x).pow(2).mean();
//   loss.backward();                                  // x.grad(), every parameter's grad()
//   io::save_safetensors("net.safetensors", net->state_dict());
//
// Intended usage:
//   - tensors, ops and autograd: cnnkit::Tensor, cnnkit::zeros/randn/matmul/cat/softmax ...
//   - layers and models: cnnkit::nn (Module, TORCH_MODULE, Sequential, Conv2d, BatchNorm2d ...)
//   - functional forms: cnnkit::nn::functional (conv2d, max_pool2d, batch_norm ...)
//   - weights: cnnkit::io::load_safetensors / save_safetensors, Module::state_dict()
// A LibTorch program compiles against this header after replacing `torch::` with
// `cnnkit::` (see README, "Porting LibTorch code").
#pragma once

#include <optional>

#include "cnnkit/autograd/anomaly_mode.h"
#include "cnnkit/autograd/function.h"
#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/hooks.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/core/arg.h"
#include "cnnkit/core/array_ref.h"
#include "cnnkit/core/dtype.h"
#include "cnnkit/core/enum.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/data/data.h"
#include "cnnkit/distributed/ddp.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/io/npy.h"
#include "cnnkit/io/onnx.h"
#include "cnnkit/io/safetensors.h"
#include "cnnkit/io/archive.h"
#include "cnnkit/io/serialize.h"
#include "cnnkit/models/models.h"
#include "cnnkit/nn/nn.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/optim/optim.h"
#include "cnnkit/train/swa_utils.h"
#include "cnnkit/report/lr_find.h"
#include "cnnkit/report/report.h"
#include "cnnkit/select/select.h"
#include "cnnkit/train/train.h"

// LibTorch's macros keep their names: `TORCH_MODULE(Net)` has no `torch::` to replace.
#ifndef TORCH_MODULE
#define TORCH_MODULE(Name) CNNKIT_MODULE(Name)
#endif
#ifndef TORCH_ARG
#define TORCH_ARG(T, name) CNNKIT_ARG(T, name)
#endif
#ifndef TORCH_CHECK
#define TORCH_CHECK(cond, ...) CNNKIT_CHECK(cond, __VA_ARGS__)
#endif
#ifndef TORCH_INTERNAL_ASSERT
#define TORCH_INTERNAL_ASSERT(cond, ...) CNNKIT_ASSERT(cond, "" __VA_ARGS__)
#endif
#ifndef AT_ASSERT
#define AT_ASSERT(cond, ...) CNNKIT_ASSERT(cond, "" __VA_ARGS__)
#endif

namespace cnnkit {
// torch::optional / torch::nullopt (c10's, now std's).
using std::nullopt;
using std::optional;
namespace autograd {
using Variable = Tensor;
}
namespace indexing {}
}  // namespace cnnkit
