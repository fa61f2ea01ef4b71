// Deterministic column sums (bias and LayerNorm-parameter gradients):
//   out[c] += Σ_r value(r, c)
// in two passes with no atomics. Pass 1: a block (blockIdx.x the row tile, blockIdx.y the column
// block) owns a tile of 64 rows × 64 columns and writes one partial per column to
// partial[row_tile][c]; pass 2 adds the partials in row-tile order.
// The tiling is fixed (not derived from the device), so the sum is bit-reproducible.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "kernels/cuda_common.cuh"

namespace bert {

constexpr int kColumnTileCols = 64;  // two columns per lane
constexpr int kColumnTileRows = 64;  // rows folded into one partial
constexpr int kColumnRowGroups = 8;  // blockDim.y: row groups striding the tile

inline int column_row_tiles(int rows) { return div_up(rows, kColumnTileRows); }
inline size_t column_partial_bytes(int rows, int width) {
  return static_cast<size_t>(column_row_tiles(rows)) * width * sizeof(float);
}

// ElementOp: `__device__ float operator()(int row, int col) const`, called exactly once per
// element (it may also write an element-wise output, as bias+GELU backward does).
template <typename ElementOp>
__global__ void column_partials_kernel(float* partial,  // [row_tiles, width]
                                       int rows, int width, ElementOp op) {
  grid_dependency_sync();
  __shared__ float sums[kColumnRowGroups][kColumnTileCols];
  const int lane = threadIdx.x, group = threadIdx.y;
  const int col0 = blockIdx.y * kColumnTileCols + lane;
  const int row0 = blockIdx.x * kColumnTileRows;
  float acc0 = 0.0f, acc1 = 0.0f;
  for (int i = group; i < kColumnTileRows; i += kColumnRowGroups) {
    const int row = row0 + i;
    if (row >= rows) break;
    if (col0 < width) acc0 += op(row, col0);
    if (col0 + 32 < width) acc1 += op(row, col0 + 32);
  }
  sums[group][lane] = acc0;
  sums[group][lane + 32] = acc1;
  __syncthreads();
  const int flat = threadIdx.y * 32 + threadIdx.x;
  if (flat < kColumnTileCols) {
    const int col = blockIdx.y * kColumnTileCols + flat;
    float total = 0.0f;
#pragma unroll
    for (int g = 0; g < kColumnRowGroups; ++g) total += sums[g][flat];
    if (col < width) partial[static_cast<size_t>(blockIdx.x) * width + col] = total;
  }
}

// out[c] += Σ_t partial[t·stride + c] (kernels/column_reduce.cu). The tiles are split over
// kColumnFinishGroups strided groups summed in parallel, then the groups in order: a fixed
// order, so still bit-reproducible, with a serial chain of tiles/16 loads instead of tiles.
constexpr int kColumnFinishGroups = 16;
void launch_column_partials_finish(float* out,            // [width]
                                   const float* partial,  // [tiles, stride]
                                   int tiles, int width, size_t stride, cudaStream_t stream);
// The same over `width` columns of which the first `split` go to out_lo[c] and the rest to
// out_hi[c - split]: two parameter gradients whose partials share one row of `partial`.
void launch_column_partials_finish_split(float* out_lo, float* out_hi, const float* partial,
                                         int tiles, int split, int width, size_t stride,
                                         cudaStream_t stream);

// Launches both passes; `partial` needs column_partial_bytes(rows, width).
template <typename ElementOp>
void launch_column_sum(float* out, int rows, int width, ElementOp op, float* partial,
                       cudaStream_t stream, const char* name) {
  if (rows <= 0 || width <= 0) return;
  const int tiles = column_row_tiles(rows);
  // Row tiles on x: y is limited to 65535 (4.2 M rows), x to 2³¹ − 1.
  const dim3 grid(tiles, div_up(width, kColumnTileCols));
  launch_kernel(column_partials_kernel<ElementOp>, grid, dim3(32, kColumnRowGroups), 0, stream,
                partial, rows, width, op);
  CUDA_LAUNCH_CHECK(name);
  launch_column_partials_finish(out, partial, tiles, width, static_cast<size_t>(width), stream);
}

}  // namespace bert
