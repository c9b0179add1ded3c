// Report pages: CSV tables read back and the HTML assembled around the figures.
#include "report/page.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "cnnkit/data/image.h"
#include "cnnkit/io/file.h"

namespace cnnkit::report::detail {

namespace {

// The fields of one CSV record; a quoted field may hold commas, doubled quotes and newlines
// (then the record spans lines, read from `in`).
std::vector<std::string> csv_record(std::string line, std::istream& in) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0;; ++i) {
    if (i == line.size()) {
      if (!quoted || !std::getline(in, line)) break;
      fields.back() += '\n';
      i = static_cast<size_t>(-1);
      continue;
    }
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else fields.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c != '\r') {
      fields.back() += c;
    }
  }
  return fields;
}

const char* kStyle = R"(body{font-family:sans-serif;max-width:1100px;margin:20px auto;color:#222}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:28px}
.fig{display:inline-block;margin:6px;vertical-align:top}.fig img{image-rendering:pixelated;border:1px solid #ccc}
figcaption{font-size:12px;color:#555;max-width:540px}table{border-collapse:collapse;font-size:12px;margin:6px 0}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}pre{background:#f7f7f7;padding:8px;font-size:11px;overflow-x:auto}
.note{color:#8a5a00;font-style:italic}.cells{display:flex;flex-wrap:wrap}.cell{margin:4px;font-size:11px;text-align:center}
.cell img{image-rendering:pixelated;border:1px solid #ccc;display:block})";

}  // namespace

const std::vector<double>* Table::column(const std::string& name) const {
  auto it = columns.find(name);
  return it == columns.end() ? nullptr : &it->second;
}

std::string Table::cell(size_t row, const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return row < cells.size() && i < cells[row].size() ? cells[row][i] : "";
  return "";
}

Table read_csv(const std::string& path) {
  Table t;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return t;
  t.header = csv_record(line, in);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> fields = csv_record(line, in);
    fields.resize(t.header.size());
    for (size_t i = 0; i < t.header.size(); ++i) {
      double v = std::nan("");
      try {
        size_t used = 0;
        if (!fields[i].empty()) v = std::stod(fields[i], &used);
        if (used != fields[i].size()) v = std::nan("");
      } catch (const std::exception&) {
      }
      t.columns[t.header[i]].push_back(v);
    }
    t.cells.push_back(std::move(fields));
    ++t.rows;
  }
  return t;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Page::section(const std::string& title) { html_ += "<h2>" + html_escape(title) + "</h2>\n"; }
void Page::para(const std::string& html) { html_ += "<p>" + html + "</p>\n"; }
void Page::note(const std::string& text) { html_ += "<p class=\"note\">" + html_escape(text) + "</p>\n"; }

void Page::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  html_ += "<table><tr>";
  for (const auto& h : header) html_ += "<th>" + html_escape(h) + "</th>";
  html_ += "</tr>\n";
  for (const auto& row : rows) {
    html_ += "<tr>";
    for (const auto& c : row) html_ += "<td>" + html_escape(c) + "</td>";
    html_ += "</tr>\n";
  }
  html_ += "</table>\n";
}

void Page::chart(const std::string& name, const Scene& scene, const std::string& caption) {
  const std::string svg_text = write_figure(dir_ + "/figures", name, scene, &figures_);
  if (svg_text.empty()) return;
  html_ += "<figure id=\"" + name + "\" class=\"fig\">" + svg_text + "<figcaption>" + caption + "</figcaption></figure>\n";
}

void Page::png(const std::string& name, const Tensor& image, const std::string& caption) {
  const std::string path = dir_ + "/figures/" + name + ".png";
  io::write_file_atomic(path, data::encode_png(image), "report");
  figures_.push_back(path);
  html_ += "<figure id=\"" + name + "\" class=\"fig\"><img alt=\"" + html_escape(name) + "\" src=\"" + png_data_uri(image) +
           "\"><figcaption>" + caption + "</figcaption></figure>\n";
}

void Page::cells(const std::string& name, const std::vector<std::pair<Tensor, std::string>>& items, int64_t columns,
                 const std::string& caption) {
  if (items.empty()) return;
  std::vector<Tensor> pictures;
  std::string html = "<figure id=\"" + name + "\" class=\"fig\"><div class=\"cells\">";
  for (const auto& [img, text] : items) {
    pictures.push_back(img);
    html += "<div class=\"cell\"><img alt=\"\" src=\"" + png_data_uri(img) + "\">" + text + "</div>";
  }
  const std::string path = dir_ + "/figures/" + name + ".png";
  io::write_file_atomic(path, data::encode_png(grid(pictures, columns)), "report");
  figures_.push_back(path);
  html_ += html + "</div><figcaption>" + caption + "</figcaption></figure>\n";
}

std::string Page::html(const std::string& title) const {
  return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>cnnkit report: " + html_escape(title) +
         "</title><style>" + kStyle + "</style></head><body>\n<h1>cnnkit report: " + html_escape(title) + "</h1>\n" + html_ +
         "</body></html>\n";
}

}  // namespace cnnkit::report::detail
