// Page-locked host memory for the CUDA backend's transfers, so copies are truly asynchronous:
// cudaMemcpyAsync from pageable memory may wait for the stream to drain, from pinned memory it
// only queues the copy.
//   PinnedBuffer: one cudaHostAlloc block (RAII).
//   CudaEvent: an event without timing, to know when the device is done with a pinned block.
//   PinnedStagingRing: uploads go host → pinned slot (memcpy or conversion) → cudaMemcpyAsync.
//     Each slot's event, recorded after its copy, guards its reuse; kSlots slots let the host run
//     that many uploads ahead of the device before waiting. Slots grow on demand (geometrically,
//     at least kMinSlotBytes, at most kMaxSlotBytes: larger uploads go in chunks), so after the
//     first step no upload allocates and none waits for the device.
#pragma once

#include <array>
#include <cstddef>

#include "kernels/host_device.h"

struct CUevent_st;

namespace bert {

class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

class CudaEvent {
 public:
  CudaEvent();
  ~CudaEvent();
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  void record(GpuStream stream);
  void wait_host() const;  // blocks until the work recorded before it is done
  // Work queued on `stream` after this call waits for the work recorded before it (a fork or
  // join between streams; the host does not wait).
  void wait_device(GpuStream stream) const;

 private:
  CUevent_st* event_ = nullptr;
};

class PinnedStagingRing {
 public:
  static constexpr size_t kSlots = 8;
  static constexpr size_t kMinSlotBytes = size_t{256} << 10;
  static constexpr size_t kMaxSlotBytes = size_t{4} << 20;

  // A host slot of at least `bytes` (≤ kMaxSlotBytes) the device no longer reads; waits only
  // for that slot's previous copy. Pair each acquire() with one submit().
  void* acquire(size_t bytes);
  // Queues the copy of the acquired slot's first `bytes` to `device` on `stream`.
  void submit(void* device, size_t bytes, GpuStream stream);

  size_t host_allocations() const { return host_allocations_; }  // cudaHostAlloc calls so far

 private:
  struct Slot {
    PinnedBuffer buffer;
    CudaEvent copied;
  };
  std::array<Slot, kSlots> slots_;
  size_t next_ = 0;
  Slot* acquired_ = nullptr;
  size_t host_allocations_ = 0;
};

}  // namespace bert
