// The CPU backend (float) and the CUDA backend side by side, for tests/gpu/test_backend_gpu.cpp:
// identical inputs go to both (rounded to bf16 first wherever the CUDA backend stores bf16, so
// both start from the same values), outputs are compared with the tests' one rule
// (tests/tolerance.h), the CPU values as the reference.
#pragma once

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/cuda/cuda_backend.h"
#include "tests/tolerance.h"

namespace bert::test {

struct Twin {
  Tensor cpu, gpu;
  size_t numel() const { return cpu.numel; }
};

class Twins {
 public:
  explicit Twins(bool fp32_compute, uint32_t seed = 7);

  Backend& cpu() { return *cpu_; }
  CudaBackend& gpu() { return *gpu_; }
  bool fp32() const { return gpu_->fp32_compute(); }
  // bf16 mode: 2e-2 relative, 1e-2 of the largest value; fp32 mode: 1e-4 and 1e-5.
  Tolerance tolerance() const;

  // `values` rounded to what the CUDA backend stores for `role` (bf16 or fp32).
  std::vector<float> representable(BufferRole role, std::vector<float> values) const;
  Twin make(BufferRole role, const std::vector<float>& values);
  Twin random(BufferRole role, size_t count, float low, float high);
  Twin zeros(BufferRole role, size_t count);
  Twin ids(const std::vector<int32_t>& values);
  static Twin head(const Twin& twin, size_t count);  // the first `count` elements of both

  std::vector<double> cpu_values(const Twin& twin) { return cpu_->download(twin.cpu); }
  std::vector<double> gpu_values(const Twin& twin) { return gpu_->download(twin.gpu); }
  // Gives the CPU copy the CUDA backend's values (saved tensors feeding a backward pass, so the
  // backward comparison sees one set of inputs).
  void cpu_takes_gpu(const Twin& twin);
  // REQUIREs the two copies close with `tolerance`.
  void require_close(const std::string& name, const Twin& twin, const Tolerance& tolerance);
  void require_close(const std::string& name, const Twin& twin) { require_close(name, twin, tolerance()); }

  std::mt19937& rng() { return rng_; }

 private:
  std::unique_ptr<Backend> cpu_;
  std::unique_ptr<CudaBackend> gpu_;
  std::mt19937 rng_;
};

}  // namespace bert::test
