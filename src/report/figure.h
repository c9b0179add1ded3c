// Private to report: figures as a small vector scene (lines, paths, rectangles, circles,
// text) built once and written twice — as SVG text for the page and as PNG pixels for
// RUN_DIR/figures/ — plus the pixel helpers of the image figures (colour maps, grids,
// overlays, data URIs). No JavaScript; text is DejaVu Sans in both backends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cnnkit/core/tensor.h"

namespace cnnkit::report::detail {

// ---- the scene ----------------------------------------------------------------------------------

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};
Rgb parse_color(const std::string& hex);  // "#rrggbb"

enum class Anchor { kStart, kMiddle, kEnd };

struct Line {
  double x1, y1, x2, y2;
  Rgb color;
  double width = 1;
  bool dashed = false;
};
struct Path {  // an open polyline
  std::vector<std::pair<double, double>> points;
  Rgb color;
  double width = 1.8;
  bool dashed = false;
};
struct Rect {
  double x, y, w, h;
  std::optional<Rgb> fill, stroke;
};
struct Circle {
  double cx, cy, r;
  Rgb fill;
};
struct Text {
  double x, y;  // the baseline's anchor point
  std::string text;
  double size = 11;
  Anchor anchor = Anchor::kStart;
  bool bold = false;
  double rotate = 0;  // degrees about (x, y), clockwise as in SVG; the charts use 0, -60 and -90
  Rgb color;
};
using Item = std::variant<Line, Path, Rect, Circle, Text>;

struct Scene {
  int width = 0, height = 0;  // 0 x 0: an empty figure (nothing to draw)
  std::vector<Item> items;
  bool empty() const { return width == 0 || height == 0; }
};

std::string to_svg(const Scene& scene);
// (3, H, W) uint8 on white: anti-aliased lines and shapes, text through FreeType. ValueError
// naming the font when DejaVu Sans (Debian fonts-dejavu-core) is missing.
Tensor rasterize(const Scene& scene);
// Writes DIR/STEM.svg and DIR/STEM.png (each atomically), appends their paths to `written`
// and returns the SVG text, for inlining in the page. Nothing for an empty scene ("").
std::string write_figure(const std::string& dir, const std::string& stem, const Scene& scene,
                         std::vector<std::string>* written = nullptr);

// ---- charts -------------------------------------------------------------------------------------

struct Series {
  std::string name;
  std::vector<double> x, y;  // NaN y values are gaps
  std::string color;
  bool dashed = false;
  bool points = false;  // a scatter: dots, no line
};

struct ChartOptions {
  std::string title, x_label, y_label;
  int width = 520, height = 300;
  bool log_x = false, log_y = false;  // non-positive values are left out on a log axis
  std::optional<double> marker_x;     // a vertical line (the best epoch, the suggested lr), labelled
  std::string marker_label;
  std::vector<std::string> categories;  // x is a category index: ticks 0..n-1 carry these names
};

// A line chart with nice ticks (1, 2, 5 x 10^k; decades on a log axis), a legend and the
// marker; an empty scene when no series has a finite point.
Scene line_chart(const std::vector<Series>& series, const ChartOptions& options);

// A K x K heat map of counts, coloured by the row-normalised value (so each true class reads
// as its recall), each cell labelled with its count; rows true, columns predicted.
Scene confusion_heatmap(const std::vector<int64_t>& counts, int64_t K, const std::vector<std::string>& labels);

// ---- pixels and text ----------------------------------------------------------------------------

std::string html_escape(const std::string& s);
std::string base64(const std::string& bytes);
std::string png_data_uri(const Tensor& image);  // (C, H, W) uint8

// (H, W) float -> (3, H, W) uint8 through a perceptual colour map (viridis-like), after
// scaling min..max (or lo..hi when given) to 0..1.
Tensor colormap(const Tensor& values, std::optional<double> lo = std::nullopt, std::optional<double> hi = std::nullopt);
// (C, H, W) float in any range -> (C, H, W) uint8 scaled min..max to 0..255.
Tensor to_uint8(const Tensor& image);
// Nearest-neighbour upscale of a (C, H, W) uint8 image by an integer factor.
Tensor upscale(const Tensor& image, int64_t factor);
// Cells (C, h, w) uint8 (C 1 or 3; all the same size) in a grid of `columns`, `gap` pixels of
// white between them: (3, H, W) uint8.
Tensor grid(const std::vector<Tensor>& cells, int64_t columns, int64_t gap = 2);
// Alpha-blends a (3, H, W) uint8 heat image over a (C, H, W) uint8 picture: (3, H, W) uint8.
Tensor overlay(const Tensor& picture, const Tensor& heat, double alpha = 0.5);

}  // namespace cnnkit::report::detail
