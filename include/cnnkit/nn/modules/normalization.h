// Normalisation layers (torch/nn/modules/{batchnorm,instancenorm,normalization}.h).
// BatchNorm: parameters weight (1) and bias (0) when affine; buffers running_mean (0),
// running_var (1) and num_batches_tracked (int64, 0-dim) when track_running_stats. In
// training it normalises with batch statistics and updates the running ones (momentum,
// or a cumulative average when momentum is nullopt); in eval it uses the running ones.
// InstanceNorm2d, LayerNorm and GroupNorm follow PyTorch's defaults likewise.
//   nn::BatchNorm2d bn(nn::BatchNorm2dOptions(64).momentum(0.01));
//   nn::LayerNorm ln(nn::LayerNormOptions({64}).eps(1e-6));
//   nn::GroupNorm gn(nn::GroupNormOptions(/*num_groups=*/8, /*num_channels=*/64));
#pragma once

#include <memory>
#include <ostream>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/options/normalization.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

// Batch statistics taken over several processes' batches: distributed::convert_sync_batchnorm
// (torch.nn.SyncBatchNorm) gives a BatchNorm module one. Declared here so that nn stays free
// of MPI; the distributed layer implements it.
struct BatchNormSync {
  virtual ~BatchNormSync() = default;
  // The training forward: normalise `input` (N, C, ...) with the mean and biased variance of
  // every rank's batch, and update running_mean / running_var (when defined) with the
  // unbiased variance and `momentum`, as BatchNorm does with one batch.
  virtual Tensor forward(const Tensor& input, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                         Tensor& running_var, double momentum, double eps) = 0;
};

// The shared body of BatchNorm1d and BatchNorm2d; D only changes the accepted ranks.
template <size_t D, typename Derived>
class BatchNormImplBase : public Cloneable<Derived> {
 public:
  explicit BatchNormImplBase(const BatchNormOptions& options_);

  void reset() override;
  void reset_running_stats();  // running_mean = 0, running_var = 1, num_batches_tracked = 0
  void reset_parameters();     // also weight = 1, bias = 0
  void pretty_print(std::ostream& stream) const override;

  Tensor forward(const Tensor& input);
  // relu(forward(input) + residual) (residual undefined: relu(forward(input))): the same
  // values, gradients and running-stat updates, in one fused kernel where ops/norm.h's
  // batch_norm_relu takes the input (training, a convolution's blocked output). Not in
  // PyTorch; BasicBlock and Sequential (BatchNorm2d, ReLU) call it. The three ops as written
  // with SyncBatchNorm, or with the rewrites off (nn::set_sequential_rewrites, CNNKIT_FUSE=0).
  Tensor forward_relu(const Tensor& input, const Tensor& residual = {});

  BatchNormOptions options;
  Tensor weight;               // (C) or undefined
  Tensor bias;                 // (C) or undefined
  Tensor running_mean;         // (C) or undefined
  Tensor running_var;          // (C) or undefined
  Tensor num_batches_tracked;  // int64, 0-dim, or undefined
  // Set: in training, statistics over every rank's batch (SyncBatchNorm); null: this batch's.
  std::shared_ptr<BatchNormSync> sync;

 protected:
  virtual void _check_input_dim(const Tensor& input) = 0;

 private:
  // The input checks and the batch count; the running-stat factor of this forward.
  double begin_forward(const Tensor& input);
};

// input (N, C) or (N, C, L)
class BatchNorm1dImpl : public BatchNormImplBase<1, BatchNorm1dImpl> {
 public:
  using BatchNormImplBase<1, BatchNorm1dImpl>::BatchNormImplBase;

 protected:
  void _check_input_dim(const Tensor& input) override;
};
CNNKIT_MODULE(BatchNorm1d);

// input (N, C, H, W)
class BatchNorm2dImpl : public BatchNormImplBase<2, BatchNorm2dImpl> {
 public:
  using BatchNormImplBase<2, BatchNorm2dImpl>::BatchNormImplBase;

 protected:
  void _check_input_dim(const Tensor& input) override;
};
CNNKIT_MODULE(BatchNorm2d);

extern template class BatchNormImplBase<1, BatchNorm1dImpl>;
extern template class BatchNormImplBase<2, BatchNorm2dImpl>;

// Per-sample, per-channel normalisation; input (N, C, H, W) or (C, H, W).
class InstanceNorm2dImpl : public Cloneable<InstanceNorm2dImpl> {
 public:
  explicit InstanceNorm2dImpl(const InstanceNorm2dOptions& options_);

  void reset() override;
  void reset_running_stats();
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);

  InstanceNorm2dOptions options;
  Tensor weight, bias;                                   // (C) when affine
  Tensor running_mean, running_var, num_batches_tracked;  // when track_running_stats
};
CNNKIT_MODULE(InstanceNorm2d);

// Normalises over the trailing normalized_shape dims; weight and bias of that shape.
class LayerNormImpl : public Cloneable<LayerNormImpl> {
 public:
  LayerNormImpl(std::vector<int64_t> normalized_shape)  // NOLINT
      : LayerNormImpl(LayerNormOptions(std::move(normalized_shape))) {}
  explicit LayerNormImpl(const LayerNormOptions& options_);

  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);

  LayerNormOptions options;
  Tensor weight, bias;  // normalized_shape, when elementwise_affine
};
CNNKIT_MODULE(LayerNorm);

// Normalises each of num_groups channel groups; input (N, C, *); weight, bias (C).
class GroupNormImpl : public Cloneable<GroupNormImpl> {
 public:
  GroupNormImpl(int64_t num_groups, int64_t num_channels)
      : GroupNormImpl(GroupNormOptions(num_groups, num_channels)) {}
  explicit GroupNormImpl(const GroupNormOptions& options_);

  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(const Tensor& input);

  GroupNormOptions options;
  Tensor weight, bias;  // (C) when affine
};
CNNKIT_MODULE(GroupNorm);

}  // namespace nn
}  // namespace cnnkit
