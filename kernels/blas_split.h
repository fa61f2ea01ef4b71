// How kernels/blas_ref.h cuts a product over the CPU pool (kernels/cpu_parallel.h), apart from
// OpenBLAS's header, so that the engine's address-space check (engine/bert_qa_model.cpp:
// describe_address_space_shortfall) counts the OpenBLAS calls that can run at once by the same
// rule the products follow.
#pragma once

#include <algorithm>
#include <cstddef>

namespace bert::blas {

// Products below this many multiply-adds run in one call: splitting them costs more than it saves.
constexpr double kSplitMultiplyAdds = 4.0e6;

// C (m x n) = op(A) (m x k) · op(B) (k x n) on `threads` pool threads: one call (band 0), or
// bands of `band` rows of C when C is tall (by_rows), of columns when it is wide; band edges on
// multiples of 16.
struct GemmSplit {
  bool by_rows = true;
  int extent = 0;   // rows (by_rows) or columns of C
  size_t band = 0;  // 0: one call
  int calls() const { return band == 0 ? 1 : static_cast<int>((size_t(extent) + band - 1) / band); }
};

inline GemmSplit gemm_split(int m, int n, int k, int threads) {
  GemmSplit split;
  split.by_rows = m >= n;
  split.extent = split.by_rows ? m : n;
  if (threads == 1 || double(m) * n * k < kSplitMultiplyAdds || std::max(m, n) < 32) return split;
  split.band = static_cast<size_t>((split.extent + threads - 1) / threads + 15) / 16 * 16;
  return split;
}

}  // namespace bert::blas
