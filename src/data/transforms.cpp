// torchvision's transforms on (C, H, W) uint8 / float32 tensors: the functional ops as plain
// loops over raw pointers (they run per example on loader threads: no per-pixel Tensor ops),
// then the transform objects, which only draw random parameters and call them.
// Formulas and the order of float operations follow torchvision 0.14 / PyTorch 1.13, so
// results match tools/golden/gen_transforms.py: rotate, affine and perspective share one
// sampler (torchvision's float32 grids + grid_sample); the AutoAugment family (AutoAugment,
// RandAugment, TrivialAugmentWide) is apply_op over the colour ops here and torch's float32
// magnitude bins. Not here: PIL paths, antialias, bicubic, AugMix.
//
// P = planes (every dim before H, W: channels, and a batch if any), C = channels, H, W.
#include "cnnkit/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/rng.h"
#include "cnnkit/ops/linalg.h"

namespace cnnkit {
namespace data {
namespace transforms {

namespace {

struct Dims {
  int64_t planes, h, w;
};

Dims image_dims(const Tensor& img, const char* op) {
  CNNKIT_CHECK(img.defined(), op, ": the image is an undefined tensor");
  CNNKIT_CHECK_SHAPE(img.dim() >= 2, op, ": expected an image (C, H, W) or (H, W), got ", img.dim(), " dims ",
                     img.sizes());
  CNNKIT_CHECK_TYPE(img.scalar_type() == kByte || img.scalar_type() == kFloat, op,
                    ": expected a uint8 or float32 image, got ", img.scalar_type());
  int64_t h = img.size(-2), w = img.size(-1);
  int64_t planes = 1;
  for (int64_t d = 0; d < img.dim() - 2; ++d) planes *= img.size(d);
  return {planes, h, w};
}

// Colour ops: (..., C, H, W) with C = 1 or 3; groups = images in a leading batch, if any.
struct ColorDims {
  int64_t groups, c, hw;
};
ColorDims color_dims(const Tensor& img, const char* op) {
  Dims d = image_dims(img, op);
  CNNKIT_CHECK_SHAPE(img.dim() >= 3, op, ": expected an image (C, H, W), got ", img.dim(), " dims ", img.sizes());
  int64_t c = img.size(-3);
  CNNKIT_CHECK_SHAPE(c == 1 || c == 3, op, ": expected 1 or 3 channels, got ", c, " (shape ", img.sizes(), ")");
  return {d.planes / c, c, d.h * d.w};
}

Tensor contig(const Tensor& t) { return t.is_contiguous() ? t : t.contiguous(); }

// A new image with img's leading dims and dtype (or `dtype`), spatial size (h, w).
Tensor new_image(const Tensor& img, int64_t h, int64_t w, std::optional<ScalarType> dtype = std::nullopt) {
  std::vector<int64_t> sizes = img.sizes().vec();
  sizes[sizes.size() - 2] = h;
  sizes[sizes.size() - 1] = w;
  return cnnkit::empty(sizes, TensorOptions(dtype.value_or(img.scalar_type())));
}

Tensor copy_of(const Tensor& img) {
  Tensor c = contig(img);
  Tensor out = cnnkit::empty(c.sizes(), TensorOptions(c.scalar_type()));
  if (out.nbytes()) std::memcpy(out.data_ptr(), c.data_ptr(), out.nbytes());
  return out;
}

template <typename F>
void dispatch(ScalarType t, F&& f) {
  if (t == kByte) {
    f(uint8_t{});
  } else {
    f(float{});
  }
}

// float -> uint8 as torch's .to(uint8) after the value is known to be in [0, 255]
// (truncation toward zero), and after torch.round (half to even).
inline uint8_t trunc_u8(float v) { return static_cast<uint8_t>(static_cast<int>(v)); }
inline uint8_t round_u8(float v) { return static_cast<uint8_t>(static_cast<int>(std::nearbyint(v))); }

// a * b rounded to float and never fused into a following add: the build contracts a * b + c
// into one FMA (-march=x86-64-v3), torch's elementwise ops round each product. The empty asm
// hides the product from the contraction; where torch does fuse, std::fma says so.
inline float rounded_product(float a, float b) {
#if defined(__x86_64__) || defined(__i386__)
  float p = a * b;
  __asm__("" : "+x"(p));  // p stays in an SSE register, opaque to the optimiser
  return p;
#else
  volatile float p = a * b;
  return p;
#endif
}

// One row of torch's float32 (1, n, 3) x (3, 2) bmm with a 1 in the last column, as its
// kernel sums it: x * a first, then y * b fused in, then c added.
inline float grid_dot(float x, float y, float a, float b, float c) { return std::fma(y, b, rounded_product(x, a)) + c; }

// ---- padding and cropping: one gather through index maps ------------------------------

enum class PadMode { Constant, Edge, Reflect, Symmetric };

PadMode parse_pad_mode(const std::string& m, const char* op) {
  if (m == "constant") return PadMode::Constant;
  if (m == "edge") return PadMode::Edge;
  if (m == "reflect") return PadMode::Reflect;
  if (m == "symmetric") return PadMode::Symmetric;
  CNNKIT_CHECK(false, op, ": padding_mode should be one of constant, edge, reflect or symmetric, got '", m, "'");
  return PadMode::Constant;
}

// Where padded coordinate i (0 = first row/column of the original image) reads from, or -1
// for the fill value. Valid for pads within the limits checked in pad_lrtb().
inline int64_t source_index(int64_t i, int64_t n, PadMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::Constant: return -1;
    case PadMode::Edge: return i < 0 ? 0 : n - 1;
    case PadMode::Reflect: return i < 0 ? -i : 2 * (n - 1) - i;
    case PadMode::Symmetric: return i < 0 ? -i - 1 : 2 * n - 1 - i;
  }
  return -1;
}

// out(y, x) = padded(top + y, left + x), where `padded` extends the image by `mode`.
template <typename T>
void gather_kernel(T* out, const T* in, int64_t planes, int64_t h, int64_t w, const std::vector<int64_t>& rows,
                   const std::vector<int64_t>& cols, T fill) {
  const int64_t oh = static_cast<int64_t>(rows.size()), ow = static_cast<int64_t>(cols.size());
  // the columns that read a contiguous run of the source row, to copy with memcpy
  int64_t run_b = 0, run_e = 0;
  for (int64_t x = 0; x < ow; ++x) {
    if (cols[x] < 0) continue;
    int64_t e = x;
    while (e + 1 < ow && cols[e + 1] == cols[e] + 1) ++e;
    if (e + 1 - x > run_e - run_b) {
      run_b = x;
      run_e = e + 1;
    }
    x = e;
  }
  for (int64_t p = 0; p < planes; ++p) {
    const T* src = in + p * h * w;
    T* dst = out + p * oh * ow;
    for (int64_t y = 0; y < oh; ++y, dst += ow) {
      if (rows[y] < 0) {
        std::fill(dst, dst + ow, fill);
        continue;
      }
      const T* row = src + rows[y] * w;
      for (int64_t x = 0; x < run_b; ++x) dst[x] = cols[x] < 0 ? fill : row[cols[x]];
      if (run_e > run_b) std::memcpy(dst + run_b, row + cols[run_b], static_cast<size_t>(run_e - run_b) * sizeof(T));
      for (int64_t x = run_e; x < ow; ++x) dst[x] = cols[x] < 0 ? fill : row[cols[x]];
    }
  }
}

// Crop (top, left, oh, ow) of the image padded by (pad_left, pad_top) with `mode`.
Tensor pad_crop(const Tensor& img, int64_t pad_top, int64_t pad_left, PadMode mode, double fill, int64_t top,
                int64_t left, int64_t oh, int64_t ow) {
  Dims d = image_dims(img, "pad");
  Tensor src = contig(img);
  std::vector<int64_t> rows(static_cast<size_t>(oh)), cols(static_cast<size_t>(ow));
  for (int64_t y = 0; y < oh; ++y) rows[y] = source_index(top + y - pad_top, d.h, mode);
  for (int64_t x = 0; x < ow; ++x) cols[x] = source_index(left + x - pad_left, d.w, mode);
  Tensor out = new_image(img, oh, ow);
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    gather_kernel<T>(out.data_ptr<T>(), src.data_ptr<T>(), d.planes, d.h, d.w, rows, cols, static_cast<T>(fill));
  });
  return out;
}

// torchvision's padding forms: [all], [left/right, top/bottom], [left, top, right, bottom].
std::array<int64_t, 4> parse_padding(const IntList& padding, const char* op) {
  const auto& p = padding.values;
  CNNKIT_CHECK(p.size() == 1 || p.size() == 2 || p.size() == 4, op,
               ": padding must be an int or a 1, 2, or 4 element list, got ", p.size(), " elements");
  if (p.size() == 1) return {p[0], p[0], p[0], p[0]};
  if (p.size() == 2) return {p[0], p[1], p[0], p[1]};
  return {p[0], p[1], p[2], p[3]};  // left, top, right, bottom
}

// The limits torch's pad kernels (and torchvision's symmetric indexing) have; returns the
// padded size (h, w).
std::array<int64_t, 2> check_padding(const Dims& d, const std::array<int64_t, 4>& ltrb, PadMode mode,
                                     const char* op) {
  auto [l, t, r, b] = ltrb;
  if (mode == PadMode::Reflect) {
    CNNKIT_CHECK(std::max(l, r) < d.w && std::max(t, b) < d.h, op,
                 ": reflect padding must be smaller than the image's dims, got padding (left, top, right, bottom) = (",
                 l, ", ", t, ", ", r, ", ", b, ") for an image of ", d.h, "x", d.w);
  } else if (mode == PadMode::Symmetric) {
    CNNKIT_CHECK(std::max(l, r) <= d.w && std::max(t, b) <= d.h, op,
                 ": symmetric padding must not exceed the image's dims, got padding (left, top, right, bottom) = (",
                 l, ", ", t, ", ", r, ", ", b, ") for an image of ", d.h, "x", d.w);
  }
  CNNKIT_CHECK(mode == PadMode::Constant || std::min({l, t, r, b}) >= 0, op,
               ": negative padding is only supported with padding_mode constant");
  if (mode == PadMode::Edge) CNNKIT_CHECK(d.h > 0 && d.w > 0, op, ": edge padding of an empty image");
  int64_t oh = d.h + t + b, ow = d.w + l + r;
  CNNKIT_CHECK_SHAPE(oh > 0 && ow > 0, op, ": padding (left, top, right, bottom) = (", l, ", ", t, ", ", r, ", ", b,
                     ") leaves an empty image from ", d.h, "x", d.w);
  return {oh, ow};
}

Tensor pad_lrtb(const Tensor& img, std::array<int64_t, 4> ltrb, double fill, PadMode mode, const char* op) {
  auto [oh, ow] = check_padding(image_dims(img, op), ltrb, mode, op);
  return pad_crop(img, ltrb[1], ltrb[0], mode, fill, 0, 0, oh, ow);
}

// ---- interpolation ------------------------------------------------------------------------

// PyTorch's upsample_bilinear2d (align_corners=False) source indices and weights per output
// coordinate, in float as its CPU kernel computes them.
struct Linear1d {
  std::vector<int64_t> i0, i1;
  std::vector<float> l0, l1;
};
Linear1d linear_weights(int64_t in, int64_t out) {
  Linear1d r;
  r.i0.resize(out);
  r.i1.resize(out);
  r.l0.resize(out);
  r.l1.resize(out);
  float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    float src = scale * (static_cast<float>(o) + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int64_t i0 = static_cast<int64_t>(src);
    int64_t off = i0 < in - 1 ? 1 : 0;
    float l1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
    r.i0[o] = i0;
    r.i1[o] = i0 + off;
    r.l1[o] = l1;
    r.l0[o] = 1.0f - l1;
  }
  return r;
}

// PyTorch's legacy "nearest": floor(o * in / out), clamped.
std::vector<int64_t> nearest_indices(int64_t in, int64_t out) {
  std::vector<int64_t> idx(out);
  float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (out == in) {
      idx[o] = o;
    } else if (out == 2 * in) {
      idx[o] = o >> 1;
    } else {
      idx[o] = std::min(static_cast<int64_t>(std::floor(static_cast<float>(o) * scale)), in - 1);
    }
  }
  return idx;
}

template <typename T>
void resize_bilinear_kernel(T* out, const T* in, int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  Linear1d ly = linear_weights(h, oh), lx = linear_weights(w, ow);
  std::vector<float> row0(ow), row1(ow);
  for (int64_t p = 0; p < planes; ++p) {
    const T* src = in + p * h * w;
    T* dst = out + p * oh * ow;
    for (int64_t y = 0; y < oh; ++y) {
      const T* a = src + ly.i0[y] * w;
      const T* b = src + ly.i1[y] * w;
      const float wy0 = ly.l0[y], wy1 = ly.l1[y];
      for (int64_t x = 0; x < ow; ++x) {
        float t0 = static_cast<float>(a[lx.i0[x]]) * lx.l0[x];
        t0 += static_cast<float>(a[lx.i1[x]]) * lx.l1[x];
        float t1 = static_cast<float>(b[lx.i0[x]]) * lx.l0[x];
        t1 += static_cast<float>(b[lx.i1[x]]) * lx.l1[x];
        float v = t0 * wy0;
        v += t1 * wy1;
        if constexpr (std::is_same_v<T, uint8_t>) {
          dst[y * ow + x] = round_u8(v);
        } else {
          dst[y * ow + x] = v;
        }
      }
    }
  }
}

// torchvision's _compute_resized_output_size: (new_h, new_w).
std::array<int64_t, 2> resized_output_size(int64_t h, int64_t w, const std::vector<int64_t>& size,
                                           std::optional<int64_t> max_size) {
  if (size.size() == 1) {
    int64_t shorter = std::min(h, w), longer = std::max(h, w);
    int64_t new_short = size[0];
    int64_t new_long = static_cast<int64_t>(static_cast<double>(new_short * longer) / static_cast<double>(shorter));
    if (max_size) {
      CNNKIT_CHECK(*max_size > new_short, "resize: max_size = ", *max_size,
                   " must be strictly greater than the requested size for the smaller edge size = ", new_short);
      if (new_long > *max_size) {
        new_short = static_cast<int64_t>(static_cast<double>(*max_size * new_short) / static_cast<double>(new_long));
        new_long = *max_size;
      }
    }
    return w <= h ? std::array<int64_t, 2>{new_long, new_short} : std::array<int64_t, 2>{new_short, new_long};
  }
  return {size[0], size[1]};
}

void check_size(const IntList& size, const char* op) {
  CNNKIT_CHECK(size.values.size() == 1 || size.values.size() == 2, op,
               ": size must be an int or a 1 or 2 element list, got ", size.values.size(), " elements");
  for (int64_t s : size.values) CNNKIT_CHECK(s > 0, op, ": size values must be positive, got ", s);
}

std::array<int64_t, 2> square(const IntList& size, const char* op) {
  check_size(size, op);
  return {size.values[0], size.values.size() == 2 ? size.values[1] : size.values[0]};
}

// ---- the geometric sampler: torchvision's affine grid / perspective grid + grid_sample ----

// One image's fill check, as torchvision's _assert_grid_transform_inputs.
void check_fill(const Tensor& img, const std::optional<std::vector<double>>& fill, const char* op) {
  if (!fill) return;
  const int64_t c = img.dim() >= 3 ? img.size(-3) : 1;
  CNNKIT_CHECK(!fill->empty(), op, ": fill needs at least one value");
  CNNKIT_CHECK(fill->size() == 1 || static_cast<int64_t>(fill->size()) == c, op,
               ": the number of elements in 'fill' cannot broadcast to match the number of channels of the image (",
               fill->size(), " != ", c, ")");
}

// center (pixels from the top-left corner) as torchvision's center_f: relative to the image
// centre; none = the centre.
std::array<double, 2> centre_offset(const std::optional<std::vector<double>>& center, const Dims& d, const char* op) {
  if (!center) return {0.0, 0.0};
  CNNKIT_CHECK(center->size() == 2, op, ": center must be (x, y), got ", center->size(), " values");
  return {(*center)[0] - static_cast<double>(d.w) * 0.5, (*center)[1] - static_cast<double>(d.h) * 0.5};
}

// torchvision's _get_inverse_affine_matrix (inverted=True), in double: the output -> input
// map M^-1 = C RSS^-1 C^-1 T^-1 about `center` (relative to the image centre), angle and
// shear in degrees.
std::array<double, 6> inverse_affine_matrix(std::array<double, 2> center, double angle, std::array<double, 2> translate,
                                            double scale, std::array<double, 2> shear) {
  // Python's math.radians multiplies by the constant pi / 180 (one rounding fewer than x * pi / 180)
  constexpr double kDegToRad = M_PI / 180.0;
  const double rot = angle * kDegToRad, sx = shear[0] * kDegToRad, sy = shear[1] * kDegToRad;
  const double cx = center[0], cy = center[1], tx = translate[0], ty = translate[1];
  // RSS without scaling
  const double a = std::cos(rot - sy) / std::cos(sy);
  const double b = -std::cos(rot - sy) * std::tan(sx) / std::cos(sy) - std::sin(rot);
  const double c = std::sin(rot - sy) / std::cos(sy);
  const double d = -std::sin(rot - sy) * std::tan(sx) / std::cos(sy) + std::cos(rot);
  std::array<double, 6> m = {d, -b, 0.0, -c, a, 0.0};
  for (double& v : m) v /= scale;
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

// torchvision's _gen_affine_grid (output size = input size) in float32: per output pixel the
// normalised source (gx, gy) = theta (x, y, 1) / (w / 2, h / 2), x and y from the centre.
std::vector<float> affine_grid(const std::array<double, 6>& m, int64_t w, int64_t h) {
  const float sx = 0.5f * static_cast<float>(w), sy = 0.5f * static_cast<float>(h);
  const float t00 = static_cast<float>(m[0]) / sx, t01 = static_cast<float>(m[1]) / sx,
              t02 = static_cast<float>(m[2]) / sx;
  const float t10 = static_cast<float>(m[3]) / sy, t11 = static_cast<float>(m[4]) / sy,
              t12 = static_cast<float>(m[5]) / sy;
  std::vector<float> grid(static_cast<size_t>(h * w * 2));
  for (int64_t y = 0; y < h; ++y) {
    const float by = static_cast<float>(y) - static_cast<float>(h) * 0.5f + 0.5f;
    for (int64_t x = 0; x < w; ++x) {
      const float bx = static_cast<float>(x) - static_cast<float>(w) * 0.5f + 0.5f;
      float* g = &grid[static_cast<size_t>((y * w + x) * 2)];
      g[0] = grid_dot(bx, by, t00, t01, t02);
      g[1] = grid_dot(bx, by, t10, t11, t12);
    }
  }
  return grid;
}

// torchvision's _perspective_grid in float32: (x, y) from the top-left pixel centre,
// g = (c0 x + c1 y + c2) / (w / 2) / (c6 x + c7 y + 1) - 1 (likewise with c3..c5, h).
std::vector<float> perspective_grid(const std::array<double, 8>& c, int64_t w, int64_t h) {
  const float sx = 0.5f * static_cast<float>(w), sy = 0.5f * static_cast<float>(h);
  const float t00 = static_cast<float>(c[0]) / sx, t01 = static_cast<float>(c[1]) / sx,
              t02 = static_cast<float>(c[2]) / sx;
  const float t10 = static_cast<float>(c[3]) / sy, t11 = static_cast<float>(c[4]) / sy,
              t12 = static_cast<float>(c[5]) / sy;
  const float c6 = static_cast<float>(c[6]), c7 = static_cast<float>(c[7]);
  std::vector<float> grid(static_cast<size_t>(h * w * 2));
  for (int64_t y = 0; y < h; ++y) {
    const float by = static_cast<float>(y) + 0.5f;
    for (int64_t x = 0; x < w; ++x) {
      const float bx = static_cast<float>(x) + 0.5f;
      const float den = grid_dot(bx, by, c6, c7, 1.0f);
      float* g = &grid[static_cast<size_t>((y * w + x) * 2)];
      g[0] = grid_dot(bx, by, t00, t01, t02) / den - 1.0f;
      g[1] = grid_dot(bx, by, t10, t11, t12) / den - 1.0f;
    }
  }
  return grid;
}

// torchvision's _apply_grid_transform: grid_sample (zeros padding, align_corners=False) of
// every plane at the normalised grid (h * w pairs), then, with a fill, the sampled mask of
// ones decides: nearest takes fill where the mask is < 0.5, bilinear blends
// v * mask + (1 - mask) * fill. uint8 is sampled in float and rounded, as torchvision.
Tensor grid_transform(const Tensor& img, const std::vector<float>& grid, InterpolationMode interpolation,
                      const std::optional<std::vector<double>>& fill) {
  const Dims d = image_dims(img, "grid_transform");
  const int64_t c = img.dim() >= 3 ? img.size(-3) : 1;
  const int64_t h = d.h, w = d.w, hw = h * w;
  const float half_w = static_cast<float>(w) / 2, half_h = static_cast<float>(h) / 2;
  // Per output pixel: up to four source offsets and weights (-1 = outside), and the mask
  // (the weight that fell inside the image), shared by all planes.
  std::vector<int64_t> idx(static_cast<size_t>(hw * 4));
  std::vector<float> wt(static_cast<size_t>(hw * 4)), mask(static_cast<size_t>(hw));
  const bool nearest = interpolation == InterpolationMode::NEAREST;
  for (int64_t o = 0; o < hw; ++o) {
    const float ix = (grid[static_cast<size_t>(o * 2)] + 1.0f) * half_w - 0.5f;
    const float iy = (grid[static_cast<size_t>(o * 2 + 1)] + 1.0f) * half_h - 0.5f;
    int64_t* id = &idx[static_cast<size_t>(o * 4)];
    float* ww = &wt[static_cast<size_t>(o * 4)];
    if (nearest) {
      // out-of-range coordinates (a perspective's horizon) must not overflow the cast
      const bool finite = std::fabs(ix) < 1e9f && std::fabs(iy) < 1e9f;
      const int64_t nx = finite ? static_cast<int64_t>(std::nearbyint(ix)) : -1;
      const int64_t ny = finite ? static_cast<int64_t>(std::nearbyint(iy)) : -1;
      const bool in = nx >= 0 && nx < w && ny >= 0 && ny < h;
      id[0] = in ? ny * w + nx : -1;
      ww[0] = 1.0f;
      id[1] = id[2] = id[3] = -1;
      ww[1] = ww[2] = ww[3] = 0.0f;
      mask[static_cast<size_t>(o)] = in ? 1.0f : 0.0f;
    } else {
      const bool finite = std::fabs(ix) < 1e9f && std::fabs(iy) < 1e9f;
      const float fx = finite ? std::floor(ix) : -4.0f, fy = finite ? std::floor(iy) : -4.0f;
      const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
      const float e1 = ix - fx, w1 = 1.0f - e1, n1 = iy - fy, s1 = 1.0f - n1;
      const float wnw = s1 * w1, wne = s1 * e1, wsw = n1 * w1, wse = n1 * e1;
      const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
      const float ws[4] = {wnw, wne, wsw, wse};
      float mk = 0.0f;
      for (int k = 0; k < 4; ++k) {
        const bool in = xs[k] >= 0 && xs[k] < w && ys[k] >= 0 && ys[k] < h;
        id[k] = in ? ys[k] * w + xs[k] : -1;
        ww[k] = ws[k];
        mk += in ? ws[k] : 0.0f;
      }
      mask[static_cast<size_t>(o)] = mk;
    }
  }
  Tensor src = contig(img);
  Tensor out = new_image(img, h, w);
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* dst = out.data_ptr<T>();
    for (int64_t p = 0; p < d.planes; ++p) {
      const T* s = in + p * hw;
      const float f = fill ? static_cast<float>((*fill)[fill->size() == 1 ? 0 : static_cast<size_t>(p % c)]) : 0.0f;
      for (int64_t o = 0; o < hw; ++o) {
        const int64_t* id = &idx[static_cast<size_t>(o * 4)];
        const float* ww = &wt[static_cast<size_t>(o * 4)];
        const float mk = mask[static_cast<size_t>(o)];
        float v;
        if (nearest) {
          v = id[0] >= 0 ? static_cast<float>(s[id[0]]) : 0.0f;
          if (fill && mk < 0.5f) v = f;
        } else {
          v = (id[0] >= 0 ? static_cast<float>(s[id[0]]) : 0.0f) * ww[0];
          v = v + (id[1] >= 0 ? static_cast<float>(s[id[1]]) : 0.0f) * ww[1];
          v = v + (id[2] >= 0 ? static_cast<float>(s[id[2]]) : 0.0f) * ww[2];
          v = v + (id[3] >= 0 ? static_cast<float>(s[id[3]]) : 0.0f) * ww[3];
          if (fill) v = rounded_product(v, mk) + rounded_product(1.0f - mk, f);  // two tensor ops in torch
        }
        if constexpr (std::is_same_v<T, uint8_t>) {
          dst[p * hw + o] = round_u8(std::min(std::max(v, 0.0f), 255.0f));
        } else {
          dst[p * hw + o] = v;
        }
      }
    }
  });
  return out;
}

// ---- colour -----------------------------------------------------------------------------

// torchvision's _blend in float: ratio * a + (1 - ratio) * b, clamped to [0, bound], cast
// back (uint8 truncates, as torch's .to(uint8)).
template <typename T>
inline T blend(float a, float b, float r, float rc) {
  float v = rounded_product(r, a) + rounded_product(rc, b);
  if constexpr (std::is_same_v<T, uint8_t>) {
    v = std::min(std::max(v, 0.0f), 255.0f);
    return trunc_u8(v);
  } else {
    return std::min(std::max(v, 0.0f), 1.0f);
  }
}

// Grayscale of one image's planes r, g, b into `gray` (img dtype: uint8 truncated).
template <typename T>
inline T gray_of(T r, T g, T b) {
  float v = 0.2989f * static_cast<float>(r) + 0.587f * static_cast<float>(g);
  v = v + 0.114f * static_cast<float>(b);
  if constexpr (std::is_same_v<T, uint8_t>) {
    return trunc_u8(v);
  } else {
    return v;
  }
}

void check_factor(double f, const char* name) {
  CNNKIT_CHECK(f >= 0 && std::isfinite(f), name, " (", f, ") is not non-negative.");
}

}  // namespace

// ---- functional -------------------------------------------------------------------------
namespace functional {

Tensor to_tensor(const Tensor& img) {
  CNNKIT_CHECK(img.defined(), "to_tensor: the image is an undefined tensor");
  if (img.scalar_type() == kFloat) return copy_of(img);
  CNNKIT_CHECK_TYPE(img.scalar_type() == kByte, "to_tensor: expected a uint8 or float32 image, got ",
                    img.scalar_type());
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(kFloat));
  const uint8_t* in = src.data_ptr<uint8_t>();
  float* o = out.data_ptr<float>();
  const int64_t n = src.numel();
  for (int64_t i = 0; i < n; ++i) o[i] = static_cast<float>(in[i]) / 255.0f;
  return out;
}

Tensor normalize(const Tensor& img, const std::vector<double>& mean, const std::vector<double>& std) {
  CNNKIT_CHECK(img.defined(), "normalize: the image is an undefined tensor");
  CNNKIT_CHECK_TYPE(img.scalar_type() == kFloat, "normalize: input tensor should be a float tensor, got ",
                    img.scalar_type(), " (apply ToTensor first)");
  CNNKIT_CHECK_SHAPE(img.dim() >= 3, "normalize: expected a tensor image of size (..., C, H, W), got ", img.sizes());
  const int64_t c = img.size(-3);
  CNNKIT_CHECK(mean.size() == 1 || static_cast<int64_t>(mean.size()) == c, "normalize: mean has ", mean.size(),
               " values, expected 1 or one per channel (", c, ")");
  CNNKIT_CHECK(std.size() == 1 || static_cast<int64_t>(std.size()) == c, "normalize: std has ", std.size(),
               " values, expected 1 or one per channel (", c, ")");
  std::vector<float> m(c), s(c);
  for (int64_t k = 0; k < c; ++k) {
    m[k] = static_cast<float>(mean.size() == 1 ? mean[0] : mean[k]);
    s[k] = static_cast<float>(std.size() == 1 ? std[0] : std[k]);
    CNNKIT_CHECK(s[k] != 0.0f, "normalize: std evaluated to zero after conversion to float32 (channel ", k,
                 "), leading to division by zero");
  }
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(kFloat));
  const int64_t hw = img.size(-2) * img.size(-1), planes = hw ? src.numel() / hw : 0;
  const float* in = src.data_ptr<float>();
  float* o = out.data_ptr<float>();
  for (int64_t p = 0; p < planes; ++p) {
    const float mk = m[p % c], sk = s[p % c];
    const float* a = in + p * hw;
    float* b = o + p * hw;
    for (int64_t i = 0; i < hw; ++i) b[i] = (a[i] - mk) / sk;  // as torch: sub_ then div_
  }
  return out;
}

Tensor hflip(const Tensor& img) {
  Dims d = image_dims(img, "hflip");
  Tensor src = contig(img);
  Tensor out = new_image(img, d.h, d.w);
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t r = 0; r < d.planes * d.h; ++r) {
      const T* a = in + r * d.w;
      T* b = o + r * d.w;
      for (int64_t x = 0; x < d.w; ++x) b[x] = a[d.w - 1 - x];
    }
  });
  return out;
}

Tensor vflip(const Tensor& img) {
  Dims d = image_dims(img, "vflip");
  Tensor src = contig(img);
  Tensor out = new_image(img, d.h, d.w);
  const size_t row = static_cast<size_t>(d.w) * img.element_size();
  const char* in = static_cast<const char*>(src.data_ptr());
  char* o = static_cast<char*>(out.data_ptr());
  for (int64_t p = 0; p < d.planes; ++p)
    for (int64_t y = 0; y < d.h; ++y)
      std::memcpy(o + static_cast<size_t>(p * d.h + y) * row, in + static_cast<size_t>(p * d.h + d.h - 1 - y) * row,
                  row);
  return out;
}

Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width) {
  image_dims(img, "crop");
  CNNKIT_CHECK(height > 0 && width > 0, "crop: height and width must be positive, got ", height, "x", width);
  return pad_crop(img, 0, 0, PadMode::Constant, 0.0, top, left, height, width);
}

Tensor pad(const Tensor& img, const IntList& padding, double fill, const std::string& padding_mode) {
  return pad_lrtb(img, parse_padding(padding, "pad"), fill, parse_pad_mode(padding_mode, "pad"), "pad");
}

Tensor resize(const Tensor& img, const IntList& size, InterpolationMode interpolation,
              std::optional<int64_t> max_size, std::optional<bool> antialias) {
  Dims d = image_dims(img, "resize");
  check_size(size, "resize");
  CNNKIT_CHECK(!max_size || size.values.size() == 1,
               "resize: max_size should only be passed if size specifies the length of the smaller edge");
  CNNKIT_CHECK_T(NotImplementedError, !antialias.value_or(false),
                 "resize: antialias=true is not implemented (torchvision's tensor default is false)");
  CNNKIT_CHECK(d.h > 0 && d.w > 0, "resize: cannot resize an empty image ", img.sizes());
  // Plain variables, not a structured binding: clang 14 lambdas cannot capture those.
  const std::array<int64_t, 2> out_size = resized_output_size(d.h, d.w, size.values, max_size);
  const int64_t oh = out_size[0], ow = out_size[1];
  if (oh == d.h && ow == d.w) return copy_of(img);
  Tensor src = contig(img);
  Tensor out = new_image(img, oh, ow);
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    if (interpolation == InterpolationMode::BILINEAR) {
      resize_bilinear_kernel<T>(out.data_ptr<T>(), src.data_ptr<T>(), d.planes, d.h, d.w, oh, ow);
    } else {
      std::vector<int64_t> rows = nearest_indices(d.h, oh), cols = nearest_indices(d.w, ow);
      gather_kernel<T>(out.data_ptr<T>(), src.data_ptr<T>(), d.planes, d.h, d.w, rows, cols, T{});
    }
  });
  return out;
}

Tensor center_crop(const Tensor& img, const IntList& output_size) {
  Dims d = image_dims(img, "center_crop");
  auto [ch, cw] = square(output_size, "center_crop");
  Tensor src = img;
  int64_t h = d.h, w = d.w;
  if (cw > w || ch > h) {
    std::array<int64_t, 4> ltrb = {cw > w ? (cw - w) / 2 : 0, ch > h ? (ch - h) / 2 : 0,
                                   cw > w ? (cw - w + 1) / 2 : 0, ch > h ? (ch - h + 1) / 2 : 0};
    src = pad_lrtb(img, ltrb, 0.0, PadMode::Constant, "center_crop");
    h = src.size(-2);
    w = src.size(-1);
    if (cw == w && ch == h) return src;
  }
  // Python's round() rounds half to even, as nearbyint does
  int64_t top = static_cast<int64_t>(std::nearbyint(static_cast<double>(h - ch) / 2.0));
  int64_t left = static_cast<int64_t>(std::nearbyint(static_cast<double>(w - cw) / 2.0));
  return crop(src, top, left, ch, cw);
}

Tensor resized_crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
                    const IntList& size, InterpolationMode interpolation) {
  return resize(crop(img, top, left, height, width), size, interpolation);
}

Tensor rotate(const Tensor& img, double angle, InterpolationMode interpolation, bool expand,
              std::optional<std::vector<double>> center, std::optional<std::vector<double>> fill) {
  Dims d = image_dims(img, "rotate");
  CNNKIT_CHECK_T(NotImplementedError, !expand, "rotate: expand=true is not implemented");
  check_fill(img, fill, "rotate");
  // torchvision: _get_inverse_affine_matrix(center, -angle, [0, 0], 1, [0, 0]), as the
  // rotation direction of F.rotate and F.affine disagree
  const auto c = centre_offset(center, d, "rotate");
  const auto m = inverse_affine_matrix(c, -angle, {0.0, 0.0}, 1.0, {0.0, 0.0});
  return grid_transform(img, affine_grid(m, d.w, d.h), interpolation, fill);
}

Tensor affine(const Tensor& img, double angle, std::array<double, 2> translate, double scale,
              std::array<double, 2> shear, InterpolationMode interpolation, std::optional<std::vector<double>> fill,
              std::optional<std::vector<double>> center) {
  Dims d = image_dims(img, "affine");
  CNNKIT_CHECK(scale > 0.0 && std::isfinite(scale), "affine: Argument scale should be positive, got ", scale);
  CNNKIT_CHECK(std::isfinite(angle) && std::isfinite(translate[0]) && std::isfinite(translate[1]) &&
                   std::isfinite(shear[0]) && std::isfinite(shear[1]),
               "affine: angle, translate and shear must be finite, got angle ", angle, ", translate (",
               translate[0], ", ", translate[1], "), shear (", shear[0], ", ", shear[1], ")");
  check_fill(img, fill, "affine");
  const auto c = centre_offset(center, d, "affine");
  const auto m = inverse_affine_matrix(c, angle, translate, scale, shear);
  return grid_transform(img, affine_grid(m, d.w, d.h), interpolation, fill);
}

std::array<double, 8> perspective_coeffs(const std::vector<std::array<double, 2>>& startpoints,
                                         const std::vector<std::array<double, 2>>& endpoints) {
  CNNKIT_CHECK(startpoints.size() == 4 && endpoints.size() == 4,
               "perspective: startpoints and endpoints must be four [x, y] corners each, got ", startpoints.size(),
               " and ", endpoints.size());
  // torchvision's _get_perspective_coeffs: the 8x8 system in float32, solved by
  // torch.linalg.lstsq(driver="gels"). Solving it in double instead gives coefficients a few
  // float ulps away, which moves ~0.4% of uint8 pixels by one step (and nearest samples by a
  // whole pixel): to be torchvision's numbers it is solved as torchvision solves it.
  Tensor a = cnnkit::empty({8, 8}, TensorOptions(kFloat)), b = cnnkit::empty({8}, TensorOptions(kFloat));
  float* pa = a.data_ptr<float>();
  float* pb = b.data_ptr<float>();
  for (int i = 0; i < 4; ++i) {
    const float x = static_cast<float>(endpoints[i][0]), y = static_cast<float>(endpoints[i][1]);
    const float u = static_cast<float>(startpoints[i][0]), v = static_cast<float>(startpoints[i][1]);
    const float r0[8] = {x, y, 1, 0, 0, 0, -u * x, -u * y};
    const float r1[8] = {0, 0, 0, x, y, 1, -v * x, -v * y};
    std::memcpy(pa + (2 * i) * 8, r0, sizeof(r0));
    std::memcpy(pa + (2 * i + 1) * 8, r1, sizeof(r1));
    pb[2 * i] = u;
    pb[2 * i + 1] = v;
  }
  Tensor x;
  try {
    x = cnnkit::lstsq(a, b);
  } catch (const ValueError&) {
    CNNKIT_CHECK(false, "perspective: the corner points are degenerate (three of them on a line or repeated): "
                        "no perspective transform maps startpoints to endpoints");
  }
  std::array<double, 8> out{};
  for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = x.data_ptr<float>()[i];
  return out;
}

Tensor perspective(const Tensor& img, const std::vector<std::array<double, 2>>& startpoints,
                   const std::vector<std::array<double, 2>>& endpoints, InterpolationMode interpolation,
                   std::optional<std::vector<double>> fill) {
  Dims d = image_dims(img, "perspective");
  check_fill(img, fill, "perspective");
  const std::array<double, 8> c = perspective_coeffs(startpoints, endpoints);
  return grid_transform(img, perspective_grid(c, d.w, d.h), interpolation, fill);
}

Tensor perspective(const Tensor& img, const std::array<double, 8>& coeffs, InterpolationMode interpolation,
                   std::optional<std::vector<double>> fill) {
  Dims d = image_dims(img, "perspective");
  check_fill(img, fill, "perspective");
  for (size_t i = 0; i < coeffs.size(); ++i)
    CNNKIT_CHECK(std::isfinite(coeffs[i]), "perspective: coefficient ", i, " is ", coeffs[i]);
  return grid_transform(img, perspective_grid(coeffs, d.w, d.h), interpolation, fill);
}

Tensor rgb_to_grayscale(const Tensor& img, int64_t num_output_channels) {
  ColorDims cd = color_dims(img, "rgb_to_grayscale");
  CNNKIT_CHECK(num_output_channels == 1 || num_output_channels == 3,
               "rgb_to_grayscale: num_output_channels should be either 1 or 3, got ", num_output_channels);
  Tensor src = contig(img);
  std::vector<int64_t> sizes = img.sizes().vec();
  sizes[sizes.size() - 3] = num_output_channels;
  Tensor out = cnnkit::empty(sizes, TensorOptions(img.scalar_type()));
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t g = 0; g < cd.groups; ++g) {
      const T* r = in + g * cd.c * cd.hw;
      T* dst = o + g * num_output_channels * cd.hw;
      if (cd.c == 3) {
        const T* gr = r + cd.hw;
        const T* bl = r + 2 * cd.hw;
        for (int64_t i = 0; i < cd.hw; ++i) dst[i] = gray_of<T>(r[i], gr[i], bl[i]);
      } else {
        std::memcpy(dst, r, static_cast<size_t>(cd.hw) * sizeof(T));
      }
      for (int64_t k = 1; k < num_output_channels; ++k)
        std::memcpy(dst + k * cd.hw, dst, static_cast<size_t>(cd.hw) * sizeof(T));
    }
  });
  return out;
}

Tensor adjust_brightness(const Tensor& img, double brightness_factor) {
  check_factor(brightness_factor, "adjust_brightness: brightness_factor");
  color_dims(img, "adjust_brightness");
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(img.scalar_type()));
  const float r = static_cast<float>(brightness_factor), rc = static_cast<float>(1.0 - brightness_factor);
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    const int64_t n = src.numel();
    for (int64_t i = 0; i < n; ++i) o[i] = blend<T>(static_cast<float>(in[i]), 0.0f, r, rc);
  });
  return out;
}

Tensor adjust_contrast(const Tensor& img, double contrast_factor) {
  check_factor(contrast_factor, "adjust_contrast: contrast_factor");
  ColorDims cd = color_dims(img, "adjust_contrast");
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(img.scalar_type()));
  const float r = static_cast<float>(contrast_factor), rc = static_cast<float>(1.0 - contrast_factor);
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t g = 0; g < cd.groups; ++g) {
      const T* a = in + g * cd.c * cd.hw;
      // mean of the grayscale image (in the image's dtype first, as torchvision)
      double sum = 0;
      if (cd.c == 3) {
        for (int64_t i = 0; i < cd.hw; ++i) sum += static_cast<float>(gray_of<T>(a[i], a[i + cd.hw], a[i + 2 * cd.hw]));
      } else {
        for (int64_t i = 0; i < cd.hw; ++i) sum += static_cast<float>(a[i]);
      }
      const float mean = cd.hw ? static_cast<float>(sum) / static_cast<float>(cd.hw) : 0.0f;
      T* b = o + g * cd.c * cd.hw;
      for (int64_t i = 0; i < cd.c * cd.hw; ++i) b[i] = blend<T>(static_cast<float>(a[i]), mean, r, rc);
    }
  });
  return out;
}

Tensor adjust_saturation(const Tensor& img, double saturation_factor) {
  check_factor(saturation_factor, "adjust_saturation: saturation_factor");
  ColorDims cd = color_dims(img, "adjust_saturation");
  if (cd.c == 1) return copy_of(img);  // as PIL: a grayscale image has no saturation
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(img.scalar_type()));
  const float r = static_cast<float>(saturation_factor), rc = static_cast<float>(1.0 - saturation_factor);
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t g = 0; g < cd.groups; ++g) {
      const T* a = in + g * 3 * cd.hw;
      T* b = o + g * 3 * cd.hw;
      for (int64_t i = 0; i < cd.hw; ++i) {
        const float gray = static_cast<float>(gray_of<T>(a[i], a[i + cd.hw], a[i + 2 * cd.hw]));
        for (int64_t k = 0; k < 3; ++k) b[i + k * cd.hw] = blend<T>(static_cast<float>(a[i + k * cd.hw]), gray, r, rc);
      }
    }
  });
  return out;
}

Tensor adjust_hue(const Tensor& img, double hue_factor) {
  CNNKIT_CHECK(hue_factor >= -0.5 && hue_factor <= 0.5, "adjust_hue: hue_factor (", hue_factor,
               ") is not in [-0.5, 0.5].");
  ColorDims cd = color_dims(img, "adjust_hue");
  if (cd.c == 1) return copy_of(img);
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(img.scalar_type()));
  const float hf = static_cast<float>(hue_factor);
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t g = 0; g < cd.groups; ++g) {
      const T* a = in + g * 3 * cd.hw;
      T* b = o + g * 3 * cd.hw;
      for (int64_t i = 0; i < cd.hw; ++i) {
        float r = static_cast<float>(a[i]), gg = static_cast<float>(a[i + cd.hw]), bb = static_cast<float>(a[i + 2 * cd.hw]);
        if constexpr (std::is_same_v<T, uint8_t>) {
          r = r / 255.0f;
          gg = gg / 255.0f;
          bb = bb / 255.0f;
        }
        // _rgb2hsv
        const float maxc = std::max(std::max(r, gg), bb), minc = std::min(std::min(r, gg), bb);
        const bool eqc = maxc == minc;
        const float cr = maxc - minc;
        const float s = cr / (eqc ? 1.0f : maxc);
        const float crd = eqc ? 1.0f : cr;
        const float rc = (maxc - r) / crd, gc = (maxc - gg) / crd, bc = (maxc - bb) / crd;
        float hval;
        if (maxc == r) {
          hval = bc - gc;
        } else if (maxc == gg) {
          hval = 2.0f + rc - bc;
        } else {
          hval = 4.0f + gc - rc;
        }
        hval = std::fmod(hval / 6.0f + 1.0f, 1.0f);
        // (h + hue_factor) % 1.0 with Python's sign convention
        float hh = std::fmod(hval + hf, 1.0f);
        if (hh != 0.0f && hh < 0.0f) hh += 1.0f;
        // _hsv2rgb
        const float v = maxc;
        const float i6 = std::floor(hh * 6.0f);
        const float f = hh * 6.0f - i6;
        const int sector = ((static_cast<int>(i6) % 6) + 6) % 6;
        const float p = std::min(std::max(v * (1.0f - s), 0.0f), 1.0f);
        const float q = std::min(std::max(v * (1.0f - s * f), 0.0f), 1.0f);
        const float t = std::min(std::max(v * (1.0f - s * (1.0f - f)), 0.0f), 1.0f);
        float rgb[3];
        switch (sector) {
          case 0: rgb[0] = v; rgb[1] = t; rgb[2] = p; break;
          case 1: rgb[0] = q; rgb[1] = v; rgb[2] = p; break;
          case 2: rgb[0] = p; rgb[1] = v; rgb[2] = t; break;
          case 3: rgb[0] = p; rgb[1] = q; rgb[2] = v; break;
          case 4: rgb[0] = t; rgb[1] = p; rgb[2] = v; break;
          default: rgb[0] = v; rgb[1] = p; rgb[2] = q; break;
        }
        for (int k = 0; k < 3; ++k) {
          if constexpr (std::is_same_v<T, uint8_t>) {
            b[i + k * cd.hw] = trunc_u8(rgb[k] * 255.0f);
          } else {
            b[i + k * cd.hw] = rgb[k];
          }
        }
      }
    }
  });
  return out;
}

Tensor gaussian_noise(const Tensor& img, Generator& gen, double mean, double sigma, bool clip) {
  CNNKIT_CHECK(img.defined(), "gaussian_noise: the image is an undefined tensor");
  CNNKIT_CHECK_TYPE(img.scalar_type() == kFloat, "gaussian_noise: input tensor is expected to be in float dtype, got ",
                    img.scalar_type(), " (apply ToTensor first)");
  CNNKIT_CHECK(sigma >= 0, "gaussian_noise: sigma shouldn't be negative, got ", sigma);
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(kFloat));
  const float* in = src.data_ptr<float>();
  float* o = out.data_ptr<float>();
  const float m = static_cast<float>(mean), s = static_cast<float>(sigma);
  const int64_t n = src.numel();
  for (int64_t i = 0; i < n; ++i) {
    float v = in[i] + (m + gen.normal() * s);
    o[i] = clip ? std::min(std::max(v, 0.0f), 1.0f) : v;
  }
  return out;
}

namespace {
// torchvision's _get_gaussian_kernel1d in float32: exp(-0.5 (x / sigma)^2) at x = -(k-1)/2
// ... (k-1)/2, divided by its sum.
std::vector<float> gaussian_kernel1d(int64_t k, double sigma) {
  std::vector<float> pdf(static_cast<size_t>(k));
  const float half = static_cast<float>(k - 1) * 0.5f, s = static_cast<float>(sigma);
  float sum = 0;
  for (int64_t i = 0; i < k; ++i) {
    const float x = (static_cast<float>(i) - half) / s;
    pdf[static_cast<size_t>(i)] = std::exp(-0.5f * x * x);
    sum += pdf[static_cast<size_t>(i)];
  }
  for (float& v : pdf) v /= sum;
  return pdf;
}

// Reflect padding's source index ("reflect": the border itself is not repeated).
inline int64_t reflect(int64_t i, int64_t n) { return i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i; }
}  // namespace

Tensor gaussian_blur(const Tensor& img, std::pair<int64_t, int64_t> kernel_size, std::pair<double, double> sigma) {
  const Dims d = image_dims(img, "gaussian_blur");
  const int64_t kx = kernel_size.first, ky = kernel_size.second;  // captured below: no structured binding (clang 14)
  CNNKIT_CHECK(kx > 0 && ky > 0 && kx % 2 == 1 && ky % 2 == 1,
               "gaussian_blur: kernel_size should have odd and positive integers. Got [", kx, ", ", ky, "]");
  CNNKIT_CHECK(sigma.first > 0 && sigma.second > 0, "gaussian_blur: sigma should have positive values. Got [",
               sigma.first, ", ", sigma.second, "]");
  CNNKIT_CHECK(kx / 2 < d.w && ky / 2 < d.h, "gaussian_blur: the kernel's half-width (", kx / 2, ", ", ky / 2,
               ") must be smaller than the image (", d.w, " wide, ", d.h,
               " high) for reflect padding; use a smaller kernel_size");
  const std::vector<float> wx = gaussian_kernel1d(kx, sigma.first), wy = gaussian_kernel1d(ky, sigma.second);
  std::vector<float> k2(static_cast<size_t>(kx * ky));  // torch.mm(ky[:, None], kx[None, :])
  for (int64_t a = 0; a < ky; ++a)
    for (int64_t b = 0; b < kx; ++b) k2[static_cast<size_t>(a * kx + b)] = wy[static_cast<size_t>(a)] * wx[static_cast<size_t>(b)];
  const Tensor src = contig(img);
  Tensor out = new_image(img, d.h, d.w);
  const int64_t rx = kx / 2, ry = ky / 2, pw = d.w + 2 * rx;
  std::vector<float> padded(static_cast<size_t>((d.h + 2 * ry) * pw));
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t p = 0; p < d.planes; ++p) {
      const T* plane = in + p * d.h * d.w;
      for (int64_t y = -ry; y < d.h + ry; ++y)
        for (int64_t x = -rx; x < d.w + rx; ++x)
          padded[static_cast<size_t>((y + ry) * pw + x + rx)] =
              static_cast<float>(plane[reflect(y, d.h) * d.w + reflect(x, d.w)]);
      T* dst = o + p * d.h * d.w;
      for (int64_t y = 0; y < d.h; ++y)
        for (int64_t x = 0; x < d.w; ++x) {
          float acc = 0;
          for (int64_t a = 0; a < ky; ++a) {
            const float* row = padded.data() + (y + a) * pw + x;
            const float* kr = k2.data() + a * kx;
            for (int64_t b = 0; b < kx; ++b) acc += kr[b] * row[b];
          }
          if constexpr (std::is_same_v<T, uint8_t>)
            dst[y * d.w + x] = round_u8(std::min(std::max(acc, 0.0f), 255.0f));
          else
            dst[y * d.w + x] = acc;
        }
    }
  });
  return out;
}

Tensor erase(const Tensor& img, int64_t i, int64_t j, int64_t h, int64_t w, const Tensor& v) {
  const Dims d = image_dims(img, "erase");
  CNNKIT_CHECK(img.dim() == 3, "erase: expected an image (C, H, W), got ", img.dim(), " dims ", img.sizes());
  CNNKIT_CHECK(i >= 0 && j >= 0 && h >= 0 && w >= 0 && i + h <= d.h && j + w <= d.w, "erase: the rectangle (top ",
               i, ", left ", j, ", height ", h, ", width ", w, ") does not lie inside the ", d.h, "x", d.w, " image");
  Tensor out = img.clone();
  if (h == 0 || w == 0) return out;
  NoGradGuard no_grad;
  out.narrow(1, i, h).narrow(2, j, w).copy_(v.to(img.scalar_type()).expand({img.size(0), h, w}));
  return out;
}


namespace {
// torchvision's colour-op checks: (..., C, H, W) with at least 3 dims (TypeError), 1 or 3
// channels (TypeError), optionally uint8 only.
ColorDims check_color_op(const Tensor& img, const char* op, bool uint8_only) {
  CNNKIT_CHECK(img.defined(), op, ": the image is an undefined tensor");
  CNNKIT_CHECK_TYPE(img.dim() >= 3, op, ": Input image tensor should have at least 3 dimensions, but found ", img.dim());
  if (uint8_only)
    CNNKIT_CHECK_TYPE(img.scalar_type() == kByte, op, ": Only torch.uint8 image tensors are supported, but found ",
                      img.scalar_type());
  CNNKIT_CHECK_TYPE(img.scalar_type() == kByte || img.scalar_type() == kFloat, op,
                    ": expected a uint8 or float32 image, got ", img.scalar_type());
  const int64_t c = img.size(-3);
  CNNKIT_CHECK_TYPE(c == 1 || c == 3, op, ": Input image tensor permitted channel values are [1, 3], but found ", c);
  return color_dims(img, op);
}

// out[i] = f(in[i]) over every element, in the image's dtype.
template <typename F>
Tensor map_elements(const Tensor& img, F&& f) {
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(img.scalar_type()));
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    const int64_t n = src.numel();
    for (int64_t i = 0; i < n; ++i) o[i] = f(in[i]);
  });
  return out;
}
}  // namespace

Tensor invert(const Tensor& img) {
  check_color_op(img, "invert", false);
  return map_elements(img, [](auto v) -> decltype(v) {
    if constexpr (std::is_same_v<decltype(v), uint8_t>) {
      return static_cast<uint8_t>(255 - v);
    } else {
      return 1.0f - v;
    }
  });
}

Tensor posterize(const Tensor& img, int64_t bits) {
  CNNKIT_CHECK(bits >= 0 && bits <= 8, "posterize: The number if bits should be between 0 and 8. Got ", bits);
  check_color_op(img, "posterize", true);
  // torchvision: img & -(2 ** (8 - bits)), the mask taken modulo 256
  const uint8_t mask = static_cast<uint8_t>(-(int64_t{1} << (8 - bits)) & 0xFF);
  return map_elements(img, [mask](auto v) -> decltype(v) {
    if constexpr (std::is_same_v<decltype(v), uint8_t>) {
      return static_cast<uint8_t>(v & mask);
    } else {
      return v;  // unreachable: uint8 only
    }
  });
}

Tensor solarize(const Tensor& img, double threshold) {
  check_color_op(img, "solarize", false);
  const double bound = img.scalar_type() == kByte ? 255.0 : 1.0;
  CNNKIT_CHECK_TYPE(threshold <= bound, "solarize: Threshold should be less than bound of img (threshold ", threshold,
                    ", bound ", bound, ")");
  // torch compares a uint8 or float32 tensor with a Python float in float32
  const float t = static_cast<float>(threshold);
  return map_elements(img, [t](auto v) -> decltype(v) {
    if constexpr (std::is_same_v<decltype(v), uint8_t>) {
      return static_cast<float>(v) >= t ? static_cast<uint8_t>(255 - v) : v;
    } else {
      return v >= t ? 1.0f - v : v;
    }
  });
}

Tensor adjust_sharpness(const Tensor& img, double sharpness_factor) {
  CNNKIT_CHECK(sharpness_factor >= 0 && std::isfinite(sharpness_factor), "adjust_sharpness: sharpness_factor (",
               sharpness_factor, ") is not non-negative.");
  const Dims d = image_dims(img, "adjust_sharpness");
  const int64_t c = img.dim() >= 3 ? img.size(-3) : 1;
  CNNKIT_CHECK_TYPE(c == 1 || c == 3, "adjust_sharpness: Input image tensor permitted channel values are [1, 3], but found ", c);
  if (d.w <= 2 || d.h <= 2) return copy_of(img);
  // _blurred_degenerate_image: the interior convolved with [[1 1 1] [1 5 1] [1 1 1]] / 13 in
  // float32 (uint8 rounded back), the border kept; then _blend(img, blurred, factor).
  const float k1 = 1.0f / 13.0f, k5 = 5.0f / 13.0f;
  const float r = static_cast<float>(sharpness_factor), rc = static_cast<float>(1.0 - sharpness_factor);
  Tensor src = contig(img);
  Tensor out = new_image(img, d.h, d.w);
  const int64_t h = d.h, w = d.w;
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t p = 0; p < d.planes; ++p) {
      const T* a = in + p * h * w;
      T* b = o + p * h * w;
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const float v = static_cast<float>(a[y * w + x]);
          float blurred = v;
          if (y > 0 && y < h - 1 && x > 0 && x < w - 1) {
            float acc = 0;
            for (int64_t dy = -1; dy <= 1; ++dy)
              for (int64_t dx = -1; dx <= 1; ++dx)
                acc += (dy == 0 && dx == 0 ? k5 : k1) * static_cast<float>(a[(y + dy) * w + x + dx]);
            if constexpr (std::is_same_v<T, uint8_t>) {
              blurred = static_cast<float>(round_u8(std::min(std::max(acc, 0.0f), 255.0f)));
            } else {
              blurred = acc;
            }
          }
          b[y * w + x] = blend<T>(v, blurred, r, rc);
        }
    }
  });
  return out;
}

Tensor autocontrast(const Tensor& img) {
  const ColorDims cd = check_color_op(img, "autocontrast", false);
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(img.scalar_type()));
  dispatch(img.scalar_type(), [&](auto tag) {
    using T = decltype(tag);
    constexpr bool kU8 = std::is_same_v<T, uint8_t>;
    const float bound = kU8 ? 255.0f : 1.0f;
    const T* in = src.data_ptr<T>();
    T* o = out.data_ptr<T>();
    for (int64_t p = 0; p < cd.groups * cd.c; ++p) {
      const T* a = in + p * cd.hw;
      T* b = o + p * cd.hw;
      if (cd.hw == 0) continue;
      float mn = static_cast<float>(a[0]), mx = mn;
      for (int64_t i = 1; i < cd.hw; ++i) {
        mn = std::min(mn, static_cast<float>(a[i]));
        mx = std::max(mx, static_cast<float>(a[i]));
      }
      // a flat channel (scale not finite) is left as it is: minimum 0, scale 1
      // torchvision's bound / (max - min) is Tensor.__rtruediv__: reciprocal(max - min) * bound
      float scale = (1.0f / (mx - mn)) * bound;
      if (!std::isfinite(scale)) {
        mn = 0.0f;
        scale = 1.0f;
      }
      for (int64_t i = 0; i < cd.hw; ++i) {
        const float v = std::min(std::max((static_cast<float>(a[i]) - mn) * scale, 0.0f), bound);
        if constexpr (kU8) {
          b[i] = trunc_u8(v);
        } else {
          b[i] = v;
        }
      }
    }
  });
  return out;
}

Tensor equalize(const Tensor& img) {
  CNNKIT_CHECK(img.defined(), "equalize: the image is an undefined tensor");
  CNNKIT_CHECK_TYPE(img.dim() >= 3 && img.dim() <= 4,
                    "equalize: Input image tensor should have 3 or 4 dimensions, but found ", img.dim());
  const ColorDims cd = check_color_op(img, "equalize", true);
  Tensor src = contig(img);
  Tensor out = cnnkit::empty(src.sizes(), TensorOptions(kByte));
  const uint8_t* in = src.data_ptr<uint8_t>();
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int64_t p = 0; p < cd.groups * cd.c; ++p) {
    const uint8_t* a = in + p * cd.hw;
    uint8_t* b = o + p * cd.hw;
    // torchvision's _scale_channel: step = (count of all pixels but those of the last
    // non-empty bin) // 255; lut[v] = (cumsum up to v - 1 + step // 2) // step, clamped
    int64_t hist[256] = {0};
    for (int64_t i = 0; i < cd.hw; ++i) ++hist[a[i]];
    int64_t last = 255;
    while (last > 0 && hist[last] == 0) --last;
    int64_t total = 0;
    for (int64_t v = 0; v < 256; ++v) total += hist[v];
    const int64_t step = (total - hist[last]) / 255;
    if (step == 0) {
      std::memcpy(b, a, static_cast<size_t>(cd.hw));
      continue;
    }
    uint8_t lut[256];
    int64_t cum = 0;
    for (int64_t v = 0; v < 256; ++v) {
      lut[v] = static_cast<uint8_t>(std::min<int64_t>((cum + step / 2) / step, 255));
      cum += hist[v];
    }
    for (int64_t i = 0; i < cd.hw; ++i) b[i] = lut[a[i]];
  }
  return out;
}


Tensor apply_op(const Tensor& img, const std::string& op_name, double magnitude, InterpolationMode interpolation,
                const std::optional<std::vector<double>>& fill) {
  // Python's math.degrees: x * (180 / pi)
  constexpr double kRadToDeg = 180.0 / M_PI;
  image_dims(img, "apply_op");
  // torchvision shears and translates about the top-left corner ("center=[0, 0]"), rotates
  // about the image centre
  const std::vector<double> corner = {0.0, 0.0};
  if (op_name == "ShearX")
    return affine(img, 0.0, {0.0, 0.0}, 1.0, {std::atan(magnitude) * kRadToDeg, 0.0}, interpolation, fill, corner);
  if (op_name == "ShearY")
    return affine(img, 0.0, {0.0, 0.0}, 1.0, {0.0, std::atan(magnitude) * kRadToDeg}, interpolation, fill, corner);
  // int(magnitude): toward zero
  if (op_name == "TranslateX")
    return affine(img, 0.0, {std::trunc(magnitude), 0.0}, 1.0, {0.0, 0.0}, interpolation, fill);
  if (op_name == "TranslateY")
    return affine(img, 0.0, {0.0, std::trunc(magnitude)}, 1.0, {0.0, 0.0}, interpolation, fill);
  if (op_name == "Rotate") return rotate(img, magnitude, interpolation, false, std::nullopt, fill);
  if (op_name == "Brightness") return adjust_brightness(img, 1.0 + magnitude);
  if (op_name == "Color") return adjust_saturation(img, 1.0 + magnitude);
  if (op_name == "Contrast") return adjust_contrast(img, 1.0 + magnitude);
  if (op_name == "Sharpness") return adjust_sharpness(img, 1.0 + magnitude);
  if (op_name == "Posterize") return posterize(img, static_cast<int64_t>(magnitude));
  if (op_name == "Solarize") return solarize(img, magnitude);
  if (op_name == "AutoContrast") return autocontrast(img);
  if (op_name == "Equalize") return equalize(img);
  if (op_name == "Invert") return invert(img);
  if (op_name == "Identity") return img;
  CNNKIT_CHECK(false, "apply_op: The provided operator ", op_name,
               " is not recognized (expected one of Identity, ShearX, ShearY, TranslateX, TranslateY, Rotate, "
               "Brightness, Color, Contrast, Sharpness, Posterize, Solarize, AutoContrast, Equalize, Invert)");
  return img;
}

}  // namespace functional

// ---- transform objects ------------------------------------------------------------------

Lambda<>::Lambda(FunctionType fn) : fn_(std::move(fn)) {
  CNNKIT_CHECK(static_cast<bool>(fn_), "Lambda: the function is empty");
}

AnyTransform::AnyTransform(std::shared_ptr<const Transform> t) : impl_(std::move(t)) {
  CNNKIT_CHECK(impl_ != nullptr, "AnyTransform: null transform");
}

Compose::Compose(std::vector<AnyTransform> transforms) : transforms_(std::move(transforms)) {}

Tensor Compose::operator()(Tensor img) const {
  for (const AnyTransform& t : transforms_) img = t(std::move(img));
  return img;
}

Tensor ToTensor::operator()(Tensor img) const { return functional::to_tensor(img); }

NormalizeImpl::NormalizeImpl(DoubleList mean, DoubleList stddev)
    : mean_(std::move(mean.values)), std_(std::move(stddev.values)) {
  CNNKIT_CHECK(!mean_.empty() && !std_.empty(), "Normalize: mean and std need at least one value each");
}

Tensor NormalizeImpl::operator()(Tensor img) const { return functional::normalize(img, mean_, std_); }

namespace {
void check_p(double p, const char* op) { CNNKIT_CHECK(p >= 0 && p <= 1, op, ": p must be in [0, 1], got ", p); }
}  // namespace

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) { check_p(p, "RandomHorizontalFlip"); }
Tensor RandomHorizontalFlip::operator()(Tensor img) const {
  return example_generator().uniform_double() < p_ ? functional::hflip(img) : img;
}

RandomVerticalFlip::RandomVerticalFlip(double p) : p_(p) { check_p(p, "RandomVerticalFlip"); }
Tensor RandomVerticalFlip::operator()(Tensor img) const {
  return example_generator().uniform_double() < p_ ? functional::vflip(img) : img;
}

RandomCrop::RandomCrop(IntList size, std::optional<IntList> padding, bool pad_if_needed, double fill,
                       std::string padding_mode)
    : padding_(std::move(padding)), pad_if_needed_(pad_if_needed), fill_(fill), padding_mode_(std::move(padding_mode)) {
  auto hw = square(size, "RandomCrop");
  h_ = hw[0];
  w_ = hw[1];
  parse_pad_mode(padding_mode_, "RandomCrop");
  if (padding_) parse_padding(*padding_, "RandomCrop");
}

Tensor RandomCrop::operator()(Tensor img) const {
  Dims d = image_dims(img, "RandomCrop");
  PadMode mode = parse_pad_mode(padding_mode_, "RandomCrop");
  std::array<int64_t, 4> ltrb = padding_ ? parse_padding(*padding_, "RandomCrop") : std::array<int64_t, 4>{0, 0, 0, 0};
  auto [h, w] = check_padding(d, ltrb, mode, "RandomCrop");
  // The crop reads through the padding (no padded copy), unless pad_if_needed has to pad
  // the padded image again: then torchvision's pad() calls are made one by one.
  Tensor src = img;
  int64_t pad_top = ltrb[1], pad_left = ltrb[0];
  if (pad_if_needed_ && (w < w_ || h < h_)) {
    if (padding_) src = pad_lrtb(src, ltrb, fill_, mode, "RandomCrop");
    if (src.size(-1) < w_) {
      int64_t p = w_ - src.size(-1);
      src = pad_lrtb(src, {p, 0, p, 0}, fill_, mode, "RandomCrop");
    }
    if (src.size(-2) < h_) {
      int64_t p = h_ - src.size(-2);
      src = pad_lrtb(src, {0, p, 0, p}, fill_, mode, "RandomCrop");
    }
    pad_top = pad_left = 0;
    h = src.size(-2);
    w = src.size(-1);
  }
  CNNKIT_CHECK_SHAPE(h >= h_ && w >= w_, "RandomCrop: required crop size (", h_, ", ", w_,
                     ") is larger than the input image size (", h, ", ", w, ")");
  int64_t top = 0, left = 0;
  if (!(h == h_ && w == w_)) {
    Generator& g = example_generator();
    top = g.randint(0, h - h_ + 1);
    left = g.randint(0, w - w_ + 1);
  }
  return pad_crop(src, pad_top, pad_left, mode, fill_, top, left, h_, w_);
}

Resize::Resize(IntList size, InterpolationMode interpolation, std::optional<int64_t> max_size,
               std::optional<bool> antialias)
    : size_(std::move(size)), interpolation_(interpolation), max_size_(max_size), antialias_(antialias) {
  check_size(size_, "Resize");
  CNNKIT_CHECK(!max_size_ || size_.values.size() == 1,
               "Resize: max_size should only be passed if size specifies the length of the smaller edge");
}
Tensor Resize::operator()(Tensor img) const {
  return functional::resize(img, size_, interpolation_, max_size_, antialias_);
}

CenterCrop::CenterCrop(IntList size) : size_(std::move(size)) { square(size_, "CenterCrop"); }
Tensor CenterCrop::operator()(Tensor img) const { return functional::center_crop(img, size_); }

RandomRotation::RandomRotation(DoubleList degrees, InterpolationMode interpolation, bool expand,
                               std::optional<std::vector<double>> center, DoubleList fill)
    : interpolation_(interpolation), expand_(expand), center_(std::move(center)), fill_(std::move(fill.values)) {
  const auto& dv = degrees.values;
  CNNKIT_CHECK(dv.size() == 1 || dv.size() == 2, "RandomRotation: degrees must be a number or a (min, max) pair, got ",
               dv.size(), " values");
  if (dv.size() == 1) {
    CNNKIT_CHECK(dv[0] >= 0, "RandomRotation: if degrees is a single number, it must be positive, got ", dv[0]);
    lo_ = -dv[0];
    hi_ = dv[0];
  } else {
    lo_ = dv[0];
    hi_ = dv[1];
  }
  CNNKIT_CHECK_T(NotImplementedError, !expand_, "RandomRotation: expand=true is not implemented");
  CNNKIT_CHECK(!center_ || center_->size() == 2, "RandomRotation: center must be (x, y)");
  CNNKIT_CHECK(!fill_.empty(), "RandomRotation: fill needs at least one value");
}
Tensor RandomRotation::operator()(Tensor img) const {
  const double angle = lo_ + (hi_ - lo_) * example_generator().uniform_double();
  return functional::rotate(img, angle, interpolation_, expand_, center_, fill_);
}

RandomResizedCrop::RandomResizedCrop(IntList size, std::pair<double, double> scale, std::pair<double, double> ratio,
                                     InterpolationMode interpolation)
    : scale_(scale), ratio_(ratio), interpolation_(interpolation) {
  auto hw = square(size, "RandomResizedCrop");
  h_ = hw[0];
  w_ = hw[1];
  CNNKIT_CHECK(scale_.first <= scale_.second && scale_.first >= 0, "RandomResizedCrop: scale should be (min, max) with 0 <= min <= max, got (",
               scale_.first, ", ", scale_.second, ")");
  CNNKIT_CHECK(ratio_.first <= ratio_.second && ratio_.first > 0, "RandomResizedCrop: ratio should be (min, max) with 0 < min <= max, got (",
               ratio_.first, ", ", ratio_.second, ")");
}

namespace {
// One draw of torchvision's box sampler (RandomResizedCrop, RandomErasing): an area uniform in
// [scale.first, scale.second] * area, then an aspect ratio log-uniform in `ratio`.
std::pair<double, double> draw_area_aspect(double area, std::pair<double, double> scale,
                                           std::pair<double, double> ratio, Generator& gen) {
  const double a = area * (scale.first + (scale.second - scale.first) * gen.uniform_double());
  const double log_lo = std::log(ratio.first), log_hi = std::log(ratio.second);
  return {a, std::exp(log_lo + (log_hi - log_lo) * gen.uniform_double())};
}
}  // namespace

std::array<int64_t, 4> RandomResizedCrop::get_params(int64_t height, int64_t width, std::pair<double, double> scale,
                                                     std::pair<double, double> ratio, Generator& gen) {
  const double area = static_cast<double>(height) * static_cast<double>(width);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const auto [target_area, aspect] = draw_area_aspect(area, scale, ratio, gen);
    const int64_t w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect)));
    const int64_t h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t i = gen.randint(0, height - h + 1);
      const int64_t j = gen.randint(0, width - w + 1);
      return {i, j, h, w};
    }
  }
  // fallback: a central crop with the ratio clamped into range
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w, h;
  if (in_ratio < ratio.first) {
    w = width;
    h = static_cast<int64_t>(std::nearbyint(static_cast<double>(w) / ratio.first));
  } else if (in_ratio > ratio.second) {
    h = height;
    w = static_cast<int64_t>(std::nearbyint(static_cast<double>(h) * ratio.second));
  } else {
    w = width;
    h = height;
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Tensor RandomResizedCrop::operator()(Tensor img) const {
  Dims d = image_dims(img, "RandomResizedCrop");
  auto [i, j, h, w] = get_params(d.h, d.w, scale_, ratio_, example_generator());
  return functional::resized_crop(img, i, j, h, w, IntList({h_, w_}), interpolation_);
}

namespace {
// torchvision's ColorJitter._check_input: a number v gives [center - v, center + v] (the low
// end clipped at 0 for the factors), a pair is taken as is; the identity range is None.
std::optional<std::pair<double, double>> jitter_range(const DoubleList& v, const char* name, double center,
                                                      double lo_bound, double hi_bound, bool clip_first_on_zero) {
  std::pair<double, double> r;
  if (v.values.size() == 1) {
    CNNKIT_CHECK(v.values[0] >= 0, "ColorJitter: if ", name, " is a single number, it must be non negative, got ",
                 v.values[0]);
    r = {center - v.values[0], center + v.values[0]};
    if (clip_first_on_zero) r.first = std::max(r.first, 0.0);
  } else {
    CNNKIT_CHECK(v.values.size() == 2, "ColorJitter: ", name, " should be a number or a (min, max) pair, got ",
                 v.values.size(), " values");
    r = {v.values[0], v.values[1]};
    CNNKIT_CHECK(lo_bound <= r.first && r.first <= r.second && r.second <= hi_bound, "ColorJitter: ", name,
                 " values should be between ", lo_bound, " and ", hi_bound, ", got (", r.first, ", ", r.second, ")");
  }
  if (r.first == center && r.second == center) return std::nullopt;
  return r;
}
}  // namespace

ColorJitter::ColorJitter(DoubleList brightness, DoubleList contrast, DoubleList saturation, DoubleList hue)
    : brightness_(jitter_range(brightness, "brightness", 1.0, 0.0, INFINITY, true)),
      contrast_(jitter_range(contrast, "contrast", 1.0, 0.0, INFINITY, true)),
      saturation_(jitter_range(saturation, "saturation", 1.0, 0.0, INFINITY, true)),
      hue_(jitter_range(hue, "hue", 0.0, -0.5, 0.5, false)) {
  if (hue.values.size() == 1)
    CNNKIT_CHECK(hue.values[0] <= 0.5, "ColorJitter: hue should be in [0, 0.5], got ", hue.values[0]);
}

Tensor ColorJitter::operator()(Tensor img) const {
  Generator& g = example_generator();
  // get_params: a random order of the four, then one factor for each present range
  int order[4] = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) std::swap(order[i], order[g.randint(0, i + 1)]);
  auto draw = [&](const std::optional<std::pair<double, double>>& r) {
    return r ? std::optional<double>(r->first + (r->second - r->first) * g.uniform_double()) : std::nullopt;
  };
  std::optional<double> b = draw(brightness_), c = draw(contrast_), s = draw(saturation_), h = draw(hue_);
  for (int fn : order) {
    if (fn == 0 && b) img = functional::adjust_brightness(img, *b);
    if (fn == 1 && c) img = functional::adjust_contrast(img, *c);
    if (fn == 2 && s) img = functional::adjust_saturation(img, *s);
    if (fn == 3 && h) img = functional::adjust_hue(img, *h);
  }
  return img;
}

GaussianNoise::GaussianNoise(double mean, double sigma, bool clip) : mean_(mean), sigma_(sigma), clip_(clip) {
  CNNKIT_CHECK(sigma >= 0, "GaussianNoise: sigma shouldn't be negative, got ", sigma);
}
Tensor GaussianNoise::operator()(Tensor img) const {
  return functional::gaussian_noise(img, example_generator(), mean_, sigma_, clip_);
}

GaussianBlur::GaussianBlur(std::pair<int64_t, int64_t> kernel_size, std::pair<double, double> sigma)
    : kernel_size_(kernel_size), sigma_(sigma) {
  CNNKIT_CHECK(kernel_size.first > 0 && kernel_size.second > 0 && kernel_size.first % 2 == 1 &&
                   kernel_size.second % 2 == 1,
               "GaussianBlur: Kernel size value should be an odd and positive number, got [", kernel_size.first, ", ",
               kernel_size.second, "]");
  CNNKIT_CHECK(sigma.first > 0 && sigma.first <= sigma.second,
               "GaussianBlur: sigma values should be positive and of the form (min, max), got (", sigma.first, ", ",
               sigma.second, ")");
}

Tensor GaussianBlur::operator()(Tensor img) const {
  Generator& gen = example_generator();
  const double s = sigma_.first + (sigma_.second - sigma_.first) * gen.uniform_double();
  return functional::gaussian_blur(img, kernel_size_, {s, s});
}

ErasingValue::ErasingValue(const std::string& s) {
  CNNKIT_CHECK(s == "random", "RandomErasing: if value is str, it should be 'random', got '", s, "'");
}

RandomErasing::RandomErasing(double p, std::pair<double, double> scale, std::pair<double, double> ratio,
                             ErasingValue value)
    : p_(p), scale_(scale), ratio_(ratio), value_(std::move(value.values)) {
  CNNKIT_CHECK(p >= 0 && p <= 1, "RandomErasing: random erasing probability should be between 0 and 1, got ", p);
  CNNKIT_CHECK(scale.first >= 0 && scale.second <= 1 && scale.first <= scale.second,
               "RandomErasing: scale should be (min, max) between 0 and 1, got (", scale.first, ", ", scale.second,
               ")");
  CNNKIT_CHECK(ratio.first > 0 && ratio.first <= ratio.second, "RandomErasing: ratio should be (min, max) with 0 < min <= max, got (",
               ratio.first, ", ", ratio.second, ")");
  for (double v : value_) CNNKIT_CHECK(std::isfinite(v), "RandomErasing: value must be finite, got ", v);
}

std::optional<std::array<int64_t, 4>> RandomErasing::get_params(int64_t height, int64_t width,
                                                                std::pair<double, double> scale,
                                                                std::pair<double, double> ratio, Generator& gen) {
  const double area = static_cast<double>(height) * static_cast<double>(width);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const auto [erase_area, aspect] = draw_area_aspect(area, scale, ratio, gen);
    // Python's round(): halves to even, as nearbyint in the default rounding mode.
    const int64_t h = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area * aspect)));
    const int64_t w = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area / aspect)));
    if (!(h < height && w < width)) continue;
    const int64_t i = gen.randint(0, height - h + 1);
    const int64_t j = gen.randint(0, width - w + 1);
    return std::array<int64_t, 4>{i, j, h, w};
  }
  return std::nullopt;
}

Tensor RandomErasing::operator()(Tensor img) const {
  CNNKIT_CHECK(img.defined() && img.dim() == 3, "RandomErasing: expected an image tensor (C, H, W), got ",
               img.defined() ? img.dim() : 0, " dims");
  Generator& gen = example_generator();
  if (!(gen.uniform_double() < p_)) return img;
  const int64_t C = img.size(0);
  CNNKIT_CHECK(value_.empty() || value_.size() == 1 || static_cast<int64_t>(value_.size()) == C,
               "RandomErasing: if value is a sequence, it should have either a single value or ", C,
               " (number of input channels), got ", value_.size());
  const auto box = get_params(img.size(1), img.size(2), scale_, ratio_, gen);
  if (!box) return img;
  const auto [i, j, h, w] = *box;
  Tensor v;
  if (value_.empty()) {
    v = cnnkit::empty({C, h, w}, TensorOptions(kFloat));
    float* p = v.data_ptr<float>();
    for (int64_t k = 0; k < v.numel(); ++k) p[k] = gen.normal();
  } else {
    v = cnnkit::empty({static_cast<int64_t>(value_.size()), 1, 1}, TensorOptions(kFloat));
    for (size_t k = 0; k < value_.size(); ++k) v.data_ptr<float>()[k] = static_cast<float>(value_[k]);
  }
  return functional::erase(img, i, j, h, w, v);
}

// ---- geometric random transforms ------------------------------------------------------------

namespace {
// torchvision's _setup_angle: a number x >= 0 means [-x, x]; else a sequence of one of `sizes`.
std::vector<double> setup_angle(const DoubleList& x, const char* op, const char* name, std::vector<size_t> sizes) {
  const auto& v = x.values;
  if (v.size() == 1) {
    CNNKIT_CHECK(v[0] >= 0, op, ": If ", name, " is a single number, it must be positive, got ", v[0]);
    return {-v[0], v[0]};
  }
  CNNKIT_CHECK(std::find(sizes.begin(), sizes.end(), v.size()) != sizes.end(), op, ": ", name,
               " should be a number or a sequence of length ", sizes.front(), sizes.size() > 1 ? " or 4" : "",
               ", got ", v.size(), " values");
  return v;
}

inline double uniform(Generator& g, double lo, double hi) { return lo + (hi - lo) * g.uniform_double(); }
}  // namespace

RandomAffine::RandomAffine(DoubleList degrees, std::optional<std::pair<double, double>> translate,
                           std::optional<std::pair<double, double>> scale, std::optional<DoubleList> shear,
                           InterpolationMode interpolation, DoubleList fill, std::optional<std::vector<double>> center)
    : translate_(translate), scale_(scale), interpolation_(interpolation), fill_(std::move(fill.values)),
      center_(std::move(center)) {
  const auto d = setup_angle(degrees, "RandomAffine", "degrees", {2});
  degrees_ = {d[0], d[1]};
  if (translate_)
    CNNKIT_CHECK(translate_->first >= 0 && translate_->first <= 1 && translate_->second >= 0 && translate_->second <= 1,
                 "RandomAffine: translation values should be between 0 and 1, got translate (", translate_->first, ", ",
                 translate_->second, ")");
  if (scale_)
    CNNKIT_CHECK(scale_->first > 0 && scale_->second > 0, "RandomAffine: scale values should be positive, got scale (",
                 scale_->first, ", ", scale_->second, ")");
  if (shear) shear_ = setup_angle(*shear, "RandomAffine", "shear", {2, 4});
  CNNKIT_CHECK(!fill_.empty(), "RandomAffine: fill needs at least one value");
  CNNKIT_CHECK(!center_ || center_->size() == 2, "RandomAffine: center should be a sequence of length 2, got ",
               center_ ? center_->size() : 0, " values");
}

RandomAffine::Params RandomAffine::get_params(std::pair<double, double> degrees,
                                              std::optional<std::pair<double, double>> translate,
                                              std::optional<std::pair<double, double>> scale_ranges,
                                              const std::vector<double>& shears, std::array<int64_t, 2> img_size,
                                              Generator& gen) {
  Params p;
  p.angle = uniform(gen, degrees.first, degrees.second);
  p.translate = {0.0, 0.0};
  if (translate) {
    // img_size is (width, height), as torchvision's; Python's round() halves to even
    const double max_dx = translate->first * static_cast<double>(img_size[0]);
    const double max_dy = translate->second * static_cast<double>(img_size[1]);
    p.translate[0] = std::nearbyint(uniform(gen, -max_dx, max_dx));
    p.translate[1] = std::nearbyint(uniform(gen, -max_dy, max_dy));
  }
  p.scale = scale_ranges ? uniform(gen, scale_ranges->first, scale_ranges->second) : 1.0;
  p.shear = {0.0, 0.0};
  if (shears.size() >= 2) p.shear[0] = uniform(gen, shears[0], shears[1]);
  if (shears.size() == 4) p.shear[1] = uniform(gen, shears[2], shears[3]);
  return p;
}

Tensor RandomAffine::operator()(Tensor img) const {
  const Dims d = image_dims(img, "RandomAffine");
  const Params p = get_params(degrees_, translate_, scale_, shear_, {d.w, d.h}, example_generator());
  return functional::affine(img, p.angle, p.translate, p.scale, p.shear, interpolation_, fill_, center_);
}

RandomPerspective::RandomPerspective(double distortion_scale, double p, InterpolationMode interpolation,
                                     DoubleList fill)
    : distortion_scale_(distortion_scale), p_(p), interpolation_(interpolation), fill_(std::move(fill.values)) {
  CNNKIT_CHECK(distortion_scale >= 0 && distortion_scale <= 1,
               "RandomPerspective: distortion_scale should be between 0 and 1, got ", distortion_scale);
  check_p(p, "RandomPerspective");
  CNNKIT_CHECK(!fill_.empty(), "RandomPerspective: fill needs at least one value");
}

std::pair<std::vector<std::array<double, 2>>, std::vector<std::array<double, 2>>> RandomPerspective::get_params(
    int64_t width, int64_t height, double distortion_scale, Generator& gen) {
  const int64_t half_height = height / 2, half_width = width / 2;
  const int64_t dx = static_cast<int64_t>(distortion_scale * static_cast<double>(half_width));
  const int64_t dy = static_cast<int64_t>(distortion_scale * static_cast<double>(half_height));
  auto r = [&](int64_t lo, int64_t hi) { return static_cast<double>(gen.randint(lo, hi)); };
  // the corners in torchvision's order of draws: top-left, top-right, bottom-right, bottom-left
  std::array<double, 2> tl, tr, br, bl;
  tl[0] = r(0, dx + 1);
  tl[1] = r(0, dy + 1);
  tr[0] = r(width - dx - 1, width);
  tr[1] = r(0, dy + 1);
  br[0] = r(width - dx - 1, width);
  br[1] = r(height - dy - 1, height);
  bl[0] = r(0, dx + 1);
  bl[1] = r(height - dy - 1, height);
  const double w1 = static_cast<double>(width - 1), h1 = static_cast<double>(height - 1);
  return {{{0.0, 0.0}, {w1, 0.0}, {w1, h1}, {0.0, h1}}, {tl, tr, br, bl}};
}

Tensor RandomPerspective::operator()(Tensor img) const {
  const Dims d = image_dims(img, "RandomPerspective");
  Generator& gen = example_generator();
  if (!(gen.uniform_double() < p_)) return img;
  const auto [start, end] = get_params(d.w, d.h, distortion_scale_, gen);
  return functional::perspective(img, start, end, interpolation_, fill_);
}

// ---- AutoAugment, RandAugment, TrivialAugmentWide ------------------------------------------

std::vector<float> torch_linspace(double start, double end, int64_t steps) {
  CNNKIT_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  std::vector<float> out(static_cast<size_t>(steps));
  if (steps == 0) return out;
  const float s = static_cast<float>(start), e = static_cast<float>(end);
  if (steps == 1) {
    out[0] = s;
    return out;
  }
  // PyTorch 1.13's CPU kernel (AVX2 build): each half counts from its own end, start + step * i
  // (fused) below the halfway point, end - step * (steps - 1 - i) above it; contiguous blocks of
  // 16 are vectorised as base + j * step (not fused) from each 8-lane block's first value, the
  // tail is scalar. Reproduced because the bins are only torchvision's with this arithmetic.
  const float step = (e - s) / static_cast<float>(steps - 1);
  const int64_t half = steps / 2;
  auto scalar_at = [&](int64_t i) {
    return i < half ? std::fma(step, static_cast<float>(i), s) : std::fma(-step, static_cast<float>(steps - i - 1), e);
  };
  int64_t i = 0;
  for (; i + 16 <= steps; i += 16)
    for (int64_t blk = i; blk < i + 16; blk += 8) {
      const float base = scalar_at(blk);
      out[static_cast<size_t>(blk)] = base;
      for (int64_t j = 1; j < 8; ++j) {
        volatile float prod = static_cast<float>(j) * step;  // volatile: keeps the compiler from fusing
        out[static_cast<size_t>(blk + j)] = base + prod;
      }
    }
  for (; i < steps; ++i) out[static_cast<size_t>(i)] = scalar_at(i);
  return out;
}

namespace {
// torchvision's posterize bins: 8 - (arange(n) / ((n - 1) / q)).round().int(), in float32.
std::vector<float> posterize_bins(int64_t n, double q) {
  std::vector<float> out(static_cast<size_t>(n));
  const float div = static_cast<float>(static_cast<double>(n - 1) / q);
  for (int64_t i = 0; i < n; ++i)
    out[static_cast<size_t>(i)] = static_cast<float>(8 - static_cast<int>(std::nearbyint(static_cast<float>(i) / div)));
  return out;
}

AugmentationOp op(const char* name, std::vector<float> magnitudes, bool is_signed) {
  return AugmentationOp{name, std::move(magnitudes), is_signed};
}

// _augmentation_space of RandAugment / AutoAugment (image_size: (height, width)); `identity`:
// RandAugment's first op; `invert`: AutoAugment's last.
std::vector<AugmentationOp> rand_augment_space(int64_t num_bins, std::array<int64_t, 2> image_size, bool identity,
                                               bool invert) {
  std::vector<AugmentationOp> ops;
  if (identity) ops.push_back(op("Identity", {}, false));
  ops.push_back(op("ShearX", torch_linspace(0.0, 0.3, num_bins), true));
  ops.push_back(op("ShearY", torch_linspace(0.0, 0.3, num_bins), true));
  ops.push_back(op("TranslateX", torch_linspace(0.0, 150.0 / 331.0 * static_cast<double>(image_size[1]), num_bins), true));
  ops.push_back(op("TranslateY", torch_linspace(0.0, 150.0 / 331.0 * static_cast<double>(image_size[0]), num_bins), true));
  ops.push_back(op("Rotate", torch_linspace(0.0, 30.0, num_bins), true));
  ops.push_back(op("Brightness", torch_linspace(0.0, 0.9, num_bins), true));
  ops.push_back(op("Color", torch_linspace(0.0, 0.9, num_bins), true));
  ops.push_back(op("Contrast", torch_linspace(0.0, 0.9, num_bins), true));
  ops.push_back(op("Sharpness", torch_linspace(0.0, 0.9, num_bins), true));
  ops.push_back(op("Posterize", posterize_bins(num_bins, 4.0), false));
  ops.push_back(op("Solarize", torch_linspace(255.0, 0.0, num_bins), false));
  ops.push_back(op("AutoContrast", {}, false));
  ops.push_back(op("Equalize", {}, false));
  if (invert) ops.push_back(op("Invert", {}, false));
  return ops;
}

// The AutoAugment family takes uint8 images, as torchvision's tensor path: on float32,
// torchvision fails only once it draws Posterize, Equalize or Solarize; this fails on the
// first image, saying where the transform belongs.
void check_augment_input(const Tensor& img, const char* op) {
  CNNKIT_CHECK(img.defined(), op, ": the image is an undefined tensor");
  CNNKIT_CHECK_TYPE(img.scalar_type() == kByte, op, ": expected a uint8 image (..., 1 or 3, H, W), got ",
                    img.scalar_type(), " (torchvision's Posterize, Equalize and Solarize bins need uint8: put ", op,
                    " before ToTensor)");
  CNNKIT_CHECK_TYPE(img.dim() >= 3 && (img.size(-3) == 1 || img.size(-3) == 3), op,
                    ": expected an image (..., 1 or 3, H, W), got shape ", img.sizes());
}

// torchvision's fill standardisation: a number or a sequence; none stays none.
std::optional<std::vector<double>> check_augment_fill(std::optional<std::vector<double>> fill, const char* op) {
  if (fill) CNNKIT_CHECK(!fill->empty(), op, ": fill needs at least one value (or none)");
  return fill;
}

void check_bins(int64_t num_bins, const char* op) {
  // torchvision does not check: with one bin its Posterize bins divide by zero
  CNNKIT_CHECK(num_bins >= 2, op, ": num_magnitude_bins should be at least 2, got ", num_bins);
}
}  // namespace

RandAugment::RandAugment(int64_t num_ops, int64_t magnitude, int64_t num_magnitude_bins, InterpolationMode interpolation,
                         std::optional<std::vector<double>> fill)
    : num_ops_(num_ops), magnitude_(magnitude), num_magnitude_bins_(num_magnitude_bins),
      interpolation_(interpolation), fill_(check_augment_fill(std::move(fill), "RandAugment")) {
  CNNKIT_CHECK(num_ops >= 0, "RandAugment: num_ops should be non-negative, got ", num_ops);
  check_bins(num_magnitude_bins, "RandAugment");
  CNNKIT_CHECK(magnitude >= 0 && magnitude < num_magnitude_bins, "RandAugment: magnitude should be in [0, ",
               "num_magnitude_bins = ", num_magnitude_bins, "), got ", magnitude);
}

std::vector<AugmentationOp> RandAugment::augmentation_space(int64_t num_bins, std::array<int64_t, 2> image_size) {
  check_bins(num_bins, "RandAugment");
  return rand_augment_space(num_bins, image_size, /*identity=*/true, /*invert=*/false);
}

Tensor RandAugment::operator()(Tensor img) const {
  check_augment_input(img, "RandAugment");
  const auto space = augmentation_space(num_magnitude_bins_, {img.size(-2), img.size(-1)});
  Generator& gen = example_generator();
  for (int64_t i = 0; i < num_ops_; ++i) {
    const AugmentationOp& o = space[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(space.size())))];
    double m = o.magnitudes.empty() ? 0.0 : o.magnitudes[static_cast<size_t>(magnitude_)];
    if (o.is_signed && gen.randint(0, 2) == 1) m = -m;
    img = functional::apply_op(img, o.name, m, interpolation_, fill_);
  }
  return img;
}

TrivialAugmentWide::TrivialAugmentWide(int64_t num_magnitude_bins, InterpolationMode interpolation,
                                       std::optional<std::vector<double>> fill)
    : num_magnitude_bins_(num_magnitude_bins), interpolation_(interpolation),
      fill_(check_augment_fill(std::move(fill), "TrivialAugmentWide")) {
  check_bins(num_magnitude_bins, "TrivialAugmentWide");
}

std::vector<AugmentationOp> TrivialAugmentWide::augmentation_space(int64_t num_bins) {
  check_bins(num_bins, "TrivialAugmentWide");
  return {op("Identity", {}, false),
          op("ShearX", torch_linspace(0.0, 0.99, num_bins), true),
          op("ShearY", torch_linspace(0.0, 0.99, num_bins), true),
          op("TranslateX", torch_linspace(0.0, 32.0, num_bins), true),
          op("TranslateY", torch_linspace(0.0, 32.0, num_bins), true),
          op("Rotate", torch_linspace(0.0, 135.0, num_bins), true),
          op("Brightness", torch_linspace(0.0, 0.99, num_bins), true),
          op("Color", torch_linspace(0.0, 0.99, num_bins), true),
          op("Contrast", torch_linspace(0.0, 0.99, num_bins), true),
          op("Sharpness", torch_linspace(0.0, 0.99, num_bins), true),
          op("Posterize", posterize_bins(num_bins, 6.0), false),
          op("Solarize", torch_linspace(255.0, 0.0, num_bins), false),
          op("AutoContrast", {}, false),
          op("Equalize", {}, false)};
}

Tensor TrivialAugmentWide::operator()(Tensor img) const {
  check_augment_input(img, "TrivialAugmentWide");
  const auto space = augmentation_space(num_magnitude_bins_);
  Generator& gen = example_generator();
  const AugmentationOp& o = space[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(space.size())))];
  double m = 0.0;
  if (!o.magnitudes.empty())
    m = o.magnitudes[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(o.magnitudes.size())))];
  if (o.is_signed && gen.randint(0, 2) == 1) m = -m;
  return functional::apply_op(img, o.name, m, interpolation_, fill_);
}

namespace {
using Sub = AutoAugment::SubPolicy;
// torchvision 0.14's AutoAugment._get_policies: (op, probability, magnitude bin or -1 = none).
const std::vector<std::array<Sub, 2>>& policy_table(AutoAugmentPolicy policy) {
  static const std::vector<std::array<Sub, 2>> imagenet = {
      {{{"Posterize", 0.4, 8}, {"Rotate", 0.6, 9}}},      {{{"Solarize", 0.6, 5}, {"AutoContrast", 0.6, -1}}},
      {{{"Equalize", 0.8, -1}, {"Equalize", 0.6, -1}}},   {{{"Posterize", 0.6, 7}, {"Posterize", 0.6, 6}}},
      {{{"Equalize", 0.4, -1}, {"Solarize", 0.2, 4}}},    {{{"Equalize", 0.4, -1}, {"Rotate", 0.8, 8}}},
      {{{"Solarize", 0.6, 3}, {"Equalize", 0.6, -1}}},    {{{"Posterize", 0.8, 5}, {"Equalize", 1.0, -1}}},
      {{{"Rotate", 0.2, 3}, {"Solarize", 0.6, 8}}},       {{{"Equalize", 0.6, -1}, {"Posterize", 0.4, 6}}},
      {{{"Rotate", 0.8, 8}, {"Color", 0.4, 0}}},          {{{"Rotate", 0.4, 9}, {"Equalize", 0.6, -1}}},
      {{{"Equalize", 0.0, -1}, {"Equalize", 0.8, -1}}},   {{{"Invert", 0.6, -1}, {"Equalize", 1.0, -1}}},
      {{{"Color", 0.6, 4}, {"Contrast", 1.0, 8}}},        {{{"Rotate", 0.8, 8}, {"Color", 1.0, 2}}},
      {{{"Color", 0.8, 8}, {"Solarize", 0.8, 7}}},        {{{"Sharpness", 0.4, 7}, {"Invert", 0.6, -1}}},
      {{{"ShearX", 0.6, 5}, {"Equalize", 1.0, -1}}},      {{{"Color", 0.4, 0}, {"Equalize", 0.6, -1}}},
      {{{"Equalize", 0.4, -1}, {"Solarize", 0.2, 4}}},    {{{"Solarize", 0.6, 5}, {"AutoContrast", 0.6, -1}}},
      {{{"Invert", 0.6, -1}, {"Equalize", 1.0, -1}}},     {{{"Color", 0.6, 4}, {"Contrast", 1.0, 8}}},
      {{{"Equalize", 0.8, -1}, {"Equalize", 0.6, -1}}},
  };
  static const std::vector<std::array<Sub, 2>> cifar10 = {
      {{{"Invert", 0.1, -1}, {"Contrast", 0.2, 6}}},         {{{"Rotate", 0.7, 2}, {"TranslateX", 0.3, 9}}},
      {{{"Sharpness", 0.8, 1}, {"Sharpness", 0.9, 3}}},      {{{"ShearY", 0.5, 8}, {"TranslateY", 0.7, 9}}},
      {{{"AutoContrast", 0.5, -1}, {"Equalize", 0.9, -1}}},  {{{"ShearY", 0.2, 7}, {"Posterize", 0.3, 7}}},
      {{{"Color", 0.4, 3}, {"Brightness", 0.6, 7}}},         {{{"Sharpness", 0.3, 9}, {"Brightness", 0.7, 9}}},
      {{{"Equalize", 0.6, -1}, {"Equalize", 0.5, -1}}},      {{{"Contrast", 0.6, 7}, {"Sharpness", 0.6, 5}}},
      {{{"Color", 0.7, 7}, {"TranslateX", 0.5, 8}}},         {{{"Equalize", 0.3, -1}, {"AutoContrast", 0.4, -1}}},
      {{{"TranslateY", 0.4, 3}, {"Sharpness", 0.2, 6}}},     {{{"Brightness", 0.9, 6}, {"Color", 0.2, 8}}},
      {{{"Solarize", 0.5, 2}, {"Invert", 0.0, -1}}},         {{{"Equalize", 0.2, -1}, {"AutoContrast", 0.6, -1}}},
      {{{"Equalize", 0.2, -1}, {"Equalize", 0.6, -1}}},      {{{"Color", 0.9, 9}, {"Equalize", 0.6, -1}}},
      {{{"AutoContrast", 0.8, -1}, {"Solarize", 0.2, 8}}},   {{{"Brightness", 0.1, 3}, {"Color", 0.7, 0}}},
      {{{"Solarize", 0.4, 5}, {"AutoContrast", 0.9, -1}}},   {{{"TranslateY", 0.9, 9}, {"TranslateY", 0.7, 9}}},
      {{{"AutoContrast", 0.9, -1}, {"Solarize", 0.8, 3}}},   {{{"Equalize", 0.8, -1}, {"Invert", 0.1, -1}}},
      {{{"TranslateY", 0.7, 9}, {"AutoContrast", 0.9, -1}}},
  };
  static const std::vector<std::array<Sub, 2>> svhn = {
      {{{"ShearX", 0.9, 4}, {"Invert", 0.2, -1}}},         {{{"ShearY", 0.9, 8}, {"Invert", 0.7, -1}}},
      {{{"Equalize", 0.6, -1}, {"Solarize", 0.6, 6}}},     {{{"Invert", 0.9, -1}, {"Equalize", 0.6, -1}}},
      {{{"Equalize", 0.6, -1}, {"Rotate", 0.9, 3}}},       {{{"ShearX", 0.9, 4}, {"AutoContrast", 0.8, -1}}},
      {{{"ShearY", 0.9, 8}, {"Invert", 0.4, -1}}},         {{{"ShearY", 0.9, 5}, {"Solarize", 0.2, 6}}},
      {{{"Invert", 0.9, -1}, {"AutoContrast", 0.8, -1}}},  {{{"Equalize", 0.6, -1}, {"Rotate", 0.9, 3}}},
      {{{"ShearX", 0.9, 4}, {"Solarize", 0.3, 3}}},        {{{"ShearY", 0.8, 8}, {"Invert", 0.7, -1}}},
      {{{"Equalize", 0.9, -1}, {"TranslateY", 0.6, 6}}},   {{{"Invert", 0.9, -1}, {"Equalize", 0.6, -1}}},
      {{{"Contrast", 0.3, 3}, {"Rotate", 0.8, 4}}},        {{{"Invert", 0.8, -1}, {"TranslateY", 0.0, 2}}},
      {{{"ShearY", 0.7, 6}, {"Solarize", 0.4, 8}}},        {{{"Invert", 0.6, -1}, {"Rotate", 0.8, 4}}},
      {{{"ShearY", 0.3, 7}, {"TranslateX", 0.9, 3}}},      {{{"ShearX", 0.1, 6}, {"Invert", 0.6, -1}}},
      {{{"Solarize", 0.7, 2}, {"TranslateY", 0.6, 7}}},    {{{"ShearY", 0.8, 4}, {"Invert", 0.8, -1}}},
      {{{"ShearX", 0.7, 9}, {"TranslateY", 0.8, 3}}},      {{{"ShearY", 0.8, 5}, {"AutoContrast", 0.7, -1}}},
      {{{"ShearX", 0.7, 2}, {"Invert", 0.1, -1}}},
  };
  switch (policy) {
    case AutoAugmentPolicy::IMAGENET: return imagenet;
    case AutoAugmentPolicy::CIFAR10: return cifar10;
    case AutoAugmentPolicy::SVHN: return svhn;
  }
  CNNKIT_CHECK(false, "AutoAugment: The provided policy ", static_cast<int>(policy), " is not recognized.");
  return imagenet;
}
}  // namespace

AutoAugmentPolicy parse_auto_augment_policy(const std::string& name) {
  if (name == "imagenet" || name == "IMAGENET") return AutoAugmentPolicy::IMAGENET;
  if (name == "cifar10" || name == "CIFAR10") return AutoAugmentPolicy::CIFAR10;
  if (name == "svhn" || name == "SVHN") return AutoAugmentPolicy::SVHN;
  CNNKIT_CHECK(false, "AutoAugment: policy should be one of imagenet, cifar10 or svhn, got '", name, "'");
  return AutoAugmentPolicy::IMAGENET;
}

AutoAugment::AutoAugment(AutoAugmentPolicy policy, InterpolationMode interpolation,
                         std::optional<std::vector<double>> fill)
    : policy_(policy), interpolation_(interpolation), fill_(check_augment_fill(std::move(fill), "AutoAugment")) {
  policy_table(policy);
}

const std::vector<std::array<AutoAugment::SubPolicy, 2>>& AutoAugment::policies(AutoAugmentPolicy policy) {
  return policy_table(policy);
}

std::vector<AugmentationOp> AutoAugment::augmentation_space(int64_t num_bins, std::array<int64_t, 2> image_size) {
  check_bins(num_bins, "AutoAugment");
  return rand_augment_space(num_bins, image_size, /*identity=*/false, /*invert=*/true);
}

Tensor AutoAugment::operator()(Tensor img) const {
  check_augment_input(img, "AutoAugment");
  const auto& table = policy_table(policy_);
  Generator& gen = example_generator();
  // get_params: the sub-policy, two probabilities, two signs (all drawn every time)
  const auto& sub = table[static_cast<size_t>(gen.randint(0, static_cast<int64_t>(table.size())))];
  const float probs[2] = {static_cast<float>(gen.uniform_double()), static_cast<float>(gen.uniform_double())};
  const int64_t signs[2] = {gen.randint(0, 2), gen.randint(0, 2)};
  const auto space = augmentation_space(10, {img.size(-2), img.size(-1)});
  for (int i = 0; i < 2; ++i) {
    // torch compares its float32 draw with the Python float in float32
    if (!(probs[i] <= static_cast<float>(sub[static_cast<size_t>(i)].p))) continue;
    const std::string& name = sub[static_cast<size_t>(i)].op;
    const auto it = std::find_if(space.begin(), space.end(), [&](const AugmentationOp& o) { return o.name == name; });
    double m = 0.0;
    if (sub[static_cast<size_t>(i)].magnitude_bin >= 0)
      m = it->magnitudes[static_cast<size_t>(sub[static_cast<size_t>(i)].magnitude_bin)];
    if (it->is_signed && signs[i] == 0) m = -m;
    img = functional::apply_op(img, name, m, interpolation_, fill_);
  }
  return img;
}

Grayscale::Grayscale(int64_t num_output_channels) : num_output_channels_(num_output_channels) {
  CNNKIT_CHECK(num_output_channels == 1 || num_output_channels == 3,
               "Grayscale: num_output_channels should be either 1 or 3, got ", num_output_channels);
}
Tensor Grayscale::operator()(Tensor img) const { return functional::rgb_to_grayscale(img, num_output_channels_); }

}  // namespace transforms
}  // namespace data
}  // namespace cnnkit
