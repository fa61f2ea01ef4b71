// CPU reference of LayerNorm (kernels/layernorm.h). Row statistics and the backward's row
// means are accumulated in double for every T (cheap: one pass per row), and d_gamma/d_beta
// are summed over rows in double before being added once to the T buffers. Rows run on the
// CPU pool; d_gamma/d_beta are deterministic block sums (kernels/cpu_parallel.h).
#include "kernels/layernorm.h"

#include <cmath>
#include <cstddef>
#include <vector>

#include "kernels/cpu_math.h"
#include "kernels/cpu_parallel.h"

namespace bert {

template <typename T>
void layernorm_forward_ref(T* out, T* mean, T* rstd, const T* inp, const T* gamma, const T* beta,
                           int rows, int width, float eps) {
  const size_t n = static_cast<size_t>(width);
  cpu::parallel_for(static_cast<size_t>(rows), 16, [&](size_t first, size_t last) {
    for (size_t r = first; r < last; ++r) {
      const T* x = inp + r * n;
      T* y = out + r * n;
      const T row_mean = static_cast<T>(cpu_math::sum_in_double(x, width) / width);
      // Two-pass variance around the rounded mean: no cancellation, and backward sees the
      // same mean that was used here.
      const double var = cpu_math::squared_deviation_in_double(x, row_mean, width) / width;
      const T row_rstd = static_cast<T>(1.0 / std::sqrt(var + static_cast<double>(eps)));
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

#define BERT_INSTANTIATE_LAYERNORM(T)                                                            \
  template void layernorm_forward_ref<T>(T*, T*, T*, const T*, const T*, const T*, int, int,    \
                                         float);                                                \
  template void layernorm_backward_ref<T>(T*, T*, T*, const T*, const T*, const T*, const T*,   \
                                          const T*, int, int, Accumulate);
BERT_INSTANTIATE_LAYERNORM(float)
BERT_INSTANTIATE_LAYERNORM(double)
#undef BERT_INSTANTIATE_LAYERNORM

}  // namespace bert
