// SyncBatchNorm: BatchNorm's training forward with the statistics of every rank's batch,
// written with differentiable all-reduces so that autograd derives the backward (the two
// all-reduces of the backward are the reverse of the forward's two).
//
// Two passes (mean, then the mean squared deviation) rather than E[x^2] - E[x]^2, which
// cancels catastrophically in float32 when |mean| >> std. Each all-reduce of the forward is
// matched by one in backward, so a SyncBatchNorm layer costs four small collectives a step
// (C + 1 and C floats), issued in the same order on every rank.
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/distributed/ddp.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/nn/modules/normalization.h"
#include "cnnkit/ops/ops.h"
#include "distributed/gradient_weight.h"

namespace cnnkit::distributed {
namespace {

// y = sum over ranks of x, on every rank. Backward: rank r's loss enters the global one with
// weight w_r (the DDP gradient weight), so dL/dx_r = sum_s w_s g_s / w_r.
Tensor all_reduce_with_grad(const Tensor& x) {
  Tensor y = x.detach().clone();
  all_reduce(y);
  if (autograd::needs_grad({x})) {
    autograd::record("AllReduceBackward", {x}, {y}, [](const TensorList& g) {
      const double w = detail::gradient_weight();
      CNNKIT_CHECK_T(DistributedError, w > 0, "SyncBatchNorm backward: this rank's gradient weight is 0");
      Tensor scaled = (g[0] * w).contiguous();
      all_reduce(scaled);
      return TensorList{scaled / w};
    });
  }
  return y;
}

struct SyncStatistics final : nn::BatchNormSync {
  Tensor forward(const Tensor& input, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                 Tensor& running_var, double momentum, double eps) override {
    const int64_t c = input.size(1);
    std::vector<int64_t> dims{0};
    std::vector<int64_t> shape{1, c};
    for (int64_t d = 2; d < input.dim(); ++d) {
      dims.push_back(d);
      shape.push_back(1);
    }
    const double local = static_cast<double>(input.numel() / c);

    Tensor packed = cat({sum(input, dims), full({1}, local)});
    Tensor reduced = all_reduce_with_grad(packed);
    const double n = reduced.narrow(0, c, 1).item<double>();
    CNNKIT_CHECK_T(ValueError, n > 1, "SyncBatchNorm: expected more than 1 value per channel over all ranks when "
                   "training, got input size ", input.sizes(), " on this rank and ", n, " values in all");
    Tensor mean = reduced.narrow(0, 0, c) / n;
    Tensor centered = input - mean.reshape(shape);
    Tensor var = all_reduce_with_grad(sum(centered * centered, dims)) / n;  // biased, as BatchNorm normalises
    Tensor out = centered * pow(var + eps, -0.5).reshape(shape);
    if (weight.defined()) out = out * weight.reshape(shape);
    if (bias.defined()) out = out + bias.reshape(shape);

    if (running_mean.defined() && running_var.defined()) {
      NoGradGuard no_grad;
      const Tensor m = mean.detach().contiguous(), v = var.detach().contiguous();
      float* rm = running_mean.data_ptr<float>();
      float* rv = running_var.data_ptr<float>();
      const float* pm = m.data_ptr<float>();
      const float* pv = v.data_ptr<float>();
      const double unbias = n / (n - 1);
      for (int64_t k = 0; k < c; ++k) {
        rm[k] = static_cast<float>((1 - momentum) * rm[k] + momentum * pm[k]);
        rv[k] = static_cast<float>((1 - momentum) * rv[k] + momentum * pv[k] * unbias);
      }
    }
    return out;
  }
};

template <typename F>
int64_t for_each_batchnorm(nn::Module& module, F&& f) {
  int64_t n = 0;
  module.apply(nn::Module::ModuleApplyFunction([&](nn::Module& m) {
    if (auto* b1 = dynamic_cast<nn::BatchNorm1dImpl*>(&m)) {
      f(b1->sync);
      ++n;
    } else if (auto* b2 = dynamic_cast<nn::BatchNorm2dImpl*>(&m)) {
      f(b2->sync);
      ++n;
    }
  }));
  return n;
}

}  // namespace

int64_t convert_sync_batchnorm(nn::Module& module) {
  auto stats = std::make_shared<SyncStatistics>();
  return for_each_batchnorm(module, [&](std::shared_ptr<nn::BatchNormSync>& sync) { sync = stats; });
}

bool uses_sync_batchnorm(const nn::Module& module) {
  bool any = false;
  module.apply(nn::Module::ConstModuleApplyFunction([&](const nn::Module& m) {
    if (auto* b1 = dynamic_cast<const nn::BatchNorm1dImpl*>(&m)) any = any || b1->sync != nullptr;
    if (auto* b2 = dynamic_cast<const nn::BatchNorm2dImpl*>(&m)) any = any || b2->sync != nullptr;
  }));
  return any;
}

int64_t revert_sync_batchnorm(nn::Module& module) {
  return for_each_batchnorm(module, [](std::shared_ptr<nn::BatchNormSync>& sync) { sync = nullptr; });
}

}  // namespace cnnkit::distributed
