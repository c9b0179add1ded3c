// "Did you mean" hints for names in error messages: config keys, layer names, commands.
//
//   closest("lerning_rate", {"lr", "momentum"})       // "" (too far)
//   did_you_mean("lerning_rate", {"lr", "momentum"})  // "lr" (another framework's name, misspelt)
//   join_capped(keys, 12)                             // "a, b, c, ... (785 in all)"
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cnnkit {

// The allowed word closest to `word` by edit distance (case-insensitive; a swap of two
// neighbours counts as one edit), or "" when none is close enough.
std::string closest(std::string_view word, const std::vector<std::string_view>& candidates);

// Names from other frameworks and their common misspellings map to ours for the hint:
// "learning_rate" (or "lerning_rate") -> "lr", "num_epochs" -> "epochs", "wd" ->
// "weight_decay". The hint only names a word that `allowed` has; "" when none fits.
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& allowed);

// "a, b, c, ... (785 in all)": at most `max_items` words, then the count.
std::string join_capped(const std::vector<std::string_view>& words, size_t max_items = 12);

}  // namespace cnnkit
