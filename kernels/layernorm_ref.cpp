// CPU reference of LayerNorm (kernels/layernorm.h). Row statistics and the backward's row
// means are accumulated in double for every T (cheap: one pass per row), and d_gamma/d_beta
// are summed over rows in double before being added once to the T buffers. Rows run on the
// CPU pool; d_gamma/d_beta are deterministic block sums (kernels/cpu_parallel.h). The fused
// residual + dropout + LayerNorm is written here once, from the dropout and LayerNorm references.
#include "kernels/layernorm.h"

#include <cmath>
#include <cstddef>
#include <vector>

#include "kernels/cpu_math.h"
#include "kernels/cpu_parallel.h"
#include "kernels/dropout.h"

namespace bert {
namespace {

// Elements per piece of the fused backward's residual add on the CPU pool.
constexpr size_t kElementPiece = 1 << 15;

}  // namespace

template <typename T>
void layernorm_forward_ref(T* out, T* mean, T* rstd, const T* inp, const T* gamma, const T* beta,
                           int rows, int width, double eps) {
  const size_t n = static_cast<size_t>(width);
  // eps in the compute type, as torch's LayerNorm: the float reference adds float(eps) as the
  // kernels do, the double one the config's double (a golden with eps 1e-5 needs it exact).
  const double eps_t = static_cast<double>(static_cast<T>(eps));
  cpu::parallel_for(static_cast<size_t>(rows), 16, [&](size_t first, size_t last) {
    for (size_t r = first; r < last; ++r) {
      const T* x = inp + r * n;
      T* y = out + r * n;
      const T row_mean = static_cast<T>(cpu_math::sum_in_double(x, width) / width);
      // Two-pass variance around the rounded mean: no cancellation, and backward sees the
      // same mean that was used here.
      const double var = cpu_math::squared_deviation_in_double(x, row_mean, width) / width;
      const T row_rstd = static_cast<T>(1.0 / std::sqrt(var + eps_t));
      for (size_t c = 0; c < n; ++c) y[c] = (x[c] - row_mean) * row_rstd * gamma[c] + beta[c];
      mean[r] = row_mean;
      rstd[r] = row_rstd;
    }
  });
}

template <typename T>
void layernorm_backward_ref(T* d_inp, T* d_gamma, T* d_beta, const T* d_out, const T* inp,
                            const T* gamma, const T* mean, const T* rstd, int rows, int width,
                            Accumulate mode) {
  const size_t n = static_cast<size_t>(width);
  // partial[0..n) collects d_gamma, partial[n..2n) d_beta.
  std::vector<double> sums;
  cpu::column_sums(static_cast<size_t>(rows), 2 * n, &sums, [&](size_t first, size_t last, double* partial) {
    std::vector<T> xhat(n), g(n);
    for (size_t r = first; r < last; ++r) {
      const T* x = inp + r * n;
      const T* dy = d_out + r * n;
      T* dx = d_inp + r * n;
      for (size_t c = 0; c < n; ++c) {
        xhat[c] = (x[c] - mean[r]) * rstd[r];
        g[c] = dy[c] * gamma[c];
        partial[c] += static_cast<double>(dy[c]) * xhat[c];
        partial[n + c] += dy[c];
      }
      const T mean_g = static_cast<T>(cpu_math::sum_in_double(g.data(), width) / width);
      const T mean_g_xhat = static_cast<T>(cpu_math::dot_in_double(g.data(), xhat.data(), width) / width);
      for (size_t c = 0; c < n; ++c) {
        const T grad = rstd[r] * (g[c] - mean_g - xhat[c] * mean_g_xhat);
        dx[c] = mode == Accumulate::kAdd ? dx[c] + grad : grad;
      }
    }
  });
  for (size_t c = 0; c < n; ++c) {
    d_gamma[c] += static_cast<T>(sums[c]);
    d_beta[c] += static_cast<T>(sums[n + c]);
  }
}

template <typename T>
void residual_dropout_layernorm_forward_ref(T* out, T* sum, T* mean, T* rstd, const T* branch,
                                            const T* residual, const T* gamma, const T* beta,
                                            int rows, int width, double eps,
                                            const DropoutSpec& dropout) {
  residual_dropout_forward_ref(sum, branch, residual, static_cast<size_t>(rows) * width, dropout);
  layernorm_forward_ref(out, mean, rstd, sum, gamma, beta, rows, width, eps);
}

template <typename T>
void residual_dropout_layernorm_backward_ref(T* d_branch, T* d_residual, T* d_gamma, T* d_beta,
                                             const T* d_out, const T* sum, const T* gamma,
                                             const T* mean, const T* rstd, int rows, int width,
                                             const DropoutSpec& dropout, Accumulate residual_mode) {
  const size_t count = static_cast<size_t>(rows) * width;
  // d_branch needs d_sum alone, so adding onto d_residual goes through a scratch copy (kept per
  // thread, grown to the largest use); overwriting computes d_sum in d_residual itself.
  thread_local std::vector<T> scratch;
  T* d_sum = d_residual;
  if (residual_mode == Accumulate::kAdd) {
    if (scratch.size() < count) scratch.resize(count);
    d_sum = scratch.data();
  }
  layernorm_backward_ref(d_sum, d_gamma, d_beta, d_out, sum, gamma, mean, rstd, rows, width,
                         Accumulate::kOverwrite);
  if (residual_mode == Accumulate::kAdd) {
    cpu::parallel_for(count, kElementPiece, [&](size_t first, size_t last) {
      for (size_t i = first; i < last; ++i) d_residual[i] += d_sum[i];
    });
  }
  if (d_branch) dropout_backward_ref(d_branch, d_sum, count, dropout, Accumulate::kOverwrite);
}

#define BERT_INSTANTIATE_LAYERNORM(T)                                                            \
  template void layernorm_forward_ref<T>(T*, T*, T*, const T*, const T*, const T*, int, int,    \
                                         double);                                               \
  template void layernorm_backward_ref<T>(T*, T*, T*, const T*, const T*, const T*, const T*,   \
                                          const T*, int, int, Accumulate);              \
  template void residual_dropout_layernorm_forward_ref<T>(T*, T*, T*, T*, const T*, const T*,   \
                                                          const T*, const T*, int, int, double, \
                                                          const DropoutSpec&);                  \
  template void residual_dropout_layernorm_backward_ref<T>(T*, T*, T*, T*, const T*, const T*,  \
                                                           const T*, const T*, const T*, int,   \
                                                           int, const DropoutSpec&, Accumulate);
BERT_INSTANTIATE_LAYERNORM(float)
BERT_INSTANTIATE_LAYERNORM(double)
#undef BERT_INSTANTIATE_LAYERNORM

}  // namespace bert
