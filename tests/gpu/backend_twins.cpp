// CPU and CUDA backends side by side (tests/gpu/backend_twins.h).
#include "tests/gpu/backend_twins.h"

#include <algorithm>
#include <cmath>

#include "engine/cuda/bf16_host.h"
#include "tests/test_support.h"

namespace bert::test {

Twins::Twins(bool fp32_compute, uint32_t seed)
    : cpu_(make_cpu_backend(false)), gpu_(make_cuda_backend(CudaBackendOptions{fp32_compute})), rng_(seed) {}

Tolerance Twins::tolerance() const {
  return fp32() ? Tolerance{1e-4, 1e-5, 1e-7} : Tolerance{2e-2, 1e-2, 1e-6};
}

std::vector<float> Twins::representable(BufferRole role, std::vector<float> values) const {
  if (gpu_->dtype_for(role) == ScalarType::kBF16)
    for (float& value : values) value = float_from_bf16_bits(bf16_bits_from_float(value));
  return values;
}

Twin Twins::make(BufferRole role, const std::vector<float>& values) {
  const std::vector<float> exact = representable(role, values);
  Twin twin{cpu_->allocate(exact.size(), role), gpu_->allocate(exact.size(), role)};
  cpu_->upload(twin.cpu, exact.data(), exact.size());
  gpu_->upload(twin.gpu, exact.data(), exact.size());
  return twin;
}

Twin Twins::random(BufferRole role, size_t count, float low, float high) {
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(count);
  for (float& value : values) value = distribution(rng_);
  return make(role, values);
}

Twin Twins::zeros(BufferRole role, size_t count) {
  return Twin{cpu_->allocate(count, role), gpu_->allocate(count, role)};
}

Twin Twins::ids(const std::vector<int32_t>& values) {
  Twin twin{cpu_->allocate(values.size(), BufferRole::kIndex),
            gpu_->allocate(values.size(), BufferRole::kIndex)};
  cpu_->upload(twin.cpu, values.data(), values.size());
  gpu_->upload(twin.gpu, values.data(), values.size());
  return twin;
}

Twin Twins::head(const Twin& twin, size_t count) {
  return Twin{slice(twin.cpu, 0, count), slice(twin.gpu, 0, count)};
}

void Twins::cpu_takes_gpu(const Twin& twin) {
  const std::vector<double> values = gpu_->download(twin.gpu);
  cpu_->upload(twin.cpu, values.data(), values.size());
}

void Twins::require_close(const std::string& name, const Twin& twin, const Tolerance& tolerance) {
  const std::vector<double> got = gpu_values(twin), ref = cpu_values(twin);
  REQUIRE(got.size() == ref.size());
  REQUIRE_CLOSE(name + (fp32() ? " (fp32)" : " (bf16)"), within(got, ref, tolerance));
}

}  // namespace bert::test
