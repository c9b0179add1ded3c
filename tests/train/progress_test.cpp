// Progress display: periodic plain lines when not a terminal, throttled \r redraws on a
// terminal, epoch summaries, durations and the final summary line.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "cnnkit/cnnkit.h"
#include "cnnkit/train/train.h"
#include "test_util.h"

using namespace cnnkit;
using cnnkit::test::contains;

namespace {

// A trainer only for the progress bar to read options from.
struct Fixture {
  nn::Linear net{nn::Linear(2, 2)};
  optim::SGD opt{net->parameters(), optim::SGDOptions(0.1)};
  train::Trainer trainer{nn::AnyModule(net), opt, [](const Tensor& o, const Tensor&) { return o.sum(); },
                         train::TrainerOptions().epochs(3).verbose(false)};
};

train::BatchLogs batch(int64_t b, int64_t batches) {
  train::BatchLogs l;
  l.epoch = 1;
  l.batch = b;
  l.batches = batches;
  l.step = 20 + b + 1;
  l.batch_size = 8;
  l.samples = 8 * (b + 1);
  l.loss = 0.5;
  l.running_loss = 0.25;
  l.running_accuracy = 0.875;
  return l;
}

int count(const std::string& s, char c) { return static_cast<int>(std::count(s.begin(), s.end(), c)); }

}  // namespace

TEST(ProgressBar, PlainLinesEveryTenthOfAnEpochWhenNotATerminal) {
  Fixture f;
  std::ostringstream os;
  train::ProgressBar bar(train::ProgressBarOptions().stream(&os).tty(false));
  EXPECT_FALSE(bar.is_tty());
  bar.on_epoch_begin(f.trainer, 1);
  for (int64_t b = 0; b < 20; ++b) bar.on_batch_end(f.trainer, batch(b, 20));
  // Lines after batches 2, 4, ..., 18; the last batch is left to the epoch summary.
  EXPECT_EQ(bar.draws(), 9);
  EXPECT_EQ(count(os.str(), '\n'), 9);
  EXPECT_EQ(count(os.str(), '\r'), 0);
  EXPECT_TRUE(contains(os.str(), "Epoch 2/3 2/20  loss 0.2500  acc 87.50%")) << os.str();
  EXPECT_TRUE(contains(os.str(), "ETA")) << os.str();

  bar.on_epoch_end(f.trainer, 1,
                   {{"epoch", 2}, {"train_loss", 0.25}, {"train_accuracy", 0.875}, {"val_loss", 0.3}, {"val_accuracy", 0.8},
                    {"lr", 0.01}, {"seconds", 3.2}, {"images_per_second", 50}});
  std::string last = os.str().substr(os.str().rfind("Epoch"));
  EXPECT_EQ(last, "Epoch 2/3 20/20 3.20s  loss 0.2500  acc 87.50%  val_loss 0.3000  val_acc 80.00%  lr 0.01  50 img/s\n");
}

TEST(ProgressBar, TerminalRedrawsInPlaceAtMostTenTimesASecond) {
  Fixture f;
  std::ostringstream os;
  train::ProgressBar bar(train::ProgressBarOptions().stream(&os).tty(true).max_redraws_per_second(10));
  bar.on_epoch_begin(f.trainer, 1);
  for (int64_t b = 0; b < 1000; ++b) bar.on_batch_end(f.trainer, batch(b, 1001));  // well under 0.1 s
  EXPECT_LE(bar.draws(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  bar.on_batch_end(f.trainer, batch(999, 1001));
  EXPECT_GE(bar.draws(), 1);
  EXPECT_EQ(count(os.str(), '\n'), 0);
  EXPECT_TRUE(contains(os.str(), "\rEpoch 2/3 [")) << os.str();
  bar.on_epoch_end(f.trainer, 1, {{"train_loss", 0.25}});
  EXPECT_EQ(os.str().back(), '\n');
  EXPECT_THROW(train::ProgressBar(train::ProgressBarOptions().max_redraws_per_second(0)), ValueError);
}

TEST(Progress, DurationsAndSummaryLine) {
  EXPECT_EQ(train::format_duration(4.234), "4.23s");
  EXPECT_EQ(train::format_duration(42.0), "42.0s");
  EXPECT_EQ(train::format_duration(192), "3m12s");
  EXPECT_EQ(train::format_duration(3725), "1h02m05s");
  train::Metrics m;
  m.accuracy = 0.9123;
  m.loss = 0.2512;
  EXPECT_EQ(train::summary_line("test", m, 192), "test accuracy: 91.23% (loss 0.251) in 3m12s");
  train::Metrics r;
  r.task = train::Task::kRegression;
  r.mse = 0.0123;
  r.mae = 0.0871;
  r.r2 = 0.91344;
  EXPECT_EQ(train::summary_line("val", r, 12.3), "val mse: 0.0123 (mae 0.0871, r2 0.9134) in 12.3s");
}
