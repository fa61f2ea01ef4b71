// AdamW exactly as torch.optim.AdamW (decoupled weight decay, bias correction):
//   g = grad·grad_scale (the global-norm clipping factor)
//   param −= lr·weight_decay·param
//   m = β1·m + (1−β1)·g,  v = β2·v + (1−β2)·g²
//   param −= (lr / (1−β1^step)) · m / (sqrt(v)/sqrt(1−β2^step) + eps)
// Master weights and moments are fp32 (double in the double-precision reference).
// sum_squares gives Σ x² (accumulated in double) for the global gradient norm.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "kernels/host_device.h"

namespace bert {

struct AdamWHyper {
  double learning_rate = 0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0;
  int64_t step = 1;  // 1-based count of updates including this one
};

template <typename T>
void adamw_update_ref(T* param,        // [count]
                      T* exp_avg,      // [count] (m)
                      T* exp_avg_sq,   // [count] (v)
                      const T* grad,   // [count]
                      size_t count, const AdamWHyper& hyper, double grad_scale);

template <typename T>
double sum_squares_ref(const T* values, size_t count);

// torch.nn.utils.clip_grad_norm_'s factor from Σ g²: min(1, max_norm / (sqrt(Σ g²) + 1e-6)),
// and 1 when max_norm <= 0 (clipping off). Shared by the CPU backend and the CUDA kernels.
BERT_HOST_DEVICE double clip_scale_from_sum_squares(double sum_squares, double max_norm) {
  if (!(max_norm > 0)) return 1.0;
  const double coefficient = max_norm / (sqrt(sum_squares) + 1e-6);
  return coefficient < 1.0 ? coefficient : 1.0;
}

// Where the step statistics live in the kF64 tensor the stats-driven launchers below take
// (engine/backend.h's StepStat names the same slots).
struct StepStatsLayout {
  static constexpr int kLossSum = 0, kGradSumSquares = 1, kClipScale = 2, kApplied = 3, kUpdatesDone = 4;
};

}  // namespace bert

// ---------------------------------------------------------------------------------------------
// CUDA launchers (kernels/adamw.cu): fp32 master weights, moments and gradients over one flat
// range; optionally writes the bf16 working copy of the updated weights.
#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

// The gradient is multiplied by grad_scale and, when device_grad_scale is non-null, by
// *device_grad_scale (a clipping factor computed on the device, so no host sync is needed).
void adamw_update_cuda(float* param,                   // [count] fp32 master
                       float* exp_avg,                 // [count]
                       float* exp_avg_sq,              // [count]
                       bf16* param_bf16,               // [count] working copy, or null
                       const float* grad,              // [count]
                       size_t count, const AdamWHyper& hyper, float grad_scale,
                       const float* device_grad_scale,  // [1] or null
                       GpuStream stream);

// Scratch of sum_squares_cuda (fixed: 256 block partials).
size_t sum_squares_workspace_bytes();

// *result = Σ values² accumulated in double with a fixed two-pass reduction (bit-reproducible).
void sum_squares_cuda(double* result,        // [1] device
                      const float* values,   // [count]
                      size_t count, GpuWorkspace workspace, GpuStream stream);

// *scale = clip_scale_from_sum_squares(*sum_squares, max_norm), for adamw_update_cuda's
// device_grad_scale.
void clip_scale_from_sum_squares_cuda(float* scale,              // [1] device
                                      const double* sum_squares,  // [1] device
                                      double max_norm, GpuStream stream);

// ---- step statistics on the device (a double[StepStatsLayout] array; engine/backend.h) ----
// stats[kLossSum] += weight · Σ losses[0..count), summed in double in index order by one thread
// (count is the batch's few sequences).
void step_accumulate_loss_cuda(double* stats, const float* losses, size_t count, double weight,
                               GpuStream stream);
// stats[kGradSumSquares] must already hold Σ g² (sum_squares_cuda(stats + kGradSumSquares, …));
// writes stats[kClipScale] = clip_scale_from_sum_squares(…, max_norm) and stats[kApplied] = 1
// when the loss sum and Σ g² are finite, else 0.
void step_clip_and_flag_cuda(double* stats, double max_norm, GpuStream stream);
// stats[kUpdatesDone] += stats[kApplied].
void step_stats_end_cuda(double* stats, GpuStream stream);
// adamw_update_cuda driven by stats: no effect when stats[kApplied] == 0; otherwise the gradient
// scale is stats[kClipScale] and the bias-correction step stats[kUpdatesDone] + 1 (hyper.step
// is ignored). The scalars are formed (by a one-thread kernel, into `workspace`) with the same
// code adamw_update_cuda runs on the host. The workspace is stream-ordered scratch: one per stream.
size_t adamw_stats_workspace_bytes();
void adamw_update_stats_cuda(float* param, float* exp_avg, float* exp_avg_sq, bf16* param_bf16,
                             const float* grad, size_t count, const AdamWHyper& hyper,
                             const double* stats,  // [StepStatsLayout] device
                             GpuWorkspace workspace, GpuStream stream);

}  // namespace bert
