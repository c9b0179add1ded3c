// Subset, random_split, stratified_split, train_val_test_split, and the parallel loop over
// examples and the permutation the data tools share. Not here: k-fold cross-validation and
// resampling (folds.cpp) and samplers (the DataLoader's).
#include "cnnkit/data/split.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <map>
#include <mutex>
#include <numeric>

#include "cnnkit/core/threads.h"

namespace cnnkit::data {

namespace detail {
void parallel_over_examples(size_t n, size_t grain, const std::function<void(size_t, size_t)>& f) {
  std::exception_ptr error;
  std::mutex mu;
  cnnkit::parallel_for(static_cast<int64_t>(n), static_cast<int64_t>(std::max<size_t>(grain, 1)),
                       [&](int64_t b, int64_t e) {
                         try {
                           f(static_cast<size_t>(b), static_cast<size_t>(e));
                         } catch (...) {
                           std::lock_guard<std::mutex> lock(mu);
                           if (!error) error = std::current_exception();
                         }
                       });
  if (error) std::rethrow_exception(error);
}

std::vector<size_t> permutation(size_t n, Generator& gen) {
  std::vector<size_t> perm(n);
  std::iota(perm.begin(), perm.end(), size_t{0});
  for (size_t i = n; i > 1; --i) {
    size_t j = static_cast<size_t>(gen.randint(0, static_cast<int64_t>(i)));
    std::swap(perm[i - 1], perm[j]);
  }
  return perm;
}
}  // namespace detail

namespace {

size_t checked_size(const std::shared_ptr<DatasetBase>& dataset, const char* fn) {
  CNNKIT_CHECK(dataset != nullptr, fn, ": the dataset is null");
  auto n = dataset->size();
  CNNKIT_CHECK(n.has_value(), fn, ": the dataset has no size (a stream); splits need random access");
  return *n;
}

std::vector<std::shared_ptr<Subset>> make_parts(const std::shared_ptr<DatasetBase>& dataset,
                                                std::vector<std::vector<size_t>> parts) {
  std::vector<std::shared_ptr<Subset>> out;
  for (auto& p : parts) out.push_back(std::make_shared<Subset>(dataset, std::move(p)));
  return out;
}

void check_fractions(const std::vector<double>& fractions, const char* fn) {
  CNNKIT_CHECK(!fractions.empty(), fn, ": fractions is empty");
  double sum = 0;
  for (double f : fractions) {
    CNNKIT_CHECK(f >= 0 && f <= 1, fn, ": fractions must be in [0, 1], got ", f);
    sum += f;
  }
  CNNKIT_CHECK(std::fabs(sum - 1) < 1e-9, fn, ": fractions must sum to 1, got ", sum);
}

}  // namespace

Subset::Subset(std::shared_ptr<DatasetBase> dataset, std::vector<size_t> indices)
    : dataset_(std::move(dataset)), indices_(std::move(indices)) {
  size_t n = checked_size(dataset_, "Subset");
  for (size_t i : indices_)
    CNNKIT_CHECK(i < n, "Subset: index ", i, " out of range for a dataset of ", n, " examples");
}

Example<> Subset::get(size_t index) {
  CNNKIT_CHECK(index < indices_.size(), "Subset: index ", index, " out of range for a subset of ",
               indices_.size(), " examples");
  return dataset_->get(indices_[index]);
}

std::vector<int64_t> Subset::labels() const {
  const auto* labeled = dynamic_cast<const datasets::Labeled*>(dataset_.get());
  if (!labeled) return {};
  std::vector<int64_t> all = labeled->labels();
  if (all.empty()) return {};
  std::vector<int64_t> out(indices_.size());
  for (size_t i = 0; i < indices_.size(); ++i) out[i] = all[indices_[i]];
  return out;
}

std::vector<std::shared_ptr<Subset>> random_split(std::shared_ptr<DatasetBase> dataset,
                                                  const std::vector<double>& lengths, uint64_t seed) {
  size_t n = checked_size(dataset, "random_split");
  CNNKIT_CHECK(!lengths.empty(), "random_split: lengths is empty");
  double sum = std::accumulate(lengths.begin(), lengths.end(), 0.0);
  std::vector<size_t> sizes;
  if (std::fabs(sum - 1) < 1e-9 && sum <= 1 + 1e-9) {
    for (double f : lengths) {
      CNNKIT_CHECK(f >= 0 && f <= 1, "random_split: fraction ", f, " is not between 0 and 1");
      sizes.push_back(static_cast<size_t>(std::floor(static_cast<double>(n) * f)));
    }
    size_t assigned = std::accumulate(sizes.begin(), sizes.end(), size_t{0});
    for (size_t i = 0; assigned + i < n; ++i) sizes[i % sizes.size()] += 1;
  } else {
    for (double l : lengths) {
      CNNKIT_CHECK(l >= 0 && std::floor(l) == l, "random_split: length ", l,
                   " is not a non-negative integer (and the values do not sum to 1 as fractions would)");
      sizes.push_back(static_cast<size_t>(l));
    }
    size_t total = std::accumulate(sizes.begin(), sizes.end(), size_t{0});
    CNNKIT_CHECK(total == n, "random_split: the lengths sum to ", total, " but the dataset has ", n,
                 " examples");
  }
  Generator gen(seed);
  std::vector<size_t> perm = detail::permutation(n, gen);
  std::vector<std::vector<size_t>> parts;
  size_t offset = 0;
  for (size_t s : sizes) {
    parts.emplace_back(perm.begin() + static_cast<std::ptrdiff_t>(offset),
                       perm.begin() + static_cast<std::ptrdiff_t>(offset + s));
    offset += s;
  }
  return make_parts(dataset, std::move(parts));
}

std::vector<int64_t> labels_of(const std::shared_ptr<DatasetBase>& dataset) {
  size_t n = checked_size(dataset, "labels_of");
  if (const auto* labeled = dynamic_cast<const datasets::Labeled*>(dataset.get())) {
    std::vector<int64_t> l = labeled->labels();
    if (l.size() == n) return l;
  }
  std::vector<int64_t> out(n);
  detail::parallel_over_examples(n, 64, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      Tensor t = dataset->get(i).target;
      CNNKIT_CHECK(t.defined() && t.numel() == 1 && !t.is_floating_point(), "labels_of: example ", i,
                   " has target ", (t.defined() ? t.toString() : std::string("undefined")),
                   "; class labels must be one integer each (a regression dataset cannot be stratified)");
      out[i] = t.item<int64_t>();
    }
  });
  return out;
}

std::vector<std::shared_ptr<Subset>> stratified_split(std::shared_ptr<DatasetBase> dataset,
                                                      const std::vector<double>& fractions, uint64_t seed) {
  std::vector<int64_t> labels = labels_of(dataset);
  return stratified_split(std::move(dataset), labels, fractions, seed);
}

std::vector<std::shared_ptr<Subset>> stratified_split(std::shared_ptr<DatasetBase> dataset,
                                                      const std::vector<int64_t>& labels,
                                                      const std::vector<double>& fractions, uint64_t seed) {
  size_t n = checked_size(dataset, "stratified_split");
  CNNKIT_CHECK(labels.size() == n, "stratified_split: ", labels.size(), " labels for a dataset of ", n,
               " examples");
  check_fractions(fractions, "stratified_split");
  const size_t K = fractions.size();
  std::map<int64_t, std::vector<size_t>> by_class;  // ascending class order
  for (size_t i = 0; i < n; ++i) by_class[labels[i]].push_back(i);

  Generator gen(seed);
  std::vector<std::vector<size_t>> parts(K);
  size_t class_no = 0;
  for (auto& [label, idx] : by_class) {
    // Shuffle this class's examples (Fisher-Yates over its list).
    std::vector<size_t> order = detail::permutation(idx.size(), gen);
    const double nc = static_cast<double>(idx.size());
    std::vector<size_t> take(K);
    std::vector<double> frac_part(K);
    size_t given = 0;
    for (size_t k = 0; k < K; ++k) {
      double exact = nc * fractions[k];
      take[k] = static_cast<size_t>(std::floor(exact + 1e-9));
      frac_part[k] = exact - static_cast<double>(take[k]);
      given += take[k];
    }
    // Largest remainder; equal remainders start from part (class_no mod K).
    std::vector<size_t> rank(K);
    std::iota(rank.begin(), rank.end(), size_t{0});
    std::stable_sort(rank.begin(), rank.end(), [&](size_t a, size_t b) {
      if (std::fabs(frac_part[a] - frac_part[b]) > 1e-9) return frac_part[a] > frac_part[b];
      return (a + K - class_no % K) % K < (b + K - class_no % K) % K;
    });
    for (size_t r = 0; given < idx.size(); ++r, ++given) take[rank[r % K]] += 1;
    size_t pos = 0;
    for (size_t k = 0; k < K; ++k)
      for (size_t t = 0; t < take[k]; ++t) parts[k].push_back(idx[order[pos++]]);
    ++class_no;
  }
  for (auto& p : parts) std::sort(p.begin(), p.end());
  return make_parts(dataset, std::move(parts));
}

TrainValTest train_val_test_split(std::shared_ptr<DatasetBase> dataset, double val_fraction,
                                  double test_fraction, uint64_t seed, bool stratify) {
  CNNKIT_CHECK(val_fraction >= 0 && test_fraction >= 0 && val_fraction + test_fraction <= 1,
               "train_val_test_split: val_fraction ", val_fraction, " and test_fraction ", test_fraction,
               " must be non-negative and sum to at most 1");
  std::vector<double> f = {1 - val_fraction - test_fraction, val_fraction, test_fraction};
  auto parts = stratify ? stratified_split(dataset, f, seed) : random_split(dataset, f, seed);
  return {parts[0], parts[1], parts[2]};
}

}  // namespace cnnkit::data
