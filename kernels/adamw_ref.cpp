// CPU reference of AdamW (kernels/adamw.h), in the order of operations of torch's
// single-tensor AdamW on CPU, so the double version reproduces the float64 golden:
//   param.mul_(1 − lr·wd); exp_avg.lerp_(g, 1 − β1); exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2);
//   denom = sqrt(v) / sqrt(1 − β2^step) + eps; param.addcdiv_(m, denom, −lr / (1 − β1^step)).
// Python-float scalars are formed in double, then rounded to T as torch does for a T tensor.
#include "kernels/adamw.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cpu_parallel.h"

namespace bert {
namespace {

constexpr size_t kAdamWPiece = 1 << 16;        // elements per piece of the update
constexpr size_t kSumSquaresBlock = 1 << 16;   // elements per partial sum of sum_squares

}  // namespace

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
  cpu::parallel_for(count, kAdamWPiece, [&](size_t first, size_t last) {
    for (size_t i = first; i < last; ++i) {
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
  });
}

// Σ x² in double per fixed block of kSumSquaresBlock elements (on the CPU pool), then the
// block sums in order: the same value whatever the number of threads.
template <typename T>
double sum_squares_ref(const T* values, size_t count) {
  const size_t blocks = (count + kSumSquaresBlock - 1) / kSumSquaresBlock;
  std::vector<double> partial(blocks, 0.0);
  cpu::parallel_for(blocks, 1, [&](size_t first, size_t last) {
    for (size_t block = first; block < last; ++block) {
      const size_t end = std::min(count, (block + 1) * kSumSquaresBlock);
      double sum = 0;
      for (size_t i = block * kSumSquaresBlock; i < end; ++i) sum += static_cast<double>(values[i]) * values[i];
      partial[block] = sum;
    }
  });
  double sum = 0;
  for (double value : partial) sum += value;
  return sum;
}

#define BERT_INSTANTIATE_ADAMW(T)                                                           \
  template void adamw_update_ref<T>(T*, T*, T*, const T*, size_t, const AdamWHyper&, double); \
  template double sum_squares_ref<T>(const T*, size_t);
BERT_INSTANTIATE_ADAMW(float)
BERT_INSTANTIATE_ADAMW(double)
#undef BERT_INSTANTIATE_ADAMW

}  // namespace bert
