// Device side of kernels/dropout_rng.h: the keep flags of four consecutive elements from one
// Philox call (two when the four straddle a group of 4), bit-identical to dropout_keep().
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/dropout_rng.h"

namespace bert {

__device__ __forceinline__ uint32_t pick_philox_word(const PhiloxOut& a, const PhiloxOut& b,
                                                     uint32_t index) {
  // index in [0, 8): words 0..3 from a, 4..7 from b (selects, not a local-memory array).
  const PhiloxOut& source = index < 4 ? a : b;
  const uint32_t word = index & 3;
  return word == 0 ? source.v[0] : word == 1 ? source.v[1] : word == 2 ? source.v[2] : source.v[3];
}

// keep[j] == dropout_keep(spec, first + j) for j = 0..3.
__device__ __forceinline__ void dropout_keep4(const DropoutSpec& spec, uint64_t first,
                                              bool keep[4]) {
  const uint64_t element = first + spec.element_offset;
  const uint64_t group = element >> 2;
  const uint32_t shift = static_cast<uint32_t>(element & 3);
  const PhiloxOut a = philox4x32_10(group, spec.micro_step, spec.site, spec.seed);
  PhiloxOut b = a;
  if (shift != 0) b = philox4x32_10(group + 1, spec.micro_step, spec.site, spec.seed);
#pragma unroll
  for (int j = 0; j < 4; ++j)
    keep[j] = uniform_from_bits(pick_philox_word(a, b, shift + j)) >= spec.probability;
}

// Mask-and-scale factors (0 or 1/(1-p)) of four consecutive elements; all 1 when dropout is off.
__device__ __forceinline__ void dropout_factors4(const DropoutSpec& spec, uint64_t first,
                                                 float factor[4]) {
  if (!(spec.probability > 0.0f)) {
#pragma unroll
    for (int j = 0; j < 4; ++j) factor[j] = 1.0f;
    return;
  }
  bool keep[4];
  dropout_keep4(spec, first, keep);
  const float scale = 1.0f / (1.0f - spec.probability);
#pragma unroll
  for (int j = 0; j < 4; ++j) factor[j] = keep[j] ? scale : 0.0f;
}

// Keep bits (bit j: element first + j) of 16 consecutive attention-dropout elements, bit-identical
// to attention_dropout_keep(): one Philox call when `first + element_offset` is a multiple of 16
// (attention rows start there when max_positions is), two otherwise.
// Keep bits of the 16 elements of Philox call `call` (bit b: byte b >= threshold).
__device__ __forceinline__ uint32_t attention_call_keep_bits(const DropoutSpec& spec, uint64_t call,
                                                             uint32_t threshold) {
  const PhiloxOut bytes = philox4x32_10(call, spec.micro_step, spec.site, spec.seed);
  uint32_t bits = 0;
#pragma unroll
  for (uint32_t b = 0; b < 16; ++b) bits |= (philox_byte(bytes, b) >= threshold ? 1u : 0u) << b;
  return bits;
}

__device__ __forceinline__ uint32_t attention_keep_bits16(const DropoutSpec& spec, uint64_t first) {
  const uint64_t element = first + spec.element_offset;
  const uint32_t threshold = attention_drop_threshold(spec.probability);
  const uint32_t shift = static_cast<uint32_t>(element & 15);
  const uint32_t bits = attention_call_keep_bits(spec, element >> 4, threshold);
  if (shift == 0) return bits;
  const uint32_t next = attention_call_keep_bits(spec, (element >> 4) + 1, threshold);
  return ((bits >> shift) | (next << (16 - shift))) & 0xFFFFu;
}

// Mask-and-scale factors (0 or attention_keep_scale(p)) of four consecutive attention-dropout
// elements; all 1 when dropout is off. The scalar attention kernels' draw.
__device__ __forceinline__ void attention_dropout_factors4(const DropoutSpec& spec, uint64_t first,
                                                           float factor[4]) {
  if (!(spec.probability > 0.0f)) {
#pragma unroll
    for (int j = 0; j < 4; ++j) factor[j] = 1.0f;
    return;
  }
  const uint32_t bits = attention_keep_bits16(spec, first);
  const float scale = attention_keep_scale(spec.probability);
#pragma unroll
  for (int j = 0; j < 4; ++j) factor[j] = (bits >> j) & 1u ? scale : 0.0f;
}

}  // namespace bert
