// Collective communication for data-parallel training: every rank holds a full model
// replica, computes gradients on its slice of each global batch, and the ranks sum their
// gradients (and a few scalars: losses, norms, skip flags) before every optimizer step.
//
// Memory contract. The Tensor overloads take memory of the backend the communicator serves:
// host memory for the CPU backend (MpiCommunicator hands the pointer straight to MPI), device
// memory for the CUDA backend (the NCCL communicator, written later against this interface,
// enqueues on the backend's stream, so a Tensor collective is ordered after the kernels that
// produced the values and before the ones that consume them). tensor_memory() says which;
// engine/data_parallel.cpp refuses a mismatched pair. The raw-pointer overloads always take
// host memory and are synchronous.
//
// Every call is collective: all ranks make the same calls in the same order with the same
// counts; a rank that skips one stalls the others (the watchdog, engine/comm/collective_watchdog.h,
// turns that stall into an error naming the rank and the collective).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "engine/backend.h"

namespace bert {

enum class CommMemory { kHost, kDevice };

struct CommOptions {
  // A collective that has not completed after this many seconds ends the job with a message
  // naming the rank and the collective (Hugging Face's --ddp_timeout, default 1800 s as
  // torch.distributed). <= 0 disables the watchdog.
  double timeout_seconds = 1800;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string name() const = 0;  // "local", "mpi" (later "nccl")
  virtual int rank() const = 0;          // 0 .. world_size()-1
  virtual int world_size() const = 0;
  bool is_root() const { return rank() == 0; }
  virtual CommMemory tensor_memory() const = 0;

  // In place: afterwards every rank holds the element-wise sum over all ranks.
  // kF32 or kF64 tensors only (gradients, Adam state); others throw BertError.
  virtual void all_reduce_sum(Tensor values) = 0;  // [numel], in tensor_memory()
  virtual void all_reduce_sum(float* values, size_t count) = 0;   // [count] host
  virtual void all_reduce_sum(double* values, size_t count) = 0;  // [count] host
  // The sum over ranks of one scalar (losses, norms, flags), returned on every rank.
  virtual double all_reduce_sum_double(double value) = 0;

  // Rank 0's values replace every other rank's.
  virtual void broadcast(void* data, size_t bytes) = 0;  // host
  virtual void broadcast(Tensor values) = 0;            // [numel], in tensor_memory()
  virtual void barrier() = 0;

  // Ends every rank of the job: prints "rank R: <reason>" to stderr and exits non-zero
  // (MPI_Abort for MPI). Use it when one rank fails while the others may be inside, or about
  // to enter, a collective: an exception on one rank alone would leave them waiting.
  [[noreturn]] virtual void abort(const std::string& reason) = 0;
};

// World size 1: every collective is the identity, abort() exits the process.
class LocalCommunicator final : public Communicator {
 public:
  std::string name() const override { return "local"; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  CommMemory tensor_memory() const override { return CommMemory::kHost; }
  void all_reduce_sum(Tensor values) override;
  void all_reduce_sum(float*, size_t) override {}
  void all_reduce_sum(double*, size_t) override {}
  double all_reduce_sum_double(double value) override { return value; }
  void broadcast(void*, size_t) override {}
  void broadcast(Tensor) override {}
  void barrier() override {}
  [[noreturn]] void abort(const std::string& reason) override;
};

// Helpers for implementations (bert_comm sits below bert_engine, so it does not call
// scalar_size/scalar_name from engine/backend.cpp).
size_t tensor_bytes(const Tensor& values);
// Throws BertError naming `who` unless the tensor is f32 or f64.
void check_reducible(const Tensor& values, const char* who);

// The number of processes the launcher started, from OMPI_COMM_WORLD_SIZE (Open MPI),
// PMI_SIZE (MPICH/Hydra) or PMIX_SIZE; 1 when none is set (a plain launch), -1 when only
// PMIX_RANK says that a PMIx launcher is present without a size.
int launcher_world_size();
// True when any of those variables (or PMIX_RANK) is set, even for a single process.
bool launched_by_mpi();

// True when this build has MpiCommunicator (compile definition BERT_HAVE_MPI).
bool mpi_compiled_in();

// MpiCommunicator when launched under mpirun (or another PMI launcher) and MPI is compiled
// in; LocalCommunicator for a plain launch. Launched with several processes but built
// without MPI: BertError (each process would otherwise train alone on the whole data).
// At most one MPI communicator per process (MPI can be initialised once).
std::unique_ptr<Communicator> make_communicator(const CommOptions& options = {});

}  // namespace bert
