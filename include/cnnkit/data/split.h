// Subsets and splits (torch.utils.data.Subset / random_split, plus a stratified split as
// sklearn's train_test_split(stratify=y)). Same seed, same split, on every machine.
//
//   auto full = std::make_shared<data::datasets::FashionMNIST>(root);
//   auto parts = data::random_split(full, {0.9, 0.1}, /*seed=*/42);        // fractions
//   auto parts2 = data::random_split(full, {54000, 6000}, 42);             // or lengths
//   auto strat = data::stratified_split(full, {0.8, 0.1, 0.1}, 42);        // class proportions kept
//   auto [train, val, test] = data::train_val_test_split(full, 0.1, 0.1, 42);
//
// Intended usage: hold out validation and test sets before training; k-fold and ensembles
// build their folds out of Subset. Splits hold indices into the source dataset (no copy);
// the source is shared, so get() stays thread-safe if the source's is.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "cnnkit/core/rng.h"
#include "cnnkit/data/dataset.h"
#include "cnnkit/data/datasets/labeled.h"

namespace cnnkit::data {

// torch.utils.data.Subset: example i is dataset[indices[i]]. Forwards classes(), and
// labels() when the source knows them without loading examples.
class Subset : public datasets::Dataset<Subset>, public datasets::Labeled {
 public:
  // ValueError if the dataset is null or has no size, or an index is out of range.
  Subset(std::shared_ptr<DatasetBase> dataset, std::vector<size_t> indices);

  Example<> get(size_t index) override;
  std::optional<size_t> size() const override { return indices_.size(); }
  std::vector<std::string> classes() const override { return dataset_->classes(); }
  std::vector<int64_t> labels() const override;

  const std::shared_ptr<DatasetBase>& dataset() const { return dataset_; }
  const std::vector<size_t>& indices() const { return indices_; }

 private:
  std::shared_ptr<DatasetBase> dataset_;
  std::vector<size_t> indices_;
};

// torch.utils.data.random_split. `lengths` are fractions if they sum to 1 (each in [0, 1]):
// split k gets floor(n * f_k) examples and the remainder is dealt one at a time to splits
// 0, 1, ... (PyTorch's rule); otherwise they are lengths that must be non-negative
// integers summing to the dataset's size. The order is a permutation of [0, n) drawn
// from Generator(seed) (not torch's generator: same seed gives the same split in cnnkit,
// not the same as PyTorch's).
std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<DatasetBase> dataset,
                                                  const std::vector<double>& lengths, uint64_t seed = 0);

// Every example's class index: from Labeled::labels() when the dataset implements it
// (no decoding), else from get(i).target (0-dim or one-element integer tensors), in
// parallel. ValueError if a target is not an integer class index.
std::vector<int64_t> labels_of(const std::shared_ptr<DatasetBase>& dataset);

// A split that keeps each class's proportion in every part. Each class's examples are
// shuffled with Generator(seed) (classes in ascending order, one generator) and cut by
// `fractions` (which must sum to 1): class c with n_c examples gives part k floor(n_c f_k)
// examples, and its remaining examples go to the parts with the largest fractional parts
// n_c f_k - floor(n_c f_k), ties broken by rotating the starting part with the class index
// so no part is favoured across classes. Each part lists its indices in ascending order.
std::vector<std::shared_ptr<Subset>> stratified_split(std::shared_ptr<DatasetBase> dataset,
                                                      const std::vector<double>& fractions, uint64_t seed = 0);
// The same with the labels given (one per example).
std::vector<std::shared_ptr<Subset>> stratified_split(std::shared_ptr<DatasetBase> dataset,
                                                      const std::vector<int64_t>& labels,
                                                      const std::vector<double>& fractions, uint64_t seed = 0);

struct TrainValTest {
  std::shared_ptr<Subset> train, val, test;
};
// Fractions val and test held out, the rest training; stratified by class by default
// (regression datasets: pass stratify = false).
TrainValTest train_val_test_split(std::shared_ptr<DatasetBase> dataset, double val_fraction,
                                  double test_fraction, uint64_t seed = 0, bool stratify = true);

}  // namespace cnnkit::data

namespace cnnkit::data::detail {
// f(begin, end) over example indices [0, n) on all threads (chunks of at least `grain`
// examples); the first exception any call throws is rethrown on the calling thread after
// the loop. Used by labels_of, clean() and compute_mean_std().
void parallel_over_examples(size_t n, size_t grain, const std::function<void(size_t, size_t)>& f);
// A uniformly random permutation of [0, n) (Fisher-Yates, drawing from gen): the one shuffle
// random_split, stratified_split and the folds of data/folds.h share.
std::vector<size_t> permutation(size_t n, Generator& gen);
}  // namespace cnnkit::data::detail
