// The `cnnkit` command where a run could silently go wrong: resuming under another config,
// training over a finished run, Ctrl-C, duplicate YAML keys, --set deletions, pipelines that
// fail only once training has started, and the small usage messages. Each test failed on the
// code before these checks existed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include <csignal>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <thread>

#include "cli/cli_util.h"

using namespace cnnkit;
using namespace cnnkit::test::cli;
using cnnkit::test::contains;
namespace fs = std::filesystem;

namespace {

int64_t lines_of(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

}  // namespace

TEST(CliResume, UsesTheRunsOwnConfigAndRejectsAnother) {
  const std::string d = test::temp_path("runs/own");
  const std::string cfg = tiny_config("own.yaml", d, "scheduler: {name: CosineAnnealingLR}\n");
  ASSERT_EQ(run("train -q " + cfg + " --set epochs=2").code, 0);
  const std::string saved = read_all(d + "/config.yaml");

  // The plain config (epochs: 1) is another config than the run's (epochs: 2).
  const Result other = run("train -q " + cfg + " --resume " + d);
  EXPECT_EQ(other.code, 1) << other.out;
  EXPECT_TRUE(contains(other.err, "epochs: 2 in the run, 1 here")) << other.err;
  const Result set = run("train -q --resume " + d + " --set optimizer.lr=0.5");
  EXPECT_EQ(set.code, 1) << set.out;
  EXPECT_TRUE(contains(set.err, "optimizer.lr: 0.05 in the run, 0.5 here")) << set.err;
  // Neither touched the run.
  EXPECT_EQ(read_all(d + "/config.yaml"), saved);
  EXPECT_EQ(lines_of(read_all(d + "/metrics.csv")), 3);
}

TEST(CliResume, AFinishedRunHasNothingLeftToDo) {
  const std::string d = test::temp_path("runs/done");
  const std::string cfg = tiny_config("done.yaml", d);
  ASSERT_EQ(run("train -q " + cfg).code, 0);
  const std::string metrics = read_all(d + "/metrics.csv");
  // The same config, or the run alone: both name the run's own config.
  for (const std::string& args : {"train -q " + cfg + " --resume " + d, "train -q --resume " + d}) {
    const Result r = run(args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "nothing left to do")) << r.out;
  }
  EXPECT_EQ(read_all(d + "/metrics.csv"), metrics);
}

TEST(CliTrain, RefusesToOverwriteAFinishedRun) {
  const std::string d = test::temp_path("runs/keep");
  const std::string cfg = tiny_config("keep.yaml", d);
  ASSERT_EQ(run("train -q " + cfg).code, 0);
  const std::string model = read_all(d + "/model.safetensors");
  const Result again = run("train -q " + cfg + " --set optimizer.lr=0.01");
  EXPECT_EQ(again.code, 1);
  EXPECT_TRUE(contains(again.err, "already holds a run")) << again.err;
  EXPECT_TRUE(contains(again.err, "--overwrite")) << again.err;
  EXPECT_EQ(read_all(d + "/model.safetensors"), model);

  const Result over = run("train -q " + cfg + " --set optimizer.lr=0.01 --overwrite");
  ASSERT_EQ(over.code, 0) << over.err;
  EXPECT_TRUE(contains(read_all(d + "/config.yaml"), "lr: 0.01")) << read_all(d + "/config.yaml");
}

TEST(CliTrain, CtrlCStopsAndNamesTheResumeCommand) {
  const std::string d = test::temp_path("runs/sigint");
  const std::string cfg = tiny_config("sigint.yaml", d);
  const std::string out = test::temp_path("sigint.out"), err = test::temp_path("sigint.err");
  const std::string ckpt = d + "/checkpoints/checkpoint_last.safetensors";
  // 30 epochs of about a second: SIGINT once the first checkpoint exists lands early in the run,
  // and the resumed run still finishes in seconds.
  const std::string script = std::string("CNNKIT_NUM_THREADS=1 ") + CNNKIT_CLI_PATH + " train -q " + cfg +
                             " --set epochs=30 >" + out + " 2>" + err + " </dev/null & pid=$!; "
                             "for i in $(seq 600); do [ -f " + ckpt + " ] && break; sleep 0.05; done; "
                             "kill -INT $pid; wait $pid";
  const int status = std::system(("bash -c '" + script + "'").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130) << read_all(out) << read_all(err);
  const std::string message = read_all(err);
  EXPECT_TRUE(contains(message, "interrupted in epoch")) << message;
  EXPECT_TRUE(contains(message, "cnnkit train --resume " + d)) << message;
  EXPECT_FALSE(fs::exists(d + "/model.safetensors"));

  // The command it printed continues the run under its own config.
  const Result r = run("train -q --resume " + d + " --threads 1");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "resumed from")) << r.out;
  EXPECT_EQ(lines_of(read_all(d + "/metrics.csv")), 31);  // header + 30 epochs
  // steps.csv: the steps of the epochs after the checkpoint are written once, not twice
  // (384 training examples in batches of 32: 12 steps an epoch).
  EXPECT_EQ(lines_of(read_all(d + "/steps.csv")), 1 + 30 * 12);
}

TEST(CliConfig, DuplicateKeyIsAnErrorAtTheSecondOne) {
  const std::string cfg = write("dup.yaml", "model: lenet5\nepochs: 4\nseed: 1\nepochs: 5\n");
  const Result r = run("info " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, cfg + ":4: duplicate key 'epochs' (first at line 2)")) << r.err;
  const std::string nested = write("dup2.yaml", "model: lenet5\noptimizer:\n  lr: 0.1\n  name: SGD\n  lr: 0.2\n");
  const Result n = run("info " + nested);
  EXPECT_EQ(n.code, 1);
  EXPECT_TRUE(contains(n.err, nested + ":5: duplicate key 'lr'")) << n.err;
}

TEST(CliConfig, TabIndentNamesItsOwnLine) {
  const std::string cfg = write("tab.yaml", "model: lenet5\noptimizer:\n\tlr: 0.1\n");
  const Result r = run("info " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, cfg + ":3: malformed YAML: a tab in the indentation")) << r.err;
}

TEST(CliConfig, OtherFrameworksNamesGetAHint) {
  const std::string cfg = write("lr.yaml", "model: lenet5\noptimizer:\n  name: SGD\n  lerning_rate: 0.1\n");
  const Result r = run("info " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, cfg + ":4: unknown key 'lerning_rate'")) << r.err;
  EXPECT_TRUE(contains(r.err, "did you mean 'lr'?")) << r.err;
  const std::string e = write("ep.yaml", "model: lenet5\nnum_epochs: 3\n");
  EXPECT_TRUE(contains(run("info " + e).err, "did you mean 'epochs'?"));
}

TEST(CliConfig, SetNullDeletesAKey) {
  const std::string d = test::temp_path("runs/tilde");
  const std::string cfg = tiny_config("tilde.yaml", d, "grad_clip_norm: 1.0\n");
  const Result r = run("train -q " + cfg + " --set grad_clip_norm=null");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "deleted grad_clip_norm")) << r.out;
  EXPECT_FALSE(contains(read_all(d + "/config.yaml"), "grad_clip_norm")) << read_all(d + "/config.yaml");
  const Result missing = run("info " + cfg + " --set 'optimizer.nesterov=~'");
  EXPECT_EQ(missing.code, 1);
  EXPECT_TRUE(contains(missing.err, "no key 'optimizer.nesterov' to delete")) << missing.err;
  // bash turns an unquoted scheduler=~ into scheduler=$HOME: the error says so.
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') {
    const Result expanded = run("info " + cfg + " --set scheduler=" + home);
    EXPECT_EQ(expanded.code, 1);
    EXPECT_TRUE(contains(expanded.err, "the shell turned ~ into your home directory")) << expanded.err;
  }
}

TEST(CliConfig, NewOptimizerDropsTheOldOnesArguments) {
  const std::string d = test::temp_path("runs/adam");
  const std::string cfg = tiny_config("adam.yaml", d);  // SGD with momentum 0.9
  const Result r = run("train -q " + cfg + " --set optimizer.name=Adam --set optimizer.lr=0.001");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "dropped optimizer.momentum (Adam does not take it)")) << r.out;
  const std::string saved = read_all(d + "/config.yaml");
  EXPECT_TRUE(contains(saved, "name: Adam")) << saved;
  EXPECT_FALSE(contains(saved, "momentum")) << saved;
}

TEST(CliTrain, TrainTransformsAreCheckedBeforeTheRunStarts) {
  // RandomResizedCrop to 32 on 28x28 data: the model is built for the eval size (28).
  const std::string d = test::temp_path("runs/rrc");
  const std::string cfg = tiny_config("rrc.yaml", d);
  Result r = run("train -q " + cfg + " --set 'data.transforms={train: [RandomResizedCrop: {size: 32}]}'");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.err, "the train transforms give examples of shape [1, 32, 32] but the eval transforms "
                              "[1, 28, 28]"))
      << r.err;
  EXPECT_FALSE(fs::exists(d)) << "no run directory for a run that cannot start";
  // GaussianNoise before ToTensor (it needs float images): fails on the first example.
  r = run("train -q " + cfg + " --set 'data.transforms={train: [GaussianNoise: {sigma: 0.1}, ToTensor]}'");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.err, "the train transforms fail on the first train example")) << r.err;
  EXPECT_FALSE(fs::exists(d));
}

TEST(CliConfig, LinearAfterAConvAsksForFlatten) {
  const std::string cfg = write("flat.yaml", "data: {dataset: fashion-mnist}\nmodel:\n  layers:\n"
                                             "    - Conv2d: {out_channels: 6, kernel_size: 5}\n"
                                             "    - ReLU\n"
                                             "    - Linear: {in_features: 3456, out_features: 10}\n");
  const Result r = run("info " + cfg);
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(contains(r.err, cfg + ":6:")) << r.err;
  EXPECT_TRUE(contains(r.err, "add Flatten before it? (flattened, that is 3456 features")) << r.err;
}

TEST(CliUsage, VersionTyposAndRanges) {
  const Result v = run("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_TRUE(contains(v.out, "cnnkit 0.")) << v.out;
  const Result t = run("trian configs/x.yaml");
  EXPECT_EQ(t.code, 2);
  EXPECT_TRUE(contains(t.err, "unknown command 'trian'; did you mean 'train'?")) << t.err;
  const Result k = run("predict runs/x a.png -k 0");
  EXPECT_EQ(k.code, 2);
  EXPECT_TRUE(contains(k.err, "-k must be at least 1")) << k.err;
  const Result th = run("train configs/x.yaml --threads -3");
  EXPECT_EQ(th.code, 2);
  EXPECT_TRUE(contains(th.err, "--threads (a thread count) must be at least 1, got -3")) << th.err;
}

TEST(CliTrain, ThreadsAutoSaysWhatItMeasured) {
  const std::string d = test::temp_path("runs/auto");
  const std::string cfg = tiny_config("auto.yaml", d, "threads: auto\n");
  // Without CNNKIT_NUM_THREADS, which would override `threads: auto` (scripts/sanitize sets it).
  const std::string cmd = "env -u CNNKIT_NUM_THREADS " + std::string(CNNKIT_CLI_PATH) + " train -q " + cfg;
  const std::string out = test::temp_path("auto.out");
  ASSERT_EQ(std::system((cmd + " >" + out + " 2>&1").c_str()), 0) << read_all(out);
  const std::string said = read_all(out);
  EXPECT_TRUE(contains(said, "threads: auto -> ")) << said;
  EXPECT_TRUE(contains(said, "1: ")) << said;
  // The run's config records the measured count, so that a --resume runs on it again.
  const size_t at = said.find("threads: auto -> ");
  ASSERT_NE(at, std::string::npos);
  const int chosen = std::atoi(said.c_str() + at + std::strlen("threads: auto -> "));
  ASSERT_GE(chosen, 1);
  const std::string recorded = read_all(d + "/config.yaml");
  EXPECT_TRUE(contains(recorded, "threads: " + std::to_string(chosen) + "\n")) << recorded;
}

TEST(CliTrain, QuietPrintsOneLineAnEpoch) {
  const std::string d = test::temp_path("runs/quiet");
  const Result r = run("train -q " + tiny_config("quiet.yaml", d) + " --set epochs=2");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "epoch 1/2")) << r.out;
  EXPECT_TRUE(contains(r.out, "epoch 2/2")) << r.out;
}

TEST(CliUsage, BenchFromLoaderOnFewerImagesThanABatch) {
  // 10 black 28x28 images: one batch of 64 cannot be made (this divided by zero before).
  std::string images("\0\0\x08\x03\0\0\0\x0a\0\0\0\x1c\0\0\0\x1c", 16), labels("\0\0\x08\x01\0\0\0\x0a", 8);
  images += std::string(10 * 784, '\0');
  labels += std::string(10, '\0');
  write("tinyfm/train-images-idx3-ubyte", images);
  write("tinyfm/train-labels-idx1-ubyte", labels);
  const Result r = run("bench --from-loader --steps 3 --data " + test::temp_path("tinyfm"));
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(contains(r.err, "holds 10 training images, fewer than one batch of 64")) << r.err;
}

TEST(CliTrain, ModelLineNamesTheDepthTheBlocksGive) {
  const std::string d = test::temp_path("runs/depth");
  const Result r = run("train -q " + tiny_config("depth.yaml", d) +
                       " --set 'model={zoo: resnet20, in_channels: 1, num_classes: 4, width: 4, blocks: [1, 1, 1]}'");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "model: resnet20 with blocks [1, 1, 1]: a ResNet-8")) << r.out;
}

// ---- crash safety ----------------------------------------------------------------------------

namespace {

// The run's weights: model.safetensors' bytes after the safetensors header's metadata, which
// records the command line. Equal tensors give equal bytes.
std::string weights_of(const std::string& run_dir) {
  const std::string bytes = read_all(run_dir + "/model.safetensors");
  if (bytes.size() < 8) return {};
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return bytes.substr(static_cast<size_t>(8 + n));
}

}  // namespace

// `kills` runs of the config (4 epochs of 12 steps) killed with SIGKILL, each at its own delay:
// before the first checkpoint (the resume starts again), inside epochs, during checkpoint,
// metrics and final-file writes (spread over the time an uninterrupted run takes); each resumed to the end must have the
// weights of an uninterrupted run, bit for bit, and its logs each epoch (and step) once.
struct KillCounts {
  int killed = 0, from_scratch = 0, mid_epoch = 0;
};
// With `by_step`, kill k waits for steps.csv to reach step 1 + 46k/kills instead of a delay
// (the run flushes a row a step when it writes mid-epoch checkpoints), so the kills spread
// over the 48 steps whatever the machine's speed.
KillCounts kill_and_resume(const std::string& tag, const std::string& extra, int kills, const std::string& sets = "",
                           bool by_step = false) {
  KillCounts n;
  const std::string ref = test::temp_path("runs/" + tag + "_ref");
  const auto t0 = std::chrono::steady_clock::now();
  const Result first = run("train -q " + tiny_config(tag + "_ref.yaml", ref, extra) + " --set epochs=4" + sets);
  // The delays spread over the uninterrupted run's own duration (process start included), so
  // that on a fast machine as on a busy one most kills land inside the run.
  // The time scale shrinks by a quarter whenever a run ends before its kill: a reference run
  // slowed by a busy machine would otherwise put the later kills after the end of runs that
  // the machine, less busy by then, finishes sooner (15 of 30 under `ctest -j3`).
  double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(first.code, 0) << first.err;
  const std::string want = weights_of(ref), want_steps = read_all(ref + "/steps.csv");
  EXPECT_FALSE(want.empty());
  for (int k = 0; k < kills; ++k) {
    const std::string d = test::temp_path("runs/" + tag + std::to_string(k));
    const std::string cfg = tiny_config(tag + std::to_string(k) + ".yaml", d, extra);
    const double delay = 0.02 + 1.05 * run_seconds * k / kills;
    const std::string wait =
        by_step ? "while [ $(cat " + d + "/steps.csv 2>/dev/null | wc -l) -le " + std::to_string(1 + 46 * k / kills) +
                      " ] && kill -0 $pid 2>/dev/null; do sleep 0.002; done"
                : "sleep " + std::to_string(delay);
    const std::string script = std::string("CNNKIT_NUM_THREADS=1 ") + CNNKIT_CLI_PATH + " train -q " + cfg +
                               " --set epochs=4" + sets + " >/dev/null 2>&1 </dev/null & pid=$!; " + wait +
                               "; kill -KILL $pid 2>/dev/null; wait $pid";
    const int status = std::system(("bash -c '" + script + "'").c_str());
    const bool killed = WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL;
    n.killed += killed;
    if (!killed) run_seconds *= 0.75;
    if (!fs::exists(d + "/config.yaml")) continue;  // killed before the run directory existed
    if (!fs::exists(d + "/checkpoints/checkpoint_last.safetensors")) ++n.from_scratch;
    const Result r = run("train --resume " + d);
    EXPECT_EQ(r.code, 0) << "kill " << k << " after " << delay << " s: " << r.err;
    n.mid_epoch += contains(r.out, "after step");
    EXPECT_EQ(weights_of(d), want) << "kill " << k << " after " << delay << " s";
    // The logs hold each epoch once, and each step once.
    EXPECT_EQ(lines_of(read_all(d + "/metrics.csv")), 5) << "kill " << k;
    EXPECT_EQ(read_all(d + "/steps.csv"), want_steps) << "kill " << k;
  }
  return n;
}

TEST(CliCrash, SigkillAtRandomMomentsThenResumeEndsWithTheSameWeights) {
  const KillCounts n = kill_and_resume("kill", "scheduler: {name: CosineAnnealingLR}\n", 30);
  EXPECT_GE(n.killed, 20) << "most runs must be killed mid-way for the test to mean something";
  EXPECT_GE(n.from_scratch, 1) << "no kill landed before the first checkpoint";
}

TEST(CliCrash, MidEpochCheckpointsResumeBitForBit) {
  // checkpoint_every: 5 steps (12 an epoch): most kills resume inside an epoch, with the
  // loader's position, the augmentation and dropout draws and the per-step schedule restored.
  const KillCounts n = kill_and_resume("killmid",
                                       "scheduler: {name: OneCycleLR, max_lr: 0.05}\ncheckpoint_every: 5\n", 16,
                                       " --set \"data.transforms={train: [RandomCrop: {size: 28, padding: 2}, RandomHorizontalFlip]}\"",
                                       /*by_step=*/true);
  EXPECT_GE(n.killed, 12);
  EXPECT_GE(n.mid_epoch, 5) << "too few kills resumed inside an epoch for the test to mean something";
}

TEST(CliCrash, ASecondProcessOnTheSameRunDirectoryIsRefused) {
  const std::string d = test::temp_path("runs/locked");
  const std::string cfg = tiny_config("locked.yaml", d);
  const std::string out = test::temp_path("locked.out");
  // The first trains for a while; the second starts once the first holds the directory.
  const std::string script = std::string("CNNKIT_NUM_THREADS=1 ") + CNNKIT_CLI_PATH + " train -q " + cfg +
                             " --set epochs=30 >" + out + " 2>&1 </dev/null & pid=$!; "
                             "for i in $(seq 600); do [ -f " + d + "/config.yaml ] && break; sleep 0.05; done; "
                             "CNNKIT_NUM_THREADS=1 " + CNNKIT_CLI_PATH + " train -q --resume " + d +
                             " >" + out + ".2 2>&1 </dev/null; echo $? >" + out + ".rc; "
                             "CNNKIT_NUM_THREADS=1 " + CNNKIT_CLI_PATH + " train -q " + cfg +
                             " --overwrite >" + out + ".3 2>&1 </dev/null; echo $? >>" + out + ".rc; "
                             "kill -KILL $pid; wait $pid";
  std::system(("bash -c '" + script + "'").c_str());
  const std::string codes = read_all(out + ".rc");
  EXPECT_EQ(codes, "1\n1\n") << read_all(out + ".2") << read_all(out + ".3");
  for (const std::string& f : {out + ".2", out + ".3"}) {
    const std::string msg = read_all(f);
    EXPECT_TRUE(contains(msg, "is in use by another cnnkit process (pid ")) << msg;
  }
  EXPECT_TRUE(fs::exists(d + "/config.yaml")) << "--overwrite deleted a run that was still training";
  // Once the holder is gone (killed), the kernel has dropped its lock.
  const int fd = ::open((d + "/.lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  ::close(fd);
}

TEST(CliCrash, AFullDiskFailsTheSaveAndKeepsThePreviousCheckpoint) {
  const std::string d = test::temp_path("runs/full");
  const std::string cfg = tiny_config("full.yaml", d);
  const std::string ckpt = d + "/checkpoints/checkpoint_last.safetensors";
  // A run of 30 epochs stopped (SIGINT) once its first checkpoint exists.
  const std::string stop = std::string("CNNKIT_NUM_THREADS=1 ") + CNNKIT_CLI_PATH + " train -q " + cfg +
                           " --set epochs=30 >/dev/null 2>&1 </dev/null & pid=$!; "
                           "for i in $(seq 600); do [ -f " + ckpt + " ] && break; sleep 0.05; done; "
                           "kill -INT $pid; wait $pid";
  std::system(("bash -c '" + stop + "'").c_str());
  ASSERT_TRUE(fs::exists(ckpt));
  const std::string before = read_all(ckpt);
  // Resumed with files limited to 64 KiB, the next LeNet-5 checkpoint (~750 KB) cannot be
  // written. ulimit -f counts 1024-byte blocks in bash.
  const std::string err = test::temp_path("full.err");
  const std::string script = std::string("ulimit -f 64; CNNKIT_NUM_THREADS=1 ") + CNNKIT_CLI_PATH +
                             " train -q --resume " + d + " >/dev/null 2>" + err + " </dev/null";
  const int status = std::system(("bash -c '" + script + "'").c_str());
  ASSERT_TRUE(WIFEXITED(status)) << "killed by a signal (SIGXFSZ?)";
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string msg = read_all(err);
  EXPECT_TRUE(contains(msg, "checkpoint_last.safetensors")) << msg;
  EXPECT_TRUE(contains(msg, "File too large")) << msg;
  EXPECT_EQ(read_all(ckpt), before) << "the previous checkpoint changed";
  for (const auto& e : fs::directory_iterator(d + "/checkpoints"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << "left behind: " << e.path();
}
