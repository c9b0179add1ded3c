// .npy reader and writer (numpy.lib.format versions 1.0, 2.0, 3.0). The header dict is
// parsed as the small Python literal it is (strings, True/False, tuples of ints) and
// validated in full before any data is read, so every corruption is an IOError naming the
// file and the field, never a read out of bounds. Not here: .npz archives, object arrays,
// structured dtypes, float16 and complex (np.save(..., a.astype(np.float32)) first).
#include "cnnkit/io/npy.h"

#include "cnnkit/io/file.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <vector>

namespace cnnkit::io {

static_assert(std::endian::native == std::endian::little, "npy: cnnkit assumes a little-endian host");

namespace {

#define NPY_FAIL(path, ...) \
  ::cnnkit::detail::fail<::cnnkit::IOError>(__FILE__, __LINE__, "npy file '", path, "': ", __VA_ARGS__)

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr uint64_t kMaxHeaderBytes = 64u << 20;  // far above any real header

// ---- the header dict: a Python literal ---------------------------------------------------

struct HeaderValue {
  enum Kind { kString, kBool, kTuple } kind = kString;
  std::string str;
  bool boolean = false;
  std::vector<int64_t> ints;
};

class DictParser {
 public:
  DictParser(const std::string& path, const std::string& text) : path_(path), s_(text) {}

  std::vector<std::pair<std::string, HeaderValue>> parse() {
    std::vector<std::pair<std::string, HeaderValue>> out;
    ws();
    expect('{', "the header dict must start with '{'");
    for (;;) {
      ws();
      if (peek() == '}') { ++i_; break; }
      std::string key = string_lit("a dict key");
      ws();
      expect(':', "expected ':' after key '" + key + "'");
      ws();
      out.emplace_back(key, value(key));
      ws();
      if (peek() == ',') { ++i_; continue; }
      if (peek() == '}') { ++i_; break; }
      fail("expected ',' or '}' after the value of '" + key + "'");
    }
    ws();
    if (i_ != s_.size()) fail("unexpected text after the closing '}'");
    return out;
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void ws() { while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_; }
  [[noreturn]] void fail(const std::string& what) const {
    NPY_FAIL(path_, "bad header dict at character ", i_, ": ", what, " (header: ", s_, ")");
  }
  void expect(char c, const std::string& what) {
    if (peek() != c) fail(what);
    ++i_;
  }
  std::string string_lit(const char* what) {
    char q = peek();
    if (q != '\'' && q != '"') fail(std::string("expected a quoted string for ") + what);
    size_t end = s_.find(q, i_ + 1);
    if (end == std::string::npos) fail("unterminated string");
    std::string r = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return r;
  }
  HeaderValue value(const std::string& key) {
    HeaderValue v;
    char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = HeaderValue::kString;
      v.str = string_lit("a value");
    } else if (s_.compare(i_, 4, "True") == 0) {
      v.kind = HeaderValue::kBool, v.boolean = true, i_ += 4;
    } else if (s_.compare(i_, 5, "False") == 0) {
      v.kind = HeaderValue::kBool, v.boolean = false, i_ += 5;
    } else if (c == '(' || c == '[') {
      char close = c == '(' ? ')' : ']';
      v.kind = HeaderValue::kTuple;
      ++i_;
      for (;;) {
        ws();
        if (peek() == close) { ++i_; break; }
        if (!std::isdigit(static_cast<unsigned char>(peek())))
          fail("field '" + key + "' must hold non-negative integers");
        int64_t n = 0;
        while (std::isdigit(static_cast<unsigned char>(peek()))) {
          if (n > (int64_t{1} << 58)) fail("field '" + key + "' holds an absurd dimension");
          n = n * 10 + (s_[i_++] - '0');
        }
        if (peek() == 'L') ++i_;  // Python 2 longs
        v.ints.push_back(n);
        ws();
        if (peek() == ',') { ++i_; continue; }
        if (peek() == close) { ++i_; break; }
        fail("expected ',' or '" + std::string(1, close) + "' in field '" + key + "'");
      }
    } else {
      fail("unsupported value for field '" + key + "'");
    }
    return v;
  }

  const std::string& path_;
  const std::string& s_;
  size_t i_ = 0;
};

// ---- dtypes ----------------------------------------------------------------------------

struct FileDtype {
  char kind = 0;          // 'f', 'i', 'u', 'b'
  size_t size = 0;        // bytes per element
  bool swap = false;      // big-endian in the file
  ScalarType loaded = kFloat;
};

FileDtype parse_descr(const std::string& path, const std::string& descr) {
  auto unsupported = [&]() {
    NPY_FAIL(path, "field 'descr': unsupported dtype '", descr,
             "' (cnnkit reads <f4 <f8 <i8 <i4 <i2 |i1 <u4 <u2 |u1 |b1, either byte order)");
  };
  if (descr.size() < 3 || descr.size() > 5) unsupported();
  char order = descr[0], kind = descr[1];
  if (order != '<' && order != '>' && order != '|' && order != '=') unsupported();
  for (size_t k = 2; k < descr.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(descr[k]))) unsupported();
  size_t size = std::stoul(descr.substr(2));
  FileDtype d;
  d.kind = kind;
  d.size = size;
  d.swap = order == '>' && size > 1;
  if (kind == 'f' && (size == 4 || size == 8)) d.loaded = kFloat;
  else if (kind == 'i' && (size == 1 || size == 2 || size == 4 || size == 8)) d.loaded = kLong;
  else if (kind == 'u' && size == 1) d.loaded = kByte;
  else if (kind == 'u' && (size == 2 || size == 4)) d.loaded = kLong;
  else if (kind == 'b' && size == 1) d.loaded = kBool;
  else unsupported();
  return d;
}

template <typename T>
T load_elem(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(T)];
  if (swap) std::reverse_copy(p, p + sizeof(T), b);
  else std::memcpy(b, p, sizeof(T));
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// Converts n file elements at src into the tensor's dtype at dst.
template <typename Src, typename Dst>
void convert(Dst* dst, const unsigned char* src, int64_t n, bool swap) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(load_elem<Src>(src + i * sizeof(Src), swap));
}

// The file bytes are already cnnkit's representation: read straight into the tensor.
bool is_direct(const FileDtype& d) {
  return !d.swap && ((d.kind == 'f' && d.size == 4) || (d.kind == 'i' && d.size == 8) ||
                     (d.kind == 'u' && d.size == 1));
}

void convert_into(Tensor& t, const FileDtype& d, const unsigned char* src, int64_t n) {
  switch (d.kind) {
    case 'f':
      if (d.size == 4) convert<float>(t.data_ptr<float>(), src, n, d.swap);
      else convert<double>(t.data_ptr<float>(), src, n, d.swap);
      return;
    case 'i': {
      int64_t* o = t.data_ptr<int64_t>();
      if (d.size == 1) convert<int8_t>(o, src, n, false);
      else if (d.size == 2) convert<int16_t>(o, src, n, d.swap);
      else if (d.size == 4) convert<int32_t>(o, src, n, d.swap);
      else convert<int64_t>(o, src, n, d.swap);
      return;
    }
    case 'u': {
      int64_t* o = t.data_ptr<int64_t>();
      if (d.size == 2) convert<uint16_t>(o, src, n, d.swap);
      else convert<uint32_t>(o, src, n, d.swap);
      return;
    }
    case 'b': {
      bool* o = t.data_ptr<bool>();
      for (int64_t i = 0; i < n; ++i) o[i] = src[i] != 0;
      return;
    }
    default: break;
  }
  CNNKIT_ASSERT(false, "npy: unhandled dtype kind ", d.kind);
}

std::string shape_tuple(IntArrayRef sizes) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < sizes.size(); ++i) os << (i ? ", " : "") << sizes[i];
  if (sizes.size() == 1) os << ',';
  os << ')';
  return os.str();
}

void write_file_atomic(const std::string& path, const std::string& header, const void* data, size_t n) {
  AtomicFile file(path, "save_npy");
  file.write(header);
  file.write(data, n);
  file.commit();
}

}  // namespace

namespace {

// The reader proper over any byte source: `read_at(offset, dst, n)` fills dst with n bytes
// at offset (false when it cannot), `file_size` bounds every length before it is used, and
// `path` names the source in errors (a file, or "shard.tar: member x.npy").
template <class ReadAt>
Tensor parse_npy(const std::string& path, uint64_t file_size, ReadAt read_at) {
  // Preamble: magic, version, header length.
  unsigned char pre[12] = {};
  size_t pre_len = static_cast<size_t>(std::min<uint64_t>(file_size, 12));
  if (pre_len && !read_at(0, pre, pre_len)) NPY_FAIL(path, "cannot read the preamble");
  if (pre_len < kMagicLen + 2 || std::memcmp(pre, kMagic, kMagicLen) != 0)
    NPY_FAIL(path, "bad magic: expected \"\\x93NUMPY\" at the start, not a .npy file");
  int major = pre[6], minor = pre[7];
  uint64_t header_len = 0, header_start = 0;
  if (major == 1) {
    if (pre_len < 10) NPY_FAIL(path, "truncated: file ends inside the header length");
    header_len = pre[8] | (uint64_t{pre[9]} << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (pre_len < 12) NPY_FAIL(path, "truncated: file ends inside the header length");
    header_len = pre[8] | (uint64_t{pre[9]} << 8) | (uint64_t{pre[10]} << 16) | (uint64_t{pre[11]} << 24);
    header_start = 12;
  } else {
    NPY_FAIL(path, "field 'version': unsupported format version ", major, ".", minor,
             " (cnnkit reads 1.0, 2.0 and 3.0)");
  }
  if (header_len > kMaxHeaderBytes) NPY_FAIL(path, "header length ", header_len, " is absurd");
  if (header_start + header_len > file_size)
    NPY_FAIL(path, "truncated: header of ", header_len, " bytes reaches beyond the file size (",
             file_size, " bytes)");
  std::string text(header_len, '\0');
  if (header_len && !read_at(header_start, text.data(), header_len))
    NPY_FAIL(path, "cannot read the ", header_len, "-byte header");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\0')) text.pop_back();
  auto items = DictParser(path, text).parse();
  const HeaderValue *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (const auto& [k, v] : items) {
    if (k == "descr") descr = &v;
    else if (k == "fortran_order") fortran = &v;
    else if (k == "shape") shape = &v;
    else NPY_FAIL(path, "bad header dict: unknown field '", k, "'");
  }
  if (!descr) NPY_FAIL(path, "bad header dict: missing field 'descr'");
  if (!fortran) NPY_FAIL(path, "bad header dict: missing field 'fortran_order'");
  if (!shape) NPY_FAIL(path, "bad header dict: missing field 'shape'");
  if (descr->kind != HeaderValue::kString)
    NPY_FAIL(path, "field 'descr' must be a dtype string (structured dtypes are not supported)");
  if (fortran->kind != HeaderValue::kBool) NPY_FAIL(path, "field 'fortran_order' must be True or False");
  if (shape->kind != HeaderValue::kTuple) NPY_FAIL(path, "field 'shape' must be a tuple of integers");
  FileDtype dt = parse_descr(path, descr->str);

  // Expected data size, bounded as we go so nothing overflows.
  uint64_t data_bytes = file_size - header_start - header_len;
  bool has_zero = std::find(shape->ints.begin(), shape->ints.end(), 0) != shape->ints.end();
  uint64_t numel = has_zero ? 0 : 1;
  for (int64_t s : shape->ints) {
    if (has_zero) break;
    if (static_cast<uint64_t>(s) > (data_bytes / dt.size) / numel)
      NPY_FAIL(path, "truncated data: shape ", shape_tuple(shape->ints), " of '", descr->str,
               "' needs more than the ", data_bytes, " bytes after the header");
    numel *= static_cast<uint64_t>(s);
  }
  uint64_t need = numel * dt.size;
  if (data_bytes < need)
    NPY_FAIL(path, "truncated data: shape ", shape_tuple(shape->ints), " of '", descr->str, "' needs ",
             need, " bytes, the file has ", data_bytes, " after the header");
  if (data_bytes > need)
    NPY_FAIL(path, "data section holds ", data_bytes, " bytes, shape ", shape_tuple(shape->ints), " of '",
             descr->str, "' needs ", need, " (trailing bytes: corrupt or not a single array)");

  // An empty shape's other sizes still make the tensor's strides: their product must fit.
  uint64_t span = 1;
  for (int64_t s : shape->ints)
    if (s > 0) {
      if (span > (uint64_t{1} << 62) / static_cast<uint64_t>(s))
        NPY_FAIL(path, "field 'shape': ", shape_tuple(shape->ints), " is absurd: its nonzero sizes multiply past 2^62");
      span *= static_cast<uint64_t>(s);
    }

  // Fortran order: the bytes are the C-order array of the reversed shape.
  std::vector<int64_t> sizes = shape->ints;
  if (fortran->boolean) std::reverse(sizes.begin(), sizes.end());
  Tensor t = empty(sizes, TensorOptions(dt.loaded));
  if (need) {
    if (is_direct(dt)) {
      if (!read_at(header_start + header_len, t.data_ptr(), need))
        NPY_FAIL(path, "truncated data: cannot read ", need, " bytes");
    } else {
      std::vector<unsigned char> raw(need);
      if (!read_at(header_start + header_len, raw.data(), need))
        NPY_FAIL(path, "truncated data: cannot read ", need, " bytes");
      convert_into(t, dt, raw.data(), static_cast<int64_t>(numel));
    }
  }
  if (fortran->boolean && sizes.size() > 1) {
    std::vector<int64_t> perm(sizes.size());
    std::iota(perm.rbegin(), perm.rend(), 0);
    t = t.permute(perm).contiguous();
  }
  return t;
}

}  // namespace

Tensor load_npy(const std::string& path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) NPY_FAIL(path, "no such file");
  if (!std::filesystem::is_regular_file(status)) NPY_FAIL(path, "not a regular file");
  uint64_t file_size = std::filesystem::file_size(path, ec);
  if (ec) NPY_FAIL(path, "cannot read its size: ", ec.message());
  std::ifstream f(path, std::ios::binary);
  if (!f) NPY_FAIL(path, "cannot open for reading: ", std::strerror(errno));
  return parse_npy(path, file_size, [&](uint64_t offset, void* dst, uint64_t n) {
    f.seekg(static_cast<std::streamoff>(offset));
    return static_cast<bool>(f.read(static_cast<char*>(dst), static_cast<std::streamsize>(n)));
  });
}

Tensor decode_npy(const void* bytes, size_t nbytes, const std::string& name) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  return parse_npy(name, nbytes, [&](uint64_t offset, void* dst, uint64_t n) {
    if (offset > nbytes || n > nbytes - offset) return false;
    std::memcpy(dst, p + offset, n);
    return true;
  });
}

namespace {

// The header of an array of `tensor`'s dtype and shape; `what` names the caller and file.
std::string npy_header(const Tensor& tensor, const std::string& what) {
  CNNKIT_CHECK(tensor.defined(), what, ": undefined tensor");
  const char* descr = nullptr;
  switch (tensor.scalar_type()) {
    case kFloat: descr = "<f4"; break;
    case kLong: descr = "<i8"; break;
    case kByte: descr = "|u1"; break;
    case kBool: descr = "|b1"; break;
    default: CNNKIT_CHECK_TYPE(false, what, ": unsupported dtype ", tensor.scalar_type());
  }
  std::string dict = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " +
                     shape_tuple(tensor.sizes()) + ", }";
  // NumPy pads with spaces so that magic + version + length + dict + '\n' is a multiple
  // of 64 bytes, keeping the data aligned for memory mapping.
  size_t prefix = dict.size() + 1 + 10 > 65535 ? 12 : 10;
  size_t total = (prefix + dict.size() + 1 + 63) / 64 * 64;
  size_t hlen = total - prefix;
  std::string header(kMagic, kMagicLen);
  header += static_cast<char>(prefix == 10 ? 1 : 2);
  header += '\0';
  for (size_t b = 0; b < prefix - 8; ++b) header += static_cast<char>((hlen >> (8 * b)) & 0xff);
  header += dict;
  header.append(hlen - dict.size() - 1, ' ');
  header += '\n';
  return header;
}

}  // namespace

void save_npy(const std::string& path, const Tensor& tensor) {
  const std::string header = npy_header(tensor, "save_npy: '" + path + "'");
  Tensor c = tensor.is_contiguous() ? tensor : tensor.contiguous();
  write_file_atomic(path, header, c.numel() ? c.data_ptr() : nullptr, c.nbytes());
}

std::string encode_npy(const Tensor& tensor) {
  std::string out = npy_header(tensor, "encode_npy");
  Tensor c = tensor.is_contiguous() ? tensor : tensor.contiguous();
  if (c.nbytes()) out.append(static_cast<const char*>(c.data_ptr()), c.nbytes());
  return out;
}

}  // namespace cnnkit::io
