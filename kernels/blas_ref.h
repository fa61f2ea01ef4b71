// Typed row-major GEMM over OpenBLAS for the CPU references (matmul, attention), so a template
// in T picks cblas_sgemm or cblas_dgemm:  C = alpha·op(A)·op(B) + beta·C.
// Private to the *_ref.cpp files; not part of any op's API.
#pragma once

#include <cblas.h>

namespace bert::blas {

inline CBLAS_TRANSPOSE op(bool transpose) { return transpose ? CblasTrans : CblasNoTrans; }

inline void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a,
                 int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

inline void gemm(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a,
                 int lda, const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace bert::blas
