// Internal helpers of the nn layer's .cpp files (not installed): the layer description
// that prefixes input-check messages, and a visitor helper.
#pragma once

#include <sstream>
#include <string>

#include "cnnkit/nn/module.h"

namespace cnnkit {
namespace nn {
namespace detail {

// "Conv2d(3, 64, kernel_size=[3, 3], stride=[1, 1])": the module's pretty_print without
// the namespace, so messages name the layer the user wrote.
inline std::string describe(const Module& m) {
  std::ostringstream os;
  m.pretty_print(os);
  std::string s = os.str();
  const std::string ns = "cnnkit::nn::";
  if (s.compare(0, ns.size(), ns) == 0) s.erase(0, ns.size());
  return s;
}

inline const char* bool_str(bool b) { return b ? "true" : "false"; }

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace detail
}  // namespace nn
}  // namespace cnnkit
