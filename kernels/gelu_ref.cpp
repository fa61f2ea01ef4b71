// CPU reference of bias + erf-GELU (kernels/gelu.h): GELU(x) = x·Φ(x), backward dy·(Φ(x) + x·φ(x)).
// The double version follows torch's order of operations (x·0.5·(1 + erf(x·√½))) so it tracks
// the float64 golden to rounding; the float version takes Φ and φ from kernels/cpu_math.h so
// the loops vectorise. Rows run on the CPU pool; d_bias is a deterministic block sum.
#include "kernels/gelu.h"

#include <cmath>
#include <cstddef>
#include <vector>

#include "kernels/cpu_math.h"
#include "kernels/cpu_parallel.h"

namespace bert {
namespace {

// GELU'(x) = Φ(x) + x·φ(x).
template <typename T>
T gelu_derivative(T x) {
  const cpu_math::NormalCdfPdf<T> normal = cpu_math::normal_cdf_pdf(x);
  return normal.cdf + x * normal.pdf;
}

}  // namespace

template <typename T>
void bias_gelu_forward_ref(T* out, const T* pre, const T* bias, int rows, int width) {
  const size_t n = static_cast<size_t>(width);
  cpu::parallel_for(static_cast<size_t>(rows), 16, [&](size_t first, size_t last) {
    for (size_t r = first; r < last; ++r) {
      const T* p = pre + r * n;
      T* y = out + r * n;
      for (size_t c = 0; c < n; ++c) {
        const T x = p[c] + bias[c];
        y[c] = x * cpu_math::normal_cdf(x);
      }
    }
  });
}

template <typename T>
void bias_gelu_backward_ref(T* d_pre, T* d_bias, const T* d_out, const T* pre, const T* bias,
                            int rows, int width) {
  const size_t n = static_cast<size_t>(width);
  std::vector<double> bias_sum;
  cpu::column_sums(static_cast<size_t>(rows), n, &bias_sum, [&](size_t first, size_t last, double* partial) {
    for (size_t r = first; r < last; ++r) {
      const T* p = pre + r * n;
      const T* dy = d_out + r * n;
      T* dx = d_pre + r * n;
      for (size_t c = 0; c < n; ++c) {
        const T x = p[c] + bias[c];
        dx[c] = dy[c] * gelu_derivative(x);
        partial[c] += dx[c];
      }
    }
  });
  for (size_t c = 0; c < n; ++c) d_bias[c] += static_cast<T>(bias_sum[c]);
}

#define BERT_INSTANTIATE_GELU(T)                                                      \
  template void bias_gelu_forward_ref<T>(T*, const T*, const T*, int, int);          \
  template void bias_gelu_backward_ref<T>(T*, T*, const T*, const T*, const T*, int, int);
BERT_INSTANTIATE_GELU(float)
BERT_INSTANTIATE_GELU(double)
#undef BERT_INSTANTIATE_GELU

}  // namespace bert
