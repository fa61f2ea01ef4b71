// Typed row-major GEMM over OpenBLAS for the CPU references (matmul, attention), so a template
// in T picks cblas_sgemm or cblas_dgemm:  C = alpha·op(A)·op(B) + beta·C.
// Large products are cut into one band of C's rows (or columns) per thread of the CPU pool
// (kernels/cpu_parallel.h; the rule in kernels/blas_split.h), each a single-threaded OpenBLAS call.
// OpenBLAS rounds the edges of a band differently (as its own threading does), so results are
// deterministic for a given number of threads but may differ in the last bits between thread
// counts. Private to the *_ref.cpp files; not part of any op's API.
#pragma once

#include <cblas.h>

#include <algorithm>
#include <cstddef>

#include "kernels/blas_split.h"
#include "kernels/cpu_parallel.h"

namespace bert::blas {

inline CBLAS_TRANSPOSE op(bool transpose) { return transpose ? CblasTrans : CblasNoTrans; }

inline void gemm_serial(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                        const float* b, int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, op(trans_a), op(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

inline void gemm_serial(bool trans_a, bool trans_b, int m, int n, int k, double alpha, const double* a, int lda,
                        const double* b, int ldb, double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, op(trans_a), op(trans_b), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <typename T>
void gemm(bool trans_a, bool trans_b, int m, int n, int k, T alpha, const T* a, int lda, const T* b, int ldb,
          T beta, T* c, int ldc) {
  const GemmSplit split = gemm_split(m, n, k, cpu::thread_count());
  if (split.band == 0) {
    gemm_serial(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  cpu::parallel_for(static_cast<size_t>(split.extent), split.band, [&](size_t begin, size_t end) {
    const int first = static_cast<int>(begin), count = static_cast<int>(end - begin);
    if (split.by_rows) {  // rows of op(A) and of C
      const T* a_band = trans_a ? a + first : a + static_cast<size_t>(first) * lda;
      gemm_serial(trans_a, trans_b, count, n, k, alpha, a_band, lda, b, ldb, beta,
                  c + static_cast<size_t>(first) * ldc, ldc);
    } else {  // columns of op(B) and of C
      const T* b_band = trans_b ? b + static_cast<size_t>(first) * ldb : b + first;
      gemm_serial(trans_a, trans_b, m, count, k, alpha, a, lda, b_band, ldb, beta, c + first, ldc);
    }
  });
}

}  // namespace bert::blas
