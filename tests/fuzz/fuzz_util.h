// What every libFuzzer target of tests/fuzz shares: the contract check and the temporary
// files for readers that only take a path. The contract: an input either loads or is
// rejected with a cnnkit::Error that says why. Anything else escapes to libFuzzer, which
// reports it as a crash: another exception type (std::bad_alloc after a huge size claim,
// std::out_of_range, ...), an InternalError (a broken invariant is a cnnkit bug whatever the
// input), an empty message, a sanitizer report, a leak, a timeout.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cnnkit/core/error.h"

namespace cnnkit::fuzz {

// Runs `load`; returns true when it loaded, false when it threw a cnnkit::Error with a
// message. Aborts (a libFuzzer crash, with the message on stderr) on an InternalError or an
// empty message; other exception types propagate out of LLVMFuzzerTestOneInput (an
// uncaught exception: also a crash).
template <typename F>
bool loads(F&& load) {
  try {
    load();
    return true;
  } catch (const InternalError& e) {
    std::fprintf(stderr, "cnnkit fuzz: InternalError (a cnnkit bug): %s\n", e.what());
    std::abort();
  } catch (const Error& e) {
    if (e.what()[0] == '\0') {
      std::fprintf(stderr, "cnnkit fuzz: a cnnkit::Error without a message\n");
      std::abort();
    }
    // CNNKIT_FUZZ_VERBOSE=1: every rejection's message (to check what seeds and dictionaries reach).
    static const bool verbose = std::getenv("CNNKIT_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "cnnkit fuzz: rejected: %s\n", e.what());
    return false;
  }
}

// A directory of this process's own (under /dev/shm when there is one: the readers under
// test open files, and a tmpfs keeps that off the disk), removed at exit.
inline const std::filesystem::path& scratch_dir() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      std::error_code ec;
      std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec)
                                       ? std::filesystem::path("/dev/shm")
                                       : std::filesystem::temp_directory_path();
      path = base / ("cnnkit-fuzz-" + std::to_string(::getpid()));
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static Dir dir;
  return dir.path;
}

// Writes the input to scratch_dir()/name (replacing what was there) and returns the path.
inline std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (scratch_dir() / name).string();
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  f.close();
  if (!f) {
    std::fprintf(stderr, "cnnkit fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace cnnkit::fuzz
