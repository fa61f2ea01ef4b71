// Second pass of the deterministic column sums (kernels/column_reduce.cuh).
#include "kernels/column_reduce.cuh"

namespace bert {
namespace {

constexpr int kFinishColumns = 32;  // blockDim.x; blockDim.y = kColumnFinishGroups

// Group g (threadIdx.y) adds tiles g, g + groups, ... in order; the groups' sums are then added
// in group order. Neither depends on the device or the launch, so the result is reproducible.
__global__ void column_partials_finish_kernel(float* out_lo, float* out_hi, const float* partial,
                                              int tiles, int split, int width, size_t stride) {
  grid_dependency_sync();
  __shared__ float group_sums[kColumnFinishGroups][kFinishColumns];
  const int col = blockIdx.x * kFinishColumns + threadIdx.x;
  float sum = 0.0f;
  if (col < width) {
#pragma unroll 4
    for (int t = threadIdx.y; t < tiles; t += kColumnFinishGroups)
      sum += partial[static_cast<size_t>(t) * stride + col];
  }
  group_sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y != 0 || col >= width) return;
  float total = 0.0f;
#pragma unroll
  for (int g = 0; g < kColumnFinishGroups; ++g) total += group_sums[g][threadIdx.x];
  if (col < split)
    out_lo[col] += total;
  else
    out_hi[col - split] += total;
}

}  // namespace

void launch_column_partials_finish_split(float* out_lo, float* out_hi, const float* partial,
                                         int tiles, int split, int width, size_t stride,
                                         cudaStream_t stream) {
  if (width <= 0) return;
  launch_kernel(column_partials_finish_kernel, div_up(width, kFinishColumns),
                dim3(kFinishColumns, kColumnFinishGroups), 0, stream, out_lo, out_hi, partial,
                tiles, split, width, stride);
  CUDA_LAUNCH_CHECK("column_partials_finish_kernel");
}

void launch_column_partials_finish(float* out, const float* partial, int tiles, int width,
                                   size_t stride, cudaStream_t stream) {
  launch_column_partials_finish_split(out, nullptr, partial, tiles, width, width, stride, stream);
}

}  // namespace bert
