// CPU reference of bias + erf-GELU (kernels/gelu.h). Written in torch's order of operations
// (x·0.5·(1 + erf(x·√½)); backward dy·(cdf + x·pdf)) so the double reference tracks the
// float64 golden to rounding. std::erf/std::exp resolve to the T overloads: float math for
// float, double for double.
#include "kernels/gelu.h"

#include <cmath>
#include <cstddef>
#include <vector>

namespace bert {
namespace {

constexpr double kSqrtHalf = 0.70710678118654752440;          // 1/√2
constexpr double kInvSqrtTwoPi = 0.39894228040143267794;      // 1/√(2π)

}  // namespace

template <typename T>
void bias_gelu_forward_ref(T* out, const T* pre, const T* bias, int rows, int width) {
  const size_t n = static_cast<size_t>(width);
  const T alpha = static_cast<T>(kSqrtHalf);
  for (int r = 0; r < rows; ++r) {
    const T* p = pre + static_cast<size_t>(r) * n;
    T* y = out + static_cast<size_t>(r) * n;
    for (size_t c = 0; c < n; ++c) {
      const T x = p[c] + bias[c];
      y[c] = x * T(0.5) * (T(1) + std::erf(x * alpha));
    }
  }
}

template <typename T>
void bias_gelu_backward_ref(T* d_pre, T* d_bias, const T* d_out, const T* pre, const T* bias,
                            int rows, int width) {
  const size_t n = static_cast<size_t>(width);
  const T alpha = static_cast<T>(kSqrtHalf);
  const T beta = static_cast<T>(kInvSqrtTwoPi);
  std::vector<double> bias_sum(n, 0.0);
  for (int r = 0; r < rows; ++r) {
    const T* p = pre + static_cast<size_t>(r) * n;
    const T* dy = d_out + static_cast<size_t>(r) * n;
    T* dx = d_pre + static_cast<size_t>(r) * n;
    for (size_t c = 0; c < n; ++c) {
      const T x = p[c] + bias[c];
      const T cdf = T(0.5) * (T(1) + std::erf(x * alpha));
      const T pdf = std::exp(T(-0.5) * x * x) * beta;
      dx[c] = dy[c] * (cdf + x * pdf);
      bias_sum[c] += dx[c];
    }
  }
  for (size_t c = 0; c < n; ++c) d_bias[c] += static_cast<T>(bias_sum[c]);
}

#define BERT_INSTANTIATE_GELU(T)                                                      \
  template void bias_gelu_forward_ref<T>(T*, const T*, const T*, int, int);          \
  template void bias_gelu_backward_ref<T>(T*, T*, const T*, const T*, const T*, int, int);
BERT_INSTANTIATE_GELU(float)
BERT_INSTANTIATE_GELU(double)
#undef BERT_INSTANTIATE_GELU

}  // namespace bert
