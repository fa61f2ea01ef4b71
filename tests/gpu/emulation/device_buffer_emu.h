// Host-memory stand-in for kernels/device_buffer.h in the CPU emulation.
#pragma once
#include <cstring>
#include <vector>
#include "kernels/cuda_check.h"
#include "kernels/gpu_types.h"
#include "kernels/host_device.h"
namespace bert {
template <typename T> class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // Filled with 0xA5 bytes, as unwritten device memory would hold something. memset and memcpy
  // are skipped for 0 elements: an empty vector's data() may be null, which they must not get.
  explicit DeviceBuffer(size_t n) : v_(n) { if (n > 0) std::memset((void*)v_.data(), 0xA5, n * sizeof(T)); }
  T* data() { return v_.data(); }
  const T* data() const { return v_.data(); }
  size_t size() const { return v_.size(); }
  size_t bytes() const { return v_.size() * sizeof(T); }
  void resize(size_t n) { if (n != v_.size()) *this = DeviceBuffer(n); }
  void upload(const T* h, size_t n) { if (n > 0) std::memcpy((void*)v_.data(), h, n * sizeof(T)); }
  void download(T* h, size_t n) const { if (n > 0) std::memcpy(h, v_.data(), n * sizeof(T)); }
  void zero(GpuStream = nullptr) { if (!v_.empty()) std::memset((void*)v_.data(), 0, bytes()); }
 private:
  std::vector<T> v_;
};
}
