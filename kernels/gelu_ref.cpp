// CPU reference of bias + the feed-forward activation (kernels/gelu.h). Erf GELU(x) = x·Φ(x),
// backward dy·(Φ(x) + x·φ(x)): the double version follows torch's order of operations
// (x·0.5·(1 + erf(x·√½))) so it tracks the float64 golden to rounding; the float version takes
// Φ and φ from kernels/cpu_math.h so the loops vectorise. The other activations follow
// transformers' formulas (core/activation.h) with their derivatives written out. Rows run on
// the CPU pool; d_bias is a deterministic block sum.
#include "kernels/gelu.h"

#include <cmath>
#include <cstddef>
#include <vector>

#include "kernels/cpu_math.h"
#include "kernels/cpu_parallel.h"

namespace bert {
namespace {

template <typename T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <Activation A, typename T>
T activation_value(T x) {
  if constexpr (A == Activation::kGeluErf) {
    return x * cpu_math::normal_cdf(x);
  } else if constexpr (A == Activation::kGeluTanh) {
    // NewGELUActivation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    const T c = static_cast<T>(0.79788456080286535588);
    return T(0.5) * x * (T(1) + std::tanh(c * (x + T(0.044715) * (x * x * x))));
  } else if constexpr (A == Activation::kQuickGelu) {
    return x * sigmoid(T(1.702) * x);
  } else if constexpr (A == Activation::kRelu) {
    return x > T(0) ? x : T(0);
  } else {
    return x * sigmoid(x);
  }
}

template <Activation A, typename T>
T activation_derivative(T x) {
  if constexpr (A == Activation::kGeluErf) {
    const cpu_math::NormalCdfPdf<T> normal = cpu_math::normal_cdf_pdf(x);  // Φ(x) + x·φ(x)
    return normal.cdf + x * normal.pdf;
  } else if constexpr (A == Activation::kGeluTanh) {
    // 0.5·(1 + t) + 0.5·x·(1 - t²)·√(2/π)·(1 + 3·0.044715·x²), t = tanh(√(2/π)·(x + 0.044715·x³)).
    const T c = static_cast<T>(0.79788456080286535588);
    const T t = std::tanh(c * (x + T(0.044715) * (x * x * x)));
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * c * (T(1) + T(3 * 0.044715) * x * x);
  } else if constexpr (A == Activation::kQuickGelu) {
    const T s = sigmoid(T(1.702) * x);  // σ(kx) + kx·σ(kx)·(1 - σ(kx))
    return s + T(1.702) * x * s * (T(1) - s);
  } else if constexpr (A == Activation::kRelu) {
    return x > T(0) ? T(1) : T(0);  // torch's threshold_backward: 0 at x = 0
  } else {
    const T s = sigmoid(x);  // σ(x)·(1 + x·(1 - σ(x)))
    return s * (T(1) + x * (T(1) - s));
  }
}

template <Activation A, typename T>
void forward(T* out, const T* pre, const T* bias, int rows, int width) {
  const size_t n = static_cast<size_t>(width);
  cpu::parallel_for(static_cast<size_t>(rows), 16, [&](size_t first, size_t last) {
    for (size_t r = first; r < last; ++r) {
      const T* p = pre + r * n;
      T* y = out + r * n;
      for (size_t c = 0; c < n; ++c) y[c] = activation_value<A>(p[c] + bias[c]);
    }
  });
}

template <Activation A, typename T>
void backward(T* d_pre, T* d_bias, const T* d_out, const T* pre, const T* bias, int rows,
              int width) {
  const size_t n = static_cast<size_t>(width);
  std::vector<double> bias_sum;
  cpu::column_sums(static_cast<size_t>(rows), n, &bias_sum, [&](size_t first, size_t last, double* partial) {
    for (size_t r = first; r < last; ++r) {
      const T* p = pre + r * n;
      const T* dy = d_out + r * n;
      T* dx = d_pre + r * n;
      for (size_t c = 0; c < n; ++c) {
        dx[c] = dy[c] * activation_derivative<A>(p[c] + bias[c]);
        partial[c] += dx[c];
      }
    }
  });
  for (size_t c = 0; c < n; ++c) d_bias[c] += static_cast<T>(bias_sum[c]);
}

}  // namespace

template <typename T>
void bias_activation_forward_ref(Activation act, T* out, const T* pre, const T* bias, int rows,
                                 int width) {
  with_activation(act, [&](auto a) { forward<decltype(a)::value>(out, pre, bias, rows, width); });
}

template <typename T>
void bias_activation_backward_ref(Activation act, T* d_pre, T* d_bias, const T* d_out, const T* pre,
                                  const T* bias, int rows, int width) {
  with_activation(act, [&](auto a) {
    backward<decltype(a)::value>(d_pre, d_bias, d_out, pre, bias, rows, width);
  });
}

#define BERT_INSTANTIATE_GELU(T)                                                                  \
  template void bias_activation_forward_ref<T>(Activation, T*, const T*, const T*, int, int);     \
  template void bias_activation_backward_ref<T>(Activation, T*, T*, const T*, const T*, const T*, \
                                                int, int);
BERT_INSTANTIATE_GELU(float)
BERT_INSTANTIATE_GELU(double)
#undef BERT_INSTANTIATE_GELU

}  // namespace bert
