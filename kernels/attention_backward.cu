// Attention backward (kernels/attention.h), deterministic, in three launches:
//   1. row_dot[t, h] = Σ_c d_ctx·ctx (one warp per (token, head));
//   2. key pass: a block owns 64 keys of one (sequence, head), streams the query tiles,
//      recomputes Sᵀ = K·Qᵀ and P = exp2(S·log2e/√d − lse·log2e), dPdᵀ = V·d_ctxᵀ, applies the
//      regenerated mask (Pd = P·m/(1−p), dP = dPd·m/(1−p)), dS = P∘(dP − row_dot), and
//      accumulates dv += Pdᵀ·d_ctx, dk += dSᵀ·Q (scaled by 1/√d at the end);
//   3. query pass: a block owns 64 queries, streams the key tiles, recomputes S, P, dPd, dS
//      the same way and accumulates dq += dS·K·(1/√d).
// Each output element has one owner block, so no atomics are needed; the recomputation of S
// and dPd in pass 3 is the price (7 tile products instead of 5).
// These are the scalar kernels (float, and bf16 under BERT_ATTENTION_KERNEL=scalar); bf16 goes to
// the tensor-core passes of attention_backward_mma.cu by default (or its one-pass kernel, which
// also forms dq, under BERT_ATTENTION_KERNEL=mma_one_pass), after the same row_dot launch.
// A head_dim below 64 keeps the 64-wide thread mapping (attention_common.cuh): the products over
// head_dim (Sᵀ, dPdᵀ; S, dPd) run to depth head_dim (rounded up to 4), the products over
// queries/keys (dV, dK; dQ) compute 64 columns of which those past head_dim are zeros
// (zero-filled padding of dO, Q, K) and are not stored: at 32 the key pass costs 3/4 and the
// query pass 2/3 of a head_dim-64 head's FMAs instead of 1/2.
#include <type_traits>

#include "kernels/attention_common.cuh"
#include "kernels/attention_variants.h"

namespace bert {
namespace attention {
namespace {

// The workspace starts with row_dot [tokens, heads] (fp32).
size_t row_dot_bytes(const AttentionShape& shape) {
  return align_bytes(static_cast<size_t>(shape.tokens) * shape.heads * sizeof(float));
}

// Key pass: K, V, Q, Qᵀ, dO, dOᵀ, Pdᵀ, dSᵀ tiles plus lse and row_dot of the query tile.
constexpr size_t kKeyPassSharedBytes = (8 * kTileFloats + 2 * kTile) * sizeof(float);
// Query pass: Q, dO, K, Kᵀ, Vᵀ, dS tiles.
constexpr size_t kQueryPassSharedBytes = 6 * kTileFloats * sizeof(float);

template <typename T>
__global__ void row_dot_kernel(float* row_dot, const T* d_ctx, const T* ctx, size_t rows,
                               int head_dim) {
  grid_dependency_sync();
  // One warp per row (rows = tokens·heads; head slices are contiguous in [tokens, hidden]),
  // striding over the rows: the grid is capped, and 32·rows may pass 2³¹.
  const int lane = threadIdx.x % 32;
  const size_t warps = static_cast<size_t>(gridDim.x) * blockDim.x / 32;
  for (size_t warp = (static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32; warp < rows;
       warp += warps) {
    const size_t base = warp * head_dim;
    float sum = 0.0f;
    for (int c = lane; c < head_dim; c += 32)
      sum += to_float(d_ctx[base + c]) * to_float(ctx[base + c]);
    sum = warp_sum(sum);
    if (lane == 0) row_dot[warp] = sum;
  }
}

template <int kHeadDim, typename T>
__global__ void __launch_bounds__(kThreads) attention_backward_key_kernel(BackwardArgs<T> args) {
  grid_dependency_sync();
  extern __shared__ float4 shared_raw[];
  float* k_tile = reinterpret_cast<float*>(shared_raw);  // [key][d]
  float* v_tile = k_tile + kTileFloats;                  // [key][d]
  float* q_tile = v_tile + kTileFloats;                  // [query][d]
  float* q_transposed = q_tile + kTileFloats;            // [d][query]
  float* do_tile = q_transposed + kTileFloats;           // [query][d]
  float* do_transposed = do_tile + kTileFloats;          // [d][query]
  float* pd_tile = do_transposed + kTileFloats;          // [key][query]: dropout(P)ᵀ
  float* ds_tile = pd_tile + kTileFloats;                // [key][query]: dSᵀ
  float* lse_log2 = ds_tile + kTileFloats;               // [query]
  float* dot = lse_log2 + kTile;                         // [query]

  const AttentionShape& shape = args.shape;
  const int sequence = blockIdx.x / args.tiles, key_block = blockIdx.x % args.tiles;
  const int head = blockIdx.y;
  const int first_token = args.cu_seqlens[sequence];
  const int length = args.cu_seqlens[sequence + 1] - first_token;
  const int key_start = key_block * kTile;
  if (key_start >= length) return;
  const int key_count = min(kTile, length - key_start);

  const int head_dim = head_dim_of<kHeadDim>(shape);
  const int hidden = shape.heads * head_dim;
  const size_t row_stride = 3 * static_cast<size_t>(hidden);
  const T* head_qkv = args.qkv + static_cast<size_t>(first_token) * row_stride + head * head_dim;
  const T* head_dctx = args.d_ctx + static_cast<size_t>(first_token) * hidden + head * head_dim;
  load_tile<kHeadDim>(k_tile, nullptr, head_qkv + hidden + key_start * row_stride, row_stride,
                      key_count, head_dim);
  load_tile<kHeadDim>(v_tile, nullptr, head_qkv + 2 * hidden + key_start * row_stride, row_stride,
                      key_count, head_dim);

  const int ty = thread_row(), tx = thread_col();
  const bool dropout_on = args.dropout.probability > 0.0f;
  float d_key[4][4], d_value[4][4];
  zero(d_key);
  zero(d_value);

  for (int query_start = 0; query_start < length; query_start += kTile) {
    const int query_count = min(kTile, length - query_start);
    __syncthreads();  // previous tiles no longer read
    load_tile<kHeadDim>(q_tile, q_transposed, head_qkv + query_start * row_stride, row_stride,
                        query_count, head_dim);
    load_tile<kHeadDim>(do_tile, do_transposed,
                        head_dctx + static_cast<size_t>(query_start) * hidden, hidden, query_count,
                        head_dim);
    if (threadIdx.x < kTile) {
      const int query = threadIdx.x;
      const size_t index =
          static_cast<size_t>(first_token + query_start + query) * shape.heads + head;
      lse_log2[query] = query < query_count ? args.lse[index] * kLog2e : 0.0f;
      dot[query] = query < query_count ? args.row_dot[index] : 0.0f;
    }
    __syncthreads();

    float scores[4][4], d_probs[4][4];  // [key 4ty+i][query 4tx+j]
    zero(scores);
    zero(d_probs);
    tile_mma(scores, k_tile, q_transposed, product_depth(head_dim));
    tile_mma(d_probs, v_tile, do_transposed, product_depth(head_dim));

    // factor[j][i]: mask·1/(1−p) of (query 4tx+j, key 4ty+i); a query's 4 keys share one call.
    float factor[4][4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int query = 4 * tx + j;
      if (dropout_on && query < query_count) {
        const uint64_t row = dropout_row_index(first_token + query_start + query, head, shape);
        attention_dropout_factors4(args.dropout, row + key_start + 4 * ty, factor[j]);
      } else {
#pragma unroll
        for (int i = 0; i < 4; ++i) factor[j][i] = 1.0f;
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int key = 4 * ty + i;
      float pd[4], ds[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int query = 4 * tx + j;
        const bool valid = key < key_count && query < query_count;
        const float p = valid ? exp2f(scores[i][j] * args.scale_log2 - lse_log2[query]) : 0.0f;
        pd[j] = p * factor[j][i];
        ds[j] = p * (d_probs[i][j] * factor[j][i] - dot[query]);
      }
      store_row4(pd_tile, key, 4 * tx, pd);
      store_row4(ds_tile, key, 4 * tx, ds);
    }
    __syncthreads();
    tile_mma(d_value, pd_tile, do_tile, kTile);
    tile_mma(d_key, ds_tile, q_tile, kTile);
  }

  if (4 * tx >= head_dim) return;  // columns ≥ head_dim: zero padding
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int key = 4 * ty + i;
    if (key >= key_count) continue;
    T* row = args.d_qkv + static_cast<size_t>(first_token + key_start + key) * row_stride +
             head * head_dim + 4 * tx;
    float dk[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) dk[j] = d_key[i][j] * args.scale;
    store_columns<kHeadDim>(row + hidden, dk, head_dim - 4 * tx);
    store_columns<kHeadDim>(row + 2 * hidden, d_value[i], head_dim - 4 * tx);
  }
}

template <int kHeadDim, typename T>
__global__ void __launch_bounds__(kThreads) attention_backward_query_kernel(BackwardArgs<T> args) {
  grid_dependency_sync();
  extern __shared__ float4 shared_raw[];
  float* q_tile = reinterpret_cast<float*>(shared_raw);  // [query][d]
  float* do_tile = q_tile + kTileFloats;                 // [query][d]
  float* k_tile = do_tile + kTileFloats;                 // [key][d]
  float* k_transposed = k_tile + kTileFloats;            // [d][key]
  float* v_transposed = k_transposed + kTileFloats;      // [d][key]
  float* ds_tile = v_transposed + kTileFloats;           // [query][key]

  const AttentionShape& shape = args.shape;
  const int sequence = blockIdx.x / args.tiles, query_block = blockIdx.x % args.tiles;
  const int head = blockIdx.y;
  const int first_token = args.cu_seqlens[sequence];
  const int length = args.cu_seqlens[sequence + 1] - first_token;
  const int query_start = query_block * kTile;
  if (query_start >= length) return;
  const int query_count = min(kTile, length - query_start);

  const int head_dim = head_dim_of<kHeadDim>(shape);
  const int hidden = shape.heads * head_dim;
  const size_t row_stride = 3 * static_cast<size_t>(hidden);
  const T* head_qkv = args.qkv + static_cast<size_t>(first_token) * row_stride + head * head_dim;
  const T* head_dctx = args.d_ctx + static_cast<size_t>(first_token) * hidden + head * head_dim;
  load_tile<kHeadDim>(q_tile, nullptr, head_qkv + query_start * row_stride, row_stride,
                      query_count, head_dim);
  load_tile<kHeadDim>(do_tile, nullptr, head_dctx + static_cast<size_t>(query_start) * hidden,
                      hidden, query_count, head_dim);

  const int ty = thread_row(), tx = thread_col();
  const bool dropout_on = args.dropout.probability > 0.0f;
  float lse_log2[4], dot[4];
  uint64_t dropout_row[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int query = 4 * ty + i;
    const int token = first_token + query_start + min(query, query_count - 1);
    const size_t index = static_cast<size_t>(token) * shape.heads + head;
    lse_log2[i] = args.lse[index] * kLog2e;
    dot[i] = args.row_dot[index];
    dropout_row[i] = dropout_row_index(token, head, shape);
  }
  float d_query[4][4];
  zero(d_query);

  for (int key_start = 0; key_start < length; key_start += kTile) {
    const int key_count = min(kTile, length - key_start);
    __syncthreads();
    load_tile<kHeadDim>(k_tile, k_transposed, head_qkv + hidden + key_start * row_stride,
                        row_stride, key_count, head_dim);
    load_tile<kHeadDim>(nullptr, v_transposed, head_qkv + 2 * hidden + key_start * row_stride,
                        row_stride, key_count, head_dim);
    __syncthreads();

    float scores[4][4], d_probs[4][4];  // [query 4ty+i][key 4tx+j]
    zero(scores);
    zero(d_probs);
    tile_mma(scores, q_tile, k_transposed, product_depth(head_dim));
    tile_mma(d_probs, do_tile, v_transposed, product_depth(head_dim));
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int query = 4 * ty + i;
      float factor[4] = {1.0f, 1.0f, 1.0f, 1.0f};
      if (dropout_on && query < query_count)
        attention_dropout_factors4(args.dropout, dropout_row[i] + key_start + 4 * tx, factor);
      float ds[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const bool valid = query < query_count && 4 * tx + j < key_count;
        const float p = valid ? exp2f(scores[i][j] * args.scale_log2 - lse_log2[i]) : 0.0f;
        ds[j] = p * (d_probs[i][j] * factor[j] - dot[i]);
      }
      store_row4(ds_tile, query, 4 * tx, ds);
    }
    __syncthreads();
    tile_mma(d_query, ds_tile, k_tile, kTile);
  }

  if (4 * tx >= head_dim) return;  // columns ≥ head_dim: zero padding
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int query = 4 * ty + i;
    if (query >= query_count) continue;
    float dq[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) dq[j] = d_query[i][j] * args.scale;
    store_columns<kHeadDim>(args.d_qkv +
                                static_cast<size_t>(first_token + query_start + query) * row_stride +
                                head * head_dim + 4 * tx,
                            dq, head_dim - 4 * tx);
  }
}

template <typename T>
void attention_backward(T* d_qkv, const T* d_ctx, const T* qkv, const T* ctx, const float* lse,
                        const int32_t* cu_seqlens, const AttentionShape& shape,
                        const DropoutSpec& dropout, GpuWorkspace workspace, GpuStream stream,
                        AttentionImpl impl) {
  const char* op = "attention_backward_cuda";
  check_shape(shape, op);
  if (shape.tokens == 0 || shape.batch == 0) return;
  BERT_CHECK(is_aligned(d_qkv, 8) && is_aligned(d_ctx, 8) && is_aligned(qkv, 8),
             std::string(op) + ": d_qkv, d_ctx and qkv must be 8-byte aligned");
  check_workspace(workspace, attention_backward_workspace_bytes(shape), op);
  float* row_dot = static_cast<float*>(workspace.data);

  const size_t rows = static_cast<size_t>(shape.tokens) * shape.heads;
  launch_kernel(row_dot_kernel<T>, elementwise_blocks(rows * 32, 256), 256, 0, stream, row_dot,
                d_ctx, ctx, rows, shape.head_dim);
  CUDA_LAUNCH_CHECK("row_dot_kernel");
  if constexpr (std::is_same_v<T, bf16>) {
    if (runs_mma_kernels(impl, shape.head_dim, d_qkv, d_ctx, qkv, qkv)) {
      if (one_pass_backward(impl)) {
        float* dq_accumulator = reinterpret_cast<float*>(static_cast<unsigned char*>(workspace.data) +
                                                         row_dot_bytes(shape));
        backward_mma_one_pass(d_qkv, d_ctx, qkv, lse, row_dot, dq_accumulator, cu_seqlens, shape,
                              dropout, lean_kernels(impl), stream);
      } else {
        backward_mma(d_qkv, d_ctx, qkv, lse, row_dot, cu_seqlens, shape, dropout,
                     lean_kernels(impl), stream);
      }
      return;
    }
  }

  const BackwardArgs<T> args =
      backward_args(d_qkv, d_ctx, qkv, lse, row_dot, cu_seqlens, shape, dropout, tiles_per_sequence(shape));
  const dim3 grid(shape.batch * args.tiles, shape.heads);

  with_head_dim(shape.head_dim, op, [&](auto head_dim) {
    constexpr int kHeadDim = decltype(head_dim)::value;
    constexpr auto key_kernel = attention_backward_key_kernel<kHeadDim, T>;
    allow_dynamic_shared_memory<key_kernel, kKeyPassSharedBytes>();
    launch_kernel(key_kernel, grid, kThreads, kKeyPassSharedBytes, stream, args);
    CUDA_LAUNCH_CHECK("attention_backward_key_kernel");

    constexpr auto query_kernel = attention_backward_query_kernel<kHeadDim, T>;
    allow_dynamic_shared_memory<query_kernel, kQueryPassSharedBytes>();
    launch_kernel(query_kernel, grid, kThreads, kQueryPassSharedBytes, stream, args);
    CUDA_LAUNCH_CHECK("attention_backward_query_kernel");
  });
}

}  // namespace
}  // namespace attention

// row_dot, then the one-pass kernel's fp32 dQ accumulator [tokens, heads·head_dim].
size_t attention_backward_workspace_bytes(const AttentionShape& shape) {
  return attention::row_dot_bytes(shape) +
         align_bytes(static_cast<size_t>(shape.tokens) * shape.heads * shape.head_dim *
                     sizeof(float));
}

void attention_backward_cuda(bf16* d_qkv, const bf16* d_ctx, const bf16* qkv, const bf16* ctx,
                             const float* lse, const int32_t* cu_seqlens,
                             const AttentionShape& shape, const DropoutSpec& dropout,
                             GpuWorkspace workspace, GpuStream stream, AttentionImpl impl) {
  attention::attention_backward(d_qkv, d_ctx, qkv, ctx, lse, cu_seqlens, shape, dropout, workspace,
                                stream, impl);
}
void attention_backward_cuda(bf16* d_qkv, const bf16* d_ctx, const bf16* qkv, const bf16* ctx,
                             const float* lse, const int32_t* cu_seqlens,
                             const AttentionShape& shape, const DropoutSpec& dropout,
                             GpuWorkspace workspace, GpuStream stream) {
  attention_backward_cuda(d_qkv, d_ctx, qkv, ctx, lse, cu_seqlens, shape, dropout, workspace,
                          stream, default_attention_impl());
}
void attention_backward_cuda(float* d_qkv, const float* d_ctx, const float* qkv, const float* ctx,
                             const float* lse, const int32_t* cu_seqlens,
                             const AttentionShape& shape, const DropoutSpec& dropout,
                             GpuWorkspace workspace, GpuStream stream) {
  attention::attention_backward(d_qkv, d_ctx, qkv, ctx, lse, cu_seqlens, shape, dropout, workspace,
                                stream, AttentionImpl::kScalar);
}

}  // namespace bert
