// Shared pieces of the attention kernels (kernels/attention_*.cu): a 256-thread block works on
// 64 × 64 tiles; thread (ty, tx) = (tid / 16, tid % 16) owns rows 4·ty .. 4·ty+3 and columns
// 4·tx .. 4·tx+3 of every 64 × 64 result. Tiles live in shared memory as fp32 rows of kPitch
// floats (16-byte aligned rows, so both operands of tile_mma are read as float4). Global tensors
// are bf16 or, under the fp32 compute switch, float (the kernels are templated on that type T).
// head_dim is 1 to 64 (head_dim_supported). 32 and 64 have instantiations of their own (vector
// loads; the tensor-core kernels are built for these two only); any other head_dim runs the
// scalar kernels' generic instantiation kAnyHeadDim, which loads element by element
// (with_head_dim picks the instantiation). The scalar kernels keep the 64-wide mapping below 64:
// load_tile zero-fills the natural tile's columns head_dim .. 63 and the transposed tile's rows
// head_dim .. 63, so products over head_dim run to a depth of head_dim rounded up to 4, and
// products over keys/queries (P·V, dSᵀ·Q, ...) yield zeros in the padding columns, which are
// never stored.
#pragma once

#include <cuda_runtime.h>

#include <string>
#include <type_traits>

#include "kernels/attention.h"
#include "kernels/cuda_common.cuh"
#include "kernels/dropout.cuh"
#include "kernels/kernel_limits.h"

namespace bert {
namespace attention {

constexpr int kTile = 64;      // queries or keys per tile
constexpr int kThreads = 256;  // 16 × 16 threads, 4 × 4 results each
constexpr int kPitch = 68;     // floats per shared-memory row
constexpr int kTileFloats = kTile * kPitch;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;
// The scalar kernels' instantiation for a head_dim other than 32 and 64 (read from the shape).
constexpr int kAnyHeadDim = 0;
static_assert(kMaxAttentionHeadDim == kTile,
              "the scalar kernels' 4×4 mapping covers one tile of head columns");

__device__ __forceinline__ int thread_row() { return threadIdx.x / 16; }  // ty
__device__ __forceinline__ int thread_col() { return threadIdx.x % 16; }  // tx

// Loads `valid_rows` rows × head_dim values of type T (row r at source + r·row_stride) into a
// tile; rows past valid_rows read as zero. `natural` gets [row][d], `transposed` gets [d][row];
// either may be null. For kHeadDim 32 the natural tile's columns 32 .. 63 are zeroed too (a
// 64-column product over it then contributes nothing there); the transposed tile's rows past 32
// are left alone (products read it to depth 32 only). kAnyHeadDim (head_dim from the caller,
// 1 to 64, any alignment) loads element by element and zeroes the natural tile's columns and the
// transposed tile's rows from head_dim to 63: products over head_dim then run to
// product_depth() (head_dim rounded up to 4) and meet zeros in both operands past head_dim.
template <int kHeadDim, typename T>
__device__ __forceinline__ void load_tile(float* natural, float* transposed, const T* source,
                                          size_t row_stride, int valid_rows, int head_dim) {
  static_assert(kHeadDim == 32 || kHeadDim == kTile || kHeadDim == kAnyHeadDim,
                "attention kernels are built for 32, 64 and any head_dim up to 64");
  if constexpr (kHeadDim == kAnyHeadDim) {
    for (int index = threadIdx.x; index < kTile * kTile; index += kThreads) {
      const int row = index / kTile, col = index % kTile;
      const float value =
          row < valid_rows && col < head_dim ? to_float(source[row * row_stride + col]) : 0.0f;
      if (natural != nullptr) natural[row * kPitch + col] = value;
      if (transposed != nullptr) transposed[col * kPitch + row] = value;
    }
    return;
  } else {
    constexpr int kQuadsPerRow = kHeadDim / 4;
    if constexpr (kHeadDim < kTile) {
      if (natural != nullptr) {
        constexpr int kPadQuads = (kTile - kHeadDim) / 4;
        for (int chunk = threadIdx.x; chunk < kTile * kPadQuads; chunk += kThreads) {
          const int row = chunk / kPadQuads, col = kHeadDim + (chunk % kPadQuads) * 4;
          *reinterpret_cast<float4*>(natural + row * kPitch + col) = make_float4(0.f, 0.f, 0.f, 0.f);
        }
      }
    }
    for (int chunk = threadIdx.x; chunk < kTile * kQuadsPerRow; chunk += kThreads) {
      const int row = chunk / kQuadsPerRow, col = (chunk % kQuadsPerRow) * 4;
      float values[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      if (row < valid_rows) load4(source + row * row_stride + col, values);
      if (natural != nullptr)
        *reinterpret_cast<float4*>(natural + row * kPitch + col) =
            make_float4(values[0], values[1], values[2], values[3]);
      if (transposed != nullptr) {
#pragma unroll
        for (int j = 0; j < 4; ++j) transposed[(col + j) * kPitch + row] = values[j];
      }
    }
  }
}

// The head_dim a kernel instantiation works on: its own, or the shape's for kAnyHeadDim.
template <int kHeadDim>
__device__ __forceinline__ int head_dim_of(const AttentionShape& shape) {
  return kHeadDim == kAnyHeadDim ? shape.head_dim : kHeadDim;
}
// The depth of a product over head_dim (tile_mma takes multiples of 4; load_tile zeroes both
// operands past head_dim).
__device__ __forceinline__ int product_depth(int head_dim) { return (head_dim + 3) / 4 * 4; }

// Stores a thread's 4 consecutive result columns of a row, of which `count` (≥ 1) lie inside the
// head: one 4-wide store for head_dim 32 and 64, element by element for kAnyHeadDim.
template <int kHeadDim, typename T>
__device__ __forceinline__ void store_columns(T* target, const float values[4], int count) {
  if constexpr (kHeadDim == kAnyHeadDim) {
#pragma unroll
    for (int j = 0; j < 4; ++j)
      if (j < count) store_value(target + j, values[j]);
  } else {
    store4(target, values);
  }
}

// acc[i][j] += Σ_k a[(4·ty + i)·kPitch + k] · b[k·kPitch + 4·tx + j], k < depth (a multiple of 4).
__device__ __forceinline__ void tile_mma(float acc[4][4], const float* a, const float* b,
                                         int depth) {
  const int ty = thread_row(), tx = thread_col();
#pragma unroll 4
  for (int k = 0; k < depth; k += 4) {
    float4 a_rows[4], b_rows[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
      a_rows[i] = *reinterpret_cast<const float4*>(a + (4 * ty + i) * kPitch + k);
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
      b_rows[kk] = *reinterpret_cast<const float4*>(b + (k + kk) * kPitch + 4 * tx);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float a_values[4] = {a_rows[i].x, a_rows[i].y, a_rows[i].z, a_rows[i].w};
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) {
        acc[i][0] += a_values[kk] * b_rows[kk].x;
        acc[i][1] += a_values[kk] * b_rows[kk].y;
        acc[i][2] += a_values[kk] * b_rows[kk].z;
        acc[i][3] += a_values[kk] * b_rows[kk].w;
      }
    }
  }
}

__device__ __forceinline__ void zero(float acc[4][4]) {
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
}

// Reductions over the 16 threads sharing a ty (16 consecutive lanes of one warp).
__device__ __forceinline__ float row_group_max(float value) {
  for (int offset = 8; offset > 0; offset >>= 1)
    value = fmaxf(value, __shfl_xor_sync(kFullWarpMask, value, offset));
  return value;
}
__device__ __forceinline__ float row_group_sum(float value) {
  for (int offset = 8; offset > 0; offset >>= 1)
    value += __shfl_xor_sync(kFullWarpMask, value, offset);
  return value;
}

__device__ __forceinline__ void store_row4(float* tile, int row, int col, const float v[4]) {
  *reinterpret_cast<float4*>(tile + row * kPitch + col) = make_float4(v[0], v[1], v[2], v[3]);
}

// Dropout element of (query token, head, key position 0 of the sequence); keys follow on.
__device__ __forceinline__ uint64_t dropout_row_index(int query_token, int head,
                                                      const AttentionShape& shape) {
  return (static_cast<uint64_t>(query_token) * shape.heads + head) * shape.max_positions;
}

// The grids are sized by length_bound (kernels/attention.h): no block for a tile no sequence has.
inline int tiles_per_sequence(const AttentionShape& shape) {
  return div_up(length_bound(shape), kTile);
}

// The head dimensions the kernels run: 1 to 64 (the scalar kernels; 32 and 64 also the
// tensor-core kernels, mma_head_dim).
inline bool head_dim_supported(int head_dim) { return head_dim >= 1 && head_dim <= kMaxAttentionHeadDim; }

inline void check_shape(const AttentionShape& shape, const char* op) {
  BERT_CHECK(shape.tokens >= 0 && shape.batch >= 0 && shape.heads > 0 &&
                 head_dim_supported(shape.head_dim) && shape.max_positions > 0 &&
                 shape.longest >= 0 && shape.longest <= shape.max_positions,
             std::string(op) + ": tokens " + std::to_string(shape.tokens) + ", batch " +
                 std::to_string(shape.batch) + ", heads " + std::to_string(shape.heads) +
                 ", head_dim " + std::to_string(shape.head_dim) +
                 " (the kernels run head_dim 1 to " + std::to_string(kMaxAttentionHeadDim) +
                 "), max_positions " + std::to_string(shape.max_positions) + ", longest " +
                 std::to_string(shape.longest));
}

// The head dimensions the tensor-core kernels are built for; others run the scalar kernels.
inline bool mma_head_dim(int head_dim) { return head_dim == 32 || head_dim == 64; }

// Calls launch(std::integral_constant<int, head_dim>{}) for the head dimensions with
// instantiations of their own (32, 64) and returns true; false for any other.
template <typename Launch>
bool launch_built_head_dim(int head_dim, Launch& launch) {
  switch (head_dim) {
    case 32:
      launch(std::integral_constant<int, 32>{});
      return true;
    case 64:
      launch(std::integral_constant<int, 64>{});
      return true;
    default:
      return false;
  }
}

// The host-side switch from the runtime head_dim to a scalar kernel instantiation: 32, 64, else
// kAnyHeadDim. Throws for a head_dim outside 1 .. 64 (check_shape has normally refused it).
template <typename Launch>
void with_head_dim(int head_dim, const char* op, Launch&& launch) {
  if (launch_built_head_dim(head_dim, launch)) return;
  BERT_CHECK(head_dim_supported(head_dim), std::string(op) + ": head_dim " + std::to_string(head_dim) +
                                               " is not supported (1 to " +
                                               std::to_string(kMaxAttentionHeadDim) + " are)");
  launch(std::integral_constant<int, kAnyHeadDim>{});
}

// with_head_dim for the tensor-core kernels: 32 or 64 (callers check mma_head_dim first).
template <typename Launch>
void with_mma_head_dim(int head_dim, const char* op, Launch&& launch) {
  BERT_CHECK(launch_built_head_dim(head_dim, launch),
             std::string(op) + ": the tensor-core kernels are not built for head_dim " +
                 std::to_string(head_dim) + " (32 and 64 are)");
}

// Everything both backward passes (scalar and tensor-core) read: row_dot holds D_i = Σ d_ctx·ctx.
template <typename T>
struct BackwardArgs {
  T* d_qkv;
  const T* d_ctx;
  const T* qkv;
  const float* lse;
  const float* row_dot;
  const int32_t* cu_seqlens;
  AttentionShape shape;
  DropoutSpec dropout;
  int tiles;
  float scale, scale_log2;
};

// The arguments of both backward passes; `tiles` = query/key tiles per sequence of the pass's
// tile height (the two implementations tile differently).
template <typename T>
BackwardArgs<T> backward_args(T* d_qkv, const T* d_ctx, const T* qkv, const float* lse, const float* row_dot,
                              const int32_t* cu_seqlens, const AttentionShape& shape, const DropoutSpec& dropout,
                              int tiles) {
  const float root = sqrtf(static_cast<float>(shape.head_dim));
  return BackwardArgs<T>{d_qkv, d_ctx, qkv, lse, row_dot, cu_seqlens, shape, dropout, tiles, 1.0f / root, kLog2e / root};
}

}  // namespace attention
}  // namespace bert
