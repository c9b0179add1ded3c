// The report's charts as scenes, and scenes as SVG text. Plain loops over small data.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cnnkit/core/error.h"
#include "cnnkit/data/image.h"
#include "cnnkit/io/file.h"
#include "report/figure.h"

namespace cnnkit::report::detail {

namespace {

// Nice tick values covering [lo, hi]: steps of 1, 2 or 5 x 10^k, about `count` of them.
std::vector<double> nice_ticks(double lo, double hi, int count, double min_step = 0) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(count, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  step = std::max(step, min_step);
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

// Ticks of a log axis, as log10 values within [lo, hi]: every decade, or 1-2-5 within a
// range of less than two decades, thinned to about `count`.
std::vector<double> log_ticks(double lo, double hi, int count) {
  std::vector<double> ticks;
  const bool fine = hi - lo < 2;
  for (double d = std::floor(lo); d <= std::ceil(hi); ++d)
    for (double m : fine ? std::vector<double>{1, 2, 5} : std::vector<double>{1}) {
      const double t = d + std::log10(m);
      if (t >= lo - 1e-9 && t <= hi + 1e-9) ticks.push_back(t);
    }
  if (ticks.empty()) return nice_ticks(lo, hi, count);
  const size_t stride = std::max<size_t>(1, (ticks.size() + static_cast<size_t>(count) - 1) / static_cast<size_t>(count));
  std::vector<double> out;
  for (size_t i = 0; i < ticks.size(); i += stride) out.push_back(ticks[i]);
  return out;
}

std::string fmt_tick(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-3) return fmt::format("{:.0e}", v);
  if (a >= 100 || v == std::round(v)) return fmt::format("{:.0f}", v);
  if (a >= 1) return fmt::format("{:.2g}", v);
  return fmt::format("{:.3g}", v);
}

const Rgb kBlack{0x22, 0x22, 0x22}, kGrid{0xe5, 0xe5, 0xe5}, kFrame{0x88, 0x88, 0x88}, kMarker{0xd6, 0x27, 0x28};

std::string hex(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

const char* anchor_name(Anchor a) {
  switch (a) {
    case Anchor::kMiddle: return "middle";
    case Anchor::kEnd: return "end";
    default: return "start";
  }
}

}  // namespace

Rgb parse_color(const std::string& s) {
  CNNKIT_CHECK(s.size() == 7 && s[0] == '#' && s.find_first_not_of("0123456789abcdefABCDEF", 1) == std::string::npos,
               "report: colour '", s, "' is not #rrggbb");
  const auto v = std::stoul(s.substr(1), nullptr, 16);
  return {static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

std::string to_svg(const Scene& scene) {
  if (scene.empty()) return "";
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"DejaVu Sans, sans-serif\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      scene.width, scene.height);
  auto dash = [](bool d) { return d ? " stroke-dasharray=\"5 3\"" : ""; };
  for (const Item& item : scene.items) {
    if (const auto* l = std::get_if<Line>(&item)) {
      svg += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"{}\"{}/>\n",
                         l->x1, l->y1, l->x2, l->y2, hex(l->color), l->width, dash(l->dashed));
    } else if (const auto* p = std::get_if<Path>(&item)) {
      std::string d;
      for (size_t i = 0; i < p->points.size(); ++i)
        d += fmt::format("{}{:.1f},{:.1f} ", i == 0 ? "M" : "L", p->points[i].first, p->points[i].second);
      svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\"{}/>\n", d,
                         hex(p->color), p->width, dash(p->dashed));
    } else if (const auto* r = std::get_if<Rect>(&item)) {
      svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" stroke=\"{}\"/>\n", r->x,
                         r->y, r->w, r->h, r->fill ? hex(*r->fill) : "none", r->stroke ? hex(*r->stroke) : "none");
    } else if (const auto* c = std::get_if<Circle>(&item)) {
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\"/>\n", c->cx, c->cy, c->r, hex(c->fill));
    } else if (const auto* t = std::get_if<Text>(&item)) {
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"{}\" text-anchor=\"{}\" fill=\"{}\"{}{}>{}</text>\n", t->x,
                         t->y, t->size, anchor_name(t->anchor), hex(t->color), t->bold ? " font-weight=\"bold\"" : "",
                         t->rotate != 0 ? fmt::format(" transform=\"rotate({} {:.1f} {:.1f})\"", t->rotate, t->x, t->y) : "",
                         html_escape(t->text));
    }
  }
  return svg + "</svg>\n";
}

std::string write_figure(const std::string& dir, const std::string& stem, const Scene& scene,
                         std::vector<std::string>* written) {
  if (scene.empty()) return "";
  const std::string svg = to_svg(scene), base = dir + "/" + stem;
  io::write_file_atomic(base + ".svg", svg, "report");
  io::write_file_atomic(base + ".png", data::encode_png(rasterize(scene)), "report");
  if (written) {
    written->push_back(base + ".svg");
    written->push_back(base + ".png");
  }
  return svg;
}

Scene line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto xv = [&](double x) { return o.log_x ? std::log10(x) : x; };
  auto yv = [&](double y) { return o.log_y ? std::log10(y) : y; };
  auto usable = [&](const Series& s, size_t i) {
    return std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && !(o.log_x && s.x[i] <= 0) && !(o.log_y && s.y[i] <= 0);
  };
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s, i)) continue;
      x0 = std::min(x0, xv(s.x[i]));
      x1 = std::max(x1, xv(s.x[i]));
      y0 = std::min(y0, yv(s.y[i]));
      y1 = std::max(y1, yv(s.y[i]));
    }
  if (!std::isfinite(x0)) return {};
  bool integer_x = !o.log_x;  // epochs, steps, folds: no tick between two integers
  for (const auto& s : series)
    for (double x : s.x) integer_x &= !std::isfinite(x) || x == std::round(x);
  bool scatter = false;
  for (const auto& s : series) scatter |= s.points;
  if (!o.categories.empty()) {
    x0 = -0.5;
    x1 = static_cast<double>(o.categories.size()) - 0.5;
  } else if (x1 == x0) {
    x0 -= 0.5;
    x1 += 0.5;
  } else if (scatter) {  // dots at the ends stay inside the frame
    const double xpad = (x1 - x0) * 0.04;
    x0 -= xpad;
    x1 += xpad;
  }
  if (y1 == y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  Scene sc;
  sc.width = o.width;
  sc.height = o.height;
  // The legend: entries in rows above the plot (never over the data), each as wide as its
  // name (DejaVu Sans 10 px: about 6.2 px a character).
  struct Entry {
    const Series* s;
    double x, y;
  };
  std::vector<Entry> legend;
  const double L = 62, R = 16, B = 46;
  double T = 30;
  {
    double x = L, y = 36;
    for (const auto& s : series) {
      if (s.name.empty()) continue;
      const double w = 34 + 6.2 * static_cast<double>(s.name.size());
      if (x + w > o.width - R && x > L) x = L, y += 15;
      legend.push_back({&s, x, y});
      x += w;
    }
    if (!legend.empty()) T = legend.back().y + 14;
  }
  const double W = o.width, H = o.height + (T - 30), pw = W - L - R, ph = H - T - B;
  sc.height = static_cast<int>(H);
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return T + (1 - (y - y0) / (y1 - y0)) * ph; };
  auto& it = sc.items;
  it.push_back(Text{W / 2, 18, o.title, 13, Anchor::kMiddle, true, 0, kBlack});
  for (double t : o.log_y ? log_ticks(y0, y1, 6) : nice_ticks(y0, y1, 5)) {
    const double y = py(t);
    it.push_back(Line{L, y, L + pw, y, kGrid});
    it.push_back(Text{L - 5, y + 4, o.log_y ? fmt_tick(std::pow(10.0, t)) : fmt_tick(t), 10, Anchor::kEnd, false, 0, kBlack});
  }
  std::vector<double> xticks = o.log_x ? log_ticks(x0, x1, 8) : nice_ticks(x0, x1, 8, integer_x ? 1.0 : 0.0);
  if (!o.categories.empty()) {
    xticks.clear();
    for (size_t i = 0; i < o.categories.size(); ++i) xticks.push_back(static_cast<double>(i));
  }
  for (double t : xticks) {
    const double x = px(t);
    const std::string label = !o.categories.empty() ? o.categories[static_cast<size_t>(t)]
                              : o.log_x             ? fmt_tick(std::pow(10.0, t))
                                                    : fmt_tick(t);
    it.push_back(Line{x, T, x, T + ph, kGrid});
    it.push_back(Text{x, T + ph + 15, label, 10, Anchor::kMiddle, false, 0, kBlack});
  }
  it.push_back(Rect{L, T, pw, ph, std::nullopt, kFrame});
  it.push_back(Text{L + pw / 2, H - 8, o.x_label + (o.log_x ? " (log)" : ""), 11, Anchor::kMiddle, false, 0, kBlack});
  it.push_back(Text{16, T + ph / 2, o.y_label + (o.log_y ? " (log)" : ""), 11, Anchor::kMiddle, false, -90, kBlack});
  if (o.marker_x && (!o.log_x || *o.marker_x > 0)) {
    const double m = xv(*o.marker_x);
    if (m >= x0 && m <= x1) {
      const double x = px(m);
      it.push_back(Line{x, T, x, T + ph, kMarker, 1, true});
      it.push_back(Text{x + 3, T + 11, o.marker_label, 10, x > L + pw * 0.7 ? Anchor::kEnd : Anchor::kStart, false, 0, kMarker});
      if (x > L + pw * 0.7) std::get<Text>(it.back()).x = x - 3;
    }
  }
  // The series, broken at gaps; a dot where a stretch has a single point, dots only for scatters.
  for (const auto& s : series) {
    const Rgb color = parse_color(s.color);
    Path path{{}, color, 1.8, s.dashed};
    auto flush = [&] {
      if (path.points.size() == 1) it.push_back(Circle{path.points[0].first, path.points[0].second, 2.5, color});
      else if (path.points.size() > 1) it.push_back(path);
      path.points.clear();
    };
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s, i)) {
        flush();
        continue;
      }
      const double x = px(xv(s.x[i])), y = py(yv(s.y[i]));
      if (s.points) it.push_back(Circle{x, y, 3, color});
      else path.points.emplace_back(x, y);
    }
    flush();
  }
  for (const Entry& e : legend) {
    const Rgb color = parse_color(e.s->color);
    if (e.s->points) it.push_back(Circle{e.x + 10, e.y, 3, color});
    else it.push_back(Line{e.x, e.y, e.x + 20, e.y, color, 2, e.s->dashed});
    it.push_back(Text{e.x + 24, e.y + 4, e.s->name, 10, Anchor::kStart, false, 0, kBlack});
  }
  return sc;
}

Scene confusion_heatmap(const std::vector<int64_t>& counts, int64_t K, const std::vector<std::string>& labels) {
  CNNKIT_CHECK(static_cast<int64_t>(counts.size()) == K * K, "confusion_heatmap: ", counts.size(), " counts for ", K,
               " classes");
  const double cell = K <= 10 ? 40 : K <= 20 ? 26 : 14, L = 110, T = 44, B = 100;
  Scene sc;
  sc.width = std::max(static_cast<int>(L + static_cast<double>(K) * cell + 20), 400);
  sc.height = static_cast<int>(T + static_cast<double>(K) * cell + B);
  auto label = [&](int64_t k) { return k < static_cast<int64_t>(labels.size()) ? labels[static_cast<size_t>(k)] : std::to_string(k); };
  auto& it = sc.items;
  it.push_back(Text{10, 16, "Confusion matrix", 13, Anchor::kStart, true, 0, kBlack});
  it.push_back(Text{10, 31, "rows: true class, columns: predicted; colour: share of the row", 10, Anchor::kStart, false, 0,
                    kBlack});
  const Rgb white{255, 255, 255}, cell_border{0xdd, 0xdd, 0xdd};
  for (int64_t t = 0; t < K; ++t) {
    int64_t row = 0;
    for (int64_t p = 0; p < K; ++p) row += counts[static_cast<size_t>(t * K + p)];
    for (int64_t p = 0; p < K; ++p) {
      const int64_t c = counts[static_cast<size_t>(t * K + p)];
      const double share = row ? static_cast<double>(c) / static_cast<double>(row) : 0.0;
      const Rgb fill{static_cast<uint8_t>(255 - 225 * share), static_cast<uint8_t>(255 - 185 * share),
                     static_cast<uint8_t>(255 - 100 * share)};  // white -> dark blue
      const double x = L + static_cast<double>(p) * cell, y = T + static_cast<double>(t) * cell;
      it.push_back(Rect{x, y, cell, cell, fill, cell_border});
      if (K <= 20)
        it.push_back(Text{x + cell / 2, y + cell / 2 + 4, std::to_string(c), 10, Anchor::kMiddle, false, 0,
                          share > 0.55 ? white : kBlack});
    }
    it.push_back(Text{L - 4, T + static_cast<double>(t) * cell + cell / 2 + 4, label(t), 10, Anchor::kEnd, false, 0, kBlack});
  }
  for (int64_t p = 0; p < K; ++p) {
    const double x = L + static_cast<double>(p) * cell + cell / 2, y = T + static_cast<double>(K) * cell + 6;
    it.push_back(Text{x, y, label(p), 10, Anchor::kEnd, false, -60, kBlack});
  }
  return sc;
}

}  // namespace cnnkit::report::detail
