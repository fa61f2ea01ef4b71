// CPU reference of the QA span loss with its gradient (kernels/qa_loss.h). Each sequence's
// start (and end) logits get a max-shifted logsumexp with the exponential sum in double, so
// the loss stays finite for any logits and the float version keeps its precision.
#include "kernels/qa_loss.h"

#include <cmath>
#include <cstddef>
#include <string>

#include "core/error.h"

namespace bert {
namespace {

// Max and log Σ exp(x − max) over logits[first*2 + column], ..., logits[(last-1)*2 + column].
struct ColumnStats {
  double max_value, log_sum;
};

template <typename T>
ColumnStats column_stats(const T* logits, int first, int last, int column) {
  T max_value = logits[static_cast<size_t>(first) * 2 + column];
  for (int t = first + 1; t < last; ++t) {
    const T value = logits[static_cast<size_t>(t) * 2 + column];
    max_value = value > max_value ? value : max_value;
  }
  double sum = 0;
  for (int t = first; t < last; ++t)
    sum += std::exp(static_cast<double>(logits[static_cast<size_t>(t) * 2 + column]) -
                    static_cast<double>(max_value));
  return ColumnStats{static_cast<double>(max_value), std::log(sum)};
}

}  // namespace

template <typename T>
void qa_loss_forward_backward_ref(T* d_logits, T* losses, const T* logits,
                                  const int32_t* cu_seqlens, const int32_t* start_positions,
                                  const int32_t* end_positions, int batch, T d_loss_scale) {
  BERT_CHECK(batch > 0, "qa_loss: batch must be positive, got " + std::to_string(batch));
  BERT_CHECK(cu_seqlens[0] == 0, "qa_loss: cu_seqlens[0] must be 0");
  // The mean over 2·batch cross-entropies, times the accumulation scale.
  const T grad_scale = d_loss_scale / static_cast<T>(2 * batch);
  for (int b = 0; b < batch; ++b) {
    const int first = cu_seqlens[b], last = cu_seqlens[b + 1];
    const int length = last - first;
    const int32_t positions[2] = {start_positions[b], end_positions[b]};
    for (int column = 0; column < 2; ++column) {
      BERT_CHECK(length > 0 && positions[column] >= 0 && positions[column] < length,
                 std::string("qa_loss: sequence ") + std::to_string(b) + " of length " +
                     std::to_string(length) + " has " + (column == 0 ? "start" : "end") +
                     " position " + std::to_string(positions[column]) + ", expected 0.." +
                     std::to_string(length - 1));
      const ColumnStats stats = column_stats(logits, first, last, column);
      const double lse = stats.max_value + stats.log_sum;
      const size_t target = static_cast<size_t>(first + positions[column]) * 2 + column;
      // −log_softmax[target], grouped as torch's log_softmax: (x − max) − log Σ.
      losses[static_cast<size_t>(b) * 2 + column] =
          static_cast<T>(-((logits[target] - stats.max_value) - stats.log_sum));
      for (int t = first; t < last; ++t) {
        const size_t index = static_cast<size_t>(t) * 2 + column;
        const T softmax = static_cast<T>(std::exp(static_cast<double>(logits[index]) - lse));
        d_logits[index] = (softmax - (index == target ? T(1) : T(0))) * grad_scale;
      }
    }
  }
}

#define BERT_INSTANTIATE_QA_LOSS(T)                                                              \
  template void qa_loss_forward_backward_ref<T>(T*, T*, const T*, const int32_t*, const int32_t*, \
                                                const int32_t*, int, T);
BERT_INSTANTIATE_QA_LOSS(float)
BERT_INSTANTIATE_QA_LOSS(double)
#undef BERT_INSTANTIATE_QA_LOSS

}  // namespace bert
