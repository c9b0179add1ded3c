// Ensembles of one run config: bagging, SAMME boosting, stacking (select/ensemble.h).
#include "cnnkit/select/ensemble.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

#include "cnnkit/autograd/grad_mode.h"
#include "cnnkit/core/error.h"
#include "cnnkit/data/dataloader.h"
#include "cnnkit/data/folds.h"
#include "cnnkit/io/safetensors.h"
#include "cnnkit/nn/functional.h"
#include "cnnkit/nn/modules/container/ensemble.h"
#include "cnnkit/ops/ops.h"
#include "cnnkit/optim/optim.h"
#include "cnnkit/select/boosting.h"
#include "cnnkit/select/cv.h"
#include "cnnkit/train/progress.h"
#include "select/files.h"

namespace cnnkit::model_selection {

namespace fs = std::filesystem;
using files::json;

namespace {

// What every member shares: the base split, the resolved preprocessing, the training set
// without augmentation (to score members on it), the loaders' settings.
struct Base {
  train::RunConfig resolved;           // the config with normalize: auto's statistics written in
  std::vector<size_t> train, val;      // indices into the training set
  std::shared_ptr<data::DatasetBase> full_eval;  // the whole training set through the eval transforms
  std::vector<int64_t> labels;         // of `full_eval`, for the train indices' errors
  std::vector<int64_t> input_shape;
  std::vector<std::string> classes;
  int64_t num_classes = 0;  // the class names', else the largest label + 1 (npy, csv without names)
  std::shared_ptr<data::DatasetBase> val_ds, test_ds;
};

Base make_base(const train::RunConfig& config, const train::RunOptions& run) {
  train::Run r(config, train::RunOptions(run).log(nullptr));
  const train::RunData& data = r.data();
  Base b;
  b.resolved = r.resolved_config();
  b.resolved.output_dir.clear();
  b.val = data.val_indices;
  b.input_shape = data.input_shape;
  b.classes = data.classes;
  b.val_ds = data.val;
  b.test_ds = data.test;
  const std::shared_ptr<data::DatasetBase>& full = data.train_source;
  CNNKIT_CHECK(full != nullptr, "ensembles resample the training set and need random access to it; dataset '",
               b.resolved.data.dataset, "' is streamed (train the ensemble on the source dataset the shards were made "
               "from)");
  b.train = data.train_indices;
  if (b.train.empty()) {
    b.train.resize(full->size().value_or(0));
    std::iota(b.train.begin(), b.train.end(), size_t{0});
  }
  b.labels = data::labels_of(full);
  b.num_classes = static_cast<int64_t>(b.classes.size());
  for (int64_t l : b.labels) b.num_classes = std::max(b.num_classes, l + 1);
  b.full_eval = std::make_shared<data::MapDataset>(full, train::build_pipeline(b.resolved, /*train=*/false));
  return b;
}

std::vector<size_t> pick(const std::vector<size_t>& from, const std::vector<size_t>& idx) {
  std::vector<size_t> out;
  out.reserve(idx.size());
  for (size_t i : idx) out.push_back(from[i]);
  return out;
}

// Softmax probabilities (n, K) of `model` on examples `idx` of `ds`, in that order.
Tensor probabilities(nn::Sequential& model, const std::shared_ptr<data::DatasetBase>& ds, const std::vector<size_t>& idx,
                     const train::RunConfig& cfg) {
  data::DataLoader loader(std::make_shared<data::Subset>(ds, idx),
                          data::DataLoaderOptions(static_cast<size_t>(cfg.data.eval_batch_size))
                              .workers(static_cast<size_t>(cfg.data.workers)));
  NoGradGuard no_grad;
  model->eval();
  std::vector<Tensor> parts;
  for (data::Example<>& batch : loader) parts.push_back(nn::functional::softmax(model->forward(batch.data), 1));
  return cat(parts, 0);
}

std::map<std::string, double> metrics_of(nn::Sequential& model, const std::shared_ptr<data::DatasetBase>& ds,
                                         const Base& b, const std::string& prefix) {
  if (!ds) return {};
  data::DataLoader loader(ds, data::DataLoaderOptions(static_cast<size_t>(b.resolved.data.eval_batch_size))
                                  .workers(static_cast<size_t>(b.resolved.data.workers)));
  return prefixed(train::evaluate(nn::AnyModule(model), loader, train::build_loss(b.resolved),
                                  train::EvaluateOptions()
                                      .task(train::Task::kClassification)
                                      .num_classes(b.num_classes)),
                  prefix);
}

// A member as ensemble.json lists it: its metrics flat beside its facts ({"member": 0,
// "val_accuracy": .., "test_accuracy": .., ...}), as the format has them.
json member_json(const MemberResult& m) {
  json j = {{"member", m.index}, {"dir", m.dir},     {"train_size", m.train_size},
            {"error", m.error},  {"alpha", m.alpha}, {"ensemble_error", m.ensemble_error}};
  for (const auto* metrics : {&m.val, &m.test})
    for (const auto& [k, v] : *metrics) j[k] = v;
  return j;
}

MemberResult member_from(const json& j) {
  MemberResult m;
  m.index = j.at("member").get<int64_t>();
  m.dir = j.at("dir").get<std::string>();
  m.train_size = j.at("train_size").get<size_t>();
  m.error = j.value("error", 0.0);
  m.alpha = j.value("alpha", 0.0);
  m.ensemble_error = j.value("ensemble_error", 0.0);
  for (const auto& [k, v] : j.items()) {
    if (k.rfind("val_", 0) == 0) m.val[k] = v.get<double>();
    if (k.rfind("test_", 0) == 0) m.test[k] = v.get<double>();
  }
  return m;
}

// One member (or one out-of-fold copy): trained in `dir` on examples `train_idx` with seed
// config seed + `seed_offset`, or read back when `dir` holds a finished one (member.json).
// `score` false: no test split (the out-of-fold copies).
MemberResult train_member(const Base& b, const fs::path& dir, int64_t index, uint64_t seed_offset,
                          const std::vector<size_t>& train_idx, const train::RunOptions& run, bool score,
                          std::ostream* log, const std::string& what, const std::vector<double>& weights = {}) {
  std::error_code ec;
  if (fs::exists(dir / "member.json", ec)) {
    MemberResult m = member_from(files::read_json(dir / "member.json"));
    m.reused = true;
    if (log) *log << what << ": finished before, reused (" << dir.string() << ")" << std::endl;
    return m;
  }
  if (log) *log << what << ": " << train_idx.size() << " training examples" << std::endl;
  train::RunConfig cfg = b.resolved;
  cfg.seed += seed_offset;
  cfg.data.train_indices = train_idx;
  cfg.data.val_indices = b.val;
  cfg.data.sample_weights = weights;
  cfg.output_dir = dir.string();
  const train::FitResult fit = train::Run(cfg, train::RunOptions(run).test(score).overwrite(true)).fit();
  MemberResult m;
  m.index = index;
  m.dir = dir.string();
  m.train_size = train_idx.size();
  m.val = prefixed(fit.val, "val_");
  if (score) m.test = prefixed(fit.test, "test_");
  files::write_json(dir / "member.json", member_json(m));
  return m;
}

train::Run open_member(const MemberResult& m, const train::RunOptions& run) {
  return train::Run::open(m.dir, "", {}, train::RunOptions(run).log(nullptr));
}

}  // namespace

EnsembleResult fit_ensemble(const train::RunConfig& config, const EnsembleFitOptions& o) {
  const std::string& method = o.method();
  CNNKIT_CHECK(method == "bagging" || method == "boosting" || method == "stacking", "ensemble: unknown --method '",
               method, "' (bagging, boosting or stacking)");
  CNNKIT_CHECK(o.members() >= 2, "ensemble: --members must be at least 2, got ", o.members());
  CNNKIT_CHECK(o.combine() == "mean" || o.combine() == "vote", "ensemble: unknown --combine '", o.combine(),
               "' (mean or vote)");
  CNNKIT_CHECK(train::task_of(config) == train::Task::kClassification, "ensemble: needs a classification loss (",
               config.loss.name, " is not one): members are combined by their class probabilities");
  std::ostream* log = o.run().log();
  auto say = [&](const std::string& line) {
    if (log) *log << line << std::endl;
  };

  EnsembleResult result;
  result.method = method;
  result.dir = !o.output_dir().empty() ? o.output_dir()
               : !config.output_dir.empty() ? config.output_dir
                                            : "runs/" + config.name + "-" + method + "-" + train::local_timestamp();
  const fs::path dir(result.dir);
  json settings = {{"config_hash", config_hash(config)}, {"method", method}, {"M", o.members()},
                   {"seed", o.seed()}};
  if (method == "bagging") settings["bootstrap"] = o.bootstrap(), settings["combine"] = o.combine();
  if (method == "stacking") settings["k"] = o.folds();
  if (method == "boosting") settings["learning_rate"] = o.learning_rate();
  json doc = files::claim_dir(dir, "ensemble.json", "an ensemble", settings);

  const Base b = make_base(config, o.run());
  const int64_t K = b.num_classes;
  const size_t n = b.train.size();
  train::save_resolved_config(b.resolved, (dir / "config.yaml").string());
  say(fmt::format("ensemble: {} of {} members, {} training / {} validation examples, in {}", method, o.members(), n,
                  b.val.size(), result.dir));

  train::EnsembleSpec spec;
  const int64_t M = o.members();
  Tensor oof;                  // stacking: the out-of-fold probabilities (n, M K)
  std::vector<int64_t> oof_y;  // and the labels of their rows
  if (method == "bagging") {
    spec.method = o.combine();
    for (int64_t m = 0; m < M; ++m) {
      const std::vector<size_t> idx =
          o.bootstrap() ? pick(b.train, data::bootstrap_indices(n, o.seed() * 1000003 + static_cast<uint64_t>(m)))
                        : b.train;
      result.members.push_back(train_member(b, dir / fmt::format("member-{}", m), m, static_cast<uint64_t>(m), idx,
                                            o.run(), true, log, fmt::format("member {}/{}", m + 1, M)));
    }
  } else if (method == "boosting") {
    spec.method = "weighted";
    std::vector<double> w(n, 1.0 / static_cast<double>(n));
    std::vector<double> votes(n * static_cast<size_t>(K), 0.0);  // the alpha-weighted vote so far
    for (int64_t m = 0; m < M; ++m) {
      // The sample-weighted loss over the whole training split, the weights scaled to mean 1
      // (the weighted mean of the losses does not depend on their scale).
      std::vector<double> scaled(w);
      for (double& x : scaled) x *= static_cast<double>(n);
      MemberResult member = train_member(b, dir / fmt::format("member-{}", m), m, static_cast<uint64_t>(m), b.train,
                                         o.run(), true, log, fmt::format("round {}/{}", m + 1, M), scaled);
      // The member's mistakes on the whole training split (weighted by the current weights).
      train::Run run = open_member(member, o.run());
      const Tensor p = probabilities(run.model(), b.full_eval, b.train, b.resolved).argmax(1).contiguous();
      std::vector<bool> wrong(n);
      for (size_t i = 0; i < n; ++i) wrong[i] = p.data_ptr<int64_t>()[i] != b.labels[b.train[i]];
      const SammeStep step = samme_step(w, wrong, K, o.learning_rate());
      member.error = step.error;
      member.alpha = step.alpha;
      files::write_json(fs::path(member.dir) / "member.json", member_json(member));
      say(fmt::format("round {}: weighted training error {:.4f}, alpha {:.4f}{}", m + 1, step.error, step.alpha,
                      step.stop ? (step.alpha > 0 ? " (no errors left: boosting stops)"
                                                  : " (no better than chance: dropped, boosting stops)")
                                : ""));
      if (step.alpha > 0) {
        // The ensemble's (unweighted) training error after this round: what boosting drives down.
        size_t errors = 0;
        for (size_t i = 0; i < n; ++i) {
          double* v = votes.data() + i * static_cast<size_t>(K);
          v[p.data_ptr<int64_t>()[i]] += step.alpha;
          errors += std::max_element(v, v + K) - v != b.labels[b.train[i]];
        }
        member.ensemble_error = static_cast<double>(errors) / static_cast<double>(n);
        files::write_json(fs::path(member.dir) / "member.json", member_json(member));
        say(fmt::format("round {}: the ensemble of {} members errs on {:.2f}% of the training split", m + 1,
                        result.members.size() + 1, 100 * member.ensemble_error));
        result.members.push_back(member);
        spec.weights.push_back(step.alpha);
      }
      if (step.stop) break;
      w = step.weights;
    }
    CNNKIT_CHECK(!result.members.empty(), "ensemble: boosting's first member is no better than chance (weighted "
                                          "error >= 1 - 1/K): nothing to combine; train it longer or change the config");
  } else {  // stacking
    spec.method = "stacking";
    spec.num_classes = K;
    for (int64_t m = 0; m < M; ++m)
      result.members.push_back(train_member(b, dir / fmt::format("member-{}", m), m, static_cast<uint64_t>(m), b.train,
                                            o.run(), true, log, fmt::format("member {}/{}", m + 1, M)));
    // Out-of-fold probabilities: example i's row comes from copies trained without its fold.
    const std::vector<int64_t> y = [&] {
      std::vector<int64_t> v;
      for (size_t i : b.train) v.push_back(b.labels[i]);
      return v;
    }();
    const std::vector<data::Fold> folds = data::stratified_kfold(y, o.folds(), /*shuffle=*/true, o.seed());
    Tensor X = zeros({static_cast<int64_t>(n), M * K});
    for (int64_t m = 0; m < M; ++m) {
      for (size_t f = 0; f < folds.size(); ++f) {
        const MemberResult copy =
            train_member(b, dir / fmt::format("oof-{}-{}", m, f), m, static_cast<uint64_t>(m), pick(b.train, folds[f].train),
                         o.run(), false, log, fmt::format("member {}/{}, fold {}/{}", m + 1, M, f + 1, folds.size()));
        train::Run run = open_member(copy, o.run());
        const Tensor p = probabilities(run.model(), b.full_eval, pick(b.train, folds[f].val), b.resolved);
        for (size_t r = 0; r < folds[f].val.size(); ++r)
          X[static_cast<int64_t>(folds[f].val[r])].narrow(0, m * K, K).copy_(p[static_cast<int64_t>(r)]);
      }
    }
    oof = X;  // the meta-learner is trained below, on the ensemble's own
    oof_y = y;
  }

  // The ensemble: fresh members loaded with the trained weights, combined as `spec` says.
  spec.members = static_cast<int64_t>(result.members.size());
  nn::Sequential model = train::build_ensemble(b.resolved, b.input_shape, spec);
  auto ens = model->ptr<nn::EnsembleImpl>(0);
  for (size_t m = 0; m < result.members.size(); ++m)
    ens->member(m).ptr()->load_state_dict(
        io::load_safetensors((fs::path(result.members[m].dir) / "model.safetensors").string()), /*strict=*/true);
  if (method == "stacking") {
    // Multinomial logistic regression on the out-of-fold probabilities, full batch.
    const Tensor& X = oof;
    Tensor y = empty({static_cast<int64_t>(n)}, kLong);
    for (size_t i = 0; i < n; ++i) y.data_ptr<int64_t>()[i] = oof_y[i];
    optim::Adam opt(ens->meta->parameters(), optim::AdamOptions(0.05));
    for (int step = 0; step < 300; ++step) {
      opt.zero_grad();
      nn::functional::cross_entropy(ens->meta->forward(X), y).backward();
      opt.step();
    }
    NoGradGuard no_grad;
    const Tensor logits = ens->meta->forward(X);
    result.meta["oof_loss"] = nn::functional::cross_entropy(logits, y).item<double>();
    result.meta["oof_accuracy"] = logits.argmax(1).eq(y).to(kFloat).mean().item<double>();
    say(fmt::format("meta-learner on the out-of-fold probabilities: accuracy {:.2f}%, loss {:.4f}",
                    100 * result.meta["oof_accuracy"], result.meta["oof_loss"]));
  }
  model->eval();
  result.val = metrics_of(model, b.val_ds, b, "val_");
  result.test = metrics_of(model, b.test_ds, b, "test_");
  result.model_path = (dir / "model.safetensors").string();
  train::save_model(result.model_path, *model, b.resolved, b.classes, &spec);

  doc["members"] = json::array();
  for (const MemberResult& m : result.members) doc["members"].push_back(member_json(m));
  json combined = {{"combine", spec.method}, {"weights", spec.weights}, {"model", result.model_path}};
  for (const auto* metrics : {&result.val, &result.test})
    for (const auto& [k, v] : *metrics) combined[k] = v;
  doc["ensemble"] = combined;
  if (!result.meta.empty()) doc["meta_learner"] = result.meta;
  files::write_json(dir / "ensemble.json", doc);
  return result;
}

std::string ensemble_table(const EnsembleResult& r) {
  auto pct = [](const std::map<std::string, double>& m, const char* key) {
    const auto it = m.find(key);
    return it == m.end() ? std::string("-") : fmt::format("{:.2f}%", 100 * it->second);
  };
  const bool boosting = r.method == "boosting";
  std::string out = fmt::format("{:>9} {:>8} {:>8} {:>8}", "member", "train", "val_acc", "test_acc");
  if (boosting) out += fmt::format(" {:>8} {:>8} {:>9}", "error", "alpha", "ens_error");
  out += "\n";
  double mean_test = 0;
  for (const MemberResult& m : r.members) {
    out += fmt::format("{:>9} {:>8} {:>8} {:>8}", m.index, m.train_size, pct(m.val, "val_accuracy"),
                       pct(m.test, "test_accuracy"));
    if (boosting) out += fmt::format(" {:>8.4f} {:>8.4f} {:>9.4f}", m.error, m.alpha, m.ensemble_error);
    out += "\n";
    mean_test += m.test.count("test_accuracy") ? m.test.at("test_accuracy") / static_cast<double>(r.members.size()) : 0;
  }
  out += fmt::format("{:>9} {:>8} {:>8} {:>8}\n", "mean", "", "", fmt::format("{:.2f}%", 100 * mean_test));
  out += fmt::format("{:>9} {:>8} {:>8} {:>8}\n", r.method, "", pct(r.val, "val_accuracy"), pct(r.test, "test_accuracy"));
  return out;
}

}  // namespace cnnkit::model_selection
