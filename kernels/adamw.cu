// AdamW and gradient-norm kernels (kernels/adamw.h). The update follows the reference's order
// of operations (torch's single-tensor AdamW): decay, lerp of m, v·β2 + (1−β2)·g·g,
// denom = sqrt(v)/sqrt(bc2) + eps, p += −(lr/bc1)·m/denom, with the scalars formed in double on
// the host and rounded to float. Sum of squares: 256 fixed blocks of double partials, then one
// block adds them in a fixed tree order.
#include <cmath>

#include "kernels/adamw.h"
#include "kernels/cuda_common.cuh"

namespace bert {
namespace {

constexpr int kThreads = 256;
constexpr int kSumBlocks = 256;

struct AdamWScalars {
  float decay, lerp_weight, beta2, square_weight, neg_step_size, bias_correction2_sqrt, eps, scale;
  bool decays, small_weight;
};

__global__ void adamw_kernel(float* param, float* exp_avg, float* exp_avg_sq, bf16* param_bf16,
                             const float* grad, size_t count, AdamWScalars s,
                             const float* device_grad_scale) {
  const float scale = device_grad_scale != nullptr ? s.scale * *device_grad_scale : s.scale;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    const float g = grad[i] * scale;
    float p = param[i];
    if (s.decays) p = p * s.decay;
    const float m = exp_avg[i];
    const float new_m =
        s.small_weight ? m + s.lerp_weight * (g - m) : g - (g - m) * (1.0f - s.lerp_weight);
    const float new_v = exp_avg_sq[i] * s.beta2 + s.square_weight * g * g;
    const float denom = sqrtf(new_v) / s.bias_correction2_sqrt + s.eps;
    p = p + s.neg_step_size * new_m / denom;
    param[i] = p;
    exp_avg[i] = new_m;
    exp_avg_sq[i] = new_v;
    if (param_bf16 != nullptr) param_bf16[i] = to_bf16(p);
  }
}

// Tree sum of kThreads doubles in shared memory, fixed order; result in values[0].
__device__ void block_tree_sum(double* values) {
  for (int width = kThreads / 2; width > 0; width >>= 1) {
    __syncthreads();
    if (threadIdx.x < width) values[threadIdx.x] += values[threadIdx.x + width];
  }
  __syncthreads();
}

__global__ void __launch_bounds__(kThreads)
    sum_squares_partial_kernel(double* partial, const float* values, size_t count) {
  __shared__ double sums[kThreads];
  double acc = 0.0;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += stride) {
    const double x = values[i];
    acc += x * x;
  }
  sums[threadIdx.x] = acc;
  block_tree_sum(sums);
  if (threadIdx.x == 0) partial[blockIdx.x] = sums[0];
}

__global__ void __launch_bounds__(kThreads)
    sum_squares_finish_kernel(double* result, const double* partial) {
  __shared__ double sums[kThreads];
  static_assert(kSumBlocks == kThreads, "one partial per thread");
  sums[threadIdx.x] = partial[threadIdx.x];
  block_tree_sum(sums);
  if (threadIdx.x == 0) *result = sums[0];
}

__global__ void clip_scale_kernel(float* scale, const double* sum_squares, double max_norm) {
  const double coefficient = max_norm / (sqrt(*sum_squares) + 1e-6);
  *scale = static_cast<float>(coefficient < 1.0 ? coefficient : 1.0);
}

}  // namespace

void adamw_update_cuda(float* param, float* exp_avg, float* exp_avg_sq, bf16* param_bf16,
                       const float* grad, size_t count, const AdamWHyper& hyper, float grad_scale,
                       const float* device_grad_scale, GpuStream stream) {
  BERT_CHECK(hyper.step >= 1,
             "adamw_update_cuda: step must be >= 1, got " + std::to_string(hyper.step));
  if (count == 0) return;
  const double step = static_cast<double>(hyper.step);
  const double bias_correction1 = 1.0 - std::pow(hyper.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(hyper.beta2, step);
  AdamWScalars s;
  s.decay = static_cast<float>(1.0 - hyper.learning_rate * hyper.weight_decay);
  s.lerp_weight = static_cast<float>(1.0 - hyper.beta1);
  s.beta2 = static_cast<float>(hyper.beta2);
  s.square_weight = static_cast<float>(1.0 - hyper.beta2);
  s.neg_step_size = static_cast<float>(-(hyper.learning_rate / bias_correction1));
  s.bias_correction2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
  s.eps = static_cast<float>(hyper.eps);
  s.scale = grad_scale;
  s.decays = hyper.weight_decay != 0;
  s.small_weight = std::fabs(s.lerp_weight) < 0.5f;
  adamw_kernel<<<elementwise_blocks(count, kThreads), kThreads, 0, stream>>>(
      param, exp_avg, exp_avg_sq, param_bf16, grad, count, s, device_grad_scale);
  CUDA_LAUNCH_CHECK("adamw_kernel");
}

size_t sum_squares_workspace_bytes() { return kSumBlocks * sizeof(double); }

void sum_squares_cuda(double* result, const float* values, size_t count, GpuWorkspace workspace,
                      GpuStream stream) {
  check_workspace(workspace, sum_squares_workspace_bytes(), "sum_squares_cuda");
  double* partial = static_cast<double*>(workspace.data);
  // A fixed grid (not sized from count or the device) keeps the summation order fixed.
  sum_squares_partial_kernel<<<kSumBlocks, kThreads, 0, stream>>>(partial, values, count);
  CUDA_LAUNCH_CHECK("sum_squares_partial_kernel");
  sum_squares_finish_kernel<<<1, kThreads, 0, stream>>>(result, partial);
  CUDA_LAUNCH_CHECK("sum_squares_finish_kernel");
}

void clip_scale_from_sum_squares_cuda(float* scale, const double* sum_squares, double max_norm,
                                      GpuStream stream) {
  clip_scale_kernel<<<1, 1, 0, stream>>>(scale, sum_squares, max_norm);
  CUDA_LAUNCH_CHECK("clip_scale_kernel");
}

}  // namespace bert
