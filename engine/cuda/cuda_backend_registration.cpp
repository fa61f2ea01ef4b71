// Linked into every executable that names the bert_engine_cuda target (an OBJECT library, so
// this file is never dropped by the linker the way an unreferenced static-library member is):
// registers the CUDA backend with make_backend() before main runs.
#include "engine/cuda/cuda_backend.h"

namespace {
const bool kCudaBackendRegistered = (bert::register_cuda_backend(), true);
}  // namespace
