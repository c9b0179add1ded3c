// The lr range test's figure (report/lr_find.h): one line chart of the report layer's figure
// module, written beside the CSV and YAML the train layer writes. No numbers are computed
// here: the smoothing and the suggestion are train::lr_find's.
#include "cnnkit/report/lr_find.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "report/figure.h"

namespace cnnkit::report {

std::vector<std::string> write_lr_find(const train::LrFindResult& r, const std::string& dir,
                                       const std::string& config_path) {
  std::vector<std::string> written = train::save_lr_find(r, dir, config_path);

  // The y axis spans what is worth reading: up to 1.25 x the first smoothed loss (the
  // untrained model's), or the highest smoothed loss before divergence when that is higher.
  // Raw losses above it (the diverging end, single wild batches) become gaps, and the title
  // says how many; the CSV keeps them all.
  double first = NAN, lowest = INFINITY;
  for (double s : r.smoothed) {
    if (!std::isfinite(s)) continue;
    if (std::isnan(first)) first = s;
    lowest = std::min(lowest, s);
  }
  double cap = std::isfinite(first) ? 1.25 * std::max(first, lowest) : INFINITY;
  if (r.min_step != train::LrFindResult::npos)
    for (size_t i = 0; i < r.min_step; ++i) cap = std::max(cap, r.smoothed[i]);
  std::vector<double> raw, smooth;
  size_t left_out = 0;
  for (size_t i = 0; i < r.lr.size(); ++i) {
    const bool raw_ok = std::isfinite(r.loss[i]) && r.loss[i] <= cap;
    left_out += raw_ok ? 0 : 1;
    raw.push_back(raw_ok ? r.loss[i] : NAN);
    smooth.push_back(std::isfinite(r.smoothed[i]) && r.smoothed[i] <= cap ? r.smoothed[i] : NAN);
  }

  detail::ChartOptions o;
  o.title = left_out ? fmt::format("LR range test ({} raw loss{} above {:.3g} left out)", left_out,
                                   left_out == 1 ? "" : "es", cap)
                     : std::string("LR range test");
  o.x_label = "learning rate";
  o.y_label = "training loss";
  o.log_x = true;
  if (r.has_suggestion()) {
    o.marker_x = r.suggested_lr;
    o.marker_label = "suggested " + train::format_lr(r.suggested_lr);
  }
  std::vector<detail::Series> series{{"loss", r.lr, raw, "#aec7e8"}, {"smoothed", r.lr, smooth, "#1f77b4"}};
  // The two readings of the curve (train/lr_find.h), as dots on the smoothed loss.
  auto dot = [&](const std::string& name, size_t i, const std::string& color) {
    if (i == train::LrFindResult::npos || std::isnan(smooth[i])) return;
    detail::Series d{name, {r.lr[i]}, {smooth[i]}, color};
    d.points = true;
    series.push_back(std::move(d));
  };
  dot("lowest smoothed", r.min_step, "#2ca02c");
  dot("steepest descent", r.steepest_step, "#ff7f0e");
  const detail::Scene scene = detail::line_chart(series, o);
  detail::write_figure(dir, "lr_find", scene, &written);
  return written;
}

}  // namespace cnnkit::report
