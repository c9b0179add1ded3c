// The MPI process group. All MPI calls are made by one communication thread, in the order the
// collectives were requested (as PyTorch's ProcessGroupMPI does): the thread that calls
// MPI_Init_thread is that thread, so MPI_THREAD_FUNNELED suffices, and a collective requested
// from a backward hook (DistributedDataParallel's buckets) runs while the main thread goes
// on computing. Built without MPI (no CNNKIT_HAVE_MPI), the group cannot be initialised.
#include "cnnkit/distributed/distributed.h"

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#ifdef CNNKIT_HAVE_MPI
#include <mpi.h>
#endif

namespace cnnkit::distributed {
namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return (end && *end == '\0' && x >= 0 && x < (1L << 30)) ? static_cast<int>(x) : fallback;
}

std::string describe(const Tensor& t) {
  std::ostringstream os;
  os << t.scalar_type() << " tensor of shape " << t.sizes();
  return os.str();
}

void check_tensor(const Tensor& t, const char* what) {
  CNNKIT_CHECK_T(DistributedError, t.defined(), what, ": the tensor is undefined");
  CNNKIT_CHECK_T(DistributedError, t.is_contiguous(), what, ": the tensor must be contiguous, got a strided ", describe(t));
  const ScalarType s = t.scalar_type();
  CNNKIT_CHECK_T(DistributedError, s == kFloat || s == kDouble || s == kLong, what,
                 ": float32, float64 or int64 tensors only, got a ", describe(t));
}

// A request to the communication thread and its completion.
struct Job : Work {
  std::string what;
  std::function<void()> run;
  std::chrono::milliseconds timeout{0};

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::exception_ptr error;

  void finish(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    error = std::move(e);
    cv.notify_all();
  }
  bool is_completed() override {
    std::lock_guard<std::mutex> lock(mu);
    return done;
  }
  void wait() override {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, timeout, [&] { return done; })) {
      throw DistributedError("distributed: " + what + " did not complete within " +
                             std::to_string(timeout.count() / 1000) +
                             " s: another rank died, hangs, or stopped issuing the same collectives");
    }
    if (error) std::rethrow_exception(error);
  }
};

#ifdef CNNKIT_HAVE_MPI

MPI_Datatype mpi_type(ScalarType s) {
  return s == kFloat ? MPI_FLOAT : s == kDouble ? MPI_DOUBLE : MPI_INT64_T;
}
MPI_Op mpi_op(ReduceOp op) { return op == ReduceOp::SUM ? MPI_SUM : op == ReduceOp::MIN ? MPI_MIN : MPI_MAX; }

void check_mpi(int rc, const std::string& what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw DistributedError("distributed: " + what + " failed: " + std::string(msg, static_cast<size_t>(len)));
}

class ProcessGroup {
 public:
  explicit ProcessGroup(ProcessGroupOptions options) : options_(options) {
    std::exception_ptr init_error;
    std::mutex m;
    std::condition_variable cv;
    bool ready = false;
    thread_ = std::thread([&] {
      // Only until `ready` is set may this thread touch the constructor's locals (they die
      // when it returns); its own outcome goes in `ok`.
      bool ok = true;
      try {
        int provided = 0;
        check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
        // Errors come back as codes, so a failed collective is an exception, not an exit.
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &world_);
      } catch (...) {
        init_error = std::current_exception();
        ok = false;
      }
      {
        std::lock_guard<std::mutex> lock(m);
        ready = true;
        cv.notify_all();
      }
      if (ok) loop();
    });
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return ready; });
    lock.unlock();  // the thread no longer uses m, cv, ready or init_error
    if (init_error) {
      thread_.join();
      std::rethrow_exception(init_error);
    }
  }

  // Finalises MPI on the communication thread and joins it.
  ~ProcessGroup() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  int rank() const { return rank_; }
  int world() const { return world_; }

  std::shared_ptr<Job> submit(std::string what, std::function<void()> run) {
    auto job = std::make_shared<Job>();
    job->what = std::move(what);
    job->run = std::move(run);
    job->timeout = options_.timeout();
    {
      std::lock_guard<std::mutex> lock(mu_);
      CNNKIT_CHECK_T(DistributedError, !stop_, "distributed: the process group was destroyed");
      queue_.push_back(job);
    }
    cv_.notify_all();
    return job;
  }

 private:
  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) break;  // stop_ and nothing left
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      try {
        job->run();
        job->finish(nullptr);
      } catch (...) {
        job->finish(std::current_exception());
      }
    }
    MPI_Finalize();
  }

  ProcessGroupOptions options_;
  int rank_ = 0, world_ = 1;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stop_ = false;
};

std::unique_ptr<ProcessGroup>& group() {
  static std::unique_ptr<ProcessGroup> g;
  return g;
}
bool destroyed = false;

std::shared_ptr<Work> run(std::string what, std::function<void()> fn, bool async_op) {
  auto job = group()->submit(std::move(what), std::move(fn));
  if (async_op) return job;
  job->wait();
  return nullptr;
}

#endif  // CNNKIT_HAVE_MPI

#ifndef CNNKIT_HAVE_MPI
[[noreturn]] void no_mpi(const char* what) {
  throw DistributedError(std::string("distributed::") + what +
                         ": cnnkit was built without MPI (install libopenmpi-dev and openmpi-bin, e.g. with "
                         "scripts/install-deps, then reconfigure and rebuild)");
}
#endif

}  // namespace

bool is_available() {
#ifdef CNNKIT_HAVE_MPI
  return true;
#else
  return false;
#endif
}
bool is_mpi_available() { return is_available(); }

// Open MPI's mpirun sets OMPI_COMM_WORLD_*; MPICH's Hydra (and Slurm's PMI) set PMI_*.
int launched_world_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    int n = env_int(v, 0);
    if (n > 0) return n;
  }
  return 1;
}
int launched_rank() {
  for (const char* v : {"OMPI_COMM_WORLD_RANK", "PMI_RANK"}) {
    int r = env_int(v, -1);
    if (r >= 0) return r;
  }
  return 0;
}
int launched_local_size() {
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
    int n = env_int(v, 0);
    if (n > 0) return n;
  }
  return launched_world_size();
}

#ifdef CNNKIT_HAVE_MPI

void init_process_group(const std::string& backend, ProcessGroupOptions options) {
  CNNKIT_CHECK_T(ValueError, backend == "mpi", "init_process_group: backend '", backend,
                 "' is not available; cnnkit's only backend is \"mpi\"");
  CNNKIT_CHECK_T(ValueError, !group(), "init_process_group: the default process group is already initialised");
  CNNKIT_CHECK_T(DistributedError, !destroyed, "init_process_group: MPI was finalised by destroy_process_group() "
                 "and cannot be initialised again in this process");
  CNNKIT_CHECK_T(ValueError, options.timeout().count() > 0, "init_process_group: timeout must be positive");
  group() = std::make_unique<ProcessGroup>(options);
}

bool is_initialized() { return group() != nullptr; }

void destroy_process_group() {
  if (!group()) return;
  group().reset();
  destroyed = true;
}

int get_rank() { return group() ? group()->rank() : 0; }
int get_world_size() { return group() ? group()->world() : 1; }

std::shared_ptr<Work> all_reduce(Tensor& tensor, ReduceOp op, bool async_op) {
  check_tensor(tensor, "all_reduce");
  if (!group() || group()->world() == 1) return nullptr;
  CNNKIT_CHECK_T(DistributedError, tensor.numel() < (int64_t{1} << 31), "all_reduce: tensors above 2^31 elements are not supported");
  Tensor t = tensor;
  return run("all_reduce of a " + describe(t), [t, op] {
    check_mpi(MPI_Allreduce(MPI_IN_PLACE, t.data_ptr(), static_cast<int>(t.numel()), mpi_type(t.scalar_type()),
                            mpi_op(op), MPI_COMM_WORLD), "MPI_Allreduce");
  }, async_op);
}

std::shared_ptr<Work> broadcast(Tensor& tensor, int src, bool async_op) {
  check_tensor(tensor, "broadcast");
  CNNKIT_CHECK_T(ValueError, src >= 0 && src < get_world_size(), "broadcast: src ", src, " is not a rank of a world of ",
                 get_world_size());
  if (!group() || group()->world() == 1) return nullptr;
  Tensor t = tensor;
  return run("broadcast of a " + describe(t), [t, src] {
    check_mpi(MPI_Bcast(t.data_ptr(), static_cast<int>(t.numel()), mpi_type(t.scalar_type()), src, MPI_COMM_WORLD),
              "MPI_Bcast");
  }, async_op);
}

void barrier() {
  if (!group() || group()->world() == 1) return;
  run("barrier", [] { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }, false);
}

std::vector<std::string> all_gather_object(const std::string& bytes) {
  if (!group() || group()->world() == 1) return {bytes};
  const int world = group()->world();
  std::vector<std::string> out(static_cast<size_t>(world));
  CNNKIT_CHECK_T(DistributedError, bytes.size() < (size_t{1} << 31), "all_gather_object: objects above 2 GiB are not supported");
  run("all_gather_object", [&] {
    int mine = static_cast<int>(bytes.size());
    std::vector<int> sizes(static_cast<size_t>(world)), offsets(static_cast<size_t>(world));
    check_mpi(MPI_Allgather(&mine, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
    int64_t total = 0;
    for (int r = 0; r < world; ++r) {
      offsets[static_cast<size_t>(r)] = static_cast<int>(total);
      total += sizes[static_cast<size_t>(r)];
    }
    CNNKIT_CHECK_T(DistributedError, total < (int64_t{1} << 31), "all_gather_object: above 2 GiB in all");
    std::string all(static_cast<size_t>(total), '\0');
    check_mpi(MPI_Allgatherv(bytes.data(), mine, MPI_BYTE, all.data(), sizes.data(), offsets.data(), MPI_BYTE,
                             MPI_COMM_WORLD), "MPI_Allgatherv");
    for (int r = 0; r < world; ++r)
      out[static_cast<size_t>(r)] = all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                                               static_cast<size_t>(sizes[static_cast<size_t>(r)]));
  }, false);
  return out;
}

void abort(const std::string& message, int exit_code) {
  std::fprintf(stderr, "cnnkit: rank %d: %s\n", get_rank(), message.c_str());
  std::fflush(stderr);
  if (group() && group()->world() > 1) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

#else  // without MPI: a group of one that cannot be initialised

void init_process_group(const std::string&, ProcessGroupOptions) { no_mpi("init_process_group"); }
bool is_initialized() { return false; }
void destroy_process_group() {}
int get_rank() { return 0; }
int get_world_size() { return 1; }
std::shared_ptr<Work> all_reduce(Tensor& tensor, ReduceOp, bool) {
  check_tensor(tensor, "all_reduce");
  return nullptr;
}
std::shared_ptr<Work> broadcast(Tensor& tensor, int src, bool) {
  check_tensor(tensor, "broadcast");
  CNNKIT_CHECK_T(ValueError, src == 0, "broadcast: src ", src, " is not a rank of a world of 1");
  return nullptr;
}
void barrier() {}
std::vector<std::string> all_gather_object(const std::string& bytes) { return {bytes}; }
void abort(const std::string& message, int exit_code) {
  std::fprintf(stderr, "cnnkit: %s\n", message.c_str());
  std::exit(exit_code);
}

#endif  // CNNKIT_HAVE_MPI

}  // namespace cnnkit::distributed
