// Turns a stalled or failed asynchronous collective into an error instead of a hang. NCCL
// collectives return once enqueued on a stream; they are done when an event recorded after them
// has completed, and several can be outstanding at once (the gradient buckets), so the
// one-at-a-time CollectiveWatchdog (collective_watchdog.h) does not fit. Here the communicator
// registers each collective when the host call starts (begin), then either hands over a token
// whose completion the watchdog can test (enqueued: an event) or says that the host call was all
// there was (end). While anything is outstanding a thread polls: the tokens (is_done), the
// library's asynchronous error state (async_error: ncclCommGetAsyncError) and the oldest
// collective's deadline. On an error or a missed deadline it calls on_failure once with
// "rank R: <library> <collective>: <error | did not complete within T s (a peer may have died)>"
// and stops watching; the NCCL communicator aborts the communicator and ends the job there.
// With nothing outstanding the thread sleeps. Deadlines count from begin(), so a collective
// queued behind long kernels counts their time too: --ddp_timeout is minutes, kernels are ms.
//
// CUDA-free so it can be tested alone (tests/comm/test_communicator.cpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace bert {

class AsyncCollectiveWatchdog {
 public:
  struct Hooks {
    std::function<void()> on_thread_start;            // e.g. cudaSetDevice on the watchdog thread
    std::function<bool(void* token)> is_done;         // must not block
    std::function<void(void* token)> release;         // after is_done(token) returned true
    std::function<std::string()> async_error;         // "" while healthy; must not block
    std::function<void(const std::string& message)> on_failure;  // at most once, on the thread
  };

  // timeout_seconds <= 0 disables the deadline only: errors are still polled and tokens released.
  AsyncCollectiveWatchdog(int rank, std::string library, double timeout_seconds, Hooks hooks);
  ~AsyncCollectiveWatchdog();  // stops the thread; outstanding tokens are not released
  AsyncCollectiveWatchdog(const AsyncCollectiveWatchdog&) = delete;
  AsyncCollectiveWatchdog& operator=(const AsyncCollectiveWatchdog&) = delete;

  // `collective` must outlive the watch (a literal). Returns the id for enqueued()/end().
  uint64_t begin(const char* collective);
  void enqueued(uint64_t id, void* token);  // outstanding until is_done(token)
  void end(uint64_t id);                    // done: nothing left to poll

  size_t outstanding();
  bool failed();
  // Blocks until nothing is outstanding or a failure was reported (true when idle).
  bool wait_idle();
  double timeout_seconds() const { return timeout_seconds_; }

 private:
  struct Item {
    uint64_t id;
    const char* collective;
    std::chrono::steady_clock::time_point started;
    void* token;  // null until enqueued
  };
  void watch();
  void fail(std::unique_lock<std::mutex>& lock, const char* collective, const std::string& what);

  const int rank_;
  const std::string library_;
  const double timeout_seconds_;
  const Hooks hooks_;
  const std::chrono::steady_clock::duration poll_interval_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> items_;  // in begin() order
  uint64_t next_id_ = 1;
  bool failed_ = false, stop_ = false;
  std::thread thread_;
};

// "rank R: <library> <collective>: <what>".
std::string collective_failure_message(int rank, const std::string& library, const std::string& collective,
                                       const std::string& what);

}  // namespace bert
