// Collective communication for data-parallel training: every rank holds a full model
// replica, computes gradients on its slice of each global batch, and the ranks sum their
// gradients (and a few scalars: losses, norms, skip flags) before every optimizer step.
//
// Memory contract. The Tensor overloads take memory of the backend the communicator serves:
// host memory for the CPU backend (MpiCommunicator hands the pointer straight to MPI), device
// memory for the CUDA backend (NcclCommunicator, comm/nccl_communicator.h, enqueues on
// the backend's compute stream, so a Tensor collective is ordered after the kernels that
// produced the values and before the ones that consume them, without blocking the host).
// tensor_memory() says which; engine/data_parallel.cpp refuses a mismatched pair. The
// raw-pointer overloads always take host memory and are synchronous.
//
// Asynchronous buckets. all_reduce_sum_async(slice) starts the in-place sum of one gradient
// bucket and may return before it is done; wait_all() makes every started one complete and
// visible to the consumer: on the host (MPI: it is synchronous already) or, for device memory,
// ordered before the work queued afterwards on the backend's compute stream (the host does not
// block). Until wait_all() returns, neither read nor write a buffer handed to the async call.
//
// Every call is collective: all ranks make the same calls in the same order with the same
// counts; a rank that skips one stalls the others (the watchdog, comm/collective_watchdog.h,
// turns that stall into an error naming the rank and the collective).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/launcher.h"  // launcher_world_size, launched_by_mpi, ... (callers of the factory use them)
#include "core/tensor.h"

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
  virtual std::string name() const = 0;  // "local", "mpi", "nccl"
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

  // Starts the in-place sum of `values` (a bucket: a slice of the flat gradient buffer, f32 or
  // f64, in tensor_memory()); may return before it completes. Successive async calls complete
  // in the order they were made; a Tensor collective (all_reduce_sum/broadcast(Tensor)) made
  // while some are outstanding is ordered after them. This default is the synchronous sum
  // (MPI, local); NcclCommunicator overlaps it with the kernels queued after the call.
  virtual void all_reduce_sum_async(Tensor values) { all_reduce_sum(values); }
  // After it returns every started async sum is complete for the consumer: for host memory on
  // return, for device memory before any work queued later on the backend's compute stream.
  virtual void wait_all() {}

  // Rank 0's values replace every other rank's.
  virtual void broadcast(void* data, size_t bytes) = 0;  // host
  virtual void broadcast(Tensor values) = 0;            // [numel], in tensor_memory()
  virtual void barrier() = 0;
  // A barrier without the stall deadline, for the ranks that wait while rank 0 works alone (an
  // evaluation during training) for as long as that takes: --ddp_timeout bounds a collective,
  // not rank 0's work. A waiting rank sleeps between polls rather than spinning, leaving the
  // cores to rank 0; a rank that dies still ends the job (the launcher ends its peers).
  virtual void wait_for_root(const char* what) {
    (void)what;
    barrier();
  }

  // Ends every rank of the job: prints "rank R: <reason>" to stderr and exits non-zero
  // (MPI_Abort for MPI). Use it when one rank fails while the others may be inside, or about
  // to enter, a collective: an exception on one rank alone would leave them waiting.
  [[noreturn]] virtual void abort(const std::string& reason) = 0;
};

// World size 1: every collective is the identity, abort() exits the process. It touches no
// tensor data, so it serves either memory; `memory` is only what tensor_memory() reports.
class LocalCommunicator final : public Communicator {
 public:
  explicit LocalCommunicator(CommMemory memory = CommMemory::kHost) : memory_(memory) {}
  std::string name() const override { return "local"; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  CommMemory tensor_memory() const override { return memory_; }
  void all_reduce_sum(Tensor values) override;
  void all_reduce_sum(float*, size_t) override {}
  void all_reduce_sum(double*, size_t) override {}
  double all_reduce_sum_double(double value) override { return value; }
  void all_reduce_sum_async(Tensor values) override { all_reduce_sum(values); }  // checks only
  void wait_all() override {}
  void broadcast(void*, size_t) override {}
  void broadcast(Tensor) override {}
  void barrier() override {}
  [[noreturn]] void abort(const std::string& reason) override;

 private:
  CommMemory memory_;
};

// Helpers for implementations (bert_comm sits below bert_engine, so it does not call
// scalar_size/scalar_name from engine/backend.cpp).
size_t tensor_bytes(const Tensor& values);
// Throws BertError naming `who` unless the tensor is f32 or f64.
void check_reducible(const Tensor& values, const char* who);

// True when this build has MpiCommunicator (compile definition BERT_HAVE_MPI).
bool mpi_compiled_in();
// True when this build has NcclCommunicator (compile definition BERT_HAVE_NCCL: CUDA, NCCL and
// MPI were all found).
bool nccl_compiled_in();

// MpiCommunicator when launched under mpirun (or another PMI launcher) and MPI is compiled
// in; LocalCommunicator for a plain launch. Launched with several processes but built
// without MPI: BertError (each process would otherwise train alone on the whole data).
// At most one MPI communicator per process (MPI can be initialised once).
std::unique_ptr<Communicator> make_communicator(const CommOptions& options = {});

// Which backend the communicator serves: kHost (CPU backend: tensors in host memory) or kCuda
// (CUDA backend: tensors in device memory, collectives on its compute stream).
enum class CommDevice { kHost, kCuda };

// kHost: as above (cuda_stream ignored). kCuda: NcclCommunicator on `cuda_stream` (the CUDA
// backend's stream(), a cudaStream_t passed as void*, on the device already selected) when
// launched by mpirun (also -np 1) and NCCL is compiled in; LocalCommunicator for a plain launch;
// launched by mpirun without NCCL compiled in: BertError (MPI cannot take device pointers).
// The NCCL communicator owns the process's MPI communicator (its bootstrap and host collectives),
// so do not create another MPI one.
std::unique_ptr<Communicator> make_communicator(const CommOptions& options, CommDevice device,
                                                void* cuda_stream);

}  // namespace bert
