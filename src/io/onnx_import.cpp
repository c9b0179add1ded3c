// ONNX import: a ModelProto checked once (opset, ops, topological order, dtypes), its weight
// initializers turned into parameters and running statistics, and a forward that runs the
// nodes in order with cnnkit's differentiable ops, so an imported model also trains. The
// op table is at the bottom: one entry per op type, with the opset forms it reads.
// Shape arithmetic (Shape, Gather, Concat, ... on int64 vectors) runs on the host.
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/io/onnx.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/ops/ops.h"
#include "io/onnx_proto.h"

namespace cnnkit::io {

using detail::OnnxGraph;
using Ints = std::vector<int64_t>;

namespace {

// ---------------------------------------------------------------------------------------
// Attributes and messages
// ---------------------------------------------------------------------------------------

std::string describe(const onnx::NodeProto& n, int64_t opset, const std::string& path) {
  std::ostringstream s;
  s << "node '" << (n.name().empty() ? std::string("(unnamed)") : n.name()) << "' (" << n.op_type() << ", opset "
    << opset << ") of '" << path << "'";
  return s.str();
}

const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const char* name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// One node's run: its inputs, attributes and mode
// ---------------------------------------------------------------------------------------

struct Ctx {
  const onnx::NodeProto& node;
  std::vector<Tensor> in;  // undefined for an omitted optional input
  bool training;
  int64_t opset;
  const std::string& path;

  std::string where() const { return describe(node, opset, path); }
  [[noreturn]] void fail(const std::string& what) const {
    throw ValueError(where() + ": " + what);
  }
  const Tensor& input(size_t i) const {
    if (i >= in.size() || !in[i].defined()) fail("input " + std::to_string(i) + " is required");
    return in[i];
  }
  bool has(size_t i) const { return i < in.size() && in[i].defined(); }
  int64_t i(const char* name, int64_t def) const {
    const auto* a = find_attr(node, name);
    return a ? a->i() : def;
  }
  double f(const char* name, double def) const {
    const auto* a = find_attr(node, name);
    return a ? static_cast<double>(a->f()) : def;
  }
  std::string s(const char* name, const std::string& def) const {
    const auto* a = find_attr(node, name);
    return a ? a->s() : def;
  }
  Ints ints(const char* name, Ints def) const {
    const auto* a = find_attr(node, name);
    return a ? Ints(a->ints().begin(), a->ints().end()) : def;
  }
  bool has_attr(const char* name) const { return find_attr(node, name) != nullptr; }
};

Ints to_ints(const Tensor& t, const Ctx& c, const char* what) {
  if (t.scalar_type() != kLong) c.fail(std::string(what) + " must be an int64 tensor");
  Tensor x = t.contiguous();
  const int64_t* p = x.data_ptr<int64_t>();
  return Ints(p, p + x.numel());
}

Tensor from_ints(const Ints& v, IntArrayRef sizes) {
  Tensor t = cnnkit::empty(sizes, TensorOptions().dtype(kLong));
  std::copy(v.begin(), v.end(), t.data_ptr<int64_t>());
  return t;
}
Tensor from_ints(const Ints& v) { return from_ints(v, {static_cast<int64_t>(v.size())}); }

int64_t wrap_axis(int64_t axis, int64_t rank, const Ctx& c) {
  if (axis < -rank || axis >= rank)
    c.fail("axis " + std::to_string(axis) + " is out of range for a rank-" + std::to_string(rank) + " input");
  return axis < 0 ? axis + rank : axis;
}

Ints sizes_of(const Tensor& t) { return Ints(t.sizes().begin(), t.sizes().end()); }

// Per-side padding of a 2-D conv or pooling: pads attribute or auto_pad.
struct Pads2d {
  std::array<int64_t, 2> lo{0, 0}, hi{0, 0};
  bool symmetric() const { return lo == hi; }
};

// A 1-d op (input (N, C, L)) runs as the 2-d op of a height-1 image (N, C, 1, L): x and the
// window are lifted (kernel, strides, dilations gain a leading 1, pads a leading 0).
Pads2d pads_2d(const Ctx& c, const Tensor& x, const Ints& kernel, const Ints& strides, const Ints& dilations,
               bool one_d = false) {
  Pads2d p;
  const std::string auto_pad = c.s("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    Ints pads = c.ints("pads", Ints(one_d ? 2 : 4, 0));
    if (pads.size() != (one_d ? 2u : 4u)) c.fail(one_d ? "pads must hold 2 values for a 1-D op" : "pads must hold 4 values for a 2-D op");
    if (one_d) pads = {0, pads[0], 0, pads[1]};
    p.lo = {pads[0], pads[1]};
    p.hi = {pads[2], pads[3]};
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t d = 0; d < 2; ++d) {
      const int64_t in = x.size(static_cast<int64_t>(d) + 2), s = strides[d];
      const int64_t out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + (kernel[d] - 1) * dilations[d] + 1 - in);
      const int64_t small = total / 2, big = total - small;
      p.lo[d] = auto_pad == "SAME_UPPER" ? small : big;
      p.hi[d] = auto_pad == "SAME_UPPER" ? big : small;
    }
  } else if (auto_pad != "VALID") {
    c.fail("auto_pad '" + auto_pad + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  }
  return p;
}

// Strides, dilations and kernel sizes >= 1, pads >= 0: a damaged file fails here, by name.
void check_window(const Ctx& c, const Ints& kernel, const Ints& strides, const Ints& dilations, const Pads2d& p) {
  if (kernel.size() != 2 || strides.size() != 2 || dilations.size() != 2)
    c.fail("kernel_shape, strides and dilations must hold 2 values each");
  for (size_t d = 0; d < 2; ++d) {
    if (kernel[d] < 1 || strides[d] < 1 || dilations[d] < 1)
      c.fail("kernel sizes, strides and dilations must be positive");
    if (p.lo[d] < 0 || p.hi[d] < 0 || p.lo[d] > (int64_t{1} << 20) || p.hi[d] > (int64_t{1} << 20))
      c.fail("pads must be between 0 and 2^20");
  }
}

void require_4d(const Ctx& c, const Tensor& x) {
  if (x.dim() != 4)
    throw NotImplementedError(c.where() + ": only 2-D (N, C, H, W) inputs are supported, got sizes " +
                              [&] { std::ostringstream s; s << x.sizes(); return s.str(); }());
}

// Convolutions and pooling: (N, C, L) or (N, C, H, W). True for a 1-d op.
bool require_3d_or_4d(const Ctx& c, const Tensor& x) {
  if (x.dim() != 3 && x.dim() != 4)
    throw NotImplementedError(c.where() + ": only 1-D (N, C, L) and 2-D (N, C, H, W) inputs are supported, got sizes " +
                              [&] { std::ostringstream s; s << x.sizes(); return s.str(); }());
  return x.dim() == 3;
}

// A window attribute (kernel_shape, strides, dilations) with 2 values; a 1-d op's one value
// gets a leading 1. `fallback` when the attribute is absent (empty: required).
Ints window_attr(const Ctx& c, const char* name, bool one_d, std::optional<int64_t> fallback) {
  const size_t n = one_d ? 1 : 2;
  Ints v = fallback ? c.ints(name, Ints(n, *fallback)) : c.ints(name, {});
  if (v.size() != n) c.fail(std::string(name) + " must hold " + std::to_string(n) + " value" + (one_d ? "" : "s") +
                            " for a " + (one_d ? "1" : "2") + "-D op");
  if (one_d) v.insert(v.begin(), 1);
  return v;
}

// ---------------------------------------------------------------------------------------
// Ops
// ---------------------------------------------------------------------------------------

using Outs = std::vector<Tensor>;

Outs op_conv(Ctx& c) {
  const bool one_d = require_3d_or_4d(c, c.input(0));
  const Tensor x = one_d ? c.input(0).unsqueeze(2) : c.input(0);
  const Tensor& w_in = c.input(1);
  if (w_in.dim() != (one_d ? 3 : 4))
    c.fail(one_d ? "the weight must be (C_out, C_in / group, k)" : "the weight must be (C_out, C_in / group, kH, kW)");
  const Tensor w = one_d ? w_in.unsqueeze(2) : w_in;
  const Ints strides = window_attr(c, "strides", one_d, 1), dil = window_attr(c, "dilations", one_d, 1);
  const Pads2d p = pads_2d(c, x, {w.size(2), w.size(3)}, strides, dil, one_d);
  check_window(c, {w.size(2), w.size(3)}, strides, dil, p);
  if (c.i("group", 1) < 1) c.fail("group must be positive");
  Tensor y = conv2d_padded(x, w, c.has(2) ? c.in[2] : Tensor(), {strides[0], strides[1]}, p.lo, p.hi,
                           {dil[0], dil[1]}, c.i("group", 1));
  return {one_d ? y.squeeze(2) : y};
}

// ConvTranspose with explicit pads (symmetric per dim, as PyTorch's padding) and
// output_padding; auto_pad and output_shape are not supported.
Outs op_conv_transpose(Ctx& c) {
  const Tensor& x = c.input(0);
  const Tensor& w = c.input(1);
  require_4d(c, x);
  if (w.dim() != 4) c.fail("the weight must be (C_in, C_out / group, kH, kW)");
  if (c.s("auto_pad", "NOTSET") != "NOTSET" || c.has_attr("output_shape"))
    throw NotImplementedError(c.where() + ": auto_pad and output_shape are not supported (give pads and output_padding)");
  const Ints strides = c.ints("strides", {1, 1}), dil = c.ints("dilations", {1, 1});
  const Ints pads = c.ints("pads", {0, 0, 0, 0}), out_pad = c.ints("output_padding", {0, 0});
  if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4 || out_pad.size() != 2)
    c.fail("strides, dilations and output_padding must hold 2 values, pads 4");
  if (pads[0] != pads[2] || pads[1] != pads[3]) throw NotImplementedError(c.where() + ": asymmetric pads are not supported");
  return {conv_transpose2d(x, w, c.has(2) ? c.in[2] : Tensor(), strides, {pads[0], pads[1]}, out_pad, c.i("group", 1),
                           dil)};
}

Outs op_max_pool(Ctx& c) {
  const bool one_d = require_3d_or_4d(c, c.input(0));
  const Tensor x = one_d ? c.input(0).unsqueeze(2) : c.input(0);
  if (c.node.output_size() > 1 && !c.node.output(1).empty())
    throw NotImplementedError(c.where() + ": the Indices output is not supported");
  const Ints k = window_attr(c, "kernel_shape", one_d, std::nullopt);
  const Ints strides = window_attr(c, "strides", one_d, 1), dil = window_attr(c, "dilations", one_d, 1);
  const Pads2d p = pads_2d(c, x, k, strides, dil, one_d);
  check_window(c, k, strides, dil, p);
  const bool ceil = c.i("ceil_mode", 0) != 0;
  Tensor y;
  if (p.symmetric()) {
    y = max_pool2d(x, k, strides, {p.lo[0], p.lo[1]}, dil, ceil);
  } else {
    if (ceil) throw NotImplementedError(c.where() + ": asymmetric pads with ceil_mode are not supported");
    Tensor padded = pad(x, {p.lo[1], p.hi[1], p.lo[0], p.hi[0]}, "constant", -std::numeric_limits<double>::infinity());
    y = max_pool2d(padded, k, strides, 0, dil, false);
  }
  return {one_d ? y.squeeze(2) : y};
}

Outs op_average_pool(Ctx& c) {
  const bool one_d = require_3d_or_4d(c, c.input(0));
  const Tensor x = one_d ? c.input(0).unsqueeze(2) : c.input(0);
  const Ints k = window_attr(c, "kernel_shape", one_d, std::nullopt);
  const Ints strides = window_attr(c, "strides", one_d, 1);
  const Pads2d p = pads_2d(c, x, k, strides, {1, 1}, one_d);
  check_window(c, k, strides, {1, 1}, p);
  const bool ceil = c.i("ceil_mode", 0) != 0, include = c.i("count_include_pad", 0) != 0;
  Tensor y;
  if (p.symmetric()) {
    y = avg_pool2d(x, k, strides, {p.lo[0], p.lo[1]}, ceil, include);
  } else {
    if (ceil || !include)
      throw NotImplementedError(c.where() +
                                ": asymmetric pads are supported only with count_include_pad=1 and ceil_mode=0");
    y = avg_pool2d(pad(x, {p.lo[1], p.hi[1], p.lo[0], p.hi[0]}), k, strides, 0, false, true);
  }
  return {one_d ? y.squeeze(2) : y};
}

Ints spatial_dims(const Tensor& x) {
  Ints d;
  for (int64_t i = 2; i < x.dim(); ++i) d.push_back(i);
  return d;
}

Outs op_batch_norm(Ctx& c) {
  const Tensor& x = c.input(0);
  Tensor mean = c.input(3), var = c.input(4);
  // ONNX's momentum weighs the old running value; PyTorch's the new batch statistic.
  const double momentum = 1.0 - c.f("momentum", 0.9);
  Tensor y = batch_norm(x, c.input(1), c.input(2), mean, var, c.training, momentum, c.f("epsilon", 1e-5));
  // Training-mode graphs (opset 13's 5 outputs, 14's 3) also name the updated running
  // statistics, and opset 13's the batch's saved mean and variance: given as the running ones.
  Outs out = {y};
  for (int o = 1; o < c.node.output_size(); ++o) out.push_back(o % 2 ? mean : var);
  return out;
}

// (x - mean) / sqrt(var + eps) * scale + bias over the dims after the channel, for any rank
// (GroupNorm's export feeds (N, G, L)).
Outs op_instance_norm(Ctx& c) {
  const Tensor& x = c.input(0);
  if (x.dim() < 3) c.fail("the input must be (N, C, D1, ...)");
  const Ints dims = spatial_dims(x);
  Ints affine = {x.size(1)};
  for (size_t i = 0; i < dims.size(); ++i) affine.push_back(1);
  Tensor centred = x - mean(x, dims, true);
  Tensor var = mean(square(centred), dims, true);
  Tensor y = centred * rsqrt(var + c.f("epsilon", 1e-5));
  return {y * c.input(1).reshape(affine) + c.input(2).reshape(affine)};
}

Outs op_layer_norm(Ctx& c) {
  const Tensor& x = c.input(0);
  const int64_t axis = wrap_axis(c.i("axis", -1), x.dim(), c);
  Ints shape;
  for (int64_t d = axis; d < x.dim(); ++d) shape.push_back(x.size(d));
  for (int i = 1; i < c.node.output_size(); ++i)
    if (!c.node.output(i).empty())
      throw NotImplementedError(c.where() + ": the Mean and InvStdDev outputs are not supported");
  Tensor w = c.input(1), b = c.has(2) ? c.in[2] : Tensor();
  return {layer_norm(x, shape, w.reshape(shape), b.defined() ? b.reshape(shape) : b, c.f("epsilon", 1e-5))};
}

Outs op_gemm(Ctx& c) {
  Tensor a = c.input(0), b = c.input(1);
  if (a.dim() != 2 || b.dim() != 2) c.fail("A and B must be matrices");
  if (c.i("transA", 0)) a = a.t();
  if (c.i("transB", 0)) b = b.t();
  Tensor y = mm(a, b);
  const double alpha = c.f("alpha", 1.0), beta = c.f("beta", 1.0);
  if (alpha != 1.0) y = y * alpha;
  if (c.has(2)) y = y + (beta == 1.0 ? c.in[2] : c.in[2] * beta);
  return {y};
}

Outs op_softmax(Ctx& c, bool log) {
  const Tensor& x = c.input(0);
  if (c.opset >= 13) {
    const int64_t axis = wrap_axis(c.i("axis", -1), x.dim(), c);
    return {log ? log_softmax(x, axis) : softmax(x, axis)};
  }
  // Before opset 13: over the flattened dims from `axis` on (default 1).
  const int64_t axis = wrap_axis(c.i("axis", 1), x.dim(), c);
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.size(d);
  Tensor flat = x.reshape({rows, -1});
  return {(log ? log_softmax(flat, 1) : softmax(flat, 1)).reshape(x.sizes())};
}

// Axes from the attribute (before `input_from`) or from input 1.
Ints axes_of(Ctx& c, int64_t input_from, bool required) {
  if (c.opset >= input_from) {
    if (c.has(1)) return to_ints(c.in[1], c, "axes");
    if (required) c.fail("the axes input is required");
    return {};
  }
  return c.ints("axes", {});
}

Outs op_reduce(Ctx& c, const std::string& kind) {
  const Tensor& x = c.input(0);
  const int64_t input_from = kind == "sum" ? 13 : 18;
  Ints axes = axes_of(c, input_from, false);
  const bool keep = c.i("keepdims", 1) != 0;
  if (axes.empty()) {
    if (c.i("noop_with_empty_axes", 0)) return {x};
    for (int64_t d = 0; d < x.dim(); ++d) axes.push_back(d);
  }
  for (auto& a : axes) a = wrap_axis(a, x.dim(), c);
  if (kind == "mean") return {mean(x, axes, keep)};
  if (kind == "sum") return {sum(x, axes, keep)};
  return {amax(x, axes, keep)};
}

Outs op_reshape(Ctx& c) {
  const Tensor& x = c.input(0);
  Ints shape = to_ints(c.input(1), c, "the shape");
  const bool allowzero = c.i("allowzero", 0) != 0;
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] == 0 && !allowzero) {
      if (static_cast<int64_t>(d) >= x.dim()) c.fail("a 0 in the shape copies a dimension the input does not have");
      shape[d] = x.size(static_cast<int64_t>(d));
    }
  return {x.reshape(shape)};
}

Outs op_flatten(Ctx& c) {
  const Tensor& x = c.input(0);
  int64_t axis = c.i("axis", 1);
  if (axis < 0) axis += x.dim();
  if (axis < 0 || axis > x.dim()) c.fail("axis out of range");
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.size(d);
  int64_t cols = 1;
  for (int64_t d = axis; d < x.dim(); ++d) cols *= x.size(d);
  return {x.reshape({rows, cols})};
}

Outs op_shape(Ctx& c) {
  const Ints s = sizes_of(c.input(0));
  const auto r = static_cast<int64_t>(s.size());
  int64_t start = c.i("start", 0), end = c.i("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, start, r);
  return {from_ints(Ints(s.begin() + start, s.begin() + end))};
}

Outs op_gather(Ctx& c) {
  const Tensor& data = c.input(0);
  const Tensor& idx = c.input(1);
  if (data.dim() == 0) c.fail("Gather on a scalar");
  const int64_t axis = wrap_axis(c.i("axis", 0), data.dim(), c);
  Ints index = to_ints(idx, c, "the indices");
  const int64_t n = data.size(axis);
  for (auto& i : index) {
    if (i < -n || i >= n) c.fail("index " + std::to_string(i) + " is out of range for a dimension of " + std::to_string(n));
    if (i < 0) i += n;
  }
  Ints out_shape(data.sizes().begin(), data.sizes().begin() + axis);
  for (int64_t s : idx.sizes()) out_shape.push_back(s);
  for (int64_t d = axis + 1; d < data.dim(); ++d) out_shape.push_back(data.size(d));
  if (data.scalar_type() == kLong && data.dim() == 1) {  // shape arithmetic
    const Ints v = to_ints(data, c, "data");
    Ints out;
    for (int64_t i : index) out.push_back(v[static_cast<size_t>(i)]);
    return {from_ints(out, out_shape)};
  }
  return {index_select(data, axis, from_ints(index)).reshape(out_shape)};
}

Outs op_unsqueeze(Ctx& c) {
  const Tensor& x = c.input(0);
  Ints axes = axes_of(c, 13, true);
  const int64_t r = x.dim() + static_cast<int64_t>(axes.size());
  for (auto& a : axes) a = wrap_axis(a, r, c);
  std::sort(axes.begin(), axes.end());
  Ints shape;
  size_t src = 0, k = 0;
  for (int64_t d = 0; d < r; ++d) {
    if (k < axes.size() && axes[k] == d) {
      shape.push_back(1);
      ++k;
    } else {
      shape.push_back(x.size(static_cast<int64_t>(src++)));
    }
  }
  return {x.reshape(shape)};
}

Outs op_squeeze(Ctx& c) {
  const Tensor& x = c.input(0);
  Ints axes = axes_of(c, 13, false);
  for (auto& a : axes) a = wrap_axis(a, x.dim(), c);
  Ints shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool listed = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (listed && x.size(d) != 1) c.fail("cannot squeeze dimension " + std::to_string(d) + " of size " + std::to_string(x.size(d)));
    if ((axes.empty() && x.size(d) == 1) || listed) continue;
    shape.push_back(x.size(d));
  }
  return {x.reshape(shape)};
}

Outs op_concat(Ctx& c) {
  std::vector<Tensor> parts;
  for (const auto& t : c.in)
    if (t.defined()) parts.push_back(t);
  if (parts.empty()) c.fail("no inputs");
  const int64_t axis = wrap_axis(c.i("axis", 0), parts[0].dim(), c);
  if (parts[0].scalar_type() == kLong && parts[0].dim() == 1) {
    Ints out;
    for (const auto& p : parts) {
      Ints v = to_ints(p, c, "inputs");
      out.insert(out.end(), v.begin(), v.end());
    }
    return {from_ints(out)};
  }
  return {cat(parts, axis)};
}

Outs op_slice(Ctx& c) {
  const Tensor& x = c.input(0);
  Ints starts, ends, axes, steps;
  if (c.opset >= 10) {
    starts = to_ints(c.input(1), c, "starts");
    ends = to_ints(c.input(2), c, "ends");
    if (c.has(3)) axes = to_ints(c.in[3], c, "axes");
    if (c.has(4)) steps = to_ints(c.in[4], c, "steps");
  } else {
    starts = c.ints("starts", {});
    ends = c.ints("ends", {});
    axes = c.ints("axes", {});
  }
  if (starts.size() != ends.size()) c.fail("starts and ends differ in length");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size()) c.fail("axes and steps must match starts");
  Tensor y = x;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = wrap_axis(axes[i], x.dim(), c), n = x.size(axis), step = steps[i];
    if (step == 0) c.fail("a step of 0");
    // ONNX's clamping: starts and ends wrap once, then clamp to [0, n] (step > 0) or
    // [-1, n - 1] (step < 0, where -1 means "before the first element").
    auto clampi = [&](int64_t v) {
      if (v < 0) v += n;
      return step > 0 ? std::clamp<int64_t>(v, 0, n) : std::clamp<int64_t>(v, -1, n - 1);
    };
    const int64_t s = clampi(starts[i]), e = clampi(ends[i]);
    if (step == 1) {
      y = narrow(y, axis, s, std::max<int64_t>(e - s, 0));
      continue;
    }
    Ints index;
    for (int64_t k = s; step > 0 ? k < e : k > e; k += step) index.push_back(k);
    y = index_select(y, axis, from_ints(index));
  }
  if (y.scalar_type() == kLong) return {y.contiguous()};
  return {y};
}

Outs op_transpose(Ctx& c) {
  const Tensor& x = c.input(0);
  Ints perm = c.ints("perm", {});
  if (perm.empty())
    for (int64_t d = x.dim() - 1; d >= 0; --d) perm.push_back(d);
  if (static_cast<int64_t>(perm.size()) != x.dim()) c.fail("perm must list every dimension");
  return {permute(x, perm)};
}

// DepthToSpace (N, C * b * b, H, W) -> (N, C, H * b, W * b): CRD is PyTorch's pixel_shuffle,
// DCR (the default) takes the block offsets from the outer channel bits.
Outs op_depth_to_space(Ctx& c) {
  const Tensor& x = c.input(0);
  const int64_t b = c.i("blocksize", 0);
  const std::string mode = c.s("mode", "DCR");
  if (x.dim() != 4) c.fail("expects a 4-d input");
  if (b <= 0) c.fail("blocksize must be positive");
  if (mode != "DCR" && mode != "CRD") c.fail("mode must be DCR or CRD, got '" + mode + "'");
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  if (C % (b * b) != 0) c.fail("the channels (" + std::to_string(C) + ") are not a multiple of blocksize^2");
  if (mode == "CRD") return {nn::functional::pixel_shuffle(x, b)};
  const Tensor y = x.reshape({N, b, b, C / (b * b), H, W}).permute({0, 3, 4, 1, 5, 2});
  return {y.reshape({N, C / (b * b), H * b, W * b})};
}

// Resize as PyTorch's interpolate where the two agree: nearest with 'asymmetric' + 'floor',
// linear over the last one or two dims with 'pytorch_half_pixel' / 'half_pixel' or
// 'align_corners'; scales (N and C at 1) or sizes.
Outs op_resize(Ctx& c) {
  const Tensor& x = c.input(0);
  const int64_t r = x.dim();
  if (r != 3 && r != 4) c.fail("only (N, C, L) and (N, C, H, W) inputs are supported");
  const std::string mode = c.s("mode", "nearest"), ct = c.s("coordinate_transformation_mode", "half_pixel");
  nn::functional::InterpolateFuncOptions o;
  if (mode == "nearest") {
    if (ct != "asymmetric" || c.s("nearest_mode", "round_prefer_floor") != "floor")
      c.fail("nearest resizing is supported with coordinate_transformation_mode 'asymmetric' and nearest_mode "
             "'floor' (PyTorch's nearest), got '" + ct + "' and '" + c.s("nearest_mode", "round_prefer_floor") + "'");
    o.mode(kNearest);
  } else if (mode == "linear") {
    if (ct != "pytorch_half_pixel" && ct != "half_pixel" && ct != "align_corners")
      c.fail("linear resizing is supported with coordinate_transformation_mode 'pytorch_half_pixel', 'half_pixel' or "
             "'align_corners', got '" + ct + "'");
    o.align_corners(ct == "align_corners");
    if (r == 4) o.mode(kBilinear);
    else o.mode(kLinear);
  } else {
    c.fail("mode '" + mode + "' is not supported (nearest, linear)");
  }
  if (c.has(3)) {
    const Ints sizes = to_ints(c.input(3), c, "sizes");
    if (static_cast<int64_t>(sizes.size()) != r || sizes[0] != x.size(0) || sizes[1] != x.size(1))
      c.fail("sizes must hold one entry per dimension and keep N and C");
    o.size(std::vector<int64_t>(sizes.begin() + 2, sizes.end()));
  } else if (c.has(2) && c.input(2).numel() > 0) {
    const std::vector<float> scales = c.input(2).contiguous().to_vector();
    if (static_cast<int64_t>(scales.size()) != r || scales[0] != 1.0f || scales[1] != 1.0f)
      c.fail("scales must hold one entry per dimension, 1 for N and C");
    o.scale_factor(std::vector<double>(scales.begin() + 2, scales.end()));
  } else {
    c.fail("needs scales or sizes");
  }
  return {nn::functional::interpolate(x, o)};
}

Outs op_pad(Ctx& c) {
  const Tensor& x = c.input(0);
  Ints pads;
  double value = 0;
  if (c.opset >= 11) {
    pads = to_ints(c.input(1), c, "pads");
    if (c.has(2)) value = c.in[2].item<float>();
    if (c.has(3)) throw NotImplementedError(c.where() + ": the axes input is not supported");
  } else {
    pads = c.ints("pads", {});
    value = c.f("value", 0.0);
  }
  const int64_t r = x.dim();
  if (static_cast<int64_t>(pads.size()) != 2 * r) c.fail("pads must hold 2 values per input dimension");
  // ONNX: all begins, then all ends, first dim first; cnnkit (torch): (begin, end) pairs, last dim first.
  Ints spec;
  int64_t last = -1;
  for (int64_t d = 0; d < r; ++d)
    if (pads[static_cast<size_t>(d)] != 0 || pads[static_cast<size_t>(d + r)] != 0) last = d;
  if (last < 0) return {x};
  int64_t first = r;
  for (int64_t d = 0; d < r; ++d)
    if (pads[static_cast<size_t>(d)] != 0 || pads[static_cast<size_t>(d + r)] != 0) { first = d; break; }
  for (int64_t d = r - 1; d >= first; --d) {
    spec.push_back(pads[static_cast<size_t>(d)]);
    spec.push_back(pads[static_cast<size_t>(d + r)]);
  }
  const std::string mode = c.s("mode", "constant");
  if (mode == "constant") return {pad(x, spec, "constant", value)};
  if (mode == "reflect") return {pad(x, spec, "reflect")};
  if (mode == "edge") return {pad(x, spec, "replicate")};
  throw NotImplementedError(c.where() + ": pad mode '" + mode + "' is not supported (constant, reflect, edge are)");
}

Tensor attribute_tensor(const onnx::AttributeProto& a, const std::string& where) {
  switch (a.type()) {
    case onnx::AttributeProto::TENSOR: return detail::from_proto(a.t(), where);
    case onnx::AttributeProto::FLOAT: return full({}, static_cast<double>(a.f()));
    case onnx::AttributeProto::FLOATS: {
      Tensor t = cnnkit::empty({a.floats_size()});
      std::copy(a.floats().begin(), a.floats().end(), t.data_ptr<float>());
      return t;
    }
    case onnx::AttributeProto::INT: return from_ints({a.i()}, {});
    case onnx::AttributeProto::INTS: return from_ints(Ints(a.ints().begin(), a.ints().end()));
    default: throw NotImplementedError(where + ": a Constant of attribute type " + std::to_string(a.type()));
  }
}

Outs op_constant(Ctx& c) {
  for (const char* name : {"value", "value_float", "value_floats", "value_int", "value_ints"})
    if (const auto* a = find_attr(c.node, name)) return {attribute_tensor(*a, c.where())};
  throw NotImplementedError(c.where() + ": a Constant without value / value_float(s) / value_int(s)");
}

Outs op_constant_of_shape(Ctx& c) {
  const Ints shape = to_ints(c.input(0), c, "the shape");
  const auto* a = find_attr(c.node, "value");
  if (!a) return {zeros(shape)};
  Tensor v = detail::from_proto(a->t(), c.where());
  if (v.numel() != 1) c.fail("value must hold one element");
  if (v.scalar_type() == kLong) return {full(shape, v.item<int64_t>(), TensorOptions().dtype(kLong))};
  return {full(shape, static_cast<double>(v.item<float>()))};
}

Outs op_dropout(Ctx& c) {
  const Tensor& x = c.input(0);
  double ratio = c.f("ratio", 0.5);
  if (c.opset >= 12 && c.has(1)) ratio = c.in[1].item<float>();
  if (ratio < 0 || ratio >= 1) c.fail("ratio must be in [0, 1), got " + std::to_string(ratio));
  const bool wants_mask = c.node.output_size() > 1 && !c.node.output(1).empty();
  // Drops while the module trains, as nn::Dropout would; the identity (mask all true) in eval.
  if (!c.training || ratio == 0.0) {
    if (!wants_mask) return {x};
    return {x, full(x.sizes(), 1, TensorOptions().dtype(kBool))};
  }
  if (!wants_mask) return {dropout(x, ratio, true)};
  Tensor keep = rand(x.sizes()) >= ratio;
  return {x * keep.to(kFloat) / (1.0 - ratio), keep};
}

Outs op_clip(Ctx& c) {
  std::optional<double> lo, hi;
  if (c.opset >= 11) {
    if (c.has(1)) lo = c.in[1].item<float>();
    if (c.has(2)) hi = c.in[2].item<float>();
  } else {
    if (c.has_attr("min")) lo = c.f("min", 0);
    if (c.has_attr("max")) hi = c.f("max", 0);
  }
  return {clamp(c.input(0), lo, hi)};
}

Outs op_pow(Ctx& c) {
  const Tensor& e = c.input(1);
  if (e.numel() == 1 && !e.requires_grad()) return {pow(c.input(0), static_cast<double>(e.to(kFloat).item<float>()))};
  return {pow(c.input(0), e)};
}

Outs op_prelu(Ctx& c) {
  const Tensor& x = c.input(0);
  Tensor slope = c.input(1);
  // max(0, x) + slope * min(0, x), slope broadcasting as ONNX says.
  return {relu(x) - slope * relu(-x)};
}

Outs op_cast(Ctx& c) {
  const int64_t to = c.i("to", 0);
  if (to == onnx::TensorProto::FLOAT) return {c.input(0).to(kFloat)};
  if (to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32) return {c.input(0).to(kLong)};
  if (to == onnx::TensorProto::BOOL) return {c.input(0).to(kBool)};
  throw NotImplementedError(c.where() + ": Cast to data type " + std::to_string(to));
}

// Add / Sub / Mul / Div: float through the differentiable ops (broadcasting); int64 shape
// arithmetic (x.size(1) * x.size(2) in a view) on the host, Div truncating as ONNX says.
Outs arithmetic(Ctx& c, char op) {
  const Tensor& a = c.input(0);
  const Tensor& b = c.input(1);
  if (a.scalar_type() == kLong && b.scalar_type() == kLong) {
    if (a.dim() > 1 || b.dim() > 1) c.fail("int64 arithmetic is supported on scalars and vectors only");
    const Ints x = to_ints(a, c, "A"), y = to_ints(b, c, "B");
    if (x.size() != y.size() && x.size() != 1 && y.size() != 1) c.fail("int64 operands do not broadcast");
    const size_t n = std::max(x.size(), y.size());
    Ints out(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t u = x[x.size() == 1 ? 0 : i], v = y[y.size() == 1 ? 0 : i];
      if (op == '/' && v == 0) c.fail("int64 division by zero");
      out[i] = op == '+' ? u + v : op == '-' ? u - v : op == '*' ? u * v : u / v;
    }
    if (a.dim() == 0 && b.dim() == 0) return {from_ints(out, {})};
    return {from_ints(out)};
  }
  if (a.scalar_type() != kFloat || b.scalar_type() != kFloat)
    throw TypeError(c.where() + ": operands of types " + std::string(dtype_name(a.scalar_type())) + " and " +
                    std::string(dtype_name(b.scalar_type())) + " (float32 data, or int64 shapes)");
  switch (op) {
    case '+': return {a + b};
    case '-': return {a - b};
    case '*': return {a * b};
    default: return {a / b};
  }
}

Outs variadic(Ctx& c, bool average) {
  Tensor y;
  int n = 0;
  for (const auto& t : c.in)
    if (t.defined()) {
      y = y.defined() ? y + t : t;
      ++n;
    }
  if (!y.defined()) c.fail("no inputs");
  return {average ? y / static_cast<double>(n) : y};
}

// The op table: op type -> run, and how many outputs it may produce.
struct OpDef {
  std::function<Outs(Ctx&)> run;
  int max_outputs = 1;
};

using Unary = Tensor (*)(const Tensor&);
OpDef unary(Unary f) {
  return {[f](Ctx& c) { return Outs{f(c.input(0))}; }};
}

const std::unordered_map<std::string, OpDef>& op_table() {
  static const std::unordered_map<std::string, OpDef> table = {
      {"Conv", {op_conv}},
      {"MaxPool", {op_max_pool, 2}},
      {"AveragePool", {op_average_pool}},
      {"GlobalAveragePool", {[](Ctx& c) { return Outs{mean(c.input(0), spatial_dims(c.input(0)), true)}; }}},
      {"GlobalMaxPool", {[](Ctx& c) { return Outs{amax(c.input(0), spatial_dims(c.input(0)), true)}; }}},
      {"BatchNormalization", {op_batch_norm, 5}},
      {"InstanceNormalization", {op_instance_norm}},
      {"LayerNormalization", {op_layer_norm, 3}},
      {"Gemm", {op_gemm}},
      {"MatMul", {[](Ctx& c) { return Outs{matmul(c.input(0), c.input(1))}; }}},
      {"Relu", unary(relu)},
      {"Sigmoid", unary(sigmoid)},
      {"Tanh", unary(tanh)},
      {"Exp", unary(exp)},
      {"Log", unary(log)},
      {"Neg", unary(neg)},
      {"Abs", unary(abs)},
      {"Sqrt", unary(sqrt)},
      {"Reciprocal", unary(reciprocal)},
      {"Erf", unary(erf)},
      {"HardSwish", unary(hardswish)},
      {"Softplus", {[](Ctx& c) { return Outs{softplus(c.input(0))}; }}},
      {"Softsign", {[](Ctx& c) { return Outs{c.input(0) / (abs(c.input(0)) + 1.0)}; }}},
      {"HardSigmoid",
       {[](Ctx& c) { return Outs{clamp(c.input(0) * c.f("alpha", 0.2) + c.f("beta", 0.5), 0.0, 1.0)}; }}},
      {"LeakyRelu", {[](Ctx& c) { return Outs{leaky_relu(c.input(0), c.f("alpha", 0.01))}; }}},
      {"Elu", {[](Ctx& c) { return Outs{elu(c.input(0), c.f("alpha", 1.0))}; }}},
      {"Selu",
       {[](Ctx& c) {
         const double alpha = c.f("alpha", 1.67326319217681884765625), gamma = c.f("gamma", 1.05070102214813232421875);
         if (std::fabs(alpha - 1.6732632423543772) < 1e-6 && std::fabs(gamma - 1.0507009873554805) < 1e-6)
           return Outs{selu(c.input(0))};
         return Outs{elu(c.input(0), alpha) * gamma};
       }}},
      {"PRelu", {op_prelu}},
      {"Clip", {op_clip}},
      {"Softmax", {[](Ctx& c) { return op_softmax(c, false); }}},
      {"LogSoftmax", {[](Ctx& c) { return op_softmax(c, true); }}},
      {"Add", {[](Ctx& c) { return arithmetic(c, '+'); }}},
      {"Sub", {[](Ctx& c) { return arithmetic(c, '-'); }}},
      {"Mul", {[](Ctx& c) { return arithmetic(c, '*'); }}},
      {"Div", {[](Ctx& c) { return arithmetic(c, '/'); }}},
      {"Pow", {op_pow}},
      {"Sum", {[](Ctx& c) { return variadic(c, false); }}},
      {"Mean", {[](Ctx& c) { return variadic(c, true); }}},
      {"ReduceMean", {[](Ctx& c) { return op_reduce(c, "mean"); }}},
      {"ReduceSum", {[](Ctx& c) { return op_reduce(c, "sum"); }}},
      {"ReduceMax", {[](Ctx& c) { return op_reduce(c, "max"); }}},
      {"Flatten", {op_flatten}},
      {"Reshape", {op_reshape}},
      {"Shape", {op_shape}},
      {"Gather", {op_gather}},
      {"Unsqueeze", {op_unsqueeze}},
      {"Squeeze", {op_squeeze}},
      {"Concat", {op_concat}},
      {"Slice", {op_slice}},
      {"Transpose", {op_transpose}},
      {"Pad", {op_pad}},
      {"DepthToSpace", {op_depth_to_space}},
      {"ConvTranspose", {op_conv_transpose}},
      {"Resize", {op_resize}},
      {"Constant", {op_constant}},
      {"ConstantOfShape", {op_constant_of_shape}},
      {"Identity", {[](Ctx& c) { return Outs{c.input(0)}; }}},
      {"Dropout", {op_dropout, 2}},
      {"Cast", {op_cast}},
  };
  return table;
}

// Runs one node; an error from an op below (a shape that does not fit, say) comes back with
// the node and the file in front, as the same error type.
template <typename E>
[[noreturn]] void rethrow_as(const Ctx& c, const E& e) {
  throw E(c.where() + ": " + e.what());
}

Outs run_node(const OpDef& op, Ctx& c) {
  try {
    return op.run(c);
  } catch (const ShapeError& e) {
    if (std::string(e.what()).rfind(c.where(), 0) == 0) throw;
    rethrow_as(c, e);
  } catch (const TypeError& e) {
    if (std::string(e.what()).rfind(c.where(), 0) == 0) throw;
    rethrow_as(c, e);
  } catch (const NotImplementedError& e) {
    if (std::string(e.what()).rfind(c.where(), 0) == 0) throw;
    rethrow_as(c, e);
  } catch (const ValueError& e) {
    if (std::string(e.what()).rfind(c.where(), 0) == 0) throw;
    rethrow_as(c, e);
  }
}

std::string supported_ops() {
  std::vector<std::string> names;
  for (const auto& [k, v] : op_table()) names.push_back(k);
  std::sort(names.begin(), names.end());
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// ---------------------------------------------------------------------------------------
// Where initializers go: parameters, running statistics or constants
// ---------------------------------------------------------------------------------------

enum class Role { kConstant, kParameter, kRunningStat };

Role role_of_input(const onnx::NodeProto& n, int slot, const Tensor& value) {
  const std::string& op = n.op_type();
  if (op == "Conv" || op == "Gemm" || op == "PRelu" || op == "InstanceNormalization" || op == "LayerNormalization")
    return slot >= 1 ? Role::kParameter : Role::kConstant;
  if (op == "MatMul") return Role::kParameter;
  if (op == "BatchNormalization") return slot <= 0 ? Role::kConstant : slot <= 2 ? Role::kParameter : Role::kRunningStat;
  // Arithmetic: a tensor of weights (GroupNorm's and LayerNorm's affine, a learned scale),
  // not a scalar constant of a pattern (GELU's sqrt(2), LayerNorm's eps).
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return value.numel() > 1 ? Role::kParameter : Role::kConstant;
  return Role::kConstant;
}

// "features.0.weight" -> ("features", "0") scopes and "weight"; characters a module name
// cannot hold become '_'.
std::vector<std::string> name_path(const std::string& onnx_name) {
  std::vector<std::string> parts;
  std::string cur;
  for (char ch : onnx_name) {
    if (ch == '.') {
      parts.push_back(cur.empty() ? "_" : cur);
      cur.clear();
    } else {
      cur += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') ? ch : '_';
    }
  }
  parts.push_back(cur.empty() ? "_" : cur);
  return parts;
}

class OnnxScopeImpl : public nn::Module {
 public:
  OnnxScopeImpl() : nn::Module("OnnxScope") {}
};

}  // namespace

// ---------------------------------------------------------------------------------------
// OnnxModelImpl
// ---------------------------------------------------------------------------------------

OnnxModelImpl::OnnxModelImpl(std::shared_ptr<const detail::OnnxGraph> graph)
    : nn::Module("OnnxModel"), graph_(std::move(graph)) {}

const std::vector<std::string>& OnnxModelImpl::input_names() const { return graph_->inputs; }
const std::vector<std::string>& OnnxModelImpl::output_names() const { return graph_->outputs; }
std::vector<int64_t> OnnxModelImpl::input_shape(size_t i) const { return graph_->input_shapes.at(i); }
int64_t OnnxModelImpl::opset() const { return graph_->opset; }
const std::map<std::string, std::string>& OnnxModelImpl::metadata() const { return graph_->metadata; }

void OnnxModelImpl::pretty_print(std::ostream& stream) const {
  stream << "OnnxModel(" << graph_->path << ", opset " << graph_->opset << ", " << graph_->model.graph().node_size()
         << " nodes)";
}

Tensor OnnxModelImpl::forward(const Tensor& x) { return forward_all({x}).at(0); }

std::vector<Tensor> OnnxModelImpl::forward_all(const std::vector<Tensor>& inputs) {
  const OnnxGraph& g = *graph_;
  CNNKIT_CHECK_T(ValueError, inputs.size() == g.inputs.size(), "OnnxModel '", g.path, "': the graph takes ",
                 g.inputs.size(), " inputs, got ", inputs.size());
  std::unordered_map<std::string, Tensor> values;
  for (const auto& [name, t] : g.constants) values[name] = t;
  const auto params = named_parameters();
  const auto buffers = named_buffers();
  for (const auto& [onnx_name, state] : state_names_) {
    if (const Tensor* p = params.find(state))
      values[onnx_name] = *p;
    else if (const Tensor* b = buffers.find(state))
      values[onnx_name] = *b;
    else
      throw InternalError("OnnxModel: state '" + state + "' of initializer '" + onnx_name + "' is missing");
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    const auto& shape = g.input_shapes[i];
    CNNKIT_CHECK_T(TypeError, x.defined() && x.scalar_type() == kFloat, "OnnxModel '", g.path, "': input '",
                   g.inputs[i], "' must be a float32 tensor");
    bool fits = x.dim() == static_cast<int64_t>(shape.size());
    for (size_t d = 0; fits && d < shape.size(); ++d) fits = shape[d] < 0 || shape[d] == x.size(static_cast<int64_t>(d));
    CNNKIT_CHECK_SHAPE(fits, "OnnxModel '", g.path, "': input '", g.inputs[i], "' must have sizes ", IntArrayRef(shape),
                       " (-1: any), got ", x.sizes());
    values[g.inputs[i]] = x;
  }
  const bool free_early = !autograd::GradMode::is_enabled();
  const auto& table = op_table();
  const auto& nodes = g.model.graph().node();
  for (int k = 0; k < nodes.size(); ++k) {
    const auto& n = nodes[k];
    if (n.op_type() == "Constant") continue;  // folded at import
    Ctx c{n, {}, is_training(), g.opset, g.path};
    for (const auto& name : n.input()) c.in.push_back(name.empty() ? Tensor() : values.at(name));
    Outs outs = run_node(table.at(n.op_type()), c);
    for (int o = 0; o < n.output_size(); ++o) {
      if (n.output(o).empty()) continue;
      if (o >= static_cast<int>(outs.size()))
        throw NotImplementedError(c.where() + ": output " + std::to_string(o) + " ('" + n.output(o) +
                                  "') is not produced by this importer");
      values[n.output(o)] = outs[static_cast<size_t>(o)];
    }
    if (free_early)
      for (const auto& name : g.last_use[static_cast<size_t>(k)]) values.erase(name);
  }
  std::vector<Tensor> out;
  for (const auto& name : g.outputs) out.push_back(values.at(name));
  return out;
}

// ---------------------------------------------------------------------------------------
// import_onnx
// ---------------------------------------------------------------------------------------

OnnxModel import_onnx(const std::string& path) {
  auto g = std::make_shared<OnnxGraph>();
  g->path = path;
  g->model = detail::read_model_proto(path);
  const onnx::GraphProto& graph = g->model.graph();
  g->opset = detail::default_opset(g->model);
  CNNKIT_CHECK_T(NotImplementedError, g->opset >= kOnnxMinOpset && g->opset <= kOnnxMaxOpset, "'", path,
                 "' uses ONNX opset ", g->opset, "; cnnkit reads opsets ", kOnnxMinOpset, " to ", kOnnxMaxOpset,
                 g->opset < kOnnxMinOpset ? " (re-export it with a newer opset_version)" : "");
  for (const auto& p : g->model.metadata_props()) g->metadata[p.key()] = p.value();

  std::map<std::string, Tensor> initializers;
  for (const auto& t : graph.initializer()) {
    CNNKIT_CHECK_T(ValueError, !t.name().empty(), "'", path, "': an initializer has no name");
    initializers[t.name()] = detail::from_proto(t, "initializer '" + t.name() + "' of '" + path + "'");
  }
  std::set<std::string> defined;
  for (const auto& [name, v] : initializers) defined.insert(name);
  for (const auto& in : graph.input()) {
    if (initializers.count(in.name())) continue;  // IR < 4 lists initializers as inputs too
    const auto& type = in.type();
    CNNKIT_CHECK_T(TypeError, type.has_tensor_type() && type.tensor_type().elem_type() == onnx::TensorProto::FLOAT,
                   "'", path, "': graph input '", in.name(), "' is not a float32 tensor (cnnkit feeds float32 data)");
    std::vector<int64_t> shape;
    for (const auto& d : type.tensor_type().shape().dim()) shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
    g->inputs.push_back(in.name());
    g->input_shapes.push_back(shape);
    defined.insert(in.name());
  }
  CNNKIT_CHECK_T(ValueError, !g->inputs.empty(), "'", path, "': the graph has no input");

  // Check every node, fold Constants, and find each initializer's role.
  const auto& table = op_table();
  std::map<std::string, Role> roles;
  std::map<std::string, size_t> last_reader;
  OnnxModel model(std::make_shared<OnnxModelImpl>(g));  // g is filled in below
  for (int k = 0; k < graph.node_size(); ++k) {
    const auto& n = graph.node(k);
    const std::string where = describe(n, g->opset, path);
    CNNKIT_CHECK_T(NotImplementedError, n.domain().empty() || n.domain() == "ai.onnx", where, ": domain '",
                   n.domain(), "' is not supported (only the default ONNX domain is)");
    auto it = table.find(n.op_type());
    CNNKIT_CHECK_T(NotImplementedError, it != table.end(), "unsupported ONNX op '", n.op_type(), "' in ", where,
                   "; cnnkit runs: ", supported_ops());
    CNNKIT_CHECK_T(ValueError, n.output_size() >= 1 && !n.output(0).empty(), where,
                   ": the node has no output (every ONNX op here produces at least one)");
    CNNKIT_CHECK_T(NotImplementedError, n.output_size() <= it->second.max_outputs || [&] {
      for (int o = it->second.max_outputs; o < n.output_size(); ++o)
        if (!n.output(o).empty()) return false;
      return true;
    }(), where, ": ", n.output_size(), " outputs requested, ", it->second.max_outputs, " supported");
    for (int s = 0; s < n.input_size(); ++s) {
      const std::string& in = n.input(s);
      if (in.empty()) continue;
      CNNKIT_CHECK_T(ValueError, defined.count(in), where, ": input '", in,
                     "' is not produced by an earlier node, an initializer or a graph input (the graph must be "
                     "topologically sorted)");
      last_reader[in] = static_cast<size_t>(k);
      if (auto init = initializers.find(in); init != initializers.end() && init->second.scalar_type() == kFloat) {
        const Role r = role_of_input(n, s, init->second);
        Role& cur = roles[in];
        cur = std::max(cur, r);
      }
    }
    if (n.op_type() == "Constant") {
      Ctx c{n, {}, false, g->opset, path};
      g->constants[n.output(0)] = op_constant(c)[0];
    }
    for (const auto& o : n.output())
      if (!o.empty()) defined.insert(o);
  }
  for (const auto& out : graph.output()) {
    CNNKIT_CHECK_T(ValueError, defined.count(out.name()), "'", path, "': graph output '", out.name(),
                   "' is produced by no node");
    g->outputs.push_back(out.name());
  }
  CNNKIT_CHECK_T(ValueError, !g->outputs.empty(), "'", path, "': the graph has no output");

  model->eval();  // an ONNX file is an inference graph: eval mode until the caller says train()

  // Initializers: parameters and running statistics go into the module tree at their dotted
  // names, the rest stay constants.
  std::map<std::string, std::string>& state_names = model->state_names_;
  std::set<std::string> taken;
  for (const auto& [name, value] : initializers) {
    const auto role_it = roles.find(name);
    const Role role = role_it == roles.end() ? Role::kConstant : role_it->second;
    if (role == Role::kConstant) {
      g->constants[name] = value;
      continue;
    }
    std::vector<std::string> parts = name_path(name);
    std::string dotted;
    for (const auto& p : parts) dotted += (dotted.empty() ? "" : ".") + p;
    for (int i = 1; taken.count(dotted); ++i) {  // two ONNX names that sanitise alike
      parts.back() += "_" + std::to_string(i);
      dotted += "_" + std::to_string(i);
    }
    taken.insert(dotted);
    nn::Module* scope = model.get();
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      auto children = scope->named_children();
      if (auto* child = children.find(parts[i]))
        scope = child->get();
      else
        scope = scope->register_module(parts[i], std::make_shared<OnnxScopeImpl>()).get();
    }
    if (role == Role::kParameter)
      scope->register_parameter(parts.back(), value);
    else
      scope->register_buffer(parts.back(), value);
    state_names[name] = dotted;
  }

  // What each node frees under NoGrad: values it reads last, other than graph outputs and
  // initializers or constants (those live on).
  g->last_use.resize(static_cast<size_t>(graph.node_size()));
  const std::set<std::string> keep(g->outputs.begin(), g->outputs.end());
  for (const auto& [name, k] : last_reader)
    if (!keep.count(name) && !initializers.count(name) && !g->constants.count(name) &&
        std::find(g->inputs.begin(), g->inputs.end(), name) == g->inputs.end())
      g->last_use[k].push_back(name);

  return model;
}

// ---------------------------------------------------------------------------------------
// Exporting an imported model again: its nodes replayed, its initializers' current values
// ---------------------------------------------------------------------------------------

OnnxValue detail::export_onnx_model(nn::Module& module, const std::string& scope, const OnnxValue& x,
                                    OnnxGraphBuilder& builder) {
  auto& m = static_cast<OnnxModelImpl&>(module);
  auto& g = static_cast<detail::ProtoBuilder&>(builder);
  const OnnxGraph& graph = m.graph();
  CNNKIT_CHECK_T(NotImplementedError, graph.opset == g.opset(), "export_onnx: the imported model '", graph.path,
                 "' has opset ", graph.opset, "; export it with opset_version(", graph.opset, ")");
  CNNKIT_CHECK_T(NotImplementedError, graph.inputs.size() == 1 && graph.outputs.size() == 1,
                 "export_onnx: an imported model with several inputs or outputs is not re-exported");
  std::map<std::string, std::string> rename = {{graph.inputs[0], x.name}};
  const std::string prefix = scope.empty() ? std::string() : scope + "/";
  for (const auto& [name, t] : graph.constants) {
    const std::string& constant = name;  // clang 14 lambdas cannot capture structured bindings
    if (std::none_of(graph.model.graph().node().begin(), graph.model.graph().node().end(),
                     [&](const onnx::NodeProto& n) { return n.op_type() == "Constant" && n.output(0) == constant; }))
      rename[name] = g.initializer(prefix + name, t);
  }
  const auto params = m.named_parameters();
  const auto buffers = m.named_buffers();
  for (const auto& [onnx_name, state] : m.state_names()) {
    const Tensor* t = params.find(state);
    if (!t) t = buffers.find(state);
    rename[onnx_name] = g.initializer(scope.empty() ? onnx_name : scope + "." + onnx_name, *t);
  }
  for (const auto& n : graph.model.graph().node()) {
    onnx::NodeProto* out = g.add_raw_node();
    *out = n;
    out->set_name(g.unique_name(prefix + n.name()));
    for (int i = 0; i < out->input_size(); ++i)
      if (!out->input(i).empty()) out->set_input(i, rename.at(out->input(i)));
    for (int i = 0; i < out->output_size(); ++i)
      if (!out->output(i).empty()) {
        const std::string fresh = g.unique_name(prefix + out->output(i));
        rename[out->output(i)] = fresh;
        out->set_output(i, fresh);
      }
  }
  return OnnxValue{rename.at(graph.outputs[0]), m.forward(x.value)};
}

}  // namespace cnnkit::io
