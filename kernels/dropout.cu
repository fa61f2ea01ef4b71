// Dropout kernels (kernels/dropout.h): one thread handles four consecutive elements, so one
// Philox call serves all four (kernels/dropout.cuh); a scalar tail covers count % 4.
// Templated on the storage type T (bf16, or float under the fp32 compute switch).
#include "kernels/cuda_common.cuh"
#include "kernels/dropout.cuh"
#include "kernels/dropout.h"

namespace bert {
namespace {

constexpr int kThreads = 256;

// out = (base +) dropout(inp): forward (base = residual) and backward (base = the gradient
// being accumulated, which then aliases out; each element is read and written by one thread).
template <bool kBase, typename T>
__global__ void dropout_apply_kernel(T* out, const T* inp, const T* base, size_t count,
                                     DropoutSpec spec) {
  grid_dependency_sync();
  const size_t groups = (count + 3) / 4;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t g = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; g < groups;
       g += stride) {
    const size_t first = g * 4;
    float factor[4];
    dropout_factors4(spec, first, factor);
    if (first + 4 <= count) {
      float x[4], b[4] = {0.0f, 0.0f, 0.0f, 0.0f}, y[4];
      load4(inp + first, x);
      if (kBase) load4(base + first, b);
#pragma unroll
      for (int j = 0; j < 4; ++j) y[j] = b[j] + x[j] * factor[j];
      store4(out + first, y);
    } else {
      for (size_t i = first; i < count; ++i) {
        const float b = kBase ? to_float(base[i]) : 0.0f;
        store_value(out + i, b + to_float(inp[i]) * factor[i - first]);
      }
    }
  }
}

void check_aligned(const void* pointer, const char* op, const char* what) {
  BERT_CHECK(is_aligned(pointer, 8), std::string(op) + ": " + what + " must be 8-byte aligned");
}

template <typename T>
void launch_apply(T* out, const T* inp, const T* base, size_t count, const DropoutSpec& spec,
                  cudaStream_t stream) {
  const unsigned blocks = elementwise_blocks(div_up(count, size_t{4}), kThreads);
  if (base != nullptr)
    launch_kernel(dropout_apply_kernel<true, T>, blocks, kThreads, 0, stream, out, inp, base, count,
                  spec);
  else
    launch_kernel(dropout_apply_kernel<false, T>, blocks, kThreads, 0, stream, out, inp, base,
                  count, spec);
  CUDA_LAUNCH_CHECK("dropout_apply_kernel");
}

template <typename T>
void dropout_forward(T* out, const T* inp, size_t count, const DropoutSpec& spec,
                     GpuStream stream) {
  if (count == 0) return;
  check_aligned(out, "dropout_forward_cuda", "out");
  check_aligned(inp, "dropout_forward_cuda", "inp");
  launch_apply<T>(out, inp, nullptr, count, spec, stream);
}

template <typename T>
void dropout_backward(T* d_inp, const T* d_out, size_t count, const DropoutSpec& spec,
                      Accumulate mode, GpuStream stream) {
  if (count == 0) return;
  check_aligned(d_inp, "dropout_backward_cuda", "d_inp");
  check_aligned(d_out, "dropout_backward_cuda", "d_out");
  launch_apply<T>(d_inp, d_out, mode == Accumulate::kAdd ? d_inp : nullptr, count, spec, stream);
}

template <typename T>
void residual_dropout_forward(T* out, const T* branch, const T* residual, size_t count,
                              const DropoutSpec& spec, GpuStream stream) {
  if (count == 0) return;
  check_aligned(out, "residual_dropout_forward_cuda", "out");
  check_aligned(branch, "residual_dropout_forward_cuda", "branch");
  check_aligned(residual, "residual_dropout_forward_cuda", "residual");
  BERT_CHECK(residual != nullptr, "residual_dropout_forward_cuda: residual must be non-null");
  launch_apply<T>(out, branch, residual, count, spec, stream);
}

}  // namespace

void dropout_forward_cuda(bf16* out, const bf16* inp, size_t count, const DropoutSpec& spec,
                          GpuStream stream) {
  dropout_forward(out, inp, count, spec, stream);
}
void dropout_forward_cuda(float* out, const float* inp, size_t count, const DropoutSpec& spec,
                          GpuStream stream) {
  dropout_forward(out, inp, count, spec, stream);
}

void dropout_backward_cuda(bf16* d_inp, const bf16* d_out, size_t count, const DropoutSpec& spec,
                           Accumulate mode, GpuStream stream) {
  dropout_backward(d_inp, d_out, count, spec, mode, stream);
}
void dropout_backward_cuda(float* d_inp, const float* d_out, size_t count, const DropoutSpec& spec,
                           Accumulate mode, GpuStream stream) {
  dropout_backward(d_inp, d_out, count, spec, mode, stream);
}

void residual_dropout_forward_cuda(bf16* out, const bf16* branch, const bf16* residual,
                                   size_t count, const DropoutSpec& spec, GpuStream stream) {
  residual_dropout_forward(out, branch, residual, count, spec, stream);
}
void residual_dropout_forward_cuda(float* out, const float* branch, const float* residual,
                                   size_t count, const DropoutSpec& spec, GpuStream stream) {
  residual_dropout_forward(out, branch, residual, count, spec, stream);
}

}  // namespace bert
