// One table-driven finite-difference check of every differentiable op (ggml's
// test-backend-ops, flashlight's jacobianTestImpl): for L = sum(f(inputs) * W) with a fixed
// random W, autograd's dL/dx (out.backward(W)) must match the central difference
// (L(x + eps) - L(x - eps)) / (2 eps) for every element of every input, parameters
// included. f runs in float32; L is accumulated in double, so outputs that an element does
// not touch cancel exactly and the difference only carries the rounding of the ones it
// does. Kinks are declared per case: inputs are sampled away from them (ReLU at 0,
// Hardswish at +-3, ties for max and pools, ...), so both derivatives are well defined.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest-spi.h>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/autograd/node.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/ops.h"
#include "gradcheck.h"
#include "test_util.h"

using namespace cnnkit;
using namespace cnnkit::test::gradcheck;

namespace {

// ---- helpers the table uses -----------------------------------------------------------------

Tensor mask_of(std::vector<int64_t> shape, int period) {  // bool, true at every period-th element
  Tensor m = cnnkit::empty(shape, kBool);
  bool* p = m.data_ptr<bool>();
  for (int64_t i = 0; i < m.numel(); ++i) p[i] = i % period == 0;
  return m;
}

Tensor longs(std::vector<int64_t> shape, std::vector<int64_t> values) {
  Tensor t = cnnkit::empty(shape, kLong);
  for (size_t i = 0; i < values.size(); ++i) t.data_ptr<int64_t>()[i] = values[i];
  return t;
}

bool apart(const Tensor& a, const Tensor& b, double margin) {  // same shapes
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  for (size_t i = 0; i < x.size(); ++i)
    if (std::fabs(x[i] - y[i]) < margin) return false;
  return true;
}

// ---- the table: one line per op or variant ------------------------------------------------

std::vector<Case> all_cases() {
  const std::vector<double> at0 = {0.0};
  std::vector<Case> cases;
  auto push = [&](Case c) -> Case& { cases.push_back(std::move(c)); return cases.back(); };

  // element-wise binary, with broadcasting on either side
  push({"add_broadcast", {In({2, 3, 4}), In({3, 1})}, [](const Inputs& x) { return add(x[0], x[1]); }});
  push({"add_alpha", {In({3, 4}), In({4})}, [](const Inputs& x) { return add(x[0], x[1], 2.5); }});
  push({"add_scalar", {In({3, 4})}, [](const Inputs& x) { return add(x[0], 1.5); }});
  push({"sub_broadcast", {In({1, 4}), In({3, 1})}, [](const Inputs& x) { return sub(x[0], x[1]); }});
  push({"sub_alpha", {In({2, 3}), In({2, 3})}, [](const Inputs& x) { return sub(x[0], x[1], 0.5); }});
  push({"rsub_scalar", {In({5})}, [](const Inputs& x) { return rsub(x[0], 2.0); }});
  push({"mul_broadcast_both", {In({2, 3, 1}), In({1, 4})}, [](const Inputs& x) { return mul(x[0], x[1]); }});
  push({"mul_scalar", {In({3, 2})}, [](const Inputs& x) { return mul(x[0], -3.0); }});
  push({"div_broadcast", {In({2, 3, 4}), In({3, 1}).range(0.5, 2)}, [](const Inputs& x) { return div(x[0], x[1]); }});
  push({"div_scalar", {In({4})}, [](const Inputs& x) { return div(x[0], 4.0); }});
  push({"rdiv_scalar", {In({4}).range(0.5, 2)}, [](const Inputs& x) { return rdiv(x[0], 3.0); }});
  push({"pow_scalar_3", {In({2, 3})}, [](const Inputs& x) { return pow(x[0], 3.0); }});
  push({"pow_scalar_2.5", {In({2, 3}).range(0.2, 2)}, [](const Inputs& x) { return pow(x[0], 2.5); }});
  push({"pow_tensor", {In({2, 3}).range(0.5, 2), In({3}).range(-1.5, 1.5)},
       [](const Inputs& x) { return pow(x[0], x[1]); }});
  push({"pow_scalar_base", {In({2, 3})}, [](const Inputs& x) { return pow(2.0, x[0]); }});
  push({"maximum", {In({3, 4}), In({3, 4})}, [](const Inputs& x) { return maximum(x[0], x[1]); }})
      .when([](const Inputs& x) { return apart(x[0], x[1], kMargin); });
  push({"minimum", {In({3, 4}), In({3, 4})}, [](const Inputs& x) { return minimum(x[0], x[1]); }})
      .when([](const Inputs& x) { return apart(x[0], x[1], kMargin); });
  push({"where", {In({3, 4}), In({3, 4})},
       [](const Inputs& x) { return where(mask_of({3, 4}, 3), x[0], x[1]); }});
  push({"where_scalar", {In({3, 4})}, [](const Inputs& x) { return where(mask_of({3, 4}, 2), x[0], 0.5); }});
  push({"masked_fill", {In({3, 4})}, [](const Inputs& x) { return masked_fill(x[0], mask_of({3, 4}, 2), -1.0); }});
  push({"lerp", {In({2, 3}), In({2, 3})}, [](const Inputs& x) { return lerp(x[0], x[1], 0.3); }});
  push({"addcmul", {In({2, 3}), In({2, 3}), In({3})}, [](const Inputs& x) { return addcmul(x[0], x[1], x[2], 0.7); }});
  push({"addcdiv", {In({2, 3}), In({2, 3}), In({3}).range(0.5, 2)},
       [](const Inputs& x) { return addcdiv(x[0], x[1], x[2], -1.5); }});
  push({"clamp", {In({3, 4}).avoid({-0.5, 0.5})}, [](const Inputs& x) { return clamp(x[0], -0.5, 0.5); }});
  push({"clamp_min", {In({3, 4}).avoid({0.3})}, [](const Inputs& x) { return clamp_min(x[0], 0.3); }});
  push({"clamp_max", {In({3, 4}).avoid({-0.2})}, [](const Inputs& x) { return clamp_max(x[0], -0.2); }});

  // element-wise unary
  push({"neg", {In({2, 3})}, [](const Inputs& x) { return neg(x[0]); }});
  push({"abs", {In({2, 3}).avoid(at0)}, [](const Inputs& x) { return abs(x[0]); }});
  push({"sign", {In({2, 3}).avoid(at0)}, [](const Inputs& x) { return sign(x[0]); }});
  push({"exp", {In({2, 3})}, [](const Inputs& x) { return exp(x[0]); }});
  push({"log", {In({2, 3}).range(0.3, 3)}, [](const Inputs& x) { return log(x[0]); }});
  push({"log1p", {In({2, 3}).range(-0.5, 2)}, [](const Inputs& x) { return log1p(x[0]); }});
  push({"sqrt", {In({2, 3}).range(0.3, 3)}, [](const Inputs& x) { return sqrt(x[0]); }});
  push({"rsqrt", {In({2, 3}).range(0.3, 3)}, [](const Inputs& x) { return rsqrt(x[0]); }});
  push({"square", {In({2, 3})}, [](const Inputs& x) { return square(x[0]); }});
  push({"reciprocal", {In({2, 3}).range(0.4, 3)}, [](const Inputs& x) { return reciprocal(x[0]); }});
  push({"sin", {In({2, 3})}, [](const Inputs& x) { return sin(x[0]); }});
  push({"cos", {In({2, 3})}, [](const Inputs& x) { return cos(x[0]); }});
  push({"floor", {In({2, 3}).off_integers()}, [](const Inputs& x) { return floor(x[0]); }});
  push({"ceil", {In({2, 3}).off_integers()}, [](const Inputs& x) { return ceil(x[0]); }});
  push({"round", {In({2, 3}).off_integers()}, [](const Inputs& x) { return round(x[0]); }});

  // activations
  push({"relu", {In({2, 3, 4}).avoid(at0)}, [](const Inputs& x) { return relu(x[0]); }});
  push({"relu6", {In({2, 3, 4}).range(-2, 8).avoid({0, 6})}, [](const Inputs& x) { return relu6(x[0]); }});
  push({"leaky_relu", {In({2, 3, 4}).avoid(at0)}, [](const Inputs& x) { return leaky_relu(x[0], 0.1); }});
  push({"elu", {In({2, 3, 4}).avoid(at0)}, [](const Inputs& x) { return elu(x[0], 1.5); }});
  push({"selu", {In({2, 3, 4}).avoid(at0)}, [](const Inputs& x) { return selu(x[0]); }});
  push({"gelu", {In({2, 3, 4}).range(-4, 4)}, [](const Inputs& x) { return gelu(x[0]); }});
  push({"gelu_tanh", {In({2, 3, 4}).range(-4, 4)}, [](const Inputs& x) { return gelu(x[0], "tanh"); }});
  push({"sigmoid", {In({2, 3, 4}).range(-5, 5)}, [](const Inputs& x) { return sigmoid(x[0]); }});
  push({"tanh", {In({2, 3, 4})}, [](const Inputs& x) { return tanh(x[0]); }});
  push({"silu", {In({2, 3, 4}).range(-5, 5)}, [](const Inputs& x) { return silu(x[0]); }});
  push({"mish", {In({2, 3, 4}).range(-5, 5)}, [](const Inputs& x) { return mish(x[0]); }});
  push({"logsigmoid", {In({2, 3, 4}).range(-5, 5)}, [](const Inputs& x) { return logsigmoid(x[0]); }});
  push({"hardswish", {In({2, 3, 4}).range(-5, 5).avoid({-3, 3})}, [](const Inputs& x) { return hardswish(x[0]); }});
  push({"hardsigmoid", {In({2, 3, 4}).range(-5, 5).avoid({-3, 3})},
       [](const Inputs& x) { return hardsigmoid(x[0]); }});
  push({"hardtanh", {In({2, 3, 4}).avoid({-1, 1})}, [](const Inputs& x) { return hardtanh(x[0]); }});
  push({"hardtanh_custom", {In({2, 3, 4}).range(-3, 3).avoid({-2, 0.5})},
       [](const Inputs& x) { return hardtanh(x[0], -2, 0.5); }});
  // beta * x = threshold switches softplus to the identity: a kink at x = 1.5
  push({"softplus", {In({2, 3, 4}).range(-3, 3).avoid({1.5})},
       [](const Inputs& x) { return softplus(x[0], 2.0, 3.0); }});
  push({"prelu_channels", {In({2, 3, 4}).avoid(at0), In({3})}, [](const Inputs& x) { return prelu(x[0], x[1]); }});
  push({"prelu_single", {In({2, 3, 2, 2}).avoid(at0), In({1})}, [](const Inputs& x) { return prelu(x[0], x[1]); }});

  // softmax
  push({"softmax_dim1", {In({2, 3, 4})}, [](const Inputs& x) { return softmax(x[0], 1); }});
  push({"softmax_last", {In({3, 5})}, [](const Inputs& x) { return softmax(x[0], -1); }});
  push({"softmax_dim0", {In({3, 4})}, [](const Inputs& x) { return softmax(x[0], 0); }});
  push({"log_softmax_dim1", {In({2, 3, 4})}, [](const Inputs& x) { return log_softmax(x[0], 1); }});
  push({"log_softmax_last", {In({3, 5})}, [](const Inputs& x) { return log_softmax(x[0], -1); }});

  // reductions
  push({"sum_all", {In({2, 3, 4})}, [](const Inputs& x) { return sum(x[0]); }});
  push({"sum_dim", {In({2, 3, 4})}, [](const Inputs& x) { return sum(x[0], {1}); }});
  push({"sum_dims_keepdim", {In({2, 3, 4})}, [](const Inputs& x) { return sum(x[0], {0, 2}, true); }});
  push({"mean_all", {In({2, 3, 4})}, [](const Inputs& x) { return mean(x[0]); }});
  push({"mean_dims", {In({2, 3, 4})}, [](const Inputs& x) { return mean(x[0], {-1, 0}); }});
  push({"prod", {In({2, 3}).range(0.5, 1.5)}, [](const Inputs& x) { return prod(x[0]); }});
  push({"max_all", {In({3, 4}).unique()}, [](const Inputs& x) { return max(x[0]); }});
  push({"max_dim", {In({3, 4}).unique()}, [](const Inputs& x) { return std::get<0>(max(x[0], 1)); }});
  push({"min_dim_keepdim", {In({3, 4}).unique()}, [](const Inputs& x) { return std::get<0>(min(x[0], 0, true)); }});
  push({"min_all", {In({3, 4}).unique()}, [](const Inputs& x) { return min(x[0]); }});
  push({"amax", {In({2, 3, 4}).unique()}, [](const Inputs& x) { return amax(x[0], {0, 2}); }});
  push({"amin", {In({2, 3, 4}).unique()}, [](const Inputs& x) { return amin(x[0], {1}, true); }});
  push({"var_all", {In({2, 3, 4})}, [](const Inputs& x) { return var(x[0]); }});
  push({"var_dim_biased", {In({2, 3, 4})}, [](const Inputs& x) { return var(x[0], {1}, false); }});
  push({"var_dim_unbiased_keepdim", {In({2, 3, 4})}, [](const Inputs& x) { return var(x[0], {2}, true, true); }});
  push({"std_all", {In({2, 3, 4})}, [](const Inputs& x) { return cnnkit::std(x[0]); }});
  push({"std_dim", {In({2, 3, 4})}, [](const Inputs& x) { return cnnkit::std(x[0], {0}); }});
  push({"norm2_all", {In({2, 3, 4})}, [](const Inputs& x) { return norm(x[0]); }});
  push({"norm2_dim", {In({2, 3, 4})}, [](const Inputs& x) { return norm(x[0], 2, {1}); }});
  push({"norm1_dim", {In({2, 3, 4}).avoid(at0)}, [](const Inputs& x) { return norm(x[0], 1, {2}); }});
  push({"logsumexp", {In({2, 3, 4})}, [](const Inputs& x) { return logsumexp(x[0], {1}); }});
  push({"topk", {In({3, 6}).unique()}, [](const Inputs& x) { return std::get<0>(topk(x[0], 2, 1)); }});
  push({"sort", {In({3, 5}).unique()}, [](const Inputs& x) { return std::get<0>(sort(x[0], 1, true)); }});

  // views and joins
  push({"view", {In({2, 3, 4})}, [](const Inputs& x) { return x[0].view({6, 4}); }});
  push({"reshape_noncontig", {In({2, 3, 4})}, [](const Inputs& x) { return x[0].transpose(0, 2).reshape({4, 6}); }});
  push({"permute", {In({2, 3, 4})}, [](const Inputs& x) { return permute(x[0], {2, 0, 1}); }});
  push({"transpose", {In({2, 3, 4})}, [](const Inputs& x) { return transpose(x[0], 0, 2); }});
  push({"t", {In({3, 4})}, [](const Inputs& x) { return t(x[0]); }});
  push({"contiguous_of_permuted", {In({2, 3, 4})}, [](const Inputs& x) { return x[0].permute({1, 2, 0}).contiguous(); }});
  push({"slice_step", {In({5, 4})}, [](const Inputs& x) { return x[0].slice(0, 1, 5, 2); }});
  push({"slice_negative", {In({3, 6})}, [](const Inputs& x) { return x[0].slice(1, -4, -1); }});
  push({"narrow", {In({3, 6})}, [](const Inputs& x) { return narrow(x[0], 1, 2, 3); }});
  push({"select", {In({3, 4, 2})}, [](const Inputs& x) { return select(x[0], 1, 2); }});
  push({"squeeze_unsqueeze", {In({3, 1, 4})}, [](const Inputs& x) { return unsqueeze(squeeze(x[0], 1), 0); }});
  push({"expand", {In({3, 1})}, [](const Inputs& x) { return x[0].expand({2, 3, 4}); }});
  push({"flatten", {In({2, 3, 4})}, [](const Inputs& x) { return flatten(x[0], 1); }});
  push({"unflatten", {In({2, 12})}, [](const Inputs& x) { return x[0].unflatten(1, {3, 4}); }});
  push({"repeat", {In({2, 3})}, [](const Inputs& x) { return x[0].repeat({2, 1, 2}); }});
  push({"clone", {In({2, 3})}, [](const Inputs& x) { return clone(x[0]); }});
  push({"cat_dim0", {In({2, 3}), In({1, 3})}, [](const Inputs& x) { return cat({x[0], x[1]}, 0); }});
  push({"cat_dim1", {In({2, 3}), In({2, 2}), In({2, 1})}, [](const Inputs& x) { return cat({x[0], x[1], x[2]}, 1); }});
  push({"stack", {In({2, 3}), In({2, 3})}, [](const Inputs& x) { return stack({x[0], x[1]}, 1); }});
  push({"split_second", {In({5, 3})}, [](const Inputs& x) { return split(x[0], 2, 0)[1]; }});
  push({"chunk_last", {In({2, 7})}, [](const Inputs& x) { return chunk(x[0], 3, 1)[2]; }});
  push({"unbind", {In({3, 4})}, [](const Inputs& x) {
         auto parts = unbind(x[0], 0);
         return mul(parts[0], parts[2]);
       }});
  push({"index_select", {In({4, 3})}, [](const Inputs& x) { return index_select(x[0], 0, longs({5}, {3, 0, 3, 1, 2})); }});
  push({"gather", {In({3, 4})}, [](const Inputs& x) {
         return gather(x[0], 1, longs({3, 2}, {0, 3, 1, 1, 2, 0}));
       }});
  push({"pad_constant", {In({2, 2, 3, 3})}, [](const Inputs& x) { return pad(x[0], {1, 2, 0, 1}, "constant", 0.5); }});
  push({"pad_reflect", {In({2, 2, 3, 4})}, [](const Inputs& x) { return pad(x[0], {2, 1, 1, 2}, "reflect"); }});
  push({"pad_replicate", {In({2, 2, 3, 3})}, [](const Inputs& x) { return pad(x[0], {2, 1, 1, 2}, "replicate"); }});
  push({"pad_circular", {In({2, 2, 3, 3})}, [](const Inputs& x) { return pad(x[0], {2, 1, 1, 2}, "circular"); }});

  // matrix products and convolutions are linear in each input, so the central difference
  // has no truncation error and a larger step only shrinks the float32 rounding in L
  // (a conv weight touches every output position, ~50 outputs of size ~5)
  push({"mm", {In({3, 4}), In({4, 2})}, [](const Inputs& x) { return mm(x[0], x[1]); }}).step(kBilinearStep);
  push({"matmul_1d_2d", {In({4}), In({4, 3})}, [](const Inputs& x) { return matmul(x[0], x[1]); }}).step(kBilinearStep);
  push({"matmul_2d_1d", {In({3, 4}), In({4})}, [](const Inputs& x) { return matmul(x[0], x[1]); }}).step(kBilinearStep);
  push({"matmul_1d_1d", {In({5}), In({5})}, [](const Inputs& x) { return matmul(x[0], x[1]); }}).step(kBilinearStep);
  push({"matmul_batched_broadcast", {In({2, 3, 4}), In({4, 2})}, [](const Inputs& x) { return matmul(x[0], x[1]); }}).step(kBilinearStep);
  push({"matmul_batch_dims_broadcast", {In({2, 1, 3, 2}), In({3, 2, 2})}, [](const Inputs& x) { return matmul(x[0], x[1]); }}).step(kBilinearStep);
  push({"bmm", {In({2, 3, 4}), In({2, 4, 2})}, [](const Inputs& x) { return bmm(x[0], x[1]); }}).step(kBilinearStep);
  push({"addmm", {In({2}), In({3, 4}), In({4, 2})}, [](const Inputs& x) { return addmm(x[0], x[1], x[2], 0.5, 2.0); }}).step(kBilinearStep);
  push({"linear", {In({3, 4}), In({2, 4}), In({2})}, [](const Inputs& x) { return linear(x[0], x[1], x[2]); }}).step(kBilinearStep);
  push({"linear_nobias_3d", {In({2, 3, 4}), In({5, 4})}, [](const Inputs& x) { return linear(x[0], x[1]); }}).step(kBilinearStep);

  // convolution: input, weight, bias all checked
  push({"conv2d", {In({2, 2, 5, 5}), In({3, 2, 3, 3}), In({3})},
       [](const Inputs& x) { return conv2d(x[0], x[1], x[2]); }}).step(kBilinearStep);
  push({"conv2d_s2_p1", {In({2, 2, 5, 5}), In({3, 2, 3, 3}), In({3})},
       [](const Inputs& x) { return conv2d(x[0], x[1], x[2], 2, 1); }}).step(kBilinearStep);
  push({"conv2d_dilation2_p2", {In({1, 2, 6, 6}), In({2, 2, 3, 3}), In({2})},
       [](const Inputs& x) { return conv2d(x[0], x[1], x[2], 1, 2, 2); }}).step(kBilinearStep);
  push({"conv2d_groups2_nobias", {In({2, 4, 4, 4}), In({4, 2, 3, 3})},
       [](const Inputs& x) { return conv2d(x[0], x[1], Tensor(), 1, 1, 1, 2); }}).step(kBilinearStep);
  push({"conv2d_depthwise", {In({2, 3, 5, 5}), In({3, 1, 3, 3}), In({3})},
       [](const Inputs& x) { return conv2d(x[0], x[1], x[2], 1, 1, 1, 3); }}).step(kBilinearStep);
  push({"conv2d_rect", {In({1, 2, 5, 6}), In({2, 2, 2, 3}), In({2})},
       [](const Inputs& x) {
         std::vector<int64_t> stride{2, 1}, padding{1, 0}, dilation{1, 2};
         return conv2d(x[0], x[1], x[2], stride, padding, dilation);
       }}).step(kBilinearStep);
  push({"conv2d_same_even", {In({1, 2, 5, 5}), In({2, 2, 4, 4}), In({2})},
       [](const Inputs& x) { return conv2d(x[0], x[1], x[2], 1, std::string("same")); }}).step(kBilinearStep);
  push({"conv2d_1x1_unbatched", {In({3, 4, 4}), In({2, 3, 1, 1}), In({2})},
       [](const Inputs& x) { return conv2d(x[0], x[1], x[2]); }}).step(kBilinearStep);

  // transposed and 1-d convolutions (LibTorch's F:: options for the transposed one)
  push({"conv_transpose2d_s2_p1_op1", {In({2, 3, 3, 3}), In({3, 2, 3, 3}), In({2})},
       [](const Inputs& x) { return conv_transpose2d(x[0], x[1], x[2], 2, 1, 1); }}).step(kBilinearStep);
  push({"conv_transpose2d_groups2_dilation2", {In({1, 4, 3, 4}), In({4, 1, 2, 3})},
       [](const Inputs& x) { return conv_transpose2d(x[0], x[1], {}, 1, 0, 0, 2, 2); }}).step(kBilinearStep);
  push({"conv1d_s2_p1", {In({2, 3, 7}), In({4, 3, 3}), In({4})},
       [](const Inputs& x) { return conv1d(x[0], x[1], x[2], 2, 1); }}).step(kBilinearStep);

  // upsampling and pixel shuffle (nn::functional; composed of recorded gathers and sums)
  push({"interpolate_nearest", {In({1, 2, 3, 3})}, [](const Inputs& x) {
         return nn::functional::interpolate(
             x[0], nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{5, 4}).mode(kNearest));
       }});
  push({"interpolate_bilinear", {In({1, 2, 3, 3})}, [](const Inputs& x) {
         return nn::functional::interpolate(
             x[0], nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{5, 4}).mode(kBilinear)
                       .align_corners(false));
       }});
  push({"interpolate_bilinear_corners", {In({1, 2, 3, 3})}, [](const Inputs& x) {
         return nn::functional::interpolate(
             x[0], nn::functional::InterpolateFuncOptions().scale_factor(std::vector<double>{2, 2}).mode(kBilinear)
                       .align_corners(true));
       }});
  push({"pixel_shuffle", {In({1, 8, 2, 3})},
       [](const Inputs& x) { return nn::functional::pixel_shuffle(x[0], nn::functional::PixelShuffleFuncOptions(2)); }});

  // pooling: max pools need a unique maximum per window
  push({"max_pool2d", {In({2, 2, 4, 4}).unique()}, [](const Inputs& x) { return max_pool2d(x[0], {2, 2}); }});
  push({"max_pool2d_s2_p1_k3", {In({1, 2, 5, 5}).unique()},
       [](const Inputs& x) { return max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}); }});
  push({"max_pool2d_dilation_ceil", {In({1, 2, 6, 6}).unique()},
       [](const Inputs& x) { return max_pool2d(x[0], {2, 2}, {2, 2}, {0, 0}, {2, 2}, true); }});
  push({"max_pool2d_overlap", {In({1, 1, 5, 5}).unique()},
       [](const Inputs& x) { return max_pool2d(x[0], {3, 3}, {1, 1}); }});
  push({"avg_pool2d", {In({2, 2, 4, 4})}, [](const Inputs& x) { return avg_pool2d(x[0], {2, 2}); }});
  push({"avg_pool2d_p1_nocount_ceil", {In({1, 2, 5, 5})},
       [](const Inputs& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, true, false); }});
  push({"avg_pool2d_divisor", {In({1, 2, 5, 5})},
       [](const Inputs& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, false, true, 4); }});
  push({"adaptive_avg_pool2d", {In({2, 2, 5, 7})}, [](const Inputs& x) { return adaptive_avg_pool2d(x[0], {3, 4}); }});
  push({"adaptive_avg_pool2d_1", {In({2, 3, 4, 4})}, [](const Inputs& x) { return adaptive_avg_pool2d(x[0], {1, 1}); }});
  push({"max_pool1d", {In({2, 3, 9}).unique()}, [](const Inputs& x) { return max_pool1d(x[0], 3, 2, 1); }});
  push({"avg_pool1d", {In({2, 3, 9})}, [](const Inputs& x) { return avg_pool1d(x[0], 3, 2, 1); }});
  push({"adaptive_avg_pool1d", {In({2, 3, 7})}, [](const Inputs& x) { return adaptive_avg_pool1d(x[0], 3); }});
  push({"adaptive_max_pool2d", {In({1, 2, 5, 7}).unique()},
       [](const Inputs& x) { return std::get<0>(adaptive_max_pool2d(x[0], {2, 3})); }});

  // normalisation: every input and affine parameter; eval mode takes running stats as constants
  push({"batch_norm_train", {In({3, 2, 2, 2}), In({2}).range(0.5, 1.5), In({2}), In({2}).constant(),
                            In({2}).range(0.5, 1.5).constant()},
       [](const Inputs& x) { return batch_norm(x[0], x[1], x[2], x[3], x[4], true, 0.1, 1e-5); }});
  push({"batch_norm_train_2d_noaffine", {In({4, 3})},
       [](const Inputs& x) { return batch_norm(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5); }});
  push({"batch_norm_eval", {In({2, 3, 2, 2}), In({3}), In({3}), In({3}).constant(), In({3}).range(0.5, 1.5).constant()},
       [](const Inputs& x) { return batch_norm(x[0], x[1], x[2], x[3], x[4], false, 0.1, 1e-5); }});
  push({"layer_norm", {In({2, 3, 4}), In({4}), In({4})},
       [](const Inputs& x) { return layer_norm(x[0], {4}, x[1], x[2]); }});
  push({"layer_norm_2dims", {In({2, 3, 4}), In({3, 4}), In({3, 4})},
       [](const Inputs& x) { return layer_norm(x[0], {3, 4}, x[1], x[2], 1e-3); }});
  push({"layer_norm_noaffine", {In({3, 5})}, [](const Inputs& x) { return layer_norm(x[0], {5}); }});
  push({"group_norm", {In({2, 4, 2, 2}), In({4}), In({4})},
       [](const Inputs& x) { return group_norm(x[0], 2, x[1], x[2]); }});
  push({"group_norm_noaffine", {In({2, 6, 3})}, [](const Inputs& x) { return group_norm(x[0], 3); }});
  push({"instance_norm", {In({2, 2, 3, 3}), In({2}), In({2})},
       [](const Inputs& x) { return instance_norm(x[0], x[1], x[2], Tensor(), Tensor(), true, 0.1, 1e-5); }});
  push({"instance_norm_eval_stats", {In({2, 2, 3, 3}), In({2}), In({2}), In({2}).constant(),
                                    In({2}).range(0.5, 1.5).constant()},
       [](const Inputs& x) { return instance_norm(x[0], x[1], x[2], x[3], x[4], false, 0.1, 1e-5); }});

  // dropout in eval is the identity; p = 0 in training too
  push({"dropout_eval", {In({2, 3})}, [](const Inputs& x) { return dropout(x[0], 0.5, false); }});
  push({"dropout_train_p0", {In({2, 3})}, [](const Inputs& x) { return dropout(x[0], 0.0, true); }});
  push({"feature_dropout_eval", {In({2, 3, 2, 2})}, [](const Inputs& x) { return feature_dropout(x[0], 0.3, false); }});

  // a composite: conv -> batch norm -> tanh -> avg pool -> linear, every parameter at once
  // (smooth on purpose: a ReLU or max inside a network has kinks that sampling the inputs
  // cannot keep away from; those ops are checked alone above)
  push({"composite_cnn", {In({2, 1, 4, 4}), In({2, 1, 3, 3}), In({2}), In({2}).range(0.5, 1.5), In({2}),
                          In({3, 8}), In({3})},
        [](const Inputs& x) {
          Tensor h = conv2d(x[0], x[1], x[2], 1, 1);
          h = batch_norm(h, x[3], x[4], Tensor(), Tensor(), true, 0.1, 1e-5);
          h = avg_pool2d(tanh(h), {2, 2});
          return linear(flatten(h, 1), x[5], x[6]);
        }});
  return cases;
}

const std::map<std::string, Case>& table() {
  static const std::map<std::string, Case> m = [] {
    std::map<std::string, Case> out;
    for (Case& c : all_cases()) {
      std::string name = c.name;
      out.emplace(std::move(name), std::move(c));
    }
    return out;
  }();
  return m;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  for (const Case& c : all_cases()) names.push_back(c.name);
  return names;
}

std::string test_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

class GradCheck : public ::testing::TestWithParam<std::string> {};

TEST_P(GradCheck, AutogradMatchesFiniteDifferences) { run_case(table().at(GetParam())); }

INSTANTIATE_TEST_SUITE_P(Ops, GradCheck, ::testing::ValuesIn(case_names()), test_name);

// Every case's second order (double backward), except the ops whose backward is not written
// with differentiable ops: those must refuse a second backward, not return a wrong one.
bool first_order_only(const std::string& name) { return name == "prod"; }

class GradGradCheck : public ::testing::TestWithParam<std::string> {};

TEST_P(GradGradCheck, DoubleBackwardMatchesFiniteDifferences) {
  const Case& c = table().at(GetParam());
  if (first_order_only(c.name)) GTEST_SKIP() << "first order only; see GradGradCheckTable.ProdRefusesDoubleBackward";
  run_second_order(c);
}

INSTANTIATE_TEST_SUITE_P(Ops, GradGradCheck, ::testing::ValuesIn(case_names()), test_name);

TEST(GradGradCheckTable, ProdRefusesDoubleBackward) {
  Tensor x = cnnkit::tensor({1.5f, 2.0f, -0.5f}).set_requires_grad(true);
  TensorList g = autograd::grad({prod(x)}, {x}, {}, true, /*create_graph=*/true);
  ASSERT_TRUE(g[0].requires_grad());
  EXPECT_FLOAT_EQ(g[0].to_vector()[0], -1.0f);  // the first order is still right
  try {
    sum(g[0]).backward();
    FAIL() << "a second backward through ProdBackward must throw";
  } catch (const NotImplementedError& e) {
    EXPECT_NE(std::string(e.what()).find("double backward through ProdBackward is not supported"), std::string::npos)
        << e.what();
  }
}

TEST(GradCheckTable, CaseNamesAreUnique) {
  EXPECT_EQ(table().size(), case_names().size());
}

// The checker itself: x * x recorded with the backward of x (half the true gradient) must
// be caught.
Tensor square_with_wrong_backward(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = mul(x, x);
  }
  if (autograd::needs_grad({x}))
    autograd::record("WrongSquareBackward", {x}, {y},
                     [xd = x.detach()](const TensorList& g) { return TensorList{mul(g[0], xd)}; });
  return y;
}

void check_wrong_square() {
  run_case(Case{"wrong_square", {In({1}).range(1, 2)}, [](const Inputs& x) { return square_with_wrong_backward(x[0]); }});
}

TEST(GradCheckSelfTest, CatchesAWrongBackward) {
  EXPECT_NONFATAL_FAILURE(check_wrong_square(), "wrong_square: input 0");
}

}  // namespace
