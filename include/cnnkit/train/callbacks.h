// Training callbacks (Keras's keras.callbacks, whose semantics these copy): hooks the
// Trainer calls around epochs and batches, and the standard ones — EarlyStopping,
// ModelCheckpoint, CSVLogger, TerminateOnNaN (which also watches the parameters). State that
// a resumed run needs (EarlyStopping's best and wait, ModelCheckpoint's best) is saved into
// the Trainer's checkpoints.
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
#include "cnnkit/core/arg.h"

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
  // When the loss is NaN or inf, the Trainer's finding of where it came from: the batch's
  // input or target, the first layer of a Sequential model whose output is not finite
  // (replayed with the step's dropout draws, its input finite), or the loss function on a
  // finite output. Empty otherwise. TerminateOnNaN puts it in its message.
  std::string non_finite_cause;
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
// The state_dict name of the first float parameter or buffer holding a NaN or inf, or ""
// when every one is finite.
std::string first_non_finite(const nn::Module& module);
// Every element of t (float32; other dtypes count as finite) is finite. A branch-free scan of
// the exponent bits that the compiler vectorises: about 12 us for LeNet-5's 61k parameters.
bool all_finite(const Tensor& t);

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
// first epoch's weights if none improved), as Keras 3 does. A run resumed from a checkpoint
// written after it stopped stays stopped (as the uninterrupted run would have).
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  std::string name() const override { return "early_stopping"; }
  void on_train_begin(Trainer& trainer) override;
  void on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) override;
  void on_train_end(Trainer& trainer) override;
  void save_state(CallbackState& state) const override;
  void load_state(const CallbackState& state) override;

  // What happened, for run records. Epochs are 0-based, as everywhere in the API; -1 = none.
  const EarlyStoppingOptions& options() const { return options_; }
  double best() const { return best_; }
  int64_t wait() const { return wait_; }                     // epochs since the last improvement
  int64_t best_epoch() const { return best_epoch_; }         // -1 before any improvement
  bool stopped() const { return stopped_epoch_ >= 0; }       // it ended training early
  int64_t stopped_epoch() const { return stopped_epoch_; }   // the last epoch trained; -1 if not stopped
  int64_t stopped_wait() const { return stopped_wait_; }     // epochs without improvement when it stopped
  bool restored() const { return restored_epoch_ >= 0; }     // on_train_end put saved weights back
  int64_t restored_epoch() const { return restored_epoch_; } // whose weights those were; -1 if none
  // One line for a run summary (epochs 1-based), e.g.
  //   "early stopping: stopped after epoch 7 (val_loss did not improve for 3 epochs); restored the weights of epoch 4"
  //   "early stopping: did not stop (best val_loss 0.2311 at epoch 10)"
  std::string summary() const;

 private:
  bool improves(double value, double reference) const;
  EarlyStoppingOptions options_;
  bool maximize_ = false;
  double best_ = 0;
  int64_t wait_ = 0, best_epoch_ = -1, stopped_epoch_ = -1, stopped_wait_ = 0;
  int64_t weights_epoch_ = -1;   // the epoch best_weights_ were taken after
  int64_t restored_epoch_ = -1;
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
  const ModelCheckpointOptions& options() const { return options_; }

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

// ---- StepLogger (Lightning's LearningRateMonitor(logging_interval="step") + the step loss) ----
// One row an optimisation step: step (global, 1-based), epoch (1-based), batch (1-based),
// lr (the first parameter group's, as used by the step), loss (the batch's). Rows are
// buffered and flushed at each epoch end (every step when the trainer writes mid-epoch
// checkpoints); a resumed run keeps the rows of the steps its checkpoint covers. `cnnkit train` writes RUN_DIR/steps.csv, which the
// report plots (the learning rate per step, warm-up included).
class StepLogger : public Callback {
 public:
  explicit StepLogger(std::string path);
  ~StepLogger() override;
  std::string name() const override { return "step_logger"; }
  void on_train_begin(Trainer& trainer) override;
  void on_batch_end(Trainer& trainer, const BatchLogs& logs) override;
  void on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) override;
  void on_train_end(Trainer& trainer) override;

 private:
  void close();
  std::string path_;
  std::FILE* file_ = nullptr;
};

// ---- TerminateOnNaN (keras.callbacks.TerminateOnNaN, and Lightning's terminate_on_nan) -----
// Ends the run with an exception the moment training has gone non-finite, naming where:
//   - the training loss, checked after every step (it is a scalar already read): throws
//     NonFiniteLossError "the training loss is nan at epoch 2 step 3 (global step 9)";
//   - every parameter and float buffer (BatchNorm's running statistics), which a NaN can
//     reach while the loss stays finite (an lr that overflows, NaN data that a ReLU or a
//     max-pool hides from the loss): throws NonFiniteParameterError "parameter
//     'features.0.weight' became non-finite after epoch 2 step 37 (global step 457)".
// When: the parameters are scanned after every `check_parameters_every` steps, at the start
// of training (weights loaded from elsewhere) and always at the end of an epoch, in
// on_epoch_end, i.e. before on_epoch_saved where the Trainer and ModelCheckpoint write
// checkpoints: the checkpoint on disk is always the last good one. The default, every step,
// names the exact step; the scan is one vectorised read of the weights (LeNet-5: ~12 us
// against a ~20 ms step of batch 64 on 2 cores, see terminate_on_nan_overhead_slow_test; a
// step reads and writes every weight several times, so the share stays small for large
// models), so use a larger interval only for models whose step is memory-bound on the
// weights (large fully connected layers, tiny batches). With an interval the message says
// since which global step the weights were known finite.
// The CLI catches NonFiniteError (both kinds).
class NonFiniteError : public ValueError {
 public:
  using ValueError::ValueError;
};
class NonFiniteLossError : public NonFiniteError {
 public:
  using NonFiniteError::NonFiniteError;
};
class NonFiniteParameterError : public NonFiniteError {
 public:
  NonFiniteParameterError(const std::string& message, std::string parameter)
      : NonFiniteError(message), parameter_(std::move(parameter)) {}
  const std::string& parameter() const { return parameter_; }  // its state_dict name

 private:
  std::string parameter_;
};

struct TerminateOnNaNOptions {
  // Scan the parameters after every this many optimisation steps (1: every step, exact);
  // 0: only at the start of training and at epoch ends.
  CNNKIT_ARG(int64_t, check_parameters_every) = 1;
};

class TerminateOnNaN : public Callback {
 public:
  explicit TerminateOnNaN(TerminateOnNaNOptions options = {});
  std::string name() const override { return "terminate_on_nan"; }
  void on_train_begin(Trainer& trainer) override;
  void on_batch_end(Trainer& trainer, const BatchLogs& logs) override;
  void on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) override;

 private:
  // Throws NonFiniteParameterError for the first watched tensor with a NaN or inf.
  void check_parameters(const Trainer& trainer, const std::string& where);
  TerminateOnNaNOptions options_;
  std::vector<std::pair<std::string, Tensor>> watched_;  // parameters, then float buffers
  std::vector<bool> is_buffer_;
  int64_t last_good_step_ = -1;  // the global step after which every watched tensor was finite
  BatchLogs last_batch_;
};

}  // namespace cnnkit::train
