// A device buffer's values on the host as floats (bf16 widened exactly): what the benchmarks
// compare when they check one kernel's output against another's before timing it.
#pragma once

#include <cuda_bf16.h>

#include <vector>

#include "kernels/device_buffer.h"

namespace bert::bench {

inline std::vector<float> download_floats(const DeviceBuffer<bf16>& buffer) {
  std::vector<bf16> raw(buffer.size());
  buffer.download(raw.data(), raw.size());
  std::vector<float> values(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) values[i] = __bfloat162float(raw[i]);
  return values;
}

inline std::vector<float> download_floats(const DeviceBuffer<float>& buffer) {
  std::vector<float> values(buffer.size());
  buffer.download(values.data(), values.size());
  return values;
}

}  // namespace bert::bench
