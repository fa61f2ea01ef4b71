// Threads for the CPU references: one process-wide pool that every *_ref.cpp shares, and the
// GEMM wrapper (kernels/blas_ref.h) splits its work over the same pool, with OpenBLAS itself held
// to one thread, so two thread pools never compete for the cores.
//
// Results never depend on the number of threads: work is cut into pieces whose boundaries
// depend only on the problem (fixed row blocks), every output element is written by exactly one
// piece, and reductions sum per-block partials in block order (column_sums below).
//
// Size: BERT_CPU_THREADS, else OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else the cores this
// process may run on. Under mpirun, give each rank its share (e.g. -x OPENBLAS_NUM_THREADS=1).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

namespace bert::cpu {

// Throws BertError when the references were built for AVX2 + FMA (BERT_CPU_AVX2) and this CPU
// lacks them. The pool checks on creation; the CPU backend checks before its first op.
void check_cpu_features();

// Threads parallel_for runs on (the caller included); at least 1.
int thread_count();
// Resizes the pool (tests compare thread counts; 0 restores the default from the environment).
void set_thread_count(int threads);

// Calls body(begin, end) for consecutive pieces [begin, end) covering [0, count), each of
// `grain` items (the last may be shorter), spread over the pool; returns when all are done.
// Pieces are handed out in order to whichever thread is free. A call made from inside a body
// runs serially in that thread. The first exception a body throws is rethrown here.
void parallel_for(size_t count, size_t grain, const std::function<void(size_t begin, size_t end)>& body);

// Row blocks of the deterministic reductions: fixed, so sums do not depend on the thread count.
constexpr size_t kReductionRows = 64;

// sums[c] = Σ_r value(r, c) over rows [0, rows), for the `width` columns, in double:
// accumulate(begin, end, partial) adds rows [begin, end) into partial[0..width) (zeroed), for
// blocks of kReductionRows rows in parallel; the block partials are then added in block order.
void column_sums(size_t rows, size_t width, std::vector<double>* sums,
                 const std::function<void(size_t begin, size_t end, double* partial)>& accumulate);

}  // namespace bert::cpu
