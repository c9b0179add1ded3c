// Message helpers private to the dataset readers: lists capped to a readable length and
// paths printed lexically normal. Not a public header: nothing outside src/data uses it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cnnkit::data::datasets::detail {

// "'a', 'b', ..., 'j', ... (785 columns)": the first `max` items, then the total with its
// noun; short lists are printed whole ("'a', 'b'"). Items quoted when `quote`.
inline std::string capped_list(const std::vector<std::string>& items, const std::string& noun, bool quote = true,
                               size_t max = 10) {
  std::string s;
  for (size_t i = 0; i < items.size() && i < max; ++i)
    s += (i ? ", " : "") + (quote ? "'" + items[i] + "'" : items[i]);
  if (items.size() > max) s += ", ... (" + std::to_string(items.size()) + " " + noun + ")";
  return s;
}

// "data/./fashion-mnist//train" -> "data/fashion-mnist/train".
inline std::string display_path(const std::string& path) {
  return std::filesystem::path(path).lexically_normal().string();
}

// The multi-index "[0, 3, 4]" of element `linear` of a row-major array of shape `sizes`
// ("[]" for a 0-dim one).
inline std::string index_string(const std::vector<int64_t>& sizes, int64_t linear) {
  std::vector<int64_t> idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = sizes[d] ? linear % sizes[d] : 0;
    linear = sizes[d] ? linear / sizes[d] : 0;
  }
  std::string s = "[";
  for (size_t d = 0; d < idx.size(); ++d) s += (d ? ", " : "") + std::to_string(idx[d]);
  return s + "]";
}

}  // namespace cnnkit::data::datasets::detail
