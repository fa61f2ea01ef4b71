// Internal: the bf16 attention implementations behind kernels/attention.h's launchers, so
// tests and benchmarks can run either explicitly.
//   kMma:    tensor-core kernels (kernels/attention_*_mma.cu, mma.sync m16n8k16 bf16, fp32
//            accumulation; P and dS are rounded to bf16 before their products). The default.
//   kMmaOnePass: the same forward; the backward in one tensor-core pass that also forms dQ
//            (attention_backward_mma.cu). A candidate, timed beside kMma by bench_kernels.
//   kMmaLean: kMma's kernels compiled for more resident blocks per SM (forward 4, backward
//            passes 3, against 3 and 2): the block's resident operand is read from shared
//            memory per k-step instead of held in registers, the backward's score tiles formed
//            in halves. The same products in the same order, so the same bits as kMma. A
//            candidate, timed beside kMma by bench_kernels.
//   kMmaOnePassLean: kMmaOnePass built the same way (the lean forward; the one-pass backward at
//            3 blocks per SM instead of 2): the same bits as kMmaOnePass. A candidate.
//   kScalar: the fp32-FMA shared-memory kernels (kernels/attention_forward.cu,
//            kernels/attention_backward.cu), also used by the float overloads.
// BERT_ATTENTION_KERNEL=mma (the default), =mma_one_pass, =mma_lean, =mma_one_pass_lean or
// =scalar picks the default of the public bf16 launchers; it is read once per process.
#pragma once

#include "kernels/attention.h"

namespace bert {

enum class AttentionImpl { kMma, kMmaOnePass, kMmaLean, kMmaOnePassLean, kScalar };
constexpr AttentionImpl kAttentionImpls[] = {AttentionImpl::kMma, AttentionImpl::kMmaOnePass,
                                             AttentionImpl::kMmaLean,
                                             AttentionImpl::kMmaOnePassLean, AttentionImpl::kScalar};

// What a tensor-core implementation runs: the register-lean builds, the one-pass backward.
constexpr bool lean_kernels(AttentionImpl impl) {
  return impl == AttentionImpl::kMmaLean || impl == AttentionImpl::kMmaOnePassLean;
}
constexpr bool one_pass_backward(AttentionImpl impl) {
  return impl == AttentionImpl::kMmaOnePass || impl == AttentionImpl::kMmaOnePassLean;
}

// "mma", "mma_one_pass", "mma_lean", "mma_one_pass_lean", "scalar": the BERT_ATTENTION_KERNEL
// spelling.
const char* attention_impl_name(AttentionImpl impl);

// Reads BERT_ATTENTION_KERNEL on the first call; throws InputError on an unknown value.
AttentionImpl default_attention_impl();

void attention_forward_cuda(bf16* ctx, float* lse, const bf16* qkv, const int32_t* cu_seqlens,
                            const AttentionShape& shape, const DropoutSpec& dropout,
                            GpuStream stream, AttentionImpl impl);
void attention_backward_cuda(bf16* d_qkv, const bf16* d_ctx, const bf16* qkv, const bf16* ctx,
                             const float* lse, const int32_t* cu_seqlens,
                             const AttentionShape& shape, const DropoutSpec& dropout,
                             GpuWorkspace workspace, GpuStream stream, AttentionImpl impl);

namespace attention {

// MMA kernels; the caller has checked the shape and workspace. They are built for head_dim 32
// and 64 and need 16-byte aligned tensors (mma_supported); otherwise the scalar kernels run
// (runs_mma_kernels decides). `lean`: the register-lean build of them (kMmaLean,
// kMmaOnePassLean).
bool mma_supported(const void* a, const void* b, const void* c, const void* d);
// Whether a bf16 call of `impl` runs the MMA kernels: not kScalar, a head_dim they are built
// for, tensors they can read.
bool runs_mma_kernels(AttentionImpl impl, int head_dim, const void* a, const void* b, const void* c,
                      const void* d);
void forward_mma(bf16* ctx, float* lse, const bf16* qkv, const int32_t* cu_seqlens,
                 const AttentionShape& shape, const DropoutSpec& dropout, bool lean,
                 GpuStream stream);
// row_dot: D = Σ_c d_ctx·ctx per (token, head), computed by the caller.
void backward_mma(bf16* d_qkv, const bf16* d_ctx, const bf16* qkv, const float* lse,
                  const float* row_dot, const int32_t* cu_seqlens, const AttentionShape& shape,
                  const DropoutSpec& dropout, bool lean, GpuStream stream);
// dq_accumulator: fp32 [tokens, heads·head_dim] scratch (attention_backward_workspace_bytes
// holds it after row_dot).
void backward_mma_one_pass(bf16* d_qkv, const bf16* d_ctx, const bf16* qkv, const float* lse,
                           const float* row_dot, float* dq_accumulator,
                           const int32_t* cu_seqlens, const AttentionShape& shape,
                           const DropoutSpec& dropout, bool lean, GpuStream stream);

}  // namespace attention
}  // namespace bert
