// GPU (cuBLASLt) vs CPU reference (OpenBLAS): linear forward with and without bias, backward
// with d_inp overwrite/add, fp32 d_weight/d_bias accumulation; the algorithm cache; the
// bias+GELU epilogue variant against erf-GELU with a tolerance for its tanh approximation; the
// algorithm choice of bench_kernels' survey (other heuristic ranks, forced split-K) per GEMM.
#include <cmath>

#include "kernels/gelu.h"
#include "kernels/matmul.h"
#include "tests/gpu/gpu_test_util.h"

namespace bert::test {

TEST_CASE("matmul forward/backward match the reference", "[gpu][matmul]") {
  std::mt19937 rng(61);
  MatmulContext context;
  struct Shape {
    int rows, in_features, out_features;
  };
  for (const Shape s : {Shape{37, 96, 2}, Shape{17, 96, 288}, Shape{130, 768, 3072},
                        Shape{130, 3072, 768}, Shape{1, 128, 256}}) {
    for (const bool with_bias : {false, true}) {
      CAPTURE(s.rows, s.in_features, s.out_features, with_bias);
      const size_t inp_count = size_t(s.rows) * s.in_features;
      const size_t out_count = size_t(s.rows) * s.out_features;
      const size_t weight_count = size_t(s.out_features) * s.in_features;
      const std::vector<float> inp = random_bf16_values(inp_count, -1, 1, rng);
      const std::vector<float> weight = random_bf16_values(weight_count, -0.1f, 0.1f, rng);
      const std::vector<float> bias = random_bf16_values(s.out_features, -1, 1, rng);
      DeviceBf16 d_inp(inp), d_weight(weight), d_bias(bias), d_out(out_count);
      matmul_forward_cuda(context, d_out.get(), d_inp.get(), d_weight.get(),
                          with_bias ? d_bias.get() : nullptr, s.rows, s.in_features, s.out_features,
                          nullptr);
      std::vector<float> out(out_count);
      matmul_forward_ref(out.data(), inp.data(), weight.data(), with_bias ? bias.data() : nullptr,
                         s.rows, s.in_features, s.out_features);
      require_close("matmul out", d_out.download(), out, 1e-2, 2e-3);

      const std::vector<float> grad = random_bf16_values(out_count, -1, 1, rng);
      const std::vector<float> inp_grad_start = random_bf16_values(inp_count, -1, 1, rng);
      std::vector<float> weight_grad = random_floats(weight_count, -1, 1, rng);
      std::vector<float> bias_grad = random_floats(s.out_features, -1, 1, rng);
      DeviceBf16 d_grad(grad), d_inp_grad(inp_grad_start);
      DeviceBuffer<float> d_weight_grad = to_device(weight_grad),
                          d_bias_grad = to_device(bias_grad);
      DeviceBuffer<unsigned char> scratch(matmul_backward_workspace_bytes(s.rows, s.out_features));
      // d_inp and d_weight: add on the cases with a bias, overwrite (beta = 0) on the others.
      const Accumulate mode = with_bias ? Accumulate::kAdd : Accumulate::kOverwrite;
      matmul_backward_cuda(context, d_inp_grad.get(), d_weight_grad.data(),
                           with_bias ? d_bias_grad.data() : nullptr, d_grad.get(), d_inp.get(),
                           d_weight.get(), s.rows, s.in_features, s.out_features, mode, mode,
                           GpuWorkspace{scratch.data(), scratch.size()}, nullptr);
      std::vector<float> inp_grad = inp_grad_start;
      matmul_backward_ref(inp_grad.data(), weight_grad.data(),
                          with_bias ? bias_grad.data() : nullptr, grad.data(), inp.data(),
                          weight.data(), s.rows, s.in_features, s.out_features, mode, mode);
      require_close("matmul d_inp", d_inp_grad.download(), inp_grad, 1e-2, 2e-3);
      require_close("matmul d_weight", to_host(d_weight_grad), weight_grad, 1e-4, 1e-5);
      require_close("matmul d_bias", to_host(d_bias_grad), bias_grad, 1e-4, 1e-5);
    }
  }
  // Each distinct problem is looked up once; repeating a shape adds no cache entry.
  const size_t cached = context.cached_algorithms();
  REQUIRE(cached > 0);
  DeviceBf16 inp(std::vector<float>(37 * 96, 0.5f)), weight(std::vector<float>(2 * 96, 0.25f)),
      out(37 * 2);
  matmul_forward_cuda(context, out.get(), inp.get(), weight.get(), nullptr, 37, 96, 2, nullptr);
  REQUIRE(context.cached_algorithms() == cached);
  for (const float value : out.download()) REQUIRE(value == 12.0f);  // 96 · 0.5 · 0.25
}

TEST_CASE("matmul with the bias+GELU epilogue is close to matmul + erf-GELU", "[gpu][matmul]") {
  std::mt19937 rng(62);
  MatmulContext context;
  const int rows = 65, in_features = 128, out_features = 512;
  const std::vector<float> inp = random_bf16_values(size_t(rows) * in_features, -1, 1, rng);
  const std::vector<float> weight =
      random_bf16_values(size_t(out_features) * in_features, -0.2f, 0.2f, rng);
  const std::vector<float> bias = random_bf16_values(out_features, -1, 1, rng);
  DeviceBf16 d_inp(inp), d_weight(weight), d_bias(bias);
  DeviceBf16 d_out(size_t(rows) * out_features), d_pre(size_t(rows) * out_features);
  matmul_bias_gelu_forward_cuda(context, d_out.get(), d_pre.get(), d_inp.get(), d_weight.get(),
                                d_bias.get(), rows, in_features, out_features, nullptr);
  std::vector<float> pre(size_t(rows) * out_features), out(pre.size());
  matmul_forward_ref(pre.data(), inp.data(), weight.data(), bias.data(), rows, in_features,
                     out_features);
  const std::vector<float> zero_bias(out_features, 0.0f);
  bias_activation_forward_ref(Activation::kGeluErf, out.data(), pre.data(), zero_bias.data(), rows,
                              out_features);
  require_close("epilogue pre-GELU (bias included)", d_pre.download(), pre, 1e-2, 2e-3);
  // tanh-GELU differs from erf-GELU by up to about 1e-3 absolute.
  require_close("epilogue GELU", d_out.download(), out, 1e-2, 3e-3, 2e-3);
}

TEST_CASE("the weight-gradient GEMM with the bias-gradient epilogue matches the reference", "[gpu][matmul]") {
  std::mt19937 rng(63);
  MatmulContext context;
  struct Shape {
    int rows, in_features, out_features;
  };
  for (const Shape s : {Shape{130, 128, 384}, Shape{37, 768, 2304}, Shape{301, 3072, 768}}) {
    CAPTURE(s.rows, s.in_features, s.out_features);
    const std::vector<float> inp = random_bf16_values(size_t(s.rows) * s.in_features, -1, 1, rng);
    const std::vector<float> grad = random_bf16_values(size_t(s.rows) * s.out_features, -1, 1, rng);
    DeviceBf16 d_inp(inp), d_grad(grad);
    // Stale values in both outputs: the epilogue overwrites them.
    DeviceBuffer<float> d_weight_grad = to_device(random_floats(size_t(s.out_features) * s.in_features, -1, 1, rng));
    DeviceBuffer<float> d_bias_grad = to_device(random_floats(s.out_features, -1, 1, rng));
    if (!matmul_weight_bias_grad_epilogue_cuda(context, d_weight_grad.data(), d_bias_grad.data(), d_grad.get(),
                                               d_inp.get(), s.rows, s.in_features, s.out_features, nullptr)) {
      WARN("cuBLASLt offers no CUBLASLT_EPILOGUE_BGRADB algorithm for this shape on this device");
      continue;
    }
    std::vector<float> weight_grad(size_t(s.out_features) * s.in_features), bias_grad(s.out_features, 0.0f);
    const std::vector<float> unused_weight(weight_grad.size(), 0.0f);
    matmul_backward_ref<float>(nullptr, weight_grad.data(), bias_grad.data(), grad.data(), inp.data(),
                               unused_weight.data(), s.rows, s.in_features, s.out_features,
                               Accumulate::kOverwrite, Accumulate::kOverwrite);
    require_close("epilogue d_weight", to_host(d_weight_grad), weight_grad, 1e-4, 1e-5);
    require_close("epilogue d_bias", to_host(d_bias_grad), bias_grad, 1e-4, 1e-5);
  }
}

TEST_CASE("every algorithm choice computes the same linear layer", "[gpu][matmul]") {
  std::mt19937 rng(64);
  MatmulContext context;
  // bert-base's attention output at a packed batch of 1,000 tokens (its d_weight GEMM has 36
  // output tiles: split-K is what would fill the GPU), and an odd shape.
  struct Shape {
    int rows, in_features, out_features;
  };
  for (const Shape s : {Shape{1000, 768, 768}, Shape{77, 96, 288}}) {
    CAPTURE(s.rows, s.in_features, s.out_features);
    const std::vector<float> inp = random_bf16_values(size_t(s.rows) * s.in_features, -1, 1, rng);
    const std::vector<float> weight = random_bf16_values(size_t(s.out_features) * s.in_features, -0.1f, 0.1f, rng);
    const std::vector<float> grad = random_bf16_values(size_t(s.rows) * s.out_features, -1, 1, rng);
    DeviceBf16 d_inp(inp), d_weight(weight), d_grad(grad);
    std::vector<float> out(size_t(s.rows) * s.out_features), inp_grad(inp.size()), weight_grad(weight.size());
    matmul_forward_ref<float>(out.data(), inp.data(), weight.data(), nullptr, s.rows, s.in_features, s.out_features);
    matmul_backward_ref<float>(inp_grad.data(), weight_grad.data(), nullptr, grad.data(), inp.data(), weight.data(),
                               s.rows, s.in_features, s.out_features, Accumulate::kOverwrite, Accumulate::kOverwrite);
    int timed_splits = 0;
    for (const GemmAlgorithmChoice choice : {GemmAlgorithmChoice{0, 0}, GemmAlgorithmChoice{1, 0},
                                             GemmAlgorithmChoice{3, 0}, GemmAlgorithmChoice{0, 2},
                                             GemmAlgorithmChoice{0, 4}}) {
      CAPTURE(choice.rank, choice.split_k);
      for (const GemmRole role : {GemmRole::kForward, GemmRole::kInputGrad, GemmRole::kWeightGrad})
        context.choose_algorithm(role, choice);
      // NaN-filled outputs: an element the algorithm leaves unwritten fails.
      DeviceBf16 d_out(std::vector<float>(out.size(), NAN)), d_inp_grad(std::vector<float>(inp.size(), NAN));
      DeviceBuffer<float> d_weight_grad = to_device(std::vector<float>(weight.size(), NAN));
      try {
        matmul_forward_cuda(context, d_out.get(), d_inp.get(), d_weight.get(), nullptr, s.rows, s.in_features,
                            s.out_features, nullptr);
        matmul_input_grad_cuda(context, d_inp_grad.get(), d_grad.get(), d_weight.get(), s.rows, s.in_features,
                               s.out_features, Accumulate::kOverwrite, nullptr);
        matmul_weight_grad_cuda(context, d_weight_grad.data(), d_grad.get(), d_inp.get(), s.rows, s.in_features,
                                s.out_features, Accumulate::kOverwrite, nullptr);
      } catch (const GemmAlgorithmUnavailable& unavailable) {
        REQUIRE(choice.rank + choice.split_k > 0);  // the heuristic's first always exists
        WARN(unavailable.what());
        continue;
      }
      require_close("matmul out", d_out.download(), out, 1e-2, 2e-3);
      require_close("matmul d_inp", d_inp_grad.download(), inp_grad, 1e-2, 2e-3);
      require_close("matmul d_weight", to_host(d_weight_grad), weight_grad, 1e-4, 1e-5);
      // The description names the configuration that ran, a forced split-K included.
      const std::string described = context.last_algorithm(GemmRole::kWeightGrad);
      INFO(described);
      REQUIRE(described.find("id ") == 0);
      if (choice.split_k > 0) {
        REQUIRE(described.find("split-K " + std::to_string(choice.split_k) + ",") != std::string::npos);
        ++timed_splits;
      }
    }
    if (timed_splits == 0) WARN("cuBLASLt accepted no forced split-K for this shape on this device");
  }
  // BERT_GEMM_SPLIT_K's policies on the weight gradients: a fixed factor and "auto" (which splits
  // attn-out's 768 x 768 at 4,096 tokens in 2 on 132 SMs), each equal to the reference; a factor
  // cuBLASLt rejects falls back to the heuristic's first, so the result is right either way.
  {
    const int rows = 4096, width = 768;
    const std::vector<float> inp = random_bf16_values(size_t(rows) * width, -1, 1, rng);
    const std::vector<float> grad = random_bf16_values(size_t(rows) * width, -1, 1, rng);
    std::vector<float> weight_grad(size_t(width) * width);
    const std::vector<float> unused_weight(weight_grad.size(), 0.0f);
    matmul_backward_ref<float>(nullptr, weight_grad.data(), nullptr, grad.data(), inp.data(), unused_weight.data(),
                               rows, width, width, Accumulate::kOverwrite, Accumulate::kOverwrite);
    DeviceBf16 d_inp(inp), d_grad(grad);
    for (const SplitKPolicy policy : {SplitKPolicy{SplitKPolicy::Mode::kFixed, 2}, SplitKPolicy{SplitKPolicy::Mode::kFixed, 8},
                                      SplitKPolicy{SplitKPolicy::Mode::kAuto, 0}}) {
      CAPTURE(static_cast<int>(policy.mode), policy.factor);
      MatmulContext policy_context;
      policy_context.set_weight_grad_split_k(policy);
      DeviceBuffer<float> d_weight_grad = to_device(std::vector<float>(weight_grad.size(), NAN));
      matmul_weight_grad_cuda(policy_context, d_weight_grad.data(), d_grad.get(), d_inp.get(), rows, width, width,
                              Accumulate::kOverwrite, nullptr);
      require_close("split-K d_weight", to_host(d_weight_grad), weight_grad, 1e-4, 1e-5);
      const std::string described = policy_context.last_algorithm(GemmRole::kWeightGrad);
      INFO(described);
      if (described.find("split-K 1,") != std::string::npos) WARN("the split was rejected: " + described);
    }
  }
  // A rank far past any heuristic's list is reported, not run.
  context.choose_algorithm(GemmRole::kForward, GemmAlgorithmChoice{31, 0});
  DeviceBf16 inp(std::vector<float>(8 * 16, 0.5f)), weight(std::vector<float>(8 * 16, 0.25f)), out(8 * 8);
  bool unavailable = false;
  try {
    matmul_forward_cuda(context, out.get(), inp.get(), weight.get(), nullptr, 8, 16, 8, nullptr);
  } catch (const GemmAlgorithmUnavailable&) {
    unavailable = true;
  }
  if (!unavailable) WARN("cuBLASLt's heuristic offered 32 algorithms for an 8x8x16 GEMM");
  // Back to the heuristic's first: the default again.
  context.choose_algorithm(GemmRole::kForward, GemmAlgorithmChoice{});
  matmul_forward_cuda(context, out.get(), inp.get(), weight.get(), nullptr, 8, 16, 8, nullptr);
  for (const float value : out.download()) REQUIRE(value == 2.0f);  // 16 · 0.5 · 0.25
}

}  // namespace bert::test
