// AdamW exactly as torch.optim.AdamW (decoupled weight decay, bias correction):
//   g = grad·grad_scale (the global-norm clipping factor)
//   param −= lr·weight_decay·param
//   m = β1·m + (1−β1)·g,  v = β2·v + (1−β2)·g²
//   param −= (lr / (1−β1^step)) · m / (sqrt(v)/sqrt(1−β2^step) + eps)
// Master weights and moments are fp32 (double in the double-precision reference).
// sum_squares gives Σ x² (accumulated in double) for the global gradient norm.
#pragma once

#include <cstddef>
#include <cstdint>

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

// *scale = min(1, max_norm / (sqrt(*sum_squares) + 1e-6)), torch.nn.utils.clip_grad_norm_'s
// factor, for adamw_update_cuda's device_grad_scale.
void clip_scale_from_sum_squares_cuda(float* scale,              // [1] device
                                      const double* sum_squares,  // [1] device
                                      double max_norm, GpuStream stream);

}  // namespace bert
