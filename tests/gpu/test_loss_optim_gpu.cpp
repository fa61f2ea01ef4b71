// GPU vs CPU reference: QA span loss with its gradient, AdamW, sum of squares and the clipping
// factor.
#include <cmath>
#include <cstring>

#include "kernels/adamw.h"
#include "kernels/qa_loss.h"
#include "tests/gpu/gpu_test_util.h"

namespace bert::test {

TEST_CASE("qa loss forward/backward matches the reference", "[gpu][qa_loss]") {
  std::mt19937 rng(51);
  const std::vector<int> lengths{1, 17, 64, 130, 384, 300};
  std::vector<int32_t> cu_seqlens{0}, starts, ends;
  for (const int length : lengths) {
    cu_seqlens.push_back(cu_seqlens.back() + length);
    std::uniform_int_distribution<int> position(0, length - 1);
    starts.push_back(position(rng));
    ends.push_back(position(rng));
  }
  const int batch = static_cast<int>(lengths.size()), tokens = cu_seqlens.back();
  const std::vector<float> logits = random_bf16_values(size_t(tokens) * 2, -6.0f, 6.0f, rng);
  DeviceBf16 d_logits(logits), d_grad(logits.size());
  DeviceBuffer<float> d_losses(size_t(batch) * 2);
  DeviceBuffer<int32_t> d_cu = to_device(cu_seqlens), d_starts = to_device(starts),
                        d_ends = to_device(ends);
  const float scale = 0.5f;  // 1 / gradient accumulation steps
  qa_loss_forward_backward_cuda(d_grad.get(), d_losses.data(), d_logits.get(), d_cu.data(),
                                d_starts.data(), d_ends.data(), batch, scale, nullptr);
  std::vector<float> grad(logits.size()), losses(size_t(batch) * 2);
  qa_loss_forward_backward_ref(grad.data(), losses.data(), logits.data(), cu_seqlens.data(),
                               starts.data(), ends.data(), batch, scale);
  require_close("qa losses", to_host(d_losses), losses, 1e-5, 0.0, 1e-5);
  require_close("qa d_logits", d_grad.download(), grad, 1e-2, 1e-3);
}

TEST_CASE("adamw update matches the reference", "[gpu][adamw]") {
  std::mt19937 rng(52);
  const size_t count = 10007;
  for (const double weight_decay : {0.0, 0.01}) {
    CAPTURE(weight_decay);
    AdamWHyper hyper;
    hyper.learning_rate = 3e-5;
    hyper.weight_decay = weight_decay;
    hyper.step = 3;
    std::vector<float> param = random_floats(count, -0.1f, 0.1f, rng);
    std::vector<float> m = random_floats(count, -1e-3f, 1e-3f, rng);
    std::vector<float> v = random_floats(count, 0.0f, 1e-6f, rng);
    const std::vector<float> grad = random_floats(count, -1e-2f, 1e-2f, rng);
    const std::vector<float> m_before = m;
    DeviceBuffer<float> d_param = to_device(param), d_m = to_device(m), d_v = to_device(v),
                        d_grad = to_device(grad);
    DeviceBf16 d_working(count);
    const std::vector<float> device_scale{0.8f};
    DeviceBuffer<float> d_scale = to_device(device_scale);
    adamw_update_cuda(d_param.data(), d_m.data(), d_v.data(), d_working.get(), d_grad.data(), count,
                      hyper, 0.5f, d_scale.data(), nullptr);
    adamw_update_ref(param.data(), m.data(), v.data(), grad.data(), count, hyper, 0.5 * 0.8);
    const std::vector<float> gpu_param = to_host(d_param);
    require_close("adamw param", gpu_param, param, 1e-6, 0.0, 1e-9);
    const std::vector<float> gpu_m = to_host(d_m);
    std::vector<double> scaled_grad(count);
    for (size_t i = 0; i < count; ++i) scaled_grad[i] = grad[i] * 0.4;
    // m's rounding error is relative to its terms, not to m (exp_avg_atol); 4 roundings a step.
    REQUIRE_CLOSE("adamw exp_avg",
                  compare_close_each(std::vector<double>(gpu_m.begin(), gpu_m.end()),
                                     std::vector<double>(m.begin(), m.end()),
                                     exp_avg_atol(std::vector<double>(m_before.begin(), m_before.end()),
                                                  scaled_grad, hyper.beta1, 1, 4.0),
                                     1e-5));
    require_close("adamw exp_avg_sq", to_host(d_v), v, 1e-5, 0.0, 1e-15);
    const std::vector<float> working = d_working.download();
    size_t mismatches = 0;
    for (size_t i = 0; i < count; ++i) mismatches += working[i] != round_bf16(gpu_param[i]);
    REQUIRE(mismatches == 0);
  }
}

TEST_CASE("sum of squares and clip scale are exact enough and reproducible", "[gpu][adamw]") {
  std::mt19937 rng(53);
  for (const size_t count : {size_t{1}, size_t{1000}, size_t{3000017}}) {
    CAPTURE(count);
    const std::vector<float> values = random_floats(count, -2.0f, 2.0f, rng);
    DeviceBuffer<float> d_values = to_device(values);
    DeviceBuffer<double> d_result(1);
    DeviceBuffer<unsigned char> scratch(sum_squares_workspace_bytes());
    const GpuWorkspace workspace{scratch.data(), scratch.size()};
    sum_squares_cuda(d_result.data(), d_values.data(), count, workspace, nullptr);
    const double first = to_host(d_result)[0];
    const double ref = sum_squares_ref(values.data(), count);
    REQUIRE(std::fabs(first - ref) <= 1e-12 * ref);
    sum_squares_cuda(d_result.data(), d_values.data(), count, workspace, nullptr);
    const double second = to_host(d_result)[0];
    REQUIRE(std::memcmp(&first, &second, sizeof(double)) == 0);

    DeviceBuffer<float> d_clip(1);
    const double max_norm = 1.0;
    clip_scale_from_sum_squares_cuda(d_clip.data(), d_result.data(), max_norm, nullptr);
    const double expected = std::min(1.0, max_norm / (std::sqrt(ref) + 1e-6));
    REQUIRE(std::fabs(to_host(d_clip)[0] - expected) <= 1e-6 * expected);
  }
}

}  // namespace bert::test
