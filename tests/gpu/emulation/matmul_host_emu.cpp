// Host stand-in for kernels/matmul.cu in the CPU emulation of the CUDA backend (cuBLASLt cannot
// be emulated): the same launchers computed by loops with the GEMM's semantics as this project
// uses it: fp32 accumulation of bf16 (or fp32) operands, bias added in fp32, one rounding to the
// output type; d_weight/d_bias accumulate in fp32. Not a test of cuBLASLt, only a stand-in so the
// backend's other kernels can be run end to end.
#include <cuda_bf16.h>

#include <vector>

#include "kernels/cuda_check.h"
#include "kernels/matmul.h"

namespace bert {

struct MatmulContext::Impl {};
MatmulContext::MatmulContext(size_t) : impl_(std::make_unique<Impl>()) {}
MatmulContext::~MatmulContext() = default;
size_t MatmulContext::cached_algorithms() const { return 0; }

namespace {

float load(const bf16* p, size_t i) { return __bfloat162float(p[i]); }
float load(const float* p, size_t i) { return p[i]; }
void store(bf16* p, size_t i, float v) { p[i] = __float2bfloat16_rn(v); }
void store(float* p, size_t i, float v) { p[i] = v; }

template <typename T>
void forward(T* out, const T* inp, const T* weight, const T* bias, int rows, int in, int outf) {
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < outf; ++o) {
      float acc = 0.0f;
      for (int k = 0; k < in; ++k) acc += load(inp, size_t(r) * in + k) * load(weight, size_t(o) * in + k);
      if (bias != nullptr) acc += load(bias, o);
      store(out, size_t(r) * outf + o, acc);
    }
}

template <typename T>
void backward(T* d_inp, float* d_weight, float* d_bias, const T* d_out, const T* inp, const T* weight,
              int rows, int in, int outf, Accumulate mode, Accumulate weight_mode) {
  if (d_inp != nullptr)
    for (int r = 0; r < rows; ++r)
      for (int k = 0; k < in; ++k) {
        float acc = 0.0f;
        for (int o = 0; o < outf; ++o)
          acc += load(d_out, size_t(r) * outf + o) * load(weight, size_t(o) * in + k);
        const size_t index = size_t(r) * in + k;
        store(d_inp, index, mode == Accumulate::kAdd ? load(d_inp, index) + acc : acc);
      }
  for (int o = 0; o < outf; ++o)
    for (int k = 0; k < in; ++k) {
      float acc = 0.0f;
      for (int r = 0; r < rows; ++r) acc += load(d_out, size_t(r) * outf + o) * load(inp, size_t(r) * in + k);
      const size_t index = size_t(o) * in + k;
      d_weight[index] = weight_mode == Accumulate::kAdd ? d_weight[index] + acc : acc;
    }
  if (d_bias != nullptr)
    for (int o = 0; o < outf; ++o) {
      float acc = 0.0f;
      for (int r = 0; r < rows; ++r) acc += load(d_out, size_t(r) * outf + o);
      d_bias[o] += acc;
    }
}

}  // namespace

void matmul_forward_cuda(MatmulContext&, bf16* out, const bf16* inp, const bf16* weight, const bf16* bias,
                         int rows, int in, int outf, GpuStream) {
  forward(out, inp, weight, bias, rows, in, outf);
}
void matmul_forward_cuda(MatmulContext&, float* out, const float* inp, const float* weight, const float* bias,
                         int rows, int in, int outf, GpuStream) {
  forward(out, inp, weight, bias, rows, in, outf);
}
size_t matmul_backward_workspace_bytes(int rows, int out_features) {
  return size_t((rows + 63) / 64) * out_features * sizeof(float);
}
void matmul_backward_cuda(MatmulContext&, bf16* d_inp, float* d_weight, float* d_bias, const bf16* d_out,
                          const bf16* inp, const bf16* weight, int rows, int in, int outf, Accumulate mode,
                          Accumulate weight_mode, GpuWorkspace workspace, GpuStream) {
  BERT_CHECK(d_bias == nullptr || workspace.bytes >= matmul_backward_workspace_bytes(rows, outf),
             "workspace");
  backward(d_inp, d_weight, d_bias, d_out, inp, weight, rows, in, outf, mode, weight_mode);
}
void matmul_backward_cuda(MatmulContext&, float* d_inp, float* d_weight, float* d_bias, const float* d_out,
                          const float* inp, const float* weight, int rows, int in, int outf, Accumulate mode,
                          Accumulate weight_mode, GpuWorkspace workspace, GpuStream) {
  BERT_CHECK(d_bias == nullptr || workspace.bytes >= matmul_backward_workspace_bytes(rows, outf),
             "workspace");
  backward(d_inp, d_weight, d_bias, d_out, inp, weight, rows, in, outf, mode, weight_mode);
}

}  // namespace bert
