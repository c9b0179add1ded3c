// Training callbacks (Keras's keras.callbacks, whose semantics these copy): hooks the
// Trainer calls around epochs and batches, and the standard ones — EarlyStopping,
// ModelCheckpoint, CSVLogger, TerminateOnNaN. State that a resumed run needs (EarlyStopping's
// best and wait, ModelCheckpoint's best) is saved into the Trainer's checkpoints.
//
//   trainer.add_callback(std::make_shared<train::EarlyStopping>(
//       train::EarlyStoppingOptions().monitor("val_loss").patience(5).restore_best_weights(true)));
//   trainer.add_callback(std::make_shared<train::ModelCheckpoint>(
//       train::ModelCheckpointOptions("runs/x").monitor("val_accuracy")));
//   trainer.add_callback(std::make_shared<train::CSVLogger>("runs/x/metrics.csv"));
//   trainer.add_callback(std::make_shared<train::TerminateOnNaN>());
//
// Epoch logs are a name -> value map: "epoch" (1-based), "lr", "train_loss",
// "train_accuracy", "val_loss", "val_accuracy", ... (see Trainer), "seconds". A monitor
// may drop the "train_" prefix ("loss" = "train_loss", as Keras names it).
// Writing your own: derive from Callback, override the hooks you need; call
// trainer.stop_training() to end after the current epoch.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnnkit/core/tensor.h"
#include "cnnkit/nn/options_arg.h"

namespace cnnkit::nn {
class Module;
}

namespace cnnkit::train {

class Trainer;

using Logs = std::map<std::string, double>;

// What a callback sees after every optimisation step. Epoch and batch are 0-based here
// (callback code indexes with them); messages print them 1-based.
struct BatchLogs {
  int64_t epoch = 0;        // 0-based
  int64_t batch = 0;        // 0-based index within the epoch
  int64_t batches = 0;      // batches per epoch
  int64_t step = 0;         // optimisation steps done so far over the whole run (>= 1)
  int64_t batch_size = 0;
  int64_t samples = 0;      // examples seen this epoch, this batch included
  double loss = 0;          // this batch's loss (without the L1/L2 penalty)
  double running_loss = 0;  // mean over the epoch so far
  double running_accuracy = 0;  // NaN for regression
  double lr = 0;            // first parameter group's lr used by this step
};

// A callback's state for checkpoints: strings and tensors under its own keys.
struct CallbackState {
  std::map<std::string, std::string> values;
  std::map<std::string, Tensor> tensors;
};

class Callback {
 public:
  virtual ~Callback() = default;
  // The key its state is saved under in checkpoints ("early_stopping"); the Trainer makes
  // duplicates unique by order of addition ("early_stopping", "early_stopping#1").
  virtual std::string name() const { return "callback"; }

  virtual void on_train_begin(Trainer& /*trainer*/) {}
  virtual void on_epoch_begin(Trainer& /*trainer*/, int64_t /*epoch*/) {}
  virtual void on_batch_end(Trainer& /*trainer*/, const BatchLogs& /*logs*/) {}
  virtual void on_epoch_end(Trainer& /*trainer*/, int64_t /*epoch*/, const Logs& /*logs*/) {}
  // After every callback's on_epoch_end (and the scheduler step): a checkpoint written here
  // holds the whole run's state for this epoch.
  virtual void on_epoch_saved(Trainer& /*trainer*/, int64_t /*epoch*/, const Logs& /*logs*/) {}
  virtual void on_train_end(Trainer& /*trainer*/) {}

  // For resume: on_train_begin after load_state() keeps the loaded state.
  virtual void save_state(CallbackState& /*state*/) const {}
  virtual void load_state(const CallbackState& /*state*/) {}
};

enum class Mode { kMin, kMax, kAuto };  // kAuto: max for names containing "acc", "f1" or "r2"

// The value of `monitor` in `logs` ("loss" finds "train_loss"); ValueError naming the
// available keys when absent.
double monitored_value(const Logs& logs, const std::string& monitor, const std::string& who);
Mode resolve_mode(Mode mode, const std::string& monitor);
// Every float parameter and buffer is finite (checkpoints of NaN weights are never written).
bool weights_finite(const nn::Module& module);

// ---- EarlyStopping (keras.callbacks.EarlyStopping) --------------------------------------------
struct EarlyStoppingOptions {
  CNNKIT_ARG(std::string, monitor) = "val_loss";
  CNNKIT_ARG(Mode, mode) = Mode::kAuto;
  CNNKIT_ARG(int64_t, patience) = 0;
  CNNKIT_ARG(double, min_delta) = 0;  // an improvement must beat the best by more than this
  CNNKIT_ARG(std::optional<double>, baseline) = std::nullopt;
  CNNKIT_ARG(bool, restore_best_weights) = false;
  CNNKIT_ARG(bool, verbose) = true;
};

// Stops when `monitor` has not improved for `patience` epochs (never after the first epoch).
// An epoch improves when value < best - min_delta (kMin) or value > best + min_delta (kMax);
// `wait` restarts only if the value also beats `baseline`. With restore_best_weights, the
// weights of the best epoch are put back when training ends (stopped early or not; the
// first epoch's weights if none improved), as Keras 3 does.
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  std::string name() const override { return "early_stopping"; }
  void on_train_begin(Trainer& trainer) override;
  void on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) override;
  void on_train_end(Trainer& trainer) override;
  void save_state(CallbackState& state) const override;
  void load_state(const CallbackState& state) override;

  double best() const { return best_; }
  int64_t wait() const { return wait_; }
  int64_t best_epoch() const { return best_epoch_; }        // 0-based; -1 before any
  int64_t stopped_epoch() const { return stopped_epoch_; }  // 0-based; -1 if not stopped

 private:
  bool improves(double value, double reference) const;
  EarlyStoppingOptions options_;
  bool maximize_ = false;
  double best_ = 0;
  int64_t wait_ = 0, best_epoch_ = -1, stopped_epoch_ = -1;
  std::map<std::string, Tensor> best_weights_;
  bool loaded_ = false;
};

// ---- ModelCheckpoint (keras.callbacks.ModelCheckpoint) ---------------------------------------
struct ModelCheckpointOptions {
  explicit ModelCheckpointOptions(std::string dir) : dir_(std::move(dir)) {}
  CNNKIT_ARG(std::string, dir);
  CNNKIT_ARG(std::string, monitor) = "val_loss";
  CNNKIT_ARG(Mode, mode) = Mode::kAuto;
  CNNKIT_ARG(bool, save_best) = true;   // <dir>/best.safetensors: the weights only
  CNNKIT_ARG(bool, save_last) = true;   // <dir>/checkpoint_last.safetensors: everything, for resume
  CNNKIT_ARG(bool, verbose) = false;
};

// Writes, after every epoch, the full resume checkpoint (checkpoint_last.safetensors) and,
// when `monitor` improved, the model's weights (best.safetensors, a plain state dict that
// io::load_state_dict and PyTorch's safetensors.torch.load_file read). Both atomically.
// Weights with a NaN or inf are never written: the previous files stay, and a warning says so.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(ModelCheckpointOptions options);
  ModelCheckpoint(std::string dir, std::string monitor)
      : ModelCheckpoint(ModelCheckpointOptions(std::move(dir)).monitor(std::move(monitor))) {}
  std::string name() const override { return "model_checkpoint"; }
  void on_train_begin(Trainer& trainer) override;
  void on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) override;
  void on_epoch_saved(Trainer& trainer, int64_t epoch, const Logs& logs) override;
  void save_state(CallbackState& state) const override;
  void load_state(const CallbackState& state) override;

  std::string best_path() const { return options_.dir() + "/best.safetensors"; }
  std::string last_path() const { return options_.dir() + "/checkpoint_last.safetensors"; }
  double best() const { return best_; }

 private:
  ModelCheckpointOptions options_;
  bool maximize_ = false;
  double best_ = 0;
  int64_t best_epoch_ = -1;
  bool loaded_ = false;
};

// ---- CSVLogger (keras.callbacks.CSVLogger) -------------------------------------------------
// One row an epoch: epoch (1-based), lr, train_loss, train_accuracy, val_loss, val_accuracy,
// seconds, then any other logged values in name order (empty cells for absent ones). A
// fresh run truncates the file; a resumed run keeps the rows of the epochs the checkpoint
// covers and drops later ones (written after that checkpoint, before a crash), then appends.
// Every row is flushed.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string path, char separator = ',');
  ~CSVLogger() override;
  std::string name() const override { return "csv_logger"; }
  void on_train_begin(Trainer& trainer) override;
  void on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) override;
  void on_train_end(Trainer& trainer) override;

 private:
  void close();
  std::string path_;
  char sep_;
  std::FILE* file_ = nullptr;
  std::vector<std::string> columns_;
};

// ---- TerminateOnNaN (keras.callbacks.TerminateOnNaN) ---------------------------------------
// A NaN or infinite training loss throws NonFiniteLossError naming the epoch and step at
// once; nothing more is written, so the checkpoint on disk is the last good one.
class NonFiniteLossError : public ValueError {
 public:
  using ValueError::ValueError;
};

class TerminateOnNaN : public Callback {
 public:
  std::string name() const override { return "terminate_on_nan"; }
  void on_batch_end(Trainer& trainer, const BatchLogs& logs) override;
};

}  // namespace cnnkit::train
