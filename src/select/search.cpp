// Hyperparameter search: the driver (rungs, promotion, trials.csv, search.json, resuming) and
// the config search built on it (trials as --set overrides of a base config, each a
// train::Run scored on the validation split or by cross_validate). Not here: drawing trials
// (space.cpp), the rung schedule (halving.cpp), folds (cv.cpp).
#include "cnnkit/select/search.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "cnnkit/core/error.h"
#include "cnnkit/core/suggest.h"
#include "cnnkit/distributed/distributed.h"
#include "cnnkit/io/file.h"
#include "cnnkit/select/cv.h"
#include "cnnkit/select/halving.h"
#include "cnnkit/train/progress.h"
#include "select/files.h"

namespace cnnkit::model_selection {

namespace fs = std::filesystem;
using json = files::json;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kFormat = "cnnkit-search";
constexpr int kVersion = 1;

// Shortest decimal that reads back to the same double: a score read back from trials.csv
// promotes exactly as the one computed.
std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

double parse_double(const std::string& s) {
  if (s.empty() || s == "nan") return kNaN;
  double v = kNaN;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() ? v : kNaN;
}

bool is_ok(const TrialResult& row) { return row.status.rfind("failed", 0) != 0; }

std::string epochs_word(int64_t n) { return fmt::format("{} epoch{}", n, n == 1 ? "" : "s"); }

std::string params_string(const Trial& t) {
  std::string s;
  for (const auto& [k, v] : t.params) {
    if (!s.empty()) s += ' ';
    s += k;
    s += '=';
    s += v;
  }
  return s.empty() ? "(the base config)" : s;
}

std::string trial_dir(const std::string& dir, int64_t id, int64_t epochs) {
  return (fs::path(dir) / fmt::format("trial-{}-e{}", id, epochs)).string();
}

// ---- trials.csv (RFC 4180: a field with a comma, quote or newline is quoted) ---------------

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string cur;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      row.push_back(std::move(cur));
      cur.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !cur.empty()) {
        row.push_back(std::move(cur));
        rows.push_back(std::move(row));
      }
      row.clear();
      cur.clear();
      any = false;
    } else {
      cur += c;
      any = true;
    }
  }
  if (any || !cur.empty()) {
    row.push_back(std::move(cur));
    rows.push_back(std::move(row));
  }
  return rows;
}

// The parameter columns: every key of every trial, sorted.
std::vector<std::string> param_keys(const std::vector<Trial>& trials) {
  std::set<std::string> keys;
  for (const Trial& t : trials)
    for (const auto& kv : t.params) keys.insert(kv.first);
  return {keys.begin(), keys.end()};
}

std::vector<std::string> csv_header(const std::vector<std::string>& keys) {
  std::vector<std::string> h = {"id", "rung", "epochs"};
  h.insert(h.end(), keys.begin(), keys.end());
  for (const char* c : {"score", "metric", "status", "seconds"}) h.emplace_back(c);
  return h;
}

std::string join_row(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) line += ',';
    line += csv_field(fields[i]);
  }
  line += '\n';
  return line;
}

void write_trials_csv(const std::string& dir, const std::vector<std::string>& keys, const std::string& metric,
                      const std::vector<TrialResult>& rows) {
  std::string text = join_row(csv_header(keys));
  for (const TrialResult& r : rows) {
    std::vector<std::string> f = {std::to_string(r.trial.id), std::to_string(r.rung), std::to_string(r.epochs)};
    for (const std::string& k : keys) {
      auto it = std::find_if(r.trial.params.begin(), r.trial.params.end(), [&](const auto& kv) { return kv.first == k; });
      f.push_back(it == r.trial.params.end() ? "" : it->second);
    }
    f.push_back(is_ok(r) ? format_double(r.score) : "");
    f.push_back(metric);
    f.push_back(r.status);
    f.push_back(fmt::format("{:.2f}", r.seconds));
    text += join_row(f);
  }
  io::write_file_atomic((fs::path(dir) / "trials.csv").string(), text, "search");
}

struct RowKey {
  int64_t id, rung, epochs;
  bool operator<(const RowKey& o) const { return std::tie(id, rung, epochs) < std::tie(o.id, o.rung, o.epochs); }
};
struct DoneRow {
  double score, seconds;
  std::string status;
};

// The rows an earlier run of this search finished (any status: ok, pruned and failed are all final).
std::map<RowKey, DoneRow> read_trials_csv(const std::string& dir, const std::vector<std::string>& keys) {
  std::map<RowKey, DoneRow> done;
  const std::string path = (fs::path(dir) / "trials.csv").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return done;
  std::ifstream in(path, std::ios::binary);
  CNNKIT_CHECK_IO(in.good(), "search: cannot read ", path);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto rows = parse_csv(ss.str());
  if (rows.empty()) return done;
  const std::vector<std::string> header = csv_header(keys);
  CNNKIT_CHECK_IO(rows[0] == header, "search: ", path, " has the columns ", join_row(rows[0]).substr(0, 200),
                  " but this search writes ", join_row(header), "(the file belongs to another search)");
  const size_t n = header.size();
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& f = rows[i];
    CNNKIT_CHECK_IO(f.size() == n, "search: ", path, " row ", i + 1, ": ", f.size(), " fields, expected ", n);
    int64_t id = 0, rung = 0, epochs = 0;
    try {
      id = std::stoll(f[0]);
      rung = std::stoll(f[1]);
      epochs = std::stoll(f[2]);
    } catch (const std::exception&) {
      throw IOError(fmt::format("search: {} row {}: id, rung and epochs must be integers, got '{}', '{}', '{}'", path,
                                i + 1, f[0], f[1], f[2]));
    }
    done[{id, rung, epochs}] = {parse_double(f[n - 4]), parse_double(f[n - 1]), f[n - 2]};
  }
  return done;
}

// ---- search.json: what the search is ------------------------------------------------------

std::vector<std::string> strings(const std::vector<SearchParam>& params) {
  std::vector<std::string> out;
  for (const auto& p : params) out.push_back(p.to_string());
  return out;
}

// FNV-1a of the trials' ids and overrides: search.json records which trials the search runs
// without listing them (a message naming a difference stays one line).
std::string trials_digest(const std::vector<Trial>& trials) {
  uint64_t h = 14695981039346656037ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;  // a separator, so "ab","c" differs from "a","bc"
  };
  for (const Trial& t : trials) {
    mix(std::to_string(t.id));
    for (const auto& [k, v] : t.params) mix(k + "=" + v);
  }
  return fmt::format("{} trials, fnv1a {:016x}", trials.size(), h);
}

// What the search is: a rerun with the same settings continues it (files::claim_dir).
json describe_search(const std::vector<Trial>& trials, const SearchOptions& o) {
  json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  j["config_hash"] = o.fingerprint();
  j["metric"] = o.metric();
  j["mode"] = o.mode() == train::Mode::kMin ? "min" : "max";
  j["grid"] = strings(o.grid());
  j["space"] = strings(o.space());
  j["n_random"] = o.n_random();
  j["seed"] = o.seed();
  j["cv_folds"] = o.cv_folds();
  j["epochs"] = o.epochs();
  j["halving"] = o.halving();
  // Without halving, eta and min_epochs change nothing: not part of what the search is.
  j["eta"] = o.halving() ? json(o.eta()) : json(nullptr);
  j["min_epochs"] = o.halving() ? json(o.min_epochs()) : json(nullptr);
  j["trials"] = trials_digest(trials);
  return j;
}

void say(const SearchOptions& o, const std::string& line) {
  if (o.log()) *o.log() << line << std::endl;
}

// The best scored row at the highest rung where any row has a score (ties: the lower id).
std::optional<TrialResult> best_row(const std::vector<TrialResult>& rows, train::Mode mode) {
  int64_t top = -1;
  for (const auto& r : rows)
    if (is_ok(r) && !std::isnan(r.score)) top = std::max(top, r.rung);
  if (top < 0) return std::nullopt;
  std::vector<const TrialResult*> at;
  for (const auto& r : rows)
    if (r.rung == top) at.push_back(&r);
  std::sort(at.begin(), at.end(), [](const auto* a, const auto* b) { return a->trial.id < b->trial.id; });
  std::vector<double> scores;
  for (const auto* r : at) scores.push_back(is_ok(*r) ? r->score : kNaN);
  const auto pick = promote(scores, 1, mode);
  return *at[pick.at(0)];
}

// Every rank's rows of the rung that starts at rows[first]: gathered, then sorted by trial id
// (trials.csv's order), so that every rank promotes the same trials.
void gather_rung(std::vector<TrialResult>& rows, size_t first) {
  nlohmann::json mine = nlohmann::json::array();
  for (size_t k = first; k < rows.size(); ++k) {
    const TrialResult& r = rows[k];
    mine.push_back({{"id", r.trial.id}, {"rung", r.rung}, {"epochs", r.epochs},
                    {"score", std::isnan(r.score) ? nlohmann::json(nullptr) : nlohmann::json(r.score)},
                    {"status", r.status}, {"seconds", r.seconds}, {"dir", r.dir}, {"skipped", r.skipped},
                    {"params", r.trial.params}});
  }
  rows.resize(first);
  for (const std::string& part : distributed::all_gather_object(mine.dump())) {
    for (const auto& j : nlohmann::json::parse(part)) {
      TrialResult r;
      r.trial.id = j.at("id").get<int64_t>();
      r.trial.params = j.at("params").get<decltype(r.trial.params)>();
      r.rung = j.at("rung").get<int64_t>();
      r.epochs = j.at("epochs").get<int64_t>();
      r.score = j.at("score").is_null() ? kNaN : j.at("score").get<double>();
      r.status = j.at("status").get<std::string>();
      r.seconds = j.at("seconds").get<double>();
      r.dir = j.at("dir").get<std::string>();
      r.skipped = j.at("skipped").get<bool>();
      rows.push_back(r);
    }
  }
  std::sort(rows.begin() + static_cast<std::ptrdiff_t>(first), rows.end(),
            [](const TrialResult& a, const TrialResult& b) { return a.trial.id < b.trial.id; });
}

}  // namespace

// ---- the driver ---------------------------------------------------------------------------

SearchResult search(const std::vector<Trial>& trials, const ScoreFn& score, const SearchOptions& o) {
  CNNKIT_CHECK(!trials.empty(), "search: no trials to run");
  CNNKIT_CHECK(static_cast<bool>(score), "search: the score function is empty");
  CNNKIT_CHECK(o.epochs() >= 1, "search: epochs (the full budget) must be at least 1, got ", o.epochs());
  CNNKIT_CHECK(!o.output_dir().empty(), "search: output_dir is required (the directory of trials.csv)");
  CNNKIT_CHECK(o.mode() != train::Mode::kAuto, "search: mode must be kMin or kMax, not kAuto");
  if (o.halving()) {
    CNNKIT_CHECK(o.eta() >= 2, "search: --eta (halving's reduction factor) must be at least 2, got ", o.eta());
    CNNKIT_CHECK(o.min_epochs() >= 1 && o.min_epochs() <= o.epochs(), "search: --min-epochs must be in [1, ",
                 o.epochs(), "] (the full budget: the config's epochs), got ", o.min_epochs());
  }
  {
    std::set<int64_t> ids;
    for (const Trial& t : trials) CNNKIT_CHECK(ids.insert(t.id).second, "search: trial id ", t.id, " appears twice");
  }
  std::vector<Trial> sorted = trials;  // trials.csv and the promotion's tie rule go by id
  std::sort(sorted.begin(), sorted.end(), [](const Trial& a, const Trial& b) { return a.id < b.id; });
  const int64_t n = static_cast<int64_t>(sorted.size());
  const std::vector<Rung> rungs =
      o.halving() ? halving_rungs(n, o.min_epochs(), o.epochs(), o.eta()) : std::vector<Rung>{{o.epochs(), n}};

  SearchResult result;
  result.dir = o.output_dir();
  result.metric = o.metric();
  result.mode = o.mode();
  const bool spread = o.spread_over_ranks() && distributed::get_world_size() > 1;
  const int world = spread ? distributed::get_world_size() : 1, rank = spread ? distributed::get_rank() : 0;
  const bool writer = rank == 0;
  {
    std::string claim_error;  // rank 0 claims the directory; every rank learns the verdict
    if (writer) {
      try {
        files::claim_dir(result.dir, "search.json", "a search", describe_search(sorted, o));
      } catch (const Error& e) {
        claim_error = e.what();
      }
    }
    if (spread) claim_error = distributed::all_gather_object(claim_error).front();
    if (!claim_error.empty()) throw ValueError(claim_error);
  }
  if (spread) say(o, fmt::format("search over {} processes: the j-th trial of a rung on rank j mod {}", world, world));
  const std::vector<std::string> keys = param_keys(sorted);
  const std::map<RowKey, DoneRow> done = read_trials_csv(result.dir, keys);
  say(o, fmt::format("search {}: {} trials, {}{}, {} ({})", result.dir, n,
                     rungs.size() == 1 ? epochs_word(rungs[0].epochs)
                                       : fmt::format("{} rungs of successive halving (eta {})", rungs.size(), o.eta()),
                     o.cv_folds() ? fmt::format(", {}-fold cross-validation", o.cv_folds()) : "", o.metric(),
                     o.mode() == train::Mode::kMax ? "higher is better" : "lower is better"));

  std::vector<size_t> alive(sorted.size());
  for (size_t i = 0; i < alive.size(); ++i) alive[i] = i;
  for (size_t r = 0; r < rungs.size(); ++r) {
    const int64_t rung = static_cast<int64_t>(r), epochs = rungs[r].epochs;
    if (rungs.size() > 1)
      say(o, fmt::format("rung {}: {} trials, {}", rung, alive.size(), epochs_word(epochs)));
    const size_t first_row = result.rows.size();
    for (size_t j = 0; j < alive.size(); ++j) {
      if (static_cast<int>(j % static_cast<size_t>(world)) != rank) continue;
      const size_t i = alive[j];
      TrialResult row;
      row.trial = sorted[i];
      row.rung = rung;
      row.epochs = epochs;
      row.dir = trial_dir(result.dir, row.trial.id, epochs);
      const std::string head = fmt::format("trial {} ({}) {}", row.trial.id, epochs_word(epochs), params_string(row.trial));
      auto it = done.find({row.trial.id, rung, epochs});
      if (it != done.end()) {
        row.score = it->second.score;
        row.seconds = it->second.seconds;
        row.status = it->second.status == "pruned" ? "ok" : it->second.status;  // pruning is redone below
        row.skipped = true;
        ++result.skipped;
        result.rows.push_back(row);
        say(o, head + ": skipped, finished before (" +
                   (is_ok(row) ? fmt::format("{} {:.4f}", o.metric(), row.score) : row.status) + ")");
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      try {
        row.score = score(row.trial, epochs, row.dir);
        row.status = "ok";
      } catch (const train::Interrupted& e) {
        // Every finished row is already in trials.csv. The run's own advice (cnnkit train
        // --resume) is not the way back into a search: the search resumes the trial itself.
        std::string why = e.what();
        why = why.substr(0, why.find(". "));
        throw train::Interrupted(fmt::format(
            "search stopped during trial {} ({}). The {} finished rows are in {}/trials.csv; run the same search "
            "again with this output directory to continue it (the trial resumes from its last checkpoint)",
            row.trial.id, why, result.rows.size(), result.dir));
      } catch (const std::exception& e) {
        std::string msg = e.what();
        std::replace(msg.begin(), msg.end(), '\n', ' ');
        row.score = kNaN;
        row.status = "failed: " + msg;
      }
      row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++result.trained;
      result.rows.push_back(row);
      if (writer) write_trials_csv(result.dir, keys, o.metric(), result.rows);
      say(o, head + ": " +
                 (is_ok(row) ? fmt::format("{} {:.4f} ({:.1f} s)", o.metric(), row.score, row.seconds)
                             : row.status));
    }
    if (spread) gather_rung(result.rows, first_row);
    if (r + 1 == rungs.size()) break;
    std::vector<double> scores;
    for (size_t k = first_row; k < result.rows.size(); ++k)
      scores.push_back(is_ok(result.rows[k]) ? result.rows[k].score : kNaN);
    const std::vector<size_t> up = promote(scores, rungs[r + 1].keep, o.mode());
    std::vector<size_t> next;
    std::vector<int64_t> up_ids;
    for (size_t k : up) {
      next.push_back(alive[k]);
      up_ids.push_back(sorted[alive[k]].id);
    }
    for (size_t k = first_row; k < result.rows.size(); ++k)
      if (is_ok(result.rows[k]) && std::find(up.begin(), up.end(), k - first_row) == up.end())
        result.rows[k].status = "pruned";
    if (writer) write_trials_csv(result.dir, keys, o.metric(), result.rows);
    std::sort(next.begin(), next.end());
    alive = std::move(next);
    say(o, fmt::format("rung {}: promoted {} of {} to {}: trial{} {}", rung, alive.size(), scores.size(),
                       epochs_word(rungs[r + 1].epochs), alive.size() == 1 ? "" : "s", fmt::join(up_ids, ", ")));
    if (alive.empty()) break;
  }
  if (writer) write_trials_csv(result.dir, keys, o.metric(), result.rows);
  if (spread) {  // the report counts every rank's trials
    int64_t trained = 0, skipped = 0;
    for (const std::string& c : distributed::all_gather_object(std::to_string(result.trained) + " " +
                                                                std::to_string(result.skipped))) {
      std::istringstream in(c);
      int64_t t = 0, k = 0;
      in >> t >> k;
      trained += t;
      skipped += k;
    }
    result.trained = trained;
    result.skipped = skipped;
  }
  result.best = best_row(result.rows, o.mode());
  say(o, fmt::format("search {}: {} trained, {} skipped (finished before){}", result.dir, result.trained,
                     result.skipped,
                     result.best ? fmt::format("; best: trial {} ({} {:.4f})", result.best->trial.id, o.metric(),
                                               result.best->score)
                                 : "; every trial failed"));
  return result;
}

// ---- the config search --------------------------------------------------------------------

namespace {

std::string argument(const SearchParam& p, bool grid) {
  if (!grid) return "--space " + p.to_string();
  return "--grid " + p.key + "=" + fmt::format("{}", fmt::join(p.values, ","));
}

// A key the config takes: one it writes (flatten_config), a section it writes, or, for keys it
// takes without writing them (model options), one whose override parses (and, for the model
// section, builds) with some value of the parameter. Else the parser's or the builder's
// error, which names the key and the keys allowed there.
void check_key(const std::string& base_yaml, const std::string& file, const std::map<std::string, std::string>& flat,
               const SearchParam& p, bool grid, bool halving) {
  const std::string what = argument(p, grid);
  CNNKIT_CHECK(!(halving && p.key == "epochs"), what, ": with --halving the rungs set the epochs (the config's "
               "epochs are the full budget); search epochs without --halving");
  if (flat.count(p.key)) return;
  auto sub = flat.lower_bound(p.key + ".");
  if (sub != flat.end() && sub->first.rfind(p.key + ".", 0) == 0) return;
  std::vector<std::string> values = p.values;
  if (p.kind != SearchParam::Kind::kChoice) {
    values = {format_double(p.low), format_double(p.high)};
    if (p.kind == SearchParam::Kind::kInt) values = {std::to_string(static_cast<int64_t>(p.low))};
  }
  std::string first_error;
  for (const std::string& v : values) {
    try {
      const train::RunConfig cfg = train::parse_run_config(base_yaml, file, {p.key + "=" + v});
      // The config keeps the model section as written; the model builder reads its keys. Other
      // builder errors (a shape it cannot infer without the data) are left to the trial.
      if (p.key.rfind("model.", 0) == 0) {
        try {
          train::build_model(cfg);
        } catch (const ValueError& e) {
          if (std::string(e.what()).find("unknown key") != std::string::npos) throw;
        }
      }
      return;
    } catch (const ValueError& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  std::string msg = fmt::format("{}: the config does not take the key {}: {}", what, p.key, first_error);
  if (first_error.find("did you mean") == std::string::npos) {
    std::vector<std::string_view> names;
    for (const auto& kv : flat) names.push_back(kv.first);
    const std::string hint = did_you_mean(p.key, names);
    if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
  }
  throw ValueError(msg);
}

// "val_accuracy" of a Metrics: its scalars() without the prefix.
double val_metric(const train::Metrics& m, const std::string& metric) {
  const auto scalars = m.scalars();
  auto it = scalars.find(metric.substr(4));
  CNNKIT_CHECK(it != scalars.end(), "the run has no ", metric, " (its validation split is empty)");
  return it->second;
}

// Trains the trial's run, or finishes / reuses one an interrupted search left in its directory.
double fit_and_score(const train::RunConfig& cfg, const std::string& dir, const train::RunOptions& run,
                     const std::string& metric) {
  std::error_code ec;
  const fs::path d(dir);
  const bool has_config = fs::exists(d / "config.yaml", ec);
  if (has_config && fs::exists(d / "model.safetensors", ec) && fs::exists(d / "summary.txt", ec)) {
    train::Run done = train::Run::open(dir, "", {}, train::RunOptions().threads(run.threads()));
    if (train::config_difference(done.config(), cfg).empty()) return val_metric(done.evaluate("val"), metric);
  }
  if (has_config && fs::exists(d / "checkpoints" / "checkpoint_last.safetensors", ec)) {
    train::Run part = train::Run::resume(dir, "", {}, run);
    if (train::config_difference(part.config(), cfg).empty()) return val_metric(part.fit().val, metric);
  }
  train::Run fresh(cfg, run);
  return val_metric(fresh.fit().val, metric);
}

}  // namespace

SearchResult search(const train::RunConfig& base_in, const SearchOptions& options) {
  SearchOptions o = options;
  const bool grid = !o.grid().empty();
  CNNKIT_CHECK(grid || !o.space().empty(), "search: give the trials: --grid key=v1,v2 ... or --random N with "
               "--space key=dist(...)");
  CNNKIT_CHECK(!(grid && !o.space().empty()), "search: give either --grid or --random/--space, not both");
  if (grid)
    CNNKIT_CHECK(o.n_random() == 0, "search: --random ", o.n_random(), " draws from --space, not from --grid");
  else
    CNNKIT_CHECK(o.n_random() >= 1, "search: --space needs --random N (the number of trials, >= 1), got ",
                 o.n_random());
  CNNKIT_CHECK(o.cv_folds() == 0 || o.cv_folds() >= 2, "search: --cv ", o.cv_folds(),
               ": cross-validation needs at least 2 folds (0 scores on the validation split)");

  // Until the search directory exists, messages name the user's config.
  const std::string source = base_in.source.empty() ? base_in.name : base_in.source;
  train::RunConfig base = o.overrides().empty()
                              ? base_in
                              : train::parse_run_config(train::to_yaml_string(base_in), source, o.overrides());
  if (o.epochs() > 0 && o.epochs() != base.epochs)
    base = train::parse_run_config(train::to_yaml_string(base), source, {"epochs=" + std::to_string(o.epochs())});
  o.epochs(base.epochs);
  // A rung of halving is a shorter run of the config: it must be longer than its warm-up,
  // or every trial of the first rung fails on the same config error.
  if (o.halving() && base.scheduler.name != "none")
    CNNKIT_CHECK(o.min_epochs() > base.scheduler.warmup_epochs, "search --halving: the first rung trains ",
                 o.min_epochs(), " epoch(s), but ", source, " warms the learning rate up for ",
                 base.scheduler.warmup_epochs, " (scheduler.warmup.epochs); pass --min-epochs ",
                 base.scheduler.warmup_epochs + 1, " or more");
  CNNKIT_CHECK(o.cv_folds() > 0 || base.data.val_fraction > 0, "search: ", source,
               " has no validation split (data.split.val is 0) to score the trials on: set one (--set "
               "data.split.val=0.1) or score by cross-validation (--cv 5)");

  const std::string base_yaml = train::to_yaml_string(base);
  if (o.output_dir().empty())
    o.output_dir(base.output_dir.empty() ? "runs/" + base.name + "-search-" + train::local_timestamp() : base.output_dir);
  if (o.spread_over_ranks() && distributed::get_world_size() > 1)  // rank 0's (a default has a timestamp)
    o.output_dir(distributed::all_gather_object(o.output_dir()).front());
  const std::string base_file = (fs::path(o.output_dir()) / "base.yaml").string();
  const auto flat = train::flatten_config(base);
  for (const SearchParam& p : grid ? o.grid() : o.space()) check_key(base_yaml, source, flat, p, grid, o.halving());

  const bool classify = train::task_of(base) == train::Task::kClassification;
  o.metric(classify ? "val_accuracy" : "val_loss");
  o.mode(classify ? train::Mode::kMax : train::Mode::kMin);
  o.fingerprint(config_hash(base));
  const std::vector<Trial> trials = grid ? grid_trials(o.grid()) : random_trials(o.space(), o.n_random(), o.seed());

  const train::RunOptions run = train::RunOptions(o.run()).test(false).overwrite(true).data_parallel(false);
  bool wrote_base = false;
  const ScoreFn score = [&](const Trial& trial, int64_t epochs, const std::string& dir) {
    // Error messages of the trials' configs cite its lines; one writer (the ranks of a spread
    // search would race on its temporary file).
    if (!wrote_base && (!o.spread_over_ranks() || distributed::get_rank() == 0)) {
      io::write_file_atomic(base_file, base_yaml, "search");
      wrote_base = true;
    }
    std::vector<std::string> overrides = {"epochs=" + std::to_string(epochs)};
    for (const std::string& s : to_overrides(trial)) overrides.push_back(s);
    train::RunConfig cfg = train::parse_run_config(base_yaml, base_file, overrides);
    cfg.output_dir = dir;
    if (o.cv_folds() == 0) return fit_and_score(cfg, dir, run, o.metric());
    const CvResult cv = cross_validate(cfg, CvOptions().folds(o.cv_folds()).seed(cfg.data.split_seed).output_dir(dir)
                                                .run(run).spread_over_ranks(false));  // the trial has its rank
    auto it = cv.mean.find(o.metric());
    CNNKIT_CHECK(it != cv.mean.end(), "cross-validation gave no ", o.metric());
    return it->second;
  };

  SearchResult result = search(trials, score, o);
  if (result.best) {
    std::vector<std::string> overrides = to_overrides(result.best->trial);
    result.best_config = train::parse_run_config(base_yaml, base_file, overrides);
    result.best_config.output_dir = (fs::path(result.dir) / "best").string();
    if (o.spread_over_ranks() && distributed::get_rank() != 0) return result;  // rank 0 writes
    io::write_file_atomic((fs::path(result.dir) / "best.yaml").string(), train::to_yaml_string(result.best_config),
                          "search");
    say(o, fmt::format("wrote {}/best.yaml (trial {} at {}): cnnkit train {}/best.yaml trains it", result.dir,
                       result.best->trial.id, epochs_word(result.best_config.epochs), result.dir));
  }
  return result;
}

// ---- the table ----------------------------------------------------------------------------

std::string search_table(const SearchResult& result) {
  std::vector<const TrialResult*> rows;
  for (const auto& r : result.rows) rows.push_back(&r);
  const bool max = result.mode == train::Mode::kMax;
  std::stable_sort(rows.begin(), rows.end(), [&](const TrialResult* a, const TrialResult* b) {
    if (a->rung != b->rung) return a->rung > b->rung;
    const bool ga = is_ok(*a) && !std::isnan(a->score), gb = is_ok(*b) && !std::isnan(b->score);
    if (ga != gb) return ga;
    if (ga && a->score != b->score) return max ? a->score > b->score : a->score < b->score;
    return a->trial.id < b->trial.id;
  });
  std::vector<Trial> trials;
  for (const auto& r : result.rows) trials.push_back(r.trial);
  const std::vector<std::string> keys = param_keys(trials);

  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> head = {"id", "rung", "epochs"};
  head.insert(head.end(), keys.begin(), keys.end());
  for (const std::string& c : {result.metric, std::string("status"), std::string("seconds")}) head.push_back(c);
  cells.push_back(head);
  for (const TrialResult* r : rows) {
    std::vector<std::string> c = {std::to_string(r->trial.id), std::to_string(r->rung), std::to_string(r->epochs)};
    for (const std::string& k : keys) {
      auto it = std::find_if(r->trial.params.begin(), r->trial.params.end(), [&](const auto& kv) { return kv.first == k; });
      c.push_back(it == r->trial.params.end() ? "" : it->second);
    }
    c.push_back(is_ok(*r) && !std::isnan(r->score) ? fmt::format("{:.4f}", r->score) : "-");
    std::string status = r->status;
    if (status.size() > 60) status = status.substr(0, 57) + "...";
    c.push_back(status);
    c.push_back(fmt::format("{:.1f}", r->seconds));
    cells.push_back(c);
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& row : cells)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  for (const auto& row : cells) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      const bool last = i + 1 == row.size();
      line += fmt::format("{:<{}}", row[i], last ? 0 : width[i]);
      if (!last) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace cnnkit::model_selection
