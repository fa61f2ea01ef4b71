// Communicator over NCCL for the CUDA backend: tensors are device memory, and collectives are
// enqueued on CUDA streams, never blocking the host.
//
// Bootstrap: an MpiCommunicator (owned, or shared with the caller) gives rank and size; rank 0
// creates the ncclUniqueId and broadcasts it with MPI; then ncclCommInitRank on the current
// device. The host-memory collectives (raw-pointer all_reduce_sum, all_reduce_sum_double,
// broadcast(void*), barrier) stay on that MPI communicator.
//
// Streams. all_reduce_sum(Tensor) and broadcast(Tensor) run on the compute stream given at
// construction (the CUDA backend's stream()), so they are ordered like one more kernel. The
// bucket API overlaps: all_reduce_sum_async records an event on the compute stream, makes a
// private high-priority non-blocking communication stream wait for it, and enqueues the
// ncclAllReduce there, so backward kernels queued afterwards on the compute stream run
// meanwhile; wait_all records an event on the communication stream and makes the compute stream
// wait for it (cudaStreamWaitEvent: the host does not block). A Tensor collective made while
// async ones are outstanding calls wait_all first, which keeps one order of NCCL operations.
//
// Failures. AsyncCollectiveWatchdog (async_watchdog.h) watches every collective from the host
// call until an event recorded after it completes, polling ncclCommGetAsyncError meanwhile. On
// an NCCL error, or when one is outstanding for longer than CommOptions::timeout_seconds
// (--ddp_timeout), it prints "rank R: NCCL <collective>: <error | did not complete within T s
// (a peer may have died)>", calls ncclCommAbort (which stops the NCCL kernels; waited for at
// most 10 s) and ends the job with MPI_Abort (status 70, like the MPI watchdog). Tests inject the
// last step (FatalFn); the communicator is then unusable (every call throws BertError).
//
// Device. The caller selects the GPU before creating the CUDA backend and this communicator:
// select_local_cuda_device() below (cudaSetDevice(local_rank_from_launcher() % device count)).
// NCCL refuses two ranks on one GPU, so -np must not exceed the GPUs of a node.
//
// Only declared when BERT_HAVE_NCCL (CUDA, NCCL and MPI found); the header needs neither
// cuda_runtime.h nor nccl.h: streams are passed as void* (cudaStream_t).
#pragma once

#ifdef BERT_HAVE_NCCL

#include <functional>
#include <memory>
#include <string>

#include "comm/communicator.h"
#include "comm/mpi_communicator.h"

namespace bert {

class NcclCommunicator final : public Communicator {
 public:
  // Called by the watchdog thread after it printed the message and aborted the NCCL
  // communicator. The default ends the job (MPI_Abort) and does not return.
  using FatalFn = std::function<void(const std::string& message)>;

  // cuda_stream: the CUDA backend's compute stream (cudaStream_t), on the current device.
  // bootstrap: the process's MPI communicator; null creates one (MPI initialises once per
  // process, so pass the existing one if there is one). Collective over the MPI ranks.
  NcclCommunicator(const CommOptions& options, void* cuda_stream,
                   std::shared_ptr<MpiCommunicator> bootstrap = nullptr, FatalFn on_fatal = nullptr);
  // Waits (watched) for the outstanding collectives, then ncclCommFinalize/ncclCommDestroy.
  ~NcclCommunicator() override;

  std::string name() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  CommMemory tensor_memory() const override { return CommMemory::kDevice; }

  void all_reduce_sum(Tensor values) override;                     // device, compute stream
  void all_reduce_sum(float* values, size_t count) override;       // host, MPI
  void all_reduce_sum(double* values, size_t count) override;      // host, MPI
  double all_reduce_sum_double(double value) override;             // MPI
  void all_reduce_sum_async(Tensor values) override;               // device, communication stream
  void wait_all() override;
  void broadcast(void* data, size_t bytes) override;               // host, MPI
  void broadcast(Tensor values) override;                          // device (any dtype), compute stream
  void barrier() override;                                         // MPI (host only: no stream sync)
  void wait_for_root(const char* what) override;                   // MPI, likewise
  [[noreturn]] void abort(const std::string& reason) override;     // MPI_Abort

  int device() const { return device_; }
  void* compute_stream() const;
  void* communication_stream() const;
  // Collectives started and not yet seen complete by the watchdog (tests, diagnostics).
  size_t outstanding() const;
  // True once the watchdog has reported a failure (the abort then follows, on its thread).
  bool failed() const;
  MpiCommunicator& bootstrap() { return *mpi_; }

 private:
  struct Impl;  // CUDA and NCCL handles, kept out of this header
  std::shared_ptr<MpiCommunicator> mpi_;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0, size_ = 1, device_ = 0;
};

// cudaSetDevice(local_rank_from_launcher() % device count) and returns the device. Call it
// before creating the CUDA backend. BertError when no CUDA device is usable.
int select_local_cuda_device();

}  // namespace bert

#endif  // BERT_HAVE_NCCL
