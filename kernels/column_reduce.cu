// Second pass of the deterministic column sums (kernels/column_reduce.cuh).
#include "kernels/column_reduce.cuh"

namespace bert {
namespace {

__global__ void column_partials_finish_kernel(float* out, const float* partial, int tiles,
                                              int width, size_t stride) {
  const int col = blockIdx.x * blockDim.x + threadIdx.x;
  if (col >= width) return;
  float total = 0.0f;
  for (int t = 0; t < tiles; ++t) total += partial[t * stride + col];
  out[col] += total;
}

}  // namespace

void launch_column_partials_finish(float* out, const float* partial, int tiles, int width,
                                   size_t stride, cudaStream_t stream) {
  if (width <= 0) return;
  column_partials_finish_kernel<<<div_up(width, 256), 256, 0, stream>>>(out, partial, tiles, width,
                                                                        stride);
  CUDA_LAUNCH_CHECK("column_partials_finish_kernel");
}

}  // namespace bert
