// Data-parallel training over the process group (torch.nn.parallel.DistributedDataParallel):
// every rank holds the whole model and trains on its share of each global batch; the
// gradients are all-reduced in buckets while backward is still running, so that the
// communication of the last layers' gradients overlaps the backward of the first layers.
//
//   distributed::init_process_group();
//   auto net = std::make_shared<Net>();
//   distributed::DistributedDataParallel ddp(net);    // rank 0's parameters and buffers everywhere
//   optim::SGD opt(net->parameters(), optim::SGDOptions(0.1));
//   auto loader = data::make_data_loader(dataset, data::DistributedSampler(world, rank),
//                                        data::DataLoaderOptions(64 / world));   // global batch 64
//   for (auto& batch : *loader) {
//     opt.zero_grad();
//     Tensor loss = F::cross_entropy(ddp.forward(batch.data), batch.target);
//     loss.backward();               // returns with every rank's gradients averaged
//     opt.step();
//   }
//
// How (PyTorch DDP's Reducer, reduced to what a CPU cluster needs):
//   - Parameters are packed into buckets of at most bucket_cap_mb (the first of at most 1 MiB,
//     as PyTorch's), in reverse registration order (the order backward produces their gradients). A post-accumulate-grad hook marks
//     a parameter ready; once every parameter of a bucket is, the bucket's gradients are
//     copied (scaled by this rank's gradient weight) into its flat buffer and an async
//     all_reduce starts on the process group's communication thread. Buckets start in index
//     order on every rank, so the collectives match.
//   - At the end of backward (an autograd::queue_callback) buckets not started yet (their
//     parameters got no gradient this step: unused parameters) start with zeros for those,
//     all are waited for, and the sums are written back into every parameter's .grad().
//   - The gradient weight w_r of this rank (default 1/world: the mean, as PyTorch) makes the
//     result sum_r w_r g_r. With w_r = n_r / n (this rank's examples of the step over the
//     step's total, what train::Trainer sets) a step with unequal shares — the last batch of
//     an epoch, or a rank with none — is exactly the single-process step on the global batch.
//   - Buffers (BatchNorm's running statistics) are broadcast from rank 0 at construction and,
//     with broadcast_buffers (the default, as PyTorch), before every training forward(); call
//     sync_buffers() before evaluating or saving from your own loop.
// A rank with no examples for a step calls skip_step() instead of forward/backward: it takes
// part in the step's all-reduces with zero gradients (PyTorch's Join for uneven inputs).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cnnkit/autograd/hooks.h"
#include "cnnkit/core/arg.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/module.h"
#include "cnnkit/nn/modules/container/any.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit::distributed {

struct DistributedDataParallelOptions {
  // Bucket capacity in MiB (PyTorch's default 25). Smaller buckets start communication earlier
  // and overlap more; larger ones pay the per-collective latency fewer times.
  CNNKIT_ARG(double, bucket_cap_mb) = 25;
  CNNKIT_ARG(bool, broadcast_buffers) = true;
};

// Where the time of the steps so far went (for the scaling model in docs/scaling.md).
struct DistributedDataParallelStats {
  int64_t steps = 0;                // backward passes whose gradients were all-reduced
  int64_t bytes_per_step = 0;       // float32 gradient bytes all-reduced per step
  double backward_seconds = 0;      // from the first gradient ready to the end of backward
  double wait_seconds = 0;          // waited at the end of backward for buckets still in flight
};

class DistributedDataParallel {
 public:
  explicit DistributedDataParallel(nn::AnyModule module, DistributedDataParallelOptions options = {});
  template <typename ModuleType>
  explicit DistributedDataParallel(std::shared_ptr<ModuleType> module, DistributedDataParallelOptions options = {})
      : DistributedDataParallel(nn::AnyModule(std::move(module)), options) {}
  template <typename ModuleType>
  explicit DistributedDataParallel(nn::ModuleHolder<ModuleType> module, DistributedDataParallelOptions options = {})
      : DistributedDataParallel(nn::AnyModule(module.ptr()), options) {}
  ~DistributedDataParallel();
  DistributedDataParallel(const DistributedDataParallel&) = delete;
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  // The module's forward, after broadcasting the buffers when training with broadcast_buffers.
  Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) { return forward(input); }
  // What forward() does before the module's: for loops that call the module themselves.
  void prepare_forward();

  // This rank's factor on its gradients in the next all-reduces (default 1 / world size).
  void set_gradient_weight(double weight);
  double gradient_weight() const;
  // For a step this rank has no examples for: all-reduces zero gradients of its own (so the
  // other ranks' step completes) and leaves the sums in .grad(), like backward() would.
  void skip_step();
  // Broadcasts every buffer from rank 0.
  void sync_buffers();

  // While alive, backward passes accumulate gradients locally without any all-reduce
  // (torch's no_sync(), for gradient accumulation); the first backward after it reduces
  // the accumulated sums.
  class NoSyncGuard {
   public:
    explicit NoSyncGuard(DistributedDataParallel& ddp);
    ~NoSyncGuard();
    NoSyncGuard(const NoSyncGuard&) = delete;
    NoSyncGuard& operator=(const NoSyncGuard&) = delete;

   private:
    DistributedDataParallel& ddp_;
    bool previous_;
  };
  NoSyncGuard no_sync() { return NoSyncGuard(*this); }

  nn::Module& module() { return *module_.ptr(); }
  nn::AnyModule& any_module() { return module_; }
  const DistributedDataParallelOptions& options() const { return options_; }
  // Parameters per bucket, as indices into module().parameters().
  std::vector<std::vector<size_t>> bucket_assignment() const;
  const DistributedDataParallelStats& stats() const;

 private:
  struct Reducer;
  nn::AnyModule module_;
  DistributedDataParallelOptions options_;
  std::unique_ptr<Reducer> reducer_;
};

// torch.nn.SyncBatchNorm.convert_sync_batchnorm: every BatchNorm1d/2d of `module` (itself
// included) takes its training statistics over all ranks from now on; state-dict keys and
// evaluation are unchanged. Returns how many layers it converted. With one process the
// statistics are the local ones, so a converted model trains as before.
int64_t convert_sync_batchnorm(nn::Module& module);
// Undoes it (a model saved or evaluated alone needs no change, this is for reuse in-process).
int64_t revert_sync_batchnorm(nn::Module& module);
// Whether any BatchNorm of `module` is synchronised. Such a model needs examples on every rank
// in every step (its forward takes part in collectives), which train::Trainer checks.
bool uses_sync_batchnorm(const nn::Module& module);

}  // namespace cnnkit::distributed
