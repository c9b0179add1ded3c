// Atomic file writes: every file cnnkit saves (weights, checkpoints, .npy, images, configs,
// logs rewritten on resume) goes through here, so a crash or a full disk leaves either the
// old file or the complete new one, never half of either.
//
//   io::AtomicFile f("runs/x/model.safetensors", "save_safetensors");
//   f.write(header.data(), header.size());  f.write(bytes, n);
//   f.commit();                               // fsync, rename over the target, fsync the dir
//   io::write_file_atomic("runs/x/config.yaml", text, "train");
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace cnnkit {
namespace io {

class AtomicFile {
 public:
  // Opens `path`.tmp for writing; `what` names the caller in error messages.
  AtomicFile(std::string path, std::string what);
  ~AtomicFile();  // without commit(): the temporary file is removed, the target untouched
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  void commit();

 private:
  [[noreturn]] void fail(const char* action);
  std::string path_, tmp_, what_;
  int fd_ = -1;
};

void write_file_atomic(const std::string& path, std::string_view bytes, const std::string& what);

}  // namespace io
}  // namespace cnnkit
