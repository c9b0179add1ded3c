// `mpirun -np N cnnkit train` as users run it (label mpi): the same run as one process, one
// set of files, clear errors for what cannot work, no hang when a rank dies, and a resume on
// another number of processes.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "cli/cli_util.h"

#ifndef CNNKIT_MPIEXEC
#define CNNKIT_MPIEXEC "mpirun"
#endif

namespace {

using namespace cnnkit::test::cli;
using Clock = std::chrono::steady_clock;

std::string mpirun(int np) {
  return std::string(CNNKIT_MPIEXEC) + " --allow-run-as-root --oversubscribe -np " + std::to_string(np) + " " +
         CNNKIT_CLI_PATH + " ";
}

// Runs a shell command line with output captured (cli::run prefixes the cnnkit path itself).
Result shell(const std::string& cmd) {
  static int n = 0;
  const std::string out = cnnkit::test::temp_path("mpi_out" + std::to_string(n));
  const std::string err = cnnkit::test::temp_path("mpi_err" + std::to_string(n));
  ++n;
  const int status = std::system(("CNNKIT_NUM_THREADS=1 " + cmd + " >" + out + " 2>" + err + " </dev/null").c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_all(out);
  r.err = read_all(err);
  return r;
}

// metrics.csv's column `key`, one value an epoch.
std::vector<double> column(const std::string& run_dir, const std::string& key) {
  std::istringstream in(read_all(run_dir + "/metrics.csv"));
  std::string header, line;
  std::getline(in, header);
  std::vector<std::string> names;
  std::stringstream hs(header);
  for (std::string c; std::getline(hs, c, ',');) names.push_back(c);
  const auto it = std::find(names.begin(), names.end(), key);
  EXPECT_NE(it, names.end()) << key << " not in " << header;
  const size_t k = static_cast<size_t>(it - names.begin());
  std::vector<double> out;
  while (std::getline(in, line)) {
    std::stringstream ls(line);
    std::string v;
    for (size_t i = 0; i <= k; ++i) std::getline(ls, v, ',');
    out.push_back(std::stod(v));
  }
  return out;
}

// Epochs metrics.csv holds (0 before the first).
size_t column_rows(const std::string& run_dir) {
  if (!fs::exists(run_dir + "/metrics.csv")) return 0;
  std::istringstream in(read_all(run_dir + "/metrics.csv"));
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n > 0 ? n - 1 : 0;
}

TEST(MpiTrain, TwoProcessesMakeTheOneProcessRun) {
  // 410 training examples in global batches of 32: the last step has 26.
  const std::string one = cnnkit::test::temp_path("runs/one"), two = cnnkit::test::temp_path("runs/two");
  const std::string cfg = tiny_config("dp.yaml", one) + " --set epochs=2 --set data.split.val=0.2";
  const Result r1 = run("train -q " + cfg);
  ASSERT_EQ(r1.code, 0) << r1.out << r1.err;
  const Result r2 = shell(mpirun(2) + "train -q " + cfg + " --set output_dir=" + two);
  ASSERT_EQ(r2.code, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("data parallel: 2 processes, 16 examples a step each (global batch 32)"), std::string::npos)
      << r2.out;
  // Rank 0 alone reports: one summary line.
  size_t lines = 0;
  for (size_t p = r2.out.find("test accuracy:"); p != std::string::npos; p = r2.out.find("test accuracy:", p + 1)) ++lines;
  EXPECT_EQ(lines, 1u) << r2.out;
  const auto loss1 = column(one, "train_loss"), loss2 = column(two, "train_loss");
  ASSERT_EQ(loss1.size(), 2u);
  ASSERT_EQ(loss2.size(), 2u);
  for (size_t e = 0; e < 2; ++e) EXPECT_NEAR(loss2[e], loss1[e], 1e-4 * loss1[e]) << "epoch " << e + 1;
  const auto acc1 = column(one, "val_accuracy"), acc2 = column(two, "val_accuracy");
  for (size_t e = 0; e < 2; ++e) EXPECT_NEAR(acc2[e], acc1[e], 1.01 / 102) << "epoch " << e + 1;  // one example of 102
  EXPECT_TRUE(fs::exists(two + "/model.safetensors"));
  // `cnnkit eval` of the data-parallel model (one process) gives the run's test accuracy.
  const Result ev = run("eval " + two);
  ASSERT_EQ(ev.code, 0) << ev.err;
}

TEST(MpiTrain, GlobalBatchMustDivideByTheProcesses) {
  const std::string cfg = tiny_config("dp3.yaml", cnnkit::test::temp_path("runs/three"));
  const Result r = shell(mpirun(3) + "train -q " + cfg);
  EXPECT_NE(r.code, 0);
  EXPECT_NE((r.out + r.err).find("must be divisible by 3"), std::string::npos) << r.out << r.err;
  EXPECT_FALSE(fs::exists(cnnkit::test::temp_path("runs/three/model.safetensors")));
}

TEST(MpiTrain, RanksWithAnotherConfigStop) {
  const std::string cfg = tiny_config("mismatch.yaml", cnnkit::test::temp_path("runs/mismatch"));
  const std::string exe = CNNKIT_CLI_PATH;
  const Result r = shell(std::string(CNNKIT_MPIEXEC) + " --allow-run-as-root --oversubscribe -np 1 " + exe +
                         " train -q " + cfg + " : -np 1 " + exe + " train -q " + cfg + " --set optimizer.lr=0.2");
  EXPECT_NE(r.code, 0);
  const std::string all = r.out + r.err;
  EXPECT_NE(all.find("rank 1 runs another config than rank 0"), std::string::npos) << all;
  EXPECT_NE(all.find("optimizer.lr"), std::string::npos) << all;
}

TEST(MpiTrain, OnlyTrainRunsDataParallel) {
  const Result r = shell(mpirun(2) + "eval " + trained_run());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("only `cnnkit train` (data parallel), `cnnkit cv` and `cnnkit search`"), std::string::npos)
      << r.err;
}

TEST(MpiTrain, StreamsShardsSplitOverTheRanks) {
  // The npy fixture as shards; 2 processes x 2 loader workers read the training stream.
  const std::string src = tiny_config("to-shard.yaml", cnnkit::test::temp_path("runs/unused"));
  const std::string dir = cnnkit::test::temp_path("shards");
  const Result s = run("shard -q " + src + " " + dir + " --shard-size 64KB");
  ASSERT_EQ(s.code, 0) << s.out << s.err;
  // `urls:` (WebDataset's spelling) for the training shards.
  const std::string cfg = write("shards.yaml", "data:\n  dataset: shards\n  urls: \"" + dir +
                                                   "/train-{000000..000006}.tar\"\n  paths: {test: \"" + dir +
                                                   "/test-000000.tar\"}\n  batch_size: 32\n  workers: 2\n"
                                                   "model: {zoo: lenet5, in_channels: 1, num_classes: 4}\n"
                                                   "optimizer: {name: SGD, lr: 0.05, momentum: 0.9}\nepochs: 2\n");
  ASSERT_TRUE(fs::exists(dir + "/train-000006.tar")) << s.out;
  const std::string out_dir = cnnkit::test::temp_path("runs/shards-two");
  const Result r = shell(mpirun(2) + "train -q " + cfg + " --set output_dir=" + out_dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("data parallel: 2 processes"), std::string::npos) << r.out;
  // End to end only: that each sample is read exactly once per epoch over 2 ranks x 2 workers
  // (counted by key) is tests/data/shards_test.cpp's and tests/train/shards_run_test.cpp's.
  EXPECT_EQ(column(out_dir, "train_loss").size(), 2u);
  EXPECT_NE(r.out.find("test accuracy:"), std::string::npos) << r.out;
}

TEST(MpiSearch, TrialsSpreadOverTheProcessesGiveTheOneProcessSearch) {
  const std::string cfg = tiny_config("search.yaml", cnnkit::test::temp_path("runs/search-unused"));
  const std::string one = cnnkit::test::temp_path("runs/search-one"), two = cnnkit::test::temp_path("runs/search-two");
  const std::string args = "search " + cfg + " --grid optimizer.lr=0.01,0.03,0.05,0.1 --halving --eta 2 --set epochs=2 -o ";
  const Result r1 = run(args + one);
  ASSERT_EQ(r1.code, 0) << r1.out << r1.err;
  const Result r2 = shell(mpirun(2) + args + two);
  ASSERT_EQ(r2.code, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("search over 2 processes"), std::string::npos) << r2.out;
  // The same rows (trials, rungs, scores, status) in the same order; the seconds aside.
  auto rows = [](const std::string& dir) {
    std::istringstream in(read_all(dir + "/trials.csv"));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line.substr(0, line.rfind(',')));
    return out;
  };
  EXPECT_EQ(rows(two), rows(one));
  EXPECT_EQ(rows(one).size(), 1u + 4u + 2u);  // header, 4 trials at 1 epoch, 2 promoted to 2
  auto best = [](const std::string& dir) {  // best.yaml less its output_dir (the search's own)
    std::istringstream in(read_all(dir + "/best.yaml"));
    std::string kept;
    for (std::string line; std::getline(in, line);)
      if (line.find("output_dir") == std::string::npos) kept += line + "\n";
    return kept;
  };
  EXPECT_FALSE(best(one).empty());
  EXPECT_EQ(best(two), best(one));
  // A rerun skips every trial, whichever rank ran it.
  const Result again = shell(mpirun(2) + args + two);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("0 trained, 6 skipped"), std::string::npos) << again.out;
}

TEST(MpiCv, FoldsSpreadOverTheProcessesGiveTheOneProcessResult) {
  const std::string cfg = tiny_config("cv.yaml", cnnkit::test::temp_path("runs/cv-unused"));
  const std::string one = cnnkit::test::temp_path("runs/cv-one"), two = cnnkit::test::temp_path("runs/cv-two");
  const Result r1 = run("cv -q " + cfg + " --folds 3 -o " + one);
  ASSERT_EQ(r1.code, 0) << r1.out << r1.err;
  const Result r2 = shell(mpirun(2) + "cv -q " + cfg + " --folds 3 -o " + two);
  ASSERT_EQ(r2.code, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("cross-validation over 2 processes"), std::string::npos) << r2.out;
  // Each fold is a one-process run of the same config: cv.csv's numbers equal (the seconds aside).
  auto rows = [](const std::string& dir) {
    std::istringstream in(read_all(dir + "/cv.csv"));
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      std::stringstream ls(line);
      std::string cell, kept;
      for (int c = 0; std::getline(ls, cell, ','); ++c)
        if (c != 3) kept += cell + ",";  // column 3: seconds
      out.push_back(kept);
    }
    return out;
  };
  EXPECT_EQ(rows(two), rows(one));
  EXPECT_EQ(rows(one).size(), 1u + 3u + 2u);  // header, 3 folds, mean and std
}

// Starts `cmd` in the background; returns its pid (the shell's, which execs mpirun).
pid_t spawn(const std::string& cmd, const std::string& out, const std::string& err) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    // One thread a process, as shell() runs: `threads: auto` would time each process's count
    // under the load of the moment, and another count changes oneDNN's summation order.
    setenv("CNNKIT_NUM_THREADS", "1", 1);
    execl("/bin/sh", "sh", "-c", ("exec " + cmd + " >" + out + " 2>" + err + " </dev/null").c_str(), nullptr);
    _exit(127);
  }
  return pid;
}

// The pid of the cnnkit process of rank `rank` whose command line holds `marker`.
pid_t rank_pid(const std::string& marker, int rank) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_all(e.path().string() + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(marker) == std::string::npos || cmdline.find("mpirun") != std::string::npos ||
        cmdline.find(" train ") == std::string::npos)
      continue;
    std::string env = read_all(e.path().string() + "/environ");
    if (env.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

bool wait_for(const std::function<bool()>& cond, double seconds) {
  const auto t0 = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - t0).count() < seconds) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

TEST(MpiTrain, KillingOneRankEndsEveryRankWithinThirtySeconds) {
  const std::string dir = cnnkit::test::temp_path("runs/killed");
  const std::string cfg = tiny_config("killed.yaml", dir) + " --set epochs=200";
  const std::string out = cnnkit::test::temp_path("killed.out"), err = cnnkit::test::temp_path("killed.err");
  const pid_t job = spawn(mpirun(2) + "train -q " + cfg, out, err);
  int status = 0;
  ASSERT_TRUE(wait_for([&] { return fs::exists(dir + "/metrics.csv") || waitpid(job, &status, WNOHANG) == job; }, 120));
  ASSERT_TRUE(fs::exists(dir + "/metrics.csv")) << read_all(err);
  const pid_t victim = rank_pid("killed.yaml", 1);
  ASSERT_GT(victim, 0);
  ASSERT_EQ(kill(victim, SIGKILL), 0);
  const auto t0 = Clock::now();
  const bool ended = wait_for([&] { return waitpid(job, &status, WNOHANG) == job; }, 30);
  if (!ended) kill(-job, SIGKILL);  // do not leave it behind
  ASSERT_TRUE(ended) << "mpirun still running 30 s after rank 1 was killed";
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 30.0);
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(rank_pid("killed.yaml", 0), -1) << "rank 0 survived";
  // mpirun names the rank that died.
  EXPECT_NE(read_all(err).find("signal 9"), std::string::npos) << read_all(err);
}

TEST(MpiTrain, ResumesOnAnotherNumberOfProcesses) {
  // Two processes, stopped (SIGTERM to mpirun, as a scheduler does) after an epoch; one
  // process continues. The result equals the uninterrupted single-process run.
  const std::string dir = cnnkit::test::temp_path("runs/resumed"), ref = cnnkit::test::temp_path("runs/straight");
  // Global batch 8 (4 a rank), 40 epochs: several seconds, so that the stop lands well before the end.
  // lr 0.01: the shared tiny config's 0.05 diverges at batch 8 in the first epoch (loss 4.6, then
  // a dead net at ln 4), where rounding differences of the two-rank sum grow without bound.
  const std::string cfg = tiny_config("resumed.yaml", dir, "", "{name: SGD, lr: 0.01, momentum: 0.9}") +
                          " --set epochs=40 --set data.batch_size=8";
  const std::string out = cnnkit::test::temp_path("resumed.out"), err = cnnkit::test::temp_path("resumed.err");
  const pid_t job = spawn(mpirun(2) + "train -q " + cfg, out, err);
  int status = 0;
  ASSERT_TRUE(wait_for([&] { return column_rows(dir) >= 1 || waitpid(job, &status, WNOHANG) == job; }, 120));
  ASSERT_GE(column_rows(dir), 1u) << read_all(err);
  kill(job, SIGTERM);
  ASSERT_TRUE(wait_for([&] { return waitpid(job, &status, WNOHANG) == job; }, 30));
  const size_t done = column_rows(dir);
  ASSERT_LT(done, 40u) << "the run finished before it was stopped";
  const Result resumed = run("train -q --resume " + dir);
  ASSERT_EQ(resumed.code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("resumed from"), std::string::npos) << resumed.out;
  const Result straight = run("train -q " + cfg + " --set output_dir=" + ref);
  ASSERT_EQ(straight.code, 0) << straight.err;
  const auto a = column(dir, "train_loss"), b = column(ref, "train_loss");
  ASSERT_EQ(a.size(), 40u);
  ASSERT_EQ(b.size(), 40u);
  for (size_t e = 0; e < 40; ++e) EXPECT_NEAR(a[e], b[e], 1e-3 * b[e]) << "epoch " << e + 1;
}

}  // namespace
