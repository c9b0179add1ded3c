// This rank's factor on its gradients in the all-reduce (DistributedDataParallel's gradient
// weight), shared with SyncBatchNorm: its backward all-reduces sums of the incoming gradients,
// which must carry the same factor so that, after DDP's weighted sum, the result is the
// gradient of the global batch's loss.
#pragma once

namespace cnnkit::distributed::detail {
double gradient_weight();  // 1 / world size until DistributedDataParallel sets it
void set_gradient_weight(double w);
}  // namespace cnnkit::distributed::detail
