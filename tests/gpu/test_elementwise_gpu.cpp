// GPU vs CPU reference: dropout (plain, backward, residual), bias+GELU, fp32<->bf16 conversion.
#include <cmath>

#include "kernels/convert.h"
#include "kernels/dropout.h"
#include "kernels/gelu.h"
#include "tests/gpu/gpu_test_util.h"

namespace bert::test {
namespace {

DropoutSpec make_spec(float probability, uint64_t element_offset) {
  DropoutSpec spec;
  spec.probability = probability;
  spec.seed = 0x1234abcd5678ull;
  spec.micro_step = 7;
  spec.site = dropout_site(3, DropoutKind::kFfnOutput);
  spec.element_offset = element_offset;
  return spec;
}

// Zeros must sit exactly where the reference drops (inputs are never zero here).
void require_same_mask(const std::vector<float>& got, const std::vector<float>& ref) {
  size_t mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) mismatches += (got[i] == 0.0f) != (ref[i] == 0.0f);
  INFO("elements whose keep flag differs from the reference: " << mismatches);
  REQUIRE(mismatches == 0);
}

std::vector<float> nonzero_values(size_t count, std::mt19937& rng) {
  std::vector<float> values = random_bf16_values(count, 0.5f, 2.0f, rng);
  for (size_t i = 0; i < count; i += 2) values[i] = -values[i];
  return values;
}

}  // namespace

TEST_CASE("dropout forward/backward match the reference masks", "[gpu][dropout]") {
  std::mt19937 rng(11);
  for (const size_t count : {size_t{1}, size_t{1001}, size_t{4096}}) {
    for (const float probability : {0.0f, 0.1f, 0.5f}) {
      for (const uint64_t offset : {uint64_t{0}, uint64_t{3}}) {
        CAPTURE(count, probability, offset);
        const DropoutSpec spec = make_spec(probability, offset);
        const std::vector<float> inp = nonzero_values(count, rng);
        DeviceBf16 d_inp(inp), d_out(count);
        dropout_forward_cuda(d_out.get(), d_inp.get(), count, spec, nullptr);
        std::vector<float> ref(count);
        dropout_forward_ref(ref.data(), inp.data(), count, spec);
        const std::vector<float> got = d_out.download();
        require_same_mask(got, ref);
        require_close("dropout forward", got, ref, 8e-3, 0.0);

        // Backward: overwrite, then add onto the result.
        const std::vector<float> grad = nonzero_values(count, rng);
        DeviceBf16 d_grad(grad), d_inp_grad(count);
        dropout_backward_cuda(d_inp_grad.get(), d_grad.get(), count, spec, Accumulate::kOverwrite,
                              nullptr);
        std::vector<float> ref_grad(count);
        dropout_backward_ref(ref_grad.data(), grad.data(), count, spec, Accumulate::kOverwrite);
        const std::vector<float> got_grad = d_inp_grad.download();
        require_same_mask(got_grad, ref_grad);
        require_close("dropout backward", got_grad, ref_grad, 8e-3, 0.0);

        std::vector<float> start = got_grad;  // bf16 values already
        dropout_backward_cuda(d_inp_grad.get(), d_grad.get(), count, spec, Accumulate::kAdd,
                              nullptr);
        dropout_backward_ref(start.data(), grad.data(), count, spec, Accumulate::kAdd);
        require_close("dropout backward (add)", d_inp_grad.download(), start, 8e-3, 1e-3);
      }
    }
  }
}

TEST_CASE("residual dropout forward matches the reference", "[gpu][dropout]") {
  std::mt19937 rng(12);
  const size_t count = 37 * 96 + 2;
  for (const float probability : {0.0f, 0.1f}) {
    const DropoutSpec spec = make_spec(probability, 5);
    const std::vector<float> branch = random_bf16_values(count, -2.0f, 2.0f, rng);
    const std::vector<float> residual = random_bf16_values(count, -2.0f, 2.0f, rng);
    DeviceBf16 d_branch(branch), d_residual(residual), d_out(count);
    residual_dropout_forward_cuda(d_out.get(), d_branch.get(), d_residual.get(), count, spec,
                                  nullptr);
    std::vector<float> ref(count);
    residual_dropout_forward_ref(ref.data(), branch.data(), residual.data(), count, spec);
    require_close("residual dropout", d_out.download(), ref, 8e-3, 1e-3);
  }
}

TEST_CASE("bias+GELU forward/backward match the reference", "[gpu][gelu]") {
  std::mt19937 rng(13);
  for (const auto& [rows, width] :
       {std::pair{1, 96}, std::pair{37, 96}, std::pair{130, 768}, std::pair{65, 3072},
        // Widths not a multiple of 8 take the scalar path; 1100 rows make more d_bias partials
        // than finishing groups.
        std::pair{37, 100}, std::pair{3, 7}, std::pair{1100, 40}}) {
    CAPTURE(rows, width);
    const size_t count = static_cast<size_t>(rows) * width;
    const std::vector<float> pre = random_bf16_values(count, -4.0f, 4.0f, rng);
    const std::vector<float> bias = random_bf16_values(width, -1.0f, 1.0f, rng);
    DeviceBf16 d_pre(pre), d_bias(bias), d_out(count);
    bias_activation_forward_cuda(Activation::kGeluErf, d_out.get(), d_pre.get(), d_bias.get(), rows,
                                 width, nullptr);
    std::vector<float> ref(count);
    bias_activation_forward_ref(Activation::kGeluErf, ref.data(), pre.data(), bias.data(), rows,
                                width);
    require_close("gelu forward", d_out.download(), ref, 1e-2, 1e-3);

    const std::vector<float> grad = random_bf16_values(count, -1.0f, 1.0f, rng);
    std::vector<float> bias_grad = random_floats(width, -1.0f, 1.0f, rng);  // accumulated onto
    DeviceBf16 d_grad(grad), d_pre_grad(count);
    DeviceBuffer<float> d_bias_grad = to_device(bias_grad);
    DeviceBuffer<unsigned char> scratch(bias_gelu_backward_workspace_bytes(rows, width));
    bias_activation_backward_cuda(Activation::kGeluErf, d_pre_grad.get(), d_bias_grad.data(),
                                  d_grad.get(), d_pre.get(), d_bias.get(), rows, width,
                                  GpuWorkspace{scratch.data(), scratch.size()}, nullptr);
    std::vector<float> ref_pre_grad(count);
    bias_activation_backward_ref(Activation::kGeluErf, ref_pre_grad.data(), bias_grad.data(),
                                 grad.data(), pre.data(), bias.data(), rows, width);
    require_close("gelu backward d_pre", d_pre_grad.download(), ref_pre_grad, 1e-2, 1e-3);
    require_close("gelu backward d_bias", to_host(d_bias_grad), bias_grad, 1e-4, 1e-5);
  }
}

TEST_CASE("bias+activation forward/backward match the reference for every hidden_act",
          "[gpu][gelu]") {
  std::mt19937 rng(15);
  for (const Activation act : {Activation::kGeluErf, Activation::kGeluTanh, Activation::kQuickGelu,
                               Activation::kRelu, Activation::kSilu}) {
    // The vector path (width % 8 == 0) and the scalar one.
    for (const auto& [rows, width] : {std::pair{37, 96}, std::pair{5, 7}}) {
      CAPTURE(static_cast<int>(act), rows, width);
      const size_t count = static_cast<size_t>(rows) * width;
      const std::vector<float> pre = random_bf16_values(count, -6.0f, 6.0f, rng);
      const std::vector<float> bias = random_bf16_values(width, -1.0f, 1.0f, rng);
      DeviceBf16 d_pre(pre), d_bias(bias), d_out(count);
      bias_activation_forward_cuda(act, d_out.get(), d_pre.get(), d_bias.get(), rows, width,
                                   nullptr);
      std::vector<float> ref(count);
      bias_activation_forward_ref(act, ref.data(), pre.data(), bias.data(), rows, width);
      require_close("forward", d_out.download(), ref, 1e-2, 1e-3);

      const std::vector<float> grad = random_bf16_values(count, -1.0f, 1.0f, rng);
      std::vector<float> bias_grad = random_floats(width, -1.0f, 1.0f, rng);
      DeviceBf16 d_grad(grad), d_pre_grad(count);
      DeviceBuffer<float> d_bias_grad = to_device(bias_grad);
      DeviceBuffer<unsigned char> scratch(bias_gelu_backward_workspace_bytes(rows, width));
      bias_activation_backward_cuda(act, d_pre_grad.get(), d_bias_grad.data(), d_grad.get(),
                                    d_pre.get(), d_bias.get(), rows, width,
                                    GpuWorkspace{scratch.data(), scratch.size()}, nullptr);
      std::vector<float> ref_pre_grad(count);
      bias_activation_backward_ref(act, ref_pre_grad.data(), bias_grad.data(), grad.data(),
                                   pre.data(), bias.data(), rows, width);
      require_close("backward d_pre", d_pre_grad.download(), ref_pre_grad, 1e-2, 1e-3);
      require_close("backward d_bias", to_host(d_bias_grad), bias_grad, 1e-4, 1e-5);
    }
  }
}

TEST_CASE("fp32 <-> bf16 conversion rounds to nearest even", "[gpu][convert]") {
  std::mt19937 rng(14);
  std::vector<float> values = random_floats(5003, -1e3f, 1e3f, rng);
  values[0] = 0.0f;
  values[1] = -0.0f;
  values[2] = 1.00390625f;  // exactly halfway between two bf16 values: ties to even
  values[3] = 1e-40f;       // subnormal
  DeviceBuffer<float> d_values = to_device(values);
  DeviceBf16 d_bf16(values.size());
  convert_f32_to_bf16_cuda(d_bf16.get(), d_values.data(), values.size(), nullptr);
  const std::vector<float> rounded = d_bf16.download();
  size_t mismatches = 0;
  for (size_t i = 0; i < values.size(); ++i)
    mismatches += float_to_bf16_bits(rounded[i]) != float_to_bf16_bits(values[i]) ||
                  rounded[i] != round_bf16(values[i]);
  REQUIRE(mismatches == 0);

  DeviceBuffer<float> back(values.size());
  convert_bf16_to_f32_cuda(back.data(), d_bf16.get(), values.size(), nullptr);
  REQUIRE(to_host(back) == rounded);
}

}  // namespace bert::test
