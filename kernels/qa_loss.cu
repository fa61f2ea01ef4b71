// QA span loss with its gradient (kernels/qa_loss.h): one block per sequence; for the start and
// then the end column, a block max, a block Σexp (fixed reduction order), the loss
// −((x_target − max) − log Σ) as the reference groups it, and d_logits for every token.
// Templated on the logits' storage type T (bf16, or float under the fp32 compute switch).
#include <cmath>

#include "kernels/cuda_common.cuh"
#include "kernels/qa_loss.h"

namespace bert {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    qa_loss_kernel(T* d_logits, float* losses, const T* logits, const int32_t* cu_seqlens,
                   const int32_t* start_positions, const int32_t* end_positions, float grad_scale) {
  grid_dependency_sync();
  __shared__ float scratch[kThreads / 32];
  const int b = blockIdx.x;
  const int first = cu_seqlens[b], last = cu_seqlens[b + 1];
  const int length = last - first;
  for (int column = 0; column < 2; ++column) {
    const int target = column == 0 ? start_positions[b] : end_positions[b];
    float local_max = -INFINITY;
    for (int t = first + threadIdx.x; t < last; t += kThreads)
      local_max = fmaxf(local_max, to_float(logits[static_cast<size_t>(t) * 2 + column]));
    const float max_value = block_max(local_max, scratch);
    float local_sum = 0.0f;
    for (int t = first + threadIdx.x; t < last; t += kThreads)
      local_sum += expf(to_float(logits[static_cast<size_t>(t) * 2 + column]) - max_value);
    const float log_sum = logf(block_sum(local_sum, scratch));
    const bool valid = length > 0 && target >= 0 && target < length;
    if (threadIdx.x == 0) {
      float loss = nanf("");
      if (valid) {
        const float x = to_float(logits[static_cast<size_t>(first + target) * 2 + column]);
        loss = -((x - max_value) - log_sum);
      }
      losses[static_cast<size_t>(b) * 2 + column] = loss;
    }
    for (int t = first + threadIdx.x; t < last; t += kThreads) {
      const size_t index = static_cast<size_t>(t) * 2 + column;
      const float softmax = expf(to_float(logits[index]) - max_value - log_sum);
      const float onehot = valid && t - first == target ? 1.0f : 0.0f;
      store_value(d_logits + index, (softmax - onehot) * grad_scale);
    }
  }
}

template <typename T>
void qa_loss_forward_backward(T* d_logits, float* losses, const T* logits,
                              const int32_t* cu_seqlens, const int32_t* start_positions,
                              const int32_t* end_positions, int batch, float d_loss_scale,
                              GpuStream stream) {
  BERT_CHECK(batch > 0,
             "qa_loss_forward_backward_cuda: batch must be positive, got " + std::to_string(batch));
  const float grad_scale = d_loss_scale / static_cast<float>(2 * batch);
  launch_kernel(qa_loss_kernel<T>, batch, kThreads, 0, stream, d_logits, losses, logits, cu_seqlens,
                start_positions, end_positions, grad_scale);
  CUDA_LAUNCH_CHECK("qa_loss_kernel");
}

}  // namespace

void qa_loss_forward_backward_cuda(bf16* d_logits, float* losses, const bf16* logits,
                                   const int32_t* cu_seqlens, const int32_t* start_positions,
                                   const int32_t* end_positions, int batch, float d_loss_scale,
                                   GpuStream stream) {
  qa_loss_forward_backward(d_logits, losses, logits, cu_seqlens, start_positions, end_positions,
                           batch, d_loss_scale, stream);
}
void qa_loss_forward_backward_cuda(float* d_logits, float* losses, const float* logits,
                                   const int32_t* cu_seqlens, const int32_t* start_positions,
                                   const int32_t* end_positions, int batch, float d_loss_scale,
                                   GpuStream stream) {
  qa_loss_forward_backward(d_logits, losses, logits, cu_seqlens, start_positions, end_positions,
                           batch, d_loss_scale, stream);
}

}  // namespace bert
