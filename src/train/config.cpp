// Run configs: YAML -> RunConfig (strict: every key and type checked with file:line), the
// --set overrides, the resolved config written back as YAML, and the builders that turn a
// RunConfig into the run's model, loss, optimiser, scheduler and datasets. The reading
// helpers are models/yaml_util.h's; this file knows what each section means.
#include "cnnkit/train/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cnnkit/core/error.h"
#include "cnnkit/models/yaml_util.h"

namespace cnnkit::train {

namespace fs = std::filesystem;
using models::as;
using models::check_keys;
using models::fail;
using models::get;
using models::has;
using models::YamlContext;

namespace {

const std::vector<std::string_view> kDatasets = {"fashion-mnist", "mnist", "cifar10", "cifar100",
                                                 "image-folder", "npy", "csv"};
const std::vector<std::string_view> kLosses = {
    "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
    "BCELoss", "BCEWithLogitsLoss", "MultiLabelSoftMarginLoss"};
const std::vector<std::string_view> kOptimizers = {"SGD", "Adam", "AdamW", "Adagrad", "RMSprop"};
const std::vector<std::string_view> kSchedulers = {
    "none", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts", "ReduceLROnPlateau", "LinearLR", "OneCycleLR"};

// A name from a fixed list; unknown -> "file:line: unknown <what> 'x' (one of: ...); did you mean 'y'?"
std::string one_of(const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                   const std::vector<std::string_view>& names, std::string_view what,
                   std::string default_value) {
  if (!has(map, key)) return default_value;
  const YAML::Node node = map[std::string(key)];
  const std::string value = as<std::string>(node, ctx, "key '" + std::string(key) + "'");
  if (std::find(names.begin(), names.end(), value) != names.end()) return value;
  std::string msg = "unknown " + std::string(what) + " '" + value + "' (one of:";
  for (size_t i = 0; i < names.size(); ++i) msg += (i ? ", " : " ") + std::string(names[i]);
  msg += ")";
  const std::string hint = models::closest(value, names);
  if (!hint.empty()) msg += "; did you mean '" + hint + "'?";
  fail(node, ctx, msg);
}

// map[key] for reading: a null node when `map` is not a mapping or lacks the key (yaml-cpp's
// operator[] on a missing key yields a node that throws when indexed further).
YAML::Node sub(const YAML::Node& map, const char* key) {
  if (!map.IsMap()) return YAML::Node();
  const YAML::Node v = map[key];
  return v.IsDefined() ? v : YAML::Node();
}

// Range checks at the key's line: "file:7: key 'lr': must be > 0, got -1".
void check_value(bool ok, const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                 std::string_view rule) {
  if (ok) return;
  const YAML::Node node = has(map, key) ? map[std::string(key)] : map;
  fail(node, ctx, "key '" + std::string(key) + "': must be " + std::string(rule) + ", got " +
                      models::describe(node));
}

double positive(const YAML::Node& map, std::string_view key, const YamlContext& ctx, double def) {
  const double v = get<double>(map, key, ctx, def);
  check_value(v > 0 && std::isfinite(v), map, key, ctx, "> 0");
  return v;
}
double non_negative(const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                    double def) {
  const double v = get<double>(map, key, ctx, def);
  check_value(v >= 0 && std::isfinite(v), map, key, ctx, ">= 0");
  return v;
}
int64_t positive_int(const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                     int64_t def) {
  const int64_t v = get<int64_t>(map, key, ctx, def);
  check_value(v > 0, map, key, ctx, "> 0");
  return v;
}
int64_t non_negative_int(const YAML::Node& map, std::string_view key, const YamlContext& ctx,
                         int64_t def) {
  const int64_t v = get<int64_t>(map, key, ctx, def);
  check_value(v >= 0, map, key, ctx, ">= 0");
  return v;
}

std::vector<TransformSpec> parse_transforms(const YAML::Node& list, const YamlContext& ctx,
                                            const std::string& section) {
  std::vector<TransformSpec> out;
  if (!list.IsDefined() || list.IsNull()) return out;
  if (!list.IsSequence())
    fail(list, ctx, section + ": expected a list of transforms, got " + models::describe(list));
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    TransformSpec t;
    t.line = item.Mark().line;
    if (item.IsScalar()) {  // - ToTensor
      t.name = item.Scalar();
      t.args = YAML::Node(YAML::NodeType::Map);
    } else if (item.IsMap() && has(item, "name")) {  // - {name: RandomCrop, size: 28}
      t.name = as<std::string>(item["name"], ctx, section + "[" + std::to_string(i) + "].name");
      t.args = YAML::Node(YAML::NodeType::Map);
      for (auto it = item.begin(); it != item.end(); ++it)
        if (it->first.Scalar() != "name") t.args[it->first] = it->second;
    } else if (item.IsMap() && item.size() == 1) {  // - RandomCrop: {size: 28}
      const auto it = item.begin();
      t.name = as<std::string>(it->first, ctx, section + "[" + std::to_string(i) + "]");
      const YAML::Node args = it->second;
      if (args.IsNull() || !args.IsDefined()) {
        t.args = YAML::Node(YAML::NodeType::Map);
      } else if (args.IsMap()) {
        t.args = args;
      } else {
        fail(args, ctx, section + "[" + std::to_string(i) + "] " + t.name +
                            ": expected a mapping of arguments ({size: 28, padding: 2}), got " +
                            models::describe(args));
      }
    } else {
      fail(item, ctx, section + "[" + std::to_string(i) +
                          "]: expected a transform name, {Name: {args}} or {name: Name, ...}, got " +
                          models::describe(item));
    }
    out.push_back(std::move(t));
  }
  return out;
}

void parse_data(const YAML::Node& n, const YamlContext& ctx, DataConfig& d) {
  check_keys(n, {"dataset", "root", "paths", "label_column", "image_shape", "split", "subset",
                 "normalize", "clean", "batch_size", "eval_batch_size", "workers", "transforms"},
             ctx, "data");
  d.dataset = one_of(n, "dataset", ctx, kDatasets, "dataset", d.dataset);
  d.root = get<std::string>(n, "root", ctx, "");
  if (d.root.empty() && (d.dataset == "fashion-mnist"))
    d.root = "/usr/share/datasets/fashion-mnist";
  const YAML::Node paths = sub(n, "paths");
  check_keys(paths, {"train_images", "train_labels", "test_images", "test_labels", "train", "test"},
             ctx, "data.paths");
  d.train_images = get<std::string>(paths, "train_images", ctx, "");
  d.train_labels = get<std::string>(paths, "train_labels", ctx, "");
  d.test_images = get<std::string>(paths, "test_images", ctx, "");
  d.test_labels = get<std::string>(paths, "test_labels", ctx, "");
  d.train = get<std::string>(paths, "train", ctx, "");
  d.test = get<std::string>(paths, "test", ctx, "");
  d.label_column = get<std::string>(n, "label_column", ctx, d.label_column);
  d.image_shape = get<std::vector<int64_t>>(n, "image_shape", ctx, {});
  if (!d.image_shape.empty())
    check_value(d.image_shape.size() == 3 &&
                    std::all_of(d.image_shape.begin(), d.image_shape.end(),
                                [](int64_t s) { return s > 0; }),
                n, "image_shape", ctx, "three positive sizes [C, H, W]");
  const bool needs_root = d.dataset == "mnist" || d.dataset == "cifar10" ||
                          d.dataset == "cifar100" ||
                          (d.dataset == "image-folder" && (d.train.empty() || d.test.empty()));
  if (needs_root && d.root.empty())
    fail(n, ctx, "data: dataset '" + d.dataset + "' needs key 'root' (the data directory)");
  if (d.dataset == "npy") {
    for (auto [key, value] : {std::pair<const char*, std::string&>{"train_images", d.train_images},
                              {"train_labels", d.train_labels}, {"test_images", d.test_images},
                              {"test_labels", d.test_labels}})
      if (value.empty())
        fail(paths.IsDefined() ? paths : n, ctx,
             std::string("data.paths: dataset 'npy' needs key '") + key + "'");
  }
  if (d.dataset == "csv") {
    if (d.train.empty() || d.test.empty())
      fail(paths.IsDefined() ? paths : n, ctx, "data.paths: dataset 'csv' needs keys 'train' and 'test'");
    if (d.image_shape.empty())
      fail(n, ctx, "data: dataset 'csv' needs key 'image_shape' ([C, H, W] of a row's pixels)");
  }

  const YAML::Node split = sub(n, "split");
  check_keys(split, {"val", "stratified", "seed"}, ctx, "data.split");
  d.val_fraction = get<double>(split, "val", ctx, d.val_fraction);
  check_value(d.val_fraction >= 0 && d.val_fraction < 1, split, "val", ctx, "in [0, 1)");
  d.stratified = get<bool>(split, "stratified", ctx, d.stratified);
  d.split_seed = static_cast<uint64_t>(non_negative_int(split, "seed", ctx, 0));

  const YAML::Node subset = sub(n, "subset");
  check_keys(subset, {"train", "test"}, ctx, "data.subset");
  d.subset_train = non_negative_int(subset, "train", ctx, 0);
  d.subset_test = non_negative_int(subset, "test", ctx, 0);

  // normalize: auto | none | {mean: [...], std: [...]}
  const YAML::Node norm = sub(n, "normalize");
  d.normalize = "auto";
  d.mean.clear();
  d.std.clear();
  if (norm.IsDefined() && !norm.IsNull()) {
    if (norm.IsScalar()) {
      bool flag = true;
      if (norm.Scalar() == "auto" || norm.Scalar() == "none") {
        d.normalize = norm.Scalar();
      } else if (YAML::convert<bool>::decode(norm, flag)) {
        d.normalize = flag ? "auto" : "none";
      } else {
        fail(norm, ctx, "key 'normalize': expected auto, none or {mean: [...], std: [...]}, got " +
                            models::describe(norm));
      }
    } else {
      check_keys(norm, {"mean", "std"}, ctx, "data.normalize");
      d.normalize = "explicit";
      d.mean = models::require<std::vector<double>>(norm, "mean", ctx, "data.normalize");
      d.std = models::require<std::vector<double>>(norm, "std", ctx, "data.normalize");
      check_value(!d.mean.empty() && d.mean.size() == d.std.size(), norm, "std", ctx,
                  "as long as 'mean' (one value per channel)");
      for (double s : d.std) check_value(s > 0, norm, "std", ctx, "> 0 for every channel");
    }
  }
  d.clean = get<bool>(n, "clean", ctx, false);
  d.batch_size = positive_int(n, "batch_size", ctx, 64);
  d.eval_batch_size = positive_int(n, "eval_batch_size", ctx, 256);
  d.workers = non_negative_int(n, "workers", ctx, 2);

  const YAML::Node tr = sub(n, "transforms");
  check_keys(tr, {"train", "eval"}, ctx, "data.transforms");
  d.train_transforms = parse_transforms(sub(tr, "train"), ctx,
                                        "data.transforms.train");
  d.eval_transforms = parse_transforms(sub(tr, "eval"), ctx,
                                       "data.transforms.eval");
}

void parse_loss(const YAML::Node& n, const YamlContext& ctx, LossConfig& l) {
  if (n.IsDefined() && n.IsScalar()) {  // loss: CrossEntropyLoss
    YAML::Node map;
    map["name"] = n;
    return parse_loss(map, ctx, l);
  }
  models::check_map(n.IsDefined() && !n.IsNull() ? n : YAML::Node(YAML::NodeType::Map), ctx, "loss");
  l.name = one_of(n, "name", ctx, kLosses, "loss", l.name);
  std::vector<std::string_view> keys = {"name", "reduction"};
  if (l.name == "CrossEntropyLoss") keys.insert(keys.end(), {"weight", "ignore_index", "label_smoothing"});
  if (l.name == "NLLLoss") keys.insert(keys.end(), {"weight", "ignore_index"});
  if (l.name == "SmoothL1Loss") keys.push_back("beta");
  if (l.name == "HuberLoss") keys.push_back("delta");
  if (l.name == "BCELoss" || l.name == "MultiLabelSoftMarginLoss") keys.push_back("weight");
  if (l.name == "BCEWithLogitsLoss") keys.insert(keys.end(), {"weight", "pos_weight"});
  check_keys(n, keys, ctx, "loss " + l.name);
  l.reduction = one_of(n, "reduction", ctx, {"mean", "sum", "none"}, "reduction", "mean");
  l.label_smoothing = get<double>(n, "label_smoothing", ctx, 0.0);
  check_value(l.label_smoothing >= 0 && l.label_smoothing <= 1, n, "label_smoothing", ctx,
              "in [0, 1]");
  l.ignore_index = get<int64_t>(n, "ignore_index", ctx, -100);
  l.weight = get<std::vector<double>>(n, "weight", ctx, {});
  l.pos_weight = get<std::vector<double>>(n, "pos_weight", ctx, {});
  l.beta = non_negative(n, "beta", ctx, 1.0);
  l.delta = positive(n, "delta", ctx, 1.0);
}

void parse_optimizer(const YAML::Node& n, const YamlContext& ctx, OptimizerConfig& o) {
  models::check_map(n.IsDefined() && !n.IsNull() ? n : YAML::Node(YAML::NodeType::Map), ctx,
                    "optimizer");
  o.name = one_of(n, "name", ctx, kOptimizers, "optimizer", o.name);
  std::vector<std::string_view> keys = {"name", "lr", "weight_decay"};
  double lr = 1e-3, wd = 0.0, eps = 1e-8;
  if (o.name == "SGD") {
    keys.insert(keys.end(), {"momentum", "dampening", "nesterov"});
    lr = 0.01;
  } else if (o.name == "Adam" || o.name == "AdamW") {
    keys.insert(keys.end(), {"betas", "eps", "amsgrad"});
    if (o.name == "AdamW") wd = 1e-2;
  } else if (o.name == "Adagrad") {
    keys.insert(keys.end(), {"lr_decay", "initial_accumulator_value", "eps"});
    lr = 1e-2;
    eps = 1e-10;
  } else if (o.name == "RMSprop") {
    keys.insert(keys.end(), {"alpha", "eps", "momentum", "centered"});
    lr = 1e-2;
  }
  check_keys(n, keys, ctx, "optimizer " + o.name);
  o.lr = positive(n, "lr", ctx, lr);
  o.weight_decay = non_negative(n, "weight_decay", ctx, wd);
  o.momentum = non_negative(n, "momentum", ctx, 0.0);
  o.dampening = get<double>(n, "dampening", ctx, 0.0);
  o.nesterov = get<bool>(n, "nesterov", ctx, false);
  if (o.nesterov)
    check_value(o.momentum > 0 && o.dampening == 0, n, "nesterov", ctx,
                "used with momentum > 0 and dampening 0 (as PyTorch)");
  o.betas = get<std::vector<double>>(n, "betas", ctx, {0.9, 0.999});
  check_value(o.betas.size() == 2 && o.betas[0] >= 0 && o.betas[0] < 1 && o.betas[1] >= 0 &&
                  o.betas[1] < 1,
              n, "betas", ctx, "two numbers in [0, 1)");
  o.eps = non_negative(n, "eps", ctx, eps);
  o.amsgrad = get<bool>(n, "amsgrad", ctx, false);
  o.lr_decay = non_negative(n, "lr_decay", ctx, 0.0);
  o.initial_accumulator_value = non_negative(n, "initial_accumulator_value", ctx, 0.0);
  o.alpha = non_negative(n, "alpha", ctx, 0.99);
  o.centered = get<bool>(n, "centered", ctx, false);
}

void parse_scheduler(const YAML::Node& n, const YamlContext& ctx, SchedulerConfig& s) {
  s = SchedulerConfig{};
  if (!n.IsDefined() || n.IsNull()) return;
  if (n.IsScalar()) {  // scheduler: CosineAnnealingLR
    YAML::Node map;
    map["name"] = n;
    return parse_scheduler(map, ctx, s);
  }
  models::check_map(n, ctx, "scheduler");
  s.name = one_of(n, "name", ctx, kSchedulers, "scheduler", "none");
  std::vector<std::string_view> keys = {"name", "warmup"};
  if (s.name == "StepLR") keys.insert(keys.end(), {"step_size", "gamma"});
  if (s.name == "MultiStepLR") keys.insert(keys.end(), {"milestones", "gamma"});
  if (s.name == "ExponentialLR") keys.push_back("gamma");
  if (s.name == "CosineAnnealingLR") keys.insert(keys.end(), {"T_max", "eta_min"});
  if (s.name == "CosineAnnealingWarmRestarts") keys.insert(keys.end(), {"T_0", "T_mult", "eta_min"});
  if (s.name == "ReduceLROnPlateau")
    keys.insert(keys.end(), {"mode", "factor", "patience", "threshold", "threshold_mode",
                             "cooldown", "min_lr", "eps", "monitor"});
  if (s.name == "LinearLR") keys.insert(keys.end(), {"start_factor", "end_factor", "total_iters"});
  if (s.name == "OneCycleLR")
    keys.insert(keys.end(), {"max_lr", "pct_start", "anneal_strategy", "div_factor",
                             "final_div_factor", "three_phase"});
  check_keys(n, keys, ctx, "scheduler " + s.name);
  s.step_size = positive_int(n, "step_size", ctx, s.step_size);
  s.gamma = positive(n, "gamma", ctx, s.name == "ExponentialLR" ? 0.95 : 0.1);
  if (s.name == "ExponentialLR" && !has(n, "gamma"))
    fail(n, ctx, "missing required key 'gamma' in scheduler ExponentialLR");
  s.milestones = get<std::vector<int64_t>>(n, "milestones", ctx, {});
  if (s.name == "MultiStepLR") {
    if (!has(n, "milestones")) fail(n, ctx, "missing required key 'milestones' in scheduler MultiStepLR");
    check_value(std::is_sorted(s.milestones.begin(), s.milestones.end()), n, "milestones", ctx,
                "increasing epochs");
  }
  s.T_max = non_negative_int(n, "T_max", ctx, 0);
  s.eta_min = non_negative(n, "eta_min", ctx, 0.0);
  s.T_0 = positive_int(n, "T_0", ctx, s.T_0);
  s.T_mult = positive_int(n, "T_mult", ctx, 1);
  s.mode = one_of(n, "mode", ctx, {"min", "max"}, "mode", "min");
  s.factor = positive(n, "factor", ctx, 0.1);
  check_value(s.factor < 1, n, "factor", ctx, "< 1");
  s.patience = non_negative_int(n, "patience", ctx, 10);
  s.threshold = non_negative(n, "threshold", ctx, 1e-4);
  s.threshold_mode = one_of(n, "threshold_mode", ctx, {"rel", "abs"}, "threshold_mode", "rel");
  s.cooldown = non_negative_int(n, "cooldown", ctx, 0);
  s.min_lr = non_negative(n, "min_lr", ctx, 0.0);
  s.monitor = one_of(n, "monitor", ctx, {"val_loss", "val_accuracy", "train_loss", "train_accuracy"},
                     "monitor", "val_loss");
  s.start_factor = positive(n, "start_factor", ctx, 1.0 / 3.0);
  check_value(s.start_factor <= 1, n, "start_factor", ctx, "in (0, 1]");
  s.end_factor = positive(n, "end_factor", ctx, 1.0);
  s.total_iters = positive_int(n, "total_iters", ctx, 5);
  s.max_lr = non_negative(n, "max_lr", ctx, 0.0);
  s.pct_start = positive(n, "pct_start", ctx, 0.3);
  check_value(s.pct_start < 1, n, "pct_start", ctx, "in (0, 1)");
  s.anneal_strategy = one_of(n, "anneal_strategy", ctx, {"cos", "linear"}, "anneal_strategy", "cos");
  s.div_factor = positive(n, "div_factor", ctx, 25.0);
  s.final_div_factor = positive(n, "final_div_factor", ctx, 1e4);
  s.three_phase = get<bool>(n, "three_phase", ctx, false);

  const YAML::Node w = sub(n, "warmup");
  check_keys(w, {"epochs", "start_factor"}, ctx, "scheduler.warmup");
  s.warmup_epochs = non_negative_int(w, "epochs", ctx, 0);
  s.warmup_start_factor = positive(w, "start_factor", ctx, 0.1);
  check_value(s.warmup_start_factor <= 1, w, "start_factor", ctx, "in (0, 1]");
  if (s.warmup_epochs > 0 && (s.name == "ReduceLROnPlateau" || s.name == "OneCycleLR"))
    fail(w, ctx, "scheduler.warmup: not available with " + s.name +
                     " (SequentialLR chains epoch schedulers only; OneCycleLR has its own warm-up)");
}

void parse_regularization(const YAML::Node& n, const YamlContext& ctx, RegularizationConfig& r) {
  check_keys(n, {"l1", "l2", "params"}, ctx, "regularization");
  r.l1 = non_negative(n, "l1", ctx, 0.0);
  r.l2 = non_negative(n, "l2", ctx, 0.0);
  r.params = one_of(n, "params", ctx, {"weights", "all"}, "params", "weights");
}

void parse_early_stopping(const YAML::Node& n, const YamlContext& ctx, EarlyStoppingConfig& e) {
  e = EarlyStoppingConfig{};
  if (!n.IsDefined() || n.IsNull()) return;
  if (n.IsScalar()) {
    e.enabled = as<bool>(n, ctx, "key 'early_stopping'");
    return;
  }
  check_keys(n, {"enabled", "monitor", "patience", "min_delta", "mode", "restore_best_weights"},
             ctx, "early_stopping");
  e.enabled = get<bool>(n, "enabled", ctx, true);
  e.monitor = one_of(n, "monitor", ctx, {"val_loss", "val_accuracy", "train_loss", "train_accuracy"},
                     "monitor", "val_loss");
  e.patience = non_negative_int(n, "patience", ctx, 5);
  e.min_delta = non_negative(n, "min_delta", ctx, 0.0);
  e.mode = one_of(n, "mode", ctx, {"min", "max", "auto"}, "mode", "auto");
  e.restore_best_weights = get<bool>(n, "restore_best_weights", ctx, true);
}

// A copy of `node` whose nodes carry no position, so messages about an override's value
// name the override instead of a line it never had.
YAML::Node without_marks(const YAML::Node& node) {
  if (node.IsScalar()) {
    YAML::Node out(node.Scalar());
    out.SetTag(node.Tag());
    return out;
  }
  if (node.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : node) out.push_back(without_marks(item));
    return out;
  }
  if (node.IsMap()) {
    YAML::Node out(YAML::NodeType::Map);
    for (auto it = node.begin(); it != node.end(); ++it)
      out[it->first.Scalar()] = without_marks(it->second);
    return out;
  }
  return YAML::Node(YAML::NodeType::Null);
}

YAML::Node load_yaml_text(const std::string& text, const std::string& file) {
  try {
    YAML::Node root = YAML::Load(text);
    return root;
  } catch (const YAML::Exception& e) {
    throw IOError(file + ":" + std::to_string(e.mark.line + 1) + ": malformed YAML: " + e.msg);
  }
}

std::string stem_of(const std::string& file) {
  if (file.empty()) return "run";
  return fs::path(file).stem().string();
}

}  // namespace

void apply_override(YAML::Node& root, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  CNNKIT_CHECK(eq != std::string::npos && eq > 0,
               "--set ", assignment, ": expected key.sub=value (e.g. optimizer.lr=0.1)");
  const std::string path = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  std::vector<std::string> keys;
  std::stringstream ss(path);
  for (std::string k; std::getline(ss, k, '.');) {
    CNNKIT_CHECK(!k.empty(), "--set ", assignment, ": empty key in '", path, "'");
    keys.push_back(k);
  }
  YAML::Node value;
  try {
    value = without_marks(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw ValueError("--set " + assignment + ": the value is not valid YAML: " + e.msg);
  }
  CNNKIT_CHECK(root.IsMap() || root.IsNull(), "--set ", assignment, ": the config is not a mapping");
  // Walk with fresh handles: yaml-cpp's operator= on a Node handle would overwrite the node
  // it refers to, not rebind the handle.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node cur = chain.back();
    const std::string& k = keys[i];
    if (cur.IsSequence()) {
      size_t idx = 0;
      try {
        idx = std::stoul(k);
      } catch (...) {
        throw ValueError("--set " + assignment + ": '" + k + "' indexes a list; expected a number");
      }
      CNNKIT_CHECK(idx < cur.size(), "--set ", assignment, ": index ", idx, " is past the end of a list of ",
                   cur.size());
      chain.push_back(cur[idx]);
      continue;
    }
    CNNKIT_CHECK(cur.IsMap() || cur.IsNull(), "--set ", assignment, ": '",
                 keys[i - (i > 0 ? 1 : 0)], "' is a value, not a section");
    YAML::Node next = cur[k];
    if (!next.IsDefined() || next.IsNull()) {
      cur[k] = YAML::Node(YAML::NodeType::Map);
      next = cur[k];
    }
    CNNKIT_CHECK(next.IsMap() || next.IsSequence(), "--set ", assignment, ": '", k,
                 "' is a value (", models::describe(next), "), not a section");
    chain.push_back(next);
  }
  YAML::Node parent = chain.back();
  const std::string& last = keys.back();
  if (parent.IsSequence()) {
    size_t idx = 0;
    try {
      idx = std::stoul(last);
    } catch (...) {
      throw ValueError("--set " + assignment + ": '" + last + "' indexes a list; expected a number");
    }
    CNNKIT_CHECK(idx < parent.size(), "--set ", assignment, ": index ", idx,
                 " is past the end of a list of ", parent.size());
    parent[idx] = value;
  } else {
    parent[last] = value;
  }
}

RunConfig parse_run_config(const YAML::Node& root, const std::string& file) {
  const YamlContext ctx{file};
  RunConfig cfg;
  cfg.source = file;
  cfg.name = stem_of(file);
  if (!root.IsDefined() || root.IsNull()) models::fail(root, ctx, "the config is empty");
  models::check_map(root, ctx, "the config");
  check_keys(root, {"data", "model", "loss", "optimizer", "scheduler", "regularization",
                    "early_stopping", "epochs", "seed", "output_dir", "grad_clip_norm", "name"},
             ctx, "the config");
  cfg.name = get<std::string>(root, "name", ctx, cfg.name);
  parse_data(sub(root, "data"), ctx, cfg.data);
  if (!has(root, "model")) fail(root, ctx, "missing required key 'model' (a zoo name or layers)");
  cfg.model = root["model"];
  if (cfg.model.IsScalar()) {  // model: lenet5
    YAML::Node m(YAML::NodeType::Map);
    m["name"] = cfg.model;
    cfg.model = m;
  }
  models::check_map(cfg.model, ctx, "model");
  parse_loss(sub(root, "loss"), ctx, cfg.loss);
  parse_optimizer(sub(root, "optimizer"), ctx, cfg.optimizer);
  parse_scheduler(sub(root, "scheduler"), ctx, cfg.scheduler);
  parse_regularization(sub(root, "regularization"), ctx, cfg.regularization);
  parse_early_stopping(sub(root, "early_stopping"), ctx, cfg.early_stopping);
  cfg.epochs = positive_int(root, "epochs", ctx, 10);
  cfg.seed = static_cast<uint64_t>(non_negative_int(root, "seed", ctx, 0));
  cfg.output_dir = get<std::string>(root, "output_dir", ctx, "");
  if (has(root, "grad_clip_norm")) cfg.grad_clip_norm = positive(root, "grad_clip_norm", ctx, 1.0);
  if (cfg.scheduler.warmup_epochs >= cfg.epochs && cfg.scheduler.name != "none")
    fail(sub(root, "scheduler"), ctx, "scheduler.warmup: epochs (" +
                                     std::to_string(cfg.scheduler.warmup_epochs) +
                                     ") must be fewer than the run's epochs (" +
                                     std::to_string(cfg.epochs) + ")");
  return cfg;
}

RunConfig parse_run_config(const std::string& yaml_text, const std::string& file,
                           const std::vector<std::string>& overrides) {
  YAML::Node root = load_yaml_text(yaml_text, file);
  RunConfig cfg = parse_run_config(root, file);  // the file alone: errors name its lines
  if (overrides.empty()) return cfg;
  // One override at a time, each re-validated, so an error names the override that caused it.
  for (const std::string& o : overrides) {
    apply_override(root, o);
    try {
      cfg = parse_run_config(root, file + " (after --set " + o + ")");
    } catch (const ValueError& e) {
      throw ValueError(e.what());
    }
  }
  cfg.source = file;
  cfg.name = has(root, "name") ? root["name"].Scalar() : stem_of(file);
  return cfg;
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::error_code ec;
  CNNKIT_CHECK_IO(fs::exists(path, ec), "config file not found: ", path);
  CNNKIT_CHECK_IO(!fs::is_directory(path, ec), "config: ", path, " is a directory, not a YAML file");
  std::ifstream in(path, std::ios::binary);
  CNNKIT_CHECK_IO(in.good(), "cannot read config file ", path);
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_run_config(buf.str(), path, overrides);
}

// ---- the resolved config ------------------------------------------------------------------

namespace {

YAML::Node transforms_yaml(const std::vector<TransformSpec>& list) {
  YAML::Node out(YAML::NodeType::Sequence);
  for (const TransformSpec& t : list) {
    YAML::Node item(YAML::NodeType::Map);
    item[t.name] = t.args.size() ? YAML::Clone(t.args) : YAML::Node(YAML::NodeType::Map);
    out.push_back(item);
  }
  return out;
}

// The shortest text that reads back as the same double (0.03, not 0.029999999999999999).
YAML::Node num(double x) {
  if (std::isnan(x)) return YAML::Node(".nan");
  if (std::isinf(x)) return YAML::Node(x > 0 ? ".inf" : "-.inf");
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  std::string text(buf, r.ptr);
  // Keep it a float for readers that care (1 -> 1.0), unless it has an exponent.
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return YAML::Node(text);
}

template <class T>
YAML::Node flow_list(const std::vector<T>& v) {
  YAML::Node n(YAML::NodeType::Sequence);
  for (const T& x : v) {
    if constexpr (std::is_floating_point_v<T>) n.push_back(num(x));
    else n.push_back(x);
  }
  n.SetStyle(YAML::EmitterStyle::Flow);
  return n;
}

}  // namespace

YAML::Node to_yaml(const RunConfig& cfg) {
  YAML::Node root(YAML::NodeType::Map);
  root["name"] = cfg.name;
  const DataConfig& d = cfg.data;
  YAML::Node data(YAML::NodeType::Map);
  data["dataset"] = d.dataset;
  if (!d.root.empty()) data["root"] = d.root;
  YAML::Node paths(YAML::NodeType::Map);
  if (!d.train_images.empty()) paths["train_images"] = d.train_images;
  if (!d.train_labels.empty()) paths["train_labels"] = d.train_labels;
  if (!d.test_images.empty()) paths["test_images"] = d.test_images;
  if (!d.test_labels.empty()) paths["test_labels"] = d.test_labels;
  if (!d.train.empty()) paths["train"] = d.train;
  if (!d.test.empty()) paths["test"] = d.test;
  if (paths.size()) data["paths"] = paths;
  if (d.dataset == "csv") data["label_column"] = d.label_column;
  if (!d.image_shape.empty()) data["image_shape"] = flow_list(d.image_shape);
  data["split"]["val"] = num(d.val_fraction);
  data["split"]["stratified"] = d.stratified;
  data["split"]["seed"] = d.split_seed;
  if (d.subset_train || d.subset_test) {
    data["subset"]["train"] = d.subset_train;
    data["subset"]["test"] = d.subset_test;
  }
  // Once build_datasets() has computed "auto" statistics, they are written out, so the
  // resolved config normalises exactly as the run did (and predict needs no training data).
  if (!d.mean.empty()) {
    data["normalize"]["mean"] = flow_list(d.mean);
    data["normalize"]["std"] = flow_list(d.std);
  } else {
    data["normalize"] = d.normalize == "none" ? "none" : "auto";
  }
  data["clean"] = d.clean;
  data["batch_size"] = d.batch_size;
  data["eval_batch_size"] = d.eval_batch_size;
  data["workers"] = d.workers;
  data["transforms"]["train"] = transforms_yaml(d.train_transforms);
  data["transforms"]["eval"] = transforms_yaml(d.eval_transforms);
  root["data"] = data;

  root["model"] = YAML::Clone(cfg.model);

  const LossConfig& l = cfg.loss;
  YAML::Node loss(YAML::NodeType::Map);
  loss["name"] = l.name;
  loss["reduction"] = l.reduction;
  if (l.name == "CrossEntropyLoss") loss["label_smoothing"] = num(l.label_smoothing);
  if (l.name == "CrossEntropyLoss" || l.name == "NLLLoss") loss["ignore_index"] = l.ignore_index;
  if (!l.weight.empty()) loss["weight"] = flow_list(l.weight);
  if (!l.pos_weight.empty()) loss["pos_weight"] = flow_list(l.pos_weight);
  if (l.name == "SmoothL1Loss") loss["beta"] = num(l.beta);
  if (l.name == "HuberLoss") loss["delta"] = num(l.delta);
  root["loss"] = loss;

  const OptimizerConfig& o = cfg.optimizer;
  YAML::Node opt(YAML::NodeType::Map);
  opt["name"] = o.name;
  opt["lr"] = num(o.lr);
  if (o.name == "SGD") {
    opt["momentum"] = num(o.momentum);
    opt["dampening"] = num(o.dampening);
    opt["nesterov"] = o.nesterov;
  } else if (o.name == "Adam" || o.name == "AdamW") {
    opt["betas"] = flow_list(o.betas);
    opt["eps"] = num(o.eps);
    opt["amsgrad"] = o.amsgrad;
  } else if (o.name == "Adagrad") {
    opt["lr_decay"] = num(o.lr_decay);
    opt["initial_accumulator_value"] = num(o.initial_accumulator_value);
    opt["eps"] = num(o.eps);
  } else if (o.name == "RMSprop") {
    opt["alpha"] = num(o.alpha);
    opt["eps"] = num(o.eps);
    opt["momentum"] = num(o.momentum);
    opt["centered"] = o.centered;
  }
  opt["weight_decay"] = num(o.weight_decay);
  root["optimizer"] = opt;

  const SchedulerConfig& s = cfg.scheduler;
  YAML::Node sch(YAML::NodeType::Map);
  sch["name"] = s.name;
  if (s.name == "StepLR") {
    sch["step_size"] = s.step_size;
    sch["gamma"] = num(s.gamma);
  } else if (s.name == "MultiStepLR") {
    sch["milestones"] = flow_list(s.milestones);
    sch["gamma"] = num(s.gamma);
  } else if (s.name == "ExponentialLR") {
    sch["gamma"] = num(s.gamma);
  } else if (s.name == "CosineAnnealingLR") {
    sch["T_max"] = s.T_max;
    sch["eta_min"] = num(s.eta_min);
  } else if (s.name == "CosineAnnealingWarmRestarts") {
    sch["T_0"] = s.T_0;
    sch["T_mult"] = s.T_mult;
    sch["eta_min"] = num(s.eta_min);
  } else if (s.name == "ReduceLROnPlateau") {
    sch["monitor"] = s.monitor;
    sch["mode"] = s.mode;
    sch["factor"] = num(s.factor);
    sch["patience"] = s.patience;
    sch["threshold"] = num(s.threshold);
    sch["threshold_mode"] = s.threshold_mode;
    sch["cooldown"] = s.cooldown;
    sch["min_lr"] = num(s.min_lr);
  } else if (s.name == "LinearLR") {
    sch["start_factor"] = num(s.start_factor);
    sch["end_factor"] = num(s.end_factor);
    sch["total_iters"] = s.total_iters;
  } else if (s.name == "OneCycleLR") {
    sch["max_lr"] = num(s.max_lr);
    sch["pct_start"] = num(s.pct_start);
    sch["anneal_strategy"] = s.anneal_strategy;
    sch["div_factor"] = num(s.div_factor);
    sch["final_div_factor"] = num(s.final_div_factor);
    sch["three_phase"] = s.three_phase;
  }
  if (s.warmup_epochs > 0) {
    sch["warmup"]["epochs"] = s.warmup_epochs;
    sch["warmup"]["start_factor"] = num(s.warmup_start_factor);
  }
  root["scheduler"] = sch;

  root["regularization"]["l1"] = num(cfg.regularization.l1);
  root["regularization"]["l2"] = num(cfg.regularization.l2);
  root["regularization"]["params"] = cfg.regularization.params;

  const EarlyStoppingConfig& e = cfg.early_stopping;
  root["early_stopping"]["enabled"] = e.enabled;
  root["early_stopping"]["monitor"] = e.monitor;
  root["early_stopping"]["patience"] = e.patience;
  root["early_stopping"]["min_delta"] = num(e.min_delta);
  root["early_stopping"]["mode"] = e.mode;
  root["early_stopping"]["restore_best_weights"] = e.restore_best_weights;

  root["epochs"] = cfg.epochs;
  root["seed"] = cfg.seed;
  if (!cfg.output_dir.empty()) root["output_dir"] = cfg.output_dir;
  if (cfg.grad_clip_norm) root["grad_clip_norm"] = num(*cfg.grad_clip_norm);
  return root;
}

std::string to_yaml_string(const RunConfig& cfg) {
  YAML::Emitter out;
  out << to_yaml(cfg);
  return std::string("# Resolved run config (defaults filled in, --set applied).\n") +
         out.c_str() + "\n";
}

void save_resolved_config(const RunConfig& cfg, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    CNNKIT_CHECK_IO(out.good(), "cannot write ", tmp);
    out << to_yaml_string(cfg);
    out.flush();
    CNNKIT_CHECK_IO(out.good(), "cannot write ", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  CNNKIT_CHECK_IO(!ec, "cannot rename ", tmp, " to ", path, ": ", ec.message());
}

}  // namespace cnnkit::train
