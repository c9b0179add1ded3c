// The standard callbacks: EarlyStopping, ModelCheckpoint, CSVLogger, TerminateOnNaN, with
// Keras's semantics, plus their checkpoint state. They reach the model and the files only
// through the Trainer's public API.
#include "cnnkit/train/callbacks.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "cnnkit/io/checkpoint.h"
#include "cnnkit/io/file.h"
#include "cnnkit/io/safetensors.h"
#include "cnnkit/nn/module.h"
#include "cnnkit/train/trainer.h"

namespace cnnkit::train {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

std::map<std::string, Tensor> snapshot(const nn::Module& module) {
  std::map<std::string, Tensor> out;
  for (const auto& item : module.state_dict()) out[item.key()] = item.value().clone();
  return out;
}

int64_t to_int(const CallbackState& s, const std::string& key, int64_t fallback) {
  auto it = s.values.find(key);
  return it == s.values.end() ? fallback : static_cast<int64_t>(io::parse_double(it->second, key));
}
double to_double(const CallbackState& s, const std::string& key, double fallback) {
  auto it = s.values.find(key);
  return it == s.values.end() ? fallback : io::parse_double(it->second, key);
}

}  // namespace

bool all_finite(const Tensor& t) {
  if (!t.defined() || t.scalar_type() != kFloat) return true;
  Tensor c = t.contiguous();
  const auto* bits = static_cast<const uint32_t*>(c.data_ptr());
  const int64_t n = c.numel();
  // NaN and inf are the floats whose exponent bits are all ones; OR-ing the comparisons
  // without a branch lets the loop vectorise (std::isfinite in a loop does not).
  constexpr uint32_t kExponent = 0x7f800000u;
  uint32_t bad = 0;
  for (int64_t i = 0; i < n; ++i) bad |= static_cast<uint32_t>((bits[i] & kExponent) == kExponent);
  return bad == 0;
}

std::string first_non_finite(const nn::Module& module) {
  for (const auto& item : module.state_dict())
    if (!all_finite(item.value())) return item.key();
  return "";
}

bool weights_finite(const nn::Module& module) { return first_non_finite(module).empty(); }

double monitored_value(const Logs& logs, const std::string& monitor, const std::string& who) {
  auto it = logs.find(monitor);
  if (it == logs.end()) it = logs.find("train_" + monitor);
  if (it != logs.end()) return it->second;
  std::string keys;
  for (const auto& [k, v] : logs) keys += (keys.empty() ? "" : ", ") + k;
  const bool val = monitor.rfind("val_", 0) == 0;
  CNNKIT_CHECK(false, who, ": monitor '", monitor, "' is not among the epoch metrics (", keys, ")",
               val ? "; pass a validation loader to fit() or monitor a train_ metric" : "");
}

Mode resolve_mode(Mode mode, const std::string& monitor) {
  if (mode != Mode::kAuto) return mode;
  for (const char* word : {"acc", "f1", "r2", "precision", "recall"})
    if (monitor.find(word) != std::string::npos) return Mode::kMax;
  return Mode::kMin;
}

// ---- EarlyStopping --------------------------------------------------------------------------

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : options_(std::move(options)) {
  CNNKIT_CHECK(options_.patience() >= 0, "EarlyStopping: patience must be >= 0, got ", options_.patience());
  CNNKIT_CHECK(options_.min_delta() >= 0, "EarlyStopping: min_delta must be >= 0, got ", options_.min_delta());
  CNNKIT_CHECK(!options_.monitor().empty(), "EarlyStopping: empty monitor");
  maximize_ = resolve_mode(options_.mode(), options_.monitor()) == Mode::kMax;
  best_ = maximize_ ? -kInf : kInf;
}

bool EarlyStopping::improves(double value, double reference) const {
  return maximize_ ? value - options_.min_delta() > reference : value + options_.min_delta() < reference;
}

void EarlyStopping::on_train_begin(Trainer& trainer) {
  restored_epoch_ = -1;
  if (loaded_) {  // resumed: keep best/wait from the checkpoint
    loaded_ = false;
    if (stopped_epoch_ >= 0) {  // the checkpoint was written after the epoch it stopped at
      trainer.stop_training();
      if (options_.verbose())
        trainer.log() << "EarlyStopping: the run had stopped after epoch " << stopped_epoch_ + 1
                      << "; not training further\n";
    }
    return;
  }
  wait_ = 0;
  stopped_epoch_ = -1;
  stopped_wait_ = 0;
  best_epoch_ = -1;
  weights_epoch_ = -1;
  best_ = maximize_ ? -kInf : kInf;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) {
  const double current = monitored_value(logs, options_.monitor(), "EarlyStopping");
  if (options_.restore_best_weights() && best_weights_.empty()) {
    best_weights_ = snapshot(trainer.module());
    weights_epoch_ = epoch;
  }
  ++wait_;
  if (improves(current, best_)) {
    best_ = current;
    best_epoch_ = epoch;
    if (options_.restore_best_weights()) {
      best_weights_ = snapshot(trainer.module());
      weights_epoch_ = epoch;
    }
    // wait restarts only if the value beats both the previous best and the baseline.
    if (!options_.baseline() || improves(current, *options_.baseline())) wait_ = 0;
    return;
  }
  if (wait_ >= options_.patience() && epoch > 0) {
    stopped_epoch_ = epoch;
    stopped_wait_ = wait_;
    trainer.stop_training();
    if (options_.verbose())
      trainer.log() << "Epoch " << epoch + 1 << ": early stopping (" << options_.monitor() << " has not improved on "
                    << num(best_) << " for " << wait_ << " epoch" << (wait_ == 1 ? "" : "s") << ")\n";
  }
}

void EarlyStopping::on_train_end(Trainer& trainer) {
  if (!options_.restore_best_weights() || best_weights_.empty()) return;
  trainer.module().load_state_dict(best_weights_, /*strict=*/true);
  restored_epoch_ = weights_epoch_;
  if (options_.verbose() && best_epoch_ >= 0)
    trainer.log() << "Restoring model weights from the end of the best epoch: " << best_epoch_ + 1 << " ("
                  << options_.monitor() << " " << num(best_) << ")\n";
}

std::string EarlyStopping::summary() const {
  std::ostringstream os;
  os << "early stopping: ";
  if (stopped()) {
    os << "stopped after epoch " << stopped_epoch_ + 1 << " (" << options_.monitor() << " did not improve for "
       << stopped_wait_ << " epoch" << (stopped_wait_ == 1 ? "" : "s") << ")";
  } else {
    os << "did not stop";
    if (best_epoch_ >= 0) os << " (best " << options_.monitor() << " " << num(best_) << " at epoch " << best_epoch_ + 1 << ")";
  }
  if (restored()) os << "; restored the weights of epoch " << restored_epoch_ + 1;
  return os.str();
}

void EarlyStopping::save_state(CallbackState& state) const {
  state.values["best"] = io::format_double(best_);
  state.values["wait"] = std::to_string(wait_);
  state.values["best_epoch"] = std::to_string(best_epoch_);
  state.values["stopped_epoch"] = std::to_string(stopped_epoch_);
  state.values["stopped_wait"] = std::to_string(stopped_wait_);
  state.values["weights_epoch"] = std::to_string(weights_epoch_);
  for (const auto& [k, t] : best_weights_) state.tensors["best_weights." + k] = t;
}

void EarlyStopping::load_state(const CallbackState& state) {
  if (state.values.empty()) return;  // not in the checkpoint: start fresh
  best_ = to_double(state, "best", best_);
  wait_ = to_int(state, "wait", 0);
  best_epoch_ = to_int(state, "best_epoch", -1);
  stopped_epoch_ = to_int(state, "stopped_epoch", -1);
  stopped_wait_ = to_int(state, "stopped_wait", stopped_epoch_ >= 0 ? wait_ : 0);
  best_weights_.clear();
  for (const auto& [k, t] : state.tensors)
    if (k.rfind("best_weights.", 0) == 0) best_weights_[k.substr(13)] = t;
  // Checkpoints from before weights_epoch was saved: the snapshot is the best epoch's, or
  // the first epoch's when none improved.
  weights_epoch_ = to_int(state, "weights_epoch", best_weights_.empty() ? -1 : std::max<int64_t>(best_epoch_, 0));
  loaded_ = true;
}

// ---- ModelCheckpoint --------------------------------------------------------------------------

ModelCheckpoint::ModelCheckpoint(ModelCheckpointOptions options) : options_(std::move(options)) {
  CNNKIT_CHECK(!options_.dir().empty(), "ModelCheckpoint: empty directory");
  maximize_ = resolve_mode(options_.mode(), options_.monitor()) == Mode::kMax;
  best_ = maximize_ ? -kInf : kInf;
}

void ModelCheckpoint::on_train_begin(Trainer& /*trainer*/) {
  std::error_code ec;
  std::filesystem::create_directories(options_.dir(), ec);
  CNNKIT_CHECK_IO(!ec, "ModelCheckpoint: cannot create directory ", options_.dir(), ": ", ec.message());
  if (loaded_) {
    loaded_ = false;
    return;
  }
  best_ = maximize_ ? -kInf : kInf;
  best_epoch_ = -1;
}

void ModelCheckpoint::on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) {
  if (!options_.save_best()) return;
  const double value = monitored_value(logs, options_.monitor(), "ModelCheckpoint");
  const bool better = maximize_ ? value > best_ : value < best_;  // NaN is never better
  if (!better) return;
  if (!weights_finite(trainer.module())) {
    trainer.log() << "ModelCheckpoint: epoch " << epoch + 1 << ": the weights hold NaN or inf; " << best_path()
                  << " not written\n";
    return;
  }
  io::save_state_dict(best_path(), trainer.module(),
                      {{"format", "pt"}, {"epoch", std::to_string(epoch + 1)}, {"monitor", options_.monitor()},
                       {options_.monitor(), io::format_double(value)}});
  if (options_.verbose())
    trainer.log() << "Epoch " << epoch + 1 << ": " << options_.monitor() << " improved from " << num(best_) << " to "
                  << num(value) << ", saved " << best_path() << "\n";
  best_ = value;
  best_epoch_ = epoch;
}

void ModelCheckpoint::on_epoch_saved(Trainer& trainer, int64_t epoch, const Logs& /*logs*/) {
  if (!options_.save_last()) return;
  if (!weights_finite(trainer.module())) {
    trainer.log() << "ModelCheckpoint: epoch " << epoch + 1 << ": the weights hold NaN or inf; " << last_path()
                  << " keeps the previous epoch\n";
    return;
  }
  trainer.save_checkpoint(last_path());
}

void ModelCheckpoint::save_state(CallbackState& state) const {
  state.values["best"] = io::format_double(best_);
  state.values["best_epoch"] = std::to_string(best_epoch_);
}

void ModelCheckpoint::load_state(const CallbackState& state) {
  if (state.values.empty()) return;
  best_ = to_double(state, "best", best_);
  best_epoch_ = to_int(state, "best_epoch", -1);
  loaded_ = true;
}

// ---- CSVLogger -----------------------------------------------------------------------------------

CSVLogger::CSVLogger(std::string path, char separator) : path_(std::move(path)), sep_(separator) {
  CNNKIT_CHECK(!path_.empty(), "CSVLogger: empty path");
}

CSVLogger::~CSVLogger() { close(); }

void CSVLogger::close() {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

void CSVLogger::on_train_begin(Trainer& trainer) {
  close();
  columns_.clear();
  std::filesystem::path p(path_);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  if (trainer.epoch() > 0 && std::filesystem::exists(p)) {
    // Keep the header and the rows of epochs 1..trainer.epoch(); later rows were written
    // after the checkpoint we resumed from and will be written again.
    std::ifstream in(path_);
    std::string line, kept;
    bool header = true;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (header) {
        std::stringstream ss(line);
        std::string col;
        while (std::getline(ss, col, sep_)) columns_.push_back(col);
        kept += line + "\n";
        header = false;
        continue;
      }
      const std::string first = line.substr(0, line.find(sep_));
      char* end = nullptr;
      const double e = std::strtod(first.c_str(), &end);
      if (end != first.c_str() && e <= static_cast<double>(trainer.epoch())) kept += line + "\n";
    }
    in.close();
    io::write_file_atomic(path_, kept, "CSVLogger");
    file_ = std::fopen(path_.c_str(), "a");
  } else {
    file_ = std::fopen(path_.c_str(), "w");
  }
  CNNKIT_CHECK_IO(file_ != nullptr, "CSVLogger: cannot open ", path_, " for writing");
}

void CSVLogger::on_epoch_end(Trainer& /*trainer*/, int64_t /*epoch*/, const Logs& logs) {
  if (!file_) return;
  if (columns_.empty()) {
    for (const char* k : {"epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"})
      if (logs.count(k) || std::string(k) == "epoch") columns_.push_back(k);
    for (const auto& [k, v] : logs)
      if (std::find(columns_.begin(), columns_.end(), k) == columns_.end()) columns_.push_back(k);
    for (size_t i = 0; i < columns_.size(); ++i) std::fprintf(file_, "%s%s", i ? std::string(1, sep_).c_str() : "", columns_[i].c_str());
    std::fputc('\n', file_);
  }
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i) std::fputc(sep_, file_);
    auto it = logs.find(columns_[i]);
    if (it == logs.end()) continue;
    if (columns_[i] == "epoch") std::fprintf(file_, "%lld", static_cast<long long>(it->second));
    else std::fprintf(file_, "%.10g", it->second);
  }
  std::fputc('\n', file_);
  std::fflush(file_);
}

void CSVLogger::on_train_end(Trainer& /*trainer*/) { close(); }

// ---- StepLogger --------------------------------------------------------------------------------

StepLogger::StepLogger(std::string path) : path_(std::move(path)) { CNNKIT_CHECK(!path_.empty(), "StepLogger: empty path"); }

StepLogger::~StepLogger() { close(); }

void StepLogger::close() {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

void StepLogger::on_train_begin(Trainer& trainer) {
  close();
  std::filesystem::path p(path_);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  if (trainer.global_step() > 0 && std::filesystem::exists(p)) {
    // Keep the header and steps 1..trainer.global_step() (column 1): later rows were written
    // after the checkpoint resumed from (at an epoch end or inside an epoch).
    std::ifstream in(path_);
    std::string line, kept;
    for (bool header = true; std::getline(in, line); header = false) {
      if (header) {
        kept += line + "\n";
        continue;
      }
      char* end = nullptr;
      const long long step = std::strtoll(line.c_str(), &end, 10);
      if (end != line.c_str() && *end == ',' && step <= trainer.global_step()) kept += line + "\n";
    }
    in.close();
    io::write_file_atomic(path_, kept, "StepLogger");
    file_ = std::fopen(path_.c_str(), "a");
  } else {
    file_ = std::fopen(path_.c_str(), "w");
    if (file_) std::fputs("step,epoch,batch,lr,loss\n", file_);
  }
  CNNKIT_CHECK_IO(file_ != nullptr, "StepLogger: cannot open ", path_, " for writing");
}

void StepLogger::on_batch_end(Trainer& trainer, const BatchLogs& l) {
  if (!file_) return;
  std::fprintf(file_, "%lld,%lld,%lld,%.10g,%.10g\n", static_cast<long long>(l.step), static_cast<long long>(l.epoch + 1),
               static_cast<long long>(l.batch + 1), l.lr, l.loss);
  // Mid-epoch checkpoints may follow any step: its row is on disk before the checkpoint.
  if (trainer.options().checkpoint_every_steps() > 0 || trainer.options().checkpoint_every_seconds() > 0)
    std::fflush(file_);
}

void StepLogger::on_epoch_end(Trainer& /*trainer*/, int64_t /*epoch*/, const Logs& /*logs*/) {
  if (file_) std::fflush(file_);
}

void StepLogger::on_train_end(Trainer& /*trainer*/) { close(); }

// ---- TerminateOnNaN ------------------------------------------------------------------------------

namespace {

// "epoch 2 step 3 (global step 9)": epoch and step within it 1-based, as messages print them.
std::string where_str(const BatchLogs& l) {
  return "epoch " + std::to_string(l.epoch + 1) + " step " + std::to_string(l.batch + 1) + " (global step " +
         std::to_string(l.step) + ")";
}

std::string checkpoint_note(const Trainer& trainer) {
  return trainer.last_checkpoint().empty() ? "No checkpoint was written before this step."
                                           : "The last good checkpoint is " + trainer.last_checkpoint() + ".";
}

}  // namespace

TerminateOnNaN::TerminateOnNaN(TerminateOnNaNOptions options) : options_(std::move(options)) {
  CNNKIT_CHECK(options_.check_parameters_every() >= 0,
               "TerminateOnNaN: check_parameters_every must be >= 0 (0 = at epoch ends only), got ",
               options_.check_parameters_every());
}

void TerminateOnNaN::on_train_begin(Trainer& trainer) {
  // Handles to the tensors themselves: optimisers and resume update them in place, so the
  // per-step scan neither walks the module tree nor builds names.
  watched_.clear();
  is_buffer_.clear();
  for (const auto& item : trainer.module().named_parameters()) {
    watched_.emplace_back(item.key(), item.value());
    is_buffer_.push_back(false);
  }
  for (const auto& item : trainer.module().named_buffers()) {
    if (item.value().scalar_type() != kFloat) continue;
    watched_.emplace_back(item.key(), item.value());
    is_buffer_.push_back(true);
  }
  last_batch_ = BatchLogs{};
  last_batch_.step = trainer.global_step();
  last_good_step_ = -1;
  check_parameters(trainer, trainer.global_step() == 0
                                ? std::string("before training")
                                : "when training resumed after global step " + std::to_string(trainer.global_step()));
  last_good_step_ = trainer.global_step();
}

void TerminateOnNaN::check_parameters(const Trainer& trainer, const std::string& where) {
  for (size_t i = 0; i < watched_.size(); ++i) {
    const Tensor& t = watched_[i].second;
    if (all_finite(t)) continue;
    // Only now: count what is wrong, for the message.
    Tensor c = t.contiguous();
    const float* p = c.data_ptr<float>();
    int64_t nans = 0, infs = 0;
    for (int64_t j = 0; j < c.numel(); ++j) {
      nans += std::isnan(p[j]);
      infs += std::isinf(p[j]);
    }
    std::ostringstream os;
    os << "TerminateOnNaN: " << (is_buffer_[i] ? "buffer '" : "parameter '") << watched_[i].first << "' "
       << (last_good_step_ < 0 ? "is non-finite " : "became non-finite ") << where << ": " << nans << " NaN and "
       << infs << " inf of its " << c.numel() << " values";
    if (last_good_step_ >= 0 && last_good_step_ + 1 < trainer.global_step())
      os << " (every parameter was finite after global step " << last_good_step_ << ")";
    os << ". Training stopped and the weights in memory are not usable. " << checkpoint_note(trainer);
    throw NonFiniteParameterError(os.str(), watched_[i].first);
  }
}

void TerminateOnNaN::on_batch_end(Trainer& trainer, const BatchLogs& logs) {
  last_batch_ = logs;
  if (!std::isfinite(logs.loss)) {
    std::ostringstream os;
    os << "TerminateOnNaN: the training loss is " << (std::isnan(logs.loss) ? "nan" : logs.loss > 0 ? "inf" : "-inf")
       << " at " << where_str(logs)
       << (logs.non_finite_cause.empty() ? "" : ": " + logs.non_finite_cause)
       << "; training stopped and the weights in memory are not usable. " << checkpoint_note(trainer);
    throw NonFiniteLossError(os.str());
  }
  const int64_t every = options_.check_parameters_every();
  if (every > 0 && logs.step % every == 0) {
    check_parameters(trainer, "after " + where_str(logs));
    last_good_step_ = logs.step;
  }
}

void TerminateOnNaN::on_epoch_end(Trainer& trainer, int64_t /*epoch*/, const Logs& /*logs*/) {
  // Runs before any on_epoch_saved, where checkpoints are written.
  if (last_good_step_ == trainer.global_step()) return;  // this step was scanned already
  check_parameters(trainer, "after " + where_str(last_batch_));
  last_good_step_ = trainer.global_step();
}

}  // namespace cnnkit::train
