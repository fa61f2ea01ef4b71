// GPU test helpers (tests/gpu/gpu_test_util.h).
#include "tests/gpu/gpu_test_util.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace bert::test {

uint16_t float_to_bf16_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u);  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);                 // round to nearest, ties to even
  return static_cast<uint16_t>(bits >> 16);
}

float bf16_bits_to_float(uint16_t bits) {
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

std::vector<float> random_floats(size_t count, float low, float high, std::mt19937& rng) {
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(rng);
  return values;
}

std::vector<float> random_bf16_values(size_t count, float low, float high, std::mt19937& rng) {
  std::vector<float> values = random_floats(count, low, high, rng);
  for (float& value : values) value = round_bf16(value);
  return values;
}

DeviceBf16::DeviceBf16(const std::vector<float>& values) : bits_(values.size()) { upload(values); }

void DeviceBf16::upload(const std::vector<float>& values) {
  std::vector<uint16_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i) bits[i] = float_to_bf16_bits(values[i]);
  bits_.upload(bits.data(), bits.size());
}

std::vector<float> DeviceBf16::download() const {
  std::vector<uint16_t> bits(bits_.size());
  bits_.download(bits.data(), bits.size());
  std::vector<float> values(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) values[i] = bf16_bits_to_float(bits[i]);
  return values;
}

void sync_device() { CUDA_CHECK(cudaDeviceSynchronize()); }

void require_close(const std::string& name, const std::vector<float>& got,
                   const std::vector<float>& ref, double rtol, double atol_fraction,
                   double atol_floor) {
  REQUIRE(got.size() == ref.size());
  REQUIRE_CLOSE(name, within(got, ref, Tolerance{rtol, atol_fraction, atol_floor}));
}

}  // namespace bert::test
