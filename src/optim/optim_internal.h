// Internals of the optimisers (not installed): reading and writing flat state dicts, the
// contiguous views the update loops run over, and what Adam and AdamW share. Included as
// "optim/optim_internal.h" by src/optim/*.cpp only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/core/tensor.h"
#include "cnnkit/optim/adam.h"
#include "cnnkit/optim/optimizer.h"

namespace cnnkit {
namespace optim {
namespace detail {
// Reading a flat dict: the value under `key`, or ValueError "... missing key '<key>'".
double read_scalar(const StateDict& dict, const std::string& key);
Tensor read_tensor(const StateDict& dict, const std::string& key);  // a contiguous copy
bool has_tensor(const StateDict& dict, const std::string& key);
Tensor copy_tensor(const Tensor& t);  // contiguous copy, no autograd
// Fresh state buffer shaped like `p` (same dtype), every element `value`.
Tensor full_like_param(const Tensor& p, double value);
// PyTorch's "Invalid <what>: <value>" ValueError when `ok` is false.
void check_option(bool ok, const char* what, double value);

// The elements of a float32 tensor (the only dtype that takes gradients in cnnkit; the
// update loops are templates, so float64 is one instantiation away once core has it).
inline float* data(const Tensor& t) {
  CNNKIT_ASSERT(t.dtype() == kFloat, "optimizer buffers are float32");
  return static_cast<float*>(t.data_ptr());
}

// A parameter and its gradient as contiguous arrays for an update loop. Checks that the
// gradient matches the parameter (shape, float32). A non-contiguous gradient is read from a
// contiguous copy; a non-contiguous parameter is updated in a contiguous copy that commit()
// writes back (parameters of modules are contiguous: no copy there).
class UpdateView {
 public:
  UpdateView(const Tensor& param, const Tensor& grad, const char* optimizer);
  float* param() const { return data(work_); }
  const float* grad() const { return data(grad_); }
  const Tensor& param_tensor() const { return param_; }
  int64_t numel() const { return work_.numel(); }
  void commit();

 private:
  Tensor param_, work_, grad_;
};

// Square roots of n floats in place, vectorised. A plain std::sqrt loop is not (with GCC's
// default -fmath-errno it keeps a scalar call for negative inputs), so the update loops
// gather what needs a root into a tile of kTile floats, call this, then finish the tile.
// The roots are correctly rounded, i.e. exactly std::sqrt's.
void sqrt_(float* x, int64_t n);
constexpr int64_t kTile = 512;

// Turns runtime flags into compile-time ones so each update loop is specialised and
// vectorised without branches: dispatch_flags(f, a, b) calls f(bool_constant<a>, bool_constant<b>).
template <bool... Bs, typename F>
void dispatch_flags(F&& f) {
  f(std::bool_constant<Bs>{}...);
}
template <bool... Bs, typename F, typename... Rest>
void dispatch_flags(F&& f, bool b, Rest... rest) {
  if (b) {
    dispatch_flags<Bs..., true>(std::forward<F>(f), rest...);
  } else {
    dispatch_flags<Bs..., false>(std::forward<F>(f), rest...);
  }
}

// The Adam/AdamW update of one parameter (n elements, contiguous), in place. decoupled:
// AdamW's param *= 1 - lr * weight_decay instead of adding weight_decay * param to the grad.
void adam_update(const Tensor& param, const Tensor& grad, AdamParamState& state, double lr, double beta1,
                 double beta2, double eps, double weight_decay, bool amsgrad, bool decoupled);
// PyTorch's option checks, shared by Adam and AdamW (ValueError "Invalid ...: <value>").
void validate_adam(double lr, double eps, double beta1, double beta2, double weight_decay);
// What Adam and AdamW share besides the update: their options' state-dict names and the
// step over every group. Instantiated for AdamOptions and AdamWOptions in adam.cpp.
template <class Options>
void save_adam_options(const Options& o, StateDict& dict, const std::string& prefix);
template <class Options>
void load_adam_options(Options& o, const StateDict& dict, const std::string& prefix);
template <class Options>
void adam_step(std::vector<OptimizerParamGroup>& groups,
               std::map<const void*, std::unique_ptr<OptimizerParamState>>& state, bool decoupled);
}  // namespace detail
}  // namespace optim
}  // namespace cnnkit
