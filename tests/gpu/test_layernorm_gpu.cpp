// GPU vs CPU reference: LayerNorm forward/backward and the fused residual + dropout + LayerNorm.
#include "kernels/dropout.h"
#include "kernels/layernorm.h"
#include "tests/gpu/gpu_test_util.h"

namespace bert::test {
namespace {

constexpr float kEps = 1e-12f;

GpuWorkspace lend(DeviceBuffer<unsigned char>& buffer) {
  return GpuWorkspace{buffer.data(), buffer.size()};
}

}  // namespace

TEST_CASE("layernorm forward/backward match the reference", "[gpu][layernorm]") {
  std::mt19937 rng(21);
  for (const auto& [rows, width] : {std::pair{1, 96}, std::pair{37, 96}, std::pair{130, 768},
                                    std::pair{67, 128}, std::pair{9, 1024}}) {
    CAPTURE(rows, width);
    const size_t count = static_cast<size_t>(rows) * width;
    std::vector<float> inp = random_bf16_values(count, -3.0f, 3.0f, rng);
    for (size_t i = 0; i < static_cast<size_t>(width); ++i)
      inp[i] = round_bf16(inp[i] + 5.0f);  // an offset row
    const std::vector<float> gamma = random_bf16_values(width, 0.5f, 1.5f, rng);
    const std::vector<float> beta = random_bf16_values(width, -0.5f, 0.5f, rng);
    DeviceBf16 d_inp(inp), d_gamma(gamma), d_beta(beta), d_out(count);
    DeviceBuffer<float> d_mean(rows), d_rstd(rows);
    layernorm_forward_cuda(d_out.get(), d_mean.data(), d_rstd.data(), d_inp.get(), d_gamma.get(),
                           d_beta.get(), rows, width, kEps, nullptr);
    std::vector<float> out(count), mean(rows), rstd(rows);
    layernorm_forward_ref(out.data(), mean.data(), rstd.data(), inp.data(), gamma.data(),
                          beta.data(), rows, width, kEps);
    require_close("layernorm out", d_out.download(), out, 1e-2, 2e-3);
    require_close("layernorm mean", to_host(d_mean), mean, 1e-5, 1e-6);
    require_close("layernorm rstd", to_host(d_rstd), rstd, 1e-4, 0.0);

    const std::vector<float> d_out_values = random_bf16_values(count, -1.0f, 1.0f, rng);
    DeviceBf16 d_grad(d_out_values), d_inp_grad(count);
    std::vector<float> gamma_grad = random_floats(width, -1.0f, 1.0f, rng);
    std::vector<float> beta_grad = random_floats(width, -1.0f, 1.0f, rng);
    DeviceBuffer<float> d_gamma_grad = to_device(gamma_grad), d_beta_grad = to_device(beta_grad);
    DeviceBuffer<unsigned char> scratch(layernorm_backward_workspace_bytes(rows, width));
    std::vector<float> ref_inp_grad(count);
    for (const Accumulate mode : {Accumulate::kOverwrite, Accumulate::kAdd}) {
      layernorm_backward_cuda(d_inp_grad.get(), d_gamma_grad.data(), d_beta_grad.data(),
                              d_grad.get(), d_inp.get(), d_gamma.get(), d_mean.data(),
                              d_rstd.data(), rows, width, mode, lend(scratch), nullptr);
      // The reference sees the kernel's own statistics, so only the backward math is compared.
      const std::vector<float> gpu_mean = to_host(d_mean), gpu_rstd = to_host(d_rstd);
      layernorm_backward_ref(ref_inp_grad.data(), gamma_grad.data(), beta_grad.data(),
                             d_out_values.data(), inp.data(), gamma.data(), gpu_mean.data(),
                             gpu_rstd.data(), rows, width, mode);
      const std::vector<float> got = d_inp_grad.download();
      require_close("layernorm d_inp", got, ref_inp_grad, 2e-2, 5e-3);
      ref_inp_grad = got;  // the add pass starts from the kernel's bf16 values
      require_close("layernorm d_gamma", to_host(d_gamma_grad), gamma_grad, 1e-4, 1e-5);
      require_close("layernorm d_beta", to_host(d_beta_grad), beta_grad, 1e-4, 1e-5);
    }
  }
}

TEST_CASE("fused residual+dropout+layernorm matches the composed reference", "[gpu][layernorm]") {
  std::mt19937 rng(22);
  for (const auto& [rows, width] : {std::pair{37, 96}, std::pair{130, 768}}) {
    for (const float probability : {0.0f, 0.1f}) {
      CAPTURE(rows, width, probability);
      DropoutSpec spec;
      spec.probability = probability;
      spec.seed = 99;
      spec.micro_step = 3;
      spec.site = dropout_site(1, DropoutKind::kAttentionOutput);
      spec.element_offset = 6;  // not a multiple of 4: groups straddle rows
      const size_t count = static_cast<size_t>(rows) * width;
      const std::vector<float> branch = random_bf16_values(count, -2.0f, 2.0f, rng);
      const std::vector<float> residual = random_bf16_values(count, -2.0f, 2.0f, rng);
      const std::vector<float> gamma = random_bf16_values(width, 0.5f, 1.5f, rng);
      const std::vector<float> beta = random_bf16_values(width, -0.5f, 0.5f, rng);
      DeviceBf16 d_branch(branch), d_residual(residual), d_gamma(gamma), d_beta(beta);
      DeviceBf16 d_out(count), d_sum(count);
      DeviceBuffer<float> d_mean(rows), d_rstd(rows);
      residual_dropout_layernorm_forward_cuda(
          d_out.get(), d_sum.get(), d_mean.data(), d_rstd.data(), d_branch.get(), d_residual.get(),
          d_gamma.get(), d_beta.get(), rows, width, kEps, spec, nullptr);
      std::vector<float> sum(count), out(count), mean(rows), rstd(rows);
      residual_dropout_forward_ref(sum.data(), branch.data(), residual.data(), count, spec);
      layernorm_forward_ref(out.data(), mean.data(), rstd.data(), sum.data(), gamma.data(),
                            beta.data(), rows, width, kEps);
      require_close("fused sum", d_sum.download(), sum, 8e-3, 1e-3);
      require_close("fused out", d_out.download(), out, 1e-2, 2e-3);
      require_close("fused rstd", to_host(d_rstd), rstd, 1e-4, 0.0);

      // Backward: reference = LayerNorm backward on the kernel's saved sum and statistics,
      // then d_residual = d_sum (added onto a start value) and d_branch = dropout backward.
      const std::vector<float> grad = random_bf16_values(count, -1.0f, 1.0f, rng);
      const std::vector<float> residual_start = random_bf16_values(count, -1.0f, 1.0f, rng);
      DeviceBf16 d_grad(grad), d_branch_grad(count), d_residual_grad(residual_start);
      std::vector<float> gamma_grad(width, 0.25f), beta_grad(width, -0.25f);
      DeviceBuffer<float> d_gamma_grad = to_device(gamma_grad), d_beta_grad = to_device(beta_grad);
      DeviceBuffer<unsigned char> scratch(layernorm_backward_workspace_bytes(rows, width));
      residual_dropout_layernorm_backward_cuda(
          d_branch_grad.get(), d_residual_grad.get(), d_gamma_grad.data(), d_beta_grad.data(),
          d_grad.get(), d_sum.get(), d_gamma.get(), d_mean.data(), d_rstd.data(), rows, width, spec,
          Accumulate::kAdd, GpuWorkspace{scratch.data(), scratch.size()}, nullptr);
      const std::vector<float> saved_sum = d_sum.download();
      const std::vector<float> gpu_mean = to_host(d_mean), gpu_rstd = to_host(d_rstd);
      std::vector<float> d_sum_ref(count), d_branch_ref(count);
      layernorm_backward_ref(d_sum_ref.data(), gamma_grad.data(), beta_grad.data(), grad.data(),
                             saved_sum.data(), gamma.data(), gpu_mean.data(), gpu_rstd.data(), rows,
                             width, Accumulate::kOverwrite);
      dropout_backward_ref(d_branch_ref.data(), d_sum_ref.data(), count, spec,
                           Accumulate::kOverwrite);
      std::vector<float> d_residual_ref = residual_start;
      for (size_t i = 0; i < count; ++i) d_residual_ref[i] += d_sum_ref[i];
      require_close("fused d_branch", d_branch_grad.download(), d_branch_ref, 2e-2, 5e-3);
      require_close("fused d_residual", d_residual_grad.download(), d_residual_ref, 2e-2, 5e-3);
      require_close("fused d_gamma", to_host(d_gamma_grad), gamma_grad, 1e-4, 1e-5);
      require_close("fused d_beta", to_host(d_beta_grad), beta_grad, 1e-4, 1e-5);
    }
  }
}

}  // namespace bert::test
