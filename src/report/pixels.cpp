// The report's image figures as uint8 pixels: colour maps, grids, overlays, data URIs.
// Plain loops over small data; nothing here is on a hot path.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "cnnkit/core/error.h"
#include "cnnkit/data/image.h"
#include "cnnkit/ops/ops.h"
#include "report/figure.h"

namespace cnnkit::report::detail {

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
