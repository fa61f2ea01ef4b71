#include "engine/cuda/pinned_host.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <string>
#include <utility>

#include "core/error.h"
#include "kernels/cuda_check.h"

namespace bert {

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) {
  CUDA_CHECK(cudaHostAlloc(&data_, bytes, cudaHostAllocDefault));
}

PinnedBuffer::~PinnedBuffer() {
  if (data_ != nullptr) cudaFreeHost(data_);  // never throws from a destructor
}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFreeHost(data_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

CudaEvent::CudaEvent() { CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming)); }

CudaEvent::~CudaEvent() {
  if (event_ != nullptr) cudaEventDestroy(event_);
}

void CudaEvent::record(GpuStream stream) { CUDA_CHECK(cudaEventRecord(event_, stream)); }

// An event never recorded counts as complete.
void CudaEvent::wait_host() const { CUDA_CHECK(cudaEventSynchronize(event_)); }

void CudaEvent::wait_device(GpuStream stream) const { CUDA_CHECK(cudaStreamWaitEvent(stream, event_, 0)); }

void* PinnedStagingRing::acquire(size_t bytes) {
  BERT_CHECK(acquired_ == nullptr, "pinned staging: acquire() twice without submit()");
  BERT_CHECK(bytes <= kMaxSlotBytes, "pinned staging: " + std::to_string(bytes) + " bytes exceed a slot (" +
                                         std::to_string(kMaxSlotBytes) + ")");
  Slot& slot = slots_[next_];
  next_ = (next_ + 1) % kSlots;
  slot.copied.wait_host();
  if (slot.buffer.bytes() < bytes) {
    // Growing happens in the first steps only: sizes double, so a slot grows a few times at most.
    const size_t grown = std::min(kMaxSlotBytes, std::max({bytes, kMinSlotBytes, 2 * slot.buffer.bytes()}));
    slot.buffer = PinnedBuffer(grown);
    ++host_allocations_;
  }
  acquired_ = &slot;
  return slot.buffer.data();
}

void PinnedStagingRing::submit(void* device, size_t bytes, GpuStream stream) {
  BERT_CHECK(acquired_ != nullptr, "pinned staging: submit() without acquire()");
  Slot& slot = *acquired_;
  acquired_ = nullptr;
  CUDA_CHECK(cudaMemcpyAsync(device, slot.buffer.data(), bytes, cudaMemcpyHostToDevice, stream));
  slot.copied.record(stream);
}

}  // namespace bert
