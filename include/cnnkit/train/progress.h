// The training progress display: a bar redrawn in place (\r) when the stream is a terminal,
// at most ~10 times a second; plain lines every 10% of an epoch when it is not (logs, CI);
// one summary line per epoch; and the one-line results summary the CLI prints at the end.
//
//   Epoch 2/10 [=============>          ] 281/469  loss 0.4123  acc 85.32%  14210 img/s  ETA 0:04
//   Epoch 2/10 469/469 3.2s  loss 0.4011  acc 85.71%  val_loss 0.3920  val_acc 86.02%  lr 0.01  14507 img/s
//   std::cout << train::summary_line("test", metrics, seconds);  // "test accuracy: 91.23% (loss 0.251) in 3m12s"
//
// The Trainer owns one (TrainerOptions::verbose); it never draws more often than the
// throttle allows, so it costs a clock read per step.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "cnnkit/train/callbacks.h"
#include "cnnkit/train/metrics.h"

namespace cnnkit::train {

// A named pointer type: CNNKIT_ARG pastes `const T&`, which must bind to the pointer itself.
using OStreamPtr = std::ostream*;

struct ProgressBarOptions {
  CNNKIT_ARG(OStreamPtr, stream) = nullptr;     // nullptr: std::cout
  CNNKIT_ARG(std::optional<bool>, tty) = std::nullopt;  // nullopt: isatty() of stdout when stream is std::cout
  CNNKIT_ARG(double, max_redraws_per_second) = 10;
  CNNKIT_ARG(int64_t, lines_per_epoch) = 10;       // non-terminal: a line every 1/N of an epoch
  CNNKIT_ARG(int64_t, width) = 30;                 // bar characters
};

class ProgressBar : public Callback {
 public:
  explicit ProgressBar(ProgressBarOptions options = {});
  std::string name() const override { return "progress_bar"; }
  void on_epoch_begin(Trainer& trainer, int64_t epoch) override;
  void on_batch_end(Trainer& trainer, const BatchLogs& logs) override;
  void on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) override;

  bool is_tty() const { return tty_; }
  int64_t draws() const { return draws_; }  // redraws or lines this epoch (tests)

 private:
  using Clock = std::chrono::steady_clock;
  std::string batch_line(const BatchLogs& logs, int64_t epochs, double elapsed) const;
  std::ostream& out_;
  ProgressBarOptions options_;
  bool tty_;
  Clock::time_point epoch_start_, last_draw_;
  int64_t batches_ = 0, draws_ = 0;
  size_t last_len_ = 0;
};

// "4.2s", "3m12s", "1h02m05s".
std::string format_duration(double seconds);
// The local time as run directories are named: "20261202-131500".
std::string local_timestamp();
// "Epoch 2/10 469/469 3.2s  loss 0.4011  acc 85.71%  val_loss ...": the epoch summary.
std::string epoch_summary(int64_t epoch, int64_t epochs, int64_t batches, const Logs& logs);
// "test accuracy: 91.23% (loss 0.251) in 3m12s" (classification),
// "test mse: 0.0123 (mae 0.0871, r2 0.9134, loss 0.0123) in 12.3s" (regression) or
// "test micro F1: 0.8123 (macro F1 0.7011, subset accuracy 54.20%, hamming loss 0.0712, loss 0.183) in 9.1s"
// (multi-label).
std::string summary_line(const std::string& split, const Metrics& metrics, double seconds);

}  // namespace cnnkit::train
