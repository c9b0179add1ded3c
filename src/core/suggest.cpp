// "Did you mean" hints for names in error messages (config keys, layers, commands).
#include "cnnkit/core/suggest.h"

#include <algorithm>
#include <cctype>

namespace cnnkit {

namespace {

// Edits between two words, case-insensitive, a swap of two neighbours counting as one
// ("trian" -> "train"): the optimal-string-alignment distance.
size_t edit_distance(std::string_view a, std::string_view b) {
  auto same = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
  };
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      row[j] = std::min({prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
      if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]))
        row[j] = std::min(row[j], prev2[j - 2] + 1);
    }
    prev2.swap(prev);
    prev.swap(row);
  }
  return prev[b.size()];
}

// Other frameworks' names (Keras, timm, Lightning) and what cnnkit calls them.
constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
    {"learning_rate", "lr"},   {"learningrate", "lr"},      {"base_lr", "lr"},
    {"num_epochs", "epochs"},  {"max_epochs", "epochs"},    {"n_epochs", "epochs"},
    {"wd", "weight_decay"},    {"decay", "weight_decay"},   {"l2_decay", "weight_decay"},
    {"batch", "batch_size"},   {"bs", "batch_size"},        {"num_workers", "workers"},
    {"n_workers", "workers"},  {"dropout", "p"},            {"drop_rate", "p"},
    {"random_seed", "seed"},   {"kernel", "kernel_size"},   {"filters", "out_channels"},
    {"units", "out_features"}, {"momentum_nesterov", "nesterov"},
};

}  // namespace

std::string join_capped(const std::vector<std::string_view>& words, size_t max_items) {
  std::string out;
  const size_t shown = std::min(words.size(), max_items);
  for (size_t i = 0; i < shown; ++i) {
    if (i) out += ", ";
    out += words[i];
  }
  if (shown < words.size()) out += ", ... (" + std::to_string(words.size()) + " in all)";
  return out;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& allowed) {
  std::string hint = closest(word, allowed);
  if (!hint.empty()) return hint;
  std::vector<std::string_view> alias_names;
  for (const auto& [alias, target] : kAliases)
    if (std::find(allowed.begin(), allowed.end(), target) != allowed.end()) alias_names.push_back(alias);
  const std::string alias = closest(word, alias_names);
  if (alias.empty()) return "";
  for (const auto& [a, target] : kAliases)
    if (a == alias) return std::string(target);
  return "";
}

std::string closest(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_d = static_cast<size_t>(-1);
  for (std::string_view c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  // Close enough: a third of the longer word, at least 1 and at most 3 edits. A candidate
  // that starts with the word (or the reverse) also counts: "lr" for "lr_rate".
  const size_t limit = std::clamp<size_t>(std::max(word.size(), best.size()) / 3, 1, 3);
  if (best_d <= limit) return std::string(best);
  for (std::string_view c : candidates)
    if (word.size() >= 2 && c.size() >= 2 && (c.rfind(word, 0) == 0 || word.rfind(c, 0) == 0))
      return std::string(c);
  return "";
}

}  // namespace cnnkit
