#include "engine/backend_registry.h"

#include <cstdlib>

#include "core/error.h"

namespace bert {
namespace {

// A function-local static, so registration from another translation unit's static initialiser
// never runs before this is constructed.
CudaBackendFactory& factory_slot() {
  static CudaBackendFactory factory = nullptr;
  return factory;
}

}  // namespace

CudaBackendOptions cuda_backend_options_from_env() {
  CudaBackendOptions options;
  const char* value = std::getenv("BERT_CUDA_COMPUTE");
  if (value == nullptr || std::string(value).empty() || std::string(value) == "bf16") return options;
  if (std::string(value) == "fp32") {
    options.fp32_compute = true;
    return options;
  }
  throw InputError(std::string("BERT_CUDA_COMPUTE: expected bf16 or fp32, got '") + value + "'");
}

void register_cuda_backend_factory(CudaBackendFactory factory) { factory_slot() = factory; }

CudaBackendFactory registered_cuda_backend_factory() { return factory_slot(); }

}  // namespace bert
