// Private to the train layer: the dataset, loss, optimiser, scheduler and transform sections
// of a run config as tables (transforms, which torchvision configures by keyword arguments
// rather than an options object, as {name, keys, required, build}). One entry per PyTorch class: its name, its keys, each key bound once to the member
// of the library's options type it reads and writes (defaults are the options type's own),
// and the class that checks the values (the optimiser, scheduler or loss itself, built once
// at parse time on a placeholder so a bad value is reported at its line).
#pragma once

#include <memory>
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

// The datasets: names, the keys of the `data:` section a dataset takes (root, paths,
// label_column: the heads of its keys), reading them into DataConfig::source (out.dataset
// named already; unknown `data.paths` keys and missing required ones reported with file:line)
// and writing them back.
const std::vector<std::string_view>& dataset_names();
std::vector<std::string_view> dataset_keys(const std::string& name);
void parse_dataset(const YAML::Node& data, const io::yaml::YamlContext& ctx, DataConfig& out);
void write_dataset(const DataConfig& d, YAML::Node& data);

// The example shape (C, H, W) a dataset fixes (MNIST [1, 28, 28], CIFAR [3, 32, 32]); empty
// when its files decide.
std::vector<int64_t> dataset_shape(const std::string& name);

// One split of the configured dataset, untransformed. `classes` (index = label), when not
// empty, numbers an image folder's class folders and a csv's text labels, so that the test
// split agrees with training.
std::shared_ptr<data::DatasetBase> open_dataset(const RunConfig& cfg, bool train, const std::vector<std::string>& classes);
// The training split's class names without loading it where possible, for a test split
// loaded alone: an image folder's class folders, a csv's text labels. Empty when the
// dataset fixes its classes (MNIST, CIFAR), has none (npy) or the training split is absent.
std::vector<std::string> training_classes(const RunConfig& cfg);
// The first n examples of `ds` (data.subset); ds itself when n <= 0 or n covers it.
std::shared_ptr<data::DatasetBase> first_n(std::shared_ptr<data::DatasetBase> ds, int64_t n);

// What early stopping and ReduceLROnPlateau can watch: the loss, or a metric of a task.
const std::vector<std::string_view>& monitor_names();

}  // namespace cnnkit::train::families
