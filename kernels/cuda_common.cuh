// Device helpers shared by the kernels: bf16 <-> fp32, vector loads (bf16 and fp32 storage),
// warp/block reductions with a fixed order (so results are bit-reproducible run to run),
// launch-size arithmetic (the launches themselves: kernels/kernel_launch.cuh), and the
// workspace check every launcher that borrows scratch memory performs.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "kernels/cuda_check.h"
#include "kernels/gpu_types.h"
#include "kernels/kernel_launch.cuh"

namespace bert {

constexpr unsigned kFullWarpMask = 0xffffffffu;

__device__ __forceinline__ float to_float(bf16 value) { return __bfloat162float(value); }
__device__ __forceinline__ bf16 to_bf16(float value) { return __float2bfloat16_rn(value); }

// Four consecutive bf16 values; the address must be 8-byte aligned.
__device__ __forceinline__ void load_bf16x4(const bf16* source, float out[4]) {
  const uint2 raw = *reinterpret_cast<const uint2*>(source);
  const __nv_bfloat162 lo = *reinterpret_cast<const __nv_bfloat162*>(&raw.x);
  const __nv_bfloat162 hi = *reinterpret_cast<const __nv_bfloat162*>(&raw.y);
  const float2 a = __bfloat1622float2(lo), b = __bfloat1622float2(hi);
  out[0] = a.x;
  out[1] = a.y;
  out[2] = b.x;
  out[3] = b.y;
}

__device__ __forceinline__ void store_bf16x4(bf16* target, const float values[4]) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(values[0], values[1]);
  const __nv_bfloat162 hi = __floats2bfloat162_rn(values[2], values[3]);
  uint2 raw;
  raw.x = *reinterpret_cast<const uint32_t*>(&lo);
  raw.y = *reinterpret_cast<const uint32_t*>(&hi);
  *reinterpret_cast<uint2*>(target) = raw;
}

// The same accessors for fp32 activations (the fp32 compute switch), so a kernel templated on
// its storage type T (bf16 or float) reads and writes through one set of names.
__device__ __forceinline__ float to_float(float value) { return value; }
__device__ __forceinline__ void store_value(bf16* target, float value) { *target = to_bf16(value); }
__device__ __forceinline__ void store_value(float* target, float value) { *target = value; }

__device__ __forceinline__ void load4(const bf16* source, float out[4]) {
  load_bf16x4(source, out);
}
__device__ __forceinline__ void store4(bf16* target, const float values[4]) {
  store_bf16x4(target, values);
}
// Four consecutive floats as two 8-byte loads: the launchers promise 8-byte alignment only.
__device__ __forceinline__ void load4(const float* source, float out[4]) {
  const float2 a = *reinterpret_cast<const float2*>(source);
  const float2 b = *reinterpret_cast<const float2*>(source + 2);
  out[0] = a.x;
  out[1] = a.y;
  out[2] = b.x;
  out[3] = b.y;
}
__device__ __forceinline__ void store4(float* target, const float values[4]) {
  *reinterpret_cast<float2*>(target) = make_float2(values[0], values[1]);
  *reinterpret_cast<float2*>(target + 2) = make_float2(values[2], values[3]);
}

// Eight consecutive values as 16-byte accesses (bf16: one uint4; float: two float4); the address
// must be 16-byte aligned. load_vec/store_vec pick 4 or 8 at compile time.
// The bf16 pairs are copied out of the 16-byte word with memcpy (a register move on the device):
// a pointer cast would break strict aliasing, which the host compiler of the CPU emulation
// exploits.
__device__ __forceinline__ void load8(const bf16* source, float out[8]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(source);
  __nv_bfloat162 pairs[4];
  memcpy(pairs, &raw, sizeof(raw));
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const float2 pair = __bfloat1622float2(pairs[k]);
    out[2 * k] = pair.x;
    out[2 * k + 1] = pair.y;
  }
}
__device__ __forceinline__ void store8(bf16* target, const float values[8]) {
  __nv_bfloat162 pairs[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) pairs[k] = __floats2bfloat162_rn(values[2 * k], values[2 * k + 1]);
  uint4 raw;
  memcpy(&raw, pairs, sizeof(raw));
  *reinterpret_cast<uint4*>(target) = raw;
}
__device__ __forceinline__ void load8(const float* source, float out[8]) {
  const float4 a = *reinterpret_cast<const float4*>(source);
  const float4 b = *reinterpret_cast<const float4*>(source + 4);
  out[0] = a.x;
  out[1] = a.y;
  out[2] = a.z;
  out[3] = a.w;
  out[4] = b.x;
  out[5] = b.y;
  out[6] = b.z;
  out[7] = b.w;
}
__device__ __forceinline__ void store8(float* target, const float values[8]) {
  *reinterpret_cast<float4*>(target) = make_float4(values[0], values[1], values[2], values[3]);
  *reinterpret_cast<float4*>(target + 4) = make_float4(values[4], values[5], values[6], values[7]);
}

template <int kVec, typename T>
__device__ __forceinline__ void load_vec(const T* source, float* out) {
  static_assert(kVec == 4 || kVec == 8, "vector width 4 or 8");
  if constexpr (kVec == 8) load8(source, out);
  else load4(source, out);
}
template <int kVec, typename T>
__device__ __forceinline__ void store_vec(T* target, const float* values) {
  static_assert(kVec == 4 || kVec == 8, "vector width 4 or 8");
  if constexpr (kVec == 8) store8(target, values);
  else store4(target, values);
}

__device__ __forceinline__ float warp_sum(float value) {
  for (int offset = 16; offset > 0; offset >>= 1)
    value += __shfl_xor_sync(kFullWarpMask, value, offset);
  return value;
}

__device__ __forceinline__ float warp_max(float value) {
  for (int offset = 16; offset > 0; offset >>= 1)
    value = fmaxf(value, __shfl_xor_sync(kFullWarpMask, value, offset));
  return value;
}

// Sum over the whole block, returned to every thread. `scratch` holds one float per warp; the
// warps' partials are added in warp order. Must be reached by all threads of the block.
__device__ __forceinline__ float block_sum(float value, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  value = warp_sum(value);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < warps; ++w) total += scratch[w];
  return total;
}

__device__ __forceinline__ float block_max(float value, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = (blockDim.x + 31) >> 5;
  value = warp_max(value);
  __syncthreads();
  if (lane == 0) scratch[warp] = value;
  __syncthreads();
  float result = scratch[0];
  for (int w = 1; w < warps; ++w) result = fmaxf(result, scratch[w]);
  return result;
}

inline int div_up(int a, int b) { return (a + b - 1) / b; }
inline size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

// Grid size for element-wise kernels that stride over `count` items; capped so very large
// tensors loop instead of launching millions of blocks.
inline unsigned elementwise_blocks(size_t items, int threads) {
  const size_t blocks = div_up(items, static_cast<size_t>(threads));
  const size_t cap = 65535u * 8u;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

inline bool is_aligned(const void* pointer, size_t bytes) {
  return reinterpret_cast<uintptr_t>(pointer) % bytes == 0;
}

// Throws when the caller lent less scratch than `needed` bytes.
inline void check_workspace(const GpuWorkspace& workspace, size_t needed, const char* op) {
  BERT_CHECK(needed == 0 || (workspace.data != nullptr && workspace.bytes >= needed),
             std::string(op) + ": workspace of " + std::to_string(workspace.bytes) +
                 " bytes, needs " + std::to_string(needed));
}

// Rounds a byte count up to 256 so consecutive workspace slices stay aligned.
inline size_t align_bytes(size_t bytes) { return (bytes + 255) / 256 * 256; }

// Lets kKernel launch with kBytes of dynamic shared memory, past the 48 KB default. The
// attribute belongs to the function (on the process's one device), so it is set on the first
// launch only, not on every launch of a hot-path kernel.
template <auto kKernel, size_t kBytes>
void allow_dynamic_shared_memory() {
  static const bool allowed = [] {
    CUDA_CHECK(cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(kBytes)));
    return true;
  }();
  (void)allowed;
}

}  // namespace bert
