// Image transforms with torchvision's names, arguments, defaults and numbers
// (torchvision.transforms 0.14 on tensors), acting on one example image (C, H, W), uint8 or
// float32. Random transforms draw from data::example_generator(), which the DataLoader
// reseeds per example, so augmentation is reproducible whatever the number of workers.
//
//   namespace T = cnnkit::data::transforms;
//   auto train_tf = T::Compose({T::ToTensor(), T::RandomCrop(28, 2), T::RandomHorizontalFlip(),
//                               T::Normalize({0.2860}, {0.3530})});
//   auto ds = data::TensorDataset(images, labels).map(train_tf);         // applied to .data
//   Tensor y = T::functional::rotate(x, 30.0);                           // deterministic pieces
//   auto aug = T::Compose({T::RandAugment(), T::ToTensor()});             // uint8 in, as torchvision
//   Tensor z = T::functional::apply_op(x_u8, "ShearX", 0.3);              // one of its ops
//
// Intended usage:
//   - build a Compose per split (augmentation for train, ToTensor + Normalize for eval);
//   - map it onto a dataset (dataset.map(t) or data::MapDataset(base, t));
//   - write your own as a class deriving from Transform, or wrap a lambda in Lambda.
// Every transform returns a new tensor and never writes into its input (datasets hand out
// views of their storage). Deliberately not: PIL images, batched (N, C, H, W) colour ops,
// antialiased resize, bicubic, RandomRotation(expand=true) (they throw NotImplementedError).
// Geometry (rotate, affine, perspective and their Random* classes) shares one sampler:
// torchvision's float32 grid and grid_sample. The AutoAugment family (AutoAugment, RandAugment,
// TrivialAugmentWide; one op at a time: functional::apply_op) takes uint8 images, before
// ToTensor, as torchvision's tensor path does.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/data/dataset.h"

namespace cnnkit {
namespace data {
namespace transforms {

// torchvision's int-or-sequence arguments (size, padding): `28`, `{32, 32}`, `{1, 2, 3, 4}`.
struct IntList {
  template <std::integral I>
  IntList(I v) : values{static_cast<int64_t>(v)} {}  // NOLINT: implicit, as Python's int
  IntList(std::initializer_list<int64_t> l) : values(l) {}
  IntList(std::vector<int64_t> v) : values(std::move(v)) {}  // NOLINT
  std::vector<int64_t> values;
};
// torchvision's float-or-sequence arguments (mean, std, degrees, jitter ranges).
struct DoubleList {
  DoubleList(double v) : values{v} {}  // NOLINT
  DoubleList(std::initializer_list<double> l) : values(l) {}
  DoubleList(std::vector<double> v) : values(std::move(v)) {}  // NOLINT
  std::vector<double> values;
};

enum class InterpolationMode { NEAREST, BILINEAR };

// The deterministic operations (torchvision.transforms.functional), each a plain loop over
// the image's raw data. img: (..., H, W) for geometry, (..., C, H, W) with C = 1 or 3 for
// colour; uint8 results are rounded or truncated exactly where torchvision does.
namespace functional {
Tensor to_tensor(const Tensor& img);        // uint8 -> float32 / 255; float32 unchanged (copied)
Tensor normalize(const Tensor& img, const std::vector<double>& mean, const std::vector<double>& std);
Tensor hflip(const Tensor& img);
Tensor vflip(const Tensor& img);
// Regions outside the image are zero-padded, as torchvision's crop.
Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width);
// padding: one value (all sides), {left/right, top/bottom} or {left, top, right, bottom};
// padding_mode "constant" (fill), "edge", "reflect" or "symmetric".
Tensor pad(const Tensor& img, const IntList& padding, double fill = 0,
           const std::string& padding_mode = "constant");
// size {h, w}, or one value: the smaller edge becomes size (aspect ratio kept).
Tensor resize(const Tensor& img, const IntList& size,
              InterpolationMode interpolation = InterpolationMode::BILINEAR,
              std::optional<int64_t> max_size = std::nullopt, std::optional<bool> antialias = std::nullopt);
Tensor center_crop(const Tensor& img, const IntList& output_size);
Tensor resized_crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
                    const IntList& size, InterpolationMode interpolation = InterpolationMode::BILINEAR);
// Counter-clockwise by angle degrees about `center` (pixels, default the image centre);
// fill: none = zeros from the sampler, else a value per channel (or one for all). A thin call
// into the affine sampler below (torchvision's F.rotate: the inverse matrix of -angle).
Tensor rotate(const Tensor& img, double angle, InterpolationMode interpolation = InterpolationMode::NEAREST,
              bool expand = false, std::optional<std::vector<double>> center = std::nullopt,
              std::optional<std::vector<double>> fill = std::nullopt);
// torchvision's F.affine on (..., H, W): rotate by angle degrees (clockwise in the image, as
// torchvision's), translate by {tx, ty} pixels (after the rotation; fractions allowed), scale
// (> 0), shear {sx, sy} degrees (x-parallel, then y-parallel), about `center` (pixels from the
// top-left corner; default the image centre). Same sampler as rotate: the inverse matrix in
// double, the grid in float32, grid_sample nearest / bilinear with zeros outside, or `fill`
// (one value, or one per channel) through torchvision's sampled mask; uint8 rounded.
Tensor affine(const Tensor& img, double angle, std::array<double, 2> translate, double scale,
              std::array<double, 2> shear, InterpolationMode interpolation = InterpolationMode::NEAREST,
              std::optional<std::vector<double>> fill = std::nullopt,
              std::optional<std::vector<double>> center = std::nullopt);
// torchvision's _get_perspective_coeffs: (a, b, c, d, e, f, g, h) mapping an output pixel
// (x, y) to ((ax + by + c) / (gx + hy + 1), (dx + ey + f) / (gx + hy + 1)); four [x, y]
// corners each (top-left, top-right, bottom-right, bottom-left). Solved in float32 with LAPACK's
// sgels as torch.linalg.lstsq does, so the coefficients are torchvision's to the bit on the same
// CPU (OpenBLAS picks its kernels per CPU, and their rounding with them: a few ulps apart across
// CPUs, which moves a nearest sample that lies on a pixel boundary).
std::array<double, 8> perspective_coeffs(const std::vector<std::array<double, 2>>& startpoints,
                                         const std::vector<std::array<double, 2>>& endpoints);
// torchvision's F.perspective on (..., H, W): the corners `startpoints` of the image move to
// `endpoints`; its float32 perspective grid through the affine sampler's grid_sample and fill.
Tensor perspective(const Tensor& img, const std::vector<std::array<double, 2>>& startpoints,
                   const std::vector<std::array<double, 2>>& endpoints,
                   InterpolationMode interpolation = InterpolationMode::BILINEAR,
                   std::optional<std::vector<double>> fill = std::nullopt);
// The same with the coefficients given (perspective_coeffs' result, or PIL's
// Image.transform(size, PERSPECTIVE, coeffs)): output pixel (x, y) samples the input at
// ((ax + by + c) / (gx + hy + 1), (dx + ey + f) / (gx + hy + 1)).
Tensor perspective(const Tensor& img, const std::array<double, 8>& coeffs,
                   InterpolationMode interpolation = InterpolationMode::BILINEAR,
                   std::optional<std::vector<double>> fill = std::nullopt);
Tensor rgb_to_grayscale(const Tensor& img, int64_t num_output_channels = 1);
Tensor adjust_brightness(const Tensor& img, double brightness_factor);
Tensor adjust_contrast(const Tensor& img, double contrast_factor);
Tensor adjust_saturation(const Tensor& img, double saturation_factor);
Tensor adjust_hue(const Tensor& img, double hue_factor);
// torchvision's F.invert on (..., 1 or 3, H, W): 255 - x (uint8) or 1 - x (float32).
Tensor invert(const Tensor& img);
// torchvision's F.posterize: keeps the top `bits` (0..8) bits of each uint8 value (x & -2^(8 -
// bits)); uint8 only (TypeError on float32, as torchvision).
Tensor posterize(const Tensor& img, int64_t bits);
// torchvision's F.solarize: values >= threshold inverted (compared in float32); TypeError for
// a threshold above the dtype's bound (255 or 1), as torchvision.
Tensor solarize(const Tensor& img, double threshold);
// torchvision's F.adjust_sharpness: blend with the image whose interior is smoothed by
// [[1 1 1] [1 5 1] [1 1 1]] / 13 (uint8 rounded), factor 0 = smooth, 1 = unchanged, 2 = sharper;
// images of width or height <= 2 unchanged. (..., 1 or 3, H, W), uint8 or float32.
Tensor adjust_sharpness(const Tensor& img, double sharpness_factor);
// torchvision's F.autocontrast: each channel stretched so its min becomes 0 and its max the
// bound (255 / 1), in float32 (uint8 truncated); a flat channel unchanged.
Tensor autocontrast(const Tensor& img);
// torchvision's F.equalize: per-channel histogram equalisation with its integer LUT (step =
// pixels outside the last non-empty bin // 255; step 0 leaves the channel). uint8 only, 3 or 4 dims.
Tensor equalize(const Tensor& img);
// torchvision's autoaugment._apply_op: one named op of the AutoAugment family at a signed
// magnitude: Identity, ShearX / ShearY (shear atan(m) in degrees about the top-left corner),
// TranslateX / TranslateY (int(m) pixels), Rotate (m degrees), Brightness / Color / Contrast /
// Sharpness (factor 1 + m), Posterize (int(m) bits), Solarize (threshold m), AutoContrast,
// Equalize, Invert. interpolation and fill go to the geometric ops.
Tensor apply_op(const Tensor& img, const std::string& op_name, double magnitude,
                InterpolationMode interpolation = InterpolationMode::NEAREST,
                const std::optional<std::vector<double>>& fill = std::nullopt);
// torchvision.transforms.v2.functional.gaussian_noise: img + mean + sigma * N(0, 1), clamped
// to [0, 1] when clip; float32 only. Draws from `gen`.
Tensor gaussian_noise(const Tensor& img, Generator& gen, double mean = 0.0, double sigma = 0.1, bool clip = true);
// torchvision 0.14's F.gaussian_blur: each plane of img (..., H, W), uint8 or float32,
// convolved with the outer product of two normalised Gaussians (kernel_size {kx, ky} odd and
// positive, kx along the width; sigma {sx, sy} > 0) over a reflect-padded border; uint8 is
// computed in float and rounded. ValueError on an even or non-positive size, sigma <= 0, or a
// kernel half-width not smaller than the image (reflect padding needs that).
Tensor gaussian_blur(const Tensor& img, std::pair<int64_t, int64_t> kernel_size, std::pair<double, double> sigma);
// torchvision's F.erase: a copy of img (C, H, W, uint8 or float32) with rows [i, i + h) and
// columns [j, j + w) of every channel set to v, a tensor that broadcasts to (C, h, w).
Tensor erase(const Tensor& img, int64_t i, int64_t j, int64_t h, int64_t w, const Tensor& v);
}  // namespace functional

// ---- transform objects ------------------------------------------------------------------

// A polymorphic transform of one example's data. LibTorch's TensorTransform spells the call
// apply(); both work.
class Transform {
 public:
  virtual ~Transform() = default;
  virtual Tensor operator()(Tensor img) const = 0;
  Tensor apply(Tensor img) const { return (*this)(std::move(img)); }
};

// Lambda: a callable as a transform. LibTorch's template (torch::data::transforms::Lambda<Input,
// Output = Input>) maps whatever Input is; Lambda<Example<>> maps whole examples in
// dataset.map(). Lambda<> (Tensor -> Tensor, torchvision.transforms.Lambda) is a Transform, so
// Compose takes it; a plain `Lambda(fn)` deduces Lambda<>.
//   dataset.map(transforms::Lambda<data::Example<>>([](data::Example<> e) { e.target = e.target % 2; return e; }))
//   transforms::Compose({transforms::ToTensor(), transforms::Lambda([](Tensor t) { return t * 2.0; })})
template <typename Input = Tensor, typename Output = Input>
class Lambda {
 public:
  using FunctionType = std::function<Output(Input)>;
  explicit Lambda(FunctionType fn) : fn_(std::move(fn)) {
    CNNKIT_CHECK(static_cast<bool>(fn_), "Lambda: the function is empty");
  }
  Output operator()(Input input) const { return fn_(std::move(input)); }

 private:
  FunctionType fn_;
};

template <>
class Lambda<Tensor, Tensor> : public Transform {
 public:
  using FunctionType = std::function<Tensor(Tensor)>;
  explicit Lambda(FunctionType fn);
  Tensor operator()(Tensor img) const override { return fn_(std::move(img)); }

 private:
  FunctionType fn_;
};

template <typename F>
Lambda(F) -> Lambda<>;

// A shared, type-erased transform: what Compose holds. Built implicitly from any Transform
// subclass (copied), from a shared_ptr to one, or from a Tensor -> Tensor callable.
class AnyTransform {
 public:
  template <typename T>
    requires std::derived_from<std::decay_t<T>, Transform>
  AnyTransform(T&& t)  // NOLINT: implicit, so Compose({ToTensor(), ...}) reads as in Python
      : impl_(std::make_shared<std::decay_t<T>>(std::forward<T>(t))) {}
  AnyTransform(std::shared_ptr<const Transform> t);  // NOLINT
  template <typename F>
    requires(!std::derived_from<std::decay_t<F>, Transform> &&
             !std::is_convertible_v<F, std::shared_ptr<const Transform>> &&
             std::is_invocable_r_v<Tensor, const std::decay_t<F>&, Tensor>)
  AnyTransform(F&& fn)  // NOLINT
      : impl_(std::make_shared<Lambda<>>(std::function<Tensor(Tensor)>(std::forward<F>(fn)))) {}
  Tensor operator()(Tensor img) const { return (*impl_)(std::move(img)); }
  const std::shared_ptr<const Transform>& get() const { return impl_; }

 private:
  std::shared_ptr<const Transform> impl_;
};

// torchvision.transforms.Compose: the transforms in order.
class Compose : public Transform {
 public:
  Compose(std::vector<AnyTransform> transforms);  // NOLINT
  Tensor operator()(Tensor img) const override;
  const std::vector<AnyTransform>& transforms() const { return transforms_; }

 private:
  std::vector<AnyTransform> transforms_;
};

// ToTensor: uint8 (C, H, W) -> float32 in [0, 1] (/ 255); float input is passed on (copied).
// Unlike torchvision's it takes CHW tensors, not PIL images or HWC arrays.
class ToTensor : public Transform {
 public:
  Tensor operator()(Tensor img) const override;
};

// Normalize(mean, std): (x - mean[c]) / std[c], one value per channel or one for all.
// A template only so that LibTorch's `Normalize<>(0.1307, 0.3081)` compiles; `Normalize(m, s)`
// deduces the default.
class NormalizeImpl : public Transform {
 public:
  NormalizeImpl(DoubleList mean, DoubleList stddev);
  Tensor operator()(Tensor img) const override;
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& stddev() const { return std_; }

 private:
  std::vector<double> mean_, std_;
};
template <typename Target = Tensor>
class Normalize : public NormalizeImpl {
 public:
  Normalize(DoubleList mean, DoubleList stddev) : NormalizeImpl(std::move(mean), std::move(stddev)) {}
};

// LibTorch's Stack<> collation: a marker here, since the DataLoader always stacks.
template <typename T = Example<>>
struct Stack {
  static constexpr bool kIsBatchTransform = true;
};

class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor operator()(Tensor img) const override;

 private:
  double p_;
};

class RandomVerticalFlip : public Transform {
 public:
  explicit RandomVerticalFlip(double p = 0.5);
  Tensor operator()(Tensor img) const override;

 private:
  double p_;
};

// RandomCrop(size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant").
class RandomCrop : public Transform {
 public:
  RandomCrop(IntList size, std::optional<IntList> padding = std::nullopt, bool pad_if_needed = false,
             double fill = 0, std::string padding_mode = "constant");
  // RandomCrop({h, w}) alone would also read as a copy of RandomCrop(h, w): this wins.
  RandomCrop(std::initializer_list<int64_t> size) : RandomCrop(IntList(size)) {}
  Tensor operator()(Tensor img) const override;

 private:
  int64_t h_, w_;
  std::optional<IntList> padding_;
  bool pad_if_needed_;
  double fill_;
  std::string padding_mode_;
};

// Resize(size, interpolation=BILINEAR, max_size=None, antialias=None (= False for tensors)).
class Resize : public Transform {
 public:
  Resize(IntList size, InterpolationMode interpolation = InterpolationMode::BILINEAR,
         std::optional<int64_t> max_size = std::nullopt, std::optional<bool> antialias = std::nullopt);
  Tensor operator()(Tensor img) const override;

 private:
  IntList size_;
  InterpolationMode interpolation_;
  std::optional<int64_t> max_size_;
  std::optional<bool> antialias_;
};

class CenterCrop : public Transform {
 public:
  explicit CenterCrop(IntList size);
  Tensor operator()(Tensor img) const override;

 private:
  IntList size_;
};

// RandomRotation(degrees, interpolation=NEAREST, expand=False, center=None, fill=0):
// degrees d means uniform in (-d, d); {lo, hi} gives the range.
class RandomRotation : public Transform {
 public:
  RandomRotation(DoubleList degrees, InterpolationMode interpolation = InterpolationMode::NEAREST,
                 bool expand = false, std::optional<std::vector<double>> center = std::nullopt,
                 DoubleList fill = 0.0);
  Tensor operator()(Tensor img) const override;

 private:
  double lo_, hi_;
  InterpolationMode interpolation_;
  bool expand_;
  std::optional<std::vector<double>> center_;
  std::vector<double> fill_;
};

// RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(3/4, 4/3), interpolation=BILINEAR).
class RandomResizedCrop : public Transform {
 public:
  RandomResizedCrop(IntList size, std::pair<double, double> scale = {0.08, 1.0},
                    std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0},
                    InterpolationMode interpolation = InterpolationMode::BILINEAR);
  Tensor operator()(Tensor img) const override;
  // torchvision's get_params: (top, left, height, width) of the crop, 10 tries then a
  // central fallback.
  static std::array<int64_t, 4> get_params(int64_t height, int64_t width, std::pair<double, double> scale,
                                           std::pair<double, double> ratio, Generator& gen);

 private:
  int64_t h_, w_;
  std::pair<double, double> scale_, ratio_;
  InterpolationMode interpolation_;
};

// ColorJitter(brightness=0, contrast=0, saturation=0, hue=0): a factor b means uniform in
// [max(0, 1 - b), 1 + b] (hue h: [-h, h], h <= 0.5); {lo, hi} gives the range. The four are
// applied in a random order, each only if its range is not the identity.
class ColorJitter : public Transform {
 public:
  ColorJitter(DoubleList brightness = 0.0, DoubleList contrast = 0.0, DoubleList saturation = 0.0,
              DoubleList hue = 0.0);
  // ColorJitter({lo, hi}) alone would also read as a copy of ColorJitter(lo, hi): this wins.
  ColorJitter(std::initializer_list<double> brightness) : ColorJitter(DoubleList(brightness)) {}
  Tensor operator()(Tensor img) const override;

 private:
  std::optional<std::pair<double, double>> brightness_, contrast_, saturation_, hue_;
};

// GaussianNoise(mean=0, sigma=0.1, clip=True) (torchvision.transforms.v2): float32 images.
class GaussianNoise : public Transform {
 public:
  explicit GaussianNoise(double mean = 0.0, double sigma = 0.1, bool clip = true);
  Tensor operator()(Tensor img) const override;

 private:
  double mean_, sigma_;
  bool clip_;
};

// GaussianBlur(kernel_size, sigma=(0.1, 2.0)) (torchvision): blurs with a sigma drawn
// uniformly from [sigma_min, sigma_max] per image (the same in x and y). kernel_size: odd and
// positive, {kx, ky}; a single sigma s means (s, s).
class GaussianBlur : public Transform {
 public:
  explicit GaussianBlur(std::pair<int64_t, int64_t> kernel_size, std::pair<double, double> sigma = {0.1, 2.0});
  explicit GaussianBlur(int64_t kernel_size, std::pair<double, double> sigma = {0.1, 2.0})
      : GaussianBlur({kernel_size, kernel_size}, sigma) {}
  GaussianBlur(int64_t kernel_size, double sigma) : GaussianBlur(kernel_size, {sigma, sigma}) {}
  Tensor operator()(Tensor img) const override;

 private:
  std::pair<int64_t, int64_t> kernel_size_;
  std::pair<double, double> sigma_;
};

// What RandomErasing writes: one number for every channel, one per channel, or "random"
// (N(0, 1) per erased element).
struct ErasingValue {
  ErasingValue(double v) : values{v} {}                                     // NOLINT: as torchvision
  ErasingValue(std::initializer_list<double> v) : values(v) {}              // NOLINT
  ErasingValue(std::vector<double> v) : values(std::move(v)) {}             // NOLINT
  ErasingValue(const char* s) : ErasingValue(std::string(s)) {}             // NOLINT
  ErasingValue(const std::string& s);                                       // NOLINT: "random" only
  std::vector<double> values;  // empty: random
};

// RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0) (torchvision, Zhong et
// al. 2017): with probability p, a rectangle whose area is a uniform fraction of the image in
// `scale` and whose aspect ratio h / w is log-uniform in `ratio` is set to `value`. Ten tries
// to draw one that fits (h < H and w < W); else the image is returned unchanged. On (C, H, W)
// tensors; the training pipeline of a run config puts it after ToTensor and Normalize, where
// torchvision's recipes use it (so value 0 is the channel mean).
class RandomErasing : public Transform {
 public:
  explicit RandomErasing(double p = 0.5, std::pair<double, double> scale = {0.02, 0.33},
                         std::pair<double, double> ratio = {0.3, 3.3}, ErasingValue value = 0.0);
  Tensor operator()(Tensor img) const override;
  // torchvision's get_params: (top, left, height, width) of the rectangle, or nullopt when ten
  // draws did not fit.
  static std::optional<std::array<int64_t, 4>> get_params(int64_t height, int64_t width,
                                                          std::pair<double, double> scale,
                                                          std::pair<double, double> ratio, Generator& gen);

 private:
  double p_;
  std::pair<double, double> scale_, ratio_;
  std::vector<double> value_;  // empty: random
};

// RandomAffine(degrees, translate=None, scale=None, shear=None, interpolation=NEAREST, fill=0,
// center=None) (torchvision): angle uniform in degrees (d: [-d, d]); translate {fx, fy} in
// [0, 1]: tx = round(uniform(-fx * W, fx * W)) pixels (likewise ty); scale {lo, hi} > 0 uniform;
// shear s: x-shear in [-s, s], {lo, hi}: x-shear, {xlo, xhi, ylo, yhi}: both.
class RandomAffine : public Transform {
 public:
  RandomAffine(DoubleList degrees, std::optional<std::pair<double, double>> translate = std::nullopt,
               std::optional<std::pair<double, double>> scale = std::nullopt,
               std::optional<DoubleList> shear = std::nullopt,
               InterpolationMode interpolation = InterpolationMode::NEAREST, DoubleList fill = 0.0,
               std::optional<std::vector<double>> center = std::nullopt);
  Tensor operator()(Tensor img) const override;
  struct Params {
    double angle;
    std::array<double, 2> translate;
    double scale;
    std::array<double, 2> shear;
  };
  // torchvision's get_params; img_size is (width, height) as there; shears: 0, 2 or 4 values.
  static Params get_params(std::pair<double, double> degrees, std::optional<std::pair<double, double>> translate,
                           std::optional<std::pair<double, double>> scale_ranges, const std::vector<double>& shears,
                           std::array<int64_t, 2> img_size, Generator& gen);

 private:
  std::pair<double, double> degrees_;
  std::optional<std::pair<double, double>> translate_, scale_;
  std::vector<double> shear_;  // empty, {xlo, xhi} or {xlo, xhi, ylo, yhi}
  InterpolationMode interpolation_;
  std::vector<double> fill_;
  std::optional<std::vector<double>> center_;
};

// RandomPerspective(distortion_scale=0.5, p=0.5, interpolation=BILINEAR, fill=0) (torchvision):
// with probability p, each corner moves inwards by up to distortion_scale * half the image
// (integer pixels, uniform), then perspective(). distortion_scale in [0, 1].
class RandomPerspective : public Transform {
 public:
  explicit RandomPerspective(double distortion_scale = 0.5, double p = 0.5,
                             InterpolationMode interpolation = InterpolationMode::BILINEAR, DoubleList fill = 0.0);
  Tensor operator()(Tensor img) const override;
  // torchvision's get_params: (startpoints, endpoints), corners in the order TL, TR, BR, BL.
  static std::pair<std::vector<std::array<double, 2>>, std::vector<std::array<double, 2>>> get_params(
      int64_t width, int64_t height, double distortion_scale, Generator& gen);

 private:
  double distortion_scale_, p_;
  InterpolationMode interpolation_;
  std::vector<double> fill_;
};

// torch.linspace(start, end, steps) in float32, value for value as PyTorch 1.13's CPU kernel
// computes it (the magnitude bins of the AutoAugment family are these floats).
std::vector<float> torch_linspace(double start, double end, int64_t steps);

// One op of an augmentation space: its name (functional::apply_op's), its magnitude bins
// (empty: the op takes no magnitude, 0 is passed) and whether a coin flips the sign.
struct AugmentationOp {
  std::string name;
  std::vector<float> magnitudes;
  bool is_signed;
};

// RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=31, interpolation=NEAREST, fill=None)
// (torchvision, Cubuk et al. 2019): num_ops times, an op drawn uniformly from the 14 of
// augmentation_space() at bin `magnitude` (0 <= magnitude < num_magnitude_bins), its sign
// flipped by a fair coin where signed. On uint8 images (..., 1 or 3, H, W), as torchvision's
// tensor path: put it before ToTensor (float32 input throws TypeError).
class RandAugment : public Transform {
 public:
  explicit RandAugment(int64_t num_ops = 2, int64_t magnitude = 9, int64_t num_magnitude_bins = 31,
                       InterpolationMode interpolation = InterpolationMode::NEAREST,
                       std::optional<std::vector<double>> fill = std::nullopt);
  Tensor operator()(Tensor img) const override;
  // torchvision's _augmentation_space: Identity, ShearX, ShearY, TranslateX, TranslateY,
  // Rotate, Brightness, Color, Contrast, Sharpness, Posterize, Solarize, AutoContrast, Equalize;
  // translations up to 150/331 of the image; image_size (height, width).
  static std::vector<AugmentationOp> augmentation_space(int64_t num_bins, std::array<int64_t, 2> image_size);

 private:
  int64_t num_ops_, magnitude_, num_magnitude_bins_;
  InterpolationMode interpolation_;
  std::optional<std::vector<double>> fill_;
};

// TrivialAugmentWide(num_magnitude_bins=31, interpolation=NEAREST, fill=None) (torchvision,
// Müller & Hutter 2021): one op drawn uniformly from augmentation_space(), one of its bins
// drawn uniformly, its sign flipped by a fair coin where signed. uint8 images, as RandAugment.
class TrivialAugmentWide : public Transform {
 public:
  explicit TrivialAugmentWide(int64_t num_magnitude_bins = 31,
                              InterpolationMode interpolation = InterpolationMode::NEAREST,
                              std::optional<std::vector<double>> fill = std::nullopt);
  Tensor operator()(Tensor img) const override;
  // The 14 ops of RandAugment with the wide ranges: shears and factors up to 0.99, translations
  // up to 32 pixels, rotations up to 135 degrees, posterize down to 2 bits.
  static std::vector<AugmentationOp> augmentation_space(int64_t num_bins);

 private:
  int64_t num_magnitude_bins_;
  InterpolationMode interpolation_;
  std::optional<std::vector<double>> fill_;
};

enum class AutoAugmentPolicy { IMAGENET, CIFAR10, SVHN };
// "imagenet" / "cifar10" / "svhn" (or upper case); ValueError naming the value otherwise.
AutoAugmentPolicy parse_auto_augment_policy(const std::string& name);

// AutoAugment(policy=IMAGENET, interpolation=NEAREST, fill=None) (torchvision, Cubuk et al.
// 2018): one of the policy's 25 sub-policies drawn uniformly; each of its two ops applied with
// its probability, at its bin of a 10-bin space (RandAugment's ops, Invert instead of Identity),
// its sign flipped by a fair coin where signed. uint8 images, as RandAugment.
class AutoAugment : public Transform {
 public:
  struct SubPolicy {
    const char* op;
    double p;
    int magnitude_bin;  // -1: none
  };
  explicit AutoAugment(AutoAugmentPolicy policy = AutoAugmentPolicy::IMAGENET,
                       InterpolationMode interpolation = InterpolationMode::NEAREST,
                       std::optional<std::vector<double>> fill = std::nullopt);
  Tensor operator()(Tensor img) const override;
  static const std::vector<std::array<SubPolicy, 2>>& policies(AutoAugmentPolicy policy);
  static std::vector<AugmentationOp> augmentation_space(int64_t num_bins, std::array<int64_t, 2> image_size);

 private:
  AutoAugmentPolicy policy_;
  InterpolationMode interpolation_;
  std::optional<std::vector<double>> fill_;
};

// Grayscale(num_output_channels=1).
class Grayscale : public Transform {
 public:
  explicit Grayscale(int64_t num_output_channels = 1);
  Tensor operator()(Tensor img) const override;

 private:
  int64_t num_output_channels_;
};

}  // namespace transforms
}  // namespace data
}  // namespace cnnkit
