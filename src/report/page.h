// Private to report: what every report page is made of — CSV tables read back, the page
// being assembled (sections, notes, tables, charts as inline SVG + files, images as data
// URIs + files) and the HTML document around it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "report/figure.h"

namespace cnnkit::report::detail {

// A CSV file (RFC 4180 quoting) as text cells and, where a cell parses, numbers (NaN
// otherwise). A missing file is a table without rows.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> cells;  // a row each
  std::map<std::string, std::vector<double>> columns;
  size_t rows = 0;
  const std::vector<double>* column(const std::string& name) const;
  std::string cell(size_t row, const std::string& name) const;  // "" when absent
};
Table read_csv(const std::string& path);
std::string read_text(const std::string& path);  // "" when missing

class Page {
 public:
  Page(std::string dir, std::vector<std::string>& figures) : dir_(std::move(dir)), figures_(figures) {}

  void section(const std::string& title);
  void para(const std::string& html);
  void note(const std::string& text);
  void raw(const std::string& html) { html_ += html; }
  // An HTML table; cells are escaped, `header` bold.
  void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
  // A chart: inline SVG, and figures/NAME.svg and figures/NAME.png drawn from the same scene.
  void chart(const std::string& name, const Scene& scene, const std::string& caption);
  // A PNG figure: a data URI, and figures/NAME.png.
  void png(const std::string& name, const Tensor& image, const std::string& caption);
  // Captioned images in a flowing row (data URIs), and their grid as figures/NAME.png.
  void cells(const std::string& name, const std::vector<std::pair<Tensor, std::string>>& items, int64_t columns,
             const std::string& caption);

  // The whole document: title, style, body. No script, no external reference.
  std::string html(const std::string& title) const;

 private:
  std::string dir_;
  std::vector<std::string>& figures_;
  std::string html_;
};

// The page of a `cnnkit cv`, `search` or `ensemble` directory (cv.json, search.json,
// ensemble.json): tables, score plots, rungs, members; `kind` names which. False when `dir`
// is none of them.
bool selection_page(const std::string& dir, Page& page, std::string& kind);

}  // namespace cnnkit::report::detail
