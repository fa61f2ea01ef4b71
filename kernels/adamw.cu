// AdamW and gradient-norm kernels (kernels/adamw.h). The update follows the reference's order
// of operations (torch's single-tensor AdamW): decay, lerp of m, v·β2 + (1−β2)·g·g,
// denom = sqrt(v)/sqrt(bc2) + eps, p += −(lr/bc1)·m/denom, with the scalars formed in double
// (on the host, or by a one-thread kernel from the device step count for the stats-driven
// update) and rounded to float. Sum of squares: 1024 fixed blocks of double partials over float4 loads, then
// one block adds them in a fixed order. Step statistics: single-thread kernels on a few doubles.
#include <cmath>
#include <cstdint>

#include "kernels/adamw.h"
#include "kernels/cuda_common.cuh"

namespace bert {
namespace {

constexpr int kThreads = 256;
// Fixed (not sized from the count or the device) so the summation order never changes: 4 per
// thread of the finishing block. 1024 × 256 threads with two float4 loads each keep enough
// bytes in flight to stream at memory bandwidth.
constexpr int kSumBlocks = 4 * kThreads;

struct AdamWScalars {
  float decay, lerp_weight, beta2, square_weight, neg_step_size, bias_correction2_sqrt, eps, scale;
  bool decays, small_weight;
};

// The float scalars of one update, formed in double and rounded to float as torch does for a
// float tensor. Runs on the host (adamw_update_cuda) and on the device (the stats-driven
// kernel, from the device step count) with the same code.
__host__ __device__ AdamWScalars adamw_scalars(const AdamWHyper& hyper, double step, double grad_scale) {
  const double bias_correction1 = 1.0 - pow(hyper.beta1, step);
  const double bias_correction2 = 1.0 - pow(hyper.beta2, step);
  AdamWScalars s;
  s.decay = static_cast<float>(1.0 - hyper.learning_rate * hyper.weight_decay);
  s.lerp_weight = static_cast<float>(1.0 - hyper.beta1);
  s.beta2 = static_cast<float>(hyper.beta2);
  s.square_weight = static_cast<float>(1.0 - hyper.beta2);
  s.neg_step_size = static_cast<float>(-(hyper.learning_rate / bias_correction1));
  s.bias_correction2_sqrt = static_cast<float>(sqrt(bias_correction2));
  s.eps = static_cast<float>(hyper.eps);
  s.scale = static_cast<float>(grad_scale);
  s.decays = hyper.weight_decay != 0;
  s.small_weight = fabsf(s.lerp_weight) < 0.5f;
  return s;
}

__device__ __forceinline__ void adamw_element(size_t i, float* param, float* exp_avg, float* exp_avg_sq,
                                              bf16* param_bf16, const float* grad, const AdamWScalars& s,
                                              float scale) {
  const float g = grad[i] * scale;
  float p = param[i];
  if (s.decays) p = p * s.decay;
  const float m = exp_avg[i];
  const float new_m = s.small_weight ? m + s.lerp_weight * (g - m) : g - (g - m) * (1.0f - s.lerp_weight);
  const float new_v = exp_avg_sq[i] * s.beta2 + s.square_weight * g * g;
  const float denom = sqrtf(new_v) / s.bias_correction2_sqrt + s.eps;
  p = p + s.neg_step_size * new_m / denom;
  param[i] = p;
  exp_avg[i] = new_m;
  exp_avg_sq[i] = new_v;
  if (param_bf16 != nullptr) param_bf16[i] = to_bf16(p);
}

__global__ void adamw_kernel(float* param, float* exp_avg, float* exp_avg_sq, bf16* param_bf16,
                             const float* grad, size_t count, AdamWScalars s,
                             const float* device_grad_scale) {
  grid_dependency_sync();
  const float scale = device_grad_scale != nullptr ? s.scale * *device_grad_scale : s.scale;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count; i += stride)
    adamw_element(i, param, exp_avg, exp_avg_sq, param_bf16, grad, s, scale);
}

// One thread forms the update's scalars from the device step count and clip factor; the update
// kernel then only loads them (forming them per block or per thread costs 6-11% of the
// bandwidth-bound update on an H100).
__global__ void adamw_stats_scalars_kernel(AdamWScalars* scalars, AdamWHyper hyper, const double* stats) {
  grid_dependency_sync();
  if (stats[StepStatsLayout::kApplied] == 0.0) return;
  *scalars = adamw_scalars(hyper, stats[StepStatsLayout::kUpdatesDone] + 1.0, stats[StepStatsLayout::kClipScale]);
}

__global__ void adamw_stats_kernel(float* param, float* exp_avg, float* exp_avg_sq, bf16* param_bf16,
                                   const float* grad, size_t count, const AdamWScalars* scalars,
                                   const double* stats) {
  grid_dependency_sync();
  // A skipped step (non-finite loss or gradient) leaves weights, decay and moments untouched.
  if (stats[StepStatsLayout::kApplied] == 0.0) return;
  const AdamWScalars s = *scalars;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count; i += stride)
    adamw_element(i, param, exp_avg, exp_avg_sq, param_bf16, grad, s, s.scale);
}

// Tree sum of kThreads doubles in shared memory, fixed order; result in values[0].
__device__ void block_tree_sum(double* values) {
  for (int width = kThreads / 2; width > 0; width >>= 1) {
    __syncthreads();
    if (threadIdx.x < width) values[threadIdx.x] += values[threadIdx.x + width];
  }
  __syncthreads();
}

__device__ __forceinline__ double sum_of_squares4(const float4 v) {
  const double x = v.x, y = v.y, z = v.z, w = v.w;
  return (x * x + y * y) + (z * z + w * w);
}

// Block partials of Σ x². The 16-byte aligned body is read as float4 (two independent loads per
// iteration); the up to 3 elements before it and after it go to the first threads. Which thread
// adds which element depends only on count and the pointer's alignment: reproducible.
__global__ void __launch_bounds__(kThreads)
    sum_squares_partial_kernel(double* partial, const float* values, size_t count) {
  grid_dependency_sync();
  __shared__ double sums[kThreads];
  const size_t misaligned = (reinterpret_cast<uintptr_t>(values) / sizeof(float)) % 4;
  const size_t head = misaligned == 0 ? 0 : (4 - misaligned < count ? 4 - misaligned : count);
  const size_t vectors = (count - head) / 4;
  const size_t tail_begin = head + vectors * 4;
  const float4* body = reinterpret_cast<const float4*>(values + head);
  const size_t thread = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  double acc0 = 0.0, acc1 = 0.0;
  size_t i = thread;
  for (; i + stride < vectors; i += 2 * stride) {
    const float4 a = body[i], b = body[i + stride];
    acc0 += sum_of_squares4(a);
    acc1 += sum_of_squares4(b);
  }
  if (i < vectors) acc0 += sum_of_squares4(body[i]);
  if (thread < head) {
    const double x = values[thread];
    acc0 += x * x;
  }
  if (thread < count - tail_begin) {
    const double x = values[tail_begin + thread];
    acc1 += x * x;
  }
  sums[threadIdx.x] = acc0 + acc1;
  block_tree_sum(sums);
  if (threadIdx.x == 0) partial[blockIdx.x] = sums[0];
}

__global__ void __launch_bounds__(kThreads)
    sum_squares_finish_kernel(double* result, const double* partial) {
  grid_dependency_sync();
  __shared__ double sums[kThreads];
  static_assert(kSumBlocks == 4 * kThreads, "four partials per thread");
  const double* mine = partial + 4 * threadIdx.x;
  sums[threadIdx.x] = (mine[0] + mine[1]) + (mine[2] + mine[3]);
  block_tree_sum(sums);
  if (threadIdx.x == 0) *result = sums[0];
}

__global__ void clip_scale_kernel(float* scale, const double* sum_squares, double max_norm) {
  grid_dependency_sync();
  *scale = static_cast<float>(clip_scale_from_sum_squares(*sum_squares, max_norm));
}

// x − x is 0 exactly for finite x and NaN for ±inf and NaN (no fast-math in these kernels).
__device__ __forceinline__ bool finite_value(double x) { return x - x == 0.0; }

__global__ void step_accumulate_loss_kernel(double* stats, const float* losses, size_t count, double weight) {
  grid_dependency_sync();
  double sum = 0.0;
  for (size_t i = 0; i < count; ++i) sum += static_cast<double>(losses[i]);
  stats[StepStatsLayout::kLossSum] += weight * sum;
}

__global__ void step_clip_and_flag_kernel(double* stats, double max_norm) {
  grid_dependency_sync();
  const double sum_squares = stats[StepStatsLayout::kGradSumSquares];
  stats[StepStatsLayout::kClipScale] = clip_scale_from_sum_squares(sum_squares, max_norm);
  stats[StepStatsLayout::kApplied] =
      finite_value(stats[StepStatsLayout::kLossSum]) && finite_value(sum_squares) ? 1.0 : 0.0;
}

__global__ void step_stats_end_kernel(double* stats) {
  grid_dependency_sync();
  stats[StepStatsLayout::kUpdatesDone] += stats[StepStatsLayout::kApplied];
}

}  // namespace

void adamw_update_cuda(float* param, float* exp_avg, float* exp_avg_sq, bf16* param_bf16,
                       const float* grad, size_t count, const AdamWHyper& hyper, float grad_scale,
                       const float* device_grad_scale, GpuStream stream) {
  BERT_CHECK(hyper.step >= 1,
             "adamw_update_cuda: step must be >= 1, got " + std::to_string(hyper.step));
  if (count == 0) return;
  const AdamWScalars s = adamw_scalars(hyper, static_cast<double>(hyper.step), grad_scale);
  launch_kernel(adamw_kernel, elementwise_blocks(count, kThreads), kThreads, 0, stream, param,
                exp_avg, exp_avg_sq, param_bf16, grad, count, s, device_grad_scale);
  CUDA_LAUNCH_CHECK("adamw_kernel");
}

size_t adamw_stats_workspace_bytes() { return sizeof(AdamWScalars); }

void adamw_update_stats_cuda(float* param, float* exp_avg, float* exp_avg_sq, bf16* param_bf16,
                             const float* grad, size_t count, const AdamWHyper& hyper,
                             const double* stats, GpuWorkspace workspace, GpuStream stream) {
  check_workspace(workspace, adamw_stats_workspace_bytes(), "adamw_update_stats_cuda");
  if (count == 0) return;
  AdamWScalars* scalars = static_cast<AdamWScalars*>(workspace.data);
  launch_kernel(adamw_stats_scalars_kernel, 1, 1, 0, stream, scalars, hyper, stats);
  CUDA_LAUNCH_CHECK("adamw_stats_scalars_kernel");
  launch_kernel(adamw_stats_kernel, elementwise_blocks(count, kThreads), kThreads, 0, stream, param,
                exp_avg, exp_avg_sq, param_bf16, grad, count, scalars, stats);
  CUDA_LAUNCH_CHECK("adamw_stats_kernel");
}

size_t sum_squares_workspace_bytes() { return kSumBlocks * sizeof(double); }

void sum_squares_cuda(double* result, const float* values, size_t count, GpuWorkspace workspace,
                      GpuStream stream) {
  check_workspace(workspace, sum_squares_workspace_bytes(), "sum_squares_cuda");
  double* partial = static_cast<double*>(workspace.data);
  // A fixed grid (not sized from count or the device) keeps the summation order fixed.
  launch_kernel(sum_squares_partial_kernel, kSumBlocks, kThreads, 0, stream, partial, values,
                count);
  CUDA_LAUNCH_CHECK("sum_squares_partial_kernel");
  launch_kernel(sum_squares_finish_kernel, 1, kThreads, 0, stream, result, partial);
  CUDA_LAUNCH_CHECK("sum_squares_finish_kernel");
}

void clip_scale_from_sum_squares_cuda(float* scale, const double* sum_squares, double max_norm,
                                      GpuStream stream) {
  launch_kernel(clip_scale_kernel, 1, 1, 0, stream, scale, sum_squares, max_norm);
  CUDA_LAUNCH_CHECK("clip_scale_kernel");
}

void step_accumulate_loss_cuda(double* stats, const float* losses, size_t count, double weight,
                               GpuStream stream) {
  launch_kernel(step_accumulate_loss_kernel, 1, 1, 0, stream, stats, losses, count, weight);
  CUDA_LAUNCH_CHECK("step_accumulate_loss_kernel");
}

void step_clip_and_flag_cuda(double* stats, double max_norm, GpuStream stream) {
  launch_kernel(step_clip_and_flag_kernel, 1, 1, 0, stream, stats, max_norm);
  CUDA_LAUNCH_CHECK("step_clip_and_flag_kernel");
}

void step_stats_end_cuda(double* stats, GpuStream stream) {
  launch_kernel(step_stats_end_kernel, 1, 1, 0, stream, stats);
  CUDA_LAUNCH_CHECK("step_stats_end_kernel");
}

}  // namespace bert
