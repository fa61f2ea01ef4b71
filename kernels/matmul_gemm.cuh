// Internal to the matmul module: one column-major cuBLASLt GEMM as kernels/matmul.cu's
// launchers describe it, and run_gemm, which finds its algorithm in the context's cache
// (kernels/matmul_context.cu: the heuristic's first, or the choice or split-K policy in force)
// and queues it.
#pragma once

#include <cublasLt.h>

#include <string>

#include "kernels/matmul.h"

namespace bert::matmul_detail {

// One column-major GEMM: D = alpha·op(A)·op(B) + beta·D (C aliases D).
struct Gemm {
  cublasOperation_t trans_a = CUBLAS_OP_N, trans_b = CUBLAS_OP_N;
  int m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int lda = 0;
  const void* b = nullptr;
  int ldb = 0;
  void* d = nullptr;
  int ldd = 0;
  cudaDataType_t ab_type = CUDA_R_16BF, d_type = CUDA_R_16BF;
  float alpha = 1.0f, beta = 0.0f;
  cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
  void* aux = nullptr;
  int64_t aux_ld = 0;
  const char* what = "";
  GemmRole role = GemmRole::kForward;
  bool optional = false;  // run_gemm returns false instead of throwing when no algorithm exists
};

// "matmul backward d_weight (m 768, n 768, k 5557, lda …)", for messages.
std::string describe(const Gemm& g);

// Queues the GEMM; false (nothing queued) when g.optional and cuBLASLt has no algorithm for it.
bool run_gemm(MatmulContext::Impl& impl, const Gemm& g, cudaStream_t stream);

}  // namespace bert::matmul_detail
