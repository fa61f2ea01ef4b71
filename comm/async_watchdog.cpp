#include "comm/async_watchdog.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

namespace bert {

std::string collective_failure_message(int rank, const std::string& library, const std::string& collective,
                                       const std::string& what) {
  return "rank " + std::to_string(rank) + ": " + library + " " + collective + ": " + what;
}

namespace {

// Fine enough that a 0.2 s test deadline is met closely; an event query costs about a microsecond.
std::chrono::steady_clock::duration poll_interval_for(double timeout_seconds) {
  const double seconds = timeout_seconds > 0 ? std::clamp(timeout_seconds / 8, 0.001, 0.02) : 0.02;
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

AsyncCollectiveWatchdog::AsyncCollectiveWatchdog(int rank, std::string library, double timeout_seconds, Hooks hooks)
    : rank_(rank),
      library_(std::move(library)),
      timeout_seconds_(timeout_seconds),
      hooks_(std::move(hooks)),
      poll_interval_(poll_interval_for(timeout_seconds)) {
  thread_ = std::thread([this] { watch(); });
}

AsyncCollectiveWatchdog::~AsyncCollectiveWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

uint64_t AsyncCollectiveWatchdog::begin(const char* collective) {
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = next_id_++;
    items_.push_back({id, collective, std::chrono::steady_clock::now(), nullptr});
  }
  changed_.notify_all();
  return id;
}

void AsyncCollectiveWatchdog::enqueued(uint64_t id, void* token) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Item& item : items_)
    if (item.id == id) item.token = token;
}

void AsyncCollectiveWatchdog::end(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    items_.erase(std::remove_if(items_.begin(), items_.end(), [id](const Item& item) { return item.id == id; }),
                 items_.end());
  }
  changed_.notify_all();
}

size_t AsyncCollectiveWatchdog::outstanding() {
  std::lock_guard<std::mutex> lock(mutex_);
  return items_.size();
}

bool AsyncCollectiveWatchdog::failed() {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_;
}

bool AsyncCollectiveWatchdog::wait_idle() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return items_.empty() || failed_ || stop_; });
  return items_.empty();
}

void AsyncCollectiveWatchdog::fail(std::unique_lock<std::mutex>& lock, const char* collective,
                                   const std::string& what) {
  failed_ = true;
  const std::string message = collective_failure_message(rank_, library_, collective, what);
  lock.unlock();
  changed_.notify_all();  // wait_idle() returns
  if (hooks_.on_failure) hooks_.on_failure(message);
  lock.lock();
}

void AsyncCollectiveWatchdog::watch() {
  if (hooks_.on_thread_start) hooks_.on_thread_start();
  const auto timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(timeout_seconds_ < 1e8 ? timeout_seconds_ : 1e8));
  std::vector<std::pair<uint64_t, void*>> polled, done;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    if (items_.empty() || failed_) {
      changed_.wait(lock);
      continue;
    }
    // Query outside the lock: the main thread keeps enqueueing meanwhile.
    polled.clear();
    for (const Item& item : items_)
      if (item.token != nullptr) polled.emplace_back(item.id, item.token);
    lock.unlock();
    done.clear();
    for (const auto& entry : polled)
      if (hooks_.is_done(entry.second)) done.push_back(entry);
    const std::string error = hooks_.async_error ? hooks_.async_error() : std::string();
    lock.lock();
    for (const auto& entry : done) {
      items_.erase(std::remove_if(items_.begin(), items_.end(),
                                  [&](const Item& item) { return item.id == entry.first; }),
                   items_.end());
      if (hooks_.release) hooks_.release(entry.second);
    }
    if (!done.empty()) changed_.notify_all();
    if (!error.empty()) {
      // An asynchronous error belongs to the communicator, not to one call: name the oldest.
      fail(lock, items_.empty() ? "communicator" : items_.front().collective, error);
      continue;
    }
    if (items_.empty()) continue;
    if (timeout_seconds_ > 0 && std::chrono::steady_clock::now() - items_.front().started > timeout) {
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%g", timeout_seconds_);
      fail(lock, items_.front().collective,
           std::string("did not complete within ") + seconds + " s (a peer may have died)");
      continue;
    }
    changed_.wait_for(lock, poll_interval_, [this] { return stop_; });
  }
}

}  // namespace bert
