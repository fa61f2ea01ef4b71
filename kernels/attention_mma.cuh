// Warp-level tensor-core helpers of the MMA attention kernels (kernels/attention_*_mma.cu):
// mma.sync m16n8k16 with bf16 operands and fp32 accumulators, per the PTX ISA fragment layout.
// Lane = 4·g + t (g = lane / 4 "group", t = lane % 4). Pairs of bf16 travel in one uint32_t,
// the lower-indexed element in the low 16 bits.
//   A (16 × 16, row-major):  a[0] = A[g][2t..2t+1],   a[1] = A[g+8][2t..2t+1],
//                            a[2] = A[g][2t+8..2t+9], a[3] = A[g+8][2t+8..2t+9]
//   B (16 × 8, "col"):       b[0] = B[2t..2t+1][g],   b[1] = B[2t+8..2t+9][g]
//   C (16 × 8, fp32):        c[0..1] = C[g][2t..2t+1], c[2..3] = C[g+8][2t..2t+1]
// An accumulator pair of neighbouring n-tiles therefore is already the A fragment of the next
// product (S → P·V), which is what a_from_accumulators packs.
// Under the CPU emulation (tests/gpu/emulation/emu.h defines BERT_CUDA_EMULATION) mma_16816 is
// a warp-collective exchange computing the same layout on the host.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "kernels/attention_common.cuh"

namespace bert {
namespace attention {
namespace mma {

constexpr int kWarps = 4;                // each warp owns 16 rows of a 64-row block tile
constexpr int kThreads = 32 * kWarps;
constexpr int kRows = 16 * kWarps;       // queries (or keys) per block
constexpr int kCols = 64;                // keys (or queries) per streamed tile
constexpr int kScoreTiles = kCols / 8;   // n-tiles of a 16 × kCols score row block (S, dPd)
constexpr int kScoreSteps = kCols / 16;  // k-steps of a product over the kCols keys (queries)

// What follows from the head dimension (32 or 64). A shared tile holds kCols rows of kHeadDim
// bf16 plus 8 of padding:
//   kPitch        bf16 per shared row. Bank check (4-byte banks, 32 of them): load_a and
//                 load_b_transposed have lane (g, t) read word g·kPitch/2 + t; load_b reads the
//                 16-bit halves of word t·kPitch + g/2 (+ kPitch/2 for the second row), where
//                 lanes g = 2m, 2m + 1 share a word (a broadcast, no conflict).
//                   pitch 72 (36 words): 36g mod 32 = 4g → banks 4g + t, 32 distinct;
//                                        load_b: (72t + g/2) mod 32 = 8t + g/2, 16 distinct words.
//                   pitch 40 (20 words): 20g mod 32 = {0, 20, 8, 28, 16, 4, 24, 12} → banks
//                                        20g + t mod 32, 32 distinct; load_b: (40t + g/2) mod 32
//                                        = 8t + g/2, 16 distinct words (+20 for the second row:
//                                        still distinct). So every fragment read is conflict-free.
//                 (The 16-byte tile stores are not, at pitch 40: a quarter-warp writes two 80-byte
//                 rows, and bytes 128..143 of the second share banks 0..3 with the first's start,
//                 a 2-way conflict on 1 of 8 chunks, once per tile load. No 16-byte-aligned pitch
//                 makes both the reads and these stores conflict-free; the reads, repeated for
//                 every k-step and n-tile, win.)
//   kHeadSteps    k-steps of a product over head_dim (Q·Kᵀ, dO·Vᵀ, K·Qᵀ, V·dOᵀ): fragments per
//                 register-resident operand.
//   kHeadTiles    n-tiles of a 16 × head_dim result (O, dQ, dK, dV accumulators).
template <int kHeadDim>
struct HeadLayout {
  static_assert(kHeadDim == 32 || kHeadDim == 64, "attention MMA kernels are built for 32 and 64");
  static constexpr int kPitch = kHeadDim + 8;
  static constexpr int kTileElements = kCols * kPitch;
  static constexpr int kHeadSteps = kHeadDim / 16;
  static constexpr int kHeadTiles = kHeadDim / 8;
};

// c += a·b (16×16 by 16×8), fp32 accumulate.
__device__ __forceinline__ void mma_16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
#if defined(BERT_CUDA_EMULATION)
  ::emu::mma_bf16_16816(c, a, b);
#elif defined(__CUDA_ARCH__)
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

__device__ __forceinline__ uint32_t pack_bf16x2(float lo, float hi) {
  const __nv_bfloat162 pair = __floats2bfloat162_rn(lo, hi);
  uint32_t bits;
  memcpy(&bits, &pair, sizeof bits);
  return bits;
}

// Two neighbouring bf16 of one shared row.
__device__ __forceinline__ uint32_t load_pair(const bf16* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}
// p[0] and p[kPitch]: two rows, one column (a B fragment of a row-major [k][n] tile).
template <int kPitch>
__device__ __forceinline__ uint32_t load_column_pair(const bf16* p) {
  const uint16_t* bits = reinterpret_cast<const uint16_t*>(p);
  return static_cast<uint32_t>(bits[0]) | (static_cast<uint32_t>(bits[kPitch]) << 16);
}

__device__ __forceinline__ int lane_group() { return (threadIdx.x % 32) / 4; }   // g
__device__ __forceinline__ int lane_thread() { return threadIdx.x % 4; }         // t

// A fragment of rows [0, 16), columns [0, 16) of a shared tile (row-major, kPitch).
template <int kPitch>
__device__ __forceinline__ void load_a(uint32_t a[4], const bf16* tile) {
  const int g = lane_group(), t = lane_thread();
  a[0] = load_pair(tile + g * kPitch + 2 * t);
  a[1] = load_pair(tile + (g + 8) * kPitch + 2 * t);
  a[2] = load_pair(tile + g * kPitch + 2 * t + 8);
  a[3] = load_pair(tile + (g + 8) * kPitch + 2 * t + 8);
}
// B = tileᵀ: B[k][n] = tile[n][k] for n < 8, k < 16 (tile rows are the n index: Kᵀ, Vᵀ, Qᵀ).
template <int kPitch>
__device__ __forceinline__ void load_b_transposed(uint32_t b[2], const bf16* tile) {
  const int g = lane_group(), t = lane_thread();
  b[0] = load_pair(tile + g * kPitch + 2 * t);
  b[1] = load_pair(tile + g * kPitch + 2 * t + 8);
}
// B = tile: B[k][n] = tile[k][n] for k < 16, n < 8 (tile rows are the k index: V, dO, Q, K).
template <int kPitch>
__device__ __forceinline__ void load_b(uint32_t b[2], const bf16* tile) {
  const int g = lane_group(), t = lane_thread();
  b[0] = load_column_pair<kPitch>(tile + 2 * t * kPitch + g);
  b[1] = load_column_pair<kPitch>(tile + (2 * t + 8) * kPitch + g);
}
// A = tileᵀ: A[m][k] = tile[k][m] for m < 16, k < 16 (tile rows are the k index: the one-pass
// backward's dSᵀ, stored [key][query], read as dS). Same words as load_b: conflict-free.
template <int kPitch>
__device__ __forceinline__ void load_a_transposed(uint32_t a[4], const bf16* tile) {
  const int g = lane_group(), t = lane_thread();
  a[0] = load_column_pair<kPitch>(tile + 2 * t * kPitch + g);
  a[1] = load_column_pair<kPitch>(tile + 2 * t * kPitch + g + 8);
  a[2] = load_column_pair<kPitch>(tile + (2 * t + 8) * kPitch + g);
  a[3] = load_column_pair<kPitch>(tile + (2 * t + 8) * kPitch + g + 8);
}
// A fragment (16 rows × k-step kk's 16 columns) from the fp32 accumulators of n-tiles 2kk, 2kk+1.
__device__ __forceinline__ void a_from_accumulators(uint32_t a[4], const float lo[4],
                                                    const float hi[4]) {
  a[0] = pack_bf16x2(lo[0], lo[1]);
  a[1] = pack_bf16x2(lo[2], lo[3]);
  a[2] = pack_bf16x2(hi[0], hi[1]);
  a[3] = pack_bf16x2(hi[2], hi[3]);
}

// acc[nt] += A(16 × head_dim, fragments a[kHeadSteps]) · tileᵀ, tile = kCols rows (n) ×
// head_dim columns (k): S = Q·Kᵀ and its kin, a 16 × kCols result.
template <int kHeadDim>
__device__ __forceinline__ void gemm_a_bt(float acc[kScoreTiles][4],
                                          const uint32_t a[HeadLayout<kHeadDim>::kHeadSteps][4],
                                          const bf16* tile) {
  using Layout = HeadLayout<kHeadDim>;
#pragma unroll
  for (int nt = 0; nt < kScoreTiles; ++nt)
#pragma unroll
    for (int ks = 0; ks < Layout::kHeadSteps; ++ks) {
      uint32_t b[2];
      load_b_transposed<Layout::kPitch>(b, tile + nt * 8 * Layout::kPitch + ks * 16);
      mma_16816(acc[nt], a[ks], b);
    }
}
// acc[nt] += P(16 × kCols, the fp32 accumulators p[kScoreTiles][4] rounded to bf16) · tile
// (kCols k-rows × head_dim n): O += P·V and its kin, a 16 × head_dim result.
template <int kHeadDim>
__device__ __forceinline__ void gemm_p_b(float acc[HeadLayout<kHeadDim>::kHeadTiles][4],
                                         const float p[kScoreTiles][4], const bf16* tile) {
  using Layout = HeadLayout<kHeadDim>;
#pragma unroll
  for (int kk = 0; kk < kScoreSteps; ++kk) {
    uint32_t a[4];
    a_from_accumulators(a, p[2 * kk], p[2 * kk + 1]);
#pragma unroll
    for (int nt = 0; nt < Layout::kHeadTiles; ++nt) {
      uint32_t b[2];
      load_b<Layout::kPitch>(b, tile + kk * 16 * Layout::kPitch + nt * 8);
      mma_16816(acc[nt], a, b);
    }
  }
}

// acc[nt] += A · tile, A = transposedᵀ (16 × kCols: transposed holds kCols k-rows of 16
// columns at pitch kTransposedPitch), tile = kCols k-rows × head_dim n: dQ = dS·K from the
// shared dSᵀ, a 16 × head_dim result.
template <int kHeadDim, int kTransposedPitch>
__device__ __forceinline__ void gemm_at_b(float acc[HeadLayout<kHeadDim>::kHeadTiles][4],
                                          const bf16* transposed, const bf16* tile) {
  using Layout = HeadLayout<kHeadDim>;
#pragma unroll
  for (int kk = 0; kk < kScoreSteps; ++kk) {
    uint32_t a[4];
    load_a_transposed<kTransposedPitch>(a, transposed + kk * 16 * kTransposedPitch);
#pragma unroll
    for (int nt = 0; nt < Layout::kHeadTiles; ++nt) {
      uint32_t b[2];
      load_b<Layout::kPitch>(b, tile + kk * 16 * Layout::kPitch + nt * 8);
      mma_16816(acc[nt], a, b);
    }
  }
}

template <int kTiles>
__device__ __forceinline__ void zero(float (&acc)[kTiles][4]) {
#pragma unroll
  for (int i = 0; i < kTiles; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
}

// Copies `valid_rows` rows of kHeadDim bf16 (row r at source + r·row_stride) into a shared
// tile of kCols rows; rows past valid_rows become zero. 16-byte loads: source rows must be
// 16-byte aligned.
template <int kHeadDim>
__device__ __forceinline__ void load_tile(bf16* tile, const bf16* source, size_t row_stride,
                                          int valid_rows) {
  constexpr int kChunksPerRow = kHeadDim / 8;
  constexpr int kPitch = HeadLayout<kHeadDim>::kPitch;
  for (int chunk = threadIdx.x; chunk < kCols * kChunksPerRow; chunk += kThreads) {
    const int row = chunk / kChunksPerRow, col = (chunk % kChunksPerRow) * 8;
    uint4 value = make_uint4(0u, 0u, 0u, 0u);
    if (row < valid_rows) value = *reinterpret_cast<const uint4*>(source + row * row_stride + col);
    *reinterpret_cast<uint4*>(tile + row * kPitch + col) = value;
  }
}

// 16 bytes global → shared without a register round trip (cp.async; zero-fills when !valid, in
// which case `global` is not read). Completed by wait_copies(); the emulation copies at once.
__device__ __forceinline__ void copy_async_16(void* shared, const void* global, bool valid) {
#if defined(BERT_CUDA_EMULATION)
  if (valid)
    memcpy(shared, global, 16);
  else
    memset(shared, 0, 16);
#elif defined(__CUDA_ARCH__)
  const uint32_t address = static_cast<uint32_t>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(global),
               "r"(valid ? 16 : 0)
               : "memory");
#endif
}
// Waits for every copy_async_16 of this thread (other threads' copies: __syncthreads after).
__device__ __forceinline__ void wait_copies() {
#if !defined(BERT_CUDA_EMULATION) && defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

// load_tile without waiting: the copies land by wait_copies() + __syncthreads().
template <int kHeadDim>
__device__ __forceinline__ void load_tile_async(bf16* tile, const bf16* source, size_t row_stride,
                                                int valid_rows) {
  constexpr int kChunksPerRow = kHeadDim / 8;
  constexpr int kPitch = HeadLayout<kHeadDim>::kPitch;
  for (int chunk = threadIdx.x; chunk < kCols * kChunksPerRow; chunk += kThreads) {
    const int row = chunk / kChunksPerRow, col = (chunk % kChunksPerRow) * 8;
    const bool valid = row < valid_rows;
    copy_async_16(tile + row * kPitch + col, source + (valid ? row * row_stride + col : 0), valid);
  }
}

__device__ __forceinline__ float quad_max(float value) {
  value = fmaxf(value, __shfl_xor_sync(kFullWarpMask, value, 1));
  return fmaxf(value, __shfl_xor_sync(kFullWarpMask, value, 2));
}
__device__ __forceinline__ float quad_sum(float value) {
  value += __shfl_xor_sync(kFullWarpMask, value, 1);
  return value + __shfl_xor_sync(kFullWarpMask, value, 2);
}

}  // namespace mma
}  // namespace attention
}  // namespace bert
