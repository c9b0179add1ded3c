// Per-channel mean/std and class counts over a dataset. Statistics of each example are
// computed in double (two passes over its values in memory) and merged with Chan's
// parallel formula, per thread and then across threads. Not here: medians or percentiles.
#include "cnnkit/data/stats.h"

#include <cmath>
#include <mutex>

#include "cnnkit/data/split.h"

namespace cnnkit::data {

namespace {

struct Moments {
  double n = 0, mean = 0, m2 = 0;  // count, mean, sum of squared deviations
  void merge(const Moments& o) {
    if (o.n == 0) return;
    double total = n + o.n, delta = o.mean - mean;
    mean += delta * (o.n / total);
    m2 += o.m2 + delta * delta * (n * o.n / total);
    n = total;
  }
};

template <typename T>
Moments moments_of(const T* p, int64_t count, double scale) {
  Moments m;
  m.n = static_cast<double>(count);
  double s = 0;
  for (int64_t i = 0; i < count; ++i) s += static_cast<double>(p[i]);
  m.mean = s / m.n * scale;
  double ss = 0;
  for (int64_t i = 0; i < count; ++i) {
    double d = static_cast<double>(p[i]) * scale - m.mean;
    ss += d * d;
  }
  m.m2 = ss;
  return m;
}

}  // namespace

std::pair<std::vector<double>, std::vector<double>> compute_mean_std(std::shared_ptr<DatasetBase> dataset,
                                                                     std::optional<size_t> max_examples) {
  CNNKIT_CHECK(dataset != nullptr, "compute_mean_std: the dataset is null");
  auto size = dataset->size();
  CNNKIT_CHECK(size.has_value() && *size > 0, "compute_mean_std: the dataset is empty or has no size");
  const size_t n = *size;
  const size_t m = max_examples ? std::min(n, *max_examples) : n;
  CNNKIT_CHECK(m > 0, "compute_mean_std: max_examples must be positive");

  std::mutex mu;
  std::map<size_t, std::vector<Moments>> per_chunk;  // first example of a chunk -> its moments
  detail::parallel_over_examples(m, 256, [&](size_t b, size_t e) {
    std::vector<Moments> local;
    int64_t local_c = -1;
    for (size_t k = b; k < e; ++k) {
      size_t i = m == n ? k : static_cast<size_t>(static_cast<unsigned __int128>(k) * n / m);
      Tensor x = dataset->get(i).data;
      CNNKIT_CHECK(x.defined() && x.dim() >= 1, "compute_mean_std: example ", i,
                   " has no data with a channel dimension");
      if (!x.is_contiguous()) x = x.contiguous();
      int64_t C = x.size(0), per = C ? x.numel() / C : 0;
      if (local_c < 0) {
        local_c = C;
        local.assign(static_cast<size_t>(C), Moments{});
      }
      CNNKIT_CHECK_SHAPE(C == local_c, "compute_mean_std: example ", i, " has ", C, " channels (shape ",
                         x.sizes(), "), earlier examples have ", local_c);
      for (int64_t c = 0; c < C; ++c) {
        Moments mc;
        switch (x.scalar_type()) {
          case kByte: mc = moments_of(x.data_ptr<uint8_t>() + c * per, per, 1.0 / 255.0); break;
          case kFloat: mc = moments_of(x.data_ptr<float>() + c * per, per, 1.0); break;
          case kLong: mc = moments_of(x.data_ptr<int64_t>() + c * per, per, 1.0); break;
          case kBool: mc = moments_of(x.data_ptr<bool>() + c * per, per, 1.0); break;
          default: CNNKIT_CHECK_TYPE(false, "compute_mean_std: unsupported dtype ", x.scalar_type());
        }
        local[static_cast<size_t>(c)].merge(mc);
      }
    }
    std::lock_guard<std::mutex> lock(mu);
    if (local_c >= 0) per_chunk[b] = std::move(local);
  });
  // Merged in index order, so the result does not depend on thread timing.
  std::vector<Moments> total;
  for (auto& [b, local] : per_chunk) {
    if (total.empty()) total.assign(local.size(), Moments{});
    CNNKIT_CHECK_SHAPE(local.size() == total.size(), "compute_mean_std: examples have ", local.size(), " and ",
                       total.size(), " channels; all must have the same number");
    for (size_t c = 0; c < local.size(); ++c) total[c].merge(local[c]);
  }
  std::vector<double> mean(total.size()), std(total.size());
  for (size_t c = 0; c < total.size(); ++c) {
    mean[c] = total[c].mean;
    std[c] = total[c].n > 0 ? std::sqrt(total[c].m2 / total[c].n) : 0.0;
    // NaN statistics would make Normalize turn every input into NaN without a word.
    CNNKIT_CHECK(std::isfinite(mean[c]) && std::isfinite(std[c]), "compute_mean_std: channel ", c, " has mean ",
                 mean[c], " and std ", std[c], ": the data hold NaN or infinity (data::clean finds and drops ",
                 "such examples)");
  }
  return {mean, std};
}

std::map<int64_t, size_t> class_counts(std::shared_ptr<DatasetBase> dataset) {
  std::map<int64_t, size_t> counts;
  for (int64_t l : labels_of(dataset)) ++counts[l];
  return counts;
}

}  // namespace cnnkit::data
