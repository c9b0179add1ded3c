// The DataLoader: per-epoch order from (seed, epoch), batches built by a pass-scoped pool of
// std::threads into a ring of slots and handed out in order; workers = 0 builds on the
// caller's thread with the same code, so results do not depend on the thread count.
// With num_replicas > 1 a pass keeps this rank's round-robin share of the epoch's order.
// Iterable datasets take their own path (StreamPass below): a stream per worker, batches
// handed out round-robin. Not here: datasets, transforms.
#include "cnnkit/data/dataloader.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "cnnkit/data/iterable.h"

namespace cnnkit {
namespace data {

namespace {

uint64_t shuffle_seed(uint64_t seed, int64_t epoch) {
  return mix64(mix64(seed ^ 0x5851f42d4c957f2dULL) ^ static_cast<uint64_t>(epoch));
}
uint64_t example_seed(uint64_t seed, int64_t epoch, size_t index) {
  return mix64(mix64(mix64(seed) ^ static_cast<uint64_t>(epoch)) ^ static_cast<uint64_t>(index));
}

// One batch tensor (N, ...) shaped like `first`, into which examples are copied.
Tensor batch_like(const Tensor& first, int64_t n) {
  std::vector<int64_t> sizes{n};
  for (int64_t s : first.sizes()) sizes.push_back(s);
  return cnnkit::empty(sizes, TensorOptions(first.scalar_type()));
}

// Messages omit the example index: build_batch puts it (and the batch, epoch) in front.
void copy_into(Tensor& batch, int64_t k, const Tensor& x, const Tensor& first, const char* what) {
  CNNKIT_CHECK_T(ShapeError, x.defined() == first.defined(), "it has ", x.defined() ? "a" : "no", " ", what,
                 " but the batch's first example has ", first.defined() ? "one" : "none");
  if (!x.defined()) return;
  CNNKIT_CHECK_T(ShapeError, x.sizes() == first.sizes(), what, " of shape ", x.sizes(),
                 " differs from the batch's first example's ", first.sizes(),
                 "; examples of a batch must have equal shapes (Resize / CenterCrop make them so)");
  CNNKIT_CHECK_TYPE(x.scalar_type() == first.scalar_type(), what, " of dtype ", x.scalar_type(),
                    " differs from the batch's first example's ", first.scalar_type());
  Tensor c = x.is_contiguous() ? x : x.contiguous();
  size_t nb = c.nbytes();
  if (nb) std::memcpy(static_cast<char*>(batch.data_ptr()) + static_cast<size_t>(k) * nb, c.data_ptr(), nb);
}

// ---- iterable datasets -------------------------------------------------------------------------

// One pass over an iterable dataset (torch's IterableDataset in a DataLoader): worker w of W
// reads the stream dataset.stream({w, W, epoch, seed}) and builds batches of it into its own
// queue of at most `capacity` batches; the consumer takes worker 0's first batch, worker 1's
// first, ..., then the second ones, skipping workers whose stream has ended, so the order of
// batches depends on the worker count alone (PyTorch's order). Each worker's last batch may
// be short (dropped with drop_last). W = 0 reads one stream on the consumer's thread with
// the same code. Before each example the worker reseeds example_generator() from (seed,
// epoch, worker, position in its stream), so augmentations repeat for a given worker count.
class StreamPass {
 public:
  StreamPass(const IterableDataset& dataset, const DataLoaderOptions& options, int64_t epoch)
      : options_(options), epoch_(epoch) {
    const size_t workers = std::max<size_t>(1, options.workers());
    for (size_t w = 0; w < workers; ++w) {
      auto q = std::make_unique<Queue>();
      q->stream = dataset.stream(WorkerInfo{w, workers, epoch, options.seed()});
      queues_.push_back(std::move(q));
    }
    if (options.workers() > 0)
      for (size_t w = 0; w < workers; ++w) threads_.emplace_back([this, w] { run(w); });
  }
  ~StreamPass() { stop(); }

  // The next batch into `out`; false at the end of the pass. Rethrows a worker's error.
  bool next(Example<>& out) {
    const size_t W = queues_.size();
    for (size_t tried = 0; tried < W; ++tried) {
      Queue& q = *queues_[turn_];
      Item item;
      bool got = false;
      if (threads_.empty()) {
        if (!q.done) {
          got = build(turn_, q, item);
          if (!got || item.error) q.done = true;
        }
      } else {
        std::unique_lock<std::mutex> lock(mu_);
        cv_ready_.wait(lock, [&] { return !q.items.empty() || q.done; });
        if (!q.items.empty()) {
          item = std::move(q.items.front());
          q.items.pop_front();
          got = true;
        }
      }
      if (!threads_.empty()) cv_space_.notify_all();
      turn_ = (turn_ + 1) % W;
      if (!got) continue;  // this worker's stream has ended: the next worker's turn
      if (item.error) std::rethrow_exception(item.error);
      out = std::move(item.batch);
      return true;
    }
    return false;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_space_.notify_all();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  struct Item {
    Example<> batch;
    std::exception_ptr error;
  };
  struct Queue {
    std::unique_ptr<ExampleStream> stream;
    std::deque<Item> items;
    bool done = false;  // the stream ended (or failed): nothing more will be queued
    size_t read = 0;    // examples taken from the stream so far
  };

  // Worker w's next batch from its stream into `item` (or the error, naming the worker and
  // the example); false when the stream has no more examples for a batch.
  bool build(size_t w, Queue& q, Item& item) {
    const size_t bs = options_.batch_size();
    std::vector<Example<>> examples;
    try {
      Example<> e;
      while (examples.size() < bs) {
        seed_example_generator(stream_example_seed(w, q.read));
        if (!q.stream->next(e)) break;
        ++q.read;
        examples.push_back(std::move(e));
      }
      if (examples.empty() || (options_.drop_last() && examples.size() < bs)) return false;
      item.batch = stack(examples);
    } catch (...) {
      std::ostringstream os;
      os << "DataLoader: worker " << w << ", example " << q.read << " of its stream (epoch " << epoch_ << "): ";
      try {
        rethrow_with_prefix(std::current_exception(), os.str());
      } catch (...) {
        item.error = std::current_exception();
      }
    }
    return true;
  }

  void run(size_t w) {
    Queue& q = *queues_[w];
    const size_t capacity = options_.max_jobs() ? std::max<size_t>(1, *options_.max_jobs())
                                                : std::max<size_t>(1, options_.prefetch_factor());
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_space_.wait(lock, [&] { return stop_ || q.items.size() < capacity; });
        if (stop_) return;
      }
      Item item;
      const bool got = build(w, q, item);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (got) q.items.push_back(std::move(item));
        if (!got || q.items.back().error) q.done = true;
      }
      cv_ready_.notify_all();
      if (q.done) return;
    }
  }

  uint64_t stream_example_seed(size_t worker, size_t k) const {
    return example_seed(options_.seed(), epoch_, (static_cast<uint64_t>(worker) << 40) ^ k);
  }

  static Example<> stack(std::vector<Example<>>& examples) {
    const int64_t count = static_cast<int64_t>(examples.size());
    const Example<>& first = examples.front();
    CNNKIT_CHECK(first.data.defined(), "the stream yielded an example without data");
    Example<> out;
    out.data = batch_like(first.data, count);
    out.target = first.target.defined() ? batch_like(first.target, count) : Tensor();
    out.weight = first.weight.defined() ? batch_like(first.weight, count) : Tensor();
    for (int64_t k = 0; k < count; ++k) {
      const Example<>& e = examples[static_cast<size_t>(k)];
      copy_into(out.data, k, e.data, first.data, "data");
      copy_into(out.target, k, e.target, first.target, "target");
      copy_into(out.weight, k, e.weight, first.weight, "weight");
    }
    return out;
  }

  const DataLoaderOptions& options_;
  int64_t epoch_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_ready_, cv_space_;
  bool stop_ = false;
  size_t turn_ = 0;  // the worker whose batch comes next
};

}  // namespace

struct DataLoader::Impl {
  struct Slot {
    bool ready = false;
    Example<> batch;
    std::exception_ptr error;
  };

  DatasetBase* dataset;
  DataLoaderOptions options;
  const IterableDataset* iterable = nullptr;  // the dataset, when it is a stream
  std::unique_ptr<StreamPass> stream_pass;

  // epoch bookkeeping (consumer thread only)
  int64_t epoch = 0;
  bool epoch_set = false;
  bool any_pass = false;
  uint64_t pass = 0;
  bool pass_active = false;
  size_t skip = 0;  // batches the next pass starts after (skip_batches)

  // the current pass; read-only for the workers while they run
  size_t n = 0, batches = 0;
  std::vector<size_t> order;
  size_t next_to_deliver = 0;

  // workers
  std::mutex mu;
  std::condition_variable cv_work, cv_ready;
  bool stop = false;
  size_t next_to_build = 0;
  std::vector<Slot> slots;
  std::vector<std::thread> threads;

  Impl(DatasetBase* d, DataLoaderOptions o)
      : dataset(d), options(std::move(o)), iterable(dynamic_cast<const IterableDataset*>(d)) {}
  ~Impl() { stop_workers(); }

  size_t dataset_size() const {
    std::optional<size_t> s = dataset->size();
    CNNKIT_CHECK(s.has_value(), "DataLoader: the dataset has no size(); a map-style dataset with a size is needed");
    return *s;
  }
  size_t batches_for(size_t count) const {
    size_t bs = options.batch_size();
    return options.drop_last() ? count / bs : (count + bs - 1) / bs;
  }
  // Examples of an epoch the ranks share: all of them, or with drop_last the whole global
  // batches only (the single process's drop).
  size_t shared_count(size_t count) const {
    const size_t global_batch = options.batch_size() * options.num_replicas();
    return options.drop_last() ? count / global_batch * global_batch : count;
  }
  // This rank's examples of an epoch: indices rank, rank + R, ... below shared_count.
  size_t local_count(size_t count) const {
    const size_t used = shared_count(count), r = options.rank(), replicas = options.num_replicas();
    return used > r ? (used - r + replicas - 1) / replicas : 0;
  }
  size_t local_batches(size_t count) const {
    const size_t bs = options.batch_size();
    return (local_count(count) + bs - 1) / bs;  // local_count is whole batches under drop_last
  }
  // Batches per epoch of an iterable dataset: each worker's stream batched on its own.
  size_t stream_batches() const {
    const size_t workers = std::max<size_t>(1, options.workers());
    size_t total = 0;
    for (size_t w = 0; w < workers; ++w) {
      const std::optional<size_t> count = iterable->stream_size(WorkerInfo{w, workers, epoch, options.seed()});
      CNNKIT_CHECK(count.has_value(), "DataLoader: the iterable dataset does not know how many examples its streams hold "
                                  "(stream_size()), so the batches per epoch are unknown");
      total += batches_for(*count);
    }
    return total;
  }
  size_t capacity() const {
    if (options.max_jobs()) return std::max<size_t>(1, *options.max_jobs());
    return std::max<size_t>(1, options.workers() * std::max<size_t>(1, options.prefetch_factor()));
  }

  void build_batch(size_t b, Example<>& out) const {
    size_t bs = options.batch_size();
    size_t first = b * bs;
    int64_t count = static_cast<int64_t>(std::min(bs, n - first));
    Tensor first_data, first_target, first_weight;
    for (int64_t k = 0; k < count; ++k) {
      size_t index = order[first + static_cast<size_t>(k)];
      try {
        seed_example_generator(example_seed(options.seed(), epoch, index));
        Example<> e = dataset->get(index);
        if (k == 0) {
          CNNKIT_CHECK(e.data.defined(), "get() returned undefined data");
          first_data = e.data;
          first_target = e.target;
          out.data = batch_like(e.data, count);
          out.target = e.target.defined() ? batch_like(e.target, count) : Tensor();
          first_weight = e.weight;
          out.weight = e.weight.defined() ? batch_like(e.weight, count) : Tensor();
        }
        copy_into(out.data, k, e.data, first_data, "data");
        copy_into(out.target, k, e.target, first_target, "target");
        copy_into(out.weight, k, e.weight, first_weight, "weight");
      } catch (...) {
        std::ostringstream os;
        os << "DataLoader: example " << index << " (batch " << b << ", epoch " << epoch << "): ";
        rethrow_with_prefix(std::current_exception(), os.str());
      }
    }
  }

  void worker_loop() {
    for (;;) {
      size_t b;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv_work.wait(lock, [&] {
          return stop || next_to_build >= batches || next_to_build < next_to_deliver + slots.size();
        });
        if (stop || next_to_build >= batches) return;
        b = next_to_build++;
      }
      Slot result;
      try {
        build_batch(b, result.batch);
      } catch (...) {
        result.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stop) return;
        Slot& s = slots[b % slots.size()];
        s = std::move(result);
        s.ready = true;
      }
      cv_ready.notify_all();
    }
  }

  void stop_workers() {
    stream_pass.reset();  // an iterable pass: stops and joins its workers
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv_work.notify_all();
    for (std::thread& t : threads) t.join();
    threads.clear();
    slots.clear();
    stop = false;
  }

  void end_pass() {
    stop_workers();
    pass_active = false;
  }

  void start_pass() {
    if (pass_active) end_pass();
    if (epoch_set) {
      epoch_set = false;
    } else if (any_pass) {
      ++epoch;
    }
    any_pass = true;
    ++pass;
    pass_active = true;
    const size_t start = std::exchange(skip, 0);
    if (iterable) {
      stream_pass = std::make_unique<StreamPass>(*iterable, options, epoch);
      Example<> dropped;
      for (size_t b = 0; b < start && next(dropped); ++b) {
      }
      return;
    }

    n = dataset_size();
    batches = options.num_replicas() > 1 ? local_batches(n) : batches_for(n);
    order.resize(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    if (options.shuffle() && n > 1) {
      Generator g(shuffle_seed(options.seed(), epoch));
      for (size_t i = n - 1; i > 0; --i) {  // Fisher-Yates
        size_t j = static_cast<size_t>(g.randint(0, static_cast<int64_t>(i) + 1));
        std::swap(order[i], order[j]);
      }
    }
    if (options.num_replicas() > 1) {
      const size_t used = shared_count(n), replicas = options.num_replicas();
      size_t k = 0;
      for (size_t i = options.rank(); i < used; i += replicas) order[k++] = order[i];
      order.resize(k);
      n = k;
    }
    next_to_deliver = next_to_build = std::min(start, batches);
    if (options.workers() > 0 && batches > next_to_build) {
      slots.assign(std::min(capacity(), batches - next_to_build), Slot());
      size_t w = std::min(options.workers(), batches - next_to_build);
      threads.reserve(w);
      for (size_t i = 0; i < w; ++i) threads.emplace_back([this] { worker_loop(); });
    }
  }

  // The next batch of the pass into `out`; false at the end of the pass.
  bool next(Example<>& out) {
    if (!pass_active) return false;
    if (stream_pass) {
      bool more;
      try {
        more = stream_pass->next(out);
      } catch (...) {
        end_pass();
        throw;
      }
      if (!more) end_pass();
      return more;
    }
    if (next_to_deliver >= batches) {
      end_pass();
      return false;
    }
    if (threads.empty()) {
      try {
        build_batch(next_to_deliver++, out);
      } catch (...) {
        end_pass();
        throw;
      }
      return true;
    }
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lock(mu);
      Slot& s = slots[next_to_deliver % slots.size()];
      cv_ready.wait(lock, [&] { return s.ready; });
      out = std::move(s.batch);
      error = s.error;
      s = Slot();
      ++next_to_deliver;
    }
    cv_work.notify_all();
    if (error) {
      end_pass();
      std::rethrow_exception(error);
    }
    return true;
  }
};

DataLoader::DataLoader(std::shared_ptr<DatasetBase> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  CNNKIT_CHECK(dataset_ != nullptr, "DataLoader: the dataset is null");
  CNNKIT_CHECK(options_.batch_size() > 0, "DataLoader: batch_size must be positive, got ", options_.batch_size());
  CNNKIT_CHECK(options_.prefetch_factor() > 0, "DataLoader: prefetch_factor must be positive, got ",
               options_.prefetch_factor());
  CNNKIT_CHECK(!options_.max_jobs() || *options_.max_jobs() > 0, "DataLoader: max_jobs must be positive, got ",
               options_.max_jobs().value_or(0));
  CNNKIT_CHECK(options_.num_replicas() >= 1, "DataLoader: num_replicas must be at least 1, got ",
               options_.num_replicas());
  CNNKIT_CHECK(options_.rank() < options_.num_replicas(), "DataLoader: rank ", options_.rank(),
               " is not below num_replicas ", options_.num_replicas());
  impl_ = std::make_unique<Impl>(dataset_.get(), options_);
  if (impl_->iterable) {
    // torch's DataLoader refuses shuffle=True for an IterableDataset too: a stream is
    // shuffled by the dataset itself (ShardDatasetOptions::shuffle_buffer).
    CNNKIT_CHECK(!options_.shuffle(), "DataLoader: shuffle is for map-style datasets; an iterable dataset shuffles "
                                      "its own stream (e.g. ShardDatasetOptions::shuffle_buffer)");
    CNNKIT_CHECK(options_.num_replicas() == 1, "DataLoader: num_replicas is for map-style datasets; an iterable "
                 "dataset splits itself over the ranks (e.g. ShardDatasetOptions::rank / world_size)");
    return;
  }
  (void)impl_->dataset_size();  // an unsized dataset fails here, not at the first pass
}

DataLoader::~DataLoader() = default;

DataLoader::Iterator DataLoader::begin() {
  impl_->start_pass();
  return Iterator(impl_.get(), impl_->pass);
}

DataLoader::Iterator DataLoader::end() { return Iterator(); }

void DataLoader::set_epoch(int64_t epoch) {
  impl_->epoch = epoch;
  impl_->epoch_set = true;
}

void DataLoader::skip_batches(size_t batch) { impl_->skip = batch; }

int64_t DataLoader::epoch() const { return impl_->epoch; }

size_t DataLoader::size() const {
  if (impl_->iterable) return impl_->stream_batches();
  const size_t n = impl_->dataset_size();
  return options_.num_replicas() > 1 ? impl_->local_batches(n) : impl_->batches_for(n);
}

size_t DataLoader::global_size() const {
  // An iterable dataset splits itself over the ranks (ShardDatasetOptions rank / world_size):
  // its streams, not the loader, decide the shares, so this rank's count is what is known.
  if (impl_->iterable) return impl_->stream_batches();
  const size_t n = impl_->dataset_size(), global_batch = options_.batch_size() * options_.num_replicas();
  return options_.drop_last() ? n / global_batch : (n + global_batch - 1) / global_batch;
}

DataLoader::Iterator::Iterator(Impl* impl, uint64_t pass) : impl_(impl), pass_(pass) { ++*this; }

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  if (at_end()) return *this;
  bool more;
  try {
    more = impl_->next(batch_);
  } catch (...) {
    impl_ = nullptr;
    throw;
  }
  if (!more) {
    impl_ = nullptr;
    batch_ = Example<>();
  }
  return *this;
}

bool DataLoader::Iterator::at_end() const {
  return impl_ == nullptr || impl_->pass != pass_ || !impl_->pass_active;
}

}  // namespace data
}  // namespace cnnkit
