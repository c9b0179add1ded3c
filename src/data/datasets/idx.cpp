// IDX files (raw or gzipped) and the MNIST / Fashion-MNIST datasets built on them. A file
// is streamed (gunzipped by zlib a chunk at a time), its header validated against what the
// file can hold, and its elements read straight into a tensor. Not here: downloading
// (cnnkit never touches the network) and any float conversion of the pixels
// (transforms::ToTensor does that).
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

// The decompressed bytes of a file, front to back: a raw file as it is, a gzip file (any
// number of concatenated members) inflated from 1 MiB of input at a time. Nothing holds the
// whole file: a reader asks for its bytes straight into their final place (an IDX file's
// tensor), so loading the 47 MB of Fashion-MNIST's images needs 47 MB, not that plus the
// compressed and the decompressed file.
class FileBytes {
 public:
  FileBytes(const std::string& path, const std::string& who) : path_(path), who_(who) {
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) IDX_FAIL(who, path, "no such file");
    if (!std::filesystem::is_regular_file(status)) IDX_FAIL(who, path, "not a regular file");
    f_.open(path, std::ios::binary | std::ios::ate);
    if (!f_) IDX_FAIL(who, path, "cannot open for reading: ", std::strerror(errno));
    const std::streamoff n = f_.tellg();
    if (n < 0) IDX_FAIL(who, path, "cannot read its size");
    file_size_ = static_cast<uint64_t>(n);
    f_.seekg(0);
    unsigned char magic[2] = {0, 0};
    if (file_size_ >= 2) {
      f_.read(reinterpret_cast<char*>(magic), 2);
      f_.seekg(0);
    }
    gzip_ = magic[0] == 0x1f && magic[1] == 0x8b;
    if (gzip_) {
      in_.resize(size_t{1} << 20);
      if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) IDX_FAIL(who, path, "zlib: cannot initialise inflate");
    }
  }
  ~FileBytes() {
    if (gzip_) inflateEnd(&zs_);
  }
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;

  bool gzip() const { return gzip_; }
  uint64_t file_size() const { return file_size_; }
  // The most decompressed bytes the file can hold: its size, or deflate's 1032:1 bound.
  uint64_t max_size() const { return gzip_ ? uint64_t{1032} * file_size_ : file_size_; }
  bool ended() const { return ended_; }    // the gzip stream's end was reached
  bool failed() const { return failed_; }  // a read threw

  // Reads up to n bytes into dst: fewer only at the end of the data.
  size_t read(void* dst, size_t n) {
    failed_ = true;
    size_t got = gzip_ ? inflate_into(static_cast<char*>(dst), n) : read_raw(static_cast<char*>(dst), n);
    failed_ = false;
    produced_ += got;
    return got;
  }

  // Reads and counts the rest of the data, keeping none of it, stopping once past `limit`.
  uint64_t skip_rest(uint64_t limit) {
    std::vector<char> sink(size_t{1} << 16);
    uint64_t n = 0;
    for (size_t got; n <= limit && (got = read(sink.data(), sink.size())) > 0;) n += got;
    return n;
  }

 private:
  size_t read_raw(char* dst, size_t n) {
    f_.read(dst, static_cast<std::streamsize>(n));
    const auto got = static_cast<size_t>(f_.gcount());
    if (got < n && f_.bad()) IDX_FAIL(who_, path_, "cannot read: ", std::strerror(errno));
    return got;
  }

  bool refill() {
    f_.read(in_.data(), static_cast<std::streamsize>(in_.size()));
    const auto got = static_cast<size_t>(f_.gcount());
    if (got == 0 && f_.bad()) IDX_FAIL(who_, path_, "cannot read: ", std::strerror(errno));
    zs_.next_in = reinterpret_cast<Bytef*>(in_.data());
    zs_.avail_in = static_cast<uInt>(got);
    return got > 0;
  }

  size_t inflate_into(char* dst, size_t n) {
    size_t got = 0;
    while (got < n && !ended_) {
      if (zs_.avail_in == 0 && !refill()) {
        if (between_members_) {  // the last member ended with the file: a complete stream
          ended_ = true;
          break;
        }
        IDX_FAIL(who_, path_, "truncated gzip data (the stream ends after ", produced_ + got,
                 " decompressed bytes)");
      }
      between_members_ = false;
      const size_t room = std::min<size_t>(n - got, size_t{1} << 30);
      zs_.next_out = reinterpret_cast<Bytef*>(dst + got);
      zs_.avail_out = static_cast<uInt>(room);
      const int ret = inflate(&zs_, Z_NO_FLUSH);
      got += room - zs_.avail_out;
      if (ret == Z_STREAM_END) {
        inflateReset(&zs_);  // another member may follow
        between_members_ = true;
        continue;
      }
      if (ret == Z_BUF_ERROR && zs_.avail_in == 0) continue;  // more input next turn
      if (ret != Z_OK) {
        const std::string msg = zs_.msg ? zs_.msg : "error code " + std::to_string(ret);
        IDX_FAIL(who_, path_, "corrupt gzip data: ", msg);
      }
    }
    return got;
  }

  std::string path_, who_;
  std::ifstream f_;
  uint64_t file_size_ = 0, produced_ = 0;
  bool gzip_ = false, ended_ = false, between_members_ = false, failed_ = false;
  std::vector<char> in_;
  z_stream zs_{};
};

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

// Thrown inside parse_idx when a gzip stream holds more than its IDX header claims.
struct InflatesPast {
  std::string who, path;
  uint64_t claim;
  InflatesPast(std::string w, std::string p, uint64_t c) : who(std::move(w)), path(std::move(p)), claim(c) {}
};

// What a caller requires of an IDX file's first four bytes (MNIST: unsigned bytes in 3 or 1
// dimensions), and how to say it when they differ.
struct IdxExpect {
  uint8_t type = 0;  // 0: any
  uint8_t ndims = 0;
  const char* says = "";  // e.g. "MNIST images are 0x00000803 (unsigned byte, 3 dims)"
};

// Reads an IDX file (raw or gzipped) into a tensor of its shape, its data read straight into
// the tensor. The header is validated against what the file can hold before anything is
// allocated, so a corrupt header claiming terabytes costs nothing.
Tensor parse_idx(FileBytes& in, const std::string& path, const std::string& who, const IdxExpect& expect) {
  unsigned char p[4 + 4 * 255];
  const size_t got = in.read(p, 4);
  if (got == 4 && expect.type != 0 && (p[2] != expect.type || p[3] != expect.ndims))
    IDX_FAIL(who, path, "bad magic 0x", std::hex, be32(p), std::dec, ": ", expect.says);
  if (got < 4 || p[0] != 0 || p[1] != 0) {
    uint32_t magic = got >= 4 ? be32(p) : 0;
    IDX_FAIL(who, path, "bad magic 0x", std::hex, magic, std::dec,
             ": an IDX file starts with 0x00 0x00 <type> <ndims> (e.g. 0x00000803 for images)");
  }
  const IdxType* type = nullptr;
  for (const auto& t : kIdxTypes)
    if (t.code == p[2]) type = &t;
  if (!type)
    IDX_FAIL(who, path, "bad magic: unknown element type byte 0x", std::hex, int{p[2]}, std::dec,
             " (IDX types are 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)");
  const size_t ndims = p[3];
  const size_t header = 4 + 4 * ndims;
  if (const size_t dims = in.read(p + 4, 4 * ndims); dims < 4 * ndims)
    IDX_FAIL(who, path, "truncated: the file is ", 4 + dims, " bytes, its header of ", ndims, " dimensions needs ",
             header);
  // Saturated far above anything the file can hold: certainly truncated.
  const uint64_t cap = in.max_size() + 1;
  std::vector<int64_t> sizes(ndims);
  uint64_t numel = 1;
  for (size_t d = 0; d < ndims; ++d) {
    sizes[d] = be32(p + 4 + 4 * d);
    numel *= static_cast<uint64_t>(sizes[d]);  // each < 2^32, numel <= cap before: no overflow
    if (numel > cap) numel = cap;
  }
  const uint64_t need = numel * type->size;
  std::ostringstream shape;
  shape << IntArrayRef(sizes);
  auto truncated = [&](uint64_t have) {
    IDX_FAIL(who, path, "truncated: shape ", shape.str(), " of ", type->name, " needs ",
             numel == cap ? std::string("more than the file's") : std::to_string(need), " bytes of data, the file has ",
             have);
  };
  // A claim past the file's size (or deflate's ratio) is refused before allocating it.
  if (need > in.max_size() - std::min<uint64_t>(header, in.max_size()))
    truncated(in.gzip() ? in.skip_rest(in.max_size()) : in.file_size() - std::min<uint64_t>(header, in.file_size()));
  // An empty shape's other sizes still make the tensor's strides: their product must fit.
  uint64_t span = 1;
  for (int64_t s : sizes)
    if (s > 0) {
      if (span > (uint64_t{1} << 62) / static_cast<uint64_t>(s))
        IDX_FAIL(who, path, "shape ", shape.str(), " is absurd: its nonzero sizes multiply past 2^62 (corrupt header)");
      span *= static_cast<uint64_t>(s);
    }
  Tensor t = empty(sizes, TensorOptions(type->loaded));
  const auto n = static_cast<int64_t>(numel);
  if (type->code == 0x08) {
    if (const size_t have = in.read(t.data_ptr(), static_cast<size_t>(n)); have < static_cast<size_t>(n))
      truncated(have);
  } else {
    // Big-endian elements converted a chunk at a time.
    std::vector<unsigned char> chunk(size_t{1} << 16);
    const int64_t per = static_cast<int64_t>(chunk.size() / type->size);
    for (int64_t done = 0; done < n;) {
      const int64_t k = std::min(per, n - done);
      const size_t bytes = static_cast<size_t>(k) * type->size;
      if (const size_t have = in.read(chunk.data(), bytes); have < bytes)
        truncated(static_cast<uint64_t>(done) * type->size + have);
      switch (type->code) {
        case 0x09: convert_be<int8_t>(t.data_ptr<int64_t>() + done, chunk.data(), k); break;
        case 0x0B: convert_be<int16_t>(t.data_ptr<int64_t>() + done, chunk.data(), k); break;
        case 0x0C: convert_be<int32_t>(t.data_ptr<int64_t>() + done, chunk.data(), k); break;
        case 0x0D: convert_be<float>(t.data_ptr<float>() + done, chunk.data(), k); break;
        case 0x0E: convert_be<double>(t.data_ptr<float>() + done, chunk.data(), k); break;
        default: CNNKIT_ASSERT(false, "unhandled IDX type");
      }
      done += k;
    }
  }
  unsigned char extra;
  if (in.read(&extra, 1) == 1) {
    if (in.gzip())  // stopped there: a decompression bomb behind a small header inflates no further
      throw InflatesPast(who, path, header + need);
    IDX_FAIL(who, path, "the file has ", in.file_size() - header - need, " bytes after the data of shape ",
             shape.str(), " of ", type->name, " (corrupt or not an IDX file)");
  }
  return t;
}

// An IDX file (raw or gzipped) as a tensor of its shape. A gzip stream is parsed as it
// inflates, so a damaged one can first show as a bad header or a short body: such an error
// is replaced by the gzip stream's own (a bad CRC, a corrupt block) when reading the rest of
// the stream finds one.
Tensor read_idx_file(const std::string& path, const std::string& who, const IdxExpect& expect = {}) {
  FileBytes in(path, who);
  try {
    return parse_idx(in, path, who, expect);
  } catch (const InflatesPast& e) {
    IDX_FAIL(who, path, "the gzip data inflates past the ", e.claim, " bytes its IDX header claims (a "
             "decompression bomb, or not an IDX file); stopped there");
  } catch (const IOError&) {
    if (in.gzip() && !in.failed() && !in.ended()) in.skip_rest(in.max_size());  // throws the gzip error
    throw;
  }
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
std::string read_file_maybe_gzip(const std::string& path, const std::string& who, uint64_t max_bytes) {
  FileBytes in(path, who);
  std::string bytes;
  if (!in.gzip()) bytes.reserve(static_cast<size_t>(std::min(in.file_size(), max_bytes + 1)));
  std::vector<char> chunk(size_t{1} << 16);
  for (size_t got; (got = in.read(chunk.data(), chunk.size())) > 0;) {
    if (bytes.size() + got > max_bytes)
      IDX_FAIL(who, path, in.gzip() ? "the gzip data inflates" : "the file is", " past ", max_bytes,
               " bytes, the most this reader takes (a decompression bomb, or not a ", who, " file); stopped there");
    bytes.append(chunk.data(), got);
  }
  return bytes;
}
}  // namespace detail

Tensor read_idx(const std::string& path) { return read_idx_file(path, "read_idx"); }

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

  const std::string images_says = name + " images are 0x00000803 (unsigned byte, 3 dims)";
  const std::string labels_says = name + " labels are 0x00000801 (unsigned byte, 1 dim)";
  Tensor images = read_idx_file(images_path, name, {0x08, 3, images_says.c_str()});
  Tensor labels = read_idx_file(labels_path, name, {0x08, 1, labels_says.c_str()});

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
