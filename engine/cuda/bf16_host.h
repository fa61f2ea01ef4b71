// bf16 on the host, as 16-bit patterns: uploads round fp32 to bf16 here (nearest, ties to even,
// like __float2bfloat16_rn) so no device staging buffer is needed, and downloads widen exactly.
#pragma once

#include <cstdint>
#include <cstring>

namespace bert {

inline uint16_t bf16_bits_from_float(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

inline float float_from_bf16_bits(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

}  // namespace bert
