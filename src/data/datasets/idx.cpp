// IDX files (raw or gzipped) and the MNIST / Fashion-MNIST datasets built on them. A file
// is read whole (gunzipped in memory by zlib), its header validated against its size, and
// its elements copied once into a tensor. Not here: downloading (cnnkit never touches the
// network) and any float conversion of the pixels (transforms::ToTensor does that).
#include "cnnkit/data/datasets/mnist.h"
#include "data/datasets/gzip_file.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cnnkit::data {

namespace {

#define IDX_FAIL(who, path, ...) \
  ::cnnkit::detail::fail<::cnnkit::IOError>(__FILE__, __LINE__, who, ": '", path, "': ", __VA_ARGS__)

std::string read_whole_file(const std::string& path, const std::string& who) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) IDX_FAIL(who, path, "no such file");
  if (!std::filesystem::is_regular_file(status)) IDX_FAIL(who, path, "not a regular file");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) IDX_FAIL(who, path, "cannot open for reading: ", std::strerror(errno));
  std::streamoff n = f.tellg();
  if (n < 0) IDX_FAIL(who, path, "cannot read its size");
  std::string bytes(static_cast<size_t>(n), '\0');
  f.seekg(0);
  if (n > 0 && !f.read(bytes.data(), n)) IDX_FAIL(who, path, "cannot read ", n, " bytes");
  return bytes;
}

// The bytes an IDX file holds according to its header (header included), from the first
// bytes of its decompressed stream: 0 while the header is incomplete, saturated far above
// any real file when the dimensions multiply past 2^62. An unknown type byte counts 1 per
// element: parse_idx names that error once the data is in.
uint64_t idx_claimed_bytes(const std::string& head) {
  if (head.size() < 4) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(head.data());
  const size_t header = 4 + 4 * size_t{p[3]};
  if (head.size() < header) return 0;
  uint64_t total = 1;  // bytes per element: 0x08 and 0x09 one
  switch (p[2]) {
    case 0x0B: total = 2; break;
    case 0x0C: case 0x0D: total = 4; break;
    case 0x0E: total = 8; break;
    default: break;
  }
  for (size_t d = 0; d < p[3]; ++d) {
    const uint64_t dim = (uint64_t{p[4 + 4 * d]} << 24) | (uint64_t{p[5 + 4 * d]} << 16) |
                         (uint64_t{p[6 + 4 * d]} << 8) | p[7 + 4 * d];
    total = dim != 0 && total > (uint64_t{1} << 62) / dim ? uint64_t{1} << 62 : total * dim;
  }
  return header + total;
}

// Inflates every gzip member (a file may hold several concatenated). Memory stays bounded by
// what the IDX header claims: the output is read in 64 KiB chunks until the header is in,
// then into one buffer of the claimed size (or the trailer's ISIZE hint, whichever is
// smaller, so that a 47 MB MNIST file needs no regrowth), and a stream that inflates past the
// claim (a gzip bomb behind a small header) stops with an error at the claim.
std::string gunzip(const std::string& in, const std::string& path, const std::string& who) {
  std::string out;
  uint64_t isize = 0;
  if (in.size() >= 18)
    isize = static_cast<uint8_t>(in[in.size() - 4]) | static_cast<uint8_t>(in[in.size() - 3]) << 8 |
            static_cast<uint8_t>(in[in.size() - 2]) << 16 |
            static_cast<uint32_t>(static_cast<uint8_t>(in[in.size() - 1])) << 24;
  uint64_t claim = 0;  // 0: the header is not in yet
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) IDX_FAIL(who, path, "zlib: cannot initialise inflate");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::array<char, 1 << 16> chunk;
  int ret = Z_OK;
  for (;;) {
    if (claim == 0 && (claim = idx_claimed_bytes(out)) != 0)
      // A corrupt trailer must not make us reserve gigabytes: deflate compresses < 1032:1.
      out.reserve(std::min<uint64_t>({claim + 1, std::max<uint64_t>(isize, out.size()), uint64_t{1032} * in.size()}));
    if (claim != 0 && out.capacity() > out.size()) {
      // Inflate straight into the reserved space, avoiding the chunk copy.
      size_t old = out.size();
      size_t room = std::min<size_t>(out.capacity() - old, size_t{1} << 30);
      out.resize(old + room);
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
      zs.avail_out = static_cast<uInt>(room);
      ret = inflate(&zs, Z_NO_FLUSH);
      out.resize(old + room - zs.avail_out);
    } else {
      zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
      zs.avail_out = static_cast<uInt>(chunk.size());
      ret = inflate(&zs, Z_NO_FLUSH);
      out.append(chunk.data(), chunk.size() - zs.avail_out);
    }
    if (claim != 0 && out.size() > claim) {
      inflateEnd(&zs);
      IDX_FAIL(who, path, "the gzip data inflates past the ", claim, " bytes its IDX header claims (a "
               "decompression bomb, or not an IDX file); stopped there");
    }
    if (ret == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      inflateReset(&zs);  // another gzip member follows
      continue;
    }
    if (ret == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      IDX_FAIL(who, path, "truncated gzip data (the stream ends after ", out.size(), " decompressed bytes)");
    }
    if (ret != Z_OK && ret != Z_BUF_ERROR) {
      std::string msg = zs.msg ? zs.msg : "error code " + std::to_string(ret);
      inflateEnd(&zs);
      IDX_FAIL(who, path, "corrupt gzip data: ", msg);
    }
  }
  inflateEnd(&zs);
  return out;
}

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

template <typename T>
T load_be(const unsigned char* p) {
  unsigned char b[sizeof(T)];
  std::reverse_copy(p, p + sizeof(T), b);
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

template <typename Src, typename Dst>
void convert_be(Dst* dst, const unsigned char* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(load_be<Src>(src + i * sizeof(Src)));
}

struct IdxType {
  uint8_t code;
  size_t size;
  ScalarType loaded;
  const char* name;
};
constexpr IdxType kIdxTypes[] = {
    {0x08, 1, kByte, "unsigned byte"}, {0x09, 1, kLong, "signed byte"}, {0x0B, 2, kLong, "short"},
    {0x0C, 4, kLong, "int"},           {0x0D, 4, kFloat, "float"},      {0x0E, 8, kFloat, "double"},
};

// Parses IDX bytes into a tensor of the file's shape.
Tensor parse_idx(const std::string& bytes, const std::string& path, const std::string& who) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4 || p[0] != 0 || p[1] != 0) {
    uint32_t magic = bytes.size() >= 4 ? be32(p) : 0;
    IDX_FAIL(who, path, "bad magic 0x", std::hex, magic, std::dec,
             ": an IDX file starts with 0x00 0x00 <type> <ndims> (e.g. 0x00000803 for images)");
  }
  const IdxType* type = nullptr;
  for (const auto& t : kIdxTypes)
    if (t.code == p[2]) type = &t;
  if (!type)
    IDX_FAIL(who, path, "bad magic: unknown element type byte 0x", std::hex, int{p[2]}, std::dec,
             " (IDX types are 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)");
  size_t ndims = p[3];
  size_t header = 4 + 4 * ndims;
  if (bytes.size() < header)
    IDX_FAIL(who, path, "truncated: the file is ", bytes.size(), " bytes, its header of ", ndims,
             " dimensions needs ", header);
  std::vector<int64_t> sizes(ndims);
  uint64_t numel = 1;
  for (size_t d = 0; d < ndims; ++d) {
    sizes[d] = be32(p + 4 + 4 * d);
    numel *= static_cast<uint64_t>(sizes[d]);  // each < 2^32; the size check below bounds it
    if (numel > bytes.size()) numel = bytes.size() + 1;  // saturate: certainly truncated
  }
  uint64_t have = bytes.size() - header, need = numel * type->size;
  std::ostringstream shape;
  shape << IntArrayRef(sizes);
  if (have < need)
    IDX_FAIL(who, path, "truncated: shape ", shape.str(), " of ", type->name, " needs ",
             numel > bytes.size() ? std::string("more than the file's") : std::to_string(need), " bytes of data, the file has ",
             have);
  if (have > need)
    IDX_FAIL(who, path, "the file has ", have - need, " bytes after the data of shape ", shape.str(), " of ",
             type->name, " (corrupt or not an IDX file)");
  // An empty shape's other sizes still make the tensor's strides: their product must fit.
  uint64_t span = 1;
  for (int64_t s : sizes)
    if (s > 0) {
      if (span > (uint64_t{1} << 62) / static_cast<uint64_t>(s))
        IDX_FAIL(who, path, "shape ", shape.str(), " is absurd: its nonzero sizes multiply past 2^62 (corrupt header)");
      span *= static_cast<uint64_t>(s);
    }
  Tensor t = empty(sizes, TensorOptions(type->loaded));
  const unsigned char* src = p + header;
  int64_t n = static_cast<int64_t>(numel);
  switch (type->code) {
    case 0x08: if (n) std::memcpy(t.data_ptr(), src, static_cast<size_t>(n)); break;
    case 0x09: convert_be<int8_t>(t.data_ptr<int64_t>(), src, n); break;
    case 0x0B: convert_be<int16_t>(t.data_ptr<int64_t>(), src, n); break;
    case 0x0C: convert_be<int32_t>(t.data_ptr<int64_t>(), src, n); break;
    case 0x0D: convert_be<float>(t.data_ptr<float>(), src, n); break;
    case 0x0E: convert_be<double>(t.data_ptr<float>(), src, n); break;
    default: CNNKIT_ASSERT(false, "unhandled IDX type");
  }
  return t;
}

// The first existing of `root/<dir>/<file>[.gz]` over the candidate dirs, or an IOError
// listing every place looked at.
std::string find_file(const std::string& root, const std::vector<std::string>& dirs, const std::string& file,
                      const std::string& who) {
  std::string tried;
  for (const std::string& dir : dirs) {
    for (const char* suffix : {"", ".gz"}) {
      std::filesystem::path p = std::filesystem::path(root) / dir / (file + suffix);
      std::error_code ec;
      if (std::filesystem::is_regular_file(p, ec)) return p.lexically_normal().string();  // no "root/./x" in messages
      tried += (tried.empty() ? "" : ", ") + p.lexically_normal().string();
    }
  }
  ::cnnkit::detail::fail<IOError>(__FILE__, __LINE__, who, ": cannot find '", file, "' (or '", file,
                                  ".gz') under root '", root, "'; looked for ", tried);
}

}  // namespace

namespace detail {
std::string read_file_maybe_gzip(const std::string& path, const std::string& who) {
  std::string bytes = read_whole_file(path, who);
  if (bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f && static_cast<uint8_t>(bytes[1]) == 0x8b)
    return gunzip(bytes, path, who);
  return bytes;
}
}  // namespace detail

Tensor read_idx(const std::string& path) {
  return parse_idx(detail::read_file_maybe_gzip(path, "read_idx"), path, "read_idx");
}

namespace datasets {

MNIST::MNIST(const std::string& root, Mode mode) : MNIST(root, mode, "MNIST", {
    "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
    "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"}) {
  as_float_ = true;  // LibTorch's MNIST gives float images in [0, 1]
}

MNIST::MNIST(const std::string& root, Mode mode, const std::string& name, std::vector<std::string> classes)
    : mode_(mode), classes_(std::move(classes)) {
  const std::string prefix = mode == Mode::kTrain ? "train" : "t10k";
  const std::vector<std::string> dirs = {".", name + "/raw", "raw"};
  std::string images_path = find_file(root, dirs, prefix + "-images-idx3-ubyte", name);
  std::string labels_path = find_file(root, dirs, prefix + "-labels-idx1-ubyte", name);

  std::string img_bytes = detail::read_file_maybe_gzip(images_path, name);
  if (img_bytes.size() >= 4 && (img_bytes[2] != 0x08 || img_bytes[3] != 3))
    IDX_FAIL(name, images_path, "bad magic 0x", std::hex, be32(reinterpret_cast<const unsigned char*>(img_bytes.data())),
             std::dec, ": MNIST images are 0x00000803 (unsigned byte, 3 dims)");
  Tensor images = parse_idx(img_bytes, images_path, name);
  img_bytes = std::string();

  std::string lbl_bytes = detail::read_file_maybe_gzip(labels_path, name);
  if (lbl_bytes.size() >= 4 && (lbl_bytes[2] != 0x08 || lbl_bytes[3] != 1))
    IDX_FAIL(name, labels_path, "bad magic 0x", std::hex, be32(reinterpret_cast<const unsigned char*>(lbl_bytes.data())),
             std::dec, ": MNIST labels are 0x00000801 (unsigned byte, 1 dim)");
  Tensor labels = parse_idx(lbl_bytes, labels_path, name);

  if (images.size(0) != labels.size(0))
    ::cnnkit::detail::fail<IOError>(__FILE__, __LINE__, name, ": '", images_path, "' holds ", images.size(0),
                                    " images but '", labels_path, "' holds ", labels.size(0),
                                    " labels; the files must have one label per image");
  images_ = images.view({images.size(0), 1, images.size(1), images.size(2)});
  targets_ = empty({labels.size(0)}, TensorOptions(kLong));
  const uint8_t* l = labels.data_ptr<uint8_t>();
  int64_t* t = targets_.data_ptr<int64_t>();
  const auto num_classes = static_cast<int64_t>(classes_.size());
  for (int64_t i = 0; i < labels.size(0); ++i) {
    // Checked here: a bad byte would otherwise surface mid-training as a loss error.
    if (l[i] >= num_classes)
      IDX_FAIL(name, labels_path, "label ", int{l[i]}, " at record ", i, " is out of range [0, ", num_classes,
               ") (corrupt file, or not ", name, " labels)");
    t[i] = l[i];
  }
}

Example<> MNIST::get(size_t index) {
  int64_t n = images_.size(0);
  CNNKIT_CHECK(index < static_cast<size_t>(n), "MNIST: index ", index, " out of range for a dataset of ", n,
               " examples");
  int64_t i = static_cast<int64_t>(index);
  Tensor image = images_.select(0, i);
  if (as_float_) {
    // The same float as ToTensor and LibTorch: byte / 255.0f, rounded once.
    Tensor f = cnnkit::empty(image.sizes(), TensorOptions(kFloat));
    const uint8_t* in = image.data_ptr<uint8_t>();
    float* out = f.data_ptr<float>();
    for (int64_t k = 0; k < f.numel(); ++k) out[k] = static_cast<float>(in[k]) / 255.0f;
    return {f, targets_.select(0, i)};
  }
  return {image, targets_.select(0, i)};
}

std::optional<size_t> MNIST::size() const { return static_cast<size_t>(images_.size(0)); }

std::vector<int64_t> MNIST::labels() const {
  const int64_t* t = targets_.data_ptr<int64_t>();
  return std::vector<int64_t>(t, t + targets_.numel());
}

FashionMNIST::FashionMNIST(const std::string& root, Mode mode)
    : MNIST(root, mode, "FashionMNIST",
            {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
             "Ankle boot"}) {}

}  // namespace datasets
}  // namespace cnnkit::data
