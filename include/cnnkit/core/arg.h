// CNNKIT_ARG(T, name) (torch's TORCH_ARG): declares an option field `name_` of type T with
// a chainable setter `name(value)` returning the options object by reference and const /
// mutable getters `name()`. Every options struct (nn/options/, optim, data, train) is built
// from it, and users' own options structs can be too:
//
//   struct MyOptions { CNNKIT_ARG(double, scale) = 1.0; };
//   MyOptions().scale(2.0).scale();  // 2.0
#pragma once

#include <utility>

#define CNNKIT_ARG(T, name)                                    \
 public:                                                       \
  inline auto name(const T& new_##name) -> decltype(*this) {   \
    this->name##_ = new_##name;                                \
    return *this;                                              \
  }                                                            \
  inline auto name(T&& new_##name) -> decltype(*this) {        \
    this->name##_ = std::move(new_##name);                     \
    return *this;                                              \
  }                                                            \
  inline const T& name() const noexcept { return this->name##_; } \
  inline T& name() noexcept { return this->name##_; }          \
                                                               \
 private:                                                      \
  T name##_ /* NOLINT */
