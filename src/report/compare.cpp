// `cnnkit compare`: several runs' learning curves overlaid and their final numbers side by
// side, from their metrics.csv and summary.txt (no model is loaded).
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <set>
#include <sstream>

#include "cnnkit/core/error.h"
#include "cnnkit/io/file.h"
#include "cnnkit/report/report.h"
#include "report/page.h"

namespace cnnkit::report {

namespace {

namespace fs = std::filesystem;

const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// The line of summary.txt that starts with `prefix` ("test: "), without it; "" when none.
std::string summary_line(const std::string& summary, const std::string& prefix) {
  std::istringstream in(summary);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
  return "";
}

}  // namespace

ReportResult compare_runs(const std::vector<std::string>& run_dirs, const std::string& output_dir) {
  CNNKIT_CHECK(!run_dirs.empty(), "compare: no run directory given");
  CNNKIT_CHECK(run_dirs.size() <= 10, "compare: at most 10 runs on one page (one colour each), got ", run_dirs.size());
  CNNKIT_CHECK(!output_dir.empty(), "compare: output_dir is required");
  for (const auto& d : run_dirs) CNNKIT_CHECK_IO(fs::is_directory(d), "compare: '", d, "' is not a run directory");
  // Labels: the directories' names, or their paths where two names are the same.
  std::vector<std::string> labels;
  std::set<std::string> seen, dup;
  for (const auto& d : run_dirs) {
    const std::string n = fs::path(d).lexically_normal().filename().string();
    if (!seen.insert(n).second) dup.insert(n);
  }
  for (const auto& d : run_dirs) {
    const std::string n = fs::path(d).lexically_normal().filename().string();
    labels.push_back(dup.count(n) || n.empty() ? d : n);
  }
  fs::create_directories(fs::path(output_dir) / "figures");
  ReportResult result;
  result.html = (fs::path(output_dir) / "compare.html").string();
  detail::Page page(output_dir, result.figures);
  std::vector<detail::Table> tables;
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    tables.push_back(detail::read_csv(run_dirs[i] + "/metrics.csv"));
    if (tables.back().rows == 0) result.notes.push_back(labels[i] + ": metrics.csv is missing or empty");
  }

  page.section("Final numbers");
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    const detail::Table& t = tables[i];
    auto last = [&](const char* col) -> std::string {
      const auto* c = t.column(col);
      if (!c || c->empty() || !std::isfinite(c->back())) return "";
      return std::string(col).find("accuracy") != std::string::npos ? fmt::format("{:.2f}%", 100 * c->back())
                                                                    : fmt::format("{:.4f}", c->back());
    };
    std::string best;
    if (const auto* c = t.column("val_accuracy")) {
      size_t b = 0;
      for (size_t r = 1; r < c->size(); ++r)
        if ((*c)[r] > (*c)[b] || !std::isfinite((*c)[b])) b = r;
      if (!c->empty() && std::isfinite((*c)[b])) best = fmt::format("{:.2f}% (epoch {})", 100 * (*c)[b], b + 1);
    }
    double seconds = 0;
    if (const auto* s = t.column("seconds"))
      for (double v : *s) seconds += std::isfinite(v) ? v : 0;
    const std::string summary = detail::read_text(run_dirs[i] + "/summary.txt");
    rows.push_back({labels[i], std::to_string(t.rows), last("train_loss"), last("val_loss"), last("val_accuracy"), best,
                    summary_line(summary, "test: "), seconds > 0 ? fmt::format("{:.0f} s", seconds) : ""});
  }
  page.table({"run", "epochs", "train_loss", "val_loss", "val_accuracy", "best val_accuracy", "test (summary.txt)",
              "training time"},
             rows);

  page.section("Learning curves");
  struct Curve {
    const char* column;
    const char* title;
    const char* y_label;
    double scale;
  };
  for (const Curve& c : {Curve{"val_accuracy", "Validation accuracy", "accuracy (%)", 100},
                         Curve{"val_loss", "Validation loss", "loss", 1}, Curve{"train_loss", "Training loss", "loss", 1},
                         Curve{"train_accuracy", "Training accuracy", "accuracy (%)", 100}}) {
    std::vector<detail::Series> series;
    for (size_t i = 0; i < run_dirs.size(); ++i) {
      const auto* e = tables[i].column("epoch");
      const auto* v = tables[i].column(c.column);
      if (!e || !v) continue;
      detail::Series s{labels[i], *e, *v, kPalette[i]};
      for (double& y : s.y) y *= c.scale;
      series.push_back(std::move(s));
    }
    if (series.empty()) continue;
    detail::ChartOptions o;
    o.title = c.title;
    o.x_label = "epoch";
    o.y_label = c.y_label;
    o.width = 640;
    o.height = 340;
    page.chart(std::string("compare_") + c.column, detail::line_chart(series, o),
               fmt::format("{} per epoch, one line a run.", c.title));
  }
  for (const auto& n : result.notes) page.note(n);
  page.section("Runs");
  std::string list = "<ul>";
  for (size_t i = 0; i < run_dirs.size(); ++i)
    list += "<li><span style=\"color:" + std::string(kPalette[i]) + "\">&#9632;</span> " + detail::html_escape(labels[i]) +
            ": " + detail::html_escape(fs::absolute(run_dirs[i]).lexically_normal().string()) + "</li>";
  page.raw(list + "</ul>\n");
  io::write_file_atomic(result.html, page.html(fmt::format("{} runs compared", run_dirs.size())), "compare");
  return result;
}

}  // namespace cnnkit::report
