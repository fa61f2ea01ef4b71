// Bias + activation kernels (kernels/gelu.h), in the reference's order of operations, e.g.
// for erf GELU:
//   forward  y = x·0.5·(1 + erf(x·√½)),  x = pre + bias
//   backward d_pre = dy·(cdf + x·pdf),   d_bias += Σ_rows d_pre (fp32, before rounding d_pre).
// The activation is a template parameter: one kernel per activation, chosen at launch.
// The backward writes d_pre and per-tile d_bias partials in one pass, then adds the partials in
// a fixed order (kernels/column_reduce.cuh), so d_bias is deterministic without atomics.
// Templated on the storage type T (bf16, or float under the fp32 compute switch).
#include <initializer_list>

#include "kernels/column_reduce.cuh"
#include "kernels/cuda_common.cuh"
#include "kernels/gelu.h"

namespace bert {
namespace {

constexpr float kSqrtHalf = 0.70710678118654752440f;
constexpr float kInvSqrtTwoPi = 0.39894228040143267794f;
// Forward: a block is kForwardThreads column vectors × kForwardRows rows; the bias vector is
// loaded once per thread and reused down the rows, and each thread has kForwardRows loads in
// flight. No index division: the grid is two-dimensional.
constexpr int kForwardThreads = 128;
constexpr int kForwardRows = 4;
// Backward: a block is 32 column vectors × kColumnRowGroups row groups over a tile of
// kColumnTileRows rows, writing one d_bias partial per column (the layout of
// column_partial_bytes(), finished by launch_column_partials_finish).
constexpr int kBackwardLanes = 32;
// Rows of a thread whose loads are issued together (kVec = 8: 2 × 2 16-byte loads in flight).
// 2 keeps the bf16 kernel at 80 registers, 3 blocks of 8 warps per SM; 4 rows took 128 (2 blocks).
constexpr int kBackwardBatchRows = 2;

constexpr float kSqrtTwoOverPi = 0.79788456080286535588f;

__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// The formulas of kernels/gelu_ref.cpp, in float.
template <Activation A>
__device__ __forceinline__ float activation_value(float x) {
  if constexpr (A == Activation::kGeluErf) {
    return x * 0.5f * (1.0f + erff(x * kSqrtHalf));
  } else if constexpr (A == Activation::kGeluTanh) {
    return 0.5f * x * (1.0f + tanhf(kSqrtTwoOverPi * (x + 0.044715f * (x * x * x))));
  } else if constexpr (A == Activation::kQuickGelu) {
    return x * sigmoid(1.702f * x);
  } else if constexpr (A == Activation::kRelu) {
    return x > 0.0f ? x : 0.0f;
  } else {
    return x * sigmoid(x);
  }
}

template <Activation A>
__device__ __forceinline__ float activation_derivative(float x) {
  if constexpr (A == Activation::kGeluErf) {
    const float cdf = 0.5f * (1.0f + erff(x * kSqrtHalf));
    const float pdf = expf(-0.5f * x * x) * kInvSqrtTwoPi;
    return cdf + x * pdf;
  } else if constexpr (A == Activation::kGeluTanh) {
    const float t = tanhf(kSqrtTwoOverPi * (x + 0.044715f * (x * x * x)));
    return 0.5f * (1.0f + t) +
           0.5f * x * (1.0f - t * t) * kSqrtTwoOverPi * (1.0f + 0.134145f * x * x);
  } else if constexpr (A == Activation::kQuickGelu) {
    const float s = sigmoid(1.702f * x);
    return s + 1.702f * x * s * (1.0f - s);
  } else if constexpr (A == Activation::kRelu) {
    return x > 0.0f ? 1.0f : 0.0f;
  } else {
    const float s = sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
  }
}

// kVec consecutive values: 16-byte accesses for 8, scalar for 1 (odd widths or alignment).
template <int kVec, typename T>
__device__ __forceinline__ void load_n(const T* source, float* out) {
  if constexpr (kVec == 1) out[0] = to_float(*source);
  else load_vec<kVec>(source, out);
}
template <int kVec, typename T>
__device__ __forceinline__ void store_n(T* target, const float* values) {
  if constexpr (kVec == 1) store_value(target, values[0]);
  else store_vec<kVec>(target, values);
}

template <int kVec, Activation A, typename T>
__global__ void __launch_bounds__(kForwardThreads)
    bias_activation_forward_kernel(T* out, const T* pre, const T* bias, int rows, int width) {
  grid_dependency_sync();
  const int col = (blockIdx.y * kForwardThreads + threadIdx.x) * kVec;
  if (col >= width) return;
  float b[kVec];
  load_n<kVec>(bias + col, b);
  const int row0 = blockIdx.x * kForwardRows;
  float x[kForwardRows][kVec];
#pragma unroll
  for (int k = 0; k < kForwardRows; ++k)
    if (row0 + k < rows) load_n<kVec>(pre + static_cast<size_t>(row0 + k) * width + col, x[k]);
#pragma unroll
  for (int k = 0; k < kForwardRows; ++k) {
    if (row0 + k >= rows) break;
    float y[kVec];
#pragma unroll
    for (int j = 0; j < kVec; ++j) y[j] = activation_value<A>(x[k][j] + b[j]);
    store_n<kVec>(out + static_cast<size_t>(row0 + k) * width + col, y);
  }
}

// Writes d_pre = dy·f'(pre + bias) and the tile's d_bias partial (fp32, before rounding).
template <int kVec, Activation A, typename T>
__global__ void __launch_bounds__(kBackwardLanes* kColumnRowGroups)
    bias_activation_backward_kernel(T* d_pre, float* partial, const T* d_out, const T* pre,
                                    const T* bias, int rows, int width) {
  grid_dependency_sync();
  __shared__ float sums[kColumnRowGroups][kBackwardLanes * kVec];
  const int lane = threadIdx.x, group = threadIdx.y;
  const int col = (blockIdx.y * kBackwardLanes + lane) * kVec;
  const int row0 = blockIdx.x * kColumnTileRows;
  float acc[kVec];
#pragma unroll
  for (int j = 0; j < kVec; ++j) acc[j] = 0.0f;
  if (col < width) {
    float b[kVec];
    load_n<kVec>(bias + col, b);
    constexpr int kRowsPerGroup = kColumnTileRows / kColumnRowGroups;
    static_assert(kRowsPerGroup % kBackwardBatchRows == 0, "whole batches of rows");
    for (int k0 = 0; k0 < kRowsPerGroup; k0 += kBackwardBatchRows) {
      // The batch's loads first, all in flight together: a load placed after a d_pre store
      // would wait for it (the compiler cannot rule out aliasing), and the erf/exp work of a
      // row would otherwise sit between one row's loads and the next.
      float dy[kBackwardBatchRows][kVec], x[kBackwardBatchRows][kVec];
#pragma unroll
      for (int r = 0; r < kBackwardBatchRows; ++r) {
        const int row = row0 + group + (k0 + r) * kColumnRowGroups;
        if (row >= rows) continue;
        const size_t index = static_cast<size_t>(row) * width + col;
        load_n<kVec>(d_out + index, dy[r]);
        load_n<kVec>(pre + index, x[r]);
      }
      // Then the rows in order, as before: the same sums in the same order.
#pragma unroll
      for (int r = 0; r < kBackwardBatchRows; ++r) {
        const int row = row0 + group + (k0 + r) * kColumnRowGroups;
        if (row >= rows) continue;
        float grad[kVec];
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
          grad[j] = dy[r][j] * activation_derivative<A>(x[r][j] + b[j]);
          acc[j] += grad[j];
        }
        store_n<kVec>(d_pre + static_cast<size_t>(row) * width + col, grad);
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kVec; ++j) sums[group][lane * kVec + j] = acc[j];
  __syncthreads();
  // The row groups' sums in group order, one column per thread.
  for (int c = group * kBackwardLanes + lane; c < kBackwardLanes * kVec;
       c += kBackwardLanes * kColumnRowGroups) {
    const int target = blockIdx.y * kBackwardLanes * kVec + c;
    if (target >= width) continue;
    float total = 0.0f;
#pragma unroll
    for (int g = 0; g < kColumnRowGroups; ++g) total += sums[g][c];
    partial[static_cast<size_t>(blockIdx.x) * width + target] = total;
  }
}

void check_shape(int rows, int width, const char* op) {
  BERT_CHECK(rows >= 0 && width > 0, std::string(op) + ": rows " + std::to_string(rows) +
                                         ", width " + std::to_string(width));
}

// 8 (16-byte accesses) when the width and every pointer allow it, else 1.
int vector_width(int width, std::initializer_list<const void*> pointers) {
  bool wide = width % 8 == 0;
  for (const void* pointer : pointers) wide = wide && is_aligned(pointer, 16);
  return wide ? 8 : 1;
}

template <int kVec, Activation A, typename T>
void launch_forward(T* out, const T* pre, const T* bias, int rows, int width, cudaStream_t stream) {
  // Row groups on x (no 65535 limit), column blocks on y.
  const dim3 grid(div_up(rows, kForwardRows), div_up(div_up(width, kVec), kForwardThreads));
  launch_kernel(bias_activation_forward_kernel<kVec, A, T>, grid, kForwardThreads, 0, stream, out,
                pre, bias, rows, width);
  CUDA_LAUNCH_CHECK("bias_activation_forward_kernel");
}

template <int kVec, Activation A, typename T>
void launch_backward(T* d_pre, float* partial, const T* d_out, const T* pre, const T* bias,
                     int rows, int width, cudaStream_t stream) {
  // Row tiles on x (no 65535 limit), column blocks on y, as in launch_column_sum.
  const dim3 grid(column_row_tiles(rows), div_up(div_up(width, kVec), kBackwardLanes));
  launch_kernel(bias_activation_backward_kernel<kVec, A, T>, grid,
                dim3(kBackwardLanes, kColumnRowGroups), 0, stream, d_pre, partial, d_out, pre, bias,
                rows, width);
  CUDA_LAUNCH_CHECK("bias_activation_backward_kernel");
}

template <typename T>
void bias_activation_forward(Activation act, T* out, const T* pre, const T* bias, int rows,
                             int width, GpuStream stream) {
  check_shape(rows, width, "bias_activation_forward_cuda");
  if (rows == 0) return;
  const bool wide = vector_width(width, {out, pre, bias}) == 8;
  with_activation(act, [&](auto a) {
    if (wide)
      launch_forward<8, decltype(a)::value>(out, pre, bias, rows, width, stream);
    else
      launch_forward<1, decltype(a)::value>(out, pre, bias, rows, width, stream);
  });
}

template <typename T>
void bias_activation_backward(Activation act, T* d_pre, float* d_bias, const T* d_out, const T* pre,
                              const T* bias, int rows, int width, GpuWorkspace workspace,
                              GpuStream stream) {
  check_shape(rows, width, "bias_activation_backward_cuda");
  if (rows == 0) return;
  check_workspace(workspace, bias_gelu_backward_workspace_bytes(rows, width),
                  "bias_activation_backward_cuda");
  float* partial = static_cast<float*>(workspace.data);
  const bool wide = vector_width(width, {d_pre, d_out, pre, bias}) == 8;
  with_activation(act, [&](auto a) {
    if (wide)
      launch_backward<8, decltype(a)::value>(d_pre, partial, d_out, pre, bias, rows, width, stream);
    else
      launch_backward<1, decltype(a)::value>(d_pre, partial, d_out, pre, bias, rows, width, stream);
  });
  launch_column_partials_finish(d_bias, partial, column_row_tiles(rows), width,
                                static_cast<size_t>(width), stream);
}

}  // namespace

void bias_activation_forward_cuda(Activation act, bf16* out, const bf16* pre, const bf16* bias,
                                  int rows, int width, GpuStream stream) {
  bias_activation_forward(act, out, pre, bias, rows, width, stream);
}
void bias_activation_forward_cuda(Activation act, float* out, const float* pre, const float* bias,
                                  int rows, int width, GpuStream stream) {
  bias_activation_forward(act, out, pre, bias, rows, width, stream);
}
void bias_activation_backward_cuda(Activation act, bf16* d_pre, float* d_bias, const bf16* d_out,
                                   const bf16* pre, const bf16* bias, int rows, int width,
                                   GpuWorkspace workspace, GpuStream stream) {
  bias_activation_backward(act, d_pre, d_bias, d_out, pre, bias, rows, width, workspace, stream);
}
void bias_activation_backward_cuda(Activation act, float* d_pre, float* d_bias, const float* d_out,
                                   const float* pre, const float* bias, int rows, int width,
                                   GpuWorkspace workspace, GpuStream stream) {
  bias_activation_backward(act, d_pre, d_bias, d_out, pre, bias, rows, width, workspace, stream);
}

size_t bias_gelu_backward_workspace_bytes(int rows, int width) {
  return column_partial_bytes(rows, width);
}

}  // namespace bert
