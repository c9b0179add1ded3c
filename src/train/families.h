// Private to the train layer: the loss, optimiser and scheduler sections of a run config as
// tables. One entry per PyTorch class: its name, its keys, each key bound once to the member
// of the library's options type it reads and writes (defaults are the options type's own),
// and the class that checks the values (the optimiser, scheduler or loss itself, built once
// at parse time on a placeholder so a bad value is reported at its line).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cnnkit/train/config.h"
#include "io/yaml.h"

namespace cnnkit::train::families {

// Parse a section ("loss: CrossEntropyLoss" or a mapping with `name` and PyTorch's arguments)
// into the config: unknown names and keys with did-you-mean, types and values with file:line.
void parse_loss(const YAML::Node& section, const io::yaml::YamlContext& ctx, LossConfig& out);
void parse_optimizer(const YAML::Node& section, const io::yaml::YamlContext& ctx, OptimizerConfig& out);
void parse_scheduler(const YAML::Node& section, const io::yaml::YamlContext& ctx, SchedulerConfig& out);

// The sections as YAML, every key of the class written (what the run uses).
YAML::Node loss_yaml(const LossConfig& loss);
YAML::Node optimizer_yaml(const OptimizerConfig& optimizer);
YAML::Node scheduler_yaml(const SchedulerConfig& scheduler, int64_t epochs);

// The keys a class of a section takes ("name" and the section's own keys included): what
// `--set optimizer.name=Adam` keeps.
std::vector<std::string_view> section_keys(std::string_view section, const std::string& name);

// What early stopping and ReduceLROnPlateau can watch: the loss, or a metric of a task.
const std::vector<std::string_view>& monitor_names();

}  // namespace cnnkit::train::families
