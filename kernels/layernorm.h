// LayerNorm over the last dimension, statistics in the compute type (fp32 at least):
//   mean = Σx/H, var = Σ(x-mean)²/H, rstd = 1/sqrt(var + eps), out = (x-mean)·rstd·gamma + beta.
// Saved for backward: the input, mean and rstd per row.
// Backward: with xhat = (x-mean)·rstd and g = d_out·gamma,
//   d_inp = rstd · (g - mean(g) - xhat·mean(g·xhat)), d_gamma += Σ_rows d_out·xhat, d_beta += Σ_rows d_out.
// Also the fused residual + dropout + LayerNorm of the encoder layers (below).
#pragma once

#include "kernels/accumulate.h"
#include "kernels/dropout_rng.h"

namespace bert {

template <typename T>
void layernorm_forward_ref(T* out,          // [rows, width]
                           T* mean,         // [rows]
                           T* rstd,         // [rows]
                           const T* inp,    // [rows, width]
                           const T* gamma,  // [width]
                           const T* beta,   // [width]
                           int rows, int width, double eps);

// d_gamma and d_beta accumulate; d_inp overwrites or adds per `mode`.
template <typename T>
void layernorm_backward_ref(T* d_inp,        // [rows, width]
                            T* d_gamma,      // [width]
                            T* d_beta,       // [width]
                            const T* d_out,  // [rows, width]
                            const T* inp,    // [rows, width]
                            const T* gamma,  // [width]
                            const T* mean,   // [rows]
                            const T* rstd,   // [rows]
                            int rows, int width, Accumulate mode);

// The post-LN residual block of every encoder layer (the CUDA launcher below fuses it):
//   sum = residual + dropout(branch)   (dropout element i = row·width + col of this call)
//   out = LayerNorm(sum)
// Saved for backward: sum, mean, rstd. The one CPU reference of the fused op: the CPU backend
// runs it and the GPU tests compare the fused kernels against it.
template <typename T>
void residual_dropout_layernorm_forward_ref(T* out,             // [rows, width]
                                            T* sum,             // [rows, width] saved
                                            T* mean,            // [rows]
                                            T* rstd,            // [rows]
                                            const T* branch,    // [rows, width]
                                            const T* residual,  // [rows, width]
                                            const T* gamma,     // [width]
                                            const T* beta,      // [width]
                                            int rows, int width, double eps,
                                            const DropoutSpec& dropout);

// With d_sum the LayerNorm input gradient:
//   d_residual = d_sum (overwrite or add per `residual_mode`),
//   d_branch = mask · d_sum / (1-p) (overwrite; skipped when null),
//   d_gamma, d_beta accumulate.
template <typename T>
void residual_dropout_layernorm_backward_ref(T* d_branch,      // [rows, width] or null
                                             T* d_residual,    // [rows, width]
                                             T* d_gamma,       // [width]
                                             T* d_beta,        // [width]
                                             const T* d_out,   // [rows, width]
                                             const T* sum,     // [rows, width]
                                             const T* gamma,   // [width]
                                             const T* mean,    // [rows]
                                             const T* rstd,    // [rows]
                                             int rows, int width, const DropoutSpec& dropout,
                                             Accumulate residual_mode);

}  // namespace bert

// ---------------------------------------------------------------------------------------------
// CUDA launchers (kernels/layernorm.cu): bf16 activations and gamma/beta (the working copy),
// fp32 statistics and fp32 d_gamma/d_beta. width must be a multiple of 4 and at most 1024;
// tensors 8-byte aligned. One warp per row; nothing but mean/rstd (and the fused sum) is saved.
// Every launcher also has a float overload (fp32 activations and gamma/beta: the fp32 compute
// switch) with the same contract.
#include <cstddef>

#include "kernels/dropout_rng.h"
#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

void layernorm_forward_cuda(bf16* out,          // [rows, width]
                            float* mean,        // [rows]
                            float* rstd,        // [rows]
                            const bf16* inp,    // [rows, width]
                            const bf16* gamma,  // [width]
                            const bf16* beta,   // [width]
                            int rows, int width, float eps, GpuStream stream);
void layernorm_forward_cuda(float* out, float* mean, float* rstd, const float* inp,
                            const float* gamma, const float* beta, int rows, int width, float eps,
                            GpuStream stream);

// Scratch for the deterministic d_gamma/d_beta column sums (both LayerNorm backwards).
size_t layernorm_backward_workspace_bytes(int rows, int width);

// d_gamma, d_beta accumulate; d_inp overwrites or adds per `mode`.
void layernorm_backward_cuda(bf16* d_inp,        // [rows, width]
                             float* d_gamma,     // [width]
                             float* d_beta,      // [width]
                             const bf16* d_out,  // [rows, width]
                             const bf16* inp,    // [rows, width]
                             const bf16* gamma,  // [width]
                             const float* mean,  // [rows]
                             const float* rstd,  // [rows]
                             int rows, int width, Accumulate mode, GpuWorkspace workspace,
                             GpuStream stream);
void layernorm_backward_cuda(float* d_inp, float* d_gamma, float* d_beta, const float* d_out,
                             const float* inp, const float* gamma, const float* mean,
                             const float* rstd, int rows, int width, Accumulate mode,
                             GpuWorkspace workspace, GpuStream stream);

// residual_dropout_layernorm_forward_ref's formulas, fused in one kernel. Saved for backward:
// sum (bf16), mean, rstd. LayerNorm statistics use the fp32 sum, before it is rounded for saving.
void residual_dropout_layernorm_forward_cuda(bf16* out,             // [rows, width]
                                             bf16* sum,             // [rows, width] saved
                                             float* mean,           // [rows]
                                             float* rstd,           // [rows]
                                             const bf16* branch,    // [rows, width]
                                             const bf16* residual,  // [rows, width]
                                             const bf16* gamma,     // [width]
                                             const bf16* beta,      // [width]
                                             int rows, int width, float eps,
                                             const DropoutSpec& dropout, GpuStream stream);
void residual_dropout_layernorm_forward_cuda(float* out, float* sum, float* mean, float* rstd,
                                             const float* branch, const float* residual,
                                             const float* gamma, const float* beta, int rows,
                                             int width, float eps, const DropoutSpec& dropout,
                                             GpuStream stream);

// residual_dropout_layernorm_backward_ref's formulas, fused. Uses the workspace of
// layernorm_backward_workspace_bytes().
void residual_dropout_layernorm_backward_cuda(bf16* d_branch,      // [rows, width] or null
                                              bf16* d_residual,    // [rows, width]
                                              float* d_gamma,      // [width]
                                              float* d_beta,       // [width]
                                              const bf16* d_out,   // [rows, width]
                                              const bf16* sum,     // [rows, width]
                                              const bf16* gamma,   // [width]
                                              const float* mean,   // [rows]
                                              const float* rstd,   // [rows]
                                              int rows, int width, const DropoutSpec& dropout,
                                              Accumulate residual_mode, GpuWorkspace workspace,
                                              GpuStream stream);
void residual_dropout_layernorm_backward_cuda(float* d_branch, float* d_residual,
                                              float* d_gamma, float* d_beta, const float* d_out,
                                              const float* sum, const float* gamma,
                                              const float* mean, const float* rstd, int rows,
                                              int width, const DropoutSpec& dropout,
                                              Accumulate residual_mode, GpuWorkspace workspace,
                                              GpuStream stream);

}  // namespace bert
