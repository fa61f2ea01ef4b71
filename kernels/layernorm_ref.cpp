// CPU reference of LayerNorm (kernels/layernorm.h). Row statistics and the backward's row
// means are accumulated in double for every T (cheap: one pass per row), and d_gamma/d_beta
// are summed over rows in double before being added once to the T buffers.
#include "kernels/layernorm.h"

#include <cmath>
#include <cstddef>
#include <vector>

namespace bert {

template <typename T>
void layernorm_forward_ref(T* out, T* mean, T* rstd, const T* inp, const T* gamma, const T* beta,
                           int rows, int width, float eps) {
  const size_t n = static_cast<size_t>(width);
  for (int r = 0; r < rows; ++r) {
    const T* x = inp + static_cast<size_t>(r) * n;
    T* y = out + static_cast<size_t>(r) * n;
    double sum = 0;
    for (size_t c = 0; c < n; ++c) sum += x[c];
    const T row_mean = static_cast<T>(sum / width);
    // Two-pass variance around the rounded mean: no cancellation, and backward sees the
    // same mean that was used here.
    double sum_sq = 0;
    for (size_t c = 0; c < n; ++c) {
      const double centered = static_cast<double>(x[c]) - static_cast<double>(row_mean);
      sum_sq += centered * centered;
    }
    const double var = sum_sq / width;
    const T row_rstd = static_cast<T>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    for (size_t c = 0; c < n; ++c) y[c] = (x[c] - row_mean) * row_rstd * gamma[c] + beta[c];
    mean[r] = row_mean;
    rstd[r] = row_rstd;
  }
}

template <typename T>
void layernorm_backward_ref(T* d_inp, T* d_gamma, T* d_beta, const T* d_out, const T* inp,
                            const T* gamma, const T* mean, const T* rstd, int rows, int width,
                            Accumulate mode) {
  const size_t n = static_cast<size_t>(width);
  std::vector<double> gamma_sum(n, 0.0), beta_sum(n, 0.0);
  std::vector<T> xhat(n), g(n);
  for (int r = 0; r < rows; ++r) {
    const T* x = inp + static_cast<size_t>(r) * n;
    const T* dy = d_out + static_cast<size_t>(r) * n;
    T* dx = d_inp + static_cast<size_t>(r) * n;
    double sum_g = 0, sum_g_xhat = 0;
    for (size_t c = 0; c < n; ++c) {
      xhat[c] = (x[c] - mean[r]) * rstd[r];
      g[c] = dy[c] * gamma[c];
      sum_g += g[c];
      sum_g_xhat += static_cast<double>(g[c]) * xhat[c];
      gamma_sum[c] += static_cast<double>(dy[c]) * xhat[c];
      beta_sum[c] += dy[c];
    }
    const T mean_g = static_cast<T>(sum_g / width);
    const T mean_g_xhat = static_cast<T>(sum_g_xhat / width);
    for (size_t c = 0; c < n; ++c) {
      const T grad = rstd[r] * (g[c] - mean_g - xhat[c] * mean_g_xhat);
      dx[c] = mode == Accumulate::kAdd ? dx[c] + grad : grad;
    }
  }
  for (size_t c = 0; c < n; ++c) {
    d_gamma[c] += static_cast<T>(gamma_sum[c]);
    d_beta[c] += static_cast<T>(beta_sum[c]);
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
