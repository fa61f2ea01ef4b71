#include "comm/collective_watchdog.h"

#include <cstdio>

namespace bert {

std::string stall_message(int rank, const std::string& collective, double timeout_seconds) {
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", timeout_seconds);
  return "rank " + std::to_string(rank) + ": collective " + collective + " did not complete within " +
         seconds + " s (a peer may have died)";
}

CollectiveWatchdog::CollectiveWatchdog(int rank, double timeout_seconds, TimeoutFn on_timeout)
    : rank_(rank), timeout_seconds_(timeout_seconds), on_timeout_(std::move(on_timeout)) {
  if (enabled()) thread_ = std::thread([this] { watch(); });
}

CollectiveWatchdog::~CollectiveWatchdog() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void CollectiveWatchdog::begin(const char* collective) {
  if (!enabled()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    collective_ = collective;
    ++generation_;
    started_ = std::chrono::steady_clock::now();
  }
  changed_.notify_all();
}

void CollectiveWatchdog::end() {
  if (!enabled()) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    collective_ = nullptr;
  }
  changed_.notify_all();
}

void CollectiveWatchdog::watch() {
  // Capped at ~3 years so started_ + timeout cannot overflow the clock's representation.
  const auto timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(timeout_seconds_ < 1e8 ? timeout_seconds_ : 1e8));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    if (collective_ == nullptr) {
      changed_.wait(lock);
      continue;
    }
    const uint64_t watched = generation_;
    const bool moved_on = changed_.wait_until(lock, started_ + timeout, [&] {
      return stop_ || collective_ == nullptr || generation_ != watched;
    });
    if (moved_on) continue;
    const std::string message = stall_message(rank_, collective_, timeout_seconds_);
    collective_ = nullptr;  // report each stalled collective once
    lock.unlock();
    on_timeout_(message);
    lock.lock();
  }
}

}  // namespace bert
