// Bias + the feed-forward activation f (config.json's hidden_act, core/activation.h):
// out = f(pre + bias). `pre` is the matmul output without its bias, saved for backward:
//   d_pre = d_out · f'(x), x = pre + bias;  d_bias += Σ_rows d_pre.
// BERT's "gelu" is erf GELU, f(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2)), f'(x) = Φ(x) + x·φ(x),
// φ(x) = exp(-x²/2)/√(2π).
#pragma once

#include "core/activation.h"

namespace bert {

template <typename T>
void bias_activation_forward_ref(Activation act,
                                 T* out,         // [rows, width]
                                 const T* pre,   // [rows, width]
                                 const T* bias,  // [width]
                                 int rows, int width);

// d_pre overwrites; d_bias accumulates.
template <typename T>
void bias_activation_backward_ref(Activation act,
                                  T* d_pre,        // [rows, width]
                                  T* d_bias,       // [width]
                                  const T* d_out,  // [rows, width]
                                  const T* pre,    // [rows, width]
                                  const T* bias,   // [width]
                                  int rows, int width);

}  // namespace bert

// ---------------------------------------------------------------------------------------------
// CUDA launchers (kernels/gelu.cu): bf16 activations, fp32 math, fp32 bias gradient; float
// overloads (fp32 activations and bias: the fp32 compute switch) with the same contract.
#include <cstddef>

#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

void bias_activation_forward_cuda(Activation act,
                                  bf16* out,         // [rows, width]
                                  const bf16* pre,   // [rows, width]
                                  const bf16* bias,  // [width]
                                  int rows, int width, GpuStream stream);
void bias_activation_forward_cuda(Activation act,
                                  float* out,         // [rows, width]
                                  const float* pre,   // [rows, width]
                                  const float* bias,  // [width]
                                  int rows, int width, GpuStream stream);

// Scratch for the deterministic d_bias column sum.
size_t bias_gelu_backward_workspace_bytes(int rows, int width);

// d_pre overwrites (may alias d_out); d_bias accumulates.
void bias_activation_backward_cuda(Activation act,
                                   bf16* d_pre,        // [rows, width]
                                   float* d_bias,      // [width]
                                   const bf16* d_out,  // [rows, width]
                                   const bf16* pre,    // [rows, width]
                                   const bf16* bias,   // [width]
                                   int rows, int width, GpuWorkspace workspace, GpuStream stream);
void bias_activation_backward_cuda(Activation act,
                                   float* d_pre,        // [rows, width]
                                   float* d_bias,       // [width]
                                   const float* d_out,  // [rows, width]
                                   const float* pre,    // [rows, width]
                                   const float* bias,   // [width]
                                   int rows, int width, GpuWorkspace workspace, GpuStream stream);

}  // namespace bert
