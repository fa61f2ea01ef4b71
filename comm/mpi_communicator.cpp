#include "comm/mpi_communicator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "comm/mpi_check.h"

namespace bert {

void throw_mpi_error(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
  throw_check_failure(call, file, line,
                      "MPI error " + std::to_string(code) + (length > 0 ? ": " + std::string(text, length) : ""));
}

namespace {

// MPI may be initialised once per process; 0 = never, 1 = a communicator owns it, 2 = finalised.
std::atomic<int> g_mpi_state{0};

constexpr int kAbortExitCode = 1;
constexpr int kStallExitCode = 70;  // EX_SOFTWARE: told apart from abort()'s 1 by scripts

// MPI counts are int: larger buffers go in chunks of this many elements.
constexpr size_t kMaxChunk = size_t(1) << 28;

template <typename T>
void all_reduce_chunks(MPI_Comm comm, T* values, size_t count, MPI_Datatype type) {
  for (size_t start = 0; start < count; start += kMaxChunk) {
    const int n = static_cast<int>(std::min(kMaxChunk, count - start));
    MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, values + start, n, type, MPI_SUM, comm));
  }
}

}  // namespace

struct MpiCommunicator::Handles {
  MPI_Comm comm = MPI_COMM_NULL;
  bool owns_init = false;  // false when MPI was already initialised by someone else
};

MpiCommunicator::MpiCommunicator(const CommOptions& options) : handles_(std::make_unique<Handles>()) {
  int expected = 0;
  if (!g_mpi_state.compare_exchange_strong(expected, 1))
    throw BertError(expected == 1 ? "MpiCommunicator: one already exists in this process (MPI is initialised once)"
                                  : "MpiCommunicator: MPI was finalised and cannot be initialised again");
  int initialized = 0;
  MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) {
    MPI_CHECK(MPI_Query_thread(&thread_level_));
  } else {
    // The default error handler aborts the job on failure here, with MPI's own message.
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &thread_level_);
    handles_->owns_init = true;
  }
  if (thread_level_ < MPI_THREAD_FUNNELED)
    throw BertError("MpiCommunicator: MPI provides thread level " + std::to_string(thread_level_) +
                    ", at least MPI_THREAD_FUNNELED is needed (the trainer runs a packing thread)");
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &handles_->comm));
  MPI_CHECK(MPI_Comm_set_errhandler(handles_->comm, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(handles_->comm, &rank_));
  MPI_CHECK(MPI_Comm_size(handles_->comm, &size_));

  const bool can_abort_from_thread = thread_level_ >= MPI_THREAD_MULTIPLE;
  watchdog_ = std::make_unique<CollectiveWatchdog>(
      rank_, options.timeout_seconds, [can_abort_from_thread](const std::string& message) {
        std::fprintf(stderr, "%s\n", message.c_str());
        std::fflush(stderr);
        if (can_abort_from_thread) MPI_Abort(MPI_COMM_WORLD, kStallExitCode);
        std::_Exit(kStallExitCode);
      });
}

MpiCommunicator::~MpiCommunicator() {
  watchdog_.reset();
  if (handles_->comm != MPI_COMM_NULL) MPI_Comm_free(&handles_->comm);
  if (handles_->owns_init) MPI_Finalize();
  g_mpi_state = 2;
}

void MpiCommunicator::all_reduce_sum(Tensor values) {
  check_reducible(values, "MpiCommunicator::all_reduce_sum");
  if (values.dtype == ScalarType::kF32)
    all_reduce_sum(static_cast<float*>(values.data), values.numel);
  else
    all_reduce_sum(static_cast<double*>(values.data), values.numel);
}

void MpiCommunicator::all_reduce_sum_async(Tensor values) {
  check_reducible(values, "MpiCommunicator::all_reduce_sum_async");
  CollectiveWatchdog::Scope watch(*watchdog_, "all_reduce_sum_async");
  if (values.dtype == ScalarType::kF32)
    all_reduce_chunks(handles_->comm, static_cast<float*>(values.data), values.numel, MPI_FLOAT);
  else
    all_reduce_chunks(handles_->comm, static_cast<double*>(values.data), values.numel, MPI_DOUBLE);
}

void MpiCommunicator::all_reduce_sum(float* values, size_t count) {
  CollectiveWatchdog::Scope watch(*watchdog_, "all_reduce_sum(float)");
  all_reduce_chunks(handles_->comm, values, count, MPI_FLOAT);
}

void MpiCommunicator::all_reduce_sum(double* values, size_t count) {
  CollectiveWatchdog::Scope watch(*watchdog_, "all_reduce_sum(double)");
  all_reduce_chunks(handles_->comm, values, count, MPI_DOUBLE);
}

double MpiCommunicator::all_reduce_sum_double(double value) {
  CollectiveWatchdog::Scope watch(*watchdog_, "all_reduce_sum_double");
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_SUM, handles_->comm));
  return value;
}

void MpiCommunicator::broadcast(void* data, size_t bytes) {
  CollectiveWatchdog::Scope watch(*watchdog_, "broadcast");
  char* bytes_at = static_cast<char*>(data);
  for (size_t start = 0; start < bytes; start += kMaxChunk) {
    const int n = static_cast<int>(std::min(kMaxChunk, bytes - start));
    MPI_CHECK(MPI_Bcast(bytes_at + start, n, MPI_BYTE, 0, handles_->comm));
  }
}

void MpiCommunicator::broadcast(Tensor values) {
  broadcast(values.data, tensor_bytes(values));
}

void MpiCommunicator::barrier() {
  CollectiveWatchdog::Scope watch(*watchdog_, "barrier");
  MPI_CHECK(MPI_Barrier(handles_->comm));
}

void MpiCommunicator::wait_for_root(const char* what) {
  (void)what;  // no watchdog scope: the wait has no deadline
  MPI_Request request;
  MPI_CHECK(MPI_Ibarrier(handles_->comm, &request));
  int done = 0;
  for (;;) {
    MPI_CHECK(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
    if (done) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void MpiCommunicator::abort(const std::string& reason) {
  std::fprintf(stderr, "rank %d: %s\n", rank_, reason.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, kAbortExitCode);
  std::_Exit(kAbortExitCode);
}

}  // namespace bert
