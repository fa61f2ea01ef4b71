// Turns a stalled collective into an error instead of a hang. A collective blocks until every
// rank has joined; when a peer has died without the launcher noticing (a lost node, a rank
// stuck in I/O, a rank that skipped a call) the others would wait forever. The communicator
// marks the start and end of each collective (a heartbeat); a background thread sleeps until
// the running collective's deadline and, if it is still the same collective then, calls
// on_timeout with "rank R: collective X did not complete within T s (a peer may have died)".
// The MPI communicator prints that line and calls MPI_Abort, which ends every rank.
//
// MPI-free so it can be tested alone. Only one collective runs at a time (the main thread
// makes every call); begin/end are a mutex and a notify, negligible next to a collective.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace bert {

// "rank R: collective X did not complete within T s (a peer may have died)".
std::string stall_message(int rank, const std::string& collective, double timeout_seconds);

class CollectiveWatchdog {
 public:
  using TimeoutFn = std::function<void(const std::string& message)>;

  // timeout_seconds <= 0 disables the watchdog (no thread is started). on_timeout runs on the
  // watchdog thread, at most once per collective; it normally does not return.
  CollectiveWatchdog(int rank, double timeout_seconds, TimeoutFn on_timeout);
  ~CollectiveWatchdog();
  CollectiveWatchdog(const CollectiveWatchdog&) = delete;
  CollectiveWatchdog& operator=(const CollectiveWatchdog&) = delete;

  void begin(const char* collective);  // `collective` must outlive the call (a literal)
  void end();
  bool enabled() const { return timeout_seconds_ > 0; }
  double timeout_seconds() const { return timeout_seconds_; }

  // Marks one collective for its scope.
  class Scope {
   public:
    Scope(CollectiveWatchdog& watchdog, const char* collective) : watchdog_(watchdog) {
      watchdog_.begin(collective);
    }
    ~Scope() { watchdog_.end(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    CollectiveWatchdog& watchdog_;
  };

 private:
  void watch();

  const int rank_;
  const double timeout_seconds_;
  const TimeoutFn on_timeout_;
  std::mutex mutex_;
  std::condition_variable changed_;
  const char* collective_ = nullptr;  // the running collective, null when none
  uint64_t generation_ = 0;           // increments with every begin()
  std::chrono::steady_clock::time_point started_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace bert
