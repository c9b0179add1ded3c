// Progress display: in-place bar on terminals (throttled), periodic lines elsewhere, epoch
// summaries and the final one-line results summary. Formatting only; the numbers come
// from the Trainer's BatchLogs and epoch logs.
#include "cnnkit/train/progress.h"

#include <ctime>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

#include "cnnkit/train/trainer.h"

namespace cnnkit::train {
namespace {

std::string printf_str(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v);
  return buf;
}

std::string clock_str(double seconds) {  // ETA as m:ss or h:mm:ss
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long long s = std::llround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof(buf), "%lld:%02lld", s / 60, s % 60);
  return buf;
}

std::string short_name(const std::string& key) {
  std::string k = key;
  if (k.rfind("train_", 0) == 0) k = k.substr(6);
  if (k.size() >= 8 && k.compare(k.size() - 8, 8, "accuracy") == 0) k = k.substr(0, k.size() - 5);  // "acc"
  return k;
}

}  // namespace

std::string local_timestamp() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return printf_str(seconds < 10 ? "%.2fs" : "%.1fs", seconds);
  long long s = std::llround(seconds);
  char buf[48];
  if (s < 3600) std::snprintf(buf, sizeof(buf), "%lldm%02llds", s / 60, s % 60);
  else std::snprintf(buf, sizeof(buf), "%lldh%02lldm%02llds", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

std::string epoch_summary(int64_t epoch, int64_t epochs, int64_t batches, const Logs& logs) {
  std::string line = "Epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs) + " " +
                     std::to_string(batches) + "/" + std::to_string(batches);
  auto sec = logs.find("seconds");
  if (sec != logs.end()) line.append(" ").append(format_duration(sec->second));
  // The headline numbers of each task: classification, regression, multi-label.
  for (const char* k : {"train_loss", "train_accuracy", "train_mse", "train_r2", "train_micro_f1", "val_loss",
                        "val_accuracy", "val_mse", "val_r2", "val_micro_f1", "val_macro_f1", "val_hamming_loss"}) {
    auto it = logs.find(k);
    if (it == logs.end()) continue;
    const bool pct = std::string(k).find("accuracy") != std::string::npos;
    line.append("  ").append(short_name(k)).append(" ");
    line.append(pct ? printf_str("%.2f%%", 100 * it->second) : printf_str("%.4f", it->second));
  }
  auto lr = logs.find("lr");
  if (lr != logs.end()) line += "  lr " + printf_str("%.4g", lr->second);
  auto ips = logs.find("images_per_second");
  if (ips != logs.end()) line += "  " + printf_str("%.0f", ips->second) + " img/s";
  return line;
}

std::string summary_line(const std::string& split, const Metrics& m, double seconds) {
  std::string prefix = split.empty() ? "" : split + " ";
  std::string loss = std::isnan(m.loss) ? "" : printf_str("%.3g", m.loss);
  if (m.task == Task::kClassification) {
    return prefix + "accuracy: " + printf_str("%.2f%%", 100 * m.accuracy) +
           (loss.empty() ? "" : " (loss " + loss + ")") + " in " + format_duration(seconds);
  }
  if (m.task == Task::kMultiLabel) {
    return prefix + "micro F1: " + printf_str("%.4f", m.micro_f1) + " (macro F1 " + printf_str("%.4f", m.macro_f1) +
           ", subset accuracy " + printf_str("%.2f%%", 100 * m.subset_accuracy) + ", hamming loss " +
           printf_str("%.4f", m.hamming_loss) + (loss.empty() ? "" : ", loss " + loss) + ") in " +
           format_duration(seconds);
  }
  return prefix + "mse: " + printf_str("%.4g", m.mse) + " (mae " + printf_str("%.4g", m.mae) + ", r2 " +
         printf_str("%.4f", m.r2) + (loss.empty() ? "" : ", loss " + loss) + ") in " + format_duration(seconds);
}

ProgressBar::ProgressBar(ProgressBarOptions options)
    : out_(options.stream() ? *options.stream() : std::cout), options_(std::move(options)) {
  CNNKIT_CHECK(options_.max_redraws_per_second() > 0, "ProgressBar: max_redraws_per_second must be > 0, got ",
               options_.max_redraws_per_second());
  CNNKIT_CHECK(options_.lines_per_epoch() >= 1, "ProgressBar: lines_per_epoch must be >= 1, got ",
               options_.lines_per_epoch());
  CNNKIT_CHECK(options_.width() >= 1, "ProgressBar: width must be >= 1, got ", options_.width());
  if (options_.tty()) tty_ = *options_.tty();
  else tty_ = &out_ == &std::cout && isatty(STDOUT_FILENO);
}

void ProgressBar::on_epoch_begin(Trainer& /*trainer*/, int64_t /*epoch*/) {
  epoch_start_ = Clock::now();
  last_draw_ = epoch_start_;
  batches_ = 0;
  draws_ = 0;
  last_len_ = 0;
}

std::string ProgressBar::batch_line(const BatchLogs& l, int64_t epochs, double elapsed) const {
  const int64_t done = l.batch + 1;
  const double frac = l.batches > 0 ? static_cast<double>(done) / static_cast<double>(l.batches) : 0;
  std::string s = "Epoch " + std::to_string(l.epoch + 1) + "/" + std::to_string(epochs) + " ";
  if (tty_) {
    const int64_t w = options_.width();
    const int64_t filled = std::min<int64_t>(w, static_cast<int64_t>(frac * static_cast<double>(w)));
    s.push_back('[');
    s.append(static_cast<size_t>(filled), '=');
    if (filled < w) s.push_back('>');
    s.append(static_cast<size_t>(std::max<int64_t>(0, w - filled - 1)), ' ');
    s.append("] ");
  }
  s += std::to_string(done) + "/" + std::to_string(l.batches);
  s += "  loss " + printf_str("%.4f", l.running_loss);
  if (!std::isnan(l.running_accuracy)) s += "  acc " + printf_str("%.2f%%", 100 * l.running_accuracy);
  if (elapsed > 0) s += "  " + printf_str("%.0f", static_cast<double>(l.samples) / elapsed) + " img/s";
  if (done > 0 && l.batches > done) s += "  ETA " + clock_str(elapsed / static_cast<double>(done) * static_cast<double>(l.batches - done));
  return s;
}

void ProgressBar::on_batch_end(Trainer& trainer, const BatchLogs& l) {
  const bool last = l.batch + 1 >= l.batches;
  batches_ = l.batches;
  if (tty_) {
    const auto now = Clock::now();
    if (!last && std::chrono::duration<double>(now - last_draw_).count() < 1.0 / options_.max_redraws_per_second())
      return;
    last_draw_ = now;
    if (last) return;  // the epoch summary replaces the bar
    std::string s = batch_line(l, trainer.options().epochs(), std::chrono::duration<double>(now - epoch_start_).count());
    const size_t len = s.size();
    if (len < last_len_) s += std::string(last_len_ - len, ' ');
    last_len_ = len;
    out_ << '\r' << s << std::flush;
    ++draws_;
    return;
  }
  // Not a terminal: a line at every 1/lines_per_epoch of the epoch, the last one skipped
  // (the epoch summary follows it).
  const int64_t every = std::max<int64_t>(1, l.batches / options_.lines_per_epoch());
  if (last || (l.batch + 1) % every != 0) return;
  out_ << batch_line(l, trainer.options().epochs(),
                     std::chrono::duration<double>(Clock::now() - epoch_start_).count())
       << '\n'
       << std::flush;  // a log file followed with `tail -f` sees each line as it is written
  ++draws_;
}

void ProgressBar::on_epoch_end(Trainer& trainer, int64_t epoch, const Logs& logs) {
  std::string s = epoch_summary(epoch, trainer.options().epochs(), batches_, logs);
  if (tty_ && last_len_ > s.size()) s += std::string(last_len_ - s.size(), ' ');
  out_ << (tty_ ? "\r" : "") << s << '\n' << std::flush;
  last_len_ = 0;
}

}  // namespace cnnkit::train
