// fp32 <-> bf16 conversion kernels (kernels/convert.h). Grid-stride, one element per step:
// conversion is bandwidth-bound and these run outside the training step's hot loop.
#include "kernels/convert.h"
#include "kernels/cuda_common.cuh"

namespace bert {
namespace {

constexpr int kThreads = 256;

__global__ void f32_to_bf16_kernel(bf16* out, const float* inp, size_t count) {
  grid_dependency_sync();
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride)
    out[i] = to_bf16(inp[i]);
}

__global__ void bf16_to_f32_kernel(float* out, const bf16* inp, size_t count) {
  grid_dependency_sync();
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride)
    out[i] = to_float(inp[i]);
}

}  // namespace

void convert_f32_to_bf16_cuda(bf16* out, const float* inp, size_t count, GpuStream stream) {
  if (count == 0) return;
  launch_kernel(f32_to_bf16_kernel, elementwise_blocks(count, kThreads), kThreads, 0, stream, out,
                inp, count);
  CUDA_LAUNCH_CHECK("f32_to_bf16_kernel");
}

void convert_bf16_to_f32_cuda(float* out, const bf16* inp, size_t count, GpuStream stream) {
  if (count == 0) return;
  launch_kernel(bf16_to_f32_kernel, elementwise_blocks(count, kThreads), kThreads, 0, stream, out,
                inp, count);
  CUDA_LAUNCH_CHECK("bf16_to_f32_kernel");
}

}  // namespace bert
