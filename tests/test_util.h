// Shared test helpers: loading golden files written by tools/golden/*.py, allclose
// assertions whose failure message gives the max abs diff and where it is, temporary
// file paths. Only core and io are used, so these work before the ops layer exists.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/io/safetensors.h"

namespace cnnkit::test {

// ---- comparisons --------------------------------------------------------------------------

struct DiffStats {
  double max_abs = 0;     // max |actual - expected|
  double max_excess = 0;  // max |a - e| - (atol + rtol |e|); > 0 means a failure
  int64_t worst = -1;     // linear index of the worst element (by excess)
  int64_t n_bad = 0;
};

inline DiffStats diff_stats(const std::vector<float>& a, const std::vector<float>& e, double rtol,
                            double atol) {
  DiffStats s;
  s.max_excess = -INFINITY;
  for (size_t i = 0; i < a.size(); ++i) {
    double ai = a[i], ei = e[i];
    bool both_nan = std::isnan(ai) && std::isnan(ei);
    bool same_inf = std::isinf(ai) && std::isinf(ei) && ai == ei;
    double d = (both_nan || same_inf) ? 0.0 : std::fabs(ai - ei);
    if (std::isnan(d)) d = INFINITY;  // one NaN, or inf vs finite
    // A NaN or infinite expected value is matched exactly: atol + rtol * |inf| would let any
    // value through.
    const double tol = std::isfinite(ei) ? atol + rtol * std::fabs(ei) : 0.0;
    double excess = d - tol;
    if (d > s.max_abs) s.max_abs = d;
    if (excess > s.max_excess) {
      s.max_excess = excess;
      s.worst = static_cast<int64_t>(i);
    }
    if (excess > 0) ++s.n_bad;
  }
  return s;
}

inline std::string index_str(IntArrayRef sizes, int64_t linear) {
  std::vector<int64_t> idx(sizes.size());
  for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
    idx[d] = sizes[d] ? linear % sizes[d] : 0;
    linear = sizes[d] ? linear / sizes[d] : 0;
  }
  std::ostringstream os;
  os << IntArrayRef(idx);
  return os.str();
}

// EXPECT_TRUE(allclose(actual, expected, rtol, atol, "conv/out")) prints shapes, the max
// abs diff, how many elements fail and the worst one with both values.
inline ::testing::AssertionResult allclose(const Tensor& actual, const Tensor& expected, double rtol,
                                           double atol, const std::string& what = "") {
  std::string name = what.empty() ? std::string("tensor") : what;
  if (!actual.defined() || !expected.defined())
    return ::testing::AssertionFailure() << name << ": " << (actual.defined() ? "expected" : "actual")
                                         << " tensor is undefined";
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure() << name << ": shape " << actual.sizes() << " != expected "
                                         << expected.sizes();
  std::vector<float> a = actual.to_vector(), e = expected.to_vector();
  DiffStats s = diff_stats(a, e, rtol, atol);
  std::ostringstream os;
  os << name << ": shape " << actual.sizes() << ", max abs diff " << s.max_abs << " (rtol " << rtol
     << ", atol " << atol << ")";
  if (s.n_bad == 0) return ::testing::AssertionSuccess() << os.str();
  os << "; " << s.n_bad << " of " << a.size() << " elements out of tolerance, worst at "
     << index_str(actual.sizes(), s.worst) << ": got " << a[s.worst] << ", expected " << e[s.worst];
  return ::testing::AssertionFailure() << os.str();
}

inline ::testing::AssertionResult allclose(const Tensor& actual, const std::vector<float>& expected,
                                           double rtol, double atol, const std::string& what = "") {
  if (!actual.defined()) return ::testing::AssertionFailure() << what << ": actual tensor is undefined";
  std::vector<float> a = actual.to_vector();
  if (a.size() != expected.size())
    return ::testing::AssertionFailure() << what << ": " << a.size() << " elements, expected "
                                         << expected.size();
  DiffStats s = diff_stats(a, expected, rtol, atol);
  std::ostringstream os;
  os << what << ": max abs diff " << s.max_abs;
  if (s.n_bad == 0) return ::testing::AssertionSuccess() << os.str();
  os << "; " << s.n_bad << " elements out of tolerance, worst at " << index_str(actual.sizes(), s.worst)
     << ": got " << a[s.worst] << ", expected " << expected[s.worst];
  return ::testing::AssertionFailure() << os.str();
}

inline double max_abs_diff(const Tensor& a, const Tensor& e) {
  return diff_stats(a.to_vector(), e.to_vector(), 0, 0).max_abs;
}

// ---- golden files ----------------------------------------------------------------------------

// One tests/golden/data/<family>.safetensors file. Metadata: "generator", "torch_version",
// "cases" (a JSON list of case names in generation order) and, per case, "<case>" -> the
// case's options as a JSON object. Tensors are named "<case>/<what>".
class Golden {
 public:
  explicit Golden(const std::string& family)
      : path_(std::string(CNNKIT_GOLDEN_DIR) + "/" + family + ".safetensors"),
        tensors_(io::load_safetensors(path_)),
        meta_(io::load_safetensors_metadata(path_)) {}

  const std::string& path() const { return path_; }
  const io::Metadata& metadata() const { return meta_; }
  const io::TensorMap& tensors() const { return tensors_; }

  std::vector<std::string> cases() const {
    auto it = meta_.find("cases");
    if (it == meta_.end()) throw std::runtime_error(path_ + ": no \"cases\" metadata");
    return nlohmann::json::parse(it->second).get<std::vector<std::string>>();
  }
  nlohmann::json options(const std::string& c) const {
    auto it = meta_.find(c);
    if (it == meta_.end()) throw std::runtime_error(path_ + ": no options metadata for case '" + c + "'");
    return nlohmann::json::parse(it->second);
  }
  bool has(const std::string& c, const std::string& what) const {
    return tensors_.count(c + "/" + what) != 0;
  }
  // A fresh copy, so a test may set requires_grad or modify it freely.
  Tensor get(const std::string& c, const std::string& what) const {
    auto it = tensors_.find(c + "/" + what);
    if (it == tensors_.end()) throw std::runtime_error(path_ + ": no tensor '" + c + "/" + what + "'");
    const Tensor& src = it->second;
    Tensor t = cnnkit::empty(src.sizes(), TensorOptions(src.scalar_type()));
    if (src.nbytes()) std::memcpy(t.data_ptr(), src.data_ptr(), src.nbytes());
    return t;
  }
  // Every "<case>/<prefix><name>" key's <name>, e.g. prefix "grad." -> {"weight", "bias"}.
  std::vector<std::string> names(const std::string& c, const std::string& prefix) const {
    std::vector<std::string> out;
    std::string p = c + "/" + prefix;
    for (const auto& [k, v] : tensors_)
      if (k.compare(0, p.size(), p) == 0) out.push_back(k.substr(p.size()));
    return out;
  }
  // The module's state dict as torch gave it: every key of the case except the reserved
  // input, input2, out, grad_out, grad_input, grad_input2, target, loss, grad.*, after.*
  // (tools/golden/golden_common.py, RESERVED).
  io::NamedTensors state_dict(const std::string& c) const {
    static const std::set<std::string> reserved = {"input", "input2", "out", "grad_out", "grad_input",
                                                   "grad_input2", "target", "loss"};
    io::NamedTensors out;
    for (const std::string& n : names(c, "")) {
      if (reserved.count(n) || n.rfind("grad.", 0) == 0 || n.rfind("after.", 0) == 0) continue;
      out.emplace_back(n, get(c, n));
    }
    return out;
  }

 private:
  std::string path_;
  io::TensorMap tensors_;
  io::Metadata meta_;
};

// ---- files -----------------------------------------------------------------------------------

// A path in a per-process temporary directory, removed with everything in it at exit.
inline std::string temp_path(const std::string& name) {
  struct Dir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("cnnkit_test_" + std::to_string(::getpid()));
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Dir dir;
  return (dir.path / name).string();
}

// temp_path(name) as an empty directory (removed first if it exists).
inline std::string fresh_dir(const std::string& name) {
  const std::string d = temp_path(name);
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Writes `bytes` to temp_path(name) (a whole file, replaced) and returns the path.
inline std::string write_bytes(const std::string& name, const std::string& bytes) {
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A whole file's bytes ("" when it cannot be opened).
inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The four bytes of `v`, most significant first (IDX headers, PNG chunks).
inline std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// A PNG chunk: length, type, data and CRC-32 of type and data (a wrong one, off by a bit,
// when good_crc is false).
inline std::string png_chunk(const std::string& type, const std::string& data, bool good_crc = true) {
  const std::string body = type + data;
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  return be32(static_cast<uint32_t>(data.size())) + body + be32(static_cast<uint32_t>(good_crc ? crc : crc ^ 1));
}

// Deterministic test data: element i is sin(a * i + b), a formula PyTorch rebuilds exactly
// (torch.sin(torch.arange(n) * a + b) in float64, then cast), so literals pasted from torch
// match without shipping inputs.
inline Tensor seq(std::vector<int64_t> sizes, double a = 0.7, double b = 0.3) {
  Tensor t = cnnkit::empty(sizes);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(std::sin(a * i + b));
  return t;
}

// A float tensor of the given sizes holding these values (row-major).
inline Tensor lit(std::vector<float> v, std::vector<int64_t> sizes) {
  Tensor t = cnnkit::empty(sizes);
  std::copy(v.begin(), v.end(), t.data_ptr<float>());
  return t;
}

// Deterministic inputs, exactly representable in float, that PyTorch rebuilds identically:
//   def pat(n, seed): return torch.tensor([((i*7 + seed*13) % 19 - 9) / 8.0 for i in range(n)])
inline float pat(int64_t i, int seed) { return static_cast<float>((i * 7 + seed * 13) % 19 - 9) / 8.0f; }

inline Tensor pattern(const std::vector<int64_t>& sizes, int seed, bool grad = false) {
  Tensor t = cnnkit::empty(sizes);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = pat(i, seed);
  if (grad) t.set_requires_grad(true);
  return t;
}

// The message of the cnnkit::Error that f throws, or "" if it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
inline std::string message_of(const std::function<void()>& f) { return error_of(f); }
inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace cnnkit::test
