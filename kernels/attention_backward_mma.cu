// Attention backward on tensor cores (kernels/attention_variants.h, kMma); deterministic, the
// same two passes as the scalar kernels (row_dot D comes from the caller):
//   key pass: a block of 4 warps owns 64 keys of one (sequence, head), each warp 16 keys whose
//     K and V fragments stay in registers; query tiles of 64 (Q, dO, lse, D) stream through
//     shared memory. Per tile and warp: Sᵀ = K·Qᵀ, dPdᵀ = V·dOᵀ (16 keys × 64 queries, fp32),
//     Pᵀ = exp2(Sᵀ·log2e/√d − lse·log2e), Pdᵀ = Pᵀ·mask/(1−p), dSᵀ = Pᵀ∘(dPdᵀ·mask/(1−p) − D),
//     then dV += Pdᵀ·dO and dK += dSᵀ·Q with Pdᵀ, dSᵀ rounded to bf16 (dK scaled by 1/√d at the end).
//   query pass: a block owns 64 queries (Q, dO fragments in registers), key tiles stream:
//     S = Q·Kᵀ, dPd = dO·Vᵀ, dS as above, dQ += dS·K·(1/√d).
// One-pass variant (kMmaOnePass): a block per (sequence, head) runs the key pass over each key
// block in turn, and per query tile also writes its dSᵀ (bf16) to shared memory, after which
// warp w forms dQ of queries 16w.. over the block's 64 keys (dS·K, K kept in shared memory):
// five tile products instead of the two passes' seven, and the mask drawn once instead of twice.
// dQ is summed over the key blocks in order in an fp32 workspace [tokens, hidden] that only this
// block touches, so it stays deterministic without atomics; the last key block stores it.
// Fewer blocks (batch × heads, each walking its sequence's key blocks serially) is its cost.
// Dropout keep bits are drawn per warp into shared memory (16 keys per Philox call), for the key
// pass as [query][the warp's 16 keys], for the query pass as [row][16-key chunk].
// Register-lean builds (kLean: AttentionImpl::kMmaLean of the two passes, kMmaOnePassLean of the
// one-pass kernel; candidates): the block's resident operand (K and V; Q and dO) stays in
// shared tiles of its own and its fragments are read per k-step (ResidentRows) instead of
// held in registers, and each 64-wide score tile is formed in two halves of 32 (half the S and
// dPd registers), so the kernels fit 3 resident blocks per SM (168 registers) instead of 2.
// Each accumulator receives the same products in the same order, so the results are the same
// bits.
// Both passes are templated on head_dim (32 or 64, HeadLayout in attention_mma.cuh): the
// register-resident K, V (Q, dO) fragments and the k-steps of the S/dPd products are head_dim/16,
// the dK, dV (dQ) accumulators and the stored row segments head_dim/8 n-tiles.
#include "kernels/attention_mma.cuh"
#include "kernels/attention_variants.h"

namespace bert {
namespace attention {
namespace mma {
namespace {

using Args = BackwardArgs<bf16>;

template <int kHeadDim>
__device__ __forceinline__ void store_rows(bf16* first_row, size_t row_stride, int rows_left,
                                           const float acc[HeadLayout<kHeadDim>::kHeadTiles][4],
                                           float scale) {
  const int g = lane_group(), t = lane_thread();
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (g + 8 * r >= rows_left) continue;
    bf16* row = first_row + (g + 8 * r) * row_stride + 2 * t;
#pragma unroll
    for (int nt = 0; nt < HeadLayout<kHeadDim>::kHeadTiles; ++nt)
      *reinterpret_cast<uint32_t*>(row + 8 * nt) =
          pack_bf16x2(acc[nt][2 * r] * scale, acc[nt][2 * r + 1] * scale);
  }
}

// dSᵀ rows: 64 queries of bf16 plus 8 of padding (the bank argument of kPitch 72 above).
constexpr int kScorePitch = kCols + 8;

// Shared memory of the key pass. The one-pass kernel adds K (the B operand of dQ = dS·K, kept
// for the whole key block) and the block's dSᵀ tile (written by each warp for its 16 keys,
// read by every warp for its 16 queries); the lean kernels keep K and V for the whole key
// block. An array a variant does not use has 8 elements (16 bytes: the next stays aligned).
template <int kHeadDim, bool kOnePass, bool kLean>
struct KeyPassShared {
  static constexpr int kTile = HeadLayout<kHeadDim>::kTileElements;
  // Double-buffered: query tile i + 1 is copied (cp.async) while tile i is computed.
  bf16 q_tiles[2][kTile];   // [query][d]
  bf16 do_tiles[2][kTile];  // [query][d]
  float lse_log2[2][kCols], dot[2][kCols];
  uint32_t keep_bits[kWarps][kCols];                  // [query]: bit i = key 16·warp + i
  bf16 k_tile[kOnePass || kLean ? kTile : 8];         // [key][d]
  bf16 v_tile[kLean ? kTile : 8];                     // [key][d]
  bf16 ds_tile[kOnePass ? kRows * kScorePitch : 8];  // [key][query]
};
// Halves of a score tile the lean kernels form one after the other (1: the whole tile at once).
template <bool kLean>
constexpr int kScoreParts = kLean ? 2 : 1;
// Resident blocks per SM the kernels are compiled for (__launch_bounds__' second argument; 0
// emits no bound, as if it were omitted: up to 255 registers, 2 blocks of 4 warps per SM).
template <bool kLean>
constexpr int kMinBlocks = kLean ? 3 : 0;

// Where the one-pass kernel adds up dQ: fp32 [tokens, hidden] in the workspace, read back and
// rewritten by the very lane that wrote it (the same element ↔ lane map for every key block),
// so no barrier and no atomics are needed and the sum order is the key blocks' order.
struct QueryGradient {
  float* accumulator;
  bool first_block, last_block;  // of the sequence's key blocks: overwrite / store bf16
};

// Adds a warp's 16 × head_dim dQ partial (query rows first_token.., rows_left of them valid)
// into the fp32 accumulator, or on the sequence's last key block stores the total, scaled by
// 1/√d, as bf16 into d_qkv's q slot.
template <int kHeadDim>
__device__ __forceinline__ void accumulate_query_rows(
    const Args& args, QueryGradient query_grad,
    const float d_query[HeadLayout<kHeadDim>::kHeadTiles][4], int first_token, int rows_left,
    int head) {
  const int g = lane_group(), t = lane_thread();
  const int hidden = args.shape.heads * kHeadDim;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (g + 8 * r >= rows_left) continue;
    const size_t token = static_cast<size_t>(first_token + g + 8 * r);
    float* sums = query_grad.accumulator + token * hidden + head * kHeadDim + 2 * t;
    bf16* out = args.d_qkv + token * 3 * hidden + head * kHeadDim + 2 * t;
    // Every sum of the row is loaded before the first store: the stores may alias the loads as
    // far as the compiler knows, so loads and stores interleaved would wait out a round trip to
    // L2 each, one after another.
    float2 before[HeadLayout<kHeadDim>::kHeadTiles];
#pragma unroll
    for (int nt = 0; nt < HeadLayout<kHeadDim>::kHeadTiles; ++nt)
      before[nt] = query_grad.first_block ? make_float2(0.0f, 0.0f)
                                          : *reinterpret_cast<const float2*>(sums + 8 * nt);
#pragma unroll
    for (int nt = 0; nt < HeadLayout<kHeadDim>::kHeadTiles; ++nt) {
      float lo = d_query[nt][2 * r], hi = d_query[nt][2 * r + 1];
      if (!query_grad.first_block) {
        lo += before[nt].x;
        hi += before[nt].y;
      }
      if (query_grad.last_block)
        *reinterpret_cast<uint32_t*>(out + 8 * nt) = pack_bf16x2(lo * args.scale, hi * args.scale);
      else
        *reinterpret_cast<float2*>(sums + 8 * nt) = make_float2(lo, hi);
    }
  }
}

// One key block of 64 keys of (sequence, head): streams every query tile, writes dK and dV.
// With kOnePass it also forms dQ += dS·K for each query tile (QueryGradient).
template <int kHeadDim, bool kOnePass, bool kLean>
__device__ __forceinline__ void key_block_pass(const Args& args,
                                               KeyPassShared<kHeadDim, kOnePass, kLean>& shared,
                                               int first_token, int length, int head,
                                               int key_start, QueryGradient query_grad) {
  using Layout = HeadLayout<kHeadDim>;
  const AttentionShape& shape = args.shape;
  const int key_count = min(kRows, length - key_start);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane_group(), t = lane_thread();
  const int hidden = shape.heads * kHeadDim;
  const size_t row_stride = 3 * static_cast<size_t>(hidden);
  const bf16* head_qkv = args.qkv + static_cast<size_t>(first_token) * row_stride + head * kHeadDim;
  const bf16* head_dctx = args.d_ctx + static_cast<size_t>(first_token) * hidden + head * kHeadDim;
  auto& q_tiles = shared.q_tiles;
  auto& do_tiles = shared.do_tiles;
  auto& lse_log2 = shared.lse_log2;
  auto& dot = shared.dot;
  auto& keep_bits = shared.keep_bits;

  // Starts copying query tile `query_start` into buffer b: Q and dO asynchronously; its lse
  // and D (thread q < kCols: query q's) into registers, which store_query_stats(b) writes to
  // shared memory once a tile's products have run, so no warp waits for those loads.
  float next_lse = 0.0f, next_dot = 0.0f;
  auto load_query_tile = [&](int b, int query_start) {
    const int query_count = min(kCols, length - query_start);
    load_tile_async<kHeadDim>(q_tiles[b], head_qkv + query_start * row_stride, row_stride,
                              query_count);
    load_tile_async<kHeadDim>(do_tiles[b], head_dctx + static_cast<size_t>(query_start) * hidden,
                              hidden, query_count);
    if (threadIdx.x < kCols) {
      const int query = threadIdx.x;
      const size_t index =
          static_cast<size_t>(first_token + query_start + query) * shape.heads + head;
      next_lse = query < query_count ? args.lse[index] : 0.0f;
      next_dot = query < query_count ? args.row_dot[index] : 0.0f;
    }
  };
  auto store_query_stats = [&](int b) {
    if (threadIdx.x < kCols) {
      lse_log2[b][threadIdx.x] = next_lse * kLog2e;  // 0 past the end, as 0 · log2(e)
      dot[b][threadIdx.x] = next_dot;
    }
  };

  // K and V staged into registers (the one-pass kernel keeps K in shared memory too, the lean
  // one K and V). K, V and query tile 0 are all in flight at once: one memory latency before
  // the first product instead of one per tile.
  bf16* k_stage = kOnePass || kLean ? shared.k_tile : q_tiles[1];
  bf16* v_stage = kLean ? shared.v_tile : do_tiles[1];
  load_tile_async<kHeadDim>(k_stage, head_qkv + hidden + key_start * row_stride, row_stride,
                            key_count);
  load_tile_async<kHeadDim>(v_stage, head_qkv + 2 * hidden + key_start * row_stride, row_stride,
                            key_count);
  load_query_tile(0, 0);
  store_query_stats(0);
  wait_copies();
  __syncthreads();
  const ResidentRows<kHeadDim, kLean> k(k_stage + warp * 16 * Layout::kPitch),
      v(v_stage + warp * 16 * Layout::kPitch);

  const bool dropout_on = args.dropout.probability > 0.0f;
  const float keep_scale = attention_keep_scale(args.dropout.probability);
  const int warp_keys = key_count - warp * 16;  // valid keys of this warp (may be ≤ 0)
  float d_key[Layout::kHeadTiles][4], d_value[Layout::kHeadTiles][4];
  zero(d_key);
  zero(d_value);

  for (int query_start = 0, buffer = 0; query_start < length;
       query_start += kCols, buffer ^= 1) {
    const int query_count = min(kCols, length - query_start);
    wait_copies();
    // Tile `buffer` has landed for every thread; the other buffer (and, one pass, the dSᵀ
    // tile) is no longer read.
    __syncthreads();
    const bool next_tile = query_start + kCols < length;
    if (next_tile) load_query_tile(buffer ^ 1, query_start + kCols);
    if (dropout_on) {
#pragma unroll
      for (int query = lane; query < kCols; query += 32)
        keep_bits[warp][query] = attention_keep_bits16(
            args.dropout, dropout_row_index(first_token + query_start + query, head, shape) +
                              key_start + warp * 16);
      __syncwarp();
    }
    const bf16* q_tile = q_tiles[buffer];
    const bf16* do_tile = do_tiles[buffer];
    const float* tile_lse_log2 = lse_log2[buffer];
    const float* tile_dot = dot[buffer];

    // The tile's queries in kParts parts of kTiles n-tiles (8 queries each).
    constexpr int kParts = kScoreParts<kLean>, kTiles = kScoreTiles / kParts;
#pragma unroll
    for (int part = 0; part < kParts; ++part) {
      const int first_query = part * kTiles * 8;
      const bf16* q_part = q_tile + first_query * Layout::kPitch;
      const bf16* do_part = do_tile + first_query * Layout::kPitch;
      float s[kTiles][4], dp[kTiles][4];  // [query n-tile][key g, g+8 × query 2t, 2t+1]
      zero(s);
      zero(dp);
      k.times_transposed(s, q_part);
      v.times_transposed(dp, do_part);
#pragma unroll
      for (int nt = 0; nt < kTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int key = g + 8 * (e / 2), query = first_query + 8 * nt + 2 * t + e % 2;
          const bool valid = key < warp_keys && query < query_count;
          const float p =
              valid ? exp2f(s[nt][e] * args.scale_log2 - tile_lse_log2[query]) : 0.0f;
          const float factor =
              dropout_on ? ((keep_bits[warp][query] >> key) & 1u ? keep_scale : 0.0f) : 1.0f;
          s[nt][e] = p * factor;
          dp[nt][e] = p * (dp[nt][e] * factor - tile_dot[query]);
        }
      if constexpr (kOnePass) {
        // This warp's 16 rows of dSᵀ, rounded to bf16 as the dK product rounds them.
        bf16* ds_rows = shared.ds_tile + (warp * 16 + g) * kScorePitch + first_query + 2 * t;
#pragma unroll
        for (int nt = 0; nt < kTiles; ++nt)
#pragma unroll
          for (int r = 0; r < 2; ++r)
            *reinterpret_cast<uint32_t*>(ds_rows + 8 * r * kScorePitch + 8 * nt) =
                pack_bf16x2(dp[nt][2 * r], dp[nt][2 * r + 1]);
      }
      gemm_p_b<kHeadDim, kTiles / 2>(d_value, s, do_part);
      gemm_p_b<kHeadDim, kTiles / 2>(d_key, dp, q_part);
    }
    if constexpr (kOnePass) {
      __syncthreads();  // every warp's dSᵀ rows are in
      float d_query[Layout::kHeadTiles][4];
      zero(d_query);
      gemm_at_b<kHeadDim, kScorePitch>(d_query, shared.ds_tile + warp * 16, shared.k_tile);
      accumulate_query_rows<kHeadDim>(args, query_grad, d_query,
                                      first_token + query_start + warp * 16,
                                      query_count - warp * 16, head);
    }
    // The next tile's lse and D, loaded while this tile was computed; the barrier at the top
    // of the next iteration publishes them (buffer ^ 1 was last read before that of this one).
    if (next_tile) store_query_stats(buffer ^ 1);
  }

  bf16* first_row = args.d_qkv + static_cast<size_t>(first_token + key_start + warp * 16) *
                                     row_stride + head * kHeadDim;
  store_rows<kHeadDim>(first_row + hidden, row_stride, warp_keys, d_key, args.scale);
  store_rows<kHeadDim>(first_row + 2 * hidden, row_stride, warp_keys, d_value, 1.0f);
}

// Two-pass key kernel: a block per (sequence, key block, head); dQ comes from the query pass.
// The lean kernel's shared memory (over 48 KB with K and V) is dynamic.
template <int kHeadDim, bool kLean>
__global__ void __launch_bounds__(kThreads, kMinBlocks<kLean>)
    attention_backward_key_mma_kernel(Args args) {
  grid_dependency_sync();
  const int sequence = blockIdx.x / args.tiles, key_block = blockIdx.x % args.tiles;
  const int first_token = args.cu_seqlens[sequence];
  const int length = args.cu_seqlens[sequence + 1] - first_token;
  const int key_start = key_block * kRows;
  if (key_start >= length) return;
  if constexpr (kLean) {
    extern __shared__ float4 shared_raw[];
    auto& shared = *reinterpret_cast<KeyPassShared<kHeadDim, false, true>*>(shared_raw);
    key_block_pass<kHeadDim, false, true>(args, shared, first_token, length, blockIdx.y,
                                          key_start, QueryGradient{});
  } else {
    __shared__ __align__(16) KeyPassShared<kHeadDim, false, false> shared;
    key_block_pass<kHeadDim, false, false>(args, shared, first_token, length, blockIdx.y,
                                           key_start, QueryGradient{});
  }
}

// One-pass kernel: a block per (sequence, head) walks the key blocks in order, so it alone
// owns the sequence's dQ rows of that head and adds them up without atomics. Lean: 3 blocks
// per SM, so a batch of 32 sequences × 12 heads (384 blocks) is resident at once on 132 SMs.
template <int kHeadDim, bool kLean>
__global__ void __launch_bounds__(kThreads, kMinBlocks<kLean>)
    attention_backward_one_pass_mma_kernel(Args args, float* dq_accumulator) {
  grid_dependency_sync();
  extern __shared__ float4 shared_raw[];
  auto& shared = *reinterpret_cast<KeyPassShared<kHeadDim, true, kLean>*>(shared_raw);
  const int sequence = blockIdx.x;
  const int first_token = args.cu_seqlens[sequence];
  const int length = args.cu_seqlens[sequence + 1] - first_token;
  for (int key_start = 0; key_start < length; key_start += kRows) {
    __syncthreads();  // the previous key block's tiles are no longer read
    const QueryGradient query_grad{dq_accumulator, key_start == 0, key_start + kRows >= length};
    key_block_pass<kHeadDim, true, kLean>(args, shared, first_token, length, blockIdx.y,
                                          key_start, query_grad);
  }
}

// Shared memory of the query pass; the lean one keeps the block's Q and dO for the whole pass
// (8-element stubs otherwise, as in KeyPassShared).
template <int kHeadDim, bool kLean>
struct QueryPassShared {
  static constexpr int kTile = HeadLayout<kHeadDim>::kTileElements;
  // Double-buffered: key tile i + 1 is copied (cp.async) while tile i is computed.
  bf16 k_tiles[2][kTile];              // [key][d]
  bf16 v_tiles[2][kTile];              // [key][d]
  uint32_t keep_bits[kWarps][16 * 4];  // [row][16-key chunk]
  bf16 q_tile[kLean ? kTile : 8];      // [query][d]
  bf16 do_tile[kLean ? kTile : 8];     // [query][d]
};

// One query block of 64 queries of (sequence, head): streams every key tile, writes dQ.
template <int kHeadDim, bool kLean>
__device__ __forceinline__ void query_block_pass(const Args& args,
                                                 QueryPassShared<kHeadDim, kLean>& shared) {
  using Layout = HeadLayout<kHeadDim>;
  auto& k_tiles = shared.k_tiles;
  auto& v_tiles = shared.v_tiles;
  auto& keep_bits = shared.keep_bits;
  const AttentionShape& shape = args.shape;
  const int sequence = blockIdx.x / args.tiles, query_block = blockIdx.x % args.tiles;
  const int head = blockIdx.y;
  const int first_token = args.cu_seqlens[sequence];
  const int length = args.cu_seqlens[sequence + 1] - first_token;
  const int query_start = query_block * kRows;
  if (query_start >= length) return;
  const int query_count = min(kRows, length - query_start);
  const int warp = threadIdx.x / 32, g = lane_group(), t = lane_thread();
  const int hidden = shape.heads * kHeadDim;
  const size_t row_stride = 3 * static_cast<size_t>(hidden);
  const bf16* head_qkv = args.qkv + static_cast<size_t>(first_token) * row_stride + head * kHeadDim;
  const bf16* head_dctx = args.d_ctx + static_cast<size_t>(first_token) * hidden + head * kHeadDim;
  const bf16* keys = head_qkv + hidden;
  const bf16* values = head_qkv + 2 * hidden;

  // Q and dO staged through buffer 1 into registers (lean: kept in tiles of their own). Q, dO
  // and key tile 0 are all in flight at once: one memory latency before the first product.
  bf16* q_stage = kLean ? shared.q_tile : k_tiles[1];
  bf16* do_stage = kLean ? shared.do_tile : v_tiles[1];
  load_tile_async<kHeadDim>(q_stage, head_qkv + query_start * row_stride, row_stride, query_count);
  load_tile_async<kHeadDim>(do_stage, head_dctx + static_cast<size_t>(query_start) * hidden, hidden,
                            query_count);
  load_tile_async<kHeadDim>(k_tiles[0], keys, row_stride, min(kCols, length));
  load_tile_async<kHeadDim>(v_tiles[0], values, row_stride, min(kCols, length));
  wait_copies();
  __syncthreads();
  const ResidentRows<kHeadDim, kLean> q(q_stage + warp * 16 * Layout::kPitch),
      d_out(do_stage + warp * 16 * Layout::kPitch);

  const int warp_queries = query_count - warp * 16;  // valid rows of this warp (may be ≤ 0)
  const int warp_first_token = first_token + query_start + warp * 16;
  float lse_log2[2], dot[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    // Rows past the end read a valid row's values; they are never stored.
    const int token = first_token + query_start + min(warp * 16 + g + 8 * r, query_count - 1);
    const size_t index = static_cast<size_t>(token) * shape.heads + head;
    lse_log2[r] = args.lse[index] * kLog2e;
    dot[r] = args.row_dot[index];
  }
  const bool dropout_on = args.dropout.probability > 0.0f;
  const float keep_scale = attention_keep_scale(args.dropout.probability);
  float d_query[Layout::kHeadTiles][4];
  zero(d_query);

  for (int key_start = 0, buffer = 0; key_start < length; key_start += kCols, buffer ^= 1) {
    const int key_count = min(kCols, length - key_start);
    wait_copies();
    // Tile `buffer` has landed for every thread; the other buffer is no longer read.
    __syncthreads();
    const int next_start = key_start + kCols;
    if (next_start < length) {
      load_tile_async<kHeadDim>(k_tiles[buffer ^ 1], keys + next_start * row_stride, row_stride,
                                min(kCols, length - next_start));
      load_tile_async<kHeadDim>(v_tiles[buffer ^ 1], values + next_start * row_stride, row_stride,
                                min(kCols, length - next_start));
    }
    if (dropout_on) {
      draw_row_bits(keep_bits[warp], args.dropout, warp_first_token, head, shape, key_start);
      __syncwarp();
    }
    const bf16* k_tile = k_tiles[buffer];
    const bf16* v_tile = v_tiles[buffer];

    // The tile's keys in kParts parts of kTiles n-tiles (8 keys each).
    constexpr int kParts = kScoreParts<kLean>, kTiles = kScoreTiles / kParts;
#pragma unroll
    for (int part = 0; part < kParts; ++part) {
      const int first_key = part * kTiles * 8;
      const bf16* k_part = k_tile + first_key * Layout::kPitch;
      const bf16* v_part = v_tile + first_key * Layout::kPitch;
      float s[kTiles][4], dp[kTiles][4];  // [key n-tile][query g, g+8 × key 2t, 2t+1]
      zero(s);
      zero(dp);
      q.times_transposed(s, k_part);
      d_out.times_transposed(dp, v_part);
#pragma unroll
      for (int nt = 0; nt < kTiles; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e / 2, key = first_key + 8 * nt + 2 * t + e % 2;
          const bool valid = g + 8 * r < warp_queries && key < key_count;
          const float p = valid ? exp2f(s[nt][e] * args.scale_log2 - lse_log2[r]) : 0.0f;
          const float factor =
              dropout_on ? keep_factor(keep_bits[warp], g + 8 * r, key, keep_scale) : 1.0f;
          s[nt][e] = p * (dp[nt][e] * factor - dot[r]);
        }
      gemm_p_b<kHeadDim, kTiles / 2>(d_query, s, k_part);
    }
  }

  store_rows<kHeadDim>(
      args.d_qkv + static_cast<size_t>(warp_first_token) * row_stride + head * kHeadDim,
      row_stride, warp_queries, d_query, args.scale);
}

// The lean kernel's shared memory (over 48 KB with Q and dO) is dynamic.
template <int kHeadDim, bool kLean>
__global__ void __launch_bounds__(kThreads, kMinBlocks<kLean>)
    attention_backward_query_mma_kernel(Args args) {
  grid_dependency_sync();
  if constexpr (kLean) {
    extern __shared__ float4 shared_raw[];
    query_block_pass<kHeadDim, true>(
        args, *reinterpret_cast<QueryPassShared<kHeadDim, true>*>(shared_raw));
  } else {
    __shared__ __align__(16) QueryPassShared<kHeadDim, false> shared;
    query_block_pass<kHeadDim, false>(args, shared);
  }
}

}  // namespace
}  // namespace mma

void backward_mma(bf16* d_qkv, const bf16* d_ctx, const bf16* qkv, const float* lse,
                  const float* row_dot, const int32_t* cu_seqlens, const AttentionShape& shape,
                  const DropoutSpec& dropout, bool lean, GpuStream stream) {
  const mma::Args args = backward_args(d_qkv, d_ctx, qkv, lse, row_dot, cu_seqlens, shape, dropout,
                                       div_up(length_bound(shape), mma::kRows));
  const dim3 grid(shape.batch * args.tiles, shape.heads);
  with_mma_head_dim(shape.head_dim, "attention_backward_cuda", [&](auto head_dim) {
    constexpr int kHeadDim = decltype(head_dim)::value;
    if (lean) {
      constexpr size_t kKeyShared = sizeof(mma::KeyPassShared<kHeadDim, false, true>);
      constexpr auto key_kernel = mma::attention_backward_key_mma_kernel<kHeadDim, true>;
      allow_dynamic_shared_memory<key_kernel, kKeyShared>();
      launch_kernel(key_kernel, grid, mma::kThreads, kKeyShared, stream, args);
      CUDA_LAUNCH_CHECK("attention_backward_key_mma_kernel (lean)");
      constexpr size_t kQueryShared = sizeof(mma::QueryPassShared<kHeadDim, true>);
      constexpr auto query_kernel = mma::attention_backward_query_mma_kernel<kHeadDim, true>;
      allow_dynamic_shared_memory<query_kernel, kQueryShared>();
      launch_kernel(query_kernel, grid, mma::kThreads, kQueryShared, stream, args);
      CUDA_LAUNCH_CHECK("attention_backward_query_mma_kernel (lean)");
      return;
    }
    auto key_kernel = mma::attention_backward_key_mma_kernel<kHeadDim, false>;
    launch_kernel(key_kernel, grid, mma::kThreads, 0, stream, args);
    CUDA_LAUNCH_CHECK("attention_backward_key_mma_kernel");
    auto query_kernel = mma::attention_backward_query_mma_kernel<kHeadDim, false>;
    launch_kernel(query_kernel, grid, mma::kThreads, 0, stream, args);
    CUDA_LAUNCH_CHECK("attention_backward_query_mma_kernel");
  });
}

void backward_mma_one_pass(bf16* d_qkv, const bf16* d_ctx, const bf16* qkv, const float* lse,
                           const float* row_dot, float* dq_accumulator,
                           const int32_t* cu_seqlens, const AttentionShape& shape,
                           const DropoutSpec& dropout, bool lean, GpuStream stream) {
  const mma::Args args = backward_args(d_qkv, d_ctx, qkv, lse, row_dot, cu_seqlens, shape, dropout,
                                       div_up(length_bound(shape), mma::kRows));
  const dim3 grid(shape.batch, shape.heads);
  with_mma_head_dim(shape.head_dim, "attention_backward_cuda", [&](auto head_dim) {
    constexpr int kHeadDim = decltype(head_dim)::value;
    auto launch = [&](auto lean_flag) {
      constexpr bool kLean = decltype(lean_flag)::value;
      constexpr size_t kShared = sizeof(mma::KeyPassShared<kHeadDim, true, kLean>);
      constexpr auto kernel = mma::attention_backward_one_pass_mma_kernel<kHeadDim, kLean>;
      allow_dynamic_shared_memory<kernel, kShared>();
      launch_kernel(kernel, grid, mma::kThreads, kShared, stream, args, dq_accumulator);
    };
    if (lean)
      launch(std::true_type{});
    else
      launch(std::false_type{});
    CUDA_LAUNCH_CHECK("attention_backward_one_pass_mma_kernel");
  });
}

}  // namespace attention
}  // namespace bert
