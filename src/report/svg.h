// Private to report: the figures of a report as SVG text (line charts with axes, ticks,
// legend and a marker; heat maps with labelled cells) and as pixels (image grids, colour
// maps, base64 for data URIs). No JavaScript, no fonts beyond the browser's sans-serif.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/tensor.h"

namespace cnnkit::report::detail {

struct Series {
  std::string name;
  std::vector<double> x, y;  // NaN y values are gaps
  std::string color;
  bool dashed = false;
};

struct ChartOptions {
  std::string title, x_label, y_label;
  int width = 520, height = 300;
  bool log_y = false;
  std::optional<double> marker_x;  // a vertical line (the best epoch), labelled
  std::string marker_label;
};

// A line chart with nice ticks (1, 2, 5 x 10^k), a legend and the marker; "" when no series
// has a finite point.
std::string line_chart(const std::vector<Series>& series, const ChartOptions& options);

// A K x K heat map of counts, coloured by the row-normalised value (so each true class reads
// as its recall), each cell labelled with its count; rows true, columns predicted.
std::string confusion_heatmap(const std::vector<int64_t>& counts, int64_t K, const std::vector<std::string>& labels);

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
