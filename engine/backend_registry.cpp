#include "engine/backend_registry.h"

#include <cstdio>

#include "core/error.h"
#include "core/file_io.h"
#include "core/launcher.h"

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
  options.fp32_compute = environment_choice("BERT_CUDA_COMPUTE", {"bf16", "fp32"}) == 1;
  return options;
}

void register_cuda_backend_factory(CudaBackendFactory factory) { factory_slot() = factory; }

CudaBackendFactory registered_cuda_backend_factory() { return factory_slot(); }

std::unique_ptr<Backend> make_backend(const std::string& device) {
  const bool may_use_cuda = device == "cuda" || device == "auto";
  return make_backend(device, may_use_cuda ? cuda_backend_options_from_env() : CudaBackendOptions{});
}

std::unique_ptr<Backend> make_backend(const std::string& device, const CudaBackendOptions& cuda_options) {
  if (device == "cpu") return make_cpu_backend(false);
  if (device == "cpu-double") return make_cpu_backend(true);
  if (device != "cuda" && device != "auto")
    throw InputError("--device: expected auto, cpu or cuda, got '" + device + "'");
  // The factory exists when the executable links bert_engine_cuda (engine/backend_registry.h).
  const CudaBackendFactory factory = registered_cuda_backend_factory();
  std::string note = "this build has no CUDA backend (built without nvcc)";
  std::unique_ptr<Backend> backend = factory != nullptr ? factory(cuda_options, &note) : nullptr;
  if (device == "cuda") {
    if (!backend) throw InputError("--device cuda: " + note + "; use --device cpu");
    return backend;
  }
  // Rank 0's choice is the job's log line (the others print only errors).
  const bool report = launcher_rank() <= 0;
  if (backend) {
    if (report)
      std::fprintf(stderr, "[device] auto: %s on %s\n", backend->name().c_str(), note.c_str());
    return backend;
  }
  if (report) std::fprintf(stderr, "[device] auto: cpu (%s)\n", note.c_str());
  return make_cpu_backend(false);
}

}  // namespace bert
