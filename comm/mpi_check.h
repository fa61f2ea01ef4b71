// MPI_CHECK: the MPI counterpart of CUDA_CHECK (kernels/cuda_check.h). Communicators run with
// MPI_ERRORS_RETURN, so a failed call returns a code instead of killing the job; the macro
// turns it into bert::BertError("<call> failed at <file>:<line>: <MPI error string>").
// Include only where mpi.h is available (BERT_HAVE_MPI).
#pragma once

#include <mpi.h>

#include "core/error.h"

namespace bert {

[[noreturn]] void throw_mpi_error(int code, const char* call, const char* file, int line);

}  // namespace bert

#define MPI_CHECK(call)                                                          \
  do {                                                                           \
    const int bert_mpi_status_ = (call);                                         \
    if (bert_mpi_status_ != MPI_SUCCESS)                                         \
      ::bert::throw_mpi_error(bert_mpi_status_, #call, __FILE__, __LINE__);      \
  } while (0)
