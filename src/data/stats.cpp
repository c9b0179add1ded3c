// Per-channel mean/std and class counts over a dataset. Statistics of each example are
// computed in double (two passes over its values in memory) and merged with Chan's
// parallel formula, per thread and then across threads. Not here: medians or percentiles.
#include "cnnkit/data/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <mutex>

#include "cnnkit/data/iterable.h"
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

// Mean and std from merged moments, checked finite (NaN statistics would make Normalize turn
// every input into NaN without a word).
std::pair<std::vector<double>, std::vector<double>> finish(const std::vector<Moments>& total, const char* what) {
  std::vector<double> mean(total.size()), std(total.size());
  for (size_t c = 0; c < total.size(); ++c) {
    mean[c] = total[c].mean;
    std[c] = total[c].n > 0 ? std::sqrt(total[c].m2 / total[c].n) : 0.0;
    CNNKIT_CHECK(std::isfinite(mean[c]) && std::isfinite(std[c]), what, ": channel ", c, " has mean ",
                 mean[c], " and std ", std[c], ": the data hold NaN or infinity (data::clean finds and drops ",
                 "such examples)");
  }
  return {mean, std};
}

template <typename T>
void value_range(const T* p, int64_t count, RunningStats& s) {
  for (int64_t i = 0; i < count; ++i) {
    const double v = static_cast<double>(p[i]);
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
    if constexpr (std::is_floating_point_v<T>) s.integral = s.integral && v == std::floor(v);
  }
}

std::vector<Moments> as_moments(const std::vector<RunningStats::Channel>& c) {
  std::vector<Moments> m(c.size());
  for (size_t i = 0; i < c.size(); ++i) m[i] = {c[i].n, c[i].mean, c[i].m2};
  return m;
}

}  // namespace

void RunningStats::add(const Tensor& data) {
  Tensor x = data;
  CNNKIT_CHECK(x.defined() && x.dim() >= 1, "RunningStats: an example has no data with a channel dimension");
  if (!x.is_contiguous()) x = x.contiguous();
  const int64_t C = x.size(0), per = C ? x.numel() / C : 0;
  if (channels.empty() && examples == 0) channels.assign(static_cast<size_t>(C), Channel{});
  CNNKIT_CHECK_SHAPE(static_cast<size_t>(C) == channels.size(), "RunningStats: an example has ", C,
                     " channels (shape ", x.sizes(), "), earlier examples have ", channels.size());
  RunningStats range;  // this example's range, merged below
  range.min = std::numeric_limits<double>::infinity();
  range.max = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < C; ++c) {
    Moments mc;
    switch (x.scalar_type()) {
      case kByte: {
        const uint8_t* p = x.data_ptr<uint8_t>() + c * per;
        mc = moments_of(p, per, 1.0 / 255.0);
        value_range(p, per, range);
        break;
      }
      case kFloat: {
        const float* p = x.data_ptr<float>() + c * per;
        mc = moments_of(p, per, 1.0);
        value_range(p, per, range);
        break;
      }
      case kLong: {
        const int64_t* p = x.data_ptr<int64_t>() + c * per;
        mc = moments_of(p, per, 1.0);
        value_range(p, per, range);
        break;
      }
      default: CNNKIT_CHECK_TYPE(false, "RunningStats: unsupported dtype ", x.scalar_type());
    }
    Moments cur{channels[static_cast<size_t>(c)].n, channels[static_cast<size_t>(c)].mean,
                channels[static_cast<size_t>(c)].m2};
    cur.merge(mc);
    channels[static_cast<size_t>(c)] = {cur.n, cur.mean, cur.m2};
  }
  if (x.numel() == 0) range.min = range.max = 0;
  min = examples == 0 ? range.min : std::min(min, range.min);
  max = examples == 0 ? range.max : std::max(max, range.max);
  integral = integral && range.integral;
  ++examples;
}

void RunningStats::merge(const RunningStats& other) {
  if (other.examples == 0) return;
  if (examples == 0) {
    *this = other;
    return;
  }
  CNNKIT_CHECK_SHAPE(other.channels.size() == channels.size(), "RunningStats: merging statistics of ",
                     other.channels.size(), " channels into ", channels.size());
  for (size_t c = 0; c < channels.size(); ++c) {
    Moments a{channels[c].n, channels[c].mean, channels[c].m2};
    a.merge({other.channels[c].n, other.channels[c].mean, other.channels[c].m2});
    channels[c] = {a.n, a.mean, a.m2};
  }
  min = std::min(min, other.min);
  max = std::max(max, other.max);
  integral = integral && other.integral;
  examples += other.examples;
}

std::vector<double> RunningStats::mean() const { return finish(as_moments(channels), "RunningStats").first; }
std::vector<double> RunningStats::std() const { return finish(as_moments(channels), "RunningStats").second; }

std::pair<std::vector<double>, std::vector<double>> compute_mean_std(std::shared_ptr<DatasetBase> dataset,
                                                                     std::optional<size_t> max_examples) {
  CNNKIT_CHECK(dataset != nullptr, "compute_mean_std: the dataset is null");
  if (const auto* iterable = dynamic_cast<const IterableDataset*>(dataset.get())) {
    CNNKIT_CHECK(!max_examples || *max_examples > 0, "compute_mean_std: max_examples must be positive");
    RunningStats s;
    std::unique_ptr<ExampleStream> stream = iterable->stream(WorkerInfo{});
    Example<> e;
    while ((!max_examples || s.examples < *max_examples) && stream->next(e)) {
      try {
        s.add(e.data);
      } catch (const Error&) {
        rethrow_with_prefix("compute_mean_std: example " + std::to_string(s.examples) + " of the stream: ");
      }
    }
    CNNKIT_CHECK(s.examples > 0, "compute_mean_std: the dataset is empty");
    return finish(as_moments(s.channels), "compute_mean_std");
  }
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
  return finish(total, "compute_mean_std");
}

std::map<int64_t, size_t> class_counts(std::shared_ptr<DatasetBase> dataset) {
  std::map<int64_t, size_t> counts;
  for (int64_t l : labels_of(dataset)) ++counts[l];
  return counts;
}

}  // namespace cnnkit::data
