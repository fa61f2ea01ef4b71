// Multi-head self-attention over variable-length sequences packed back to back.
// Sequence b owns tokens [cu_seqlens[b], cu_seqlens[b+1]); a token attends only to the keys of
// its own sequence, so padding never exists (this equals Hugging Face's key padding mask on
// the real tokens). Input qkv is the fused projection, per token [q | k | v], each [heads, head_dim]:
//   S = q·kᵀ/√head_dim,  P = softmax_rows(S),  ctx = dropout(P)·v.
// Saved for backward: qkv, ctx and the per-row log-sum-exp lse = log Σ_j exp(S_ij) ([tokens, heads]),
// from which backward recomputes P (the flash-attention scheme):
//   dPd = d_ctx·vᵀ, dP = dropout_backward(dPd), D_i = Σ_c d_ctx_ic·ctx_ic,
//   dS = P∘(dP − D), dq = dS·k/√d, dk = dSᵀ·q/√d, dv = dropout(P)ᵀ·d_ctx.
// Dropout elements are numbered ((query_token·heads + head)·max_positions + key_position_in_sequence)
// and drawn with 8 bits each (attention_dropout_keep in kernels/dropout_rng.h): the drop rate is
// p rounded to a multiple of 1/256, and kept probabilities are scaled by attention_keep_scale(p).
#pragma once

#include <cstdint>

#include "kernels/dropout_rng.h"

namespace bert {

struct AttentionShape {
  int tokens = 0;         // Σ sequence lengths
  int batch = 0;          // number of sequences
  int heads = 0;
  int head_dim = 0;
  int max_positions = 0;  // bound on any sequence length; strides the dropout element index
  // > 0: no sequence of the batch is longer (its longest, known on the host when the batch is
  // packed). The CUDA kernels size their grids by it instead of max_positions, so a batch of
  // short sequences launches no blocks for query tiles no sequence has. 0: max_positions.
  int longest = 0;
};

// The bound on every sequence length of the batch: longest when given, else max_positions.
inline int length_bound(const AttentionShape& shape) {
  return shape.longest > 0 ? shape.longest : shape.max_positions;
}

template <typename T>
void attention_forward_ref(T* ctx,                   // [tokens, heads*head_dim]
                           T* lse,                   // [tokens, heads]
                           const T* qkv,             // [tokens, 3*heads*head_dim]
                           const int32_t* cu_seqlens,  // [batch+1]
                           const AttentionShape& shape, const DropoutSpec& dropout);

// d_qkv overwrites.
template <typename T>
void attention_backward_ref(T* d_qkv,                 // [tokens, 3*heads*head_dim]
                            const T* d_ctx,           // [tokens, heads*head_dim]
                            const T* qkv,             // [tokens, 3*heads*head_dim]
                            const T* ctx,             // [tokens, heads*head_dim]
                            const T* lse,             // [tokens, heads]
                            const int32_t* cu_seqlens,  // [batch+1]
                            const AttentionShape& shape, const DropoutSpec& dropout);

}  // namespace bert

// ---------------------------------------------------------------------------------------------
// CUDA launchers (kernels/attention_forward.cu, kernels/attention_backward.cu): flash-style
// tiles of 64 queries × 64 keys in shared memory, fp32 math, online softmax; bf16 qkv/ctx, fp32
// lse (natural log). head_dim 1 to 64: 32 (all-MiniLM-L6-v2) and 64 (bert-base) have kernels of
// their own (the launcher picks the instantiation from shape.head_dim), any other runs the scalar
// kernels' generic instantiation; a head_dim above 64 is refused with a BertError naming the
// range (kMaxAttentionHeadDim, kernels/kernel_limits.h). cu_seqlens is read on the device: its lengths must be at most
// max_positions (and longest, when given) and sum to tokens (validate on the host, as the
// reference does).
// Backward is deterministic: one pass over key tiles writes dk, dv; a second over query tiles
// writes dq (no atomics), both recomputing P from lse and the dropout mask from the spec (the
// one-pass candidate of attention_variants.h forms dq in the key pass, summing it over the key
// tiles in order).
// The float overloads (fp32 qkv/ctx: the fp32 compute switch) have the same contract.
// bf16 has two implementations (kernels/attention_variants.h): by default tensor-core kernels
// (mma.sync bf16, fp32 accumulation, P and dS rounded to bf16 before their products; used for
// head_dim 32 and 64 when the tensors are 16-byte aligned), or, with BERT_ATTENTION_KERNEL=scalar (read once), the
// scalar fp32-FMA kernels that the float overloads always use. Both follow this contract.
#include <cstddef>

#include "kernels/gpu_types.h"
#include "kernels/host_device.h"

namespace bert {

void attention_forward_cuda(bf16* ctx,                  // [tokens, heads*head_dim]
                            float* lse,                 // [tokens, heads]
                            const bf16* qkv,            // [tokens, 3*heads*head_dim]
                            const int32_t* cu_seqlens,  // [batch+1] device
                            const AttentionShape& shape, const DropoutSpec& dropout,
                            GpuStream stream);
void attention_forward_cuda(float* ctx,                 // [tokens, heads*head_dim]
                            float* lse,                 // [tokens, heads]
                            const float* qkv,           // [tokens, 3*heads*head_dim]
                            const int32_t* cu_seqlens,  // [batch+1] device
                            const AttentionShape& shape, const DropoutSpec& dropout,
                            GpuStream stream);

// Scratch of the backward: D_i = Σ_c d_ctx·ctx per (token, head), and an fp32 dq accumulator
// [tokens, heads·head_dim] for the one-pass tensor-core kernel.
size_t attention_backward_workspace_bytes(const AttentionShape& shape);

// d_qkv overwrites (every element of the real tokens is written).
void attention_backward_cuda(bf16* d_qkv,                // [tokens, 3*heads*head_dim]
                             const bf16* d_ctx,          // [tokens, heads*head_dim]
                             const bf16* qkv,            // [tokens, 3*heads*head_dim]
                             const bf16* ctx,            // [tokens, heads*head_dim]
                             const float* lse,           // [tokens, heads]
                             const int32_t* cu_seqlens,  // [batch+1] device
                             const AttentionShape& shape, const DropoutSpec& dropout,
                             GpuWorkspace workspace, GpuStream stream);
void attention_backward_cuda(float* d_qkv,               // [tokens, 3*heads*head_dim]
                             const float* d_ctx,         // [tokens, heads*head_dim]
                             const float* qkv,           // [tokens, 3*heads*head_dim]
                             const float* ctx,           // [tokens, heads*head_dim]
                             const float* lse,           // [tokens, heads]
                             const int32_t* cu_seqlens,  // [batch+1] device
                             const AttentionShape& shape, const DropoutSpec& dropout,
                             GpuWorkspace workspace, GpuStream stream);

}  // namespace bert
