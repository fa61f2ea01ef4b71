// Support of bench_kernels.cu (its only includer): random device inputs from a per-element hash,
// a non-finite check of outputs, the CUDA-event timer (median and minimum of repeated runs, L2
// evicted before each), and packed batches of window lengths (cu_seqlens, positions, ΣL²).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "apps/flags.h"
#include "core/error.h"
#include "kernels/cuda_check.h"
#include "kernels/device_buffer.h"

namespace bert::bench {

constexpr int kMaxPositions = 512;                 // bert-base's position table
constexpr size_t kFlushBytes = size_t{256} << 20;  // > the H100/H200 L2 (50 MB)

// ---- device-side random fill (a hash per element, so no host transfer of large inputs) ------
// The kernels are static: every .cu of bench_kernels that includes this header gets its own copy.
__device__ __forceinline__ float hash_uniform(uint64_t seed, size_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}
static __global__ void fill_bf16_kernel(bf16* out, size_t count, float low, float high, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < count;
       i += size_t{gridDim.x} * blockDim.x)
    out[i] = __float2bfloat16_rn(low + (high - low) * hash_uniform(seed, i));
}
static __global__ void fill_f32_kernel(float* out, size_t count, float low, float high, uint64_t seed) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < count;
       i += size_t{gridDim.x} * blockDim.x)
    out[i] = low + (high - low) * hash_uniform(seed, i);
}
static __global__ void count_nonfinite_kernel(const bf16* values, size_t count, unsigned long long* result) {
  unsigned long long local = 0;
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < count;
       i += size_t{gridDim.x} * blockDim.x)
    local += !isfinite(__bfloat162float(values[i]));
  if (local) atomicAdd(result, local);
}

inline uint64_t g_fill_seed = 1;
inline void fill(DeviceBuffer<bf16>& buffer, float low, float high) {
  fill_bf16_kernel<<<1024, 256>>>(buffer.data(), buffer.size(), low, high, g_fill_seed++);
  CUDA_LAUNCH_CHECK("fill_bf16_kernel");
}
inline void fill(DeviceBuffer<float>& buffer, float low, float high) {
  fill_f32_kernel<<<1024, 256>>>(buffer.data(), buffer.size(), low, high, g_fill_seed++);
  CUDA_LAUNCH_CHECK("fill_f32_kernel");
}
template <typename T>
DeviceBuffer<T> random_buffer(size_t count, float low, float high) {
  DeviceBuffer<T> buffer(count);
  fill(buffer, low, high);
  return buffer;
}
// Non-finite outputs mean a broken kernel; the timing of such a kernel is meaningless.
inline void require_finite(const DeviceBuffer<bf16>& buffer, const std::string& what) {
  DeviceBuffer<unsigned long long> count(1);
  count.zero();
  count_nonfinite_kernel<<<1024, 256>>>(buffer.data(), buffer.size(), count.data());
  CUDA_LAUNCH_CHECK("count_nonfinite_kernel");
  unsigned long long host = 0;
  count.download(&host, 1);
  if (host != 0)
    throw BertError("bench_kernels: " + what + " holds " + std::to_string(host) + " non-finite values");
}

// ---- timing ---------------------------------------------------------------------------------
class Timer {
 public:
  Timer(int warmup, int repeats, bool flush_l2) : warmup_(warmup), repeats_(repeats) {
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreate(&start_));
    CUDA_CHECK(cudaEventCreate(&stop_));
    if (flush_l2) flush_.resize(kFlushBytes);
  }
  ~Timer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
    cudaStreamDestroy(stream_);
  }
  GpuStream stream() const { return stream_; }

  // Median and minimum in microseconds of launch() over the repeats.
  std::pair<double, double> time(const std::function<void()>& launch) {
    CUDA_CHECK(cudaDeviceSynchronize());  // the fills run on the legacy stream
    for (int i = 0; i < warmup_; ++i) launch();
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    std::vector<double> samples;
    for (int i = 0; i < repeats_; ++i) {
      if (flush_.size() > 0) CUDA_CHECK(cudaMemsetAsync(flush_.data(), i & 0xff, flush_.bytes(), stream_));
      CUDA_CHECK(cudaEventRecord(start_, stream_));
      launch();
      CUDA_CHECK(cudaEventRecord(stop_, stream_));
      CUDA_CHECK(cudaEventSynchronize(stop_));
      float ms = 0;
      CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
      samples.push_back(1e3 * ms);
    }
    std::sort(samples.begin(), samples.end());
    const size_t n = samples.size();
    const double median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
    return {median, samples.front()};
  }

 private:
  int warmup_ = 0, repeats_ = 0;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  DeviceBuffer<unsigned char> flush_;
};

struct Batch {
  std::string label;
  std::vector<int32_t> lengths, cu_seqlens, positions;
  int tokens = 0;
  double sum_squared_lengths = 0;
};

inline Batch make_batch(const std::string& label, std::vector<int32_t> lengths) {
  Batch batch;
  batch.label = label;
  batch.lengths = std::move(lengths);
  batch.cu_seqlens.push_back(0);
  for (const int32_t length : batch.lengths) {
    if (length < 1 || length > kMaxPositions)
      throw FlagError("--lengths: every length must lie in [1, 512], got " + std::to_string(length));
    batch.cu_seqlens.push_back(batch.cu_seqlens.back() + length);
    for (int32_t p = 0; p < length; ++p) batch.positions.push_back(p);
    batch.sum_squared_lengths += double(length) * length;
  }
  batch.tokens = batch.cu_seqlens.back();
  return batch;
}

inline std::vector<int32_t> squad_like_lengths(int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> draw(std::log(164.0), 0.376);
  std::vector<int32_t> lengths;
  for (int i = 0; i < count; ++i)
    lengths.push_back(static_cast<int32_t>(std::clamp(std::lround(draw(rng)), 32L, 384L)));
  return lengths;
}

inline std::vector<int32_t> parse_lengths(const std::string& text) {
  std::vector<int32_t> lengths;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    try {
      lengths.push_back(std::stoi(item));
    } catch (const std::exception&) {
      throw FlagError("--lengths: expected comma-separated integers, got '" + item + "'");
    }
  }
  if (lengths.empty()) throw FlagError("--lengths: no lengths given");
  return lengths;
}

// An attention head layout: `heads` heads of `head_dim` (hidden = heads·head_dim).
struct AttentionHeads {
  int heads = 0, head_dim = 0;
};

// "12x64,12x32" → {{12, 64}, {12, 32}}; head_dim must be one the kernels are built for.
inline std::vector<AttentionHeads> parse_attention_heads(const std::string& text) {
  std::vector<AttentionHeads> shapes;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    AttentionHeads shape;
    char separator = 0, rest = 0;
    if (std::sscanf(item.c_str(), "%d%c%d%c", &shape.heads, &separator, &shape.head_dim, &rest) != 3 ||
        separator != 'x' || shape.heads < 1 || (shape.head_dim != 32 && shape.head_dim != 64))
      throw FlagError("--attention_heads: expected HEADSxHEAD_DIM with HEAD_DIM 32 or 64 (e.g. "
                      "12x64,12x32), got '" + item + "'");
    shapes.push_back(shape);
  }
  if (shapes.empty()) throw FlagError("--attention_heads: no shapes given");
  return shapes;
}

}  // namespace bert::bench
