// The per-thread example generator that random transforms draw from, and TensorDataset.
// Not here: readers of files (data/datasets/), the loader (dataloader.cpp).
#include "cnnkit/data/dataset.h"

#include "cnnkit/data/datasets/tensor.h"

namespace cnnkit {
namespace data {

namespace {
// The loader seeds the generator for every example; the engine takes the seed only when a
// transform first draws (manual_seed runs a seed_seq over the 624-word state: on the default
// run, whose transforms draw nothing, 5% of the loader thread's time, on a core the training
// step needs).
struct ExampleGenerator {
  Generator gen;
  bool seeded = false;        // gen is seeded, or a seed is pending
  bool pending = false;       // pending_seed still to go into gen
  uint64_t pending_seed = 0;
};
thread_local ExampleGenerator tl_example_generator;
}  // namespace

Generator& example_generator() {
  ExampleGenerator& eg = tl_example_generator;
  if (eg.pending) {
    eg.gen.manual_seed(eg.pending_seed);
    eg.pending = false;
  } else if (!eg.seeded) {
    // Outside a loader: follow torch::manual_seed, drawing the seed once per thread.
    Generator& g = default_generator();
    uint64_t seed;
    {
      std::lock_guard<std::mutex> lock(g.mutex());
      seed = g.next_u64();
    }
    eg.gen.manual_seed(seed);
    eg.seeded = true;
  }
  return eg.gen;
}

void seed_example_generator(uint64_t seed) {
  ExampleGenerator& eg = tl_example_generator;
  eg.pending_seed = seed;
  eg.pending = true;
  eg.seeded = true;
}

TensorDataset::TensorDataset(Tensor data, Tensor targets) : data_(std::move(data)), targets_(std::move(targets)) {
  CNNKIT_CHECK(data_.defined(), "TensorDataset: data is an undefined tensor");
  CNNKIT_CHECK_SHAPE(data_.dim() >= 1, "TensorDataset: data must have a first (example) dimension, got a 0-dim tensor");
  if (targets_.defined()) {
    CNNKIT_CHECK_SHAPE(targets_.dim() >= 1 && targets_.size(0) == data_.size(0),
                       "TensorDataset: data has ", data_.size(0), " examples (shape ", data_.sizes(),
                       ") but targets has shape ", targets_.sizes(), "; their first dimensions must match");
  }
}

Example<> TensorDataset::get(size_t index) {
  int64_t n = data_.size(0);
  CNNKIT_CHECK(index < static_cast<size_t>(n), "TensorDataset: index ", index,
                     " out of range for a dataset of ", n, " examples");
  int64_t i = static_cast<int64_t>(index);
  return {data_.select(0, i), targets_.defined() ? targets_.select(0, i) : Tensor()};
}

}  // namespace data
}  // namespace cnnkit
