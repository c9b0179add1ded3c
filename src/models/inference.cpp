// optimize_for_inference: batch norm folded into convolutions, residual sums fused into them
// as a oneDNN post-op and the ReLU run on the result in the same call (ops/conv.h:
// conv2d_fused; oneDNN's ReLU post-op would turn NaN into 0). See models/inference.h.
#include "cnnkit/models/inference.h"

#include <cmath>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/models/zoo.h"
#include "cnnkit/nn/modules/activation.h"
#include "cnnkit/nn/modules/conv.h"
#include "cnnkit/nn/modules/normalization.h"
#include "cnnkit/ops/ops.h"
#include "kernels/conv.h"

namespace cnnkit::models {

namespace {

std::vector<int64_t> vec(const ExpandingArray<2>& a) { return {(*a)[0], (*a)[1]}; }

// relu?(conv(x) + residual?) with constant (folded) weights: one oneDNN primitive.
class FusedConv2dImpl : public nn::Module {
 public:
  FusedConv2dImpl(Tensor weight, Tensor bias, std::vector<int64_t> stride, std::vector<int64_t> padding,
                  std::vector<int64_t> dilation, int64_t groups, bool relu, std::string folded)
      : nn::Module("FusedConv2d"),
        weight_(std::move(weight)),
        bias_(std::move(bias)),
        stride_(std::move(stride)),
        padding_(std::move(padding)),
        dilation_(std::move(dilation)),
        groups_(groups),
        relu_(relu),
        folded_(std::move(folded)) {
    // The folded weights are this module's own and private (not buffers a caller could write),
    // so they can be reordered into the primitive's layout once and kept (packed_).
  }

  Tensor forward(const Tensor& x) { return forward_add(x, Tensor()); }
  Tensor forward_add(const Tensor& x, const Tensor& residual) {
    return detail::conv2d_fused_packed(x, weight_, bias_, stride_, padding_, dilation_, groups_, residual, relu_,
                                       packed_.get());
  }

  bool relu() const { return relu_; }
  void set_relu(bool on) { relu_ = on; }

  std::shared_ptr<nn::Module> clone(const std::optional<Device>& /*device*/ = std::nullopt) const override {
    auto copy = std::make_shared<FusedConv2dImpl>(weight_.clone(), bias_.defined() ? bias_.clone() : Tensor(), stride_,
                                                  padding_, dilation_, groups_, relu_, folded_);
    copy->train(is_training());
    return copy;
  }
  void pretty_print(std::ostream& stream) const override {
    stream << "cnnkit::models::FusedConv2d(" << weight_.size(1) * groups_ << ", " << weight_.size(0) << ", kernel_size=["
           << weight_.size(2) << ", " << weight_.size(3) << "]" << folded_ << (relu_ ? " + ReLU" : "") << ")";
  }

 private:
  Tensor weight_, bias_;
  std::vector<int64_t> stride_, padding_, dilation_;
  int64_t groups_;
  bool relu_;
  std::string folded_;  // what was folded in, for printing
  // weight_ in each layout the primitive has asked for (shared by forwards on any thread)
  std::shared_ptr<kernels::PackedWeights> packed_ = std::make_shared<kernels::PackedWeights>();
};
CNNKIT_MODULE(FusedConv2d);

// BasicBlock / Residual: relu?(last(body(x)) + shortcut(x)) with the sum and the ReLU in last's
// primitive.
class FusedResidualImpl : public nn::Module {
 public:
  FusedResidualImpl(nn::Sequential body, FusedConv2d last, nn::Sequential shortcut)
      : nn::Module("FusedResidual"), body_(std::move(body)), last_(std::move(last)), shortcut_(std::move(shortcut)) {
    register_module("body", body_);
    register_module("last", last_);
    if (!shortcut_.is_empty()) register_module("shortcut", shortcut_);
  }
  Tensor forward(const Tensor& x) {
    const Tensor identity = shortcut_.is_empty() ? x : shortcut_->forward(x);
    const Tensor h = body_->is_empty() ? x : body_->forward(x);
    return last_->forward_add(h, identity);
  }
  std::shared_ptr<nn::Module> clone(const std::optional<Device>& device = std::nullopt) const override {
    auto body = std::dynamic_pointer_cast<nn::SequentialImpl>(body_->clone(device));
    auto last = std::dynamic_pointer_cast<FusedConv2dImpl>(last_->clone(device));
    nn::Sequential shortcut = nullptr;
    if (!shortcut_.is_empty()) shortcut = std::dynamic_pointer_cast<nn::SequentialImpl>(shortcut_->clone(device));
    auto copy = std::make_shared<FusedResidualImpl>(nn::Sequential(body), FusedConv2d(last), shortcut);
    copy->train(is_training());
    return copy;
  }
  void pretty_print(std::ostream& stream) const override { stream << "cnnkit::models::FusedResidual"; }

 private:
  nn::Sequential body_;
  FusedConv2d last_;
  nn::Sequential shortcut_;
};
CNNKIT_MODULE(FusedResidual);

bool is_relu(const nn::AnyModule& m) { return m.type_info() == typeid(nn::ReLUImpl); }

// A copy of a module the rewrites leave alone; one that cannot be cloned (a Module subclass
// that is not Cloneable) is shared with the original instead (inference.h).
nn::AnyModule copy_of(const nn::AnyModule& m) {
  try {
    return m.clone();
  } catch (const NotImplementedError&) {
    return m;
  }
}

// A convolution whose arguments conv2d_fused takes as they are: zero padding given as numbers.
bool fusable_conv(const nn::Conv2dImpl& c) {
  return std::holds_alternative<enumtype::kZeros>(c.options.padding_mode()) &&
         std::holds_alternative<ExpandingArray<2>>(c.options.padding());
}

// A batch norm that eval mode runs with running statistics (foldable).
bool foldable_bn(const nn::BatchNorm2dImpl& bn) { return bn.running_mean.defined() && bn.running_var.defined(); }

// conv (and bn, when given) as one FusedConv2d with constant weights.
FusedConv2d fold(const nn::Conv2dImpl& conv, const nn::BatchNorm2dImpl* bn, bool relu) {
  NoGradGuard no_grad;
  Tensor w = conv.weight.detach().clone();
  Tensor b = conv.bias.defined() ? conv.bias.detach().clone() : Tensor();
  std::string folded;
  if (bn) {
    // In double: the folded weights are then the float rounding of the exact products.
    const Tensor var = bn->running_var.detach().to(kDouble), mean = bn->running_mean.detach().to(kDouble);
    Tensor scale = (var + bn->options.eps()).rsqrt();
    if (bn->weight.defined()) scale = scale * bn->weight.detach().to(kDouble);
    Tensor shift = b.defined() ? (b.to(kDouble) - mean) * scale : -mean * scale;
    if (bn->bias.defined()) shift = shift + bn->bias.detach().to(kDouble);
    w = (w.to(kDouble) * scale.reshape({-1, 1, 1, 1})).to(kFloat).contiguous();
    b = shift.to(kFloat).contiguous();
    folded = " + BatchNorm2d folded";
  }
  const nn::Conv2dOptions& o = conv.options;
  return FusedConv2d(std::make_shared<FusedConv2dImpl>(w, b, vec(o.stride()), vec(std::get<ExpandingArray<2>>(o.padding())),
                                                       vec(o.dilation()), o.groups(), relu, folded));
}

nn::Sequential rewrite(const nn::SequentialImpl& net);

// The i-th module of a Sequential, typed (AnyModule keeps the concrete type for forward).
const nn::AnyModule& at(const nn::SequentialImpl& net, size_t i) { return *(net.begin() + static_cast<long>(i)); }

// One module of a Sequential optimised on its own (blocks and nested Sequentials), or empty.
nn::AnyModule rewrite_module(const nn::Module& m) {
  if (const auto* seq = m.as<nn::SequentialImpl>()) return nn::AnyModule(rewrite(*seq));
  if (const auto* block = m.as<BasicBlockImpl>()) {
    if (!fusable_conv(*block->conv1) || !fusable_conv(*block->conv2) || !foldable_bn(*block->bn1) ||
        !foldable_bn(*block->bn2))
      return {};
    nn::Sequential body;
    body->push_back("conv1", fold(*block->conv1, block->bn1.get(), true));
    nn::Sequential shortcut = block->downsample.is_empty() ? nullptr : rewrite(*block->downsample);
    FusedConv2d last = fold(*block->conv2, block->bn2.get(), true);
    return nn::AnyModule(std::make_shared<FusedResidualImpl>(body, last, shortcut));
  }
  if (const auto* res = m.as<ResidualImpl>()) {
    const bool act_relu = !res->activation.is_empty() && is_relu(res->activation);
    if (!res->activation.is_empty() && !act_relu) return {};
    nn::Sequential body = rewrite(*res->body);
    if (body->is_empty()) return {};
    std::shared_ptr<FusedConv2dImpl> last;
    if (const auto* conv = body->ptr(body->size() - 1)->as<nn::Conv2dImpl>(); conv && fusable_conv(*conv))
      last = fold(*conv, nullptr, false).ptr();  // a lone convolution: the sum and ReLU are still its
    else
      last = std::dynamic_pointer_cast<FusedConv2dImpl>(body->ptr(body->size() - 1));
    if (!last || last->relu()) return {};  // a ReLU inside the body comes before the sum
    nn::Sequential front;
    const auto names = body->named_children();
    for (size_t i = 0; i + 1 < body->size(); ++i) front->push_back(names[i].key(), at(*body, i));
    last->set_relu(act_relu);
    nn::Sequential shortcut = res->shortcut.is_empty() ? nullptr : rewrite(*res->shortcut);
    return nn::AnyModule(std::make_shared<FusedResidualImpl>(front, FusedConv2d(last), shortcut));
  }
  return {};
}

nn::Sequential rewrite(const nn::SequentialImpl& net) {
  nn::Sequential out;
  const auto names = net.named_children();
  for (size_t i = 0; i < net.size(); ++i) {
    const std::string& name = names[i].key();
    const nn::Module& m = *net.ptr(i);
    if (const auto* conv = m.as<nn::Conv2dImpl>(); conv && fusable_conv(*conv)) {
      const nn::BatchNorm2dImpl* bn = nullptr;
      size_t next = i + 1;
      if (next < net.size()) {
        const auto* cand = net.ptr(next)->as<nn::BatchNorm2dImpl>();
        if (cand && foldable_bn(*cand)) {
          bn = cand;
          ++next;
        }
      }
      const bool relu = next < net.size() && is_relu(at(net, next));
      if (relu) ++next;
      if (bn || relu) {
        out->push_back(name, fold(*conv, bn, relu));
        i = next - 1;
        continue;
      }
    }
    nn::AnyModule r = rewrite_module(m);
    out->push_back(name, r.is_empty() ? copy_of(at(net, i)) : std::move(r));
  }
  return out;
}

}  // namespace

nn::Sequential optimize_for_inference(const nn::Sequential& net) {
  CNNKIT_CHECK(!net.is_empty(), "optimize_for_inference: the network is empty (nullptr)");
  nn::Sequential out;
  if (nn::sequential_rewrites()) {
    out = rewrite(*net);
  } else {
    const auto names = net->named_children();
    for (size_t i = 0; i < net->size(); ++i) out->push_back(names[i].key(), copy_of(at(*net, i)));
  }
  out->eval();
  return out;
}

}  // namespace cnnkit::models
