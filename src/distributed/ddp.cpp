// DistributedDataParallel's reducer: buckets, the hooks that start their all-reduces during
// backward, and the end-of-backward callback that finishes them. Every collective goes
// through the process group's one communication thread, in the order requested here.
#include "cnnkit/distributed/ddp.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/distributed/distributed.h"
#include "distributed/gradient_weight.h"

namespace cnnkit::distributed {

namespace {
using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// The weight SyncBatchNorm's backward needs (see gradient_weight.h); DDP keeps it current.
double g_gradient_weight = 1.0;
bool g_gradient_weight_set = false;
}  // namespace

namespace detail {
double gradient_weight() { return g_gradient_weight_set ? g_gradient_weight : 1.0 / get_world_size(); }
void set_gradient_weight(double w) {
  g_gradient_weight = w;
  g_gradient_weight_set = true;
}
}  // namespace detail

struct DistributedDataParallel::Reducer {
  struct Bucket {
    std::vector<size_t> params;     // indices into `params`
    std::vector<int64_t> offsets;   // of each parameter in `flat`
    Tensor flat;                    // float32, the bucket's gradients
    size_t pending = 0;             // parameters not ready yet this backward
    std::shared_ptr<Work> work;     // in flight
    bool started = false;
  };

  std::vector<Tensor> params;            // those that require grad, module().parameters() order
  std::vector<size_t> param_index;       // position of params[i] in module().parameters()
  std::vector<size_t> bucket_of, slot_of;
  std::vector<Bucket> buckets;
  std::vector<bool> ready;
  std::vector<autograd::HookHandle> hooks;
  size_t next_bucket = 0;                // buckets start in this order
  bool in_backward = false;
  bool no_sync = false;
  std::optional<double> weight;          // unset: 1 / world
  Clock::time_point first_ready;
  DistributedDataParallelStats stats;

  double w() const { return weight.value_or(1.0 / get_world_size()); }

  void start(size_t b) {
    Bucket& bucket = buckets[b];
    float* flat = bucket.flat.data_ptr<float>();
    const float scale = static_cast<float>(w());
    for (size_t k = 0; k < bucket.params.size(); ++k) {
      const Tensor& p = params[bucket.params[k]];
      float* dst = flat + bucket.offsets[k];
      const int64_t n = p.numel();
      Tensor g = p.grad();
      if (!g.defined()) {
        std::fill(dst, dst + n, 0.0f);
        continue;
      }
      if (!g.is_contiguous()) g = g.contiguous();
      const float* src = g.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i] * scale;
    }
    bucket.work = all_reduce(bucket.flat, ReduceOp::SUM, /*async_op=*/true);
    bucket.started = true;
  }

  void start_ready_buckets() {
    while (next_bucket < buckets.size() && buckets[next_bucket].pending == 0) start(next_bucket++);
  }

  void on_ready(size_t i) {
    if (no_sync) return;
    if (!in_backward) {
      in_backward = true;
      first_ready = Clock::now();
      autograd::queue_callback([this] { finish(); });
    }
    if (ready[i]) return;
    ready[i] = true;
    --buckets[bucket_of[i]].pending;
    start_ready_buckets();
  }

  // The end of backward (or skip_step): start what did not start, wait, write back.
  void finish() {
    const auto t_end = Clock::now();
    while (next_bucket < buckets.size()) start(next_bucket++);
    for (Bucket& bucket : buckets) {
      if (bucket.work) bucket.work->wait();
      const float* flat = bucket.flat.data_ptr<float>();
      for (size_t k = 0; k < bucket.params.size(); ++k) {
        Tensor& p = params[bucket.params[k]];
        const int64_t n = p.numel();
        Tensor g = p.grad();
        if (!g.defined() || !g.is_contiguous()) {
          g = empty(p.sizes(), kFloat);
          p.set_grad(g);
        }
        std::memcpy(g.data_ptr<float>(), flat + bucket.offsets[k], static_cast<size_t>(n) * sizeof(float));
      }
    }
    const auto t_done = Clock::now();
    ++stats.steps;
    stats.backward_seconds += seconds(first_ready, t_end);
    stats.wait_seconds += seconds(t_end, t_done);
    reset();
  }

  void reset() {
    for (Bucket& b : buckets) {
      b.pending = b.params.size();
      b.work = nullptr;
      b.started = false;
    }
    std::fill(ready.begin(), ready.end(), false);
    next_bucket = 0;
    in_backward = false;
  }
};

DistributedDataParallel::DistributedDataParallel(nn::AnyModule module, DistributedDataParallelOptions options)
    : module_(std::move(module)), options_(options), reducer_(std::make_unique<Reducer>()) {
  CNNKIT_CHECK(!module_.is_empty(), "DistributedDataParallel: the module is empty");
  CNNKIT_CHECK(options_.bucket_cap_mb() > 0, "DistributedDataParallel: bucket_cap_mb must be positive, got ",
               options_.bucket_cap_mb());
  nn::Module& m = *module_.ptr();

  // Rank 0's state everywhere: the replicas start equal.
  {
    NoGradGuard no_grad;
    for (Tensor p : m.parameters()) {
      Tensor d = p.detach();
      broadcast(d, 0);
    }
    sync_buffers();
  }

  Reducer& r = *reducer_;
  const std::vector<Tensor> all = m.parameters();
  for (size_t i = 0; i < all.size(); ++i) {
    if (!all[i].requires_grad()) continue;
    CNNKIT_CHECK(all[i].scalar_type() == kFloat, "DistributedDataParallel: parameter ", i, " is ",
                 all[i].scalar_type(), "; only float32 parameters are supported");
    r.params.push_back(all[i]);
    r.param_index.push_back(i);
  }
  // Buckets in reverse registration order: the last layers' gradients come first in backward.
  // The first bucket holds at most 1 MiB (as PyTorch's): the last layers' gradients start
  // travelling early whatever the cap.
  const int64_t cap = std::max<int64_t>(1, static_cast<int64_t>(options_.bucket_cap_mb() * 1024 * 1024 / sizeof(float)));
  const int64_t first_cap = std::min<int64_t>(cap, 1024 * 1024 / sizeof(float));
  r.bucket_of.assign(r.params.size(), 0);
  r.slot_of.assign(r.params.size(), 0);
  int64_t filled = 0;
  for (size_t k = r.params.size(); k-- > 0;) {
    const int64_t n = r.params[k].numel();
    if (r.buckets.empty() || (filled > 0 && filled + n > (r.buckets.size() == 1 ? first_cap : cap))) {
      r.buckets.emplace_back();
      filled = 0;
    }
    Reducer::Bucket& b = r.buckets.back();
    r.bucket_of[k] = r.buckets.size() - 1;
    r.slot_of[k] = b.params.size();
    b.params.push_back(k);
    b.offsets.push_back(filled);
    filled += n;
  }
  int64_t total = 0;
  for (Reducer::Bucket& b : r.buckets) {
    int64_t n = 0;
    for (size_t k : b.params) n += r.params[k].numel();
    b.flat = empty({n}, kFloat);
    total += n;
  }
  r.stats.bytes_per_step = total * static_cast<int64_t>(sizeof(float));
  r.ready.assign(r.params.size(), false);
  r.reset();
  Reducer* raw = reducer_.get();
  for (size_t k = 0; k < r.params.size(); ++k)
    r.hooks.push_back(autograd::register_post_accumulate_grad_hook(r.params[k], [raw, k](const Tensor&) { raw->on_ready(k); }));
}

DistributedDataParallel::~DistributedDataParallel() {
  for (autograd::HookHandle h : reducer_->hooks) autograd::remove_hook(h);
}

void DistributedDataParallel::prepare_forward() {
  if (options_.broadcast_buffers() && module_.ptr()->is_training()) sync_buffers();
}

Tensor DistributedDataParallel::forward(const Tensor& input) {
  prepare_forward();
  return module_.forward(input);
}

void DistributedDataParallel::set_gradient_weight(double weight) {
  CNNKIT_CHECK(weight >= 0 && weight <= 1, "DistributedDataParallel::set_gradient_weight: ", weight,
               " is not in [0, 1]");
  reducer_->weight = weight;
  detail::set_gradient_weight(weight);
}

double DistributedDataParallel::gradient_weight() const { return reducer_->w(); }

void DistributedDataParallel::skip_step() {
  Reducer& r = *reducer_;
  CNNKIT_CHECK(!r.in_backward, "DistributedDataParallel::skip_step: called during backward");
  const std::optional<double> saved = r.weight;
  r.weight = 0.0;  // zero contribution, whatever the .grad() hold
  r.first_ready = Clock::now();
  try {
    for (size_t b = 0; b < r.buckets.size(); ++b) {
      Reducer::Bucket& bucket = r.buckets[b];
      std::fill(bucket.flat.data_ptr<float>(), bucket.flat.data_ptr<float>() + bucket.flat.numel(), 0.0f);
      bucket.work = all_reduce(bucket.flat, ReduceOp::SUM, true);
      bucket.started = true;
    }
    r.next_bucket = r.buckets.size();
    r.finish();
  } catch (...) {
    r.weight = saved;
    throw;
  }
  r.weight = saved;
}

void DistributedDataParallel::sync_buffers() {
  if (get_world_size() == 1) return;
  // Coalesced, as PyTorch does: one broadcast for the float buffers (running statistics) and
  // one for the int64 ones (num_batches_tracked), not one per tensor.
  NoGradGuard no_grad;
  for (const ScalarType type : {kFloat, kLong}) {
    std::vector<Tensor> group;
    int64_t total = 0;
    for (const Tensor& b : module_.ptr()->buffers()) {
      if (!b.defined() || b.scalar_type() != type) continue;
      CNNKIT_CHECK(b.is_contiguous(), "DistributedDataParallel: a buffer is not contiguous");
      group.push_back(b);
      total += b.numel();
    }
    if (group.empty()) continue;
    Tensor flat = empty({total}, type);
    const size_t elem = type == kFloat ? sizeof(float) : sizeof(int64_t);
    auto* base = static_cast<char*>(flat.data_ptr());
    size_t at = 0;
    for (const Tensor& b : group) {
      std::memcpy(base + at, b.data_ptr(), static_cast<size_t>(b.numel()) * elem);
      at += static_cast<size_t>(b.numel()) * elem;
    }
    broadcast(flat, 0);
    at = 0;
    for (const Tensor& b : group) {
      std::memcpy(b.data_ptr(), base + at, static_cast<size_t>(b.numel()) * elem);
      at += static_cast<size_t>(b.numel()) * elem;
    }
  }
}

DistributedDataParallel::NoSyncGuard::NoSyncGuard(DistributedDataParallel& ddp)
    : ddp_(ddp), previous_(ddp.reducer_->no_sync) {
  ddp_.reducer_->no_sync = true;
}
DistributedDataParallel::NoSyncGuard::~NoSyncGuard() { ddp_.reducer_->no_sync = previous_; }

std::vector<std::vector<size_t>> DistributedDataParallel::bucket_assignment() const {
  std::vector<std::vector<size_t>> out;
  for (const auto& b : reducer_->buckets) {
    out.emplace_back();
    for (size_t k : b.params) out.back().push_back(reducer_->param_index[k]);
  }
  return out;
}

const DistributedDataParallelStats& DistributedDataParallel::stats() const { return reducer_->stats; }

}  // namespace cnnkit::distributed
