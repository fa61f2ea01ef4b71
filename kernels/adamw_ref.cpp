// CPU reference of AdamW (kernels/adamw.h), in the order of operations of torch's
// single-tensor AdamW on CPU, so the double version reproduces the float64 golden:
//   param.mul_(1 − lr·wd); exp_avg.lerp_(g, 1 − β1); exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2);
//   denom = sqrt(v) / sqrt(1 − β2^step) + eps; param.addcdiv_(m, denom, −lr / (1 − β1^step)).
// Python-float scalars are formed in double, then rounded to T as torch does for a T tensor.
#include "kernels/adamw.h"

#include <cmath>
#include <string>

#include "engine/core/error.h"

namespace bert {

template <typename T>
void adamw_update_ref(T* param, T* exp_avg, T* exp_avg_sq, const T* grad, size_t count,
                      const AdamWHyper& hyper, double grad_scale) {
  BERT_CHECK(hyper.step >= 1, "adamw: step must be >= 1, got " + std::to_string(hyper.step));
  const double step = static_cast<double>(hyper.step);
  const double bias_correction1 = 1.0 - std::pow(hyper.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(hyper.beta2, step);
  const T decay = static_cast<T>(1.0 - hyper.learning_rate * hyper.weight_decay);
  const T lerp_weight = static_cast<T>(1.0 - hyper.beta1);
  const T beta2 = static_cast<T>(hyper.beta2);
  const T square_weight = static_cast<T>(1.0 - hyper.beta2);
  const T neg_step_size = static_cast<T>(-(hyper.learning_rate / bias_correction1));
  const T bias_correction2_sqrt = static_cast<T>(std::pow(bias_correction2, 0.5));
  const T eps = static_cast<T>(hyper.eps);
  const T scale = static_cast<T>(grad_scale);
  const bool decays = hyper.weight_decay != 0;
  // torch's lerp takes the `self + w·(end − self)` branch only for |w| < 0.5.
  const bool small_weight = std::fabs(lerp_weight) < T(0.5);
  for (size_t i = 0; i < count; ++i) {
    const T g = grad[i] * scale;
    T p = param[i];
    if (decays) p = p * decay;
    const T m = exp_avg[i];
    const T new_m = small_weight ? m + lerp_weight * (g - m) : g - (g - m) * (T(1) - lerp_weight);
    const T new_v = exp_avg_sq[i] * beta2 + square_weight * g * g;
    const T denom = std::sqrt(new_v) / bias_correction2_sqrt + eps;
    param[i] = p + neg_step_size * new_m / denom;
    exp_avg[i] = new_m;
    exp_avg_sq[i] = new_v;
  }
}

template <typename T>
double sum_squares_ref(const T* values, size_t count) {
  double sum = 0;
  for (size_t i = 0; i < count; ++i) sum += static_cast<double>(values[i]) * values[i];
  return sum;
}

#define BERT_INSTANTIATE_ADAMW(T)                                                           \
  template void adamw_update_ref<T>(T*, T*, T*, const T*, size_t, const AdamWHyper&, double); \
  template double sum_squares_ref<T>(const T*, size_t);
BERT_INSTANTIATE_ADAMW(float)
BERT_INSTANTIATE_ADAMW(double)
#undef BERT_INSTANTIATE_ADAMW

}  // namespace bert
