// Private to the select layer: the files a model-selection directory holds (JSON written
// atomically, read back with the file named in errors) and the rule that ties a directory to
// one config and one set of settings, so a rerun continues it and another run is refused.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace cnnkit::model_selection::files {

using json = nlohmann::json;

// IOError naming the file when it is unreadable or not JSON.
json read_json(const std::filesystem::path& path);
void write_json(const std::filesystem::path& path, const json& j);
// Makes `dir` the home of one piece of work (`what`: "a cross-validation") described by `settings` (a JSON object, with the
// config's hash among them): a new or empty directory gets `marker` holding them; one whose
// marker holds the same settings is continued; any other is refused with a ValueError naming
// the first setting that differs ("another config", "another 'k' (4 there, 3 here)"). Returns
// the marker's current contents.
json claim_dir(const std::filesystem::path& dir, const std::string& marker, const std::string& what,
               const json& settings);

}  // namespace cnnkit::model_selection::files
