// The CUDA backend: the Backend interface (engine/backend.h) on the kernels of kernels/*.cu and
// cuBLASLt, on one device and one stream owned by the backend (plus, for AdamW beside the
// forward pass, a side stream: Backend::begin_side_updates).
//
// Buffer types: activations and the working copy of the weights in bf16 (fp32 with the fp32
// compute switch, which then has no separate working copy); master weights, gradients, Adam
// moments and statistics (LayerNorm mean/rstd, attention log-sum-exp, losses) in fp32; indices in
// int32; step statistics (BufferRole::kStepStats) in fp64. upload() converts on the host into a
// pinned staging ring and never waits for the device once the ring is sized; download()
// converts and synchronises; stage_download()/collect_download() read step statistics without
// a stream-wide sync. allocate() reports running out of device memory as a BertError naming
// the request, the free memory and the flags that shrink it. Every op checks the
// dtype and size of each tensor it is given and throws BertError on a mismatch.
// Memory: every buffer is allocated by allocate() (the model does it at construction), the
// cuBLASLt workspace at construction, and kernel scratch on first use
// (engine/cuda/device_memory.h); stats().device_allocations lets tests check that a training step
// allocates nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "engine/backend.h"
#include "engine/backend_registry.h"
#include "kernels/host_device.h"

namespace bert {

struct CudaBackendStats {
  size_t device_allocations = 0;  // cudaMalloc calls so far (buffers, scratch, cuBLASLt workspace)
  size_t bytes_held = 0;          // device bytes the backend holds
  size_t scratch_bytes = 0;       // size of the kernel scratch block (its high-water mark)
  size_t pinned_allocations = 0;  // cudaHostAlloc calls so far (upload staging, staged downloads)
};

class CudaBackend : public Backend {
 public:
  virtual bool fp32_compute() const = 0;
  virtual CudaBackendStats stats() const = 0;
  virtual GpuStream stream() const = 0;                // every op is queued here (e.g. for NCCL)
  void* native_stream() override { return static_cast<void*>(stream()); }
  std::optional<ModelSizeProblem> model_size_problem(int hidden_size, int num_attention_heads) const override {
    return cuda_kernels_model_size_problem(hidden_size, num_attention_heads);
  }
  virtual std::string device_description() const = 0;  // "NVIDIA H100 80GB HBM3, bf16 compute"
};

// 0 with *why_not set when the runtime finds no usable device.
int cuda_device_count(std::string* why_not);

// A backend on the current device. Throws BertError when no device is usable.
std::unique_ptr<CudaBackend> make_cuda_backend(const CudaBackendOptions& options = {});

// Registers make_cuda_backend with make_backend() (engine/backend_registry.h). Linking the
// bert_engine_cuda target does this at static-initialisation time; tests may call it directly.
void register_cuda_backend();

}  // namespace bert
