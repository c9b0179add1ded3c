// CsvDataset: reads the whole file, splits it into rows and cells (with double-quote
// quoting), parses numbers with std::from_chars (locale-independent) and keeps the result
// as two tensors. Not here: missing-value imputation, categorical feature encoding, and
// quoted cells spanning several lines.
#include "cnnkit/data/datasets/csv.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "data/datasets/message_util.h"

namespace cnnkit::data::datasets {

namespace {

struct Row {
  int64_t line;  // 1-based line number in the file
  std::vector<std::string> cells;
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> split_cells(const std::string& line, char delim, const std::string& path, int64_t lineno) {
  std::vector<std::string> cells;
  std::string cur;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
      else if (c == '"') quoted = false;
      else cur += c;
    } else if (c == '"' && trim(cur).empty()) {
      quoted = was_quoted = true;
      cur.clear();
    } else if (c == delim) {
      cells.push_back(was_quoted ? cur : trim(cur));
      cur.clear();
      was_quoted = false;
    } else {
      cur += c;
    }
  }
  CNNKIT_CHECK_IO(!quoted, "CsvDataset: ", path, ":", lineno, ": unterminated quoted cell");
  cells.push_back(was_quoted ? cur : trim(cur));
  return cells;
}

bool parse_float(const std::string& s, float& out) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  if (b == e) return false;
  auto r = std::from_chars(b, e, out);
  if (r.ec == std::errc::result_out_of_range) {  // keep overflow as inf, as numpy does
    double d;
    r = std::from_chars(b, e, d);
    out = static_cast<float>(d);
  }
  return r.ec == std::errc() && r.ptr == e;
}

bool parse_int(const std::string& s, int64_t& out) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  if (b == e) return false;
  auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e;
}

}  // namespace

CsvDataset::CsvDataset(const std::string& path, CsvOptions options) {
  const std::string shown = detail::display_path(path);  // as messages print it
  std::error_code ec;
  CNNKIT_CHECK_IO(std::filesystem::is_regular_file(path, ec), "CsvDataset: '", shown, "': ",
                  std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  std::ifstream f(path, std::ios::binary);
  CNNKIT_CHECK_IO(f, "CsvDataset: '", shown, "': cannot open for reading: ", std::strerror(errno));
  const char delim = options.delimiter();

  std::vector<Row> rows;
  std::string line;
  for (int64_t lineno = 1; std::getline(f, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    rows.push_back({lineno, split_cells(line, delim, shown, lineno)});
  }
  CNNKIT_CHECK_IO(!rows.empty(), "CsvDataset: '", shown, "': no rows");
  const size_t ncols = rows[0].cells.size();
  CNNKIT_CHECK_IO(ncols >= 2, "CsvDataset: ", shown, ":", rows[0].line, ": found ", ncols, " column with delimiter '",
                  delim, "'; need at least one feature and the target (wrong delimiter?)");
  for (const Row& r : rows)
    CNNKIT_CHECK_IO(r.cells.size() == ncols, "CsvDataset: ", shown, ":", r.line, ": expected ", ncols,
                    " cells like the first row, got ", r.cells.size());

  // Target column by index, or by name (needs the header, so the header is decided first
  // for an index and assumed for a name).
  auto resolve_index = [&](int64_t idx) {
    int64_t n = static_cast<int64_t>(ncols);
    CNNKIT_CHECK(idx >= -n && idx < n, "CsvDataset: target_column ", idx, " out of range for ", n, " columns in '",
                 shown, "'");
    return static_cast<size_t>(idx < 0 ? idx + n : idx);
  };
  size_t target = 0;
  bool header = false;
  if (const auto* name = std::get_if<std::string>(&options.target_column())) {
    CNNKIT_CHECK(options.header().value_or(true), "CsvDataset: target_column '", *name,
                 "' is a name but header(false) was set for '", shown, "'");
    header = true;
    auto it = std::find(rows[0].cells.begin(), rows[0].cells.end(), *name);
    CNNKIT_CHECK_IO(it != rows[0].cells.end(), "CsvDataset: ", shown, ":", rows[0].line, ": no column named '",
                    *name, "' in the header (columns: ", detail::capped_list(rows[0].cells, "columns"), ")");
    target = static_cast<size_t>(it - rows[0].cells.begin());
  } else {
    target = resolve_index(std::get<int64_t>(options.target_column()));
    if (options.header().has_value()) {
      header = *options.header();
    } else {
      float dummy;
      for (size_t c = 0; c < ncols; ++c)
        if (c != target && !parse_float(rows[0].cells[c], dummy)) header = true;
    }
  }
  for (size_t c = 0; c < ncols; ++c) {
    std::string name = header ? rows[0].cells[c] : std::to_string(c);
    if (c == target) target_name_ = name;
    else feature_names_.push_back(name);
  }
  const size_t first = header ? 1 : 0;
  CNNKIT_CHECK_IO(rows.size() > first, "CsvDataset: '", shown, "': a header but no data rows");
  const int64_t N = static_cast<int64_t>(rows.size() - first), F = static_cast<int64_t>(ncols - 1);

  features_ = empty({N, F}, TensorOptions(kFloat));
  float* x = features_.data_ptr<float>();  // (N, F)
  for (int64_t i = 0; i < N; ++i) {
    const Row& r = rows[first + static_cast<size_t>(i)];
    int64_t j = 0;
    for (size_t c = 0; c < ncols; ++c) {
      if (c == target) continue;
      float& v = x[i * F + j];
      CNNKIT_CHECK_IO(parse_float(r.cells[c], v), "CsvDataset: ", shown, ":", r.line, ":", c + 1,
                      ": cannot parse '", r.cells[c], "' as a number (column '", feature_names_[j], "')");
      CNNKIT_CHECK_IO(std::isfinite(v) || options.allow_non_finite(), "CsvDataset: ", shown, ":", r.line, ":", c + 1,
                      ": non-finite value '", r.cells[c], "' in column '", feature_names_[j],
                      "'; fix the data, or allow_non_finite(true) (run config: data.clean: true) to load it and ",
                      "drop such rows with data::clean");
      ++j;
    }
  }

  // Targets, checked against the task cell by cell: a bad one names its line and value.
  auto cell = [&](int64_t i) -> const std::string& { return rows[first + static_cast<size_t>(i)].cells[target]; };
  auto where = [&](int64_t i) {
    return shown + ":" + std::to_string(rows[first + static_cast<size_t>(i)].line) + ":" + std::to_string(target + 1);
  };
  const Task task = options.task();
  if (task == Task::kRegression || task == Task::kMultiLabel) {
    const bool multi = task == Task::kMultiLabel;
    targets_ = multi ? empty({N, 1}, TensorOptions(kFloat)) : empty({N}, TensorOptions(kFloat));
    float* y = targets_.data_ptr<float>();
    for (int64_t i = 0; i < N; ++i) {
      CNNKIT_CHECK_IO(parse_float(cell(i), y[i]), "CsvDataset: ", where(i), ": cannot parse target '", cell(i),
                      "' as a number (", multi ? "multi-label" : "regression", ")");
      if (multi)
        CNNKIT_CHECK_IO(y[i] == 0.0f || y[i] == 1.0f, "CsvDataset: ", where(i), ": target '", cell(i),
                        "' is not 0 or 1 (multi-label)");
      else
        CNNKIT_CHECK_IO(std::isfinite(y[i]) || options.allow_non_finite(), "CsvDataset: ", where(i),
                        ": non-finite target '", cell(i), "' (regression); fix the data, or allow_non_finite(true) ",
                        "(run config: data.clean: true) to load it and drop such rows with data::clean");
    }
    return;
  }

  // Classification: numbers must all be class indices; any text makes every label a name.
  bool all_num = true;
  for (int64_t i = 0; i < N && all_num; ++i) {
    float fv;
    all_num = parse_float(cell(i), fv);
  }
  const std::vector<std::string>& given = options.classes();
  targets_ = empty({N}, TensorOptions(kLong));
  int64_t* y = targets_.data_ptr<int64_t>();
  if (all_num) {
    for (int64_t i = 0; i < N; ++i) {
      float fv = 0;
      const bool is_int = parse_int(cell(i), y[i]);
      if (!is_int) parse_float(cell(i), fv);
      // Integral floats ("3.0", "1e1") are class indices, as NpyDataset takes them.
      CNNKIT_CHECK_IO(is_int || (std::isfinite(fv) && fv == std::floor(fv) && std::fabs(fv) < 1e18f),
                      "CsvDataset: ", where(i), ": label '", cell(i),
                      "' is not an integer class index (task classification; regression or multi-label targets ",
                      "need that task: options.task(), or in a run config a loss such as MSELoss or BCEWithLogitsLoss)");
      if (!is_int) y[i] = static_cast<int64_t>(fv);
      CNNKIT_CHECK_IO(y[i] >= 0, "CsvDataset: ", where(i), ": label ", y[i],
                      " is negative; class indices are 0, 1, 2, ...");
      CNNKIT_CHECK_IO(given.empty() || y[i] < static_cast<int64_t>(given.size()), "CsvDataset: ", where(i),
                      ": label ", y[i], " is out of range [0, ", given.size(), ") of the ", given.size(),
                      " known classes");
    }
    return;
  }
  // Text labels: numbered in sorted order, as sklearn's LabelEncoder, unless given.
  std::map<std::string, int64_t> index;
  if (given.empty()) {
    for (int64_t i = 0; i < N; ++i) index.emplace(cell(i), 0);
    for (auto& [name, k] : index) {
      k = static_cast<int64_t>(classes_.size());
      classes_.push_back(name);
    }
  } else {
    classes_ = given;
    for (size_t k = 0; k < given.size(); ++k)
      CNNKIT_CHECK(index.emplace(given[k], static_cast<int64_t>(k)).second, "CsvDataset: class '", given[k],
                   "' is listed twice in options.classes");
  }
  for (int64_t i = 0; i < N; ++i) {
    auto it = index.find(cell(i));
    CNNKIT_CHECK_IO(it != index.end(), "CsvDataset: ", where(i), ": label '", cell(i), "' is not one of the ",
                    classes_.size(), " known classes (", detail::capped_list(classes_, "classes"), ")");
    y[i] = it->second;
  }
}

Example<> CsvDataset::get(size_t index) {
  int64_t n = features_.size(0);
  CNNKIT_CHECK(index < static_cast<size_t>(n), "CsvDataset: index ", index, " out of range for a dataset of ", n,
               " examples");
  int64_t i = static_cast<int64_t>(index);
  return {features_.select(0, i), targets_.select(0, i)};
}

std::vector<int64_t> CsvDataset::labels() const {
  if (!is_classification()) return {};
  const int64_t* t = targets_.data_ptr<int64_t>();
  return std::vector<int64_t>(t, t + targets_.numel());
}

}  // namespace cnnkit::data::datasets
