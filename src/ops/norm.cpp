// batch_norm, layer_norm, group_norm, instance_norm: PyTorch's argument rules and error
// messages, output and statistics allocation, running-stat updates, and the autograd nodes
// right under each forward. The arithmetic is in kernels/norm.cpp. Running statistics are
// updated in place and never recorded by autograd, as in PyTorch.
//
// N = batch, C = channels, S = spatial size (product of the dims after C), G = groups,
// M = rows, K = prod(normalized_shape).
//
// Kernel choice, measured on (64, 64, 32, 32) floats, one thread, best of 21 (CPU time):
// oneDNN 2.6's batch norm on plain NCHW picks `ncsp_bnorm:any` and took 8.9 ms forward and
// 10.8 ms backward; the channel loops of kernels/norm.cpp take 3-4 ms each (PyTorch 1.13:
// 7.7 and 5.3). oneDNN's `bnorm_jit` (2.5 ms each) needs the blocked nChw8c layout, and each
// reorder to or from it costs 0.9 ms. So plain inputs run on the loops, and an input that
// arrives in a kept oneDNN layout (a convolution's output) runs bnorm_jit in that layout,
// its output and gradient staying in it (kernels/onednn.h).
#include "cnnkit/ops/norm.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "cnnkit/autograd/grad_mode.h"
#include "autograd/record.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/ops/activation.h"
#include "cnnkit/ops/elementwise.h"
#include "cnnkit/ops/reduce.h"
#include "core/tensor_internal.h"
#include "kernels/conv.h"
#include "kernels/copy.h"
#include "kernels/norm.h"
#include "kernels/onednn.h"

namespace cnnkit {

namespace {

// The tensor itself when it is contiguous, else a contiguous copy (no autograd).
Tensor dense(const Tensor& t) {
  if (!t.defined() || t.is_contiguous()) return t;
  Tensor out = empty(t.sizes(), t.dtype());
  kernels::copy_strided(out.data_ptr(), t.data_ptr(), t.element_size(), t.sizes(), t.strides());
  return out;
}

const float* data_or_null(const Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }
float* mutable_data_or_null(const Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

void check_float(const char* op, const char* arg, const Tensor& t) {
  if (!t.defined()) return;
  CNNKIT_CHECK_TYPE(t.dtype() == kFloat, op, ": expected ", arg, " to be float32, got ", t.dtype());
}

// weight, bias and the running statistics hold one value per channel (PyTorch checks numel).
void check_per_channel(const char* op, const char* arg, const Tensor& t, int64_t C) {
  if (!t.defined()) return;
  check_float(op, arg, t);
  CNNKIT_CHECK_SHAPE(t.numel() == C, op, ": ", arg, " should contain ", C, " elements not ",
                     t.numel());
}

// Running statistics are written through their data pointer, so they must be dense.
void check_running(const char* op, const char* arg, const Tensor& t, int64_t C) {
  check_per_channel(op, arg, t, C);
  if (!t.defined()) return;
  CNNKIT_CHECK(t.is_contiguous(), op, ": ", arg, " must be contiguous to be updated in place, got "
               "sizes ", t.sizes(), " and strides ", t.strides());
}

// (N, C, *) -> N, C, S
struct NCS {
  int64_t N, C, S;
};
NCS split_ncs(const char* op, const Tensor& input) {
  CNNKIT_CHECK(input.defined(), op, ": input must be defined");
  CNNKIT_CHECK_SHAPE(input.dim() >= 2, op, ": expected input with at least 2 dims (N, C, *), got ",
                     input.dim(), " dims ", input.sizes());
  check_float(op, "input", input);
  int64_t S = 1;
  for (int64_t d = 2; d < input.dim(); ++d) S *= input.size(d);
  return {input.size(0), input.size(1), S};
}

}  // namespace

// ---- batch norm ---------------------------------------------------------------------------

// ---- double backward ------------------------------------------------------------------------
// A create_graph backward recomputes each normalisation from recorded ops (means, variances,
// rsqrt, the affine) and differentiates that (autograd::detail::recompute_backward): the same
// gradients as the kernels, with a graph of their own.
namespace {
using autograd::detail::recompute_backward;
using autograd::detail::save_input;

// Per-channel values (C) shaped to broadcast over an (N, C, *) input of `dims` dims.
Tensor per_channel(const Tensor& v, int64_t dims) {
  std::vector<int64_t> shape(static_cast<size_t>(dims), 1);
  shape[1] = v.numel();
  return v.reshape(shape);
}

// (x - mean) * rsqrt(var + eps) over `reduce` (biased variance), as recorded ops.
Tensor normalize_graph(const Tensor& x, const std::vector<int64_t>& reduce, double eps) {
  const Tensor centered = sub(x, mean(x, reduce, /*keepdim=*/true));
  return mul(centered, rsqrt(add(mean(square(centered), reduce, /*keepdim=*/true), eps)));
}

Tensor affine_graph(Tensor y, const Tensor& w, const Tensor& b, int64_t dims) {
  if (w.defined()) y = mul(y, per_channel(w, dims));
  if (b.defined()) y = add(y, per_channel(b, dims));
  return y;
}

TensorList batch_norm_graph(const TensorList& saved, const TensorList& grads, bool training, const Tensor& mean_c,
                            const Tensor& var_c, double eps) {
  return recompute_backward(saved, grads, [=](const TensorList& in) {
    const Tensor& x = in[0];
    Tensor xhat;
    if (training) {
      std::vector<int64_t> reduce{0};
      for (int64_t d = 2; d < x.dim(); ++d) reduce.push_back(d);
      xhat = normalize_graph(x, reduce, eps);
    } else {  // the running statistics: constants
      xhat = mul(sub(x, per_channel(mean_c, x.dim())), per_channel(rsqrt(add(var_c, eps)), x.dim()));
    }
    return TensorList{affine_graph(xhat, in[1], in[2], x.dim())};
  });
}
}  // namespace

namespace {
// batch_norm on an input held in a kept oneDNN layout (checked by batch_norm): oneDNN's batch
// norm in that layout, output and input gradient in it too; statistics and running-stat
// updates as on the loops.
Tensor batch_norm_kept(const Tensor& input, const kernels::onednn::LayoutPtr& xl,
                       const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, bool training, double momentum, double eps) {
  namespace dnn = kernels::onednn;
  const NCS s = split_ncs("batch_norm", input);
  const Tensor w = dense(weight), b = dense(bias);
  Tensor y = detail::empty_deferred(input.sizes());  // its values stay in the layout
  Tensor mean, var;  // (C): the statistics y was normalised with (var biased)
  if (training) {
    mean = empty({s.C});
    var = empty({s.C});
  } else {
    mean = running_mean.detach();
    var = running_var.detach();
  }
  dnn::LayoutPtr yl;
  kernels::batch_norm_forward_onednn(&yl, mean.data_ptr<float>(), var.data_ptr<float>(), *xl,
                                     data_or_null(w), data_or_null(b), eps, training);
  detail::set_layout(*y.unsafeGetTensorImpl()->storage, yl);
  if (training && (running_mean.defined() || running_var.defined()) && input.numel() > 0)
    kernels::update_running_stats(mutable_data_or_null(running_mean),
                                  mutable_data_or_null(running_var), mean.data_ptr<float>(),
                                  var.data_ptr<float>(), 1, s.C, s.N * s.S, momentum);

  if (autograd::needs_grad({input, weight, bias})) {
    const bool need_x = input.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    autograd::detail::record_differentiable(
        "NativeBatchNormBackward0", {input, weight, bias}, {y},
        [eps, training, need_x, need_w, need_b, xl, wd = w.defined() ? w.detach() : Tensor(),
         bd = b.defined() ? b.detach() : Tensor(), mean, var, in_sizes = input.sizes().vec(),
         w_sizes = weight.defined() ? weight.sizes().vec() : std::vector<int64_t>(),
         b_sizes = bias.defined() ? bias.sizes().vec() : std::vector<int64_t>(),
         saved = TensorList{save_input(input), save_input(weight), save_input(bias)}](
            const TensorList& grads) {
          if (autograd::GradMode::is_enabled()) return batch_norm_graph(saved, grads, training, mean, var, eps);
          dnn::LayoutPtr gl = dnn::layout_of(*grads[0].unsafeGetTensorImpl());
          const Tensor dy = gl ? grads[0] : dense(grads[0]);
          const dnn::Operand dy_op{gl ? nullptr : dy.data_ptr<float>(), gl};
          Tensor dx = need_x ? detail::empty_deferred(in_sizes) : Tensor();
          Tensor dw = need_w ? cnnkit::empty(w_sizes) : Tensor();
          Tensor db = need_b ? cnnkit::empty(b_sizes) : Tensor();
          dnn::LayoutPtr dxl;
          kernels::batch_norm_backward_onednn(need_x ? &dxl : nullptr, mutable_data_or_null(dw),
                                              mutable_data_or_null(db), dy_op, *xl,
                                              mean.data_ptr<float>(), var.data_ptr<float>(),
                                              data_or_null(wd), data_or_null(bd), eps, training);
          if (need_x) detail::set_layout(*dx.unsafeGetTensorImpl()->storage, std::move(dxl));
          return TensorList{dx, dw, db};
        });
  }
  return y;
}
}  // namespace

namespace {
NCS check_batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, bool training) {
  const NCS s = split_ncs("batch_norm", input);
  check_per_channel("batch_norm", "weight", weight, s.C);
  check_per_channel("batch_norm", "bias", bias, s.C);
  check_running("batch_norm", "running_mean", running_mean, s.C);
  check_running("batch_norm", "running_var", running_var, s.C);
  if (training) {
    CNNKIT_CHECK(s.N * s.S != 1, "batch_norm: Expected more than 1 value per channel when "
                 "training, got input size ", input.sizes());
  } else {
    CNNKIT_CHECK(running_mean.defined(), "batch_norm: running_mean must be defined in evaluation "
                 "mode");
    CNNKIT_CHECK(running_var.defined(), "batch_norm: running_var must be defined in evaluation "
                 "mode");
  }
  return s;
}
}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps, bool /*cudnn_enabled*/) {
  const NCS s = check_batch_norm(input, weight, bias, running_mean, running_var, training);

  if (kernels::onednn::LayoutPtr xl = kernels::onednn::layout_of(*input.unsafeGetTensorImpl()))
    return batch_norm_kept(input, xl, weight, bias, running_mean, running_var, training, momentum,
                           eps);

  const Tensor x = dense(input), w = dense(weight), b = dense(bias);
  Tensor y = empty(input.sizes());
  Tensor mean, var;  // (C): the statistics y was normalised with
  if (training) {
    mean = empty({s.C});
    var = empty({s.C});  // biased, as the normalisation uses
    kernels::batch_norm_forward_train(y.data_ptr<float>(), mean.data_ptr<float>(),
                                      var.data_ptr<float>(), x.data_ptr<float>(), data_or_null(w),
                                      data_or_null(b), eps, s.N, s.C, s.S);
    if ((running_mean.defined() || running_var.defined()) && input.numel() > 0)
      kernels::update_running_stats(mutable_data_or_null(running_mean),
                                    mutable_data_or_null(running_var), mean.data_ptr<float>(),
                                    var.data_ptr<float>(), 1, s.C, s.N * s.S, momentum);
  } else {
    mean = running_mean.detach();
    var = running_var.detach();
    kernels::batch_norm_forward_eval(y.data_ptr<float>(), x.data_ptr<float>(),
                                     mean.data_ptr<float>(), var.data_ptr<float>(),
                                     data_or_null(w), data_or_null(b), eps, s.N, s.C, s.S);
  }

  if (autograd::needs_grad({input, weight, bias})) {
    const bool need_x = input.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    // In eval mode the running statistics are saved as they are, as PyTorch does: they are
    // not changed by an eval forward.
    autograd::detail::record_differentiable(
        "NativeBatchNormBackward0", {input, weight, bias}, {y},
        [s, eps, training, need_x, need_w, need_b, xd = x.detach(),
         wd = w.defined() ? w.detach() : Tensor(), mean, var, in_sizes = input.sizes().vec(),
         w_sizes = weight.defined() ? weight.sizes().vec() : std::vector<int64_t>(),
         b_sizes = bias.defined() ? bias.sizes().vec() : std::vector<int64_t>(),
         saved = TensorList{save_input(input), save_input(weight), save_input(bias)}](
            const TensorList& grads) {
          if (autograd::GradMode::is_enabled()) return batch_norm_graph(saved, grads, training, mean, var, eps);
          const Tensor dy = dense(grads[0]);
          Tensor dx = need_x ? cnnkit::empty(in_sizes) : Tensor();
          Tensor dw = need_w ? cnnkit::empty(w_sizes) : Tensor();
          Tensor db = need_b ? cnnkit::empty(b_sizes) : Tensor();
          kernels::batch_norm_backward(mutable_data_or_null(dx), mutable_data_or_null(dw),
                                       mutable_data_or_null(db), dy.data_ptr<float>(),
                                       xd.data_ptr<float>(), mean.data_ptr<float>(),
                                       var.data_ptr<float>(), data_or_null(wd), eps, training,
                                       s.N, s.C, s.S);
          return TensorList{dx, dw, db};
        });
  }
  return y;
}

// ---- batch norm + residual + ReLU ---------------------------------------------------------

namespace {
// The channel block of x's kept layout when the fused kernel takes it (nChw8c or nChw16c
// of x's own dims, whole blocks of channels), else 0.
int fused_block(const kernels::onednn::Layout& xl, const Tensor& x) {
  const int block = kernels::onednn::channel_block(xl.desc(), dnnl::memory::dims(x.sizes().begin(), x.sizes().end()));
  return block != 0 && kernels::batch_norm_relu_blocked_supported(x.size(1), block) ? block : 0;
}

// A tensor whose values live in layout l (filled by the caller).
Tensor kept(IntArrayRef sizes, const kernels::onednn::LayoutPtr& l) {
  Tensor t = detail::empty_deferred(sizes);
  detail::set_layout(*t.unsafeGetTensorImpl()->storage, l);
  return t;
}
// A tensor whose values live in a new layout `desc` (filled by the caller).
std::pair<Tensor, kernels::onednn::LayoutPtr> new_kept(IntArrayRef sizes, const dnnl::memory::desc& desc) {
  auto l = std::make_shared<kernels::onednn::Layout>(desc);
  return {kept(sizes, l), l};
}
}  // namespace

namespace {
std::atomic<uint64_t> moments_taken{0};

// The ChannelMoments of the thread's open scopes, innermost last (a deque: stable addresses).
struct MomentsPool {
  std::deque<kernels::ChannelMoments> slots;
  size_t depth = 0;
};
MomentsPool& moments_pool() {
  thread_local MomentsPool pool;
  return pool;
}
}  // namespace

detail::ConvBatchNormScope::ConvBatchNormScope() : previous_(kernels::channel_moments_sink()) {
  MomentsPool& pool = moments_pool();
  if (pool.depth == pool.slots.size()) pool.slots.emplace_back();
  kernels::ChannelMoments* m = &pool.slots[pool.depth++];
  m->data = nullptr;
  kernels::channel_moments_sink() = m;
}
detail::ConvBatchNormScope::~ConvBatchNormScope() {
  kernels::channel_moments_sink() = previous_;
  --moments_pool().depth;
}
uint64_t detail::batch_norm_moments_taken() { return moments_taken.load(std::memory_order_relaxed); }

Tensor batch_norm_relu(const Tensor& input, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       double momentum, double eps, const Tensor& residual) {
  namespace dnn = kernels::onednn;
  const NCS s = check_batch_norm(input, weight, bias, running_mean, running_var, training);
  const dnn::LayoutPtr xl = training ? dnn::layout_of(*input.unsafeGetTensorImpl()) : nullptr;
  const int block = xl ? fused_block(*xl, input) : 0;
  dnn::LayoutPtr rl;
  if (block != 0 && residual.defined() && residual.dtype() == kFloat && residual.sizes() == input.sizes())
    rl = dnn::layout_of(*residual.unsafeGetTensorImpl());
  const bool fused = block != 0 && (!residual.defined() || (rl && rl->desc() == xl->desc()));
  // The statistics the convolution that wrote x took as it wrote it (detail::ConvBatchNormScope),
  // used at most once.
  kernels::ChannelMoments* const taken = kernels::channel_moments_sink();
  const bool given = fused && taken != nullptr && taken->data == xl->data() && taken->C == s.C &&
                     taken->count == s.N * s.S;
  if (taken != nullptr && !given) taken->data = nullptr;
  if (!fused) {  // the ops as written
    Tensor y = batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps);
    return relu(residual.defined() ? add(y, residual) : y);
  }

  const Tensor w = dense(weight), b = dense(bias);
  Tensor mean = empty({s.C}), var = empty({s.C}), scale = empty({s.C}), shift = empty({s.C});
  if (given) {
    std::copy(taken->mean.begin(), taken->mean.end(), mean.data_ptr<float>());
    std::copy(taken->var.begin(), taken->var.end(), var.data_ptr<float>());
    taken->data = nullptr;
    moments_taken.fetch_add(1, std::memory_order_relaxed);
  }
  const auto [y, yl] = new_kept(input.sizes(), xl->desc());
  kernels::batch_norm_relu_forward_blocked(yl->data(), mean.data_ptr<float>(), var.data_ptr<float>(),
                                           scale.data_ptr<float>(), shift.data_ptr<float>(), xl->data(),
                                           rl ? rl->data() : nullptr, data_or_null(w), data_or_null(b), eps,
                                           s.N, s.C, s.S, block, given);
  if ((running_mean.defined() || running_var.defined()) && input.numel() > 0)
    kernels::update_running_stats(mutable_data_or_null(running_mean), mutable_data_or_null(running_var),
                                  mean.data_ptr<float>(), var.data_ptr<float>(), 1, s.C, s.N * s.S, momentum);

  if (autograd::needs_grad({input, weight, bias, residual})) {
    const bool need_x = input.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    const bool need_r = residual.defined() && residual.requires_grad();
    // Without a residual the ReLU's mask is recomputed from x; with one, y is kept for it.
    autograd::detail::record_differentiable(
        "BatchNormReluBackward0", {input, weight, bias, residual}, {y},
        [s, eps, block, need_x, need_w, need_b, need_r, xl, y_kept = rl ? yl : dnn::LayoutPtr(),
         wd = w.defined() ? w.detach() : Tensor(), mean, var, scale, shift, in_sizes = input.sizes().vec(),
         w_sizes = weight.defined() ? weight.sizes().vec() : std::vector<int64_t>(),
         b_sizes = bias.defined() ? bias.sizes().vec() : std::vector<int64_t>(),
         saved = TensorList{save_input(input), save_input(weight), save_input(bias), save_input(residual)}](
            const TensorList& grads) {
          if (autograd::GradMode::is_enabled()) {
            return recompute_backward(saved, grads, [=](const TensorList& in) {
              std::vector<int64_t> reduce{0, 2, 3};
              Tensor z = affine_graph(normalize_graph(in[0], reduce, eps), in[1], in[2], 4);
              if (in[3].defined()) z = add(z, in[3]);
              return TensorList{relu(z)};
            });
          }
          // dy in x's layout, and its buffer when nothing else can read it (handed over by its
          // only holder, or reordered here): the first result the kernel writes element for
          // element over dy goes there instead of into a fresh buffer — the residual's
          // gradient (pass 1) when there is one, else dx (pass 2).
          dnn::LayoutPtr dy_own = dnn::exclusive_layout(grads[0]);
          const dnn::LayoutPtr gl = dy_own ? dy_own : dnn::layout_of(*grads[0].unsafeGetTensorImpl());
          const float* dy = nullptr;
          if (gl && gl->desc() == xl->desc()) {
            dy = gl->data();
          } else {
            dy_own = std::make_shared<dnn::Layout>(xl->desc());
            const Tensor plain = gl ? Tensor() : dense(grads[0]);
            const dnn::Operand op{gl ? nullptr : plain.data_ptr<float>(), gl};
            const dnnl::memory::dims d(in_sizes.begin(), in_sizes.end());
            dnn::as_layout(op, dnn::plain_desc(d, dnnl::memory::format_tag::nchw), xl->desc(), dy_own->data());
            dy = dy_own->data();
          }
          Tensor dx, dr;
          dnn::LayoutPtr dxl, drl;
          if (need_r) {
            if (dy_own) dr = kept(in_sizes, drl = std::exchange(dy_own, nullptr));
            else std::tie(dr, drl) = new_kept(in_sizes, xl->desc());
          }
          if (need_x) {
            if (dy_own) dx = kept(in_sizes, dxl = std::exchange(dy_own, nullptr));
            else std::tie(dx, dxl) = new_kept(in_sizes, xl->desc());
          }
          Tensor dw = need_w ? cnnkit::empty(w_sizes) : Tensor();
          Tensor db = need_b ? cnnkit::empty(b_sizes) : Tensor();
          kernels::batch_norm_relu_backward_blocked(
              dxl ? dxl->data() : nullptr, drl ? drl->data() : nullptr, mutable_data_or_null(dw),
              mutable_data_or_null(db), dy, xl->data(), y_kept ? y_kept->data() : nullptr, mean.data_ptr<float>(),
              var.data_ptr<float>(), scale.data_ptr<float>(), shift.data_ptr<float>(), data_or_null(wd), eps,
              s.N, s.C, s.S, block);
          return TensorList{dx, dw, db, dr};
        });
  }
  return y;
}

// ---- layer norm ---------------------------------------------------------------------------

Tensor layer_norm(const Tensor& input, IntArrayRef normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps, bool /*cudnn_enable*/) {
  CNNKIT_CHECK(input.defined(), "layer_norm: input must be defined");
  check_float("layer_norm", "input", input);
  check_float("layer_norm", "weight", weight);
  check_float("layer_norm", "bias", bias);
  const int64_t D = static_cast<int64_t>(normalized_shape.size());
  CNNKIT_CHECK_SHAPE(D >= 1, "layer_norm: Expected normalized_shape to be at least 1-dimensional, "
                     "i.e., containing at least one element, but got normalized_shape = ",
                     normalized_shape);
  CNNKIT_CHECK_SHAPE(!weight.defined() || weight.sizes() == normalized_shape,
                     "layer_norm: Expected weight to be of same shape as normalized_shape, but got "
                     "weight of shape ", weight.defined() ? weight.sizes() : IntArrayRef(),
                     " and normalized_shape = ", normalized_shape);
  CNNKIT_CHECK_SHAPE(!bias.defined() || bias.sizes() == normalized_shape,
                     "layer_norm: Expected bias to be of same shape as normalized_shape, but got "
                     "bias of shape ", bias.defined() ? bias.sizes() : IntArrayRef(),
                     " and normalized_shape = ", normalized_shape);
  const int64_t lead = input.dim() - D;
  CNNKIT_CHECK_SHAPE(lead >= 0 && input.sizes().slice(static_cast<size_t>(lead)) == normalized_shape,
                     "layer_norm: Given normalized_shape=", normalized_shape,
                     ", expected input with shape [*", [&] {
                       std::string t;
                       for (int64_t v : normalized_shape) t += ", " + std::to_string(v);
                       return t;
                     }(), "], but got input of size ", input.sizes());

  int64_t M = 1, K = 1;
  for (int64_t d = 0; d < lead; ++d) M *= input.size(d);
  for (int64_t v : normalized_shape) K *= v;

  const Tensor x = dense(input), w = dense(weight), b = dense(bias);
  Tensor y = empty(input.sizes());
  Tensor mean = empty({M}), rstd = empty({M});
  kernels::layer_norm_forward(y.data_ptr<float>(), mean.data_ptr<float>(), rstd.data_ptr<float>(),
                              x.data_ptr<float>(), data_or_null(w), data_or_null(b), eps, M, K);

  if (autograd::needs_grad({input, weight, bias})) {
    const bool need_x = input.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    autograd::detail::record_differentiable(
        "NativeLayerNormBackward0", {input, weight, bias}, {y},
        [M, K, need_x, need_w, need_b, xd = x.detach(), wd = w.defined() ? w.detach() : Tensor(),
         mean, rstd, in_sizes = input.sizes().vec(), p_sizes = normalized_shape.vec(), eps, D,
         saved = TensorList{save_input(input), save_input(weight), save_input(bias)}](
            const TensorList& grads) {
          if (autograd::GradMode::is_enabled())
            return recompute_backward(saved, grads, [eps, D](const TensorList& in) {
              std::vector<int64_t> reduce;
              for (int64_t d = in[0].dim() - D; d < in[0].dim(); ++d) reduce.push_back(d);
              Tensor normed = normalize_graph(in[0], reduce, eps);
              if (in[1].defined()) normed = mul(normed, in[1]);
              if (in[2].defined()) normed = add(normed, in[2]);
              return TensorList{normed};
            });
          const Tensor dy = dense(grads[0]);
          Tensor dx = need_x ? cnnkit::empty(in_sizes) : Tensor();
          Tensor dw = need_w ? cnnkit::empty(p_sizes) : Tensor();
          Tensor db = need_b ? cnnkit::empty(p_sizes) : Tensor();
          kernels::layer_norm_backward(mutable_data_or_null(dx), mutable_data_or_null(dw),
                                       mutable_data_or_null(db), dy.data_ptr<float>(),
                                       xd.data_ptr<float>(), mean.data_ptr<float>(),
                                       rstd.data_ptr<float>(), data_or_null(wd), M, K);
          return TensorList{dx, dw, db};
        });
  }
  return y;
}

// ---- group norm and instance norm ---------------------------------------------------------

namespace {

// Group norm's forward and node. Instance norm (with input statistics) is G = C; it passes
// `var` (N, C) to be filled with the biased per-instance variances and takes the means back
// through `mean_out`, for its running statistics.
Tensor group_norm_impl(const char* node_name, const Tensor& input, const NCS& s, int64_t G,
                       const Tensor& weight, const Tensor& bias, double eps, const Tensor& var,
                       Tensor* mean_out) {
  const Tensor x = dense(input), w = dense(weight), b = dense(bias);
  Tensor y = empty(input.sizes());
  Tensor mean = empty({s.N, G}), rstd = empty({s.N, G});
  kernels::group_norm_forward(y.data_ptr<float>(), mean.data_ptr<float>(), rstd.data_ptr<float>(),
                              mutable_data_or_null(var), x.data_ptr<float>(), data_or_null(w),
                              data_or_null(b), eps, s.N, s.C, s.S, G);
  if (mean_out) *mean_out = mean;

  if (autograd::needs_grad({input, weight, bias})) {
    const bool need_x = input.requires_grad();
    const bool need_w = weight.defined() && weight.requires_grad();
    const bool need_b = bias.defined() && bias.requires_grad();
    autograd::detail::record_differentiable(
        node_name, {input, weight, bias}, {y},
        [s, G, need_x, need_w, need_b, xd = x.detach(), wd = w.defined() ? w.detach() : Tensor(),
         mean, rstd, in_sizes = input.sizes().vec(),
         w_sizes = weight.defined() ? weight.sizes().vec() : std::vector<int64_t>(),
         b_sizes = bias.defined() ? bias.sizes().vec() : std::vector<int64_t>(), eps,
         saved = TensorList{save_input(input), save_input(weight), save_input(bias)}](
            const TensorList& grads) {
          if (autograd::GradMode::is_enabled())
            return recompute_backward(saved, grads, [s, G, eps](const TensorList& in) {
              // (N, G, C/G * S) normalised over its last dim, then the per-channel affine.
              const Tensor grouped = in[0].reshape({s.N, G, (s.C / G) * s.S});
              const Tensor xhat = normalize_graph(grouped, {2}, eps).reshape(in[0].sizes());
              return TensorList{affine_graph(xhat, in[1], in[2], in[0].dim())};
            });
          const Tensor dy = dense(grads[0]);
          Tensor dx = need_x ? cnnkit::empty(in_sizes) : Tensor();
          Tensor dw = need_w ? cnnkit::empty(w_sizes) : Tensor();
          Tensor db = need_b ? cnnkit::empty(b_sizes) : Tensor();
          kernels::group_norm_backward(mutable_data_or_null(dx), mutable_data_or_null(dw),
                                       mutable_data_or_null(db), dy.data_ptr<float>(),
                                       xd.data_ptr<float>(), mean.data_ptr<float>(),
                                       rstd.data_ptr<float>(), data_or_null(wd), s.N, s.C, s.S, G);
          return TensorList{dx, dw, db};
        });
  }
  return y;
}

}  // namespace

Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight,
                  const Tensor& bias, double eps, bool /*cudnn_enabled*/) {
  const NCS s = split_ncs("group_norm", input);
  check_float("group_norm", "weight", weight);
  check_float("group_norm", "bias", bias);
  CNNKIT_CHECK(num_groups > 0, "group_norm: num_groups must be positive, got num_groups=",
               num_groups);
  CNNKIT_CHECK_SHAPE(s.C % num_groups == 0, "group_norm: Expected number of channels in input to "
                     "be divisible by num_groups, but got input of shape ", input.sizes(),
                     " and num_groups=", num_groups);
  CNNKIT_CHECK_SHAPE(!weight.defined() || (weight.dim() == 1 && weight.numel() == s.C),
                     "group_norm: Expected weight to be a vector of size equal to the number of "
                     "channels in input, but got weight of shape ",
                     weight.defined() ? weight.sizes() : IntArrayRef(), " and input of shape ",
                     input.sizes());
  CNNKIT_CHECK_SHAPE(!bias.defined() || (bias.dim() == 1 && bias.numel() == s.C),
                     "group_norm: Expected bias to be a vector of size equal to the number of "
                     "channels in input, but got bias of shape ",
                     bias.defined() ? bias.sizes() : IntArrayRef(), " and input of shape ",
                     input.sizes());
  return group_norm_impl("NativeGroupNormBackward0", input, s, num_groups, weight, bias, eps,
                         Tensor(), nullptr);
}

Tensor instance_norm(const Tensor& input, const Tensor& weight, const Tensor& bias,
                     const Tensor& running_mean, const Tensor& running_var, bool use_input_stats,
                     double momentum, double eps, bool cudnn_enabled) {
  const NCS s = split_ncs("instance_norm", input);
  check_per_channel("instance_norm", "weight", weight, s.C);
  check_per_channel("instance_norm", "bias", bias, s.C);
  check_running("instance_norm", "running_mean", running_mean, s.C);
  check_running("instance_norm", "running_var", running_var, s.C);
  if (!use_input_stats) {
    CNNKIT_CHECK(running_mean.defined() && running_var.defined(),
                 "instance_norm: Expected running_mean and running_var to be defined when "
                 "use_input_stats is false");
    // Per-channel running statistics applied to every instance: batch norm's eval mode.
    return batch_norm(input, weight, bias, running_mean, running_var, false, momentum, eps,
                      cudnn_enabled);
  }
  CNNKIT_CHECK(s.S != 1, "instance_norm: Expected more than 1 spatial element when training, got "
               "input size ", input.sizes());

  const bool update = running_mean.defined() || running_var.defined();
  Tensor mean, var = update ? cnnkit::empty({s.N, s.C}) : Tensor();
  Tensor y =
      group_norm_impl("InstanceNormBackward0", input, s, s.C, weight, bias, eps, var, &mean);
  if (update && input.numel() > 0)
    kernels::update_running_stats(mutable_data_or_null(running_mean),
                                  mutable_data_or_null(running_var), mean.data_ptr<float>(),
                                  var.data_ptr<float>(), s.N, s.C, s.S, momentum);
  return y;
}

}  // namespace cnnkit
