// F::interpolate and nn::Upsample: PyTorch 1.13's upsample_nearest1d/2d, upsample_linear1d and
// upsample_bilinear2d, with its output-size rule (floor(in * scale_factor)), its sampling scale
// (1 / scale_factor when given, else in / out; (in - 1) / (out - 1) with align_corners) and
// its source-index formulas, in float as its CPU kernels compute them. The sampling is built
// from index_select, products and sums, so autograd differentiates it (twice, too): per output
// row the source rows and weights are fixed numbers, and the gradient is their transpose.
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/modules/upsampling.h"
#include "cnnkit/ops/ops.h"

namespace cnnkit {
namespace nn {
namespace functional {

namespace {

std::string list(const std::vector<int64_t>& v) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < v.size(); ++i) s << (i ? ", " : "") << v[i];
  s << "]";
  return s.str();
}

// compute_scales_value<float>: 1 / scale_factor when it was given (and positive), else in / out.
float sampling_scale(std::optional<double> scale, int64_t in, int64_t out) {
  return scale && *scale > 0 ? static_cast<float>(1.0 / *scale)
                             : static_cast<float>(in) / static_cast<float>(out);
}

// Nearest: the source index of each output index along one dim, min(floor(o * scale), in - 1).
// Where a scale factor leaves a size unchanged (1.25 on 2 values), PyTorch 1.13's CPU kernels
// disagree among themselves: the 2-d forward keeps the dim as it is for one channel and
// samples at 1 / scale for more, the 1-d forward samples while its backward keeps the dim.
// Here forward and backward both sample at 1 / scale, as the many-channel kernel does.
Tensor nearest_index(int64_t in, int64_t out, std::optional<double> scale) {
  std::vector<int64_t> idx(static_cast<size_t>(out));
  const float s = sampling_scale(scale, in, out);
  for (int64_t o = 0; o < out; ++o)
    idx[static_cast<size_t>(o)] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * s)), in - 1);
  return tensor(idx);
}

// Linear: two source indices and their weights per output index along one dim.
struct LinearTaps {
  Tensor i0, i1, w0, w1;
};
LinearTaps linear_taps(int64_t in, int64_t out, bool align_corners, std::optional<double> scale) {
  std::vector<int64_t> i0(static_cast<size_t>(out)), i1(static_cast<size_t>(out));
  std::vector<float> w0(static_cast<size_t>(out)), w1(static_cast<size_t>(out));
  // area_pixel_compute_scale<float>
  const float s = align_corners ? (out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.0f)
                                : sampling_scale(scale, in, out);
  for (int64_t o = 0; o < out; ++o) {
    const size_t k = static_cast<size_t>(o);
    if (out == in) {
      i0[k] = i1[k] = o;
      w0[k] = 1.0f;
      w1[k] = 0.0f;
      continue;
    }
    // area_pixel_compute_source_index<float>: the products in double, the result in float.
    float src = align_corners ? s * static_cast<float>(o)
                              : static_cast<float>(static_cast<double>(s) * (static_cast<double>(o) + 0.5) - 0.5);
    if (!align_corners && src < 0) src = 0;
    const int64_t lo = static_cast<int64_t>(src);
    i0[k] = lo;
    i1[k] = lo + (lo < in - 1 ? 1 : 0);
    const float l1 = std::min(std::max(src - static_cast<float>(lo), 0.0f), 1.0f);
    w1[k] = l1;
    w0[k] = 1.0f - l1;
  }
  return {tensor(i0), tensor(i1), tensor(w0), tensor(w1)};
}

// One spatial dim `d` of x linearly resampled: x[i0] * w0 + x[i1] * w1, the weights
// broadcast along d (shape 1 ... out ... 1).
Tensor linear_along(const Tensor& x, int64_t d, const LinearTaps& t) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[static_cast<size_t>(d)] = t.w0.numel();
  return index_select(x, d, t.i0) * t.w0.view(shape) + index_select(x, d, t.i1) * t.w1.view(shape);
}

}  // namespace

Tensor interpolate(const Tensor& input, const InterpolateFuncOptions& o) {
  const std::string mode = std::visit([](auto m) { return std::string(m.name()); }, o.mode());
  const bool interpolating = mode != "nearest";
  CNNKIT_CHECK(!(o.align_corners() && !interpolating),
               "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | "
               "trilinear");
  const bool align_corners = o.align_corners().value_or(false);
  CNNKIT_CHECK_SHAPE(input.dim() >= 3, "interpolate: expects a (N, C, L) or (N, C, H, W) input, got ", input.dim(),
                     " dims ", input.sizes());
  const int64_t dims = input.dim() - 2;
  std::vector<int64_t> in_sizes(input.sizes().begin() + 2, input.sizes().end());
  CNNKIT_CHECK(!(o.size() && o.scale_factor()), "only one of size or scale_factor should be defined");
  CNNKIT_CHECK(o.size() || o.scale_factor(), "either size or scale_factor should be defined");
  CNNKIT_CHECK(!(o.recompute_scale_factor().value_or(false) && o.size()),
               "recompute_scale_factor is not meaningful with an explicit size.");
  std::vector<int64_t> out_sizes;
  std::vector<std::optional<double>> scales(static_cast<size_t>(dims));
  // One value stands for every spatial dim, as PyTorch's int or float does.
  std::vector<int64_t> size = o.size().value_or(std::vector<int64_t>{});
  std::vector<double> sf = o.scale_factor().value_or(std::vector<double>{});
  if (size.size() == 1) size.resize(static_cast<size_t>(dims), size.front());
  if (sf.size() == 1) sf.resize(static_cast<size_t>(dims), sf.front());
  if (o.size()) {
    CNNKIT_CHECK_SHAPE(static_cast<int64_t>(size.size()) == dims,
                       "Input and output must have the same number of spatial dimensions, but got input with spatial "
                       "dimensions of ", list(in_sizes), " and output size of ", list(size),
                       ". Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in (o1, o2, "
                       "...,oK) format.");
    out_sizes = size;
  } else {
    CNNKIT_CHECK_SHAPE(static_cast<int64_t>(sf.size()) == dims,
                       "Input and scale_factor must have the same number of spatial dimensions, but got input with "
                       "spatial dimensions of ", list(in_sizes), " and scale_factor of shape of length ", sf.size(),
                       ". Please provide input tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, "
                       "...,sK) format.");
    for (size_t i = 0; i < sf.size(); ++i) {
      CNNKIT_CHECK(std::isfinite(sf[i]) && sf[i] > 0, "interpolate: scale_factor must be positive and finite, got ",
                   sf[i]);
      const double n = std::floor(static_cast<double>(in_sizes[i]) * sf[i]);
      CNNKIT_CHECK(n < 2147483648.0, "interpolate: scale_factor ", sf[i], " makes dimension ", i + 2, " of size ",
                   in_sizes[i], " too large");
      out_sizes.push_back(static_cast<int64_t>(n));
      if (!o.recompute_scale_factor().value_or(false)) scales[i] = sf[i];
    }
  }
  bool positive = true;
  for (size_t i = 0; i < out_sizes.size(); ++i) positive = positive && in_sizes[i] > 0 && out_sizes[i] > 0;
  CNNKIT_CHECK_SHAPE(positive, "Input and output sizes should be greater than 0, but got input ", list(in_sizes),
                     " output ", list(out_sizes));
  if (mode == "bilinear")
    CNNKIT_CHECK_T(NotImplementedError, dims == 2, "Got ", input.dim(), "D input, but bilinear mode needs 4D input");
  if (mode == "linear")
    CNNKIT_CHECK_T(NotImplementedError, dims == 1, "Got ", input.dim(), "D input, but linear mode needs 3D input");
  CNNKIT_CHECK_T(NotImplementedError, dims <= 2, "interpolate: ", input.dim(),
                 "-d inputs are not supported (nearest takes 3-d and 4-d, linear 3-d, bilinear 4-d)");
  Tensor y = input;
  for (int64_t d = 0; d < dims; ++d) {
    const size_t k = static_cast<size_t>(d);
    if (mode == "nearest")
      y = index_select(y, d + 2, nearest_index(in_sizes[k], out_sizes[k], scales[k]));
    else
      y = linear_along(y, d + 2, linear_taps(in_sizes[k], out_sizes[k], align_corners, scales[k]));
  }
  return y;
}

}  // namespace functional

UpsampleImpl::UpsampleImpl(const UpsampleOptions& options_) : options(options_) {}

void UpsampleImpl::pretty_print(std::ostream& stream) const {
  stream << "cnnkit::nn::Upsample(";
  if (options.scale_factor()) {
    stream << "scale_factor=[";
    for (size_t i = 0; i < options.scale_factor()->size(); ++i) stream << (i ? ", " : "") << (*options.scale_factor())[i];
    stream << "]";
  } else if (options.size()) {
    stream << "size=" << functional::list(*options.size());
  }
  // LibTorch prints the enum's name: kNearest, kLinear, kBilinear.
  std::string mode = std::visit([](auto m) { return std::string(m.name()); }, options.mode());
  mode[0] = static_cast<char>(mode[0] - 'a' + 'A');
  stream << ", mode=k" << mode << ")";
}

Tensor UpsampleImpl::forward(const Tensor& input) {
  functional::InterpolateFuncOptions o;
  o.size(options.size()).scale_factor(options.scale_factor()).mode(options.mode()).align_corners(options.align_corners());
  return functional::interpolate(input, o);
}

}  // namespace nn
}  // namespace cnnkit
