// The report's figures: SVG line charts and heat maps written as text, image grids and
// colour maps as uint8 pixels. Plain loops over small data; nothing here is on a hot path.
#include "report/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "cnnkit/core/error.h"
#include "cnnkit/data/image.h"
#include "cnnkit/ops/ops.h"

namespace cnnkit::report::detail {

namespace {

// Nice tick values covering [lo, hi]: steps of 1, 2 or 5 x 10^k, about `count` of them.
std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(count, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

std::string fmt_tick(double v) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e4 || a < 1e-3) return fmt::format("{:.0e}", v);
  if (a >= 100 || v == std::round(v)) return fmt::format("{:.0f}", v);
  if (a >= 1) return fmt::format("{:.2g}", v);
  return fmt::format("{:.3g}", v);
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto yv = [&](double y) { return o.log_y ? std::log10(y) : y; };
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (o.log_y && s.y[i] <= 0)) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, yv(s.y[i]));
      y1 = std::max(y1, yv(s.y[i]));
    }
  if (!std::isfinite(x0)) return "";
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) {
    y0 -= 0.5;
    y1 += 0.5;
  }
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const int L = 62, R = 16, T = 30, B = 46;
  const int W = o.width, H = o.height, pw = W - L - R, ph = H - T - B;
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return T + (1 - (y - y0) / (y1 - y0)) * ph; };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"11\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      W, H, W, H);
  svg += fmt::format("<text x=\"{}\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
                     W / 2, html_escape(o.title));
  // Grid lines and ticks.
  for (double t : nice_ticks(y0, y1, 5)) {
    const double y = py(t);
    svg += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#e5e5e5\"/>", L, y, L + pw, y);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\" dy=\"4\">{}</text>\n", L - 5, y,
                       o.log_y ? fmt_tick(std::pow(10.0, t)) : fmt_tick(t));
  }
  for (double t : nice_ticks(x0, x1, 8)) {
    const double x = px(t);
    svg += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#e5e5e5\"/>", x, T, x, T + ph);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x, T + ph + 15, fmt_tick(t));
  }
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", L, T, pw, ph);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", L + pw / 2, H - 8,
                     html_escape(o.x_label));
  svg += fmt::format("<text x=\"14\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 14 {})\">{}</text>\n",
                     T + ph / 2, T + ph / 2, html_escape(o.y_label + (o.log_y ? " (log)" : "")));
  if (o.marker_x && *o.marker_x >= x0 && *o.marker_x <= x1) {
    const double x = px(*o.marker_x);
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>"
        "<text x=\"{:.1f}\" y=\"{}\" fill=\"#d62728\" dx=\"3\">{}</text>\n",
        x, T, x, T + ph, x, T + 11, html_escape(o.marker_label));
  }
  // The series, broken at NaNs; a dot where a segment has a single point.
  int legend_y = T + 14;
  for (const auto& s : series) {
    std::string path;
    size_t run = 0;
    double lx = 0, ly = 0;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i]) || (o.log_y && s.y[i] <= 0)) {
        if (run == 1) svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>", lx, ly, s.color);
        run = 0;
        continue;
      }
      lx = px(s.x[i]);
      ly = py(yv(s.y[i]));
      path += fmt::format("{}{:.1f},{:.1f} ", run == 0 ? "M" : "L", lx, ly);
      ++run;
    }
    if (run == 1) svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>", lx, ly, s.color);
    if (!path.empty())
      svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"{}/>\n", path, s.color,
                         s.dashed ? " stroke-dasharray=\"5 3\"" : "");
    svg += fmt::format(
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>"
        "<text x=\"{}\" y=\"{}\" dy=\"4\">{}</text>\n",
        L + pw - 110, legend_y, L + pw - 90, legend_y, s.color, s.dashed ? " stroke-dasharray=\"5 3\"" : "",
        L + pw - 85, legend_y, html_escape(s.name));
    legend_y += 15;
  }
  return svg + "</svg>\n";
}

std::string confusion_heatmap(const std::vector<int64_t>& counts, int64_t K, const std::vector<std::string>& labels) {
  CNNKIT_CHECK(static_cast<int64_t>(counts.size()) == K * K, "confusion_heatmap: ", counts.size(), " counts for ", K,
               " classes");
  const int cell = K <= 10 ? 40 : K <= 20 ? 26 : 14, L = 110, T = 40, B = 100;
  const int W = L + static_cast<int>(K) * cell + 20, H = T + static_cast<int>(K) * cell + B;
  auto label = [&](int64_t k) { return k < static_cast<int64_t>(labels.size()) ? labels[k] : std::to_string(k); };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"10\"><rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      W, H, W, H);
  svg += fmt::format("<text x=\"{}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">Confusion matrix (rows: true, "
                     "columns: predicted; colour: share of the row)</text>\n",
                     10);
  for (int64_t t = 0; t < K; ++t) {
    int64_t row = 0;
    for (int64_t p = 0; p < K; ++p) row += counts[static_cast<size_t>(t * K + p)];
    for (int64_t p = 0; p < K; ++p) {
      const int64_t c = counts[static_cast<size_t>(t * K + p)];
      const double share = row ? static_cast<double>(c) / static_cast<double>(row) : 0.0;
      // white -> dark blue
      const int r = static_cast<int>(255 - 225 * share), g = static_cast<int>(255 - 185 * share), b = static_cast<int>(255 - 100 * share);
      const int x = L + static_cast<int>(p) * cell, y = T + static_cast<int>(t) * cell;
      svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"rgb({},{},{})\" stroke=\"#ddd\"/>", x, y,
                         cell, cell, r, g, b);
      if (K <= 20)
        svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" dy=\"4\" fill=\"{}\">{}</text>", x + cell / 2,
                           y + cell / 2, share > 0.55 ? "white" : "black", c);
    }
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" dy=\"4\">{}</text>\n", L - 4,
                       T + static_cast<int>(t) * cell + cell / 2, html_escape(label(t)));
  }
  for (int64_t p = 0; p < K; ++p) {
    const int x = L + static_cast<int>(p) * cell + cell / 2, y = T + static_cast<int>(K) * cell + 6;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" transform=\"rotate(-60 {} {})\">{}</text>\n", x, y,
                       x, y, html_escape(label(p)));
  }
  return svg + "</svg>\n";
}

std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    for (int s : {18, 12, 6, 0}) out += kAlphabet[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string png_data_uri(const Tensor& image) { return "data:image/png;base64," + base64(data::encode_png(image)); }

Tensor colormap(const Tensor& values, std::optional<double> lo, std::optional<double> hi) {
  // Anchors of a viridis-like map: dark purple, blue, teal, green, yellow.
  static const std::array<std::array<float, 3>, 5> kAnchors = {
      {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}};
  Tensor v = values.contiguous().to(kFloat);
  const float* p = v.data_ptr<float>();
  const int64_t n = v.numel();
  double a = lo.value_or(std::numeric_limits<double>::infinity()), b = hi.value_or(-std::numeric_limits<double>::infinity());
  if (!lo || !hi)
    for (int64_t i = 0; i < n; ++i)
      if (std::isfinite(p[i])) {
        if (!lo) a = std::min(a, static_cast<double>(p[i]));
        if (!hi) b = std::max(b, static_cast<double>(p[i]));
      }
  if (!(b > a)) b = a + 1;
  Tensor out = zeros({3, v.size(0), v.size(1)}, TensorOptions().dtype(kByte));
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    const double t = std::clamp((static_cast<double>(p[i]) - a) / (b - a), 0.0, 1.0) * 4.0;
    const int k = std::min(static_cast<int>(t), 3);
    const double f = t - k;
    for (int c = 0; c < 3; ++c)
      o[c * n + i] = static_cast<uint8_t>(std::lround(kAnchors[k][c] * (1 - f) + kAnchors[k + 1][c] * f));
  }
  return out;
}

Tensor to_uint8(const Tensor& image) {
  Tensor v = image.contiguous().to(kFloat);
  const float lo = v.min().item<float>(), hi = v.max().item<float>();
  Tensor scaled = hi > lo ? (v - lo) * (255.0 / (hi - lo)) : zeros_like(v);
  return scaled.round().clamp(0, 255).to(kByte);
}

Tensor upscale(const Tensor& image, int64_t factor) {
  Tensor src = image.contiguous();
  const int64_t C = src.size(0), H = src.size(1), W = src.size(2);
  Tensor out = zeros({C, H * factor, W * factor}, TensorOptions().dtype(kByte));
  const uint8_t* s = src.data_ptr<uint8_t>();
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t y = 0; y < H * factor; ++y)
      for (int64_t x = 0; x < W * factor; ++x)
        o[(c * H * factor + y) * W * factor + x] = s[(c * H + y / factor) * W + x / factor];
  return out;
}

Tensor grid(const std::vector<Tensor>& cells, int64_t columns, int64_t gap) {
  CNNKIT_CHECK(!cells.empty(), "grid: no cells");
  const int64_t h = cells[0].size(1), w = cells[0].size(2), n = static_cast<int64_t>(cells.size());
  const int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  const int64_t H = rows * h + (rows + 1) * gap, W = cols * w + (cols + 1) * gap;
  Tensor out = full({3, H, W}, 255, TensorOptions().dtype(kByte));
  uint8_t* o = out.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i) {
    Tensor cell = cells[static_cast<size_t>(i)].contiguous();
    CNNKIT_CHECK(cell.size(1) == h && cell.size(2) == w, "grid: cells differ in size");
    const uint8_t* s = cell.data_ptr<uint8_t>();
    const int64_t C = cell.size(0), y0 = gap + (i / cols) * (h + gap), x0 = gap + (i % cols) * (w + gap);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) o[(c * H + y0 + y) * W + x0 + x] = s[((C == 3 ? c : 0) * h + y) * w + x];
  }
  return out;
}

Tensor overlay(const Tensor& picture, const Tensor& heat, double alpha) {
  Tensor pic = picture.size(0) == 3 ? picture : picture.expand({3, picture.size(1), picture.size(2)});
  return (pic.to(kFloat) * (1 - alpha) + heat.to(kFloat) * alpha).round().clamp(0, 255).to(kByte).contiguous();
}

}  // namespace cnnkit::report::detail
