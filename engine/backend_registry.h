// Choosing a backend by its --device name (make_backend), and how make_backend finds the CUDA
// backend without bert_engine depending on CUDA: the CUDA library (engine/cuda, built only with nvcc) registers a factory here when it
// is linked into an executable (its registration object runs at static-initialisation time), so
// `--device cuda|auto` work in builds with CUDA and report why not in builds without.
#pragma once

#include <memory>
#include <string>

#include "engine/backend.h"

namespace bert {

struct CudaBackendOptions {
  // false: bf16 activations and GEMM operands, fp32 master weights (training default).
  // true: every activation and GEMM in fp32 without TF32 (parity checks, debugging).
  bool fp32_compute = false;
};

// BERT_CUDA_COMPUTE: unset or "bf16" (default) or "fp32"; anything else is an InputError.
CudaBackendOptions cuda_backend_options_from_env();

// Returns the backend, or null with *note saying why no usable device exists. On success *note
// describes the device ("NVIDIA H100 80GB HBM3, bf16 compute").
using CudaBackendFactory = std::unique_ptr<Backend> (*)(const CudaBackendOptions& options, std::string* note);

void register_cuda_backend_factory(CudaBackendFactory factory);
// Null when no CUDA backend is linked into this executable.
CudaBackendFactory registered_cuda_backend_factory();

// "cpu", "cuda" or "auto" (cuda when built with CUDA and a device exists, else cpu; one stderr
// line says which and why). Throws InputError for an unknown name or cuda where it is
// unavailable. The CUDA backend computes in bf16 unless BERT_CUDA_COMPUTE=fp32 (or
// cuda_options.fp32_compute, for a future --cuda_compute flag).
std::unique_ptr<Backend> make_backend(const std::string& device);
std::unique_ptr<Backend> make_backend(const std::string& device, const CudaBackendOptions& cuda_options);

}  // namespace bert
