// CPU reference of the linear layer (kernels/matmul.h) over OpenBLAS. The forward seeds
// `out` with the bias and lets GEMM add inp·weightᵀ (beta = 1), as torch.addmm does.
#include "kernels/matmul.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/blas_ref.h"
#include "kernels/cpu_parallel.h"

namespace bert {
namespace {

void check_dims(int rows, int in_features, int out_features) {
  BERT_CHECK(rows >= 0 && in_features > 0 && out_features > 0,
             "matmul: rows " + std::to_string(rows) + ", in_features " +
                 std::to_string(in_features) + ", out_features " + std::to_string(out_features) +
                 " (features must be positive)");
}

}  // namespace

template <typename T>
void matmul_forward_ref(T* out, const T* inp, const T* weight, const T* bias, int rows,
                        int in_features, int out_features) {
  check_dims(rows, in_features, out_features);
  if (rows == 0) return;
  const size_t width = static_cast<size_t>(out_features);
  if (bias) {
    cpu::parallel_for(static_cast<size_t>(rows), 64, [&](size_t first, size_t last) {
      for (size_t r = first; r < last; ++r)
        for (size_t c = 0; c < width; ++c) out[r * width + c] = bias[c];
    });
  }
  blas::gemm(false, true, rows, out_features, in_features, T(1), inp, in_features, weight,
             in_features, bias ? T(1) : T(0), out, out_features);
}

template <typename T>
void matmul_backward_ref(T* d_inp, T* d_weight, T* d_bias, const T* d_out, const T* inp,
                         const T* weight, int rows, int in_features, int out_features,
                         Accumulate d_inp_mode, Accumulate d_weight_mode) {
  check_dims(rows, in_features, out_features);
  if (rows == 0) {  // no rows: d_weight's sum over them is 0
    if (d_weight_mode == Accumulate::kOverwrite)
      std::fill(d_weight, d_weight + static_cast<size_t>(out_features) * in_features, T(0));
    return;
  }
  if (d_inp) {
    const T beta = d_inp_mode == Accumulate::kAdd ? T(1) : T(0);
    blas::gemm(false, false, rows, in_features, out_features, T(1), d_out, out_features, weight,
               in_features, beta, d_inp, in_features);
  }
  blas::gemm(true, false, out_features, in_features, rows, T(1), d_out, out_features, inp,
             in_features, d_weight_mode == Accumulate::kAdd ? T(1) : T(0), d_weight, in_features);
  if (d_bias) {
    const size_t width = static_cast<size_t>(out_features);
    std::vector<double> sum;
    cpu::column_sums(static_cast<size_t>(rows), width, &sum, [&](size_t first, size_t last, double* partial) {
      for (size_t r = first; r < last; ++r)
        for (size_t c = 0; c < width; ++c) partial[c] += d_out[r * width + c];
    });
    for (size_t c = 0; c < width; ++c) d_bias[c] += static_cast<T>(sum[c]);
  }
}

#define BERT_INSTANTIATE_MATMUL(T)                                                               \
  template void matmul_forward_ref<T>(T*, const T*, const T*, const T*, int, int, int);         \
  template void matmul_backward_ref<T>(T*, T*, T*, const T*, const T*, const T*, int, int, int, \
                                       Accumulate, Accumulate);
BERT_INSTANTIATE_MATMUL(float)
BERT_INSTANTIATE_MATMUL(double)
#undef BERT_INSTANTIATE_MATMUL

}  // namespace bert
