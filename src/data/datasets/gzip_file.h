// Reading a dataset file that may be gzipped (IDX, CIFAR binaries). Not installed: included
// as "data/datasets/gzip_file.h" by src/data/datasets only.
#pragma once

#include <cstdint>
#include <string>

namespace cnnkit::data::detail {
// The whole file's bytes, gunzipped if they start with the gzip magic (1f 8b), read in
// chunks (no copy of the compressed file is held). More than `max_bytes` is an IOError, so a
// decompression bomb stops there. `who` starts every IOError message ("CIFAR10", ...).
std::string read_file_maybe_gzip(const std::string& path, const std::string& who, uint64_t max_bytes);
}  // namespace cnnkit::data::detail
