// CPU reference of packed variable-length multi-head attention (kernels/attention.h).
// Each (sequence, head) is a few small GEMMs on strided views of qkv (lda = 3·heads·head_dim),
// with the softmax in between. Forward keeps only lse; backward recomputes P = exp(S − lse)
// into per-(sequence, head) scratch, so nothing of size L² outlives a call. The (sequence, head)
// pairs run on the CPU pool, each writing only its own rows and columns of ctx/lse/d_qkv.
#include "kernels/attention.h"

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/blas_ref.h"
#include "kernels/cpu_math.h"
#include "kernels/cpu_parallel.h"
#include "kernels/dropout_mask_ref.h"

namespace bert {
namespace {

void check_layout(const int32_t* cu_seqlens, const AttentionShape& shape) {
  BERT_CHECK(shape.tokens >= 0 && shape.batch >= 0 && shape.heads > 0 && shape.head_dim > 0,
             "attention: tokens " + std::to_string(shape.tokens) + ", batch " +
                 std::to_string(shape.batch) + ", heads " + std::to_string(shape.heads) +
                 ", head_dim " + std::to_string(shape.head_dim));
  BERT_CHECK(shape.longest >= 0 && shape.longest <= shape.max_positions,
             "attention: longest " + std::to_string(shape.longest) + ", expected 0.." +
                 std::to_string(shape.max_positions));
  BERT_CHECK(cu_seqlens[0] == 0, "attention: cu_seqlens[0] must be 0");
  const int bound = length_bound(shape);
  for (int b = 0; b < shape.batch; ++b) {
    const int length = cu_seqlens[b + 1] - cu_seqlens[b];
    BERT_CHECK(length >= 0 && length <= bound,
               "attention: sequence " + std::to_string(b) + " has length " +
                   std::to_string(length) + ", expected 0.." + std::to_string(bound) +
                   (shape.longest > 0 ? " (the shape's longest)" : " (max_positions)"));
  }
  BERT_CHECK(cu_seqlens[shape.batch] == shape.tokens,
             "attention: cu_seqlens[batch] = " + std::to_string(cu_seqlens[shape.batch]) +
                 ", expected tokens = " + std::to_string(shape.tokens));
}

// Dropout element of (query token, head, key position 0); keys follow consecutively.
uint64_t dropout_row_index(int query_token, int head, const AttentionShape& shape) {
  return (static_cast<uint64_t>(query_token) * shape.heads + head) * shape.max_positions;
}

// attention_keep_scale (kernels/dropout_rng.h) in T: 256 / (256 − threshold).
template <typename T>
T dropout_scale(const DropoutSpec& spec) {
  return T(256) / T(256u - attention_drop_threshold(spec.probability));
}

// body(sequence, head) for every pair, on the CPU pool.
template <typename Body>
void for_each_head(const AttentionShape& shape, const Body& body) {
  cpu::parallel_for(static_cast<size_t>(shape.batch) * shape.heads, 1, [&](size_t first, size_t last) {
    for (size_t pair = first; pair < last; ++pair)
      body(static_cast<int>(pair / shape.heads), static_cast<int>(pair % shape.heads));
  });
}

// Views of one (sequence, head) inside the packed buffers.
struct HeadView {
  int first = 0, length = 0;
  size_t qkv_offset = 0, ctx_offset = 0;
  HeadView(const int32_t* cu_seqlens, int b, int h, const AttentionShape& shape) {
    first = cu_seqlens[b];
    length = cu_seqlens[b + 1] - first;
    const size_t hidden = static_cast<size_t>(shape.heads) * shape.head_dim;
    qkv_offset = static_cast<size_t>(first) * 3 * hidden + static_cast<size_t>(h) * shape.head_dim;
    ctx_offset = static_cast<size_t>(first) * hidden + static_cast<size_t>(h) * shape.head_dim;
  }
};

}  // namespace

template <typename T>
void attention_forward_ref(T* ctx, T* lse, const T* qkv, const int32_t* cu_seqlens,
                           const AttentionShape& shape, const DropoutSpec& dropout) {
  check_layout(cu_seqlens, shape);
  const int heads = shape.heads, dim = shape.head_dim, hidden = heads * dim, row = 3 * hidden;
  const T scale = T(1) / std::sqrt(static_cast<T>(dim));
  const T keep_scale = dropout_scale<T>(dropout);
  for_each_head(shape, [&](int b, int h) {
    thread_local std::vector<T> probs;
    thread_local std::vector<uint8_t> keep;
    const HeadView view(cu_seqlens, b, h, shape);
    const int length = view.length;
    if (length == 0) return;
    probs.resize(static_cast<size_t>(length) * length);
    keep.resize(length);
    const T* q = qkv + view.qkv_offset;
    // S = scale · Q·Kᵀ  [length, length]
    blas::gemm(false, true, length, length, dim, scale, q, row, q + hidden, row, T(0),
               probs.data(), length);
    for (int i = 0; i < length; ++i) {
      // Restrict-qualified views: the keep flags are bytes, which may alias anything, so
      // without them no loop below would be vectorised.
      T* BERT_RESTRICT p = probs.data() + static_cast<size_t>(i) * length;
      const T row_max = cpu_math::max_of(p, length);
      for (int j = 0; j < length; ++j) p[j] = cpu_math::exp(p[j] - row_max);
      const double sum = cpu_math::sum_in_double(p, length);
      const T inv_sum = static_cast<T>(1.0 / sum);
      const int token = view.first + i;
      lse[static_cast<size_t>(token) * heads + h] =
          static_cast<T>(static_cast<double>(row_max) + std::log(sum));
      if (dropout.active()) {
        attention_dropout_keep_flags(keep.data(), dropout, dropout_row_index(token, h, shape), length);
        const uint8_t* BERT_RESTRICT kept = keep.data();
        // A flag (0 or 1) as a factor: branch-free, and exact (p·1 = p, p·0 = 0 for p >= 0).
        for (int j = 0; j < length; ++j) p[j] = p[j] * inv_sum * keep_scale * static_cast<T>(kept[j]);
      } else {
        for (int j = 0; j < length; ++j) p[j] *= inv_sum;
      }
    }
    // ctx = dropout(P)·V  [length, head_dim], written into the packed [tokens, hidden] rows.
    blas::gemm(false, false, length, dim, length, T(1), probs.data(), length, q + 2 * hidden,
               row, T(0), ctx + view.ctx_offset, hidden);
  });
}

template <typename T>
void attention_backward_ref(T* d_qkv, const T* d_ctx, const T* qkv, const T* ctx, const T* lse,
                            const int32_t* cu_seqlens, const AttentionShape& shape,
                            const DropoutSpec& dropout) {
  check_layout(cu_seqlens, shape);
  const int heads = shape.heads, dim = shape.head_dim, hidden = heads * dim, row = 3 * hidden;
  const T scale = T(1) / std::sqrt(static_cast<T>(dim));
  const T keep_scale = dropout_scale<T>(dropout);
  for_each_head(shape, [&](int b, int h) {
    thread_local std::vector<T> probs, dropped, grad;  // P, dropout(P), then dPd → dS; each [length, length]
    thread_local std::vector<uint8_t> keep;
    const HeadView view(cu_seqlens, b, h, shape);
    const int length = view.length;
    if (length == 0) return;
    const size_t square = static_cast<size_t>(length) * length;
    probs.resize(square);
    dropped.resize(square);
    grad.resize(square);
    keep.assign(square, 1);
    const T* q = qkv + view.qkv_offset;
    const T* k = q + hidden;
    const T* v = q + 2 * hidden;
    const T* dctx = d_ctx + view.ctx_offset;
    T* dq = d_qkv + view.qkv_offset;
    blas::gemm(false, true, length, length, dim, scale, q, row, k, row, T(0), probs.data(),
               length);
    for (int i = 0; i < length; ++i) {
      const int token = view.first + i;
      const T row_lse = lse[static_cast<size_t>(token) * heads + h];
      const size_t base = static_cast<size_t>(i) * length;
      if (dropout.active())
        attention_dropout_keep_flags(keep.data() + base, dropout, dropout_row_index(token, h, shape),
                           length);
      // Restrict-qualified views, and the flag as a factor, as in the forward.
      T* BERT_RESTRICT p = probs.data() + base;
      T* BERT_RESTRICT pd = dropped.data() + base;
      const uint8_t* BERT_RESTRICT kept = keep.data() + base;
      for (int j = 0; j < length; ++j) {
        p[j] = cpu_math::exp(p[j] - row_lse);
        pd[j] = p[j] * (keep_scale * static_cast<T>(kept[j]));
      }
    }
    // dV = dropout(P)ᵀ·d_ctx
    blas::gemm(true, false, length, dim, length, T(1), dropped.data(), length, dctx, hidden,
               T(0), dq + 2 * hidden, row);
    // dPd = d_ctx·Vᵀ
    blas::gemm(false, true, length, length, dim, T(1), dctx, hidden, v, row, T(0), grad.data(),
               length);
    for (int i = 0; i < length; ++i) {
      const T* ctx_row = ctx + view.ctx_offset + static_cast<size_t>(i) * hidden;
      const T* dctx_row = dctx + static_cast<size_t>(i) * hidden;
      // D_i = Σ_c d_ctx·ctx = Σ_j P_ij·dP_ij
      const T row_dot = static_cast<T>(cpu_math::dot_in_double(dctx_row, ctx_row, dim));
      const size_t base = static_cast<size_t>(i) * length;
      const T* BERT_RESTRICT p = probs.data() + base;
      const uint8_t* BERT_RESTRICT kept = keep.data() + base;
      T* BERT_RESTRICT g = grad.data() + base;
      for (int j = 0; j < length; ++j) {
        const T dp = g[j] * (keep_scale * static_cast<T>(kept[j]));
        g[j] = p[j] * (dp - row_dot);
      }
    }
    // dQ = scale·dS·K,  dK = scale·dSᵀ·Q
    blas::gemm(false, false, length, dim, length, scale, grad.data(), length, k, row, T(0), dq,
               row);
    blas::gemm(true, false, length, dim, length, scale, grad.data(), length, q, row, T(0),
               dq + hidden, row);
  });
}

#define BERT_INSTANTIATE_ATTENTION(T)                                                          \
  template void attention_forward_ref<T>(T*, T*, const T*, const int32_t*,                    \
                                         const AttentionShape&, const DropoutSpec&);          \
  template void attention_backward_ref<T>(T*, const T*, const T*, const T*, const T*,         \
                                          const int32_t*, const AttentionShape&,              \
                                          const DropoutSpec&);
BERT_INSTANTIATE_ATTENTION(float)
BERT_INSTANTIATE_ATTENTION(double)
#undef BERT_INSTANTIATE_ATTENTION

}  // namespace bert
