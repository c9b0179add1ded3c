// The process group (torch.distributed with the MPI backend): one process per rank, started
// by mpirun, talking through MPI collectives — the engine HPC clusters already run, used as
// Horovod uses it. cnnkit::distributed is built on MPI when CMake finds it (CNNKIT_MPI=AUTO,
// the default; scripts/install-deps installs OpenMPI); without it every function here that
// needs MPI throws a clear error and is_available() is false.
//
//   distributed::init_process_group();          // under `mpirun -np 4 ./prog`
//   int rank = distributed::get_rank(), world = distributed::get_world_size();
//   Tensor t = torch-like tensor; distributed::all_reduce(t);   // sum over ranks, in place
//   distributed::broadcast(w, /*src=*/0);
//   auto work = distributed::all_reduce(g, distributed::ReduceOp::SUM, /*async_op=*/true);
//   ...overlapped work...; work->wait();
//   distributed::destroy_process_group();
//
// Contracts:
//   - Every rank must issue the same collectives in the same order (as with any MPI or
//     torch.distributed program). One communication thread of the process issues them to
//     MPI in the order they were called, so async_op collectives started from hooks during
//     backward (DistributedDataParallel) and blocking ones from the main thread interleave
//     safely.
//   - Tensors are float32, float64 or int64, contiguous, and must stay alive and untouched
//     until an async collective's wait() returns.
//   - A collective that does not complete within the group's timeout (a rank died, or stopped
//     issuing collectives) throws DistributedError from wait(); the caller should then
//     abort(), which takes every rank down (mpirun also kills the survivors when a rank dies).
//   - Not initialised, the group is one process: rank 0 of 1, collectives are identities.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cnnkit/core/arg.h"
#include "cnnkit/core/error.h"
#include "cnnkit/core/tensor.h"

namespace cnnkit::distributed {

// A collective that failed or timed out, or MPI missing / misused.
class DistributedError : public Error {
 public:
  using Error::Error;
};

enum class ReduceOp { SUM, MIN, MAX };

struct ProcessGroupOptions {
  // How long any one collective may take before wait() gives up (PyTorch's default is 30 min).
  CNNKIT_ARG(std::chrono::milliseconds, timeout) = std::chrono::minutes(30);
};

// True when cnnkit was built with MPI.
bool is_available();
bool is_mpi_available();  // the same, under torch.distributed's name

// Initialises MPI (once; later calls with a group already up are ValueErrors, as in PyTorch).
// `backend` must be "mpi". Throws DistributedError when built without MPI.
void init_process_group(const std::string& backend = "mpi", ProcessGroupOptions options = {});
bool is_initialized();
// Finalises MPI (collectively: every rank must call it). The group cannot be initialised again.
void destroy_process_group();

int get_rank();        // 0 when not initialised
int get_world_size();  // 1 when not initialised
// The world size and rank the launcher (mpirun / srun with PMI) gave this process, read from
// its environment without touching MPI: 1 and 0 when not launched that way. `cnnkit train`
// initialises the group only when launched_world_size() > 1.
int launched_world_size();
int launched_rank();
int launched_local_size();  // processes of the job on this node (for thread counts)

// A started collective (async_op = true).
class Work {
 public:
  virtual ~Work() = default;
  virtual bool is_completed() = 0;
  // Blocks until done; rethrows its error; DistributedError after the group's timeout.
  virtual void wait() = 0;
};

// In place over every rank. async_op = false: blocks and returns nullptr.
std::shared_ptr<Work> all_reduce(Tensor& tensor, ReduceOp op = ReduceOp::SUM, bool async_op = false);
// Overwrites `tensor` on every rank with rank `src`'s values (shapes must agree).
std::shared_ptr<Work> broadcast(Tensor& tensor, int src = 0, bool async_op = false);
void barrier();
// Every rank's `bytes`, indexed by rank (torch.distributed.all_gather_object for strings).
std::vector<std::string> all_gather_object(const std::string& bytes);

// Prints "cnnkit: rank R: message" to stderr and takes every rank down (MPI_Abort) with
// `exit_code`; plain exit(exit_code) when the group is not initialised.
[[noreturn]] void abort(const std::string& message, int exit_code = 1);

}  // namespace cnnkit::distributed
