// RAII device memory: DeviceBuffer<T> owns one cudaMalloc'd array (the CUDA backend's buffers and
// scratch block: engine/cuda/device_memory.h).
// Host-compilable (cuda_runtime_api.h only). For bf16 data in host code use DeviceBuffer<uint16_t>
// and as_bf16() from kernels/gpu_types.h.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "kernels/cuda_check.h"
#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t count) { allocate(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      count_ = std::exchange(other.count_, 0);
    }
    return *this;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }

  // Discards the contents; a no-op when the size already matches.
  void resize(size_t count) {
    if (count == count_) return;
    release();
    allocate(count);
  }
  // Blocking copies (tests, checkpoint IO); the engine uses its own streams for hot paths.
  void upload(const T* host, size_t count) {
    BERT_CHECK(count <= count_, "DeviceBuffer::upload: " + std::to_string(count) +
                                    " elements into a buffer of " + std::to_string(count_));
    if (count > 0) CUDA_CHECK(cudaMemcpy(data_, host, count * sizeof(T), cudaMemcpyHostToDevice));
  }
  void download(T* host, size_t count) const {
    BERT_CHECK(count <= count_, "DeviceBuffer::download: " + std::to_string(count) +
                                    " elements from a buffer of " + std::to_string(count_));
    if (count > 0) CUDA_CHECK(cudaMemcpy(host, data_, count * sizeof(T), cudaMemcpyDeviceToHost));
  }
  void zero(GpuStream stream = nullptr) {
    if (count_ > 0) CUDA_CHECK(cudaMemsetAsync(data_, 0, bytes(), stream));
  }

 private:
  void allocate(size_t count) {
    if (count == 0) return;
    void* pointer = nullptr;
    CUDA_CHECK(cudaMalloc(&pointer, count * sizeof(T)));
    data_ = static_cast<T*>(pointer);
    count_ = count;
  }
  void release() noexcept {
    if (data_ != nullptr) cudaFree(data_);  // never throws from a destructor path
    data_ = nullptr;
    count_ = 0;
  }

  T* data_ = nullptr;
  size_t count_ = 0;
};

}  // namespace bert
