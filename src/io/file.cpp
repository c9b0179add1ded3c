// AtomicFile: temp file + fsync + rename (+ fsync of the directory, best effort). POSIX only.
#include "cnnkit/io/file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cnnkit/core/error.h"

namespace cnnkit {
namespace io {

AtomicFile::AtomicFile(std::string path, std::string what)
    : path_(std::move(path)), tmp_(path_ + ".tmp"), what_(std::move(what)) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  CNNKIT_CHECK_IO(fd_ >= 0, what_, ": cannot open '", tmp_, "' for writing: ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::fail(const char* action) {
  const int err = errno;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
  CNNKIT_CHECK_IO(false, what_, ": ", action, " '", tmp_, "' failed: ", std::strerror(err));
  __builtin_unreachable();
}

void AtomicFile::write(const void* data, size_t n) {
  CNNKIT_ASSERT(fd_ >= 0, "AtomicFile::write after commit or failure");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("writing");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::commit() {
  CNNKIT_ASSERT(fd_ >= 0, "AtomicFile::commit twice or after a failure");
  if (::fsync(fd_) != 0) fail("fsync of");
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    CNNKIT_CHECK_IO(false, what_, ": closing '", tmp_, "' failed: ", std::strerror(err));
  }
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_.c_str());
    CNNKIT_CHECK_IO(false, what_, ": cannot rename '", tmp_, "' to '", path_, "': ", std::strerror(err));
  }
  // Make the rename itself durable; some filesystems refuse to fsync a directory.
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what) {
  AtomicFile f(path, what);
  f.write(bytes);
  f.commit();
}

}  // namespace io
}  // namespace cnnkit
