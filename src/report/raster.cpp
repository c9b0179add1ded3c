// Scenes as pixels: each item becomes a coverage mask (anti-aliased by the distance of each
// pixel centre to the shape) blended once over the canvas, so the joints of a path do not
// darken; text is DejaVu Sans rendered by FreeType, placed and rotated by inverse mapping.
#include <ft2build.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>

#include "cnnkit/core/error.h"
#include "cnnkit/ops/ops.h"
#include "report/figure.h"

namespace cnnkit::report::detail {

namespace {

constexpr double kPi = 3.14159265358979323846;

// A float RGB canvas, white, row-major (y, x, c).
class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), px_(static_cast<size_t>(w) * static_cast<size_t>(h) * 3, 255.0f) {}
  int width() const { return w_; }
  int height() const { return h_; }

  // Blends `color` with per-pixel coverage mask[y * w + x] in [0, 1].
  void blend(const std::vector<float>& mask, Rgb color) {
    const float c[3] = {static_cast<float>(color.r), static_cast<float>(color.g), static_cast<float>(color.b)};
    for (size_t i = 0; i < mask.size(); ++i) {
      const float a = mask[i];
      if (a <= 0) continue;
      for (int k = 0; k < 3; ++k) px_[i * 3 + k] += (c[k] - px_[i * 3 + k]) * std::min(a, 1.0f);
    }
  }

  Tensor to_tensor() const {
    Tensor out = zeros({3, h_, w_}, TensorOptions().dtype(kByte));
    uint8_t* o = out.data_ptr<uint8_t>();
    const size_t n = static_cast<size_t>(w_) * static_cast<size_t>(h_);
    for (size_t i = 0; i < n; ++i)
      for (size_t k = 0; k < 3; ++k) o[k * n + i] = static_cast<uint8_t>(std::lround(std::clamp(px_[i * 3 + k], 0.0f, 255.0f)));
    return out;
  }

 private:
  int w_, h_;
  std::vector<float> px_;
};

class Mask {
 public:
  explicit Mask(const Canvas& c) : w_(c.width()), h_(c.height()), m_(static_cast<size_t>(w_) * static_cast<size_t>(h_), 0.0f) {}
  // Raises pixel (x, y) to coverage a (the max, so overlapping pieces of one item do not add up).
  void raise(int x, int y, double a) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_ || a <= 0) return;
    float& v = m_[static_cast<size_t>(y) * static_cast<size_t>(w_) + static_cast<size_t>(x)];
    v = std::max(v, static_cast<float>(std::min(a, 1.0)));
  }
  const std::vector<float>& values() const { return m_; }
  int width() const { return w_; }
  int height() const { return h_; }

 private:
  int w_, h_;
  std::vector<float> m_;
};

// A segment of width w; `dash_from` is the arc length at its start for the 5-on 3-off dash
// pattern (negative: solid).
void segment(Mask& m, double x1, double y1, double x2, double y2, double w, double dash_from) {
  const double dx = x2 - x1, dy = y2 - y1, len2 = dx * dx + dy * dy, len = std::sqrt(len2), r = w / 2;
  const int xa = static_cast<int>(std::floor(std::min(x1, x2) - r - 1)), xb = static_cast<int>(std::ceil(std::max(x1, x2) + r + 1));
  const int ya = static_cast<int>(std::floor(std::min(y1, y2) - r - 1)), yb = static_cast<int>(std::ceil(std::max(y1, y2) + r + 1));
  for (int y = std::max(ya, 0); y <= std::min(yb, m.height() - 1); ++y)
    for (int x = std::max(xa, 0); x <= std::min(xb, m.width() - 1); ++x) {
      const double cx = x + 0.5, cy = y + 0.5;
      const double t = len2 > 0 ? std::clamp(((cx - x1) * dx + (cy - y1) * dy) / len2, 0.0, 1.0) : 0.0;
      if (dash_from >= 0 && std::fmod(dash_from + t * len, 8.0) > 5.0) continue;
      const double d = std::hypot(cx - (x1 + t * dx), cy - (y1 + t * dy));
      // Thin lines keep their ink: a 1 px line covers about one pixel's worth across.
      const double cover = std::clamp(r + 0.5 - d, 0.0, 1.0) * std::min(w, 1.0);
      m.raise(x, y, cover);
    }
}

void fill_rect(Mask& m, double x, double y, double w, double h) {
  for (int py = std::max(0, static_cast<int>(std::floor(y))); py < std::min(m.height(), static_cast<int>(std::ceil(y + h))); ++py)
    for (int px = std::max(0, static_cast<int>(std::floor(x))); px < std::min(m.width(), static_cast<int>(std::ceil(x + w)));
         ++px) {
      const double cx = std::min(px + 1.0, x + w) - std::max<double>(px, x);
      const double cy = std::min(py + 1.0, y + h) - std::max<double>(py, y);
      m.raise(px, py, std::max(cx, 0.0) * std::max(cy, 0.0));
    }
}

// FreeType with DejaVu Sans (regular and bold), loaded once; rendering is serialised.
class Fonts {
 public:
  static Fonts& get() {
    static Fonts fonts;
    return fonts;
  }
  std::mutex& mutex() { return mutex_; }
  FT_Face face(bool bold) {
    FT_Face& f = bold ? bold_ : regular_;
    if (!f) {
      const std::string path = bold ? kDir + "DejaVuSans-Bold.ttf" : kDir + "DejaVuSans.ttf";
      CNNKIT_CHECK(std::filesystem::exists(path), "report: font ", path,
                         " is missing (Debian package fonts-dejavu-core; scripts/install-deps installs it)");
      CNNKIT_CHECK(FT_New_Face(lib_, path.c_str(), 0, &f) == 0, "report: FreeType cannot load the font ", path);
    }
    return f;
  }
  ~Fonts() {
    if (regular_) FT_Done_Face(regular_);
    if (bold_) FT_Done_Face(bold_);
    if (lib_) FT_Done_FreeType(lib_);
  }

 private:
  Fonts() { CNNKIT_CHECK(FT_Init_FreeType(&lib_) == 0, "report: FreeType failed to start"); }
  inline static const std::string kDir = "/usr/share/fonts/truetype/dejavu/";
  std::mutex mutex_;
  FT_Library lib_ = nullptr;
  FT_Face regular_ = nullptr, bold_ = nullptr;
};

// Text as a coverage image of its own: baseline at row `ascent`, starting at column 0.
struct TextImage {
  int w = 0, h = 0, ascent = 0;
  std::vector<float> a;
};

TextImage render_text(const std::string& text, double size, bool bold) {
  Fonts& fonts = Fonts::get();
  std::lock_guard<std::mutex> lock(fonts.mutex());
  FT_Face face = fonts.face(bold);
  FT_Set_Pixel_Sizes(face, 0, static_cast<FT_UInt>(std::lround(size)));
  TextImage img;
  img.ascent = static_cast<int>(std::ceil(static_cast<double>(face->size->metrics.ascender) / 64.0));
  const int descent = static_cast<int>(std::ceil(-static_cast<double>(face->size->metrics.descender) / 64.0));
  img.h = img.ascent + descent;
  // UTF-8 to code points (the labels are class names and numbers; anything malformed is '?').
  std::vector<uint32_t> cps;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + static_cast<size_t>(n) > text.size()) {
      cps.push_back('?');
      ++i;
      continue;
    }
    uint32_t cp = n == 1 ? c : c & (0xff >> (n + 1));
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(text[i + static_cast<size_t>(k)]) & 0x3f);
    cps.push_back(cp);
    i += static_cast<size_t>(n);
  }
  // Two passes: the advance width, then the glyphs.
  double width = 0;
  for (uint32_t cp : cps)
    if (FT_Load_Char(face, cp, FT_LOAD_DEFAULT) == 0) width += static_cast<double>(face->glyph->advance.x) / 64.0;
  img.w = static_cast<int>(std::ceil(width)) + 2;
  img.a.assign(static_cast<size_t>(img.w) * static_cast<size_t>(img.h), 0.0f);
  double pen = 0;
  for (uint32_t cp : cps) {
    if (FT_Load_Char(face, cp, FT_LOAD_RENDER) != 0) continue;
    const FT_GlyphSlot g = face->glyph;
    const FT_Bitmap& b = g->bitmap;
    const int x0 = static_cast<int>(std::lround(pen)) + g->bitmap_left, y0 = img.ascent - g->bitmap_top;
    for (unsigned r = 0; r < b.rows; ++r)
      for (unsigned c = 0; c < b.width; ++c) {
        const int x = x0 + static_cast<int>(c), y = y0 + static_cast<int>(r);
        if (x < 0 || y < 0 || x >= img.w || y >= img.h) continue;
        float& v = img.a[static_cast<size_t>(y) * static_cast<size_t>(img.w) + static_cast<size_t>(x)];
        v = std::max(v, static_cast<float>(b.buffer[static_cast<int>(r) * b.pitch + static_cast<int>(c)]) / 255.0f);
      }
    pen += static_cast<double>(g->advance.x) / 64.0;
  }
  img.w = std::max(img.w, 1);
  return img;
}

void draw_text(Mask& m, const Text& t) {
  const TextImage img = render_text(t.text, t.size, t.bold);
  const double width = img.w - 2;
  const double start = t.anchor == Anchor::kMiddle ? -width / 2 : t.anchor == Anchor::kEnd ? -width : 0.0;
  const double a = t.rotate * kPi / 180, ca = std::cos(a), sa = std::sin(a);
  // Corners of the text box in canvas coordinates bound the pixels to visit.
  double xmin = 1e9, xmax = -1e9, ymin = 1e9, ymax = -1e9;
  for (double u : {start, start + img.w})
    for (double v : {-static_cast<double>(img.ascent), static_cast<double>(img.h - img.ascent)}) {
      const double X = t.x + u * ca - v * sa, Y = t.y + u * sa + v * ca;
      xmin = std::min(xmin, X), xmax = std::max(xmax, X), ymin = std::min(ymin, Y), ymax = std::max(ymax, Y);
    }
  auto sample = [&](double u, double v) {  // bilinear, in text-image pixels
    const double fx = u - 0.5, fy = v - 0.5;
    const int ix = static_cast<int>(std::floor(fx)), iy = static_cast<int>(std::floor(fy));
    const double wx = fx - ix, wy = fy - iy;
    auto at = [&](int x, int y) -> double {
      if (x < 0 || y < 0 || x >= img.w || y >= img.h) return 0;
      return img.a[static_cast<size_t>(y) * static_cast<size_t>(img.w) + static_cast<size_t>(x)];
    };
    return (at(ix, iy) * (1 - wx) + at(ix + 1, iy) * wx) * (1 - wy) + (at(ix, iy + 1) * (1 - wx) + at(ix + 1, iy + 1) * wx) * wy;
  };
  for (int y = std::max(0, static_cast<int>(std::floor(ymin))); y <= std::min(m.height() - 1, static_cast<int>(std::ceil(ymax)));
       ++y)
    for (int x = std::max(0, static_cast<int>(std::floor(xmin))); x <= std::min(m.width() - 1, static_cast<int>(std::ceil(xmax)));
         ++x) {
      const double dx = x + 0.5 - t.x, dy = y + 0.5 - t.y;
      const double u = dx * ca + dy * sa - start, v = -dx * sa + dy * ca + img.ascent;
      if (t.rotate == 0) {  // unrotated: whole-pixel placement keeps glyphs sharp
        const int ux = static_cast<int>(std::floor(u)), vy = static_cast<int>(std::floor(v));
        if (ux >= 0 && vy >= 0 && ux < img.w && vy < img.h)
          m.raise(x, y, img.a[static_cast<size_t>(vy) * static_cast<size_t>(img.w) + static_cast<size_t>(ux)]);
      } else {
        m.raise(x, y, sample(u, v));
      }
    }
}

}  // namespace

Tensor rasterize(const Scene& scene) {
  CNNKIT_CHECK(!scene.empty(), "rasterize: an empty scene");
  Canvas canvas(scene.width, scene.height);
  for (const Item& item : scene.items) {
    Mask m(canvas);
    Rgb color;
    if (const auto* l = std::get_if<Line>(&item)) {
      segment(m, l->x1, l->y1, l->x2, l->y2, l->width, l->dashed ? 0.0 : -1.0);
      color = l->color;
    } else if (const auto* p = std::get_if<Path>(&item)) {
      double arc = 0;
      for (size_t i = 1; i < p->points.size(); ++i) {
        const auto [x1, y1] = p->points[i - 1];
        const auto [x2, y2] = p->points[i];
        segment(m, x1, y1, x2, y2, p->width, p->dashed ? arc : -1.0);
        arc += std::hypot(x2 - x1, y2 - y1);
      }
      color = p->color;
    } else if (const auto* r = std::get_if<Rect>(&item)) {
      if (r->fill) {
        fill_rect(m, r->x, r->y, r->w, r->h);
        canvas.blend(m.values(), *r->fill);
        m = Mask(canvas);
      }
      if (!r->stroke) continue;
      const double x0 = r->x, y0 = r->y, x1 = r->x + r->w, y1 = r->y + r->h;
      segment(m, x0, y0, x1, y0, 1, -1);
      segment(m, x1, y0, x1, y1, 1, -1);
      segment(m, x1, y1, x0, y1, 1, -1);
      segment(m, x0, y1, x0, y0, 1, -1);
      color = *r->stroke;
    } else if (const auto* c = std::get_if<Circle>(&item)) {
      for (int y = static_cast<int>(c->cy - c->r - 1); y <= static_cast<int>(c->cy + c->r + 1); ++y)
        for (int x = static_cast<int>(c->cx - c->r - 1); x <= static_cast<int>(c->cx + c->r + 1); ++x)
          m.raise(x, y, std::clamp(c->r + 0.5 - std::hypot(x + 0.5 - c->cx, y + 0.5 - c->cy), 0.0, 1.0));
      color = c->fill;
    } else if (const auto* t = std::get_if<Text>(&item)) {
      draw_text(m, *t);
      color = t->color;
    }
    canvas.blend(m.values(), color);
  }
  return canvas.to_tensor();
}

}  // namespace cnnkit::report::detail
