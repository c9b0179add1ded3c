// The pages of model-selection directories: `cnnkit cv` (cv.json, cv.csv), `cnnkit search`
// (search.json, trials.csv, best.yaml) and `cnnkit ensemble` (ensemble.json). Each reads
// only those files: a page renders while the search still runs, or after its runs' model
// files were deleted.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "cnnkit/core/error.h"
#include "report/page.h"

namespace cnnkit::report::detail {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

json read_json(const std::string& path) {
  std::ifstream in(path);
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    CNNKIT_CHECK(false, "report: ", path, " is not valid JSON (", e.what(), ")");
  }
  return {};
}

bool is_rate(const std::string& key) {
  return key.find("accuracy") != std::string::npos || key.find("precision") != std::string::npos ||
         key.find("recall") != std::string::npos || key.find("f1") != std::string::npos;
}

std::string show(const std::string& key, double v) {
  if (!std::isfinite(v)) return "";
  return is_rate(key) ? fmt::format("{:.2f}%", 100 * v) : fmt::format("{:.4g}", v);
}

// A link to a sub-run's own report, when it has one.
std::string sub_report_link(const std::string& dir, const std::string& sub) {
  if (!fs::exists(fs::path(dir) / sub / "report.html")) return "";
  return " <a href=\"" + html_escape(sub) + "/report.html\">" + html_escape(sub) + "</a>";
}

// ---- cv -------------------------------------------------------------------------------------------

void cv_page(const std::string& dir, Page& page) {
  const json doc = read_json(dir + "/cv.json");
  const json& folds = doc.at("folds");
  std::vector<std::string> keys;
  if (doc.contains("mean"))
    for (const auto& [k, v] : doc.at("mean").items()) keys.push_back(k);
  page.section("Cross-validation");
  page.para(fmt::format("{} folds of the training split; mean and standard deviation over the folds (numpy's default, "
                        "ddof = 0). The test split is not used here.",
                        folds.size()));
  std::vector<std::string> header = {"fold", "train", "validation", "seconds"};
  header.insert(header.end(), keys.begin(), keys.end());
  std::vector<std::vector<std::string>> rows;
  for (const json& f : folds) {
    std::vector<std::string> r = {std::to_string(f.value("fold", -1)), std::to_string(f.value("train_size", 0)),
                                  std::to_string(f.value("val_size", 0)), fmt::format("{:.1f}", f.value("seconds", 0.0))};
    for (const auto& k : keys) r.push_back(show(k, f.at("metrics").value(k, std::nan(""))));
    rows.push_back(std::move(r));
  }
  for (const char* stat : {"mean", "std"}) {
    std::vector<std::string> r = {stat, "", "", ""};
    for (const auto& k : keys) r.push_back(show(k, doc.at(stat).value(k, std::nan(""))));
    rows.push_back(std::move(r));
  }
  page.table(header, rows);
  // The headline metric per fold against its mean.
  const std::string key = std::find(keys.begin(), keys.end(), "val_accuracy") != keys.end() ? "val_accuracy"
                          : keys.empty()                                                  ? ""
                                                                                          : keys.front();
  if (!key.empty()) {
    const double scale = is_rate(key) ? 100 : 1;
    Series pts{key, {}, {}, kPalette[0], false, true}, mean{"mean", {}, {}, kPalette[1], true};
    for (const json& f : folds) {
      pts.x.push_back(f.value("fold", 0));
      pts.y.push_back(scale * f.at("metrics").value(key, std::nan("")));
    }
    const double m = scale * doc.at("mean").value(key, std::nan(""));
    mean.x = {-0.4, static_cast<double>(folds.size()) - 0.6};
    mean.y = {m, m};
    ChartOptions o;
    for (size_t i = 0; i < folds.size(); ++i) o.categories.push_back(std::to_string(i));
    o.title = "Folds";
    o.x_label = "fold";
    o.y_label = key + (scale == 100 ? " (%)" : "");
    page.chart("cv_folds", line_chart({pts, mean}, o), fmt::format("{} of each fold and their mean.", key));
  }
  if (doc.contains("refit")) {
    page.section("Refit on the whole training split");
    std::vector<std::vector<std::string>> r;
    for (const auto& [k, v] : doc.at("refit").at("test").items()) r.push_back({k, show(k, v.get<double>())});
    page.table({"test metric", "value"}, r);
  }
  std::string links;
  for (const json& f : folds) links += sub_report_link(dir, fmt::format("fold-{}", f.value("fold", 0)));
  if (!links.empty()) page.para("The folds' own reports:" + links);
}

// ---- search -----------------------------------------------------------------------------------------

void search_page(const std::string& dir, Page& page) {
  const json doc = read_json(dir + "/search.json");
  const Table t = read_csv(dir + "/trials.csv");
  if (t.rows == 0 || !t.column("score") || !t.column("epochs") || !t.column("id")) {
    page.section("Hyper-parameter search");
    page.note("trials.csv has no finished trial yet");
    return;
  }
  const bool maximise = doc.value("mode", "max") == "max";
  const std::string metric = doc.value("metric", "score");
  page.section("Hyper-parameter search");
  std::string what;
  for (const char* k : {"grid", "space"})
    if (doc.contains(k))
      for (const auto& s : doc.at(k)) what += (what.empty() ? "" : ", ") + s.get<std::string>();
  std::set<std::string> trial_ids;
  for (size_t r = 0; r < t.rows; ++r) trial_ids.insert(t.cell(r, "id"));
  page.para(fmt::format("{} trials over {}; score: {} ({} is better){}.", trial_ids.size(), html_escape(what), html_escape(metric), maximise ? "higher" : "lower",
                        doc.value("halving", false) ? fmt::format("; successive halving, η = {}", doc.value("eta", 3)) : ""));
  // Parameter columns: between "epochs" and "score".
  std::vector<std::string> params;
  {
    bool in = false;
    for (const auto& h : t.header) {
      if (h == "score") in = false;
      if (in) params.push_back(h);
      if (h == "epochs") in = true;
    }
  }
  const auto& score = *t.column("score");
  const auto& epochs = *t.column("epochs");
  const auto& id = *t.column("id");
  // Each trial's last (largest-budget) row.
  std::map<int64_t, size_t> last;
  for (size_t r = 0; r < t.rows; ++r) {
    const auto k = static_cast<int64_t>(id[r]);
    if (!last.count(k) || epochs[r] >= epochs[last[k]]) last[k] = r;
  }
  std::vector<size_t> order;
  for (const auto& [k, r] : last) order.push_back(r);
  auto better = [&](size_t a, size_t b) {
    if (epochs[a] != epochs[b]) return epochs[a] > epochs[b];  // the longest budget first
    const double sa = std::isfinite(score[a]) ? score[a] : (maximise ? -INFINITY : INFINITY);
    const double sb = std::isfinite(score[b]) ? score[b] : (maximise ? -INFINITY : INFINITY);
    return maximise ? sa > sb : sa < sb;
  };
  std::stable_sort(order.begin(), order.end(), better);
  std::vector<std::string> header = {"trial"};
  header.insert(header.end(), params.begin(), params.end());
  for (const char* h : {"epochs", "score", "status", "seconds"}) header.emplace_back(h);
  std::vector<std::vector<std::string>> rows;
  for (size_t r : order) {
    std::vector<std::string> row = {t.cell(r, "id")};
    for (const auto& p : params) row.push_back(t.cell(r, p));
    row.push_back(t.cell(r, "epochs"));
    row.push_back(show(metric, score[r]));
    row.push_back(t.cell(r, "status"));
    row.push_back(t.cell(r, "seconds"));
    rows.push_back(std::move(row));
  }
  page.para("Each trial at the largest budget it reached, best first:");
  page.table(header, rows);

  // Score against each parameter (the trials' last rows): numbers on their own axis (log when
  // positive and spread over more than a decade), other values by their order of appearance.
  const double scale = is_rate(metric) ? 100 : 1;
  const std::string y_label = metric + (scale == 100 ? " (%)" : "");
  for (const auto& p : params) {
    std::vector<double> x, y;
    std::vector<std::string> categories;
    bool numeric = true;
    for (size_t r : order) {
      const std::string v = t.cell(r, p);
      try {
        size_t used = 0;
        x.push_back(std::stod(v, &used));
        numeric &= used == v.size();
      } catch (const std::exception&) {
        numeric = false;
        x.push_back(0);
      }
      y.push_back(scale * score[r]);
    }
    if (!numeric) {
      for (size_t i = 0; i < order.size(); ++i) {
        const std::string v = t.cell(order[i], p);
        auto it = std::find(categories.begin(), categories.end(), v);
        if (it == categories.end()) categories.push_back(v);
        x[i] = static_cast<double>(std::find(categories.begin(), categories.end(), v) - categories.begin());
      }
    }
    const double lo = *std::min_element(x.begin(), x.end()), hi = *std::max_element(x.begin(), x.end());
    ChartOptions o;
    o.title = "Score vs " + p;
    o.x_label = p;
    o.y_label = y_label;
    o.log_x = numeric && lo > 0 && hi / lo > 10;
    if (!numeric) o.categories = categories;
    const std::string caption =
        fmt::format("{} of each trial (at its largest budget) against {}.", html_escape(metric), html_escape(p));
    std::string name = "search_" + p;
    std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
    page.chart(name, line_chart({{"", x, y, kPalette[0], false, true}}, o), caption);
  }

  // Successive halving: each trial's score at each rung it ran.
  std::set<double> budgets(epochs.begin(), epochs.end());
  if (budgets.size() > 1) {
    std::vector<Series> lines;
    size_t n = 0;
    for (const auto& [k, r_last] : last) {
      Series s{"", {}, {}, kPalette[n++ % 10]};
      for (size_t r = 0; r < t.rows; ++r)
        if (static_cast<int64_t>(id[r]) == k) {
          s.x.push_back(epochs[r]);
          s.y.push_back(scale * score[r]);
        }
      lines.push_back(std::move(s));
    }
    ChartOptions o;
    o.title = "Successive halving";
    o.x_label = "epochs (budget of the rung)";
    o.y_label = y_label;
    page.chart("search_rungs", line_chart(lines, o),
               fmt::format("Each trial's {} at each rung it reached: the rungs' budgets are {}; a line that stops was "
                           "not promoted.",
                           html_escape(metric), fmt::join(budgets, ", ")));
  }
  const std::string best = read_text(dir + "/best.yaml");
  if (!best.empty()) page.raw("<h3>best.yaml</h3><pre>" + html_escape(best) + "</pre>\n");
}

// ---- ensemble ---------------------------------------------------------------------------------------

void ensemble_page(const std::string& dir, Page& page) {
  const json doc = read_json(dir + "/ensemble.json");
  const std::string method = doc.value("method", "ensemble");
  const json& members = doc.at("members");
  const json ens = doc.value("ensemble", json::object());
  page.section("Ensemble: " + method);
  const bool boosting = method == "boosting";
  std::vector<std::string> header = {"member", "train"};
  for (const char* k : {"val_accuracy", "test_accuracy", "val_loss", "test_loss"}) header.emplace_back(k);
  if (boosting)
    for (const char* k : {"error", "alpha", "ensemble_error"}) header.emplace_back(k);
  std::vector<std::vector<std::string>> rows;
  for (const json& m : members) {
    std::vector<std::string> r = {std::to_string(m.value("member", -1)), std::to_string(m.value("train_size", 0))};
    for (size_t i = 2; i < header.size(); ++i) {
      const std::string& k = header[i];
      const double v = m.value(k, std::nan(""));
      r.push_back(k == "error" || k == "ensemble_error" ? fmt::format("{:.2f}%", 100 * v) : show(k, v));
    }
    rows.push_back(std::move(r));
  }
  std::vector<std::string> r = {method, ""};
  for (size_t i = 2; i < 6; ++i) r.push_back(show(header[i], ens.value(header[i], std::nan(""))));
  rows.push_back(std::move(r));
  page.table(header, rows);
  if (doc.contains("meta_learner")) {
    std::vector<std::vector<std::string>> meta;
    for (const auto& [k, v] : doc.at("meta_learner").items())
      if (v.is_number()) meta.push_back({k, show(k, v.get<double>())});
    page.para("The stacking meta-learner (multinomial logistic regression on the members' out-of-fold probabilities):");
    page.table({"metric", "value"}, meta);
  }
  // Members against the ensemble, for each split that has an accuracy.
  std::vector<Series> series;
  const double n = static_cast<double>(members.size());
  int c = 0;
  for (const char* split : {"val", "test"}) {
    const std::string key = std::string(split) + "_accuracy";
    Series pts{std::string(split) + " members", {}, {}, kPalette[c], false, true};
    for (const json& m : members)
      if (m.contains(key)) {
        pts.x.push_back(m.value("member", 0));
        pts.y.push_back(100 * m.at(key).get<double>());
      }
    if (pts.x.empty()) continue;
    series.push_back(pts);
    if (ens.contains(key)) {
      const double e = 100 * ens.at(key).get<double>();
      series.push_back({std::string(split) + " " + method, {-0.4, n - 0.6}, {e, e}, kPalette[c], true});
    }
    ++c;
  }
  if (!series.empty()) {
    ChartOptions o;
    for (const json& m : members) o.categories.push_back(std::to_string(m.value("member", 0)));
    o.title = "Members and the ensemble";
    o.x_label = "member";
    o.y_label = "accuracy (%)";
    page.chart("ensemble_members", line_chart(series, o),
               "Each member's accuracy (dots) and the combined model's (dashed line), on the validation and test splits.");
  }
  if (boosting) {
    Series err{"weighted error", {}, {}, kPalette[3]}, ens_err{"ensemble training error", {}, {}, kPalette[0], true};
    for (const json& m : members) {
      err.x.push_back(m.value("member", 0));
      err.y.push_back(100 * m.value("error", std::nan("")));
      ens_err.x.push_back(m.value("member", 0));
      ens_err.y.push_back(100 * m.value("ensemble_error", std::nan("")));
    }
    ChartOptions o;
    o.title = "Boosting rounds";
    o.x_label = "round";
    o.y_label = "error (%)";
    page.chart("boosting_rounds", line_chart({err, ens_err}, o),
               "SAMME: each round's weighted training error and the boosted ensemble's training error after it.");
  }
  std::string links;
  for (const json& m : members) links += sub_report_link(dir, fmt::format("member-{}", m.value("member", 0)));
  if (!links.empty()) page.para("The members' own reports:" + links);
}

}  // namespace

bool selection_page(const std::string& dir, Page& page, std::string& kind) {
  if (fs::exists(fs::path(dir) / "cv.json")) {
    kind = "cross-validation";
    cv_page(dir, page);
  } else if (fs::exists(fs::path(dir) / "search.json")) {
    kind = "search";
    search_page(dir, page);
  } else if (fs::exists(fs::path(dir) / "ensemble.json")) {
    kind = "ensemble";
    ensemble_page(dir, page);
  } else {
    return false;
  }
  return true;
}

}  // namespace cnnkit::report::detail
