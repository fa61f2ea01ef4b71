#include "engine/cuda/device_memory.h"

#include <cuda_runtime_api.h>

#include <iterator>
#include <string>
#include <utility>

#include "kernels/cuda_check.h"

namespace bert {

void* DeviceMemory::allocate(size_t bytes, GpuStream stream) {
  // Never a zero-byte buffer, so every tensor has a distinct non-null address.
  DeviceBuffer<unsigned char> buffer(bytes == 0 ? 1 : bytes);
  ++allocations_;
  CUDA_CHECK(cudaMemsetAsync(buffer.data(), 0, buffer.size(), stream));
  void* data = buffer.data();
  extents_[reinterpret_cast<uintptr_t>(data)] = buffer.size();
  bytes_held_ += buffer.size();
  buffers_.push_back(std::move(buffer));
  return data;
}

size_t DeviceMemory::capacity_elements(const void* pointer, size_t element_size) const {
  const uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  auto after = extents_.upper_bound(address);
  if (after == extents_.begin()) return 0;
  const auto& [start, bytes] = *std::prev(after);
  if (address >= start + bytes) return 0;
  return (start + bytes - address) / element_size;
}

GpuWorkspace DeviceMemory::scratch(size_t bytes, GpuStream stream) {
  if (bytes > scratch_.size()) {
    // Kernels queued earlier may still read the old block; cudaFree must not pull it from them.
    CUDA_CHECK(cudaStreamSynchronize(stream));
    scratch_.resize(0);
    scratch_.resize(bytes);
    ++allocations_;
  }
  return GpuWorkspace{scratch_.data(), scratch_.size()};
}

}  // namespace bert
