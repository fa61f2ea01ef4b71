// RAII device memory: DeviceBuffer<T> owns one cudaMalloc'd array; DeviceArena owns one block and
// hands out aligned slices (activations, saved tensors, op workspaces) until reset().
// Host-compilable (cuda_runtime_api.h only). For bf16 data in host code use DeviceBuffer<uint16_t>
// and as_bf16() from kernels/gpu_types.h.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
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

// Bump allocator over one device block. Slices are 256-byte aligned (what cuBLASLt and vector
// loads like); allocate() throws when the block is exhausted instead of growing, so the caller's
// sizing stays explicit.
class DeviceArena {
 public:
  static constexpr size_t kAlignment = 256;

  DeviceArena() = default;
  explicit DeviceArena(size_t bytes) : block_(bytes) {}

  void* allocate(size_t bytes) {
    const size_t start = (used_ + kAlignment - 1) / kAlignment * kAlignment;
    BERT_CHECK(start + bytes <= block_.size(),
               "DeviceArena: " + std::to_string(bytes) + " bytes requested, " +
                   std::to_string(block_.size() - std::min(start, block_.size())) + " of " +
                   std::to_string(block_.size()) + " left");
    used_ = start + bytes;
    return block_.data() + start;
  }
  template <typename T>
  T* allocate_array(size_t count) {
    return static_cast<T*>(allocate(count * sizeof(T)));
  }
  GpuWorkspace workspace(size_t bytes) { return GpuWorkspace{allocate(bytes), bytes}; }
  void reset() { used_ = 0; }
  size_t used() const { return used_; }
  size_t capacity() const { return block_.size(); }

 private:
  DeviceBuffer<unsigned char> block_;
  size_t used_ = 0;
};

}  // namespace bert
