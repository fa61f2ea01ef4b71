// Linear layer as in PyTorch: out = inp · weightᵀ + bias, weight stored [out_features, in_features].
// Row-major activations [rows, features]. Backward:
//   d_inp = d_out · weight        (overwrite or add)
//   d_weight = d_outᵀ · inp       (overwrite or add: the first micro-batch of a step overwrites,
//                                  so the weight gradients need no zeroing; later ones add up)
//   d_bias += Σ_rows d_out        (accumulate; skipped when d_bias is null)
// The CPU reference goes through OpenBLAS (cblas_sgemm / cblas_dgemm).
#pragma once

#include "kernels/accumulate.h"

namespace bert {

template <typename T>
void matmul_forward_ref(T* out,           // [rows, out_features]
                        const T* inp,     // [rows, in_features]
                        const T* weight,  // [out_features, in_features]
                        const T* bias,    // [out_features] or null
                        int rows, int in_features, int out_features);

template <typename T>
void matmul_backward_ref(T* d_inp,          // [rows, in_features] or null (not needed)
                         T* d_weight,       // [out_features, in_features]
                         T* d_bias,         // [out_features] or null
                         const T* d_out,    // [rows, out_features]
                         const T* inp,      // [rows, in_features]
                         const T* weight,   // [out_features, in_features]
                         int rows, int in_features, int out_features, Accumulate d_inp_mode,
                         Accumulate d_weight_mode);

}  // namespace bert

// ---------------------------------------------------------------------------------------------
// CUDA launchers (kernels/matmul.cu) through cuBLASLt: bf16 operands, fp32 accumulation
// (CUBLAS_COMPUTE_32F), bf16 activations, fp32 weight/bias gradients. One MatmulContext per
// device and stream: it owns the cuBLASLt handle, a 32 MiB workspace and the algorithm cache
// (one heuristic query per distinct shape, layout and alignment).
// matmul_forward_cuda and matmul_backward_cuda also have float overloads (the fp32 compute switch):
// fp32 operands and activations, CUBLAS_COMPUTE_32F without TF32, so results match an fp32 GEMM.
#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

#include "kernels/gpu_types.h"
#include "kernels/host_device.h"
#include "kernels/matmul_split_k.h"

namespace bert {

// The three GEMMs of a linear layer; an algorithm choice addresses each apart.
enum class GemmRole : int { kForward = 0, kInputGrad = 1, kWeightGrad = 2 };
constexpr int kGemmRoles = 3;
const char* gemm_role_name(GemmRole role);  // "fwd", "d_inp", "d_weight"

// Which cuBLASLt algorithm a role's GEMMs run: the heuristic's candidate of this rank (0, the
// default and what training runs: its first), with its split-K factor forced to split_k when
// split_k > 0 (partial sums reduced in fp32 in the workspace, in a fixed order).
struct GemmAlgorithmChoice {
  int rank = 0;
  int split_k = 0;
};

// Thrown by a GEMM whose chosen algorithm does not exist for its problem (the heuristic offers
// fewer candidates, or cuBLASLt rejects the forced split-K); nothing was queued.
class GemmAlgorithmUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class MatmulContext {
 public:
  explicit MatmulContext(size_t workspace_bytes = size_t{32} << 20);
  ~MatmulContext();
  MatmulContext(const MatmulContext&) = delete;
  MatmulContext& operator=(const MatmulContext&) = delete;

  struct Impl;
  Impl& impl() { return *impl_; }
  size_t cached_algorithms() const;

  // For measuring whether the heuristic's first algorithm is the fastest (bench_kernels'
  // survey, benchmarks/gemm_algorithm_survey.h): later GEMMs of `role` run this choice.
  void choose_algorithm(GemmRole role, GemmAlgorithmChoice choice);
  // The weight-gradient GEMMs' split-K policy (kernels/matmul_split_k.h): BERT_GEMM_SPLIT_K's
  // at construction; this replaces it (tests, benchmarks). An explicit choose_algorithm for
  // kWeightGrad takes precedence.
  void set_weight_grad_split_k(SplitKPolicy policy);
  // The configuration of the algorithm the last GEMM of `role` ran ("id 31, tile 20, stages 7,
  // cluster 0, split-K 1, ..., waves 0.82"); "" before any.
  std::string last_algorithm(GemmRole role) const;

 private:
  std::unique_ptr<Impl> impl_;
};

// out = inp · weightᵀ (+ bias through the cuBLASLt bias epilogue when bias is non-null).
void matmul_forward_cuda(MatmulContext& context,
                         bf16* out,           // [rows, out_features]
                         const bf16* inp,     // [rows, in_features]
                         const bf16* weight,  // [out_features, in_features]
                         const bf16* bias,    // [out_features] or null
                         int rows, int in_features, int out_features, GpuStream stream);
void matmul_forward_cuda(MatmulContext& context,
                         float* out,           // [rows, out_features]
                         const float* inp,     // [rows, in_features]
                         const float* weight,  // [out_features, in_features]
                         const float* bias,    // [out_features] or null
                         int rows, int in_features, int out_features, GpuStream stream);

// Scratch for the d_bias column sum (0 when d_bias is not wanted).
size_t matmul_backward_workspace_bytes(int rows, int out_features);

// d_inp = d_out · weight (overwrite or add; skipped when null), d_weight = d_outᵀ · inp (fp32,
// overwrite: beta = 0, or add: beta = 1), d_bias += Σ_rows d_out (fp32, deterministic column
// sum; skipped when null).
void matmul_backward_cuda(MatmulContext& context,
                          bf16* d_inp,         // [rows, in_features] or null
                          float* d_weight,     // [out_features, in_features]
                          float* d_bias,       // [out_features] or null
                          const bf16* d_out,   // [rows, out_features]
                          const bf16* inp,     // [rows, in_features]
                          const bf16* weight,  // [out_features, in_features]
                          int rows, int in_features, int out_features, Accumulate d_inp_mode,
                          Accumulate d_weight_mode, GpuWorkspace workspace, GpuStream stream);
void matmul_backward_cuda(MatmulContext& context,
                          float* d_inp,         // [rows, in_features] or null
                          float* d_weight,      // [out_features, in_features]
                          float* d_bias,        // [out_features] or null
                          const float* d_out,   // [rows, out_features]
                          const float* inp,     // [rows, in_features]
                          const float* weight,  // [out_features, in_features]
                          int rows, int in_features, int out_features, Accumulate d_inp_mode,
                          Accumulate d_weight_mode, GpuWorkspace workspace, GpuStream stream);

// matmul_backward_cuda's two GEMMs one at a time (the survey times them apart):
// d_inp = d_out · weight and d_weight = d_outᵀ · inp (fp32), each overwritten or added to.
void matmul_input_grad_cuda(MatmulContext& context,
                            bf16* d_inp,         // [rows, in_features]
                            const bf16* d_out,   // [rows, out_features]
                            const bf16* weight,  // [out_features, in_features]
                            int rows, int in_features, int out_features, Accumulate mode,
                            GpuStream stream);
void matmul_weight_grad_cuda(MatmulContext& context,
                             float* d_weight,    // [out_features, in_features]
                             const bf16* d_out,  // [rows, out_features]
                             const bf16* inp,    // [rows, in_features]
                             int rows, int in_features, int out_features, Accumulate mode,
                             GpuStream stream);

// Candidate fusion, to compare with matmul + bias_gelu_forward_cuda: cuBLASLt's
// CUBLASLT_EPILOGUE_GELU_AUX_BIAS writes out = gelu(inp·weightᵀ + bias) and pre_gelu = the
// GELU input (bias included, unlike gelu.h's `pre`). NOTE cuBLASLt's GELU is the tanh
// approximation, not BERT's erf form. out_features must be a multiple of 8 (aux leading dim).
void matmul_bias_gelu_forward_cuda(MatmulContext& context,
                                   bf16* out,           // [rows, out_features]
                                   bf16* pre_gelu,      // [rows, out_features]
                                   const bf16* inp,     // [rows, in_features]
                                   const bf16* weight,  // [out_features, in_features]
                                   const bf16* bias,    // [out_features]
                                   int rows, int in_features, int out_features, GpuStream stream);

// Candidate fusion, to compare with matmul_backward_cuda's d_weight GEMM + deterministic column
// sum: the weight-gradient GEMM with cuBLASLt's CUBLASLT_EPILOGUE_BGRADB, which also writes
// d_bias = Σ_rows d_out (the GEMM's reduction over k, fp32) in the same pass over d_out. Both
// gradients are overwritten. Returns false, with nothing queued, when cuBLASLt offers no
// algorithm for it on this device.
bool matmul_weight_bias_grad_epilogue_cuda(MatmulContext& context,
                                           float* d_weight,    // [out_features, in_features]
                                           float* d_bias,      // [out_features]
                                           const bf16* d_out,  // [rows, out_features]
                                           const bf16* inp,    // [rows, in_features]
                                           int rows, int in_features, int out_features,
                                           GpuStream stream);

}  // namespace bert
