// Every device allocation a CudaBackend makes: the buffers handed out by Backend::allocate()
// (zero-filled, freed with the backend) and one scratch block lent to the kernels that need a
// workspace (embedding sort, column reductions, attention row sums, backward temporaries).
//
// Scratch is sized from the capacity of the buffers an op is given (capacity_elements(): the
// model allocates its activations once for its largest batch and passes row slices of them),
// so the first backward pass sizes it for every later batch; it grows only when a request
// exceeds it (the stream is synchronised first, so no kernel still reads the old block).
// allocations() counts every cudaMalloc: after the first training step it must not move.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "kernels/device_buffer.h"
#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

class DeviceMemory {
 public:
  // `bytes` of zeroed device memory (the memset is ordered on `stream`), owned until destruction.
  void* allocate(size_t bytes, GpuStream stream);
  // The same, but null when the device is out of memory (the runtime's error state is cleared,
  // so the caller can report it and go on); other failures throw.
  void* try_allocate(size_t bytes, GpuStream stream);
  // Elements of `element_size` bytes from `pointer` to the end of the allocation holding it;
  // 0 when the pointer is not inside a buffer of this object.
  size_t capacity_elements(const void* pointer, size_t element_size) const;
  // At least `bytes` of scratch, valid until the next scratch() call (stream-ordered reuse).
  GpuWorkspace scratch(size_t bytes, GpuStream stream);

  size_t allocations() const { return allocations_; }
  size_t scratch_bytes() const { return scratch_.size(); }  // the high-water mark
  size_t bytes_held() const { return bytes_held_ + scratch_.size(); }

 private:
  struct FreeDevice {
    void operator()(void* data) const noexcept;
  };
  std::vector<std::unique_ptr<void, FreeDevice>> buffers_;
  std::map<uintptr_t, size_t> extents_;  // start address -> bytes, for capacity_elements()
  DeviceBuffer<unsigned char> scratch_;
  size_t allocations_ = 0;
  size_t bytes_held_ = 0;
};

}  // namespace bert
