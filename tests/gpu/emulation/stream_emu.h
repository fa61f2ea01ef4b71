// Deferred streams of the CPU emulation (emu.h, runtime_emu.cpp). The emulation runs work on
// an ordinary stream at once, in call order; a deferred stream (runtime_emu.cpp makes every
// stream created at the lowest priority one: the CUDA backend's side stream) keeps
// its launches, copies and memsets queued and runs them, in order, only when something waits
// for them: an event recorded on it and waited on (cudaStreamWaitEvent, cudaEventSynchronize),
// cudaStreamSynchronize of it, cudaDeviceSynchronize or its destruction. That is the latest a
// GPU could run them, so main-stream work that needs the side work's results without waiting
// for them sees the old values on every run, instead of by chance of the GPU's scheduling.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <vector>

namespace emu {

struct DeferredStream {
  std::vector<std::function<void()>> work;
  size_t done = 0;  // work[0, done) has run
  // Runs the queued work up to (not including) position `until`.
  void run_until(size_t until) {
    while (done < until && done < work.size()) {
      std::function<void()> next = std::move(work[done]);
      ++done;
      next();
    }
  }
  void run_all() { run_until(work.size()); }
};

// Every deferred stream by its handle.
inline std::map<const void*, DeferredStream>& deferred_streams() {
  static std::map<const void*, DeferredStream> streams;
  return streams;
}

// The deferred stream behind a handle, or null for a stream whose work runs at once.
inline DeferredStream* deferred_stream(const void* stream) {
  std::map<const void*, DeferredStream>& streams = deferred_streams();
  const auto found = streams.find(stream);
  return found == streams.end() ? nullptr : &found->second;
}

// Runs `work` now, or queues it when `stream` is deferred.
inline void run_on(const void* stream, std::function<void()> work) {
  if (DeferredStream* deferred = deferred_stream(stream)) {
    deferred->work.push_back(std::move(work));
  } else {
    work();
  }
}

inline void run_all_deferred() {
  for (auto& entry : deferred_streams()) entry.second.run_all();
}

}  // namespace emu
