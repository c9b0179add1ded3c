// Functional (torch::nn::Functional): a module around a Tensor -> Tensor function, so a
// free function can sit in a Sequential. Extra arguments are bound after the input.
//   nn::Sequential(nn::Linear(4, 4), nn::Functional(cnnkit::relu),
//                  nn::Functional(cnnkit::leaky_relu, /*negative_slope=*/0.2));
#pragma once

#include <functional>
#include <ostream>
#include <utility>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/cloneable.h"
#include "cnnkit/nn/pimpl.h"

namespace cnnkit {
namespace nn {

class FunctionalImpl : public Cloneable<FunctionalImpl> {
 public:
  using Function = std::function<Tensor(Tensor)>;

  explicit FunctionalImpl(Function function);
  template <typename SomeFunction, typename... Args, typename = std::enable_if_t<(sizeof...(Args) > 0)>>
  explicit FunctionalImpl(SomeFunction original_function, Args&&... args)
      : function_([f = std::move(original_function), ... bound = std::forward<Args>(args)](Tensor input) {
          return f(std::move(input), bound...);
        }) {}

  void reset() override {}
  void pretty_print(std::ostream& stream) const override;
  Tensor forward(Tensor input);
  Tensor operator()(Tensor input) { return forward(std::move(input)); }
  bool is_serializable() const override { return false; }

 private:
  Function function_;
};
CNNKIT_MODULE(Functional);

}  // namespace nn
}  // namespace cnnkit
