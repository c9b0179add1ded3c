// Mixup and CutMix (include/cnnkit/data/mixup.h): timm.data.Mixup's draws and arithmetic.
// Blends are computed in float32 with lambda rounded to float once, as torch's
// x.mul_(lam).add_(x.flip(0).mul_(1 - lam)) does on CPU.
#include "cnnkit/data/mixup.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "cnnkit/core/error.h"
#include "cnnkit/ops/factory.h"

namespace cnnkit::data {
namespace {

// N = batch, C = classes.
const float* lam_values(const Tensor& lam, int64_t n, std::vector<float>& storage) {
  CNNKIT_CHECK_TYPE(lam.defined() && lam.scalar_type() == kFloat, "mixup_target: lam must be float32, got ",
                    lam.defined() ? lam.scalar_type() : kFloat);
  const Tensor l = lam.contiguous();
  CNNKIT_CHECK_SHAPE(l.numel() == 1 || l.numel() == n, "mixup_target: lam must hold one value or one per example (",
                     n, "), got shape ", lam.sizes());
  storage.assign(static_cast<size_t>(n), 0.0f);
  const float* p = l.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) storage[static_cast<size_t>(i)] = p[l.numel() == 1 ? 0 : i];
  return storage.data();
}

void check_labels(const Tensor& target, int64_t num_classes, const char* what) {
  CNNKIT_CHECK_TYPE(target.defined() && target.scalar_type() == kLong, what,
                    ": target must be int64 class indices (mixing makes the soft targets), got ",
                    target.defined() ? target.scalar_type() : kFloat);
  CNNKIT_CHECK_SHAPE(target.dim() == 1, what, ": target must be (N), got shape ", target.sizes());
  CNNKIT_CHECK(num_classes > 0, what, ": num_classes must be positive, got ", num_classes);
  const Tensor t = target.contiguous();
  const int64_t* y = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i)
    CNNKIT_CHECK(y[i] >= 0 && y[i] < num_classes, what, ": label ", y[i], " of example ", i, " is outside [0, ",
                 num_classes, ")");
}

// out (N, C) = lam_i * onehot(y_i) + rest_i * onehot(y_{N-1-i}), smoothed rows; rest_i is
// 1 - lam_i as the caller's torch code rounds it (in double for a batch's Python float, in
// float32 for timm's per-element lambdas).
Tensor mix_targets(const Tensor& target, int64_t num_classes, const float* lam, const float* rest, double smoothing) {
  const int64_t n = target.size(0), c = num_classes;
  const Tensor t = target.contiguous();
  const int64_t* y = t.data_ptr<int64_t>();
  const float off = static_cast<float>(smoothing / static_cast<double>(c));
  const float on = static_cast<float>(1.0 - smoothing + smoothing / static_cast<double>(c));
  Tensor out = zeros({n, c}, kFloat);
  float* o = out.data_ptr<float>();  // (N, C)
  for (int64_t i = 0; i < n; ++i) {
    const float l = lam[i], r = rest[i];
    const int64_t a = y[i], b = y[n - 1 - i];
    for (int64_t k = 0; k < c; ++k) {
      const float y1 = k == a ? on : off, y2 = k == b ? on : off;
      o[i * c + k] = y1 * l + y2 * r;
    }
  }
  return out;
}

double sample_gamma(Generator& gen, double a) {
  if (a < 1.0) {  // Gamma(a) = Gamma(a + 1) * U^(1 / a)
    double u = gen.uniform_double();
    while (u <= 0.0) u = gen.uniform_double();
    return sample_gamma(gen, a + 1.0) * std::pow(u, 1.0 / a);
  }
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double u1 = gen.uniform_double(), u2 = gen.uniform_double();
    while (u1 <= 0.0) u1 = gen.uniform_double();
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
    const double v0 = 1.0 + c * z;
    if (v0 <= 0.0) continue;
    const double v = v0 * v0 * v0;
    double u = gen.uniform_double();
    while (u <= 0.0) u = gen.uniform_double();
    if (std::log(u) < 0.5 * z * z + d - d * v + d * std::log(v)) return d * v;
  }
}

// rows [yl, yh) and columns [xl, xh) of every channel of image i taken from image j.
void paste(float* out, const float* src, int64_t i, int64_t j, int64_t planes, int64_t h, int64_t w,
           const CutmixBox& b) {
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t r = b[0]; r < b[1]; ++r)
      for (int64_t q = b[2]; q < b[3]; ++q)
        out[((i * planes + p) * h + r) * w + q] = src[((j * planes + p) * h + r) * w + q];
}

// out[i] = src[i] * lam + src[j] * (1 - lam), per element of one example.
void blend(float* out, const float* src, int64_t i, int64_t j, int64_t per, float l, float r) {
  const float* a = src + i * per;
  const float* b = src + j * per;
  float* o = out + i * per;
  for (int64_t k = 0; k < per; ++k) o[k] = a[k] * l + b[k] * r;
}

}  // namespace

Tensor mixup_target(const Tensor& target, int64_t num_classes, const Tensor& lam, double smoothing) {
  check_labels(target, num_classes, "mixup_target");
  CNNKIT_CHECK(smoothing >= 0 && smoothing <= 1, "mixup_target: smoothing must be in [0, 1], got ", smoothing);
  std::vector<float> storage;
  const float* l = lam_values(lam, target.size(0), storage);
  std::vector<float> rest(storage.size());
  for (size_t i = 0; i < rest.size(); ++i) rest[i] = 1.0f - l[i];
  return mix_targets(target, num_classes, l, rest.data(), smoothing);
}

Tensor mixup_target(const Tensor& target, int64_t num_classes, double lam, double smoothing) {
  check_labels(target, num_classes, "mixup_target");
  CNNKIT_CHECK(smoothing >= 0 && smoothing <= 1, "mixup_target: smoothing must be in [0, 1], got ", smoothing);
  const size_t n = static_cast<size_t>(target.size(0));
  const std::vector<float> l(n, static_cast<float>(lam)), rest(n, static_cast<float>(1.0 - lam));
  return mix_targets(target, num_classes, l.data(), rest.data(), smoothing);
}

double sample_beta(Generator& gen, double a, double b) {
  CNNKIT_CHECK(a > 0 && b > 0, "sample_beta: a and b must be positive, got ", a, " and ", b);
  const double x = sample_gamma(gen, a), y = sample_gamma(gen, b);
  return x + y > 0 ? x / (x + y) : 0.5;
}

std::pair<CutmixBox, double> cutmix_bbox_and_lam(int64_t h, int64_t w, double lam,
                                                 std::optional<std::pair<double, double>> ratio_minmax,
                                                 bool correct_lam, Generator& gen) {
  CNNKIT_CHECK(h > 0 && w > 0, "cutmix_bbox_and_lam: the image must not be empty, got ", h, "x", w);
  CutmixBox box{};
  if (ratio_minmax) {  // timm's rand_bbox_minmax
    const int64_t h_lo = static_cast<int64_t>(static_cast<double>(h) * ratio_minmax->first);
    const int64_t h_hi = static_cast<int64_t>(static_cast<double>(h) * ratio_minmax->second);
    const int64_t w_lo = static_cast<int64_t>(static_cast<double>(w) * ratio_minmax->first);
    const int64_t w_hi = static_cast<int64_t>(static_cast<double>(w) * ratio_minmax->second);
    CNNKIT_CHECK(h_lo < h_hi && w_lo < w_hi, "cutmix_bbox_and_lam: cutmix_minmax (", ratio_minmax->first, ", ",
                 ratio_minmax->second, ") leaves no box side to draw on a ", h, "x", w,
                 " image (int(side * min) must be below int(side * max))");
    const int64_t cut_h = gen.randint(h_lo, h_hi), cut_w = gen.randint(w_lo, w_hi);
    const int64_t yl = gen.randint(0, h - cut_h), xl = gen.randint(0, w - cut_w);
    box = {yl, yl + cut_h, xl, xl + cut_w};
  } else {  // timm's rand_bbox: half-sides cut // 2 either side of a uniform centre, clipped
    const double ratio = std::sqrt(1.0 - lam);
    const int64_t cut_h = static_cast<int64_t>(static_cast<double>(h) * ratio);
    const int64_t cut_w = static_cast<int64_t>(static_cast<double>(w) * ratio);
    const int64_t cy = gen.randint(0, h), cx = gen.randint(0, w);
    auto clip = [](int64_t v, int64_t hi) { return std::min(std::max(v, int64_t{0}), hi); };
    box = {clip(cy - cut_h / 2, h), clip(cy + cut_h / 2, h), clip(cx - cut_w / 2, w), clip(cx + cut_w / 2, w)};
  }
  if (correct_lam || ratio_minmax) {
    const double area = static_cast<double>((box[1] - box[0]) * (box[3] - box[2]));
    lam = 1.0 - area / static_cast<double>(h * w);
  }
  return {box, lam};
}

Tensor mixup_images(const Tensor& x, double lam) {
  CNNKIT_CHECK_TYPE(x.defined() && x.scalar_type() == kFloat, "mixup_images: x must be float32, got ",
                    x.defined() ? x.scalar_type() : kFloat);
  CNNKIT_CHECK_SHAPE(x.dim() >= 1, "mixup_images: x must be (N, ...), got a 0-dim tensor");
  const Tensor src = x.contiguous();
  Tensor out = src.clone();
  const int64_t n = x.size(0), per = n > 0 ? src.numel() / n : 0;
  const float lf = static_cast<float>(lam), rf = static_cast<float>(1.0 - lam);
  for (int64_t i = 0; i < n; ++i) blend(out.data_ptr<float>(), src.data_ptr<float>(), i, n - 1 - i, per, lf, rf);
  return out;
}

Tensor cutmix_images(const Tensor& x, const CutmixBox& box) {
  CNNKIT_CHECK_TYPE(x.defined() && x.scalar_type() == kFloat, "cutmix_images: x must be float32, got ",
                    x.defined() ? x.scalar_type() : kFloat);
  CNNKIT_CHECK_SHAPE(x.dim() >= 3, "cutmix_images: x must be (N, C, H, W) or (N, H, W), got ", x.sizes());
  const int64_t n = x.size(0), h = x.size(-2), w = x.size(-1);
  CNNKIT_CHECK(box[0] >= 0 && box[0] <= box[1] && box[1] <= h && box[2] >= 0 && box[2] <= box[3] && box[3] <= w,
               "cutmix_images: box rows [", box[0], ", ", box[1], ") and columns [", box[2], ", ", box[3],
               ") do not lie in a ", h, "x", w, " image");
  const Tensor src = x.contiguous();
  Tensor out = src.clone();
  const int64_t planes = n > 0 && h * w > 0 ? src.numel() / (n * h * w) : 0;
  for (int64_t i = 0; i < n; ++i) paste(out.data_ptr<float>(), src.data_ptr<float>(), i, n - 1 - i, planes, h, w, box);
  return out;
}

Mixup::Mixup(MixupOptions options) : options_(std::move(options)) {
  const MixupOptions& o = options_;
  CNNKIT_CHECK(o.mixup_alpha() >= 0, "Mixup: mixup_alpha must be >= 0, got ", o.mixup_alpha());
  CNNKIT_CHECK(o.cutmix_alpha() >= 0, "Mixup: cutmix_alpha must be >= 0, got ", o.cutmix_alpha());
  if (o.cutmix_minmax()) {
    const auto [lo, hi] = *o.cutmix_minmax();
    CNNKIT_CHECK(lo > 0 && lo < hi && hi <= 1, "Mixup: cutmix_minmax must be (min, max) with 0 < min < max <= 1, got (",
                 lo, ", ", hi, ")");
    options_.cutmix_alpha(1.0);  // as timm: the box decides lambda, cutmix is on
  }
  CNNKIT_CHECK(options_.mixup_alpha() > 0 || options_.cutmix_alpha() > 0,
               "Mixup: nothing to mix: mixup_alpha and cutmix_alpha are both 0 and cutmix_minmax is unset");
  CNNKIT_CHECK(o.prob() >= 0 && o.prob() <= 1, "Mixup: prob must be in [0, 1], got ", o.prob());
  CNNKIT_CHECK(o.switch_prob() >= 0 && o.switch_prob() <= 1, "Mixup: switch_prob must be in [0, 1], got ",
               o.switch_prob());
  CNNKIT_CHECK(o.mode() == "batch" || o.mode() == "pair" || o.mode() == "elem",
               "Mixup: mode must be \"batch\", \"pair\" or \"elem\", got \"", o.mode(), "\"");
  CNNKIT_CHECK(o.label_smoothing() >= 0 && o.label_smoothing() <= 1, "Mixup: label_smoothing must be in [0, 1], got ",
               o.label_smoothing());
  CNNKIT_CHECK(o.num_classes() >= 0, "Mixup: num_classes must be >= 0, got ", o.num_classes());
}

std::pair<Tensor, Tensor> Mixup::operator()(const Tensor& x, const Tensor& target, int64_t num_classes,
                                            Generator* gen) const {
  const MixupOptions& o = options_;
  const int64_t c = num_classes > 0 ? num_classes : o.num_classes();
  CNNKIT_CHECK(c > 0, "Mixup: the number of classes is unknown: pass num_classes or set MixupOptions::num_classes");
  check_labels(target, c, "Mixup");
  CNNKIT_CHECK_TYPE(x.defined() && x.scalar_type() == kFloat, "Mixup: images must be float32 (after ToTensor), got ",
                    x.defined() ? x.scalar_type() : kFloat);
  CNNKIT_CHECK_SHAPE(x.dim() >= 1 && x.size(0) == target.size(0), "Mixup: images ", x.sizes(), " and targets ",
                     target.sizes(), " disagree on the batch size");
  const int64_t n = x.size(0);
  const std::string& mode = o.mode();
  CNNKIT_CHECK(mode != "pair" || n % 2 == 0, "Mixup: mode \"pair\" needs an even batch, got ", n,
               " examples (drop_last, or an even batch_size and dataset)");
  Generator& g = gen ? *gen : default_generator();
  std::lock_guard<std::mutex> lock(g.mutex());
  const bool both = o.mixup_alpha() > 0 && o.cutmix_alpha() > 0;
  // timm's _params_per_batch / _params_per_elem: (lambda, cutmix?) of one draw.
  auto draw = [&]() -> std::pair<double, bool> {
    if (g.uniform_double() >= o.prob()) return {1.0, false};
    const bool cut = both ? g.uniform_double() < o.switch_prob() : o.mixup_alpha() <= 0;
    const double alpha = cut ? o.cutmix_alpha() : o.mixup_alpha();
    return {sample_beta(g, alpha, alpha), cut};
  };

  const Tensor src = x.contiguous();
  Tensor out = src.clone();
  const float* s = src.data_ptr<float>();
  float* d = out.data_ptr<float>();
  const int64_t per = n > 0 ? src.numel() / n : 0;
  const bool has_image = x.dim() >= 3;
  const int64_t h = has_image ? x.size(-2) : 0, w = has_image ? x.size(-1) : 0;
  const int64_t planes = has_image ? per / (h * w) : 0;
  auto box_of = [&](double lam) {
    CNNKIT_CHECK_SHAPE(has_image && h > 0 && w > 0, "Mixup: cutmix needs images (N, C, H, W) or (N, H, W), got ",
                       x.sizes());
    return cutmix_bbox_and_lam(h, w, lam, o.cutmix_minmax(), o.correct_lam(), g);
  };

  std::vector<float> lam(static_cast<size_t>(n), 1.0f), rest(static_cast<size_t>(n), 0.0f);
  if (mode == "batch") {
    auto [l, cut] = draw();
    if (l != 1.0) {
      if (cut) {
        auto [box, corrected] = box_of(l);
        l = corrected;
        out = cutmix_images(src, box);
      } else {
        out = mixup_images(src, l);
      }
    }
    std::fill(lam.begin(), lam.end(), static_cast<float>(l));
    std::fill(rest.begin(), rest.end(), static_cast<float>(1.0 - l));
  } else {
    const int64_t draws = mode == "pair" ? n / 2 : n;
    for (int64_t i = 0; i < draws; ++i) {
      const int64_t j = n - 1 - i;
      auto [l, cut] = draw();
      float li = static_cast<float>(l);  // timm keeps per-element lambdas in float32
      if (li != 1.0f) {
        if (cut) {
          auto [box, corrected] = box_of(l);
          li = static_cast<float>(corrected);
          paste(d, s, i, j, planes, h, w, box);
          if (mode == "pair") paste(d, s, j, i, planes, h, w, box);
        } else {
          blend(d, s, i, j, per, li, 1.0f - li);
          if (mode == "pair") blend(d, s, j, i, per, li, 1.0f - li);
        }
      }
      lam[static_cast<size_t>(i)] = li;
      if (mode == "pair") lam[static_cast<size_t>(j)] = li;
    }
    for (size_t i = 0; i < rest.size(); ++i) rest[i] = 1.0f - lam[i];
  }
  return {out, mix_targets(target, c, lam.data(), rest.data(), o.label_smoothing())};
}

}  // namespace cnnkit::data
