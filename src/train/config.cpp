// Run configs: YAML -> RunConfig (strict: every key and type checked with file:line), the
// --set overrides, the resolved config written back as YAML, and the builders that turn a
// RunConfig into the run's model, loss, optimiser, scheduler and datasets. The reading
// helpers are the io layer's (io/yaml.h, private); this file knows what each section means.
#include "cnnkit/train/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>

#include "cnnkit/core/error.h"
#include "cnnkit/core/threads.h"
#include "cnnkit/data/clean.h"
#include "cnnkit/data/shards.h"
#include "cnnkit/data/split.h"
#include "cnnkit/data/stats.h"
#include "cnnkit/io/file.h"
#include "cnnkit/ops/factory.h"
#include "io/yaml.h"
#include "train/families.h"
#include "cnnkit/models/builder.h"

namespace cnnkit::train {

namespace fs = std::filesystem;
namespace yaml = io::yaml;
using yaml::as;
using yaml::check_keys;
using yaml::fail;
using yaml::get;
using yaml::has;
using yaml::YamlContext;
using yaml::num;
using yaml::one_of;
using yaml::flow_list;
using yaml::check_value;
using yaml::non_negative;
using yaml::non_negative_int;
using yaml::positive;
using yaml::positive_int;

// Private to this file: the YAML side of parse_run_config, to_yaml_string and --set.
// Applies one "a.b=value" override to a YAML tree (creating the key when missing);
// ValueError naming the override when it is malformed or its path crosses a scalar.
// "a.b=null" (or =~) deletes the key. "optimizer.name=Adam" (likewise scheduler.name,
// loss.name) also deletes the section's keys the new one does not take; what was deleted
// is appended to `notes`, one line each, for the caller to show.
static void apply_override(YAML::Node& root, const std::string& assignment, std::vector<std::string>* notes);
static RunConfig parse_run_config(const YAML::Node& root, const std::string& file);
static YAML::Node to_yaml(const RunConfig& cfg);

namespace {

// A monitor the task logs: "val_accuracy" means nothing to a regression run.
bool monitor_fits(std::string_view monitor, Task task) {
  const std::string_view metric = monitor.substr(monitor.find('_') + 1);
  if (metric == "loss") return true;
  switch (task) {
    case Task::kClassification: return metric == "accuracy" || metric == "macro_f1";
    case Task::kRegression: return metric == "mse" || metric == "mae" || metric == "r2";
    case Task::kMultiLabel: return metric == "subset_accuracy" || metric == "micro_f1" || metric == "macro_f1";
  }
  return false;
}

// map[key] for reading: a null node when `map` is not a mapping or lacks the key (yaml-cpp's
// operator[] on a missing key yields a node that throws when indexed further).
YAML::Node sub(const YAML::Node& map, const char* key) {
  if (!map.IsMap()) return YAML::Node();
  const YAML::Node v = map[key];
  return v.IsDefined() ? v : YAML::Node();
}

std::vector<TransformSpec> parse_transforms(const YAML::Node& list, const YamlContext& ctx,
                                            const std::string& section) {
  std::vector<TransformSpec> out;
  if (!list.IsDefined() || list.IsNull()) return out;
  if (!list.IsSequence())
    fail(list, ctx, section + ": expected a list of transforms, got " + yaml::describe(list));
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node item = list[i];
    TransformSpec t;
    t.line = item.Mark().line;
    YAML::Node args(YAML::NodeType::Map);
    if (item.IsScalar()) {  // - ToTensor
      t.name = item.Scalar();
    } else if (item.IsMap() && has(item, "name")) {  // - {name: RandomCrop, size: 28}
      t.name = as<std::string>(item["name"], ctx, section + "[" + std::to_string(i) + "].name");
      for (auto it = item.begin(); it != item.end(); ++it)
        if (it->first.Scalar() != "name") args[it->first] = it->second;
    } else if (item.IsMap() && item.size() == 1) {  // - RandomCrop: {size: 28}
      const auto it = item.begin();
      t.name = as<std::string>(it->first, ctx, section + "[" + std::to_string(i) + "]");
      const YAML::Node given = it->second;
      if (given.IsMap()) {
        args = given;
      } else if (given.IsDefined() && !given.IsNull()) {
        fail(given, ctx, section + "[" + std::to_string(i) + "] " + t.name +
                            ": expected a mapping of arguments ({size: 28, padding: 2}), got " +
                            yaml::describe(given));
      }
    } else {
      fail(item, ctx, section + "[" + std::to_string(i) +
                          "]: expected a transform name, {Name: {args}} or {name: Name, ...}, got " +
                          yaml::describe(item));
    }
    t.args = yaml::wrap(args, ctx.file);
    out.push_back(std::move(t));
  }
  return out;
}

void parse_data(const YAML::Node& given_node, const YamlContext& ctx, DataConfig& d) {
  d.dataset = one_of(given_node, "dataset", ctx, families::dataset_names(), "dataset", d.dataset);
  YAML::Node n = given_node;
  if (d.dataset == "shards" && has(given_node, "urls")) {
    // WebDataset's spelling of the training shards: `urls: "dir/train-{000000..000099}.tar"`
    // is paths.train (the section is copied: the caller's node keeps what was written).
    n = YAML::Clone(given_node);
    if (has(n, "paths") && has(n["paths"], "train"))
      fail(given_node["urls"], ctx, "data: give the training shards once: 'urls' or 'paths.train', not both");
    n["paths"]["train"] = n["urls"];
    n.remove("urls");
  }
  std::vector<std::string_view> keys = {"dataset", "image_shape", "split", "subset", "normalize", "clean",
                                        "batch_size", "eval_batch_size", "workers", "transforms",
                                        "input_values", "input_range", "target"};
  for (std::string_view k : families::dataset_keys(d.dataset)) keys.push_back(k);  // root, paths, ...
  check_keys(n, keys, ctx, "data (dataset " + d.dataset + ")");
  families::parse_dataset(n, ctx, d);
  d.input_values = one_of(n, "input_values", ctx, {"uint8", "unit", "pixels", "other"}, "input_values", "");
  d.input_range = get<std::vector<double>>(n, "input_range", ctx, {});
  check_value(d.input_range.empty() || (d.input_range.size() == 2 && d.input_range[0] <= d.input_range[1]), n,
              "input_range", ctx, "[min, max]");
  d.image_shape = get<std::vector<int64_t>>(n, "image_shape", ctx, {});
  if (!d.image_shape.empty())
    check_value(d.image_shape.size() == 3 &&
                    std::all_of(d.image_shape.begin(), d.image_shape.end(), [](int64_t s) { return s > 0; }),
                n, "image_shape", ctx, "three positive sizes [C, H, W]");
  if (d.dataset == "csv" && d.image_shape.empty())
    fail(n, ctx, "data: dataset 'csv' needs key 'image_shape' ([C, H, W] of a row's pixels)");

  const YAML::Node split = sub(n, "split");
  check_keys(split, {"val", "stratified", "seed"}, ctx, "data.split");
  d.val_fraction = get<double>(split, "val", ctx, d.val_fraction);
  check_value(d.val_fraction >= 0 && d.val_fraction < 1, split, "val", ctx, "in [0, 1)");
  if (d.dataset == "shards") {
    // A stream has no random access to split: validation holds out whole shards instead.
    if (has(split, "val") && d.val_fraction > 0)
      fail(split["val"], ctx, "data.split.val: dataset 'shards' is streamed and cannot be split at random; give "
                              "validation shards as data.paths.val (e.g. hold out the last training shard)");
    d.val_fraction = 0;
    for (const char* key : {"subset", "clean"})
      if (has(n, key) && !(std::string(key) == "clean" && n[key].IsScalar() && n[key].Scalar() == "false"))
        fail(n[key], ctx, std::string("data.") + key + ": not available with dataset 'shards' (a stream has no random "
                                                        "access); apply it to the source when converting (cnnkit shard)");
  }
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
                            yaml::describe(norm));
      }
    } else {
      check_keys(norm, {"mean", "std"}, ctx, "data.normalize");
      d.normalize = "explicit";
      d.mean = yaml::require<std::vector<double>>(norm, "mean", ctx, "data.normalize");
      d.std = yaml::require<std::vector<double>>(norm, "std", ctx, "data.normalize");
      check_value(!d.mean.empty() && d.mean.size() == d.std.size(), norm, "std", ctx,
                  "as long as 'mean' (one value per channel)");
      for (double s : d.std) check_value(s > 0, norm, "std", ctx, "> 0 for every channel");
    }
  }
  d.clean = get<bool>(n, "clean", ctx, false);
  d.target = one_of(n, "target", ctx, {"label", "input"}, "target", "label");
  if (d.target == "input" && d.dataset == "shards")
    fail(n["target"], ctx, "data.target: input is not available with dataset 'shards' (a stream's examples are "
                           "mapped by its own transforms); convert the source with its labels and train on it");
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
  e.monitor = one_of(n, "monitor", ctx, families::monitor_names(), "monitor", "val_loss");
  e.patience = non_negative_int(n, "patience", ctx, 5);
  e.min_delta = non_negative(n, "min_delta", ctx, 0.0);
  e.mode = one_of(n, "mode", ctx, {"min", "max", "auto"}, "mode", "auto");
  e.restore_best_weights = get<bool>(n, "restore_best_weights", ctx, true);
}

void parse_ema(const YAML::Node& n, const YamlContext& ctx, EmaConfig& e) {
  e = EmaConfig{};
  if (!n.IsDefined() || n.IsNull()) return;
  if (n.IsScalar()) {  // ema: 0.999
    e.enabled = true;
    e.decay = as<double>(n, ctx, "key 'ema' (the decay)");
  } else {
    yaml::check_map(n, ctx, "ema");
    check_keys(n, {"enabled", "decay", "warmup", "every"}, ctx, "ema");
    e.enabled = get<bool>(n, "enabled", ctx, true);
    e.decay = get<double>(n, "decay", ctx, e.decay);
    e.warmup = get<bool>(n, "warmup", ctx, false);
    e.every = positive_int(n, "every", ctx, 1);
  }
  if (!(e.decay >= 0 && e.decay < 1)) {
    std::ostringstream got;
    got << e.decay;
    fail(n.IsScalar() ? n : n["decay"], ctx,
         "ema.decay: must be in [0, 1) (0.999 averages over about the last 1000 steps), got " + got.str());
  }
}

void parse_swa(const YAML::Node& n, const YamlContext& ctx, SwaConfig& w) {
  w = SwaConfig{};
  if (!n.IsDefined() || n.IsNull()) return;
  yaml::check_map(n, ctx, "swa");
  check_keys(n, {"enabled", "swa_start", "swa_lr", "anneal_epochs", "anneal_strategy", "update_bn"}, ctx, "swa");
  w.enabled = get<bool>(n, "enabled", ctx, true);
  if (!has(n, "swa_start")) fail(n, ctx, "swa: missing required key 'swa_start' (the first averaged epoch, from 0)");
  w.swa_start = non_negative_int(n, "swa_start", ctx, 0);
  if (has(n, "swa_lr") && !n["swa_lr"].IsNull()) w.swa_lr = positive(n, "swa_lr", ctx, 0.05);
  w.anneal_epochs = non_negative_int(n, "anneal_epochs", ctx, 10);
  w.anneal_strategy = one_of(n, "anneal_strategy", ctx, {"cos", "linear"}, "anneal_strategy", "cos");
  w.update_bn = get<bool>(n, "update_bn", ctx, true);
}

void parse_mixup(const YAML::Node& n, const YamlContext& ctx, std::optional<data::MixupOptions>& m) {
  m.reset();
  if (!n.IsDefined() || n.IsNull()) return;
  yaml::check_map(n, ctx, "mixup");
  check_keys(n, {"enabled", "mixup_alpha", "cutmix_alpha", "cutmix_minmax", "prob", "switch_prob", "mode",
                 "correct_lam", "label_smoothing"},
             ctx, "mixup");
  if (!get<bool>(n, "enabled", ctx, true)) return;
  data::MixupOptions o;
  o.mixup_alpha(non_negative(n, "mixup_alpha", ctx, o.mixup_alpha()));
  o.cutmix_alpha(non_negative(n, "cutmix_alpha", ctx, o.cutmix_alpha()));
  if (has(n, "cutmix_minmax") && !n["cutmix_minmax"].IsNull()) {
    const auto v = get<std::vector<double>>(n, "cutmix_minmax", ctx, {});
    if (v.size() != 2 || !(v[0] > 0 && v[0] < v[1] && v[1] <= 1))
      fail(n["cutmix_minmax"], ctx, "mixup.cutmix_minmax: expected [min, max] with 0 < min < max <= 1 (fractions of "
                                    "the image's side)");
    o.cutmix_minmax(std::make_pair(v[0], v[1]));
  }
  auto unit = [&](const char* key, double def) {
    const double v = get<double>(n, key, ctx, def);
    if (!(v >= 0 && v <= 1)) {
      std::ostringstream got;
      got << v;
      fail(n[key], ctx, std::string("mixup.") + key + ": must be in [0, 1], got " + got.str());
    }
    return v;
  };
  o.prob(unit("prob", o.prob()));
  o.switch_prob(unit("switch_prob", o.switch_prob()));
  o.label_smoothing(unit("label_smoothing", o.label_smoothing()));
  o.mode(one_of(n, "mode", ctx, {"batch", "pair", "elem"}, "mode", "batch"));
  o.correct_lam(get<bool>(n, "correct_lam", ctx, true));
  if (o.mixup_alpha() <= 0 && o.cutmix_alpha() <= 0 && !o.cutmix_minmax())
    fail(n, ctx, "mixup: nothing to mix: mixup_alpha and cutmix_alpha are 0 and cutmix_minmax is unset (timm's "
                 "recipes use mixup_alpha 0.2-0.8, cutmix_alpha 1.0)");
  m = o;
}

void parse_distributed(const YAML::Node& n, const YamlContext& ctx, DistributedConfig& d) {
  d = DistributedConfig{};
  if (!n.IsDefined() || n.IsNull()) return;
  yaml::check_map(n, ctx, "distributed");
  check_keys(n, {"bucket_cap_mb", "sync_batchnorm"}, ctx, "distributed");
  d.bucket_cap_mb = positive(n, "bucket_cap_mb", ctx, 25.0);
  d.sync_batchnorm = get<bool>(n, "sync_batchnorm", ctx, false);
}

// A config's default name: its file's stem ("configs/lenet5.yaml" -> "lenet5").
std::string stem_of(const std::string& file) {
  if (file.empty()) return "run";
  return fs::path(file).stem().string();
}

}  // namespace

void apply_override(YAML::Node& root, const std::string& assignment, std::vector<std::string>* notes) {
  const yaml::Assignment a = yaml::parse_assignment(assignment, "--set");
  const std::string& section = a.keys[0];
  // A new optimizer, scheduler or loss: the old one's arguments that the new one does not
  // take go, and the note says which (SGD's momentum means nothing to Adam).
  if (a.keys.size() == 2 && a.keys[1] == "name" && a.value.IsScalar() && has(root, section) &&
      root[section].IsMap() && (section == "optimizer" || section == "scheduler" || section == "loss")) {
    YAML::Node parent = root[section];
    const auto allowed = families::section_keys(section, a.value.Scalar());
    std::vector<std::string> dropped;
    for (auto it = parent.begin(); it != parent.end(); ++it)
      if (std::find(allowed.begin(), allowed.end(), it->first.Scalar()) == allowed.end())
        dropped.push_back(it->first.Scalar());
    for (const std::string& k : dropped) parent.remove(k);
    if (notes && !dropped.empty()) {
      std::string list;
      for (const std::string& k : dropped) list += (list.empty() ? "" : ", ") + section + "." + k;
      notes->push_back(a.what + ": dropped " + list + " (" + a.value.Scalar() + " does not take " +
                       (dropped.size() == 1 ? "it" : "them") + ")");
    }
  }
  yaml::assign(root, a);
  if (notes && a.value.IsNull()) notes->push_back(a.what + ": deleted " + a.path + " (its default applies)");
}

RunConfig parse_run_config(const YAML::Node& root, const std::string& file) {
  const YamlContext ctx{file};
  RunConfig cfg;
  cfg.source = file;
  cfg.name = stem_of(file);
  if (!root.IsDefined() || root.IsNull()) yaml::fail(root, ctx, "the config is empty");
  yaml::check_map(root, ctx, "the config");
  check_keys(root, {"data", "model", "loss", "optimizer", "scheduler", "regularization",
                    "early_stopping", "ema", "swa", "mixup", "tta", "detect_anomaly", "checkpoint_every", "distributed", "epochs", "seed", "output_dir",
                    "grad_clip_norm", "name", "threads"},
             ctx, "the config");
  cfg.name = get<std::string>(root, "name", ctx, cfg.name);
  parse_data(sub(root, "data"), ctx, cfg.data);
  if (!has(root, "model")) fail(root, ctx, "missing required key 'model' (a zoo name or layers)");
  YAML::Node model = root["model"];
  if (model.IsScalar()) {  // model: lenet5
    YAML::Node m(YAML::NodeType::Map);
    m["zoo"] = model;
    model = m;
  }
  yaml::check_map(model, ctx, "model");
  cfg.model = yaml::wrap(model, ctx.file);
  families::parse_loss(sub(root, "loss"), ctx, cfg.loss);
  families::parse_optimizer(sub(root, "optimizer"), ctx, cfg.optimizer);
  families::parse_scheduler(sub(root, "scheduler"), ctx, cfg.scheduler);
  parse_regularization(sub(root, "regularization"), ctx, cfg.regularization);
  parse_early_stopping(sub(root, "early_stopping"), ctx, cfg.early_stopping);
  parse_ema(sub(root, "ema"), ctx, cfg.ema);
  if (cfg.ema.enabled && cfg.early_stopping.enabled && cfg.early_stopping.restore_best_weights)
    fail(sub(root, "early_stopping"), ctx,
         "early_stopping.restore_best_weights would restore the raw weights of the best epoch, but with `ema` "
         "the run validates and ships the moving average; set early_stopping.restore_best_weights: false (the "
         "run then ships the average at the stop)");
  parse_swa(sub(root, "swa"), ctx, cfg.swa);
  if (cfg.swa.enabled && cfg.ema.enabled)
    fail(sub(root, "swa"), ctx, "swa: `ema` and `swa` both average the weights; keep one");
  if (cfg.swa.enabled && cfg.early_stopping.enabled && cfg.early_stopping.restore_best_weights)
    fail(sub(root, "early_stopping"), ctx,
         "early_stopping.restore_best_weights would restore the raw weights of the best epoch, but with `swa` "
         "the run ships the weight average; set early_stopping.restore_best_weights: false");
  parse_mixup(sub(root, "mixup"), ctx, cfg.mixup);
  parse_distributed(sub(root, "distributed"), ctx, cfg.distributed);
  cfg.epochs = positive_int(root, "epochs", ctx, 10);
  cfg.seed = static_cast<uint64_t>(non_negative_int(root, "seed", ctx, 0));
  cfg.detect_anomaly = get<bool>(root, "detect_anomaly", ctx, false);
  if (has(root, "checkpoint_every") && !root["checkpoint_every"].IsNull()) {
    const YAML::Node c = root["checkpoint_every"];
    if (c.IsScalar()) {  // checkpoint_every: 500 (steps)
      cfg.checkpoint_every_steps = non_negative_int(root, "checkpoint_every", ctx, 0);
    } else {
      yaml::check_map(c, ctx, "checkpoint_every");
      check_keys(c, {"steps", "minutes"}, ctx, "checkpoint_every");
      cfg.checkpoint_every_steps = non_negative_int(c, "steps", ctx, 0);
      cfg.checkpoint_every_minutes = non_negative(c, "minutes", ctx, 0.0);
    }
  }
  if (cfg.swa.enabled && cfg.swa.swa_start >= cfg.epochs)
    fail(sub(sub(root, "swa"), "swa_start"), ctx, "swa.swa_start: epoch " + std::to_string(cfg.swa.swa_start) +
                                                      " (from 0) is not before the run's end (" +
                                                      std::to_string(cfg.epochs) + " epochs): nothing would be averaged");
  cfg.output_dir = get<std::string>(root, "output_dir", ctx, "");
  if (has(root, "threads") && root["threads"].IsScalar() && root["threads"].Scalar() == "auto")
    cfg.threads = -1;
  else
    cfg.threads = non_negative_int(root, "threads", ctx, 0);
  check_value(cfg.threads <= kMaxThreads, root, "threads", ctx, "at most " + std::to_string(kMaxThreads));
  if (has(root, "grad_clip_norm")) cfg.grad_clip_norm = positive(root, "grad_clip_norm", ctx, 1.0);
  const Task task = task_of(cfg);
  const char* task_name = task == Task::kClassification ? "classification"
                          : task == Task::kRegression   ? "regression"
                                                        : "multi-label";
  if (has(root, "tta")) {
    const YAML::Node t = root["tta"];
    if (!t.IsSequence()) fail(t, ctx, "tta: expected a list of views, e.g. [hflip] (hflip, vflip)");
    for (const YAML::Node& v : t) {
      const std::string view = as<std::string>(v, ctx, "tta");
      if (view != "hflip" && view != "vflip") fail(v, ctx, "tta: unknown view '" + view + "' (hflip, vflip)");
      cfg.tta.push_back(view);
    }
    if (!cfg.tta.empty() && task != Task::kClassification)
      fail(t, ctx, std::string("tta: test-time augmentation averages class probabilities, but ") + task_name +
                       " runs (loss " + cfg.loss.name + ") have none");
  }
  if (cfg.data.target == "input" && task != Task::kRegression)
    fail(sub(sub(root, "data"), "target"), ctx,
         "data.target: input makes each example's input its own target (an autoencoder), which needs a loss that "
         "compares tensors (MSELoss, L1Loss, SmoothL1Loss, HuberLoss); the loss is " + cfg.loss.name);
  if (cfg.mixup) {
    const YAML::Node m = sub(root, "mixup");
    if (task != Task::kClassification)
      fail(m, ctx, std::string("mixup: mixes class labels, but ") + task_name + " runs (loss " + cfg.loss.name +
                       ") have none");
    if (cfg.loss.name != "CrossEntropyLoss")
      fail(m, ctx, "mixup: needs loss CrossEntropyLoss, whose class-probability targets carry the mixed labels; "
                   "the loss is " + cfg.loss.name);
    const double ls = std::get<nn::CrossEntropyLossOptions>(cfg.loss.options).label_smoothing();
    if (ls > 0 && cfg.mixup->label_smoothing() > 0) {
      std::ostringstream msg;
      msg << "mixup: label smoothing would be applied twice: loss.label_smoothing " << ls
          << " and mixup.label_smoothing " << cfg.mixup->label_smoothing()
          << (has(m, "label_smoothing") ? "" : " (its default)")
          << "; keep one (mixup.label_smoothing: 0, or loss.label_smoothing: 0)";
      fail(m, ctx, msg.str());
    }
  }
  if (cfg.early_stopping.enabled && !monitor_fits(cfg.early_stopping.monitor, task))
    fail(sub(sub(root, "early_stopping"), "monitor"), ctx,
         "early_stopping.monitor: " + cfg.early_stopping.monitor + " is not logged by a " + task_name + " run (loss " +
             cfg.loss.name + ")");
  if (cfg.scheduler.name == "ReduceLROnPlateau" && !monitor_fits(cfg.scheduler.monitor, task))
    fail(sub(sub(root, "scheduler"), "monitor"), ctx,
         "scheduler.monitor: " + cfg.scheduler.monitor + " is not logged by a " + task_name + " run (loss " +
             cfg.loss.name + ")");
  if (cfg.scheduler.warmup_epochs >= cfg.epochs && cfg.scheduler.name != "none")
    fail(sub(root, "scheduler"), ctx, "scheduler.warmup: epochs (" +
                                     std::to_string(cfg.scheduler.warmup_epochs) +
                                     ") must be fewer than the run's epochs (" +
                                     std::to_string(cfg.epochs) + ")");
  return cfg;
}

RunConfig parse_run_config(const std::string& yaml_text, const std::string& file,
                           const std::vector<std::string>& overrides) {
  YAML::Node root = yaml::load(yaml_text, file);
  RunConfig cfg = parse_run_config(root, file);  // the file alone: errors name its lines
  if (overrides.empty()) return cfg;
  // One override at a time, each re-validated, so an error names the override that caused it.
  std::vector<std::string> notes;
  for (const std::string& o : overrides) {
    try {
      apply_override(root, o, &notes);
      cfg = parse_run_config(root, file + " (after --set " + o + ")");
    } catch (const ValueError& e) {
      // `--set key=~` unquoted: bash hands us key=$HOME.
      const char* home = std::getenv("HOME");
      const size_t eq = o.find('=');
      if (home == nullptr || *home == '\0' || eq == std::string::npos || o.substr(eq + 1) != home) throw;
      throw ValueError(std::string(e.what()) + " (the shell turned ~ into your home directory " + home +
                       ": to delete the key write " + o.substr(0, eq) + "=null, or quote '" + o.substr(0, eq) +
                       "=~')");
    }
  }
  cfg.notes = std::move(notes);
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
    const YAML::Node args = yaml::node_of(t.args);
    if (!args.IsMap() || !args.size()) {  // - ToTensor
      out.push_back(YAML::Node(t.name));
      continue;
    }
    YAML::Node item(YAML::NodeType::Map);
    item[t.name] = YAML::Clone(args);
    out.push_back(item);
  }
  return out;
}

std::string fmt_double(double x) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

}  // namespace

YAML::Node to_yaml(const RunConfig& cfg) {
  YAML::Node root(YAML::NodeType::Map);
  root["name"] = cfg.name;
  const DataConfig& d = cfg.data;
  YAML::Node data(YAML::NodeType::Map);
  families::write_dataset(d, data);
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
  if (!d.input_values.empty()) data["input_values"] = d.input_values;
  if (!d.input_range.empty()) data["input_range"] = flow_list(d.input_range);
  data["clean"] = d.clean;
  data["target"] = d.target;
  data["batch_size"] = d.batch_size;
  data["eval_batch_size"] = d.eval_batch_size;
  data["workers"] = d.workers;
  data["transforms"]["train"] = transforms_yaml(d.train_transforms);
  data["transforms"]["eval"] = transforms_yaml(d.eval_transforms);
  root["data"] = data;

  root["model"] = YAML::Clone(yaml::node_of(cfg.model));

  root["loss"] = families::loss_yaml(cfg.loss);
  root["optimizer"] = families::optimizer_yaml(cfg.optimizer);
  root["scheduler"] = families::scheduler_yaml(cfg.scheduler, cfg.epochs);

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
  if (!cfg.tta.empty())
    for (const std::string& v : cfg.tta) root["tta"].push_back(v);
  if (cfg.ema.enabled) {
    root["ema"]["decay"] = num(cfg.ema.decay);
    root["ema"]["warmup"] = cfg.ema.warmup;
    root["ema"]["every"] = cfg.ema.every;
  }
  if (cfg.swa.enabled) {
    YAML::Node y = root["swa"];
    y["swa_start"] = cfg.swa.swa_start;
    if (cfg.swa.swa_lr) y["swa_lr"] = num(*cfg.swa.swa_lr);
    y["anneal_epochs"] = cfg.swa.anneal_epochs;
    y["anneal_strategy"] = cfg.swa.anneal_strategy;
    y["update_bn"] = cfg.swa.update_bn;
  }
  if (cfg.mixup) {
    const data::MixupOptions& m = *cfg.mixup;
    YAML::Node y = root["mixup"];
    y["mixup_alpha"] = num(m.mixup_alpha());
    y["cutmix_alpha"] = num(m.cutmix_alpha());
    if (m.cutmix_minmax()) {
      y["cutmix_minmax"].push_back(num(m.cutmix_minmax()->first));
      y["cutmix_minmax"].push_back(num(m.cutmix_minmax()->second));
      y["cutmix_minmax"].SetStyle(YAML::EmitterStyle::Flow);
    }
    y["prob"] = num(m.prob());
    y["switch_prob"] = num(m.switch_prob());
    y["mode"] = m.mode();
    y["correct_lam"] = m.correct_lam();
    y["label_smoothing"] = num(m.label_smoothing());
  }
  root["distributed"]["bucket_cap_mb"] = num(cfg.distributed.bucket_cap_mb);
  root["distributed"]["sync_batchnorm"] = cfg.distributed.sync_batchnorm;

  if (cfg.detect_anomaly) root["detect_anomaly"] = true;
  if (cfg.checkpoint_every_steps > 0) root["checkpoint_every"]["steps"] = cfg.checkpoint_every_steps;
  if (cfg.checkpoint_every_minutes > 0) root["checkpoint_every"]["minutes"] = num(cfg.checkpoint_every_minutes);
  root["epochs"] = cfg.epochs;
  root["seed"] = cfg.seed;
  if (!cfg.output_dir.empty()) root["output_dir"] = cfg.output_dir;
  if (cfg.grad_clip_norm) root["grad_clip_norm"] = num(*cfg.grad_clip_norm);
  if (cfg.threads < 0)
    root["threads"] = "auto";
  else
    root["threads"] = cfg.threads;
  return root;
}

std::string to_yaml_string(const RunConfig& cfg) {
  YAML::Emitter out;
  out << to_yaml(cfg);
  return std::string("# Resolved run config (defaults filled in, --set applied).\n") +
         out.c_str() + "\n";
}

void save_resolved_config(const RunConfig& cfg, const std::string& path) {
  io::write_file_atomic(path, to_yaml_string(cfg), "save_resolved_config");
}

// ---- builders -------------------------------------------------------------------------------

namespace T = data::transforms;

T::Compose build_pipeline(const RunConfig& cfg, bool train) {
  const auto& specs = train ? cfg.data.train_transforms : cfg.data.eval_transforms;
  std::vector<T::AnyTransform> list;
  bool has_to_tensor = false, has_normalize = false;
  for (const TransformSpec& s : specs) {
    has_to_tensor |= s.name == "ToTensor";
    has_normalize |= s.name == "Normalize";
  }
  // The implied ToTensor and Normalize go at the end, or right before the first RandomErasing
  // (torchvision's recipes erase normalised tensors, so value 0 is the channel mean).
  bool implied_added = false;
  auto add_implied = [&] {
    if (implied_added) return;
    implied_added = true;
    if (!has_to_tensor) list.push_back(T::ToTensor());
    if (!has_normalize && !cfg.data.mean.empty()) list.push_back(T::Normalize<>(cfg.data.mean, cfg.data.std));
  };
  // The AutoAugment family takes uint8 images (torchvision's tensor path): after a ToTensor
  // (written, or implied before a RandomErasing) it would fail on the first image, so the
  // config is refused at its line.
  bool float_images = false;
  for (const TransformSpec& s : specs) {
    if (s.name == "RandomErasing") {
      add_implied();
      float_images = true;
    }
    if (float_images && (s.name == "RandAugment" || s.name == "TrivialAugmentWide" || s.name == "AutoAugment"))
      throw ValueError((cfg.source.empty() ? std::string("<yaml>") : cfg.source) +
                       (s.line >= 0 ? ":" + std::to_string(s.line + 1) : "") + ": transform " + s.name +
                       " takes uint8 images, as torchvision's: put it before ToTensor and RandomErasing");
    list.push_back(build_transform(s, cfg.source));
    float_images |= s.name == "ToTensor";
  }
  add_implied();
  return T::Compose(std::move(list));
}

// ---- datasets -------------------------------------------------------------------------------

namespace {

// The first test example through the eval transforms, whose shape the run takes as its input
// shape. A transform that fails on it (data.normalize with 3 values for 1-channel images) is
// said as check_pipeline says the others, with the config it came from.
template <typename Get>
Tensor first_test_input(const RunConfig& cfg, Get get) {
  try {
    return get().data;
  } catch (const Error&) {
    rethrow_with_prefix((cfg.source.empty() ? std::string() : cfg.source + ": ") +
                        "the eval transforms fail on the first test example: ");
  }
}

// What build_datasets records besides the splits: the input shape (of one test example) and
// the normalisation and input values it resolved.
void finish_run_data(RunData& out, const DataConfig& d, const Tensor& x0) {
  out.input_shape.assign(x0.sizes().begin(), x0.sizes().end());
  out.mean = d.mean;
  out.std = d.std;
  out.input_values = d.input_values;
  out.input_range = d.input_range;
}


// Rounded to 4 significant digits as torchvision recipes quote them (0.2860, 0.3530): the
// resolved config reads well and reproduces the run exactly.
double round4(double x) {
  if (x == 0) return 0;
  const double scale = std::pow(10.0, 3 - std::floor(std::log10(std::fabs(x))));
  return std::round(x * scale) / scale;
}

// Each example of `source` with its loss weight (data::Example::weight).
// data.target: input. Each example's target is its input, after the transforms: the model
// reconstructs what it is given (an autoencoder). The source's labels are dropped.
class InputAsTarget : public data::datasets::Dataset<InputAsTarget> {
 public:
  explicit InputAsTarget(std::shared_ptr<data::DatasetBase> source) : source_(std::move(source)) {}
  data::Example<> get(size_t index) override {
    data::Example<> e = source_->get(index);
    e.target = e.data;
    return e;
  }
  std::optional<size_t> size() const override { return source_->size(); }

 private:
  std::shared_ptr<data::DatasetBase> source_;
};

class WeightedExamples : public data::datasets::Dataset<WeightedExamples> {
 public:
  WeightedExamples(std::shared_ptr<data::DatasetBase> source, std::vector<double> weights)
      : source_(std::move(source)), weights_(std::move(weights)) {
    for (double w : weights_)
      CNNKIT_CHECK(std::isfinite(w) && w >= 0, "data: a sample weight must be finite and >= 0, got ", w);
  }
  data::Example<> get(size_t index) override {
    data::Example<> e = source_->get(index);
    e.weight = full({}, weights_.at(index));
    return e;
  }
  std::optional<size_t> size() const override { return source_->size(); }
  std::vector<std::string> classes() const override { return source_->classes(); }

 private:
  std::shared_ptr<data::DatasetBase> source_;
  std::vector<double> weights_;
};

// The report line of a clean() pass over one split ("clean (test split): 10000 examples, ...").
std::string clean_line(const data::CleanResult& cleaned, const std::string& split) {
  std::string summary = cleaned.summary(3);
  while (!summary.empty() && summary.back() == '\n') summary.pop_back();
  const std::string prefix = "clean: ";  // summary() starts with it
  if (summary.rfind(prefix, 0) == 0) summary.erase(0, prefix.size());
  return "clean (" + split + " split): " + summary;
}

std::string fmt_range(const std::string& prefix, const std::vector<double>& range) {
  if (range.size() != 2) return prefix + "an unknown range";
  return prefix + "[" + fmt_double(range[0]) + ", " + fmt_double(range[1]) + "]";
}

// DataConfig::input_values from what the raw training examples hold: uint8 data are 8-bit
// images; float data are classified by their range [lo, hi] and whether all are whole
// numbers. A value given in the config must agree with the data.
void set_input_values(DataConfig& d, bool uint8, double lo, double hi, bool whole, std::vector<std::string>& report) {
  std::string kind;
  if (uint8) {
    kind = "uint8";
    lo = 0, hi = 255;
  } else {
    kind = lo >= 0 && hi <= 1 ? "unit" : lo >= 0 && hi <= 255 && whole ? "pixels" : "other";
  }
  if (!d.input_values.empty() && d.input_values != kind)
    throw ValueError(fmt_range("data.input_values is " + d.input_values + " but the training split holds " + kind +
                                   " values in ",
                               {lo, hi}) +
                     " (remove the key: it is resolved from the data)");
  d.input_values = kind;
  d.input_range = {lo, hi};
  if (kind == "pixels")
    report.push_back("input: float pixel values in [0, 255] (not scaled: predict feeds image files' pixels as they are)");
  else if (kind == "other")
    report.push_back(fmt_range("input: float values in ", d.input_range) +
                     " (not 8-bit pixels: predict will take no image files)");
}

void resolve_input_values(data::DatasetBase& raw, DataConfig& d, std::vector<std::string>& report) {
  const size_t n = raw.size().value_or(0);
  if (n == 0) return;
  if (raw.get(0).data.scalar_type() == kByte) return set_input_values(d, true, 0, 255, true, report);
  double lo = INFINITY, hi = -INFINITY;
  bool whole = true;
  for (size_t i = 0; i < n; ++i) {
    const Tensor x = raw.get(i).data.contiguous();
    if (x.scalar_type() != kFloat) continue;
    const float* p = x.data_ptr<float>();
    for (int64_t j = 0, m = x.numel(); j < m; ++j) {
      lo = std::min(lo, static_cast<double>(p[j]));
      hi = std::max(hi, static_cast<double>(p[j]));
      whole &= p[j] == std::floor(p[j]);
    }
  }
  set_input_values(d, false, lo, hi, whole, report);
}

// The "normalize: ..." report line.
std::string normalize_line(const std::vector<double>& mean, const std::vector<double>& std, const std::string& how) {
  std::string line = "normalize: mean [";
  for (size_t c = 0; c < mean.size(); ++c) line += (c ? ", " : "") + fmt_double(mean[c]);
  line += "], std [";
  for (size_t c = 0; c < std.size(); ++c) line += (c ? ", " : "") + fmt_double(std[c]);
  return line + "] (" + how + ")";
}

// Mean and std as a run records them: a constant channel is centred only (std 1), and both
// are rounded to 4 significant digits.
void set_normalization(DataConfig& d, std::vector<double> mean, std::vector<double> std) {
  for (double& s : std)
    if (s == 0) s = 1;
  for (auto& m : mean) m = round4(m);
  for (auto& s : std) s = round4(s);
  d.mean = mean;
  d.std = std;
}

// build_datasets for `dataset: shards`: streams instead of random access. The training
// stream is shuffled (shuffle_buffer) and split over the ranks (DataConfig::rank /
// world_size) and the loader's workers; validation (paths.val) and test are read whole and in
// order by every rank. Classes, input values and normalize: auto come from the index that
// `cnnkit shard` wrote; without one (or with eval transforms that change the statistics),
// from one streaming pass over the training shards.
RunData build_shard_datasets(const RunConfig& given, bool need_train) {
  RunConfig cfg = given;
  DataConfig& d = cfg.data;
  const ShardsSource& s = std::get<ShardsSource>(d.source);
  CNNKIT_CHECK(!d.train_indices && d.sample_weights.empty(),
               "data: dataset 'shards' is streamed: model selection's folds and resamples need a map-style dataset "
               "(convert back, or train on the source dataset)");
  RunData out;
  // `stream`: the training stream (shuffled, this rank's share); else the whole set in order.
  auto open = [&](const std::string& urls, const char* key, bool stream) {
    auto o = data::ShardDatasetOptions();
    if (stream) o.shuffle_buffer(static_cast<size_t>(s.shuffle_buffer())).rank(d.rank).world_size(d.world_size);
    try {
      return std::make_shared<data::ShardDataset>(urls, o);
    } catch (const Error&) {
      rethrow_with_prefix(std::string("data.paths.") + key + " '" + urls + "': ");
    }
  };
  std::vector<std::string> classes = d.classes;
  if (need_train) {
    auto whole = open(s.train(), "train", false);  // every rank's view, in order: classes and statistics
    CNNKIT_CHECK(whole->size().value_or(0) > 0, "data: the training shards '", s.train(), "' hold no samples");
    if (classes.empty()) classes = whole->classes();
    std::optional<data::RunningStats> raw = whole->stats();
    const bool uint8 = data::first_example(*whole).data.scalar_type() == kByte;
    const bool plain_eval = d.eval_transforms.empty();  // ToTensor only: the index's statistics apply
    data::RunningStats eval_stats;
    if (!raw || (d.normalize == "auto" && !plain_eval)) {
      // One pass over the training shards: the raw values' range, and the statistics of what
      // the eval pipeline makes of them.
      RunConfig plain = cfg;
      plain.data.mean.clear();
      plain.data.std.clear();
      const T::Compose eval = build_pipeline(plain, /*train=*/false);
      data::RunningStats raw_pass;
      auto stream = whole->stream(data::WorkerInfo{});
      data::Example<> e;
      while (stream->next(e)) {
        raw_pass.add(e.data);
        if (d.normalize == "auto") eval_stats.add(eval(e.data));
      }
      raw = raw_pass;
      out.report.push_back("statistics: one streaming pass over " + std::to_string(raw_pass.examples) +
                           " training examples (" + (whole->stats() ? "the eval transforms change them" : "no index") +
                           ")");
    } else if (d.normalize == "auto") {
      eval_stats = *raw;
    }
    set_input_values(d, uint8, raw->min, raw->max, raw->integral, out.report);
    if (d.normalize == "auto") {
      try {
        set_normalization(d, eval_stats.mean(), eval_stats.std());
      } catch (const ValueError& e) {
        throw ValueError(std::string("normalize: auto: ") + e.what() +
                         "; give normalize: {mean: [...], std: [...]}");
      }
      out.report.push_back(normalize_line(d.mean, d.std, "of the training shards"));
    }
    out.train = open(s.train(), "train", true);
    out.report.push_back("shards: " + std::to_string(whole->size().value_or(0)) + " training examples in " +
                         std::to_string(whole->shards().size()) + " shards, shuffle buffer " +
                         std::to_string(s.shuffle_buffer()) +
                         (d.world_size > 1 ? ", split over " + std::to_string(d.world_size) + " ranks" : ""));
    if (!s.val().empty()) out.val = open(s.val(), "val", false);
  }
  auto test = open(s.test(), "test", false);
  CNNKIT_CHECK(test->size().value_or(0) > 0, "data: the test shards '", s.test(), "' hold no samples");
  if (classes.empty()) classes = test->classes();
  out.classes = classes;
  const T::Compose train_tf = build_pipeline(cfg, true), eval_tf = build_pipeline(cfg, false);
  auto wrap = [](std::shared_ptr<data::DatasetBase> ds, const T::Compose& tf) -> std::shared_ptr<data::DatasetBase> {
    if (!ds) return nullptr;
    return std::make_shared<data::IterableMapDataset>(std::static_pointer_cast<data::IterableDataset>(ds), tf);
  };
  out.train = wrap(out.train, train_tf);
  out.val = wrap(out.val, eval_tf);
  out.test = wrap(test, eval_tf);
  const Tensor x0 = first_test_input(cfg, [&] { return data::first_example(*out.test); });
  finish_run_data(out, d, x0);
  return out;
}

}  // namespace

RunData build_datasets(const RunConfig& given, bool need_train) {
  // What building resolves (statistics, input values) goes into a copy that the returned
  // RunData records; the caller's config stays as written.
  if (std::holds_alternative<ShardsSource>(given.data.source)) return build_shard_datasets(given, need_train);
  RunConfig cfg = given;
  DataConfig& d = cfg.data;
  RunData out;
  // Class indices come from training (or the caller), never from the test split's own
  // folders: a test folder without `bag` would otherwise shift every later class down.
  std::vector<std::string> classes = d.classes;
  std::shared_ptr<data::DatasetBase> train_raw, val_raw;
  if (need_train) {
    auto full = families::first_n(families::open_dataset(cfg, true, classes), d.subset_train);
    if (classes.empty()) classes = full->classes();
    if (d.clean) {  // drop undecodable, non-finite, out-of-range and duplicate examples
      data::CleanResult cleaned = data::clean(full);
      out.report.push_back(clean_line(cleaned, "training"));
      full = cleaned.dataset;
    }
    const size_t n = full->size().value_or(0);
    CNNKIT_CHECK(n > 0, "data: the training set of ", d.dataset, " is empty");
    out.train_source = full;
    if (d.train_indices) {  // model selection chose them (a fold, a resample)
      train_raw = std::make_shared<data::Subset>(full, *d.train_indices);
      if (!d.sample_weights.empty()) {
        CNNKIT_CHECK(d.sample_weights.size() == d.train_indices->size(), "data: ", d.sample_weights.size(),
                     " sample weights for ", d.train_indices->size(), " training examples");
        train_raw = std::make_shared<WeightedExamples>(train_raw, d.sample_weights);
      }
      if (!d.val_indices.empty()) val_raw = std::make_shared<data::Subset>(full, d.val_indices);
      out.report.push_back("split: " + std::to_string(d.train_indices->size()) + " train / " +
                           std::to_string(d.val_indices.size()) + " validation (chosen by model selection)");
      out.train_indices = *d.train_indices;
      out.val_indices = d.val_indices;
    } else if (!d.sample_weights.empty()) {
      throw ValueError("data: sample weights are given without the training indices they belong to");
    } else if (d.val_fraction > 0) {
      // The data layer's splits (the ones the C++ API documents): stratified by class for
      // classification, a seeded random split otherwise.
      const bool stratify = d.stratified && task_of(cfg) == Task::kClassification;
      const std::vector<double> fractions{1.0 - d.val_fraction, d.val_fraction};
      auto parts = stratify ? data::stratified_split(full, fractions, d.split_seed)
                            : data::random_split(full, fractions, d.split_seed);
      // Else an empty training part fails later as "normalize: auto: the dataset is empty". An
      // empty validation part (a fraction of a few examples) is said by the split line below.
      const size_t n_train = parts[0]->size().value_or(0);
      CNNKIT_CHECK(n_train > 0, cfg.source.empty() ? std::string("data") : cfg.source + ": data", ".split.val ",
                   d.val_fraction, " leaves none of the ", n, " training examples for training: lower data.split.val");
      out.report.push_back("split: " + std::to_string(parts[0]->size().value_or(0)) + " train / " +
                           std::to_string(parts[1]->size().value_or(0)) + " validation (" +
                           (stratify ? "stratified, " : "") + "seed " + std::to_string(d.split_seed) + ")");
      out.train_indices = parts[0]->indices();
      out.val_indices = parts[1]->indices();
      train_raw = parts[0];
      val_raw = parts[1];
    } else {
      train_raw = full;
    }
    resolve_input_values(*train_raw, d, out.report);
    if (d.normalize == "auto") {
      // Statistics of the images the model sees at eval time, without normalisation.
      RunConfig plain = cfg;
      plain.data.mean.clear();
      plain.data.std.clear();
      const T::Compose eval = build_pipeline(plain, /*train=*/false);
      auto [mean, std] = [&] {
        try {
          return data::compute_mean_std(
              std::make_shared<data::MapDataset>(train_raw, [&](Tensor x) { return eval(std::move(x)); }));
        } catch (const ValueError& e) {  // NaN statistics would turn every input into NaN
          throw ValueError(std::string("normalize: auto: ") + e.what() +
                           "; set data.clean: true to drop such examples, or give normalize: {mean: [...], std: [...]}");
        }
      }();
      set_normalization(d, mean, std);
      out.report.push_back(normalize_line(d.mean, d.std, "computed from the training split"));
    }
  } else if (classes.empty()) {
    classes = families::training_classes(cfg);
  }
  auto test_raw = families::first_n(families::open_dataset(cfg, false, classes), d.subset_test);
  if (classes.empty()) {
    classes = test_raw->classes();
    if (!classes.empty() && (d.dataset == "image-folder" || d.dataset == "csv"))
      out.report.push_back("classes: numbered from the test split itself (no training split to take them from, "
                           "none given); a class the test split lacks shifts the indices");
  }
  if (d.clean && (d.dataset == "npy" || d.dataset == "csv")) {
    // The non-finite values these readers let through for cleaning must not reach
    // evaluation either. Duplicates stay: they are part of the test set as published. (The
    // image readers cannot hold NaN; decoding a test folder twice would only cost time.)
    auto o = data::CleanOptions().drop_duplicates(false);
    if (!classes.empty()) o.num_classes(static_cast<int64_t>(classes.size()));
    data::CleanResult cleaned = data::clean(test_raw, o);
    out.report.push_back(clean_line(cleaned, "test"));
    test_raw = cleaned.dataset;
  }
  out.classes = classes;

  const T::Compose train_tf = build_pipeline(cfg, true), eval_tf = build_pipeline(cfg, false);
  if (train_raw) out.train = std::make_shared<data::MapDataset>(train_raw, train_tf);
  if (val_raw) out.val = std::make_shared<data::MapDataset>(val_raw, eval_tf);
  out.test = std::make_shared<data::MapDataset>(test_raw, eval_tf);
  if (d.target == "input") {
    if (out.train) out.train = std::make_shared<InputAsTarget>(out.train);
    if (out.val) out.val = std::make_shared<InputAsTarget>(out.val);
    out.test = std::make_shared<InputAsTarget>(out.test);
    out.report.push_back("target: each example's input (after the transforms), reconstructed by the model");
  }
  CNNKIT_CHECK(out.test->size().value_or(0) > 0, "data: the test set of ", d.dataset, " is empty");
  const Tensor x0 = first_test_input(cfg, [&] { return out.test->get(0); });
  finish_run_data(out, d, x0);
  return out;
}

RunConfig resolved(RunConfig cfg, const RunData& data) {
  DataConfig& d = cfg.data;
  if (d.normalize == "auto" && !data.mean.empty()) {  // as the saved config.yaml reads back: explicit values
    d.normalize = "explicit";
    d.mean = data.mean;
    d.std = data.std;
  }
  if (!data.input_values.empty()) {
    d.input_values = data.input_values;
    d.input_range = data.input_range;
  }
  if (!data.input_shape.empty()) d.image_shape = data.input_shape;
  return cfg;
}

Tensor preprocess_image(const RunConfig& cfg, const Tensor& image) {
  const DataConfig& d = cfg.data;
  if (d.input_values == "pixels")  // trained on 0-255 floats: the pixels as they are
    return build_pipeline(cfg, /*train=*/false)(image.to(kFloat));
  if (d.input_values == "other")
    throw ValueError(fmt_range("the model was trained on " + d.dataset + " values in ", d.input_range) +
                     ", not on 8-bit pixels: an image file's pixels cannot be scaled to match them; evaluate it on "
                     "data in the training format instead (cnnkit eval)");
  return build_pipeline(cfg, /*train=*/false)(image);  // uint8 / unit: ToTensor's / 255
}

// ---- model ----------------------------------------------------------------------------------

Task task_of(const RunConfig& cfg) { return task_of_loss(cfg.loss.name); }

Task task_of_loss(const std::string& l) {
  if (l == "CrossEntropyLoss" || l == "NLLLoss") return Task::kClassification;
  if (l == "BCELoss" || l == "BCEWithLogitsLoss" || l == "MultiLabelSoftMarginLoss") return Task::kMultiLabel;
  return Task::kRegression;  // MSELoss, L1Loss, SmoothL1Loss, HuberLoss
}

nn::Sequential build_model(const RunConfig& cfg, const std::vector<int64_t>& input_shape) {
  manual_seed(cfg.seed);
  return models::build(cfg.model, input_shape);
}

// ---- reading a config -------------------------------------------------------------------

namespace {

void flatten(const YAML::Node& n, const std::string& path, std::map<std::string, std::string>& out) {
  auto child = [&](const std::string& k) { return path.empty() ? k : path + "." + k; };
  if (n.IsMap() && n.size()) {
    for (auto it = n.begin(); it != n.end(); ++it) flatten(it->second, child(it->first.Scalar()), out);
    return;
  }
  if (n.IsSequence() && std::any_of(n.begin(), n.end(), [](const YAML::Node& x) { return !x.IsScalar(); })) {
    for (size_t i = 0; i < n.size(); ++i) flatten(n[i], child(std::to_string(i)), out);
    return;
  }
  YAML::Emitter e;
  e << YAML::Flow << n;
  out[path] = e.c_str();
}

}  // namespace

std::map<std::string, std::string> flatten_config(const RunConfig& cfg) {
  std::map<std::string, std::string> out;
  flatten(to_yaml(cfg), "", out);
  return out;
}

std::string describe_scheduler(const RunConfig& cfg) {
  std::string s = cfg.scheduler.name;
  if (cfg.scheduler.warmup_epochs) s += " (warm-up " + std::to_string(cfg.scheduler.warmup_epochs) + " epochs)";
  return s;
}

std::string plateau_monitor(const RunConfig& cfg) {
  return cfg.scheduler.name == "ReduceLROnPlateau" ? cfg.scheduler.monitor : "";
}

bool scheduler_per_batch(const RunConfig& cfg) { return cfg.scheduler.per_batch(); }

ModelDescription describe_model(const RunConfig& cfg) {
  ModelDescription m;
  const YAML::Node model = yaml::node_of(cfg.model);
  if (!model.IsMap() || !model["zoo"]) return m;
  m.zoo = model["zoo"].Scalar();
  const YAML::Node blocks = model["blocks"];
  if (blocks && blocks.IsSequence())
    for (const YAML::Node& b : blocks) m.blocks.push_back(b.as<int64_t>(0));
  return m;
}

}  // namespace cnnkit::train
