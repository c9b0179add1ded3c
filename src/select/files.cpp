#include "select/files.h"

#include <fmt/format.h>

#include <fstream>

#include "cnnkit/core/error.h"
#include "cnnkit/io/file.h"

namespace cnnkit::model_selection::files {

namespace fs = std::filesystem;


json read_json(const fs::path& path) {
  std::ifstream in(path);
  CNNKIT_CHECK_IO(in.good(), "cannot read ", path.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw IOError(path.string() + ": not valid JSON (" + e.what() + "); remove it to start over");
  }
}

void write_json(const fs::path& path, const json& j) {
  io::write_file_atomic(path.string(), j.dump(2) + "\n", "model selection");
}

json claim_dir(const fs::path& dir, const std::string& marker, const std::string& what, const json& settings) {
  std::error_code ec;
  if (fs::exists(dir / marker, ec)) {
    const json before = read_json(dir / marker);
    for (const auto& [key, value] : settings.items())
      if (!before.contains(key) || before.at(key) != value)
        throw ValueError(fmt::format(
            "{} holds {} made with another {} ({} there, {} here): use another --output directory, or remove it "
            "to start over",
            dir.string(), what, key == "config_hash" ? "config" : "'" + key + "'",
            before.value(key, json()).dump(), value.dump()));
    return before;
  }
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec))
    throw ValueError(fmt::format("{} exists and holds no {}: use another --output directory", dir.string(), marker));
  fs::create_directories(dir);
  write_json(dir / marker, settings);
  return settings;
}

}  // namespace cnnkit::model_selection::files
