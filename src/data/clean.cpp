// clean(): one parallel pass of get() over every example recording decode failures,
// non-finite values, label range and a content hash; then a sequential pass in index order
// that confirms duplicates byte for byte and keeps first occurrences. Not here: fixing
// examples (clean drops, it never edits) and near-duplicate detection.
#include "cnnkit/data/clean.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <sstream>
#include <unordered_map>

#include "cnnkit/data/split.h"

namespace cnnkit::data {

namespace {

// A fast 64-bit hash over bytes (8 at a time); only used to find duplicate candidates,
// which are then compared byte for byte.
struct Hasher {
  uint64_t h = 0x243F6A8885A308D3ull;
  void word(uint64_t w) {
    h ^= w * 0x9E3779B97F4A7C15ull;
    h = std::rotl(h, 31) * 0xBF58476D1CE4E5B9ull;
  }
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      word(w);
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p + i, n - i);
    word(tail ^ (uint64_t{n} << 56));
  }
  void tensor(const Tensor& t) {
    if (!t.defined()) return word(0xdeadbeef);
    word(static_cast<uint64_t>(t.scalar_type()) + 1);
    for (int64_t s : t.sizes()) word(static_cast<uint64_t>(s));
    if (t.numel()) bytes(t.data_ptr(), t.nbytes());
  }
  uint64_t done() const {
    uint64_t x = h ^ (h >> 33);
    x *= 0xff51afd7ed558ccdull;
    return x ^ (x >> 33);
  }
};

Tensor plain(const Tensor& t) { return !t.defined() || t.is_contiguous() ? t : t.contiguous(); }

bool all_finite(const Tensor& t) {
  if (!t.defined() || !t.is_floating_point()) return true;
  const float* p = t.data_ptr<float>();
  bool ok = true;
  for (int64_t i = 0; i < t.numel(); ++i) ok &= std::isfinite(p[i]);
  return ok;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  Tensor pa = plain(a), pb = plain(b);
  return pa.numel() == 0 || std::memcmp(pa.data_ptr(), pb.data_ptr(), pa.nbytes()) == 0;
}

enum Flag : uint8_t { kUndecodable = 1, kNonFinite = 2, kOutOfRange = 4 };

}  // namespace

std::string CleanReport::summary(size_t max_listed) const {
  std::ostringstream os;
  auto kept_tag = [](bool dropped) { return dropped ? "" : " (kept)"; };
  os << "clean: " << total << " examples, kept " << kept << ", dropped " << dropped() << " ("
     << undecodable.size() << " undecodable" << kept_tag(options.drop_undecodable()) << ", " << non_finite.size()
     << " with non-finite values" << kept_tag(options.drop_non_finite()) << ", " << out_of_range.size()
     << " with out-of-range labels";
  if (num_classes) os << " (num_classes " << *num_classes << ")";
  os << kept_tag(options.drop_out_of_range()) << ", " << duplicates.size() << " duplicates"
     << kept_tag(options.drop_duplicates()) << ")\n";
  auto more = [&](size_t n) {
    if (n > max_listed) os << "  ... and " << n - max_listed << " more\n";
  };
  for (size_t k = 0; k < undecodable.size() && k < max_listed; ++k)
    os << "  undecodable #" << undecodable[k].first << ": " << undecodable[k].second << "\n";
  more(undecodable.size());
  for (size_t k = 0; k < non_finite.size() && k < max_listed; ++k)
    os << "  non-finite #" << non_finite[k] << "\n";
  more(non_finite.size());
  for (size_t k = 0; k < out_of_range.size() && k < max_listed; ++k)
    os << "  out-of-range label #" << out_of_range[k].first << ": " << out_of_range[k].second << "\n";
  more(out_of_range.size());
  for (size_t k = 0; k < duplicates.size() && k < max_listed; ++k)
    os << "  duplicate #" << duplicates[k].first << " of #" << duplicates[k].second << "\n";
  more(duplicates.size());
  return os.str();
}

CleanResult clean(std::shared_ptr<DatasetBase> dataset, CleanOptions options) {
  CNNKIT_CHECK(dataset != nullptr, "clean: the dataset is null");
  auto size = dataset->size();
  CNNKIT_CHECK(size.has_value(), "clean: the dataset has no size (a stream); clean needs random access");
  const size_t n = *size;
  std::optional<int64_t> num_classes = options.num_classes();
  if (!num_classes) {
    size_t c = dataset->classes().size();
    if (c > 0) num_classes = static_cast<int64_t>(c);
  }
  CNNKIT_CHECK(!num_classes || *num_classes > 0, "clean: num_classes must be positive, got ", *num_classes);

  std::vector<uint8_t> flags(n, 0);
  std::vector<uint64_t> hashes(n, 0);
  std::vector<int64_t> bad_label(n, 0);
  std::vector<std::string> errors(n);
  detail::parallel_over_examples(n, 256, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      Example<> ex;
      try {
        ex = dataset->get(i);
      } catch (const Error& err) {
        flags[i] = kUndecodable;
        errors[i] = err.what();
        continue;
      }
      Tensor data = plain(ex.data), target = plain(ex.target);
      if (!all_finite(data) || !all_finite(target)) flags[i] |= kNonFinite;
      if (target.defined() && target.numel() == 1 && !target.is_floating_point()) {
        int64_t label = target.item<int64_t>();
        if (label < 0 || (num_classes && label >= *num_classes)) {
          flags[i] |= kOutOfRange;
          bad_label[i] = label;
        }
      }
      Hasher h;
      h.tensor(data);
      h.tensor(target);
      hashes[i] = h.done();
    }
  });

  CleanReport report;
  report.total = n;
  report.num_classes = num_classes;
  report.options = options;
  std::vector<size_t> kept;
  std::unordered_map<uint64_t, std::vector<size_t>> seen;  // hash -> kept indices with it
  for (size_t i = 0; i < n; ++i) {
    bool drop = false;
    if (flags[i] & kUndecodable) {
      report.undecodable.emplace_back(i, std::move(errors[i]));
      drop |= options.drop_undecodable();
    }
    if (flags[i] & kNonFinite) {
      report.non_finite.push_back(i);
      drop |= options.drop_non_finite();
    }
    if (flags[i] & kOutOfRange) {
      report.out_of_range.emplace_back(i, bad_label[i]);
      drop |= options.drop_out_of_range();
    }
    if (!drop && !(flags[i] & kUndecodable)) {
      auto& same_hash = seen[hashes[i]];
      if (!same_hash.empty()) {
        // Confirm byte for byte (get() again: duplicates are rare, memory stays flat).
        Example<> mine = dataset->get(i);
        for (size_t first : same_hash) {
          Example<> theirs = dataset->get(first);
          if (same_tensor(mine.data, theirs.data) && same_tensor(mine.target, theirs.target)) {
            report.duplicates.emplace_back(i, first);
            drop |= options.drop_duplicates();
            break;
          }
        }
      }
      if (!drop) same_hash.push_back(i);
    }
    if (!drop) kept.push_back(i);
  }
  report.kept = kept.size();
  CleanResult result;
  result.kept_indices = kept;
  result.dataset = std::make_shared<Subset>(dataset, std::move(kept));
  result.report = std::move(report);
  return result;
}

}  // namespace cnnkit::data
