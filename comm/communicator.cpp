// LocalCommunicator and the factory that picks a communicator from the launch environment.
#include "comm/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

#ifdef BERT_HAVE_MPI
#include "comm/mpi_communicator.h"
#endif
#ifdef BERT_HAVE_NCCL
#include "comm/nccl_communicator.h"
#endif

namespace bert {

size_t tensor_bytes(const Tensor& values) {
  switch (values.dtype) {
    case ScalarType::kF64: return values.numel * 8;
    case ScalarType::kBF16: return values.numel * 2;
    case ScalarType::kF32:
    case ScalarType::kI32: return values.numel * 4;
  }
  return 0;
}

void check_reducible(const Tensor& values, const char* who) {
  if (values.dtype == ScalarType::kF32 || values.dtype == ScalarType::kF64) return;
  throw BertError(std::string(who) + ": " + (values.dtype == ScalarType::kBF16 ? "bf16" : "i32") +
                  " tensor, expected f32 or f64");
}

void LocalCommunicator::all_reduce_sum(Tensor values) {
  // Nothing to add, but what the real communicators refuse is refused here too, so a
  // single-process run catches the mistake.
  check_reducible(values, "all_reduce_sum");
}

void LocalCommunicator::abort(const std::string& reason) {
  std::fprintf(stderr, "rank 0: %s\n", reason.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

bool mpi_compiled_in() {
#ifdef BERT_HAVE_MPI
  return true;
#else
  return false;
#endif
}

bool nccl_compiled_in() {
#ifdef BERT_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Communicator> make_communicator(const CommOptions& options) {
  if (!launched_by_mpi()) return std::make_unique<LocalCommunicator>();
#ifdef BERT_HAVE_MPI
  // Also for `mpirun -np 1`: the MPI path is then exercised, at no cost.
  return std::make_unique<MpiCommunicator>(options);
#else
  (void)options;
  const int launched = launcher_world_size();
  if (launched == 1) return std::make_unique<LocalCommunicator>();
  throw BertError("launched by mpirun" +
                  (launched > 1 ? " with " + std::to_string(launched) + " processes" : std::string()) +
                  ", but this build has no MPI support: install libopenmpi-dev and reconfigure "
                  "(each process would otherwise train alone on all the data)");
#endif
}

std::unique_ptr<Communicator> make_communicator(const CommOptions& options, CommDevice device,
                                                void* cuda_stream) {
  if (device == CommDevice::kHost) return make_communicator(options);
  if (!launched_by_mpi()) return std::make_unique<LocalCommunicator>(CommMemory::kDevice);
#ifdef BERT_HAVE_NCCL
  return std::make_unique<NcclCommunicator>(options, cuda_stream);
#else
  (void)options;
  (void)cuda_stream;
  const int launched = launcher_world_size();
  if (launched == 1) return std::make_unique<LocalCommunicator>(CommMemory::kDevice);
  throw BertError(std::string("launched by mpirun with the CUDA backend, but this build has no NCCL "
                              "communicator (it needs CUDA, NCCL and MPI at configure time; ") +
                  (mpi_compiled_in() ? "NCCL was not found" : "MPI was not found") +
                  "): the MPI communicator reduces host memory only and cannot take the CUDA "
                  "backend's device pointers; use --device cpu or rebuild with NCCL");
#endif
}

}  // namespace bert
