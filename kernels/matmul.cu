// Linear layers through cuBLASLt (kernels/matmul.h).
//
// Row-major ↔ column-major. cuBLASLt is column-major; a row-major X [r, c] is the same memory
// as a column-major matrix Xᶜ = Xᵀ of shape c × r with leading dimension c. So every product
// is computed transposed, D ᶜ = op(A)·op(B) with:
//   forward   outᶜ [out, rows]  = weightᶜᵀ [out, in] · inpᶜ [in, rows]
//             A = weight (stored in × out, ld in), op T;  B = inp (in × rows, ld in), op N;
//             m = out_features, n = rows, k = in_features; bias (length m) is the epilogue's
//             per-row-of-D vector, i.e. per output feature.
//   d_inp     d_inpᶜ [in, rows] = weightᶜ [in, out] · d_outᶜ [out, rows]
//             A = weight (in × out, ld in), N;  B = d_out (out × rows, ld out), N;
//             m = in, n = rows, k = out; beta = 1 to accumulate.
//   d_weight  d_weightᶜ [in, out] = inpᶜ [in, rows] · (d_outᶜ)ᵀ [rows, out]
//             A = inp (in × rows, ld in), N;  B = d_out (out × rows, ld out), T;
//             m = in, n = out, k = rows; D fp32, beta = 0 on a step's first micro-batch (so
//             the weight gradients are never zeroed), 1 on the next ones (they add up).
// Types: bf16 A/B with bf16 D (activations) or fp32 D (weight gradients); under the fp32 compute
// switch every operand is fp32. The compute type is CUBLAS_COMPUTE_32F in both cases: with fp32
// inputs that is true fp32 arithmetic (TF32 needs CUBLAS_COMPUTE_32F_FAST_TF32, never asked for).
// Algorithms: kernels/matmul_context.cu (run_gemm, the context's cache, the choices).
#include <cublasLt.h>

#include <string>
#include <type_traits>

#include "kernels/column_reduce.cuh"
#include "kernels/cuda_common.cuh"
#include "kernels/matmul.h"
#include "kernels/matmul_gemm.cuh"

namespace bert {
namespace {

using matmul_detail::Gemm;
using matmul_detail::run_gemm;

void check_dims(int rows, int in_features, int out_features, const char* op) {
  BERT_CHECK(rows >= 0 && in_features > 0 && out_features > 0,
             std::string(op) + ": rows " + std::to_string(rows) + ", in_features " +
                 std::to_string(in_features) + ", out_features " + std::to_string(out_features));
}

// Storage type of T for cuBLASLt.
template <typename T>
constexpr cudaDataType_t kDataType = std::is_same_v<T, float> ? CUDA_R_32F : CUDA_R_16BF;

// Element op of the d_bias column sum: the d_out value itself.
template <typename T>
struct LoadOp {
  const T* values;
  int width;
  __device__ float operator()(int row, int col) const {
    return to_float(values[static_cast<size_t>(row) * width + col]);
  }
};

// outᶜ [out, rows] = weightᶜᵀ · inpᶜ (the header's forward layout), no epilogue.
template <typename T>
Gemm forward_gemm(T* out, const T* inp, const T* weight, int rows, int in_features, int out_features) {
  Gemm g;
  g.what = "matmul forward";
  g.trans_a = CUBLAS_OP_T;
  g.m = out_features;
  g.n = rows;
  g.k = in_features;
  g.a = weight;
  g.lda = in_features;
  g.b = inp;
  g.ldb = in_features;
  g.d = out;
  g.ldd = out_features;
  g.ab_type = g.d_type = kDataType<T>;
  return g;
}

template <typename T>
void matmul_forward(MatmulContext& context, T* out, const T* inp, const T* weight, const T* bias,
                    int rows, int in_features, int out_features, GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_forward_cuda");
  if (rows == 0) return;
  Gemm g = forward_gemm(out, inp, weight, rows, in_features, out_features);
  if (bias != nullptr) {
    g.epilogue = CUBLASLT_EPILOGUE_BIAS;
    g.bias = bias;
  }
  run_gemm(context.impl(), g, stream);
}

// beta of a GEMM that overwrites or adds to its output.
float beta_of(Accumulate mode) { return mode == Accumulate::kAdd ? 1.0f : 0.0f; }

// d_weightᶜ [in, out] = inpᶜ · (d_outᶜ)ᵀ (the header's d_weight layout), D fp32.
template <typename T>
Gemm weight_grad_gemm(float* d_weight, const T* d_out, const T* inp, int rows, int in_features,
                      int out_features, Accumulate mode) {
  Gemm g;
  g.what = "matmul backward d_weight";
  g.role = GemmRole::kWeightGrad;
  g.trans_b = CUBLAS_OP_T;
  g.m = in_features;
  g.n = out_features;
  g.k = rows;
  g.a = inp;
  g.lda = in_features;
  g.b = d_out;
  g.ldb = out_features;
  g.d = d_weight;
  g.ldd = in_features;
  g.ab_type = kDataType<T>;
  g.d_type = CUDA_R_32F;
  g.beta = beta_of(mode);
  return g;
}

// d_inpᶜ [in, rows] = weightᶜ [in, out] · d_outᶜ [out, rows] (the header's d_inp layout).
template <typename T>
Gemm input_grad_gemm(T* d_inp, const T* d_out, const T* weight, int rows, int in_features, int out_features,
                     Accumulate mode) {
  Gemm g;
  g.what = "matmul backward d_inp";
  g.role = GemmRole::kInputGrad;
  g.m = in_features;
  g.n = rows;
  g.k = out_features;
  g.a = weight;
  g.lda = in_features;
  g.b = d_out;
  g.ldb = out_features;
  g.d = d_inp;
  g.ldd = in_features;
  g.ab_type = g.d_type = kDataType<T>;
  g.beta = beta_of(mode);
  return g;
}

template <typename T>
void matmul_backward(MatmulContext& context, T* d_inp, float* d_weight, float* d_bias,
                     const T* d_out, const T* inp, const T* weight, int rows, int in_features,
                     int out_features, Accumulate d_inp_mode, Accumulate d_weight_mode,
                     GpuWorkspace workspace, GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_backward_cuda");
  if (rows == 0) {  // d_inp has no rows; a sum over no rows is 0
    if (d_weight_mode == Accumulate::kOverwrite)
      CUDA_CHECK(cudaMemsetAsync(d_weight, 0, static_cast<size_t>(out_features) * in_features * sizeof(float),
                                 stream));
    return;
  }
  if (d_inp != nullptr)
    run_gemm(context.impl(), input_grad_gemm(d_inp, d_out, weight, rows, in_features, out_features, d_inp_mode),
             stream);
  run_gemm(context.impl(), weight_grad_gemm(d_weight, d_out, inp, rows, in_features, out_features, d_weight_mode),
           stream);
  if (d_bias != nullptr) {
    check_workspace(workspace, matmul_backward_workspace_bytes(rows, out_features),
                    "matmul_backward_cuda");
    launch_column_sum(d_bias, rows, out_features, LoadOp<T>{d_out, out_features},
                      static_cast<float*>(workspace.data), stream, "matmul_bias_grad_kernel");
  }
}

}  // namespace

void matmul_forward_cuda(MatmulContext& context, bf16* out, const bf16* inp, const bf16* weight,
                         const bf16* bias, int rows, int in_features, int out_features,
                         GpuStream stream) {
  matmul_forward(context, out, inp, weight, bias, rows, in_features, out_features, stream);
}
void matmul_forward_cuda(MatmulContext& context, float* out, const float* inp, const float* weight,
                         const float* bias, int rows, int in_features, int out_features,
                         GpuStream stream) {
  matmul_forward(context, out, inp, weight, bias, rows, in_features, out_features, stream);
}

size_t matmul_backward_workspace_bytes(int rows, int out_features) {
  return column_partial_bytes(rows, out_features);
}

void matmul_backward_cuda(MatmulContext& context, bf16* d_inp, float* d_weight, float* d_bias,
                          const bf16* d_out, const bf16* inp, const bf16* weight, int rows,
                          int in_features, int out_features, Accumulate d_inp_mode,
                          Accumulate d_weight_mode, GpuWorkspace workspace, GpuStream stream) {
  matmul_backward(context, d_inp, d_weight, d_bias, d_out, inp, weight, rows, in_features,
                  out_features, d_inp_mode, d_weight_mode, workspace, stream);
}
void matmul_backward_cuda(MatmulContext& context, float* d_inp, float* d_weight, float* d_bias,
                          const float* d_out, const float* inp, const float* weight, int rows,
                          int in_features, int out_features, Accumulate d_inp_mode,
                          Accumulate d_weight_mode, GpuWorkspace workspace, GpuStream stream) {
  matmul_backward(context, d_inp, d_weight, d_bias, d_out, inp, weight, rows, in_features,
                  out_features, d_inp_mode, d_weight_mode, workspace, stream);
}

void matmul_input_grad_cuda(MatmulContext& context, bf16* d_inp, const bf16* d_out, const bf16* weight,
                            int rows, int in_features, int out_features, Accumulate mode,
                            GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_input_grad_cuda");
  if (rows == 0) return;
  run_gemm(context.impl(), input_grad_gemm(d_inp, d_out, weight, rows, in_features, out_features, mode), stream);
}

void matmul_weight_grad_cuda(MatmulContext& context, float* d_weight, const bf16* d_out, const bf16* inp,
                             int rows, int in_features, int out_features, Accumulate mode,
                             GpuStream stream) {
  // Through matmul_backward for its rows == 0 case (a sum over no rows is 0).
  matmul_backward(context, static_cast<bf16*>(nullptr), d_weight, nullptr, d_out, inp,
                  static_cast<const bf16*>(nullptr), rows, in_features, out_features, Accumulate::kOverwrite,
                  mode, GpuWorkspace{}, stream);
}

void matmul_bias_gelu_forward_cuda(MatmulContext& context, bf16* out, bf16* pre_gelu,
                                   const bf16* inp, const bf16* weight, const bf16* bias, int rows,
                                   int in_features, int out_features, GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_bias_gelu_forward_cuda");
  BERT_CHECK(out_features % 8 == 0 && bias != nullptr && pre_gelu != nullptr,
             "matmul_bias_gelu_forward_cuda: needs bias, pre_gelu and out_features % 8 == 0, got " +
                 std::to_string(out_features));
  if (rows == 0) return;
  Gemm g = forward_gemm(out, inp, weight, rows, in_features, out_features);
  g.what = "matmul forward with bias+GELU epilogue";
  g.epilogue = CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
  g.bias = bias;
  g.aux = pre_gelu;
  g.aux_ld = out_features;
  run_gemm(context.impl(), g, stream);
}

bool matmul_weight_bias_grad_epilogue_cuda(MatmulContext& context, float* d_weight, float* d_bias,
                                           const bf16* d_out, const bf16* inp, int rows, int in_features,
                                           int out_features, GpuStream stream) {
  check_dims(rows, in_features, out_features, "matmul_weight_bias_grad_epilogue_cuda");
  BERT_CHECK(d_weight != nullptr && d_bias != nullptr && rows > 0,
             "matmul_weight_bias_grad_epilogue_cuda: needs d_weight, d_bias and rows > 0");
  // matmul_backward's d_weight GEMM (overwriting), with the bias gradient of B = d_out.
  Gemm g = weight_grad_gemm(d_weight, d_out, inp, rows, in_features, out_features, Accumulate::kOverwrite);
  g.what = "matmul backward d_weight with bias-gradient epilogue";
  g.epilogue = CUBLASLT_EPILOGUE_BGRADB;
  g.bias = d_bias;  // for the BGRAD epilogues the bias pointer receives the gradient
  g.optional = true;
  return run_gemm(context.impl(), g, stream);
}

}  // namespace bert
