// CsvDataset: reads the whole file, splits it into rows and cells (with double-quote
// quoting), parses numbers with std::from_chars (locale-independent) and keeps the result
// as two tensors. Not here: missing-value imputation, categorical feature encoding, and
// quoted cells spanning several lines.
#include "cnnkit/data/datasets/csv.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

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
  std::error_code ec;
  CNNKIT_CHECK_IO(std::filesystem::is_regular_file(path, ec), "CsvDataset: '", path, "': ",
                  std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  std::ifstream f(path, std::ios::binary);
  CNNKIT_CHECK_IO(f, "CsvDataset: '", path, "': cannot open for reading: ", std::strerror(errno));
  const char delim = options.delimiter();

  std::vector<Row> rows;
  std::string line;
  for (int64_t lineno = 1; std::getline(f, line); ++lineno) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    rows.push_back({lineno, split_cells(line, delim, path, lineno)});
  }
  CNNKIT_CHECK_IO(!rows.empty(), "CsvDataset: '", path, "': no rows");
  const size_t ncols = rows[0].cells.size();
  CNNKIT_CHECK_IO(ncols >= 2, "CsvDataset: ", path, ":", rows[0].line, ": found ", ncols, " column with delimiter '",
                  delim, "'; need at least one feature and the target (wrong delimiter?)");
  for (const Row& r : rows)
    CNNKIT_CHECK_IO(r.cells.size() == ncols, "CsvDataset: ", path, ":", r.line, ": expected ", ncols,
                    " cells like the first row, got ", r.cells.size());

  // Target column by index, or by name (needs the header, so the header is decided first
  // for an index and assumed for a name).
  auto resolve_index = [&](int64_t idx) {
    int64_t n = static_cast<int64_t>(ncols);
    CNNKIT_CHECK(idx >= -n && idx < n, "CsvDataset: target_column ", idx, " out of range for ", n, " columns in '",
                 path, "'");
    return static_cast<size_t>(idx < 0 ? idx + n : idx);
  };
  size_t target = 0;
  bool header = false;
  if (const auto* name = std::get_if<std::string>(&options.target_column())) {
    CNNKIT_CHECK(options.header().value_or(true), "CsvDataset: target_column '", *name,
                 "' is a name but header(false) was set for '", path, "'");
    header = true;
    auto it = std::find(rows[0].cells.begin(), rows[0].cells.end(), *name);
    if (it == rows[0].cells.end()) {
      std::string names;
      for (const auto& c : rows[0].cells) names += (names.empty() ? "'" : ", '") + c + "'";
      CNNKIT_CHECK_IO(false, "CsvDataset: ", path, ":", rows[0].line, ": no column named '", *name,
                      "' in the header (columns: ", names, ")");
    }
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
  CNNKIT_CHECK_IO(rows.size() > first, "CsvDataset: '", path, "': a header but no data rows");
  const int64_t N = static_cast<int64_t>(rows.size() - first), F = static_cast<int64_t>(ncols - 1);

  features_ = empty({N, F}, TensorOptions(kFloat));
  float* x = features_.data_ptr<float>();  // (N, F)
  for (int64_t i = 0; i < N; ++i) {
    const Row& r = rows[first + static_cast<size_t>(i)];
    int64_t j = 0;
    for (size_t c = 0; c < ncols; ++c) {
      if (c == target) continue;
      CNNKIT_CHECK_IO(parse_float(r.cells[c], x[i * F + j]), "CsvDataset: ", path, ":", r.line, ":", c + 1,
                      ": cannot parse '", r.cells[c], "' as a number (column '", feature_names_[j], "')");
      ++j;
    }
  }

  // Targets: decide the task from the cells unless told.
  bool all_int = true, all_num = true;
  for (size_t i = first; i < rows.size(); ++i) {
    int64_t iv;
    float fv;
    const std::string& s = rows[i].cells[target];
    if (!parse_int(s, iv)) all_int = false;
    if (!parse_float(s, fv)) all_num = false;
  }
  CsvTask task = options.task();
  if (task == CsvTask::kAuto) task = (all_int || !all_num) ? CsvTask::kClassification : CsvTask::kRegression;

  if (task == CsvTask::kRegression) {
    targets_ = empty({N}, TensorOptions(kFloat));
    float* y = targets_.data_ptr<float>();
    for (int64_t i = 0; i < N; ++i) {
      const Row& r = rows[first + static_cast<size_t>(i)];
      CNNKIT_CHECK_IO(parse_float(r.cells[target], y[i]), "CsvDataset: ", path, ":", r.line, ":", target + 1,
                      ": cannot parse target '", r.cells[target], "' as a number (regression)");
    }
    return;
  }
  targets_ = empty({N}, TensorOptions(kLong));
  int64_t* y = targets_.data_ptr<int64_t>();
  if (all_int) {
    for (int64_t i = 0; i < N; ++i) parse_int(rows[first + static_cast<size_t>(i)].cells[target], y[i]);
    return;
  }
  // Text labels: numbered in sorted order, as sklearn's LabelEncoder.
  std::map<std::string, int64_t> index;
  for (size_t i = first; i < rows.size(); ++i) index.emplace(rows[i].cells[target], 0);
  for (auto& [name, k] : index) {
    k = static_cast<int64_t>(classes_.size());
    classes_.push_back(name);
  }
  for (int64_t i = 0; i < N; ++i) y[i] = index.at(rows[first + static_cast<size_t>(i)].cells[target]);
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
