// GPU vs CPU reference: LayerNorm forward/backward and the fused residual + dropout + LayerNorm.
#include "kernels/layernorm.h"
#include "tests/gpu/gpu_test_util.h"

namespace bert::test {
namespace {

constexpr float kEps = 1e-12f;

GpuWorkspace lend(DeviceBuffer<unsigned char>& buffer) {
  return GpuWorkspace{buffer.data(), buffer.size()};
}

// `count` elements into a bf16 tensor (bf16 is an incomplete type on the host).
bf16* skip_elements(DeviceBf16& tensor, size_t count) {
  return as_bf16(reinterpret_cast<uint16_t*>(tensor.get()) + count);
}

}  // namespace

TEST_CASE("layernorm forward/backward match the reference", "[gpu][layernorm]") {
  std::mt19937 rng(21);
  // Widths that are multiples of 8 take 16-byte accesses, the others (36, 100, 1020) 8-byte ones;
  // 32 is the tiny golden model; 1100 rows make more d_gamma partials than finishing groups.
  for (const auto& [rows, width] :
       {std::pair{1, 96}, std::pair{37, 96}, std::pair{130, 768}, std::pair{67, 128},
        std::pair{9, 1024}, std::pair{3, 36}, std::pair{19, 100}, std::pair{5, 1020},
        std::pair{4, 32}, std::pair{1100, 64}}) {
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

TEST_CASE("fused residual+dropout+layernorm matches its reference", "[gpu][layernorm]") {
  std::mt19937 rng(22);
  for (const auto& [rows, width] : {std::pair{37, 96}, std::pair{130, 768}, std::pair{19, 100}}) {
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
      residual_dropout_layernorm_forward_ref(out.data(), sum.data(), mean.data(), rstd.data(),
                                             branch.data(), residual.data(), gamma.data(),
                                             beta.data(), rows, width, kEps, spec);
      require_close("fused sum", d_sum.download(), sum, 8e-3, 1e-3);
      require_close("fused out", d_out.download(), out, 1e-2, 2e-3);
      require_close("fused rstd", to_host(d_rstd), rstd, 1e-4, 0.0);

      // Backward: the reference runs on the kernel's saved sum and statistics, adding
      // d_residual onto the same start value.
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
      std::vector<float> d_branch_ref(count), d_residual_ref = residual_start;
      residual_dropout_layernorm_backward_ref(
          d_branch_ref.data(), d_residual_ref.data(), gamma_grad.data(), beta_grad.data(),
          grad.data(), saved_sum.data(), gamma.data(), gpu_mean.data(), gpu_rstd.data(), rows,
          width, spec, Accumulate::kAdd);
      require_close("fused d_branch", d_branch_grad.download(), d_branch_ref, 2e-2, 5e-3);
      require_close("fused d_residual", d_residual_grad.download(), d_residual_ref, 2e-2, 5e-3);
      require_close("fused d_gamma", to_host(d_gamma_grad), gamma_grad, 1e-4, 1e-5);
      require_close("fused d_beta", to_host(d_beta_grad), beta_grad, 1e-4, 1e-5);
    }
  }
}

TEST_CASE("layernorm on 8-byte but not 16-byte aligned tensors", "[gpu][layernorm]") {
  // The width allows 16-byte accesses, the pointers (4 elements into their buffers) do not.
  std::mt19937 rng(23);
  const int rows = 41, width = 768, skip = 4;
  const size_t count = static_cast<size_t>(rows) * width;
  std::vector<float> inp = random_bf16_values(count + skip, -3.0f, 3.0f, rng);
  std::vector<float> gamma = random_bf16_values(width + skip, 0.5f, 1.5f, rng);
  std::vector<float> beta = random_bf16_values(width + skip, -0.5f, 0.5f, rng);
  DeviceBf16 d_inp(inp), d_gamma(gamma), d_beta(beta), d_out(count + skip);
  DeviceBuffer<float> d_mean(rows), d_rstd(rows);
  layernorm_forward_cuda(skip_elements(d_out, skip), d_mean.data(), d_rstd.data(),
                         skip_elements(d_inp, skip), skip_elements(d_gamma, skip),
                         skip_elements(d_beta, skip), rows, width, kEps, nullptr);
  inp.erase(inp.begin(), inp.begin() + skip);
  gamma.erase(gamma.begin(), gamma.begin() + skip);
  beta.erase(beta.begin(), beta.begin() + skip);
  std::vector<float> out(count), mean(rows), rstd(rows);
  layernorm_forward_ref(out.data(), mean.data(), rstd.data(), inp.data(), gamma.data(), beta.data(),
                        rows, width, kEps);
  std::vector<float> got = d_out.download();
  got.erase(got.begin(), got.begin() + skip);
  require_close("layernorm out (8-byte aligned)", got, out, 1e-2, 2e-3);

  const std::vector<float> grad = random_bf16_values(count + skip, -1.0f, 1.0f, rng);
  DeviceBf16 d_grad(grad), d_inp_grad(count + skip);
  DeviceBuffer<float> d_gamma_grad(width), d_beta_grad(width);
  const std::vector<float> zeros(width, 0.0f);
  d_gamma_grad.upload(zeros.data(), zeros.size());
  d_beta_grad.upload(zeros.data(), zeros.size());
  DeviceBuffer<unsigned char> scratch(layernorm_backward_workspace_bytes(rows, width));
  layernorm_backward_cuda(skip_elements(d_inp_grad, skip), d_gamma_grad.data(), d_beta_grad.data(),
                          skip_elements(d_grad, skip), skip_elements(d_inp, skip),
                          skip_elements(d_gamma, skip), d_mean.data(), d_rstd.data(), rows, width,
                          Accumulate::kOverwrite, lend(scratch), nullptr);
  std::vector<float> ref_grad(count), gamma_grad(zeros), beta_grad(zeros);
  layernorm_backward_ref(ref_grad.data(), gamma_grad.data(), beta_grad.data(), grad.data() + skip,
                         inp.data(), gamma.data(), to_host(d_mean).data(), to_host(d_rstd).data(),
                         rows, width, Accumulate::kOverwrite);
  std::vector<float> got_grad = d_inp_grad.download();
  got_grad.erase(got_grad.begin(), got_grad.begin() + skip);
  require_close("layernorm d_inp (8-byte aligned)", got_grad, ref_grad, 2e-2, 5e-3);
  require_close("layernorm d_gamma (8-byte aligned)", to_host(d_gamma_grad), gamma_grad, 1e-4,
                1e-5);
  require_close("layernorm d_beta (8-byte aligned)", to_host(d_beta_grad), beta_grad, 1e-4, 1e-5);
}

}  // namespace bert::test
