// Attention forward (kernels/attention.h), flash-style: a block owns 64 queries of one
// (sequence, head) and streams the sequence's keys in tiles of 64:
//   S = Q·Kᵀ (scaled into the log2 domain), running row max m and row sum l (online softmax,
//   rescaling the output accumulator when m grows), O += dropout(exp2(S − m))·V;
// at the end ctx = O / l and lse = (m + log2 l)·ln 2. Keys past the sequence end are masked;
// query rows past it are computed on zeros and never stored.
// Dropout: the thread's 4 keys are consecutive, so one Philox call (attention_keep_bits16) covers them;
// element numbering ((query_token·heads + head)·max_positions + key_position) as documented.
// This is the scalar kernel (float, and bf16 under BERT_ATTENTION_KERNEL=scalar); bf16 goes to
// attention_forward_mma.cu by default. default_attention_impl() lives here.
// A head_dim below 64 keeps the 64-wide thread mapping (attention_common.cuh): S = Q·Kᵀ runs to
// depth head_dim (rounded up to 4), but O += P·V still computes 64 output columns of which those
// past head_dim are zeros (V's zero-filled padding) and are not stored; at 32 a head costs 3/4 of
// a head_dim-64 head's FMAs instead of 1/2, and shared memory stays sized for 64.
#include <string>
#include <vector>

#include "core/file_io.h"
#include "kernels/attention_common.cuh"
#include "kernels/attention_variants.h"

namespace bert {
namespace attention {
namespace {

constexpr size_t kForwardSharedBytes = 4 * kTileFloats * sizeof(float);  // Q, Kᵀ, V, P

template <int kHeadDim, typename T>
__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(T* ctx, float* lse, const T* qkv, const int32_t* cu_seqlens,
                             AttentionShape shape, DropoutSpec dropout, int tiles,
                             float scale_log2) {
  grid_dependency_sync();
  extern __shared__ float4 shared_raw[];
  float* q_tile = reinterpret_cast<float*>(shared_raw);  // [query][d]
  float* k_transposed = q_tile + kTileFloats;            // [d][key]
  float* v_tile = k_transposed + kTileFloats;            // [key][d]
  float* p_tile = v_tile + kTileFloats;                  // [query][key]

  const int sequence = blockIdx.x / tiles, query_block = blockIdx.x % tiles, head = blockIdx.y;
  const int first_token = cu_seqlens[sequence];
  const int length = cu_seqlens[sequence + 1] - first_token;
  const int query_start = query_block * kTile;
  if (query_start >= length) return;  // whole block: no barrier reached yet
  const int query_count = min(kTile, length - query_start);

  const int head_dim = head_dim_of<kHeadDim>(shape);
  const int hidden = shape.heads * head_dim;
  const size_t row_stride = 3 * static_cast<size_t>(hidden);
  const T* head_qkv = qkv + static_cast<size_t>(first_token) * row_stride + head * head_dim;
  load_tile<kHeadDim>(q_tile, nullptr, head_qkv + query_start * row_stride, row_stride,
                      query_count, head_dim);

  const int ty = thread_row(), tx = thread_col();
  const bool dropout_on = dropout.probability > 0.0f;
  float out[4][4], row_max[4], row_sum[4];
  zero(out);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    row_max[i] = -INFINITY;
    row_sum[i] = 0.0f;
  }

  for (int key_start = 0; key_start < length; key_start += kTile) {
    const int key_count = min(kTile, length - key_start);
    __syncthreads();  // the previous tile's K, V and P are no longer read
    load_tile<kHeadDim>(nullptr, k_transposed, head_qkv + hidden + key_start * row_stride,
                        row_stride, key_count, head_dim);
    load_tile<kHeadDim>(v_tile, nullptr, head_qkv + 2 * hidden + key_start * row_stride, row_stride,
                        key_count, head_dim);
    __syncthreads();

    float scores[4][4];
    zero(scores);
    tile_mma(scores, q_tile, k_transposed, product_depth(head_dim));
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        scores[i][j] = 4 * tx + j < key_count ? scores[i][j] * scale_log2 : -INFINITY;
        tile_max = fmaxf(tile_max, scores[i][j]);
      }
      // Every tile has key 0 of the tile valid, so new_max is finite.
      const float new_max = fmaxf(row_max[i], row_group_max(tile_max));
      const float correction = exp2f(row_max[i] - new_max);  // 0 on the first tile
      float probs[4], tile_sum = 0.0f;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        probs[j] = exp2f(scores[i][j] - new_max);  // masked keys: exp2(-inf) = 0
        tile_sum += probs[j];
      }
      row_sum[i] = row_sum[i] * correction + row_group_sum(tile_sum);
      row_max[i] = new_max;
#pragma unroll
      for (int j = 0; j < 4; ++j) out[i][j] *= correction;
      const int query = 4 * ty + i;
      if (dropout_on && query < query_count) {
        float factor[4];
        const uint64_t row = dropout_row_index(first_token + query_start + query, head, shape);
        attention_dropout_factors4(dropout, row + key_start + 4 * tx, factor);
#pragma unroll
        for (int j = 0; j < 4; ++j) probs[j] *= factor[j];
      }
      store_row4(p_tile, query, 4 * tx, probs);
    }
    __syncthreads();
    tile_mma(out, p_tile, v_tile, kTile);
  }

  if (4 * tx >= head_dim) return;  // columns ≥ head_dim: zero padding
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int query = 4 * ty + i;
    if (query >= query_count) continue;
    const int token = first_token + query_start + query;
    const float inverse = 1.0f / row_sum[i];
    float values[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) values[j] = out[i][j] * inverse;
    store_columns<kHeadDim>(ctx + static_cast<size_t>(token) * hidden + head * head_dim + 4 * tx,
                            values, head_dim - 4 * tx);
    if (tx == 0)
      lse[static_cast<size_t>(token) * shape.heads + head] =
          (row_max[i] + log2f(row_sum[i])) * kLn2;
  }
}

template <typename T>
void attention_forward(T* ctx, float* lse, const T* qkv, const int32_t* cu_seqlens,
                       const AttentionShape& shape, const DropoutSpec& dropout, GpuStream stream) {
  const char* op = "attention_forward_cuda";
  check_shape(shape, op);
  if (shape.tokens == 0 || shape.batch == 0) return;
  BERT_CHECK(is_aligned(qkv, 8) && is_aligned(ctx, 8),
             std::string(op) + ": qkv and ctx must be 8-byte aligned");
  const int tiles = tiles_per_sequence(shape);
  const float scale_log2 = kLog2e / sqrtf(static_cast<float>(shape.head_dim));
  const dim3 grid(shape.batch * tiles, shape.heads);
  with_head_dim(shape.head_dim, op, [&](auto head_dim) {
    constexpr int kHeadDim = decltype(head_dim)::value;
    constexpr auto kernel = attention_forward_kernel<kHeadDim, T>;
    allow_dynamic_shared_memory<kernel, kForwardSharedBytes>();
    launch_kernel(kernel, grid, kThreads, kForwardSharedBytes, stream, ctx, lse, qkv, cu_seqlens,
                  shape, dropout, tiles, scale_log2);
  });
  CUDA_LAUNCH_CHECK("attention_forward_kernel");
}

}  // namespace
}  // namespace attention

const char* attention_impl_name(AttentionImpl impl) {
  switch (impl) {
    case AttentionImpl::kMma: return "mma";
    case AttentionImpl::kMmaOnePass: return "mma_one_pass";
    case AttentionImpl::kMmaLean: return "mma_lean";
    case AttentionImpl::kMmaOnePassLean: return "mma_one_pass_lean";
    case AttentionImpl::kScalar: return "scalar";
  }
  return "unknown";
}

AttentionImpl default_attention_impl() {
  // kAttentionImpls' first, kMma, is the default.
  static const AttentionImpl impl = [] {
    std::vector<std::string> names;
    for (const AttentionImpl known : kAttentionImpls) names.push_back(attention_impl_name(known));
    return kAttentionImpls[environment_choice("BERT_ATTENTION_KERNEL", names)];
  }();
  return impl;
}

void attention_forward_cuda(bf16* ctx, float* lse, const bf16* qkv, const int32_t* cu_seqlens,
                            const AttentionShape& shape, const DropoutSpec& dropout,
                            GpuStream stream, AttentionImpl impl) {
  // The one-pass variants share the two-pass forward.
  if (attention::runs_mma_kernels(impl, shape.head_dim, ctx, qkv, qkv, qkv)) {
    attention::check_shape(shape, "attention_forward_cuda");
    if (shape.tokens == 0 || shape.batch == 0) return;
    attention::forward_mma(ctx, lse, qkv, cu_seqlens, shape, dropout, lean_kernels(impl), stream);
    return;
  }
  attention::attention_forward(ctx, lse, qkv, cu_seqlens, shape, dropout, stream);
}
void attention_forward_cuda(bf16* ctx, float* lse, const bf16* qkv, const int32_t* cu_seqlens,
                            const AttentionShape& shape, const DropoutSpec& dropout,
                            GpuStream stream) {
  attention_forward_cuda(ctx, lse, qkv, cu_seqlens, shape, dropout, stream,
                         default_attention_impl());
}
void attention_forward_cuda(float* ctx, float* lse, const float* qkv, const int32_t* cu_seqlens,
                            const AttentionShape& shape, const DropoutSpec& dropout,
                            GpuStream stream) {
  attention::attention_forward(ctx, lse, qkv, cu_seqlens, shape, dropout, stream);
}

}  // namespace bert
