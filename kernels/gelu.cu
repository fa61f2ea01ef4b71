// Bias + erf-GELU kernels (kernels/gelu.h), in the reference's order of operations:
//   forward  y = x·0.5·(1 + erf(x·√½)),  x = pre + bias
//   backward d_pre = dy·(cdf + x·pdf),   d_bias += Σ_rows d_pre (fp32, before rounding d_pre).
// The backward is one pass of the deterministic column sum (kernels/column_reduce.cuh) whose
// element op also writes d_pre. Templated on the storage type T (bf16, or float under the fp32
// compute switch).
#include "kernels/column_reduce.cuh"
#include "kernels/cuda_common.cuh"
#include "kernels/gelu.h"

namespace bert {
namespace {

constexpr int kThreads = 256;
constexpr float kSqrtHalf = 0.70710678118654752440f;
constexpr float kInvSqrtTwoPi = 0.39894228040143267794f;

__device__ __forceinline__ float gelu(float x) { return x * 0.5f * (1.0f + erff(x * kSqrtHalf)); }

__device__ __forceinline__ float gelu_derivative(float x) {
  const float cdf = 0.5f * (1.0f + erff(x * kSqrtHalf));
  const float pdf = expf(-0.5f * x * x) * kInvSqrtTwoPi;
  return cdf + x * pdf;
}

template <typename T>
__global__ void bias_gelu_forward_kernel(T* out, const T* pre, const T* bias, size_t count,
                                         int width) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    const int col = static_cast<int>(i % width);
    store_value(out + i, gelu(to_float(pre[i]) + to_float(bias[col])));
  }
}

// Element op of the d_bias column sum: writes d_pre, returns it unrounded.
template <typename T>
struct GeluBackwardOp {
  T* d_pre;
  const T* d_out;
  const T* pre;
  const T* bias;
  int width;
  __device__ float operator()(int row, int col) const {
    const size_t index = static_cast<size_t>(row) * width + col;
    const float x = to_float(pre[index]) + to_float(bias[col]);
    const float grad = to_float(d_out[index]) * gelu_derivative(x);
    store_value(d_pre + index, grad);
    return grad;
  }
};

template <typename T>
void bias_gelu_forward(T* out, const T* pre, const T* bias, int rows, int width, GpuStream stream) {
  BERT_CHECK(rows >= 0 && width > 0, "bias_gelu_forward_cuda: rows " + std::to_string(rows) +
                                         ", width " + std::to_string(width));
  const size_t count = static_cast<size_t>(rows) * width;
  if (count == 0) return;
  bias_gelu_forward_kernel<T>
      <<<elementwise_blocks(count, kThreads), kThreads, 0, stream>>>(out, pre, bias, count, width);
  CUDA_LAUNCH_CHECK("bias_gelu_forward_kernel");
}

template <typename T>
void bias_gelu_backward(T* d_pre, float* d_bias, const T* d_out, const T* pre, const T* bias,
                        int rows, int width, GpuWorkspace workspace, GpuStream stream) {
  BERT_CHECK(rows >= 0 && width > 0, "bias_gelu_backward_cuda: rows " + std::to_string(rows) +
                                         ", width " + std::to_string(width));
  if (rows == 0) return;
  check_workspace(workspace, bias_gelu_backward_workspace_bytes(rows, width),
                  "bias_gelu_backward_cuda");
  const GeluBackwardOp<T> op{d_pre, d_out, pre, bias, width};
  launch_column_sum(d_bias, rows, width, op, static_cast<float*>(workspace.data), stream,
                    "bias_gelu_backward_kernel");
}

}  // namespace

void bias_gelu_forward_cuda(bf16* out, const bf16* pre, const bf16* bias, int rows, int width,
                            GpuStream stream) {
  bias_gelu_forward(out, pre, bias, rows, width, stream);
}
void bias_gelu_forward_cuda(float* out, const float* pre, const float* bias, int rows, int width,
                            GpuStream stream) {
  bias_gelu_forward(out, pre, bias, rows, width, stream);
}

size_t bias_gelu_backward_workspace_bytes(int rows, int width) {
  return column_partial_bytes(rows, width);
}

void bias_gelu_backward_cuda(bf16* d_pre, float* d_bias, const bf16* d_out, const bf16* pre,
                             const bf16* bias, int rows, int width, GpuWorkspace workspace,
                             GpuStream stream) {
  bias_gelu_backward(d_pre, d_bias, d_out, pre, bias, rows, width, workspace, stream);
}
void bias_gelu_backward_cuda(float* d_pre, float* d_bias, const float* d_out, const float* pre,
                             const float* bias, int rows, int width, GpuWorkspace workspace,
                             GpuStream stream) {
  bias_gelu_backward(d_pre, d_bias, d_out, pre, bias, rows, width, workspace, stream);
}

}  // namespace bert
