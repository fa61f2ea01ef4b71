// Start/end span loss of BertForQuestionAnswering, fused with its backward.
// logits[t] = (start, end) for each packed token. For sequence b with tokens [c_b, c_{b+1}):
//   ce_start_b = logsumexp(start logits of b) − start logit at start_positions[b] (index in b),
//   likewise ce_end_b; the softmax runs over the sequence's real tokens only.
// loss = Σ_b (ce_start_b + ce_end_b) / (2·batch) — the mean of the two mean cross-entropies.
// Writes per-sequence losses and d_logits = (softmax − onehot) · d_loss_scale / (2·batch)
// (d_loss_scale is 1, or 1/gradient_accumulation_steps). Positions must lie inside their sequence.
#pragma once

#include <cstdint>

namespace bert {

template <typename T>
void qa_loss_forward_backward_ref(T* d_logits,                // [tokens, 2]
                                  T* losses,                  // [batch, 2]: (ce_start, ce_end)
                                  const T* logits,            // [tokens, 2]
                                  const int32_t* cu_seqlens,  // [batch+1]
                                  const int32_t* start_positions,  // [batch]
                                  const int32_t* end_positions,    // [batch]
                                  int batch, T d_loss_scale);

}  // namespace bert

// ---------------------------------------------------------------------------------------------
// CUDA launcher (kernels/qa_loss.cu): one block per sequence, fp32 math on bf16 logits (or fp32
// logits through the float overload: the fp32 compute switch).
// Positions are validated on the host; an out-of-range one yields a NaN loss (and no onehot)
// rather than a fault.
#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

void qa_loss_forward_backward_cuda(bf16* d_logits,                  // [tokens, 2]
                                   float* losses,                   // [batch, 2]
                                   const bf16* logits,              // [tokens, 2]
                                   const int32_t* cu_seqlens,       // [batch+1]
                                   const int32_t* start_positions,  // [batch]
                                   const int32_t* end_positions,    // [batch]
                                   int batch, float d_loss_scale, GpuStream stream);
void qa_loss_forward_backward_cuda(float* d_logits,                 // [tokens, 2]
                                   float* losses,                   // [batch, 2]
                                   const float* logits,             // [tokens, 2]
                                   const int32_t* cu_seqlens,       // [batch+1]
                                   const int32_t* start_positions,  // [batch]
                                   const int32_t* end_positions,    // [batch]
                                   int batch, float d_loss_scale, GpuStream stream);

}  // namespace bert
