// Attention forward on tensor cores (kernels/attention_variants.h, kMma), flash-attention-2
// style: a block of 4 warps owns 64 queries of one (sequence, head), each warp 16 query rows
// whose Q fragments stay in registers; the sequence's keys stream through shared memory in
// tiles of 64 (K and V as bf16, natural [key][d] layout). Templated on head_dim (32 or 64:
// HeadLayout in attention_mma.cuh; Q·Kᵀ takes head_dim/16 k-steps, O is head_dim/8 n-tiles).
// Per tile and warp:
//   S = Q·Kᵀ (fp32, 16 × 64 in 32 registers), scaled into the log2 domain, keys past the end −∞;
//   online softmax: running row max m and per-thread partial row sums l (summed over the quad
//   at the end), rescaling O when m grows; P = exp2(S − m), O += dropout(P)·V with P in bf16.
// ctx = O / l, lse = (m + log2 l)·ln 2, as the scalar kernel. Dropout: the warp draws the keep
// bits of its 16 rows × 64 keys (one Philox call per 16 keys: attention_keep_bits16) into shared
// memory, then each lane reads those of its fragment elements.
// Register-lean variant (kLean, AttentionImpl::kMmaLean, a candidate): Q stays in a shared tile
// of its own and its fragments are read per k-step (ResidentRows) instead of held in
// registers, and the kernel is bounded to 4 resident blocks per SM (at most 128 registers; the
// default's 149 let 3 fit); the same products in the same order, so the same bits.
#include "kernels/attention_mma.cuh"
#include "kernels/attention_variants.h"

namespace bert {
namespace attention {
namespace mma {
namespace {

// Lean: at most 128 registers, 4 resident blocks per SM; otherwise no bound (0 emits none).
template <int kHeadDim, bool kLean>
__global__ void __launch_bounds__(kThreads, kLean ? 4 : 0)
    attention_forward_mma_kernel(bf16* ctx, float* lse, const bf16* qkv, const int32_t* cu_seqlens,
                                 AttentionShape shape, DropoutSpec dropout, int tiles,
                                 float scale_log2) {
  grid_dependency_sync();
  using Layout = HeadLayout<kHeadDim>;
  // Double-buffered: tile i + 1 is copied (cp.async) while tile i is computed.
  __shared__ __align__(16) bf16 k_tiles[2][Layout::kTileElements];
  __shared__ __align__(16) bf16 v_tiles[2][Layout::kTileElements];
  __shared__ uint32_t keep_bits[kWarps][16 * 4];
  // The lean kernel's Q tile (8 elements, unused, otherwise).
  __shared__ __align__(16) bf16 q_tile[kLean ? Layout::kTileElements : 8];

  const int sequence = blockIdx.x / tiles, query_block = blockIdx.x % tiles, head = blockIdx.y;
  const int first_token = cu_seqlens[sequence];
  const int length = cu_seqlens[sequence + 1] - first_token;
  const int query_start = query_block * kRows;
  if (query_start >= length) return;  // whole block: no barrier reached yet
  const int query_count = min(kRows, length - query_start);
  const int warp = threadIdx.x / 32, g = lane_group(), t = lane_thread();
  const int hidden = shape.heads * kHeadDim;
  const size_t row_stride = 3 * static_cast<size_t>(hidden);
  const bf16* head_qkv = qkv + static_cast<size_t>(first_token) * row_stride + head * kHeadDim;
  const bf16* keys = head_qkv + hidden;
  const bf16* values = head_qkv + 2 * hidden;

  // Q staged through k_tiles[1] into registers (lean: kept in q_tile; rows past the end are
  // zero, never stored). Q and key tile 0 are all in flight at once (one memory latency before
  // the first product, not one for Q and then one for the keys).
  bf16* q_stage = kLean ? q_tile : k_tiles[1];
  load_tile_async<kHeadDim>(q_stage, head_qkv + query_start * row_stride, row_stride, query_count);
  load_tile_async<kHeadDim>(k_tiles[0], keys, row_stride, min(kCols, length));
  load_tile_async<kHeadDim>(v_tiles[0], values, row_stride, min(kCols, length));
  wait_copies();
  __syncthreads();
  const ResidentRows<kHeadDim, kLean> q(q_stage + warp * 16 * Layout::kPitch);

  const bool dropout_on = dropout.probability > 0.0f;
  const float keep_scale = attention_keep_scale(dropout.probability);
  const int warp_first_token = first_token + query_start + warp * 16;
  float out[Layout::kHeadTiles][4], row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.0f, 0.0f};
  zero(out);

  for (int key_start = 0, buffer = 0; key_start < length; key_start += kCols, buffer ^= 1) {
    const int key_count = min(kCols, length - key_start);
    wait_copies();
    // Tile `buffer` has landed for every thread, and the other buffer (the previous tile, or
    // Q) is no longer read: the next tile may be copied into it.
    __syncthreads();
    const int next_start = key_start + kCols;
    if (next_start < length) {
      load_tile_async<kHeadDim>(k_tiles[buffer ^ 1], keys + next_start * row_stride, row_stride,
                                min(kCols, length - next_start));
      load_tile_async<kHeadDim>(v_tiles[buffer ^ 1], values + next_start * row_stride, row_stride,
                                min(kCols, length - next_start));
    }
    if (dropout_on) {
      draw_row_bits(keep_bits[warp], dropout, warp_first_token, head, shape, key_start);
      __syncwarp();
    }
    const bf16* k_tile = k_tiles[buffer];
    const bf16* v_tile = v_tiles[buffer];

    float s[kScoreTiles][4];
    zero(s);
    q.times_transposed(s, k_tile);

#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kScoreTiles; ++nt)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          float& value = s[nt][2 * r + j];
          value = 8 * nt + 2 * t + j < key_count ? value * scale_log2 : -INFINITY;
          tile_max = fmaxf(tile_max, value);
        }
      // Key 0 of every tile is valid, so new_max is finite.
      const float new_max = fmaxf(row_max[r], quad_max(tile_max));
      const float correction = exp2f(row_max[r] - new_max);  // 0 on the first tile
      float tile_sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < kScoreTiles; ++nt)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
          float& value = s[nt][2 * r + j];
          value = exp2f(value - new_max);  // masked keys: exp2(-inf) = 0
          tile_sum += value;
          if (dropout_on)
            value *= keep_factor(keep_bits[warp], g + 8 * r, 8 * nt + 2 * t + j, keep_scale);
        }
      row_sum[r] = row_sum[r] * correction + tile_sum;
      row_max[r] = new_max;
#pragma unroll
      for (int nt = 0; nt < Layout::kHeadTiles; ++nt) {
        out[nt][2 * r] *= correction;
        out[nt][2 * r + 1] *= correction;
      }
    }
    gemm_p_b<kHeadDim, kScoreSteps>(out, s, v_tile);
  }

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float total = quad_sum(row_sum[r]);
    const int query = warp * 16 + g + 8 * r;
    if (query >= query_count) continue;
    const int token = first_token + query_start + query;
    const float inverse = 1.0f / total;
    bf16* row = ctx + static_cast<size_t>(token) * hidden + head * kHeadDim + 2 * t;
#pragma unroll
    for (int nt = 0; nt < Layout::kHeadTiles; ++nt)
      *reinterpret_cast<uint32_t*>(row + 8 * nt) =
          pack_bf16x2(out[nt][2 * r] * inverse, out[nt][2 * r + 1] * inverse);
    if (t == 0)
      lse[static_cast<size_t>(token) * shape.heads + head] = (row_max[r] + log2f(total)) * kLn2;
  }
}

}  // namespace
}  // namespace mma

bool mma_supported(const void* a, const void* b, const void* c, const void* d) {
  return is_aligned(a, 16) && is_aligned(b, 16) && is_aligned(c, 16) && is_aligned(d, 16);
}

bool runs_mma_kernels(AttentionImpl impl, int head_dim, const void* a, const void* b, const void* c,
                      const void* d) {
  return impl != AttentionImpl::kScalar && mma_head_dim(head_dim) && mma_supported(a, b, c, d);
}

void forward_mma(bf16* ctx, float* lse, const bf16* qkv, const int32_t* cu_seqlens,
                 const AttentionShape& shape, const DropoutSpec& dropout, bool lean,
                 GpuStream stream) {
  const int tiles = div_up(length_bound(shape), mma::kRows);
  const float scale_log2 = kLog2e / sqrtf(static_cast<float>(shape.head_dim));
  const dim3 grid(shape.batch * tiles, shape.heads);
  with_mma_head_dim(shape.head_dim, "attention_forward_cuda", [&](auto head_dim) {
    constexpr int kHeadDim = decltype(head_dim)::value;
    auto kernel = lean ? mma::attention_forward_mma_kernel<kHeadDim, true>
                       : mma::attention_forward_mma_kernel<kHeadDim, false>;
    launch_kernel(kernel, grid, mma::kThreads, 0, stream, ctx, lse, qkv, cu_seqlens, shape, dropout,
                  tiles, scale_log2);
  });
  CUDA_LAUNCH_CHECK("attention_forward_mma_kernel");
}

}  // namespace attention
}  // namespace bert
