// Reading a dataset file that may be gzipped (IDX, CIFAR binaries). Not installed: included
// as "data/datasets/gzip_file.h" by src/data/datasets only.
#pragma once

#include <string>

namespace cnnkit::data::detail {
// The whole file's bytes, gunzipped if they start with the gzip magic (1f 8b). `who`
// starts every IOError message ("MNIST", "read_idx", ...).
std::string read_file_maybe_gzip(const std::string& path, const std::string& who);
}  // namespace cnnkit::data::detail
