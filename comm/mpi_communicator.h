// Communicator over MPI (the C API of Open MPI 4.1; any MPI-3 library works) for the CPU
// backend: tensors are host memory and go to MPI as they are, reduced in place
// (MPI_IN_PLACE) in chunks below MPI's int count limit.
//
// Threads: MPI_Init_thread asks for MPI_THREAD_MULTIPLE, because the watchdog thread may
// call MPI_Abort while the main thread is blocked inside a collective; the trainer's packing
// thread never calls MPI. With only MPI_THREAD_FUNNELED (the minimum accepted) the watchdog
// ends its process with _Exit instead, which mpirun also turns into the end of the job.
// Errors: a private duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN, every call behind
// MPI_CHECK (BertError naming the call, file, line and MPI's error string).
// Only declared when BERT_HAVE_MPI; the header does not need mpi.h.
#pragma once

#ifdef BERT_HAVE_MPI

#include <memory>
#include <string>

#include "comm/collective_watchdog.h"
#include "comm/communicator.h"

namespace bert {

class MpiCommunicator final : public Communicator {
 public:
  // Initialises MPI (once per process: a second instance, or one after the first was
  // destroyed, throws BertError) and starts the watchdog.
  explicit MpiCommunicator(const CommOptions& options = {});
  // Finalises MPI (not watched: ranks reach it at different times, e.g. while rank 0 evaluates).
  ~MpiCommunicator() override;

  std::string name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  CommMemory tensor_memory() const override { return CommMemory::kHost; }
  // The thread level MPI provided (MPI_THREAD_FUNNELED or MPI_THREAD_MULTIPLE).
  int thread_level() const { return thread_level_; }

  void all_reduce_sum(Tensor values) override;
  void all_reduce_sum(float* values, size_t count) override;
  void all_reduce_sum(double* values, size_t count) override;
  double all_reduce_sum_double(double value) override;
  // Blocking: a plain MPI_Allreduce, complete on return (so wait_all has nothing to do). The
  // CPU backend computes on the same threads MPI would progress on, so MPI_Iallreduce would
  // overlap little, and the buffer could not be touched until wait_all.
  void all_reduce_sum_async(Tensor values) override;
  void wait_all() override {}
  void broadcast(void* data, size_t bytes) override;
  void broadcast(Tensor values) override;
  void barrier() override;
  void wait_for_root(const char* what) override;  // MPI_Ibarrier, polled every millisecond
  [[noreturn]] void abort(const std::string& reason) override;

 private:
  struct Handles;  // the MPI_Comm, kept out of this header
  std::unique_ptr<Handles> handles_;
  int rank_ = 0, size_ = 1, thread_level_ = 0;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
};

}  // namespace bert

#endif  // BERT_HAVE_MPI
