// Helpers of the GPU tests: host bf16 rounding (round to nearest even, as __float2bfloat16_rn),
// random inputs that are exactly representable in bf16 (so the CPU reference and the kernel see
// the same values), uploads/downloads, and the closeness check (tests/tolerance.h's rule).
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/device_buffer.h"
#include "kernels/gpu_types.h"
#include "tests/test_support.h"
#include "tests/tolerance.h"

namespace bert::test {

uint16_t float_to_bf16_bits(float value);
float bf16_bits_to_float(uint16_t bits);
inline float round_bf16(float value) { return bf16_bits_to_float(float_to_bf16_bits(value)); }

// Uniform values in [low, high), rounded to bf16.
std::vector<float> random_bf16_values(size_t count, float low, float high, std::mt19937& rng);
std::vector<float> random_floats(size_t count, float low, float high, std::mt19937& rng);

// A bf16 device tensor made from host values (rounded on the way).
class DeviceBf16 {
 public:
  DeviceBf16() = default;
  explicit DeviceBf16(size_t count) : bits_(count) {}
  explicit DeviceBf16(const std::vector<float>& values);
  bf16* get() { return as_bf16(bits_.data()); }
  const bf16* get() const { return as_bf16(bits_.data()); }
  size_t size() const { return bits_.size(); }
  std::vector<float> download() const;
  void upload(const std::vector<float>& values);

 private:
  DeviceBuffer<uint16_t> bits_;
};

template <typename T>
DeviceBuffer<T> to_device(const std::vector<T>& values) {
  DeviceBuffer<T> buffer(values.size());
  buffer.upload(values.data(), values.size());
  return buffer;
}

template <typename T>
std::vector<T> to_host(const DeviceBuffer<T>& buffer) {
  std::vector<T> values(buffer.size());
  buffer.download(values.data(), values.size());
  return values;
}

// Blocks until the device is idle, surfacing asynchronous kernel faults in the test.
void sync_device();

// REQUIREs `got` within Tolerance{rtol, atol_fraction, atol_floor} of `ref` (tests/tolerance.h).
void require_close(const std::string& name, const std::vector<float>& got,
                   const std::vector<float>& ref, double rtol, double atol_fraction,
                   double atol_floor = 1e-6);

// Absolute tolerance of Adam's first moment per element after `steps` updates with the same
// scaled gradient g from m0. m = β1·m + (1−β1)·g is rounded in fp32 at the size of its terms,
// |β1·m| + |(1−β1)·g|, which cancel: |m| can be far smaller, so a tolerance relative to |m|
// fails by rounding alone (FMA contraction on the device, none on the host). Each step adds
// `ulps` fp32 roundings of that size; earlier errors decay by β1.
inline std::vector<double> exp_avg_atol(std::vector<double> m, const std::vector<double>& g, double beta1,
                                        int steps, double ulps) {
  const double unit = ulps * std::ldexp(1.0, -24);
  std::vector<double> atol(m.size(), 0.0);
  for (int step = 0; step < steps; ++step)
    for (size_t i = 0; i < m.size(); ++i) {
      atol[i] = beta1 * atol[i] + unit * (std::fabs(beta1 * m[i]) + std::fabs((1 - beta1) * g[i]));
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    }
  return atol;
}

}  // namespace bert::test
