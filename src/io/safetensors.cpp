// safetensors reader and writer: the JSON header is validated in full (dtype, shape,
// offsets against the file's real size, overlaps) before any tensor byte is read, so a
// corrupt or truncated file gives an IOError naming the file and the tensor, never a read
// out of bounds. Not here: memory mapping (files are read into owned storage) and
// writing dtypes other than cnnkit's own (F32, I64, U8, BOOL).
#include "cnnkit/io/safetensors.h"

#include "cnnkit/io/file.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace cnnkit::io {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; cnnkit reads it without byte swapping");

namespace {

// Far above any real header (the reference implementation's limit too): a larger value is
// a corrupt length field, and allocating it would be the bug.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

enum class FileDtype { F32, F16, BF16, F64, I64, I32, U8, BOOL };

struct DtypeInfo {
  FileDtype file;
  const char* name;
  size_t size;        // bytes per element in the file
  ScalarType loaded;  // what cnnkit makes of it
};

constexpr DtypeInfo kDtypes[] = {
    {FileDtype::F32, "F32", 4, kFloat},  {FileDtype::F16, "F16", 2, kFloat},
    {FileDtype::BF16, "BF16", 2, kFloat}, {FileDtype::F64, "F64", 8, kFloat},
    {FileDtype::I64, "I64", 8, kLong},   {FileDtype::I32, "I32", 4, kLong},
    {FileDtype::U8, "U8", 1, kByte},     {FileDtype::BOOL, "BOOL", 1, kBool},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const char* file_dtype_for(ScalarType t) {
  switch (t) {
    case kFloat: return "F32";
    case kLong: return "I64";
    case kByte: return "U8";
    case kBool: return "BOOL";
    default: return nullptr;
  }
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // relative to the start of the byte buffer
};

struct Header {
  std::vector<Entry> entries;
  Metadata metadata;
  uint64_t buffer_start = 0;  // absolute file offset of the byte buffer
};

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << IntArrayRef(s);
  return os.str();
}

#define ST_FAIL(path, ...) \
  ::cnnkit::detail::fail<::cnnkit::IOError>(__FILE__, __LINE__, "safetensors file '", path, "': ", __VA_ARGS__)

std::ifstream open_for_reading(const std::string& path, uint64_t& file_size) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) ST_FAIL(path, "no such file");
  if (!std::filesystem::is_regular_file(status)) ST_FAIL(path, "not a regular file");
  file_size = std::filesystem::file_size(path, ec);
  if (ec) ST_FAIL(path, "cannot read its size: ", ec.message());
  std::ifstream f(path, std::ios::binary);
  if (!f) ST_FAIL(path, "cannot open for reading: ", std::strerror(errno));
  return f;
}

uint64_t json_uint(const std::string& path, const std::string& name, const char* field,
                   const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    if (i < 0) ST_FAIL(path, "tensor '", name, "': negative value ", i, " in ", field);
    return static_cast<uint64_t>(i);
  }
  ST_FAIL(path, "tensor '", name, "': ", field, " must hold integers, got ", v.dump());
}

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& v,
                  uint64_t buffer_size) {
  Entry e;
  e.name = name;
  if (!v.is_object()) ST_FAIL(path, "tensor '", name, "': expected a JSON object, got ", v.dump());
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!v.contains(field)) ST_FAIL(path, "tensor '", name, "': missing field \"", field, "\"");

  const auto& dt = v["dtype"];
  if (!dt.is_string()) ST_FAIL(path, "tensor '", name, "': dtype must be a string, got ", dt.dump());
  e.dtype = find_dtype(dt.get<std::string>());
  if (!e.dtype)
    ST_FAIL(path, "tensor '", name, "': unsupported dtype \"", dt.get<std::string>(),
            "\" (cnnkit reads F32, F16, BF16, F64, I64, I32, U8, BOOL)");

  const auto& shape = v["shape"];
  if (!shape.is_array()) ST_FAIL(path, "tensor '", name, "': shape must be an array, got ", shape.dump());
  for (const auto& d : shape) {
    if (!d.is_number_integer() && !d.is_number_unsigned())
      ST_FAIL(path, "tensor '", name, "': shape must hold integers, got ", shape.dump());
    if (!d.is_number_unsigned() && d.get<int64_t>() < 0)
      ST_FAIL(path, "tensor '", name, "': negative dimension ", d.get<int64_t>(), " in shape ", shape.dump());
  }
  // numel * element size must fit the buffer (bounded as we go, so nothing overflows);
  // an empty tensor needs no bytes but its other dims must still make sane strides.
  uint64_t nbytes = e.dtype->size, nonzero_product = 1;
  constexpr uint64_t kMaxElems = uint64_t{1} << 62;
  bool empty = false;
  for (const auto& d : shape) {
    uint64_t s = d.get<uint64_t>();
    e.shape.push_back(static_cast<int64_t>(std::min(s, kMaxElems)));
    if (s == 0) {
      empty = true;
      continue;
    }
    if (nonzero_product > kMaxElems / s)
      ST_FAIL(path, "tensor '", name, "': shape ", shape.dump(), " has an absurd number of elements");
    nonzero_product *= s;
  }
  for (const auto& d : shape) {
    uint64_t s = d.get<uint64_t>();
    if (empty || s == 0) break;
    if (nbytes > buffer_size / s)
      ST_FAIL(path, "tensor '", name, "': shape ", shape.dump(), " of ", e.dtype->name,
              " needs more bytes than the file's whole data buffer of ", buffer_size,
              " bytes (file truncated?)");
    nbytes *= s;
  }
  if (empty) nbytes = 0;

  const auto& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2)
    ST_FAIL(path, "tensor '", name, "': data_offsets must be [begin, end], got ", off.dump());
  e.begin = json_uint(path, name, "data_offsets", off[0]);
  e.end = json_uint(path, name, "data_offsets", off[1]);
  if (e.end < e.begin)
    ST_FAIL(path, "tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] end before they begin");
  if (e.end - e.begin != nbytes)
    ST_FAIL(path, "tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] hold ",
            e.end - e.begin, " bytes but shape ", shape_str(e.shape), " of ", e.dtype->name,
            " needs ", nbytes);
  if (e.end > buffer_size)
    ST_FAIL(path, "tensor '", name, "': data_offsets [", e.begin, ", ", e.end,
            "] reach beyond the data buffer of ", buffer_size, " bytes (file truncated?)");
  return e;
}

Header read_header(const std::string& path, std::ifstream& f, uint64_t file_size) {
  if (file_size < 8)
    ST_FAIL(path, "file is ", file_size, " bytes, shorter than the 8-byte header length");
  unsigned char len_bytes[8];
  if (!f.read(reinterpret_cast<char*>(len_bytes), 8)) ST_FAIL(path, "cannot read the header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > kMaxHeaderBytes)
    ST_FAIL(path, "header length ", n, " is absurd (limit ", kMaxHeaderBytes, "): not a safetensors file?");
  if (n > file_size - 8)
    ST_FAIL(path, "header length ", n, " is beyond the file size (", file_size, " bytes)");
  if (n < 2) ST_FAIL(path, "header length ", n, " is too small for a JSON object");

  std::string text(n, '\0');
  if (!f.read(text.data(), static_cast<std::streamsize>(n)))
    ST_FAIL(path, "cannot read the ", n, "-byte header");
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) ST_FAIL(path, "header is not valid JSON");
  if (!j.is_object()) ST_FAIL(path, "header must be a JSON object, got ", j.type_name());

  Header h;
  h.buffer_start = 8 + n;
  uint64_t buffer_size = file_size - h.buffer_start;
  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) ST_FAIL(path, "__metadata__ must be an object of strings, got ", value.dump());
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string())
          ST_FAIL(path, "__metadata__ value for '", mk, "' must be a string, got ", mv.dump());
        h.metadata[mk] = mv.get<std::string>();
      }
      continue;
    }
    h.entries.push_back(parse_entry(path, key, value, buffer_size));
  }

  // Two tensors may not share bytes (a writer bug, or a crafted file aliasing tensors).
  std::vector<const Entry*> by_offset;
  for (const auto& e : h.entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry& a = *by_offset[i - 1];
    const Entry& b = *by_offset[i];
    if (b.begin < a.end)
      ST_FAIL(path, "tensors '", a.name, "' [", a.begin, ", ", a.end, ") and '", b.name, "' [",
              b.begin, ", ", b.end, ") overlap in the data buffer");
  }
  return h;
}

float half_to_float(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf or nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal half: normalise the mantissa into a float's implicit leading one.
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mant & 0x3FFu) << 13);
  }
  return std::bit_cast<float>(bits);
}

Tensor read_entry(const std::string& path, std::ifstream& f, const Header& h, const Entry& e) {
  Tensor t = empty(e.shape, TensorOptions(e.dtype->loaded));
  size_t nbytes = e.end - e.begin;
  if (nbytes == 0) return t;
  f.seekg(static_cast<std::streamoff>(h.buffer_start + e.begin));
  auto read_into = [&](void* dst) {
    if (!f.read(static_cast<char*>(dst), static_cast<std::streamsize>(nbytes)))
      ST_FAIL(path, "tensor '", e.name, "': could not read ", nbytes, " bytes (file changed while reading?)");
  };
  int64_t n = t.numel();
  switch (e.dtype->file) {
    case FileDtype::F32:
    case FileDtype::I64:
    case FileDtype::U8:
      read_into(t.data_ptr());
      return t;
    case FileDtype::BOOL: {
      read_into(t.data_ptr());
      // A C++ bool must hold 0 or 1; any other byte would be undefined behaviour to read.
      auto* p = static_cast<uint8_t*>(t.data_ptr());
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] != 0;
      return t;
    }
    default: break;
  }
  std::vector<unsigned char> raw(nbytes);
  read_into(raw.data());
  switch (e.dtype->file) {
    case FileDtype::F16: {
      float* out = t.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, raw.data() + 2 * i, 2);
        out[i] = half_to_float(v);
      }
      break;
    }
    case FileDtype::BF16: {
      float* out = t.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, raw.data() + 2 * i, 2);
        out[i] = std::bit_cast<float>(static_cast<uint32_t>(v) << 16);
      }
      break;
    }
    case FileDtype::F64: {
      float* out = t.data_ptr<float>();
      for (int64_t i = 0; i < n; ++i) {
        double v;
        std::memcpy(&v, raw.data() + 8 * i, 8);
        out[i] = static_cast<float>(v);
      }
      break;
    }
    case FileDtype::I32: {
      int64_t* out = t.data_ptr<int64_t>();
      for (int64_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, raw.data() + 4 * i, 4);
        out[i] = v;
      }
      break;
    }
    default: CNNKIT_ASSERT(false, "unhandled safetensors dtype ", e.dtype->name);
  }
  return t;
}

// The tensor's elements in row-major order as raw bytes, whatever its strides.
void append_bytes(std::string& out, const Tensor& t) {
  size_t es = t.element_size();
  const char* base = static_cast<const char*>(t.data_ptr());
  if (t.is_contiguous()) {
    out.append(base, t.nbytes());
    return;
  }
  int64_t nd = t.dim();
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
  IntArrayRef sizes = t.sizes(), strides = t.strides();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < nd; ++d) off += idx[d] * strides[d];
    out.append(base + off * static_cast<int64_t>(es), es);
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++idx[d] < sizes[d]) break;
      idx[d] = 0;
    }
  }
}

// A crash or a full disk leaves the old file or the new one, never half (io/file.h).
void write_file_atomic(const std::string& path, const std::string& header, const std::vector<Tensor>& tensors) {
  AtomicFile file(path, "save_safetensors");
  file.write(header);
  std::string buf;
  for (const Tensor& t : tensors) {
    buf.clear();
    append_bytes(buf, t);
    file.write(buf);
  }
  file.commit();
}

}  // namespace

TensorMap load_safetensors(const std::string& path) {
  uint64_t file_size = 0;
  std::ifstream f = open_for_reading(path, file_size);
  Header h = read_header(path, f, file_size);
  TensorMap out;
  for (const auto& e : h.entries) out.emplace(e.name, read_entry(path, f, h, e));
  return out;
}

Metadata load_safetensors_metadata(const std::string& path) {
  uint64_t file_size = 0;
  std::ifstream f = open_for_reading(path, file_size);
  return read_header(path, f, file_size).metadata;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    auto& m = j["__metadata__"];
    m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
  }
  std::set<std::string> seen;
  std::vector<Tensor> data;
  data.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    CNNKIT_CHECK(!name.empty(), "save_safetensors: empty tensor name for '", path, "'");
    CNNKIT_CHECK(name != "__metadata__", "save_safetensors: '__metadata__' is reserved, not a tensor name");
    CNNKIT_CHECK(seen.insert(name).second, "save_safetensors: duplicate tensor name '", name, "'");
    CNNKIT_CHECK(t.defined(), "save_safetensors: tensor '", name, "' is undefined");
    const char* dt = file_dtype_for(t.scalar_type());
    CNNKIT_CHECK_TYPE(dt != nullptr, "save_safetensors: tensor '", name, "' has dtype ", t.scalar_type(),
                      "; cnnkit writes float32, int64, uint8 and bool");
    uint64_t nbytes = t.nbytes();
    j[name] = {{"dtype", dt}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    data.push_back(t);
  }
  std::string text;
  try {
    text = j.dump();
  } catch (const nlohmann::json::exception& ex) {
    CNNKIT_CHECK(false, "save_safetensors: a tensor name or metadata string is not valid UTF-8 (", ex.what(), ")");
  }
  // Pad with spaces so the byte buffer starts 8-byte aligned, as the reference writer does.
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string header(8, '\0');
  uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) header[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  header += text;
  write_file_atomic(path, header, data);
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
  save_safetensors(path, NamedTensors(tensors.begin(), tensors.end()), metadata);
}

void save_safetensors(const std::string& path, const OrderedDict<std::string, Tensor>& tensors,
                      const Metadata& metadata) {
  NamedTensors named;
  named.reserve(tensors.size());
  for (const auto& item : tensors) named.emplace_back(item.key(), item.value());
  save_safetensors(path, named, metadata);
}

void save_safetensors(const std::string& path,
                      std::initializer_list<std::pair<std::string, Tensor>> tensors,
                      const Metadata& metadata) {
  save_safetensors(path, NamedTensors(tensors.begin(), tensors.end()), metadata);
}

}  // namespace cnnkit::io
