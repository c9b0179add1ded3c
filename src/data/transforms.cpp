// torchvision's transforms on (C, H, W) uint8 / float32 tensors: the functional ops as plain
// loops over raw pointers (they run per example on loader threads: no per-pixel Tensor ops),
// then the transform objects, which only draw random parameters and call them.
// Formulas and the order of float operations follow torchvision 0.14 / PyTorch 1.13, so
// results match tools/golden/gen_transforms.py. Not here: PIL paths, antialias, bicubic.
//
// P = planes (every dim before H, W: channels, and a batch if any), C = channels, H, W.
#include "cnnkit/data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/rng.h"

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

// ---- colour -----------------------------------------------------------------------------

// torchvision's _blend in float: ratio * a + (1 - ratio) * b, clamped to [0, bound], cast
// back (uint8 truncates, as torch's .to(uint8)).
template <typename T>
inline T blend(float a, float b, float r, float rc) {
  float v = r * a + rc * b;
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
  auto [oh, ow] = resized_output_size(d.h, d.w, size.values, max_size);
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
  const int64_t c = img.dim() >= 3 ? img.size(-3) : 1;
  if (fill) {
    CNNKIT_CHECK(fill->size() == 1 || static_cast<int64_t>(fill->size()) == c,
                 "rotate: the number of elements in 'fill' cannot broadcast to match the number of channels of "
                 "the image (",
                 fill->size(), " != ", c, ")");
  }
  // torchvision's _get_inverse_affine_matrix(center, -angle, [0, 0], 1, [0, 0]), in double
  double cx = 0, cy = 0;
  if (center) {
    CNNKIT_CHECK(center->size() == 2, "rotate: center must be (x, y), got ", center->size(), " values");
    cx = (*center)[0] - static_cast<double>(d.w) * 0.5;
    cy = (*center)[1] - static_cast<double>(d.h) * 0.5;
  }
  const double rot = -angle * M_PI / 180.0;
  const double a = std::cos(rot), b = -std::sin(rot), cc = std::sin(rot), dd = std::cos(rot);
  double m[6] = {dd, -b, 0.0, -cc, a, 0.0};
  m[2] += m[0] * (-cx) + m[1] * (-cy);
  m[5] += m[3] * (-cx) + m[4] * (-cy);
  m[2] += cx;
  m[5] += cy;
  // _gen_affine_grid in float32: theta / [0.5 w, 0.5 h], then grid_sample's unnormalise
  const float sx = 0.5f * static_cast<float>(d.w), sy = 0.5f * static_cast<float>(d.h);
  const float t00 = static_cast<float>(m[0]) / sx, t01 = static_cast<float>(m[1]) / sx,
              t02 = static_cast<float>(m[2]) / sx;
  const float t10 = static_cast<float>(m[3]) / sy, t11 = static_cast<float>(m[4]) / sy,
              t12 = static_cast<float>(m[5]) / sy;
  const float half_w = static_cast<float>(d.w) / 2, half_h = static_cast<float>(d.h) / 2;
  const int64_t h = d.h, w = d.w, hw = h * w;

  // Per output pixel: up to four source offsets and weights (-1 = outside), and the mask
  // (the weight that fell inside the image), shared by all planes.
  std::vector<int64_t> idx(static_cast<size_t>(hw * 4));
  std::vector<float> wt(static_cast<size_t>(hw * 4)), mask(static_cast<size_t>(hw));
  const bool nearest = interpolation == InterpolationMode::NEAREST;
  for (int64_t y = 0; y < h; ++y) {
    const float by = static_cast<float>(y) - static_cast<float>(h) * 0.5f + 0.5f;
    for (int64_t x = 0; x < w; ++x) {
      const float bx = static_cast<float>(x) - static_cast<float>(w) * 0.5f + 0.5f;
      const float gx = bx * t00 + by * t01 + t02;
      const float gy = bx * t10 + by * t11 + t12;
      const float ix = (gx + 1.0f) * half_w - 0.5f;
      const float iy = (gy + 1.0f) * half_h - 0.5f;
      const int64_t o = y * w + x;
      int64_t* id = &idx[static_cast<size_t>(o * 4)];
      float* ww = &wt[static_cast<size_t>(o * 4)];
      if (nearest) {
        const int64_t nx = static_cast<int64_t>(std::nearbyint(ix)), ny = static_cast<int64_t>(std::nearbyint(iy));
        const bool in = nx >= 0 && nx < w && ny >= 0 && ny < h;
        id[0] = in ? ny * w + nx : -1;
        ww[0] = 1.0f;
        id[1] = id[2] = id[3] = -1;
        ww[1] = ww[2] = ww[3] = 0.0f;
        mask[o] = in ? 1.0f : 0.0f;
      } else {
        const float fx = std::floor(ix), fy = std::floor(iy);
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
        mask[o] = mk;
      }
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
        float v;
        if (nearest) {
          v = id[0] >= 0 ? static_cast<float>(s[id[0]]) : 0.0f;
          if (fill && mask[o] < 0.5f) v = f;
        } else {
          v = (id[0] >= 0 ? static_cast<float>(s[id[0]]) : 0.0f) * ww[0];
          v = v + (id[1] >= 0 ? static_cast<float>(s[id[1]]) : 0.0f) * ww[1];
          v = v + (id[2] >= 0 ? static_cast<float>(s[id[2]]) : 0.0f) * ww[2];
          v = v + (id[3] >= 0 ? static_cast<float>(s[id[3]]) : 0.0f) * ww[3];
          if (fill) v = v * mask[o] + (1.0f - mask[o]) * f;
        }
        if constexpr (std::is_same_v<T, uint8_t>) {
          dst[p * hw + o] = round_u8(v);
        } else {
          dst[p * hw + o] = v;
        }
      }
    }
  });
  return out;
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
  const auto [kx, ky] = kernel_size;
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

}  // namespace functional

// ---- transform objects ------------------------------------------------------------------

Lambda::Lambda(std::function<Tensor(Tensor)> fn) : fn_(std::move(fn)) {
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

Grayscale::Grayscale(int64_t num_output_channels) : num_output_channels_(num_output_channels) {
  CNNKIT_CHECK(num_output_channels == 1 || num_output_channels == 3,
               "Grayscale: num_output_channels should be either 1 or 3, got ", num_output_channels);
}
Tensor Grayscale::operator()(Tensor img) const { return functional::rgb_to_grayscale(img, num_output_channels_); }

}  // namespace transforms
}  // namespace data
}  // namespace cnnkit
