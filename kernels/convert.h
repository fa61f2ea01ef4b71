// fp32 <-> bf16 conversion on the device: uploads of fp32 host data to bf16 activations or
// weights, the bf16 working copy of fp32 master weights, and downloads for checks.
// f32 -> bf16 rounds to nearest even; bf16 -> f32 is exact. CUDA only (kernels/convert.cu).
#pragma once

#include <cstddef>

#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

void convert_f32_to_bf16_cuda(bf16* out,         // [count]
                              const float* inp,  // [count]
                              size_t count, GpuStream stream);

void convert_bf16_to_f32_cuda(float* out,       // [count]
                              const bf16* inp,  // [count]
                              size_t count, GpuStream stream);

}  // namespace bert
