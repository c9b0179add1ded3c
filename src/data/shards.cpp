// Tar shards (shards.h): brace expansion, the index file, ShardWriter and ShardDataset's
// streams. The tar format itself is data/tar.h. Not here: the DataLoader's side (workers,
// batches: dataloader.cpp), what `cnnkit shard` converts (train/shard.cpp).
#include "cnnkit/data/shards.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <type_traits>

#include "cnnkit/core/rng.h"
#include "cnnkit/data/image.h"
#include "cnnkit/io/file.h"
#include "cnnkit/io/npy.h"
#include "cnnkit/ops/factory.h"
#include "data/tar.h"

namespace cnnkit::data {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ---- brace expansion -----------------------------------------------------------------------

namespace {

// The matching '}' of the '{' at `open`, skipping nested pairs; npos when unmatched.
size_t matching_brace(const std::string& s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{') ++depth;
    if (s[i] == '}' && --depth == 0) return i;
  }
  return std::string::npos;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The alternatives of a brace body: "a,b,{c,d}" -> a, b, {c,d}; "000..003" -> 000 ... 003.
std::vector<std::string> alternatives(const std::string& body, const std::string& pattern) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '{') ++depth;
    if (body[i] == '}') --depth;
    if (body[i] == ',' && depth == 0) {
      parts.push_back(body.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(body.substr(start));
  if (parts.size() > 1) return parts;
  const size_t dots = body.find("..");
  CNNKIT_CHECK(dots != std::string::npos, "expand_braces: '{", body, "}' in '", pattern,
               "' is neither a list {a,b} nor a range {000..099}");
  const std::string lo = body.substr(0, dots), hi = body.substr(dots + 2);
  CNNKIT_CHECK(all_digits(lo) && all_digits(hi) && lo.size() <= 18 && hi.size() <= 18, "expand_braces: range '{",
               body, "}' in '", pattern, "' must be two non-negative integers");
  const uint64_t a = std::stoull(lo), b = std::stoull(hi);
  CNNKIT_CHECK(a <= b, "expand_braces: range '{", body, "}' in '", pattern, "' runs backwards");
  CNNKIT_CHECK(b - a < 10000000, "expand_braces: range '{", body, "}' in '", pattern, "' has over 10 million items");
  // braceexpand: zero-padded to the wider bound when either bound has a leading zero.
  const bool pad = (lo.size() > 1 && lo[0] == '0') || (hi.size() > 1 && hi[0] == '0');
  const size_t width = pad ? std::max(lo.size(), hi.size()) : 0;
  std::vector<std::string> out;
  for (uint64_t v = a; v <= b; ++v) {
    std::string n = std::to_string(v);
    if (n.size() < width) n.insert(0, width - n.size(), '0');
    out.push_back(std::move(n));
  }
  return out;
}

void expand_into(const std::string& s, const std::string& pattern, std::vector<std::string>& out) {
  const size_t open = s.find('{');
  if (open == std::string::npos) {
    CNNKIT_CHECK(s.find('}') == std::string::npos, "expand_braces: unmatched '}' in '", pattern, "'");
    out.push_back(s);
    return;
  }
  CNNKIT_CHECK(s.substr(0, open).find('}') == std::string::npos, "expand_braces: unmatched '}' in '", pattern, "'");
  const size_t close = matching_brace(s, open);
  CNNKIT_CHECK(close != std::string::npos, "expand_braces: unmatched '{' in '", pattern, "'");
  const std::string head = s.substr(0, open), tail = s.substr(close + 1);
  for (const std::string& alt : alternatives(s.substr(open + 1, close - open - 1), pattern))
    expand_into(head + alt + tail, pattern, out);
}

}  // namespace

std::vector<std::string> expand_braces(const std::string& pattern) {
  std::vector<std::string> out;
  expand_into(pattern, pattern, out);
  return out;
}

// ---- the index -------------------------------------------------------------------------------

namespace {

constexpr const char* kIndexFormat = "cnnkit-shards";
constexpr int kIndexVersion = 1;

// An integer field of the index as T, or a ValueError naming the field: nlohmann's get<T>()
// converts whatever number it holds with a cast, so 1e300 (a double) would be undefined
// behaviour and -1 would become 2^64 - 1.
template <typename T>
T integer(const json& v, const std::string& field) {
  static_assert(std::is_integral_v<T>);
  CNNKIT_CHECK(v.is_number_integer(), "field '", field, "': expected an integer, got ", v.dump());
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    CNNKIT_CHECK(u <= static_cast<uint64_t>(std::numeric_limits<T>::max()), "field '", field, "': ", u,
                 " is out of range");
    return static_cast<T>(u);
  }
  const auto i = v.get<int64_t>();
  CNNKIT_CHECK(std::is_signed_v<T> ? (i >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                      static_cast<uint64_t>(i) <= static_cast<uint64_t>(std::numeric_limits<T>::max()))
                                   : i >= 0,
               "field '", field, "': ", i, " is out of range");
  return static_cast<T>(i);
}

json stats_json(const RunningStats& s) {
  json j;
  j["examples"] = s.examples;
  json n = json::array(), mean = json::array(), m2 = json::array();
  for (const auto& c : s.channels) {
    n.push_back(c.n);
    mean.push_back(c.mean);
    m2.push_back(c.m2);
  }
  j["count"] = n;
  j["mean"] = mean;
  j["m2"] = m2;
  j["min"] = s.min;
  j["max"] = s.max;
  j["integral"] = s.integral;
  return j;
}

RunningStats stats_from(const json& j) {
  RunningStats s;
  s.examples = integer<uint64_t>(j.at("examples"), "stats.examples");
  const auto n = j.at("count").get<std::vector<double>>(), mean = j.at("mean").get<std::vector<double>>(),
             m2 = j.at("m2").get<std::vector<double>>();
  CNNKIT_CHECK(n.size() == mean.size() && n.size() == m2.size(), "count, mean and m2 differ in length");
  for (size_t c = 0; c < n.size(); ++c) s.channels.push_back({n[c], mean[c], m2[c]});
  s.min = j.at("min").get<double>();
  s.max = j.at("max").get<double>();
  s.integral = j.at("integral").get<bool>();
  return s;
}

std::string basename_of(const std::string& path) { return fs::path(path).filename().string(); }

// "dir/train-000003.tar" -> "train": the name the writer gives its shards, less the number.
std::string prefix_of(const std::string& path) {
  std::string base = basename_of(path);
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".tar") == 0) base.resize(base.size() - 4);
  const size_t dash = base.rfind('-');
  if (dash != std::string::npos && all_digits(base.substr(dash + 1))) base.resize(dash);
  return base;
}

}  // namespace

size_t ShardIndex::samples() const {
  size_t n = 0;
  for (const ShardInfo& s : shards) n += s.samples;
  return n;
}

RunningStats ShardIndex::stats() const {
  RunningStats total;
  for (const ShardInfo& s : shards) total.merge(s.stats);
  return total;
}

void save_shard_index(const ShardIndex& index, const std::string& path) {
  json j;
  j["format"] = kIndexFormat;
  j["version"] = kIndexVersion;
  j["prefix"] = index.prefix;
  j["source"] = index.source;
  j["samples"] = index.samples();
  j["classes"] = index.classes;
  j["shape"] = index.shape;
  j["dtype"] = index.dtype;
  j["encoding"] = index.encoding;
  const RunningStats all = index.stats();
  if (all.examples > 0 && !all.channels.empty()) {
    j["mean"] = all.mean();  // what normalize: auto uses, for people reading the file
    j["std"] = all.std();
  }
  json shards = json::array();
  for (const ShardInfo& s : index.shards) {
    json e;
    e["path"] = s.path;
    e["bytes"] = s.bytes;
    e["samples"] = s.samples;
    e["stats"] = stats_json(s.stats);
    shards.push_back(e);
  }
  j["shards"] = shards;
  io::write_file_atomic(path, j.dump(1) + "\n", "save_shard_index");
}

ShardIndex load_shard_index(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  CNNKIT_CHECK_IO(f.good(), path, ": cannot read the shard index");
  json j;
  try {
    j = json::parse(f);
  } catch (const json::exception& e) {
    throw IOError(path + ": not a JSON shard index: " + e.what());
  }
  try {
    CNNKIT_CHECK_IO(j.is_object() && j.value("format", "") == kIndexFormat, path, ": field 'format': expected '",
                    kIndexFormat, "'");
    CNNKIT_CHECK_IO(j.at("version").is_number_integer() && j.at("version").get<int64_t>() == kIndexVersion, path, ": field 'version': expected ", kIndexVersion,
                    ", got ", j.at("version").dump());
    ShardIndex index;
    index.prefix = j.at("prefix").get<std::string>();
    index.source = j.value("source", "");
    index.classes = j.at("classes").get<std::vector<std::string>>();
    CNNKIT_CHECK(j.at("shape").is_array(), "field 'shape': expected an array, got ", j.at("shape").dump());
    for (const json& d : j.at("shape")) {
      index.shape.push_back(integer<int64_t>(d, "shape"));
      CNNKIT_CHECK(index.shape.back() >= 0 && index.shape.back() <= (int64_t{1} << 31), "field 'shape': ",
                   index.shape.back(), " is not a dimension size");
    }
    index.dtype = j.at("dtype").get<std::string>();
    index.encoding = j.at("encoding").get<std::string>();
    for (const json& e : j.at("shards")) {
      ShardInfo s;
      s.path = e.at("path").get<std::string>();
      s.bytes = integer<uint64_t>(e.at("bytes"), "shards.bytes");
      s.samples = integer<size_t>(e.at("samples"), "shards.samples");
      // Each sample is at least one tar member, a 512-byte header: no more samples than that.
      CNNKIT_CHECK(s.samples <= s.bytes / tar::kBlock, "shard '", s.path, "': ", s.samples,
                   " samples cannot fit in ", s.bytes, " bytes");
      if (e.contains("stats")) s.stats = stats_from(e.at("stats"));
      index.shards.push_back(std::move(s));
    }
    return index;
  } catch (const json::exception& e) {
    throw IOError(path + ": malformed shard index: " + e.what());
  } catch (const ValueError& e) {
    throw IOError(path + ": malformed shard index: " + e.what());
  }
}

// ---- ShardWriter -----------------------------------------------------------------------------

struct ShardWriter::Open {
  Open(std::string p) : path(std::move(p)), file(path, "ShardWriter") {}
  std::string path;
  io::AtomicFile file;
  ShardInfo info;
};

ShardWriter::ShardWriter(std::string dir, ShardWriterOptions options) : dir_(std::move(dir)), options_(std::move(options)) {
  CNNKIT_CHECK(!options_.prefix().empty() && options_.prefix().find('/') == std::string::npos,
               "ShardWriter: prefix must be a file name part, got '", options_.prefix(), "'");
  CNNKIT_CHECK(options_.max_bytes() >= 4 * tar::kBlock, "ShardWriter: max_bytes must be at least 2048, got ",
               options_.max_bytes());
  std::error_code ec;
  fs::create_directories(dir_, ec);
  CNNKIT_CHECK_IO(fs::is_directory(dir_), "ShardWriter: cannot create the directory '", dir_, "'",
                  ec ? ": " + ec.message() : "");
  index_.prefix = options_.prefix();
  index_.classes = options_.classes();
  index_.source = options_.source();
}

ShardWriter::~ShardWriter() {
  if (closed_) return;
  open_.reset();  // AtomicFile without commit: its temporary file goes
  std::error_code ec;
  for (const ShardInfo& s : index_.shards) fs::remove(fs::path(dir_) / s.path, ec);
}

void ShardWriter::write(const Example<>& e) {
  CNNKIT_CHECK(!closed_, "ShardWriter: write after close()");
  const size_t n = count_;
  CNNKIT_CHECK(e.data.defined(), "ShardWriter: example ", n, " has no data");
  CNNKIT_CHECK(e.target.defined(), "ShardWriter: example ", n,
               " has no target; a shard sample needs a label (.cls or .target.npy)");
  std::string key = std::to_string(n);
  if (key.size() < 8) key.insert(0, 8 - key.size(), '0');

  // Encode first, so that a failure leaves the shard as it was.
  const bool image = e.data.scalar_type() == kByte && e.data.dim() == 3 && e.data.size(0) >= 1 &&
                     e.data.size(0) <= 4 && e.data.size(1) > 0 && e.data.size(2) > 0;
  std::vector<std::pair<std::string, std::string>> members;
  members.emplace_back(key + (image ? ".png" : ".npy"),
                       image ? encode_png(e.data, options_.png_compression()) : io::encode_npy(e.data));
  if (e.target.dim() == 0 && e.target.scalar_type() == kLong)
    members.emplace_back(key + ".cls", std::to_string(e.target.item<int64_t>()));
  else
    members.emplace_back(key + ".target.npy", io::encode_npy(e.target));
  uint64_t bytes = 0;
  for (const auto& [name, data] : members) bytes += tar::kBlock + data.size() + tar::padding(data.size());

  if (open_ && open_->info.samples > 0 &&
      (open_->info.bytes + bytes + 2 * tar::kBlock > options_.max_bytes() ||
       (options_.max_count() > 0 && open_->info.samples >= options_.max_count())))
    finish_shard();
  if (!open_) roll();
  for (const auto& [name, data] : members) {
    open_->file.write(tar::header(name, data.size()));
    open_->file.write(data);
    open_->file.write(std::string(tar::padding(data.size()), '\0'));
  }
  open_->info.bytes += bytes;
  ++open_->info.samples;
  open_->info.stats.add(e.data);

  const std::vector<int64_t> shape(e.data.sizes().begin(), e.data.sizes().end());
  const std::string dtype = dtype_name(e.data.scalar_type()), encoding = image ? "png" : "npy";
  if (count_ == 0) {
    index_.shape = shape;
    index_.dtype = dtype;
    index_.encoding = encoding;
  } else {
    if (index_.shape != shape) index_.shape.clear();  // sizes differ (image folders): none recorded
    CNNKIT_CHECK_TYPE(index_.dtype == dtype, "ShardWriter: example ", n, " has data of dtype ", dtype,
                      ", earlier examples ", index_.dtype);
    if (index_.encoding != encoding) index_.encoding = "mixed";
  }
  ++count_;
}

void ShardWriter::roll() {
  char name[64];
  std::snprintf(name, sizeof name, "-%06zu.tar", index_.shards.size());
  const std::string file = options_.prefix() + name;
  open_ = std::make_unique<Open>((fs::path(dir_) / file).string());
  open_->info.path = file;
}

void ShardWriter::finish_shard() {
  open_->file.write(tar::end_of_archive());
  open_->info.bytes += 2 * tar::kBlock;
  open_->file.commit();  // fsync + rename: only a complete shard ever has its final name
  index_.shards.push_back(std::move(open_->info));
  open_.reset();
}

ShardIndex ShardWriter::close() {
  CNNKIT_CHECK(!closed_, "ShardWriter: close() twice");
  CNNKIT_CHECK(count_ > 0, "ShardWriter: no examples were written to '", dir_, "/", options_.prefix(), "-*.tar'");
  if (open_) finish_shard();
  save_shard_index(index_, (fs::path(dir_) / (options_.prefix() + ".json")).string());
  closed_ = true;
  return index_;
}

// ---- ShardDataset ----------------------------------------------------------------------------

namespace {

// WebDataset's split of a member name: the key is the directory part and the base name up
// to its first dot, the extension what follows that dot ("a/0001.target.npy" -> "a/0001",
// "target.npy").
std::pair<std::string, std::string> split_name(const std::string& name) {
  const size_t slash = name.rfind('/');
  const size_t dot = name.find('.', slash == std::string::npos ? 0 : slash + 1);
  if (dot == std::string::npos) return {name, ""};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

// Samples in a shard, from its headers alone.
size_t count_samples(const std::string& path) {
  tar::Reader r(path);
  tar::Member m;
  size_t n = 0;
  std::string last;
  bool first = true;
  while (r.next(m, [](const std::string&) { return false; })) {
    const std::string key = split_name(m.name).first;
    if (first || key != last) ++n;
    last = key;
    first = false;
  }
  return n;
}

uint64_t file_size_of(const std::string& path) {
  std::error_code ec;
  const auto s = fs::file_size(path, ec);
  return ec ? 0 : static_cast<uint64_t>(s);
}

}  // namespace

ShardDataset::ShardDataset(const std::string& urls, ShardDatasetOptions options)
    : ShardDataset(expand_braces(urls), std::move(options)) {}

ShardDataset::ShardDataset(std::vector<std::string> paths, ShardDatasetOptions options) : options_(std::move(options)) {
  CNNKIT_CHECK(!paths.empty(), "ShardDataset: no shards given");
  CNNKIT_CHECK(options_.world_size() >= 1, "ShardDataset: world_size must be at least 1, got ", options_.world_size());
  CNNKIT_CHECK(options_.rank() >= 0 && options_.rank() < options_.world_size(), "ShardDataset: rank ",
               options_.rank(), " is outside a world of ", options_.world_size());
  std::vector<std::string> missing;
  for (const std::string& p : paths) {
    CNNKIT_CHECK(p.find("://") == std::string::npos && p.rfind("pipe:", 0) != 0, "ShardDataset: '", p,
                 "': only local files are read (no URLs or pipe:)");
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) missing.push_back(p);
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 3; ++i) list += (i ? ", " : "") + missing[i];
    if (missing.size() > 3) list += ", ...";
    throw IOError("ShardDataset: " + std::to_string(missing.size()) + " of " + std::to_string(paths.size()) +
                  " shards not found: " + list);
  }
  // The index: given, or <dir>/<prefix>.json beside the first shard.
  std::string index_path = options_.index();
  if (index_path.empty()) {
    const fs::path guess = fs::path(paths[0]).parent_path() / (prefix_of(paths[0]) + ".json");
    std::error_code ec;
    if (fs::is_regular_file(guess, ec)) index_path = guess.string();
  }
  std::map<std::string, const ShardInfo*> indexed;  // by file name
  ShardIndex index;
  if (!index_path.empty()) {
    index = load_shard_index(index_path);
    classes_ = index.classes;
    for (const ShardInfo& s : index.shards) indexed[basename_of(s.path)] = &s;
  }
  for (const std::string& p : paths) {
    ShardInfo info;
    info.path = p;
    info.bytes = file_size_of(p);
    const auto it = indexed.find(basename_of(p));
    if (it != indexed.end() && it->second->bytes == info.bytes) {
      info.samples = it->second->samples;
      info.stats = it->second->stats;
    } else {
      info.samples = count_samples(p);  // not indexed, or changed since: its headers say
    }
    total_ += info.samples;
    shards_.push_back(std::move(info));
  }
}

std::optional<RunningStats> ShardDataset::stats() const {
  RunningStats total;
  for (const ShardInfo& s : shards_) {
    if (s.samples > 0 && s.stats.examples != s.samples) return std::nullopt;
    total.merge(s.stats);
  }
  return total;
}

bool ShardDataset::splits_samples(size_t num_workers) const {
  return shards_.size() < static_cast<size_t>(options_.world_size()) * std::max<size_t>(1, num_workers);
}

namespace {

// Splitting a pass over (rank, worker) slots, slot = rank * num_workers + worker. With at
// least as many shards as slots, shard i belongs to slot i mod slots, a fixed assignment, so
// each slot's length (and so batches per epoch, which per-step schedules need) is the same
// every epoch; each slot visits its shards in a new order each epoch. With fewer shards than
// slots, every slot reads every shard (in one order per epoch, the same for all) and keeps
// sample k of that global stream when k mod slots == its slot (skipping the bytes of the
// others). Either way every sample is read by exactly one slot per epoch.
struct Plan {
  std::vector<size_t> shards;  // indices into ShardDataset::shards(), in visiting order
  size_t every = 1, offset = 0;  // keep sample k when k % every == offset
};

uint64_t mix(uint64_t a, uint64_t b) { return mix64(mix64(a) ^ b); }

Plan plan_for(const ShardDataset& ds, const WorkerInfo& w) {
  const auto& o = ds.options();
  const size_t workers = std::max<size_t>(1, w.num_workers);
  CNNKIT_CHECK(w.id < workers, "ShardDataset: worker ", w.id, " of ", workers);
  const size_t slots = static_cast<size_t>(o.world_size()) * workers;
  const size_t slot = static_cast<size_t>(o.rank()) * workers + w.id;
  const bool shuffle = o.shuffle_buffer() > 0 && o.shuffle_shards();
  Plan p;
  const size_t n = ds.shards().size();
  if (ds.splits_samples(workers)) {
    for (size_t i = 0; i < n; ++i) p.shards.push_back(i);
    p.every = slots;
    p.offset = slot;
    if (shuffle) {  // one order for all slots: they split one global stream
      Generator g(mix(w.seed ^ 0x73686172647321ULL, static_cast<uint64_t>(w.epoch)));
      for (size_t i = n; i > 1; --i) std::swap(p.shards[i - 1], p.shards[static_cast<size_t>(g.randint(0, static_cast<int64_t>(i)))]);
    }
  } else {
    for (size_t i = slot; i < n; i += slots) p.shards.push_back(i);
    if (shuffle) {
      Generator g(mix(mix(w.seed ^ 0x73686172647321ULL, static_cast<uint64_t>(w.epoch)), slot + 1));
      for (size_t i = p.shards.size(); i > 1; --i)
        std::swap(p.shards[i - 1], p.shards[static_cast<size_t>(g.randint(0, static_cast<int64_t>(i)))]);
    }
  }
  return p;
}

// One sample's members, still encoded (what the shuffle buffer holds).
struct RawSample {
  std::string key, shard;
  std::vector<std::pair<std::string, std::string>> members;  // extension, bytes
};

int64_t parse_class(const std::string& text, const std::string& where) {
  size_t b = 0, e = text.size();
  while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
  const std::string t = text.substr(b, e - b);
  const bool negative = !t.empty() && t[0] == '-';
  CNNKIT_CHECK_IO(all_digits(negative ? t.substr(1) : t) && t.size() <= 18, where,
                  ": not a class index (ASCII decimal): '", t.substr(0, 40), "'");
  const int64_t v = std::stoll(t);
  CNNKIT_CHECK_IO(v >= 0, where, ": class index ", v, " is negative");
  return v;
}

Example<> decode(RawSample& s) {
  const std::string* data = nullptr;
  const std::string *cls = nullptr, *target = nullptr;
  std::string data_ext;
  for (const auto& [ext, bytes] : s.members) {
    if (ext == "png" || ext == "jpg" || ext == "jpeg" || ext == "npy") {
      data = &bytes;
      data_ext = ext;
    } else if (ext == "cls") {
      cls = &bytes;
    } else if (ext == "target.npy") {
      target = &bytes;
    }
  }
  std::string names;
  for (const auto& m : s.members) names += (names.empty() ? "" : ", ") + s.key + "." + m.first;
  CNNKIT_CHECK_IO(data != nullptr, s.shard, ": sample ", s.key, " has no data member (", s.key, ".png or ", s.key,
                  ".npy); its members: ", names);
  CNNKIT_CHECK_IO(cls != nullptr || target != nullptr, s.shard, ": sample ", s.key, " has no label (", s.key,
                  ".cls or ", s.key, ".target.npy); its members: ", names);
  const std::string where = s.shard + ": member " + s.key + ".";
  Example<> e;
  try {
    e.data = data_ext == "npy" ? io::decode_npy(data->data(), data->size(), where + data_ext)
                               : decode_image_from_memory(data->data(), data->size(), where + data_ext);
  } catch (const Error&) {
    rethrow_with_prefix(where + data_ext + ": ");
  }
  if (cls) e.target = full({}, parse_class(*cls, where + "cls"), kLong);
  else e.target = io::decode_npy(target->data(), target->size(), where + "target.npy");
  return e;
}

class ShardStream : public ExampleStream {
 public:
  ShardStream(const ShardDataset& ds, const WorkerInfo& w)
      : plan_(plan_for(ds, w)),
        buffer_size_(ds.options().shuffle_buffer()),
        rng_(mix(mix(w.seed ^ 0x6275666665722121ULL, static_cast<uint64_t>(w.epoch)),
                 static_cast<uint64_t>(ds.options().rank()) * std::max<size_t>(1, w.num_workers) + w.id + 1)) {
    for (size_t i : plan_.shards) paths_.push_back(ds.shards()[i].path);  // a stream may outlive its dataset
  }

  bool next(Example<>& out) override {
    if (buffer_size_ == 0) {
      RawSample s;
      if (!read_raw(s)) return false;
      out = decode(s);
      return true;
    }
    // WebDataset's shuffle: each sample emitted lets the buffer take one sample, and a second
    // while it is below shuffle_buffer, so it grows to its size as the pass goes; sampling
    // starts once it holds kInitial samples. The first example (a shape check, the first
    // batch) thus costs ~100 samples' reading, not a full buffer's.
    constexpr size_t kInitial = 100;
    auto pull = [&] {
      RawSample s;
      if (done_ || !read_raw(s)) {
        done_ = true;
        return;
      }
      buffer_.push_back(std::move(s));
    };
    pull();
    if (buffer_.size() < buffer_size_) pull();
    while (!done_ && buffer_.size() < std::min(buffer_size_, kInitial)) pull();
    if (buffer_.empty()) return false;
    const size_t j = static_cast<size_t>(rng_.randint(0, static_cast<int64_t>(buffer_.size())));
    std::swap(buffer_[j], buffer_.back());
    RawSample s = std::move(buffer_.back());
    buffer_.pop_back();
    out = decode(s);
    return true;
  }

 private:
  bool owns(size_t k) const { return k % plan_.every == plan_.offset; }

  // The next sample of this slot, encoded; false when its shards are done.
  bool read_raw(RawSample& s) {
    for (;;) {
      if (!reader_) {
        if (next_shard_ >= paths_.size()) return false;
        reader_ = std::make_unique<tar::Reader>(paths_[next_shard_++]);
        have_pending_ = false;
      }
      if (!have_pending_) {
        const bool mine_next = owns(k_);
        if (!reader_->next(pending_, [&](const std::string&) { return mine_next; })) {
          reader_.reset();
          continue;
        }
        have_pending_ = true;
      }
      const bool mine = owns(k_);
      s = RawSample{split_name(pending_.name).first, reader_->path(), {}};
      if (mine) s.members.emplace_back(split_name(pending_.name).second, std::move(pending_.data));
      have_pending_ = false;
      for (;;) {  // the rest of the sample: members with its key
        const bool more = reader_->next(pending_, [&](const std::string& name) {
          return split_name(name).first == s.key ? mine : owns(k_ + 1);
        });
        if (!more) {
          reader_.reset();
          break;
        }
        auto [key, ext] = split_name(pending_.name);
        if (key != s.key) {
          have_pending_ = true;
          break;
        }
        if (!mine) continue;
        for (const auto& m : s.members)
          CNNKIT_CHECK_IO(m.first != ext, s.shard, ": member ", pending_.name, ": appears twice in sample ", s.key);
        s.members.emplace_back(ext, std::move(pending_.data));
      }
      ++k_;
      if (mine) return true;
    }
  }

  Plan plan_;
  std::vector<std::string> paths_;  // the plan's shards in visiting order
  size_t buffer_size_;
  Generator rng_;
  std::vector<RawSample> buffer_;
  bool done_ = false;  // the slot's shards are read to the end
  std::unique_ptr<tar::Reader> reader_;
  size_t next_shard_ = 0, k_ = 0;  // k_: samples of the (global) stream seen so far
  tar::Member pending_;            // the first member of the next sample, read ahead
  bool have_pending_ = false;
};

}  // namespace

std::unique_ptr<ExampleStream> ShardDataset::stream(const WorkerInfo& worker) const {
  return std::make_unique<ShardStream>(*this, worker);
}

std::optional<size_t> ShardDataset::stream_size(const WorkerInfo& worker) const {
  const Plan p = plan_for(*this, worker);
  if (p.every > 1) return total_ > p.offset ? (total_ - p.offset + p.every - 1) / p.every : 0;
  size_t n = 0;
  for (size_t i : p.shards) n += shards_[i].samples;
  return n;
}

}  // namespace cnnkit::data
