// POSIX ustar archives, the container of data/shards.h: a writer of regular-file members and
// a streaming reader that holds one member at a time. Each member is a 512-byte header (name,
// octal size, checksum over the header) and its bytes padded to 512; two zero blocks end the
// archive. The reader verifies every checksum and size against the bytes left in the file, so
// a corrupt or truncated shard is an IOError naming the file, the member and what is wrong,
// never a short read taken for data. It also reads what GNU tar and Python's tarfile write
// (GNU long names, pax path records; directories and global pax headers are skipped).
// Private to the data layer (tests include it for the round trip).
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace cnnkit::data::tar {

constexpr size_t kBlock = 512;

// The bytes of one member's header (ustar, mode 0644, mtime 0, so shards are reproducible).
// ValueError for a name that does not fit ustar's 100 + 155 bytes.
std::string header(const std::string& name, uint64_t size);
// Zero padding after `size` bytes of content, to the next block.
inline size_t padding(uint64_t size) { return static_cast<size_t>((kBlock - size % kBlock) % kBlock); }
// The end-of-archive marker: two zero blocks.
std::string end_of_archive();

struct Member {
  std::string name;
  std::string data;
  uint64_t offset = 0;  // of its header in the file
};

class Reader {
 public:
  // IOError naming the file when it is missing or unreadable.
  explicit Reader(std::string path);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The next regular-file member; false at the end of the archive. `want(name)`, asked once
  // the member's header is read, decides whether its bytes are read into out.data or skipped
  // (seeked over: a scan of names and sizes, or a sample another reader owns).
  bool next(Member& out, const std::function<bool(const std::string& name)>& want);
  bool next(Member& out) {
    return next(out, [](const std::string&) { return true; });
  }
  const std::string& path() const { return path_; }

 private:
  [[noreturn]] void fail_at(uint64_t offset, const std::string& what) const;
  bool read_block(unsigned char* block);  // false at a clean end of file
  // IOError naming the member unless n more bytes are left in the file.
  void check_left(uint64_t n, const std::string& member, uint64_t declared) const;
  void read_bytes(void* dst, uint64_t n, const std::string& member, uint64_t declared);
  void skip_bytes(uint64_t n, const std::string& member, uint64_t declared);

  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t size_ = 0, pos_ = 0;
  std::string last_;  // the previous member's name, for errors in the header after it
};

}  // namespace cnnkit::data::tar
