// Dropout with masks regenerated from kernels/dropout_rng.h (nothing stored):
//   out[i] = keep(i) ? inp[i] / (1-p) : 0.   Backward applies the same mask and scale.
// residual_dropout_forward fuses the residual add that precedes every encoder LayerNorm:
//   out[i] = residual[i] + dropout(branch)[i].
#pragma once

#include <cstddef>

#include "kernels/accumulate.h"
#include "kernels/dropout_rng.h"

namespace bert {

template <typename T>
void dropout_forward_ref(T* out, const T* inp, size_t count, const DropoutSpec& spec);  // [count]

// d_inp = mask · d_out / (1-p), overwrite or add.
template <typename T>
void dropout_backward_ref(T* d_inp, const T* d_out, size_t count, const DropoutSpec& spec,
                          Accumulate mode);

template <typename T>
void residual_dropout_forward_ref(T* out,             // [count]
                                  const T* branch,    // [count]
                                  const T* residual,  // [count]
                                  size_t count, const DropoutSpec& spec);

}  // namespace bert

// ---------------------------------------------------------------------------------------------
// CUDA launchers (kernels/dropout.cu): bf16 tensors (float under the fp32 compute switch: the
// same overloads with float pointers), fp32 math, the same masks as the reference (element i of
// the launch is element i of the spec). Pointers 8-byte aligned; out may alias inp.
#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

void dropout_forward_cuda(bf16* out,        // [count]
                          const bf16* inp,  // [count]
                          size_t count, const DropoutSpec& spec, GpuStream stream);
void dropout_forward_cuda(float* out,        // [count]
                          const float* inp,  // [count]
                          size_t count, const DropoutSpec& spec, GpuStream stream);

// d_inp = mask · d_out / (1-p), overwrite or add.
void dropout_backward_cuda(bf16* d_inp,        // [count]
                           const bf16* d_out,  // [count]
                           size_t count, const DropoutSpec& spec, Accumulate mode,
                           GpuStream stream);
void dropout_backward_cuda(float* d_inp,        // [count]
                           const float* d_out,  // [count]
                           size_t count, const DropoutSpec& spec, Accumulate mode,
                           GpuStream stream);

// out = residual + dropout(branch).
void residual_dropout_forward_cuda(bf16* out,             // [count]
                                   const bf16* branch,    // [count]
                                   const bf16* residual,  // [count]
                                   size_t count, const DropoutSpec& spec, GpuStream stream);
void residual_dropout_forward_cuda(float* out,             // [count]
                                   const float* branch,    // [count]
                                   const float* residual,  // [count]
                                   size_t count, const DropoutSpec& spec, GpuStream stream);

}  // namespace bert
