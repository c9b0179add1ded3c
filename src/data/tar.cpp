// ustar writing and streaming reading (tar.h). Header layout (POSIX.1-1988 ustar): name 0..99,
// mode 100, uid 108, gid 116, size 124 (11 octal digits + NUL), mtime 136, checksum 148 (the
// unsigned byte sum of the header with the checksum field as 8 spaces; 6 octal digits, NUL,
// space), typeflag 156, linkname 157, magic "ustar\0" 257, version "00" 263, uname 265,
// gname 297, devmajor 329, devminor 337, prefix 345..499.
#include "data/tar.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "cnnkit/core/error.h"

namespace cnnkit::data::tar {

namespace {

void put_octal(char* field, size_t width, uint64_t value) {
  // width - 1 digits, then NUL
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[width - 1] = '\0';
}

uint32_t checksum(const unsigned char* h) {
  uint32_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
  return sum;
}

// An octal field: digits, optionally surrounded by spaces and ended by NUL or space. GNU's
// base-256 form (high bit set) for sizes >= 8 GiB is read too.
bool parse_octal(const unsigned char* field, size_t width, uint64_t& out) {
  if (field[0] & 0x80) {
    uint64_t v = field[0] & 0x7f;
    for (size_t i = 1; i < width; ++i) {
      if (v >> 55) return false;
      v = (v << 8) | field[i];
    }
    out = v;
    return true;
  }
  size_t i = 0;
  while (i < width && field[i] == ' ') ++i;
  uint64_t v = 0;
  bool any = false;
  for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (v >> 60) return false;
    v = v * 8 + static_cast<uint64_t>(field[i] - '0');
    any = true;
  }
  for (; i < width; ++i)
    if (field[i] != ' ' && field[i] != '\0') return false;
  out = v;
  return any;
}

std::string field_string(const unsigned char* p, size_t width) {
  size_t n = 0;
  while (n < width && p[n] != '\0') ++n;
  return std::string(reinterpret_cast<const char*>(p), n);
}

bool all_zero(const unsigned char* block) {
  return std::all_of(block, block + kBlock, [](unsigned char c) { return c == 0; });
}

std::string octal_text(uint64_t v) {
  std::ostringstream os;
  os << std::oct << v;
  return os.str();
}

}  // namespace

std::string header(const std::string& name, uint64_t size) {
  std::string h(kBlock, '\0');
  char* p = h.data();
  // Names up to 100 bytes go in `name`; longer ones are split at a '/' into prefix + name.
  std::string base = name, prefix;
  if (base.size() > 100) {
    const size_t cut = name.rfind('/', 155);
    CNNKIT_CHECK(cut != std::string::npos && cut > 0 && name.size() - cut - 1 <= 100 && name.size() - cut - 1 > 0,
                 "tar: member name '", name, "' does not fit a ustar header (100 bytes, or a directory part of at "
                 "most 155 and a file name of at most 100)");
    prefix = name.substr(0, cut);
    base = name.substr(cut + 1);
  }
  std::memcpy(p, base.data(), base.size());
  put_octal(p + 100, 8, 0644);
  put_octal(p + 108, 8, 0);
  put_octal(p + 116, 8, 0);
  CNNKIT_CHECK(size < (uint64_t{1} << 33), "tar: member '", name, "' of ", size, " bytes is over ustar's 8 GiB");
  put_octal(p + 124, 12, size);
  put_octal(p + 136, 12, 0);
  p[156] = '0';
  std::memcpy(p + 257, "ustar", 6);  // with its NUL
  std::memcpy(p + 263, "00", 2);
  std::memcpy(p + 345, prefix.data(), prefix.size());
  const uint32_t sum = checksum(reinterpret_cast<const unsigned char*>(p));
  put_octal(p + 148, 7, sum);  // six digits and NUL ...
  p[155] = ' ';                // ... then a space, as tar writes it
  return h;
}

std::string end_of_archive() { return std::string(2 * kBlock, '\0'); }

Reader::Reader(std::string path) : path_(std::move(path)) {
  struct stat st{};
  CNNKIT_CHECK_IO(::stat(path_.c_str(), &st) == 0, path_, ": cannot open shard: ", std::strerror(errno));
  CNNKIT_CHECK_IO(S_ISREG(st.st_mode), path_, ": not a regular file");
  f_ = std::fopen(path_.c_str(), "rb");
  CNNKIT_CHECK_IO(f_ != nullptr, path_, ": cannot open shard: ", std::strerror(errno));
  size_ = static_cast<uint64_t>(st.st_size);
}

Reader::~Reader() {
  if (f_) std::fclose(f_);
}

void Reader::fail_at(uint64_t offset, const std::string& what) const {
  std::ostringstream os;
  os << path_ << ": " << what << " (header at byte " << offset;
  if (!last_.empty()) os << ", after member " << last_;
  os << ")";
  throw IOError(os.str());
}

bool Reader::read_block(unsigned char* block) {
  if (pos_ == size_) return false;
  if (size_ - pos_ < kBlock)
    fail_at(pos_, "truncated: " + std::to_string(size_ - pos_) + " bytes left where a 512-byte header starts");
  if (std::fread(block, 1, kBlock, f_) != kBlock) fail_at(pos_, std::string("read error: ") + std::strerror(errno));
  pos_ += kBlock;
  return true;
}

void Reader::check_left(uint64_t n, const std::string& member, uint64_t declared) const {
  const uint64_t left = size_ - pos_;
  if (left < n)
    throw IOError(path_ + ": member " + member + ": truncated (header says " + std::to_string(declared) +
                  " bytes, " + std::to_string(left) + " left)");
}

void Reader::read_bytes(void* dst, uint64_t n, const std::string& member, uint64_t declared) {
  const uint64_t need = n + padding(n);
  check_left(n, member, declared);
  if (n && std::fread(dst, 1, n, f_) != n)
    throw IOError(path_ + ": member " + member + ": read error: " + std::strerror(errno));
  pos_ += n;
  const uint64_t pad = std::min<uint64_t>(need - n, size_ - pos_);
  if (pad) {
    if (std::fseek(f_, static_cast<long>(pad), SEEK_CUR) != 0)
      throw IOError(path_ + ": member " + member + ": seek error: " + std::strerror(errno));
    pos_ += pad;
  }
}

void Reader::skip_bytes(uint64_t n, const std::string& member, uint64_t declared) {
  const uint64_t left = size_ - pos_;
  if (left < n)
    throw IOError(path_ + ": member " + member + ": truncated (header says " + std::to_string(declared) +
                  " bytes, " + std::to_string(left) + " left)");
  const uint64_t step = std::min<uint64_t>(n + padding(n), left);
  if (std::fseek(f_, static_cast<long>(pos_ + step), SEEK_SET) != 0)
    throw IOError(path_ + ": member " + member + ": seek error: " + std::strerror(errno));
  pos_ += step;
}

bool Reader::next(Member& out, const std::function<bool(const std::string& name)>& want) {
  unsigned char h[kBlock];
  std::string long_name;  // from a GNU 'L' or pax 'x' record before the member
  for (;;) {
    const uint64_t offset = pos_;
    if (!read_block(h))
      fail_at(offset, "ends without the end-of-archive blocks: truncated at a member boundary?");
    if (all_zero(h)) return false;  // end of archive (a second zero block may follow)
    uint64_t stored = 0;
    if (!parse_octal(h + 148, 8, stored))
      fail_at(offset, "corrupt header: the checksum field is not octal (not a tar file, or damaged)");
    const uint32_t computed = checksum(h);
    if (stored != computed) {
      const std::string name = field_string(h, 100);
      fail_at(offset, "corrupt header" + (name.empty() ? std::string() : " of member '" + name + "'") +
                          ": checksum " + octal_text(stored) + " stored, " + octal_text(computed) + " computed");
    }
    std::string name = field_string(h, 100);
    if (std::memcmp(h + 257, "ustar", 5) == 0) {
      const std::string prefix = field_string(h + 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    if (!long_name.empty()) name = long_name;
    uint64_t size = 0;
    if (!parse_octal(h + 124, 12, size) && !(h[124] == 0))
      fail_at(offset, "member " + name + ": corrupt header: the size field is not a number");
    const char type = static_cast<char>(h[156]);
    if (type == 'L' || type == 'x') {  // the next member's long name
      check_left(size, name, size);  // before allocating what the header claims (up to 8 GiB)
      std::string record(size, '\0');
      read_bytes(record.data(), size, name, size);
      if (type == 'L') {
        long_name = record.substr(0, record.find('\0'));
      } else {  // pax records: "LEN key=value\n" ...
        for (size_t at = 0; at < record.size();) {
          const size_t sp = record.find(' ', at);
          if (sp == std::string::npos) break;
          const size_t len = std::strtoull(record.c_str() + at, nullptr, 10);
          // len against what is left, not at + len against the size: a length near 2^64 wraps
          // at + len around, and the loop went back to an earlier record forever.
          if (len == 0 || len > record.size() - at || sp + 2 > at + len)
            fail_at(offset, "corrupt pax header of member " + name);
          const std::string kv = record.substr(sp + 1, at + len - sp - 2);
          if (kv.rfind("path=", 0) == 0) long_name = kv.substr(5);
          at += len;
        }
      }
      continue;
    }
    if (type == '5' || type == 'g') {  // a directory, a global pax header: nothing to read
      skip_bytes(type == 'g' ? size : 0, name, size);
      long_name.clear();
      continue;
    }
    if (type != '0' && type != '\0' && type != '7')
      fail_at(offset, "member " + name + ": type '" + std::string(1, type) +
                          "' is not a regular file (links and devices are not samples)");
    out.name = name;
    out.offset = offset;
    if (!want(name)) {
      out.data.clear();
      skip_bytes(size, name, size);
    } else {
      check_left(size, name, size);
      out.data.resize(size);
      read_bytes(out.data.data(), size, name, size);
    }
    last_ = name;
    return true;
  }
}

}  // namespace cnnkit::data::tar
