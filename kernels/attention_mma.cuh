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
// Fragments are read from shared memory with ldmatrix (load_matrices_x4: four 8 × 8 matrices per
// instruction, transposed on the way where the operand is stored the other way round).
// Under the CPU emulation (tests/gpu/emulation/emu.h defines BERT_CUDA_EMULATION) mma_16816 and
// load_matrices_x4 are warp-collective exchanges computing the same layouts on the host, and
// copy_async_16 / wait_copies defer each copy to the wait, as the hardware may.
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
//   kPitch        bf16 per shared row. Fragments are read with ldmatrix (load_matrices_x4), which
//                 reads each 8 × 8 matrix as 8 rows of 16 bytes in one shared-memory phase; rows
//                 kPitch·2 bytes apart must fall on 8 distinct 16-byte bank groups of the 128:
//                   pitch 72 (144 bytes): 144j mod 128 = 16j → 8 distinct groups;
//                   pitch 40 (80 bytes):  80j mod 128 = {0, 80, 32, 112, 64, 16, 96, 48} → 8
//                                         distinct groups. So every fragment read is conflict-free,
//                 and every row start stays 16-byte aligned, as ldmatrix requires.
//                 (The 16-byte tile stores are not, at pitch 40: a quarter-warp writes two 80-byte
//                 rows, and bytes 128..143 of the second share banks 0..3 with the first's start,
//                 a 2-way conflict on 1 of 8 chunks, once per tile load. The reads, repeated for
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

__device__ __forceinline__ int lane_group() { return (threadIdx.x % 32) / 4; }   // g
__device__ __forceinline__ int lane_thread() { return threadIdx.x % 4; }         // t

// Dropout keep bits of a warp's 16 rows for the kCols keys from key_start: bits[row·4 + chunk],
// bit i for key 16·chunk + i (one 16-bit draw per row and chunk, kernels/dropout_rng.h).
__device__ __forceinline__ void draw_row_bits(uint32_t* bits, const DropoutSpec& dropout,
                                              int first_row_token, int head,
                                              const AttentionShape& shape, int key_start) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int unit = lane; unit < 16 * 4; unit += 32) {
    const int row = unit / 4, chunk = unit % 4;
    bits[unit] = attention_keep_bits16(
        dropout, dropout_row_index(first_row_token + row, head, shape) + key_start + 16 * chunk);
  }
}

// The dropout factor (0 or the keep scale 1/(1−p)) of a warp row and tile key from those bits.
__device__ __forceinline__ float keep_factor(const uint32_t* bits, int row, int key, float scale) {
  return (bits[row * 4 + key / 16] >> (key % 16)) & 1u ? scale : 0.0f;
}

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16, warp-collective: four 8 × 8 bf16 matrices of
// the 16 × 16 block whose top-left element is `block` (row pitch kPitch, in shared memory):
//   M0 = rows 0..7, columns 0..7     M2 = rows 0..7, columns 8..15
//   M1 = rows 8..15, columns 0..7    M3 = rows 8..15, columns 8..15
// Lane l gives the address of row l % 8 of matrix l / 8, that is block row l % 16 from column
// 8·(l / 16) (16 bytes, which must be 16-byte aligned). Lane (g, t) receives
//   r[i] = M_i[g][2t..2t+1]                 (kTranspose false: row g of M_i)
//   r[i] = M_i[2t][g], M_i[2t+1][g]         (kTranspose true: column g of M_i)
// the lower-indexed element in the low half: each r[i] is an mma fragment register. One
// instruction replaces the 8–16 scalar shared loads (and the half-word packing) of the same
// fragments. Under the CPU emulation it is a warp-collective exchange of the row addresses.
template <int kPitch, bool kTranspose>
__device__ __forceinline__ void load_matrices_x4(uint32_t r[4], const bf16* block) {
  const int lane = threadIdx.x % 32;
  const bf16* row = block + (lane % 16) * kPitch + 8 * (lane / 16);
#if defined(BERT_CUDA_EMULATION)
  ::emu::ldmatrix_x4(r, row, kTranspose);
#elif defined(__CUDA_ARCH__)
  const uint32_t address = static_cast<uint32_t>(__cvta_generic_to_shared(row));
  if constexpr (kTranspose)
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
  else
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
#endif
}

// What the x4 loads of a 16 × 16 block give, per the fragment layout above:
//   A = block (rows m, columns k), plain:       a = {r0, r1, r2, r3}        (load_a)
//   B = blockᵀ (block rows n, columns k), plain: n-tile 0: {r0, r2}, n-tile 1: {r1, r3}
//   B = block (rows k, columns n), transposed:   n-tile 0: {r0, r1}, n-tile 1: {r2, r3}
//   A = blockᵀ (block rows k, columns m), transposed: a = {r0, r2, r1, r3}

// A fragment of rows [0, 16), columns [0, 16) of a shared tile (row-major, kPitch).
template <int kPitch>
__device__ __forceinline__ void load_a(uint32_t a[4], const bf16* tile) {
  load_matrices_x4<kPitch, false>(a, tile);
}

// A fragment (16 rows × k-step kk's 16 columns) from the fp32 accumulators of n-tiles 2kk, 2kk+1.
__device__ __forceinline__ void a_from_accumulators(uint32_t a[4], const float lo[4],
                                                    const float hi[4]) {
  a[0] = pack_bf16x2(lo[0], lo[1]);
  a[1] = pack_bf16x2(lo[2], lo[3]);
  a[2] = pack_bf16x2(hi[0], hi[1]);
  a[3] = pack_bf16x2(hi[2], hi[3]);
}

// acc[2np], acc[2np + 1] += A · blockᵀ for one k-step, block = 16 rows (n) of 16 columns (k) of
// a shared tile: one plain x4 load gives both n-tiles' B fragments.
template <int kPitch>
__device__ __forceinline__ void mma_a_bt_pair(float even[4], float odd[4], const uint32_t a[4],
                                              const bf16* block) {
  uint32_t r[4];
  load_matrices_x4<kPitch, false>(r, block);
  const uint32_t b_even[2] = {r[0], r[2]}, b_odd[2] = {r[1], r[3]};
  mma_16816(even, a, b_even);
  mma_16816(odd, a, b_odd);
}

// acc[nt] += A(16 × head_dim, fragments a[kHeadSteps]) · tileᵀ, tile = kTiles·8 rows (n) ×
// head_dim columns (k): S = Q·Kᵀ and its kin, a 16 × kTiles·8 result (kTiles even;
// kScoreTiles for a whole tile of kCols keys). Each acc[nt] adds its k-steps in order.
template <int kHeadDim, int kTiles>
__device__ __forceinline__ void gemm_a_bt(float acc[kTiles][4],
                                          const uint32_t a[HeadLayout<kHeadDim>::kHeadSteps][4],
                                          const bf16* tile) {
  using Layout = HeadLayout<kHeadDim>;
#pragma unroll
  for (int np = 0; np < kTiles / 2; ++np)
#pragma unroll
    for (int ks = 0; ks < Layout::kHeadSteps; ++ks)
      mma_a_bt_pair<Layout::kPitch>(acc[2 * np], acc[2 * np + 1], a[ks],
                                    tile + np * 16 * Layout::kPitch + ks * 16);
}
// The same product with A read from shared memory (16 rows of head_dim at a_rows, pitch kPitch)
// one k-step at a time instead of held in registers: the register-lean kernels (kLean) trade
// head_dim/16 x4 loads per product for the kHeadSteps·4 registers of a resident operand. The
// k-steps still reach each acc[nt] in order, so the result is the same bit for bit.
template <int kHeadDim, int kTiles>
__device__ __forceinline__ void gemm_shared_a_bt(float acc[kTiles][4], const bf16* a_rows,
                                                 const bf16* tile) {
  using Layout = HeadLayout<kHeadDim>;
#pragma unroll
  for (int ks = 0; ks < Layout::kHeadSteps; ++ks) {
    uint32_t a[4];
    load_a<Layout::kPitch>(a, a_rows + ks * 16);
#pragma unroll
    for (int np = 0; np < kTiles / 2; ++np)
      mma_a_bt_pair<Layout::kPitch>(acc[2 * np], acc[2 * np + 1], a,
                                    tile + np * 16 * Layout::kPitch + ks * 16);
  }
}

// A warp's 16 resident rows of head_dim (the forward's Q; the key pass's K and V; the query
// pass's Q and dO), staged in shared memory at `rows`: held as register fragments, or in the
// lean build (kLean) read from shared memory at each use. times_transposed adds rows · tileᵀ.
template <int kHeadDim, bool kLean>
struct ResidentRows {
  const bf16* rows;
  uint32_t fragments[HeadLayout<kHeadDim>::kHeadSteps][4];  // unused when kLean

  __device__ __forceinline__ explicit ResidentRows(const bf16* shared_rows) : rows(shared_rows) {
    if constexpr (!kLean) {
#pragma unroll
      for (int ks = 0; ks < HeadLayout<kHeadDim>::kHeadSteps; ++ks)
        load_a<HeadLayout<kHeadDim>::kPitch>(fragments[ks], rows + ks * 16);
    }
  }
  template <int kTiles>
  __device__ __forceinline__ void times_transposed(float (&acc)[kTiles][4], const bf16* tile) const {
    if constexpr (kLean)
      gemm_shared_a_bt<kHeadDim, kTiles>(acc, rows, tile);
    else
      gemm_a_bt<kHeadDim, kTiles>(acc, fragments, tile);
  }
};

// acc[nt] += A · tile for one 16-row k-step of tile (k rows × head_dim n, at `rows`): the B
// fragments of two n-tiles per transposed x4 load.
template <int kHeadDim>
__device__ __forceinline__ void mma_a_b_rows(float acc[HeadLayout<kHeadDim>::kHeadTiles][4],
                                             const uint32_t a[4], const bf16* rows) {
  using Layout = HeadLayout<kHeadDim>;
#pragma unroll
  for (int np = 0; np < Layout::kHeadTiles / 2; ++np) {
    uint32_t r[4];
    load_matrices_x4<Layout::kPitch, true>(r, rows + np * 16);
    const uint32_t b_even[2] = {r[0], r[1]}, b_odd[2] = {r[2], r[3]};
    mma_16816(acc[2 * np], a, b_even);
    mma_16816(acc[2 * np + 1], a, b_odd);
  }
}

// acc[nt] += P(16 × kSteps·16, the fp32 accumulators p[2·kSteps][4] rounded to bf16) · tile
// (kSteps·16 k-rows × head_dim n; kScoreSteps for all kCols): O += P·V and its kin, a 16 × head_dim
// result.
template <int kHeadDim, int kSteps>
__device__ __forceinline__ void gemm_p_b(float acc[HeadLayout<kHeadDim>::kHeadTiles][4],
                                         const float p[2 * kSteps][4], const bf16* tile) {
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk) {
    uint32_t a[4];
    a_from_accumulators(a, p[2 * kk], p[2 * kk + 1]);
    mma_a_b_rows<kHeadDim>(acc, a, tile + kk * 16 * HeadLayout<kHeadDim>::kPitch);
  }
}

// acc[nt] += A · tile, A = transposedᵀ (16 × kCols: transposed holds kCols k-rows of 16
// columns at pitch kTransposedPitch), tile = kCols k-rows × head_dim n: dQ = dS·K from the
// shared dSᵀ, a 16 × head_dim result.
template <int kHeadDim, int kTransposedPitch>
__device__ __forceinline__ void gemm_at_b(float acc[HeadLayout<kHeadDim>::kHeadTiles][4],
                                          const bf16* transposed, const bf16* tile) {
#pragma unroll
  for (int kk = 0; kk < kScoreSteps; ++kk) {
    uint32_t r[4];
    load_matrices_x4<kTransposedPitch, true>(r, transposed + kk * 16 * kTransposedPitch);
    const uint32_t a[4] = {r[0], r[2], r[1], r[3]};
    mma_a_b_rows<kHeadDim>(acc, a, tile + kk * 16 * HeadLayout<kHeadDim>::kPitch);
  }
}

template <int kTiles>
__device__ __forceinline__ void zero(float (&acc)[kTiles][4]) {
#pragma unroll
  for (int i = 0; i < kTiles; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
}

// 16 bytes global → shared without a register round trip (cp.async; zero-fills when !valid, in
// which case `global` is not read). Completed by wait_copies(). The emulation lands it only at
// that wait, and fills the 16 bytes with NaN until then (emu::copy_async_16).
__device__ __forceinline__ void copy_async_16(void* shared, const void* global, bool valid) {
#if defined(BERT_CUDA_EMULATION)
  ::emu::copy_async_16(shared, global, valid);
#elif defined(__CUDA_ARCH__)
  const uint32_t address = static_cast<uint32_t>(__cvta_generic_to_shared(shared));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(global),
               "r"(valid ? 16 : 0)
               : "memory");
#endif
}
// Waits for every copy_async_16 of this thread (other threads' copies: __syncthreads after).
__device__ __forceinline__ void wait_copies() {
#if defined(BERT_CUDA_EMULATION)
  ::emu::wait_copies();
#elif defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_all;\n" ::: "memory");
#endif
}

// Copies `valid_rows` rows of kHeadDim bf16 (row r at source + r·row_stride) into a shared
// tile of kCols rows; rows past valid_rows become zero. 16-byte copies: source rows must be
// 16-byte aligned. Asynchronous: the copies land by wait_copies() + __syncthreads(), so a
// kernel issues every tile it needs first and waits once.
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
