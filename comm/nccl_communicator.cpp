#include "comm/nccl_communicator.h"

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "comm/async_watchdog.h"
#include "comm/mpi_check.h"

namespace bert {
namespace {

constexpr int kStallExitCode = 70;  // as MpiCommunicator's watchdog
constexpr auto kAbortWait = std::chrono::seconds(10);

void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  throw_check_failure(call, file, line,
                      std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status));
}

void check_nccl(ncclResult_t status, const char* call, const char* file, int line, ncclComm_t comm) {
  if (status == ncclSuccess) return;
  const char* last = ncclGetLastError(comm);
  throw_check_failure(call, file, line,
                      "NCCL error " + std::to_string(static_cast<int>(status)) + ": " + ncclGetErrorString(status) +
                          (last != nullptr && *last != '\0' ? std::string(" (") + last + ")" : std::string()));
}

ncclDataType_t nccl_type(ScalarType dtype) {
  return dtype == ScalarType::kF64 ? ncclFloat64 : ncclFloat32;  // after check_reducible
}

}  // namespace
}  // namespace bert

#define COMM_CUDA_CHECK(call) ::bert::check_cuda((call), #call, __FILE__, __LINE__)
#define NCCL_CHECK(call) ::bert::check_nccl((call), #call, __FILE__, __LINE__, impl_->comm.load())

namespace bert {

struct NcclCommunicator::Impl {
  int rank = 0, device = 0;
  cudaStream_t compute = nullptr;
  cudaStream_t comm_stream = nullptr;
  cudaEvent_t ready = nullptr;   // compute stream -> communication stream, per async call
  cudaEvent_t joined = nullptr;  // communication stream -> compute stream, per wait_all
  std::atomic<ncclComm_t> comm{nullptr};
  bool async_pending = false;  // async calls since the last wait_all (main thread only)
  FatalFn fatal;

  std::atomic<bool> aborted{false};
  std::mutex mutex;  // guards the fields below (the watchdog thread uses them too)
  std::string abort_message, cuda_error;
  std::vector<cudaEvent_t> free_events, all_events;  // completion events, reused

  std::unique_ptr<AsyncCollectiveWatchdog> watchdog;  // declared last, reset first

  ~Impl() {
    watchdog.reset();  // its hooks use the events
    // Destroying a stream or an event with work pending is allowed: CUDA releases them when
    // the work is done (an aborted, stuck communication stream included).
    for (cudaEvent_t event : all_events) cudaEventDestroy(event);
    if (ready != nullptr) cudaEventDestroy(ready);
    if (joined != nullptr) cudaEventDestroy(joined);
    if (comm_stream != nullptr) cudaStreamDestroy(comm_stream);
  }

  // An event recorded on `stream` now: the watchdog's token for the work enqueued before it.
  cudaEvent_t record(cudaStream_t stream) {
    cudaEvent_t event = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!free_events.empty()) {
        event = free_events.back();
        free_events.pop_back();
      }
    }
    if (event == nullptr) {
      COMM_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
      std::lock_guard<std::mutex> lock(mutex);
      all_events.push_back(event);
    }
    try {
      COMM_CUDA_CHECK(cudaEventRecord(event, stream));
    } catch (...) {
      release(event);
      throw;
    }
    return event;
  }

  void release(cudaEvent_t event) {
    std::lock_guard<std::mutex> lock(mutex);
    free_events.push_back(event);
  }

  bool is_done(cudaEvent_t event) {
    const cudaError_t status = cudaEventQuery(event);
    if (status == cudaSuccess) return true;
    if (status != cudaErrorNotReady) {
      std::lock_guard<std::mutex> lock(mutex);
      if (cuda_error.empty()) cuda_error = std::string("CUDA error ") + cudaGetErrorName(status) + ": " +
                                           cudaGetErrorString(status);
    }
    return false;
  }

  std::string async_error() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!cuda_error.empty()) return cuda_error;
    }
    const ncclComm_t handle = comm.load();
    if (handle == nullptr) return "";
    ncclResult_t state = ncclSuccess;
    const ncclResult_t queried = ncclCommGetAsyncError(handle, &state);
    if (queried != ncclSuccess) return std::string("ncclCommGetAsyncError failed: ") + ncclGetErrorString(queried);
    if (state == ncclSuccess || state == ncclInProgress) return "";
    const char* last = ncclGetLastError(handle);
    return std::string(ncclGetErrorString(state)) +
           (last != nullptr && *last != '\0' ? std::string(" (") + last + ")" : std::string());
  }

  // On the watchdog thread: report, stop the NCCL kernels, end the job (or the test hook).
  void fail(const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::fflush(stderr);
    {
      std::lock_guard<std::mutex> lock(mutex);
      abort_message = message;
    }
    aborted = true;
    const ncclComm_t handle = comm.load();
    if (handle != nullptr) {
      // ncclCommAbort may itself wait on a wedged peer or driver: never let it keep the job alive.
      auto finished = std::make_shared<std::promise<void>>();
      std::future<void> done = finished->get_future();
      std::thread([handle, finished] {
        ncclCommAbort(handle);
        finished->set_value();
      }).detach();
      if (done.wait_for(kAbortWait) != std::future_status::ready)
        std::fprintf(stderr, "rank %d: ncclCommAbort did not return within %lld s; ending anyway\n", rank,
                     static_cast<long long>(kAbortWait.count()));
    }
    fatal(message);
  }

  void check_usable(const char* who) {
    if (!aborted) return;
    std::lock_guard<std::mutex> lock(mutex);
    throw BertError(std::string("NcclCommunicator::") + who + ": the communicator was aborted after: " +
                    abort_message);
  }
};

namespace {

// Registers one collective with the watchdog for the host call; enqueued() hands over the
// event that completes it. Ended at scope exit otherwise (an exception, a host-only step).
class WatchedCall {
 public:
  WatchedCall(AsyncCollectiveWatchdog& watchdog, const char* collective)
      : watchdog_(watchdog), id_(watchdog.begin(collective)) {}
  ~WatchedCall() {
    if (!handed_over_) watchdog_.end(id_);
  }
  WatchedCall(const WatchedCall&) = delete;
  WatchedCall& operator=(const WatchedCall&) = delete;
  void enqueued(cudaEvent_t event) {
    watchdog_.enqueued(id_, event);
    handed_over_ = true;
  }

 private:
  AsyncCollectiveWatchdog& watchdog_;
  const uint64_t id_;
  bool handed_over_ = false;
};

}  // namespace

NcclCommunicator::NcclCommunicator(const CommOptions& options, void* cuda_stream,
                                   std::shared_ptr<MpiCommunicator> bootstrap, FatalFn on_fatal)
    : mpi_(bootstrap ? std::move(bootstrap) : std::make_shared<MpiCommunicator>(options)),
      impl_(std::make_unique<Impl>()) {
  rank_ = mpi_->rank();
  size_ = mpi_->world_size();
  COMM_CUDA_CHECK(cudaGetDevice(&device_));
  impl_->rank = rank_;
  impl_->device = device_;
  impl_->compute = static_cast<cudaStream_t>(cuda_stream);
  int least_priority = 0, greatest_priority = 0;
  COMM_CUDA_CHECK(cudaDeviceGetStreamPriorityRange(&least_priority, &greatest_priority));
  // Non-blocking: no implicit sync with the legacy default stream. High priority: a bucket's
  // reduction kernels are scheduled ahead of the backward kernels they overlap.
  COMM_CUDA_CHECK(cudaStreamCreateWithPriority(&impl_->comm_stream, cudaStreamNonBlocking, greatest_priority));
  COMM_CUDA_CHECK(cudaEventCreateWithFlags(&impl_->ready, cudaEventDisableTiming));
  COMM_CUDA_CHECK(cudaEventCreateWithFlags(&impl_->joined, cudaEventDisableTiming));

  if (on_fatal) {
    impl_->fatal = std::move(on_fatal);
  } else {
    const bool can_abort_from_thread = mpi_->thread_level() >= MPI_THREAD_MULTIPLE;
    impl_->fatal = [can_abort_from_thread](const std::string&) {
      if (can_abort_from_thread) MPI_Abort(MPI_COMM_WORLD, kStallExitCode);
      std::_Exit(kStallExitCode);
    };
  }
  Impl* impl = impl_.get();
  AsyncCollectiveWatchdog::Hooks hooks;
  hooks.on_thread_start = [impl] { cudaSetDevice(impl->device); };
  hooks.is_done = [impl](void* token) { return impl->is_done(static_cast<cudaEvent_t>(token)); };
  hooks.release = [impl](void* token) { impl->release(static_cast<cudaEvent_t>(token)); };
  hooks.async_error = [impl] { return impl->async_error(); };
  hooks.on_failure = [impl](const std::string& message) { impl->fail(message); };
  impl_->watchdog = std::make_unique<AsyncCollectiveWatchdog>(rank_, "NCCL", options.timeout_seconds, std::move(hooks));

  // Watched as a host call: a rank that never arrives would leave the others in it forever.
  WatchedCall call(*impl_->watchdog, "ncclCommInitRank");
  ncclUniqueId id{};
  if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  mpi_->broadcast(&id, sizeof id);
  ncclComm_t comm = nullptr;
  NCCL_CHECK(ncclCommInitRank(&comm, size_, id, rank_));
  impl_->comm = comm;
}

NcclCommunicator::~NcclCommunicator() {
  if (!impl_) return;
  const ncclComm_t comm = impl_->comm.load();
  // After an abort NCCL has freed the communicator already.
  if (comm != nullptr && !impl_->aborted && impl_->watchdog->wait_idle() && !impl_->aborted) {
    ncclResult_t status = ncclCommFinalize(comm);
    if (status == ncclSuccess) status = ncclCommDestroy(comm);
    if (status != ncclSuccess)
      std::fprintf(stderr, "rank %d: warning: closing the NCCL communicator: %s\n", rank_, ncclGetErrorString(status));
  }
  impl_.reset();  // before mpi_: the watchdog thread stops first
}

void* NcclCommunicator::compute_stream() const { return impl_->compute; }
void* NcclCommunicator::communication_stream() const { return impl_->comm_stream; }
size_t NcclCommunicator::outstanding() const { return impl_->watchdog->outstanding(); }
bool NcclCommunicator::failed() const { return impl_->watchdog->failed(); }

void NcclCommunicator::all_reduce_sum(Tensor values) {
  impl_->check_usable("all_reduce_sum");
  check_reducible(values, "NcclCommunicator::all_reduce_sum");
  if (values.numel == 0) return;
  wait_all();  // one order of NCCL operations, the async ones first
  WatchedCall call(*impl_->watchdog, "all_reduce_sum");
  NCCL_CHECK(ncclAllReduce(values.data, values.data, values.numel, nccl_type(values.dtype), ncclSum,
                           impl_->comm.load(), impl_->compute));
  call.enqueued(impl_->record(impl_->compute));
}

void NcclCommunicator::all_reduce_sum_async(Tensor values) {
  impl_->check_usable("all_reduce_sum_async");
  check_reducible(values, "NcclCommunicator::all_reduce_sum_async");
  if (values.numel == 0) return;
  // The bucket's gradients were written by kernels queued so far on the compute stream.
  COMM_CUDA_CHECK(cudaEventRecord(impl_->ready, impl_->compute));
  COMM_CUDA_CHECK(cudaStreamWaitEvent(impl_->comm_stream, impl_->ready, 0));
  WatchedCall call(*impl_->watchdog, "all_reduce_sum_async");
  NCCL_CHECK(ncclAllReduce(values.data, values.data, values.numel, nccl_type(values.dtype), ncclSum,
                           impl_->comm.load(), impl_->comm_stream));
  call.enqueued(impl_->record(impl_->comm_stream));
  impl_->async_pending = true;
}

void NcclCommunicator::wait_all() {
  impl_->check_usable("wait_all");
  if (!impl_->async_pending) return;
  COMM_CUDA_CHECK(cudaEventRecord(impl_->joined, impl_->comm_stream));
  COMM_CUDA_CHECK(cudaStreamWaitEvent(impl_->compute, impl_->joined, 0));
  impl_->async_pending = false;
}

void NcclCommunicator::broadcast(Tensor values) {
  impl_->check_usable("broadcast");
  const size_t bytes = tensor_bytes(values);
  if (bytes == 0) return;
  wait_all();
  WatchedCall call(*impl_->watchdog, "broadcast");
  NCCL_CHECK(ncclBroadcast(values.data, values.data, bytes, ncclUint8, 0, impl_->comm.load(), impl_->compute));
  call.enqueued(impl_->record(impl_->compute));
}

void NcclCommunicator::all_reduce_sum(float* values, size_t count) { mpi_->all_reduce_sum(values, count); }
void NcclCommunicator::all_reduce_sum(double* values, size_t count) { mpi_->all_reduce_sum(values, count); }
double NcclCommunicator::all_reduce_sum_double(double value) { return mpi_->all_reduce_sum_double(value); }
void NcclCommunicator::broadcast(void* data, size_t bytes) { mpi_->broadcast(data, bytes); }
void NcclCommunicator::barrier() { mpi_->barrier(); }
void NcclCommunicator::wait_for_root(const char* what) { mpi_->wait_for_root(what); }
void NcclCommunicator::abort(const std::string& reason) { mpi_->abort(reason); }

int select_local_cuda_device() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0)
    throw BertError(std::string("no usable CUDA device: ") +
                    (status != cudaSuccess ? cudaGetErrorString(status) : "0 devices"));
  const int device = local_rank_from_launcher() % count;
  COMM_CUDA_CHECK(cudaSetDevice(device));
  return device;
}

}  // namespace bert
