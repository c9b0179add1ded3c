// Private to models: the number and shape formats of the tables models::summary and
// models::profile_layers print (one place, so the two tables read alike).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cnnkit::models::detail {

// 61706 -> "61,706"
inline std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (v < 0 ? "-" : "") + out;
}

// {64, 6, 28, 28} -> "[64, 6, 28, 28]"
inline std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace cnnkit::models::detail
