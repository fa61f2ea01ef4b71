#include "engine/cuda/device_memory.h"

#include <cuda_runtime_api.h>

#include <iterator>
#include <string>
#include <utility>

#include "core/error.h"
#include "kernels/cuda_check.h"

namespace bert {

void DeviceMemory::FreeDevice::operator()(void* data) const noexcept { cudaFree(data); }

void* DeviceMemory::allocate(size_t bytes, GpuStream stream) {
  void* data = try_allocate(bytes, stream);
  if (data == nullptr)
    throw BertError("cuda backend: out of device memory allocating " + std::to_string(bytes) + " bytes");
  return data;
}

void* DeviceMemory::try_allocate(size_t bytes, GpuStream stream) {
  // Never a zero-byte buffer, so every tensor has a distinct non-null address.
  const size_t size = bytes == 0 ? 1 : bytes;
  void* data = nullptr;
  const cudaError_t status = cudaMalloc(&data, size);
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // clears the error so later calls do not report it again
    return nullptr;
  }
  CUDA_CHECK(status);
  std::unique_ptr<void, FreeDevice> owner(data);
  buffers_.push_back(std::move(owner));
  ++allocations_;
  CUDA_CHECK(cudaMemsetAsync(data, 0, size, stream));
  extents_[reinterpret_cast<uintptr_t>(data)] = size;
  bytes_held_ += size;
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
