#include "benchmarks/kernel_bench.cuh"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "benchmarks/device_values.h"
#include "benchmarks/overlap_probe.h"
#include "kernels/attention.h"
#include "kernels/attention_variants.h"
#include "kernels/cuda_check.h"
#include "kernels/embedding.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/qa_loss.h"
#include "tests/tolerance.h"

namespace bert::bench {

LinearInputs random_linear_inputs(const LayerGemm& g, int rows) {
  return LinearInputs{bench::random_buffer<bf16>(size_t(rows) * g.in, -1.0f, 1.0f),
                      bench::random_buffer<bf16>(size_t(g.out) * g.in, -0.05f, 0.05f),
                      bench::random_buffer<bf16>(g.out, -0.1f, 0.1f),
                      bench::random_buffer<bf16>(size_t(rows) * g.out, -0.1f, 0.1f)};
}

namespace {

DropoutSpec dropout_spec(double probability, int layer, DropoutKind kind) {
  DropoutSpec spec;
  spec.probability = static_cast<float>(probability);
  spec.seed = 42;
  spec.micro_step = 1;
  spec.site = dropout_site(layer, kind);
  return spec;
}

// "" when `buffer` is within 2% of `expected`'s largest value everywhere (the variants round P
// and dS to bf16 at different points, the scalar one not at all), else what differs.
std::string variant_differs(const DeviceBuffer<bf16>& buffer, const std::vector<float>& expected,
                            const std::string& what) {
  const test::CloseReport report = test::within(download_floats(buffer), expected, test::Tolerance{0, 2e-2, 0});
  return report.ok ? "" : report.describe(what);
}

}  // namespace

void KernelBench::attention(const Batch& batch, const AttentionHeads& layout) {
  // The grids sized by the batch's longest sequence, as training launches them.
  const int longest = *std::max_element(batch.lengths.begin(), batch.lengths.end());
  AttentionShape shape{batch.tokens, static_cast<int>(batch.lengths.size()), layout.heads,
                       layout.head_dim, kMaxPositions, longest};
  const size_t t = batch.tokens, hidden = size_t(layout.heads) * layout.head_dim;
  auto qkv = random_buffer<bf16>(t * 3 * hidden, -2.0f, 2.0f);
  auto ctx = random_buffer<bf16>(t * hidden, -1.0f, 1.0f);
  auto d_ctx = random_buffer<bf16>(t * hidden, -1.0f, 1.0f);
  auto d_qkv = random_buffer<bf16>(t * 3 * hidden, -1.0f, 1.0f);
  DeviceBuffer<float> lse(t * layout.heads);
  DeviceBuffer<int32_t> cu(batch.cu_seqlens.size());
  cu.upload(batch.cu_seqlens.data(), batch.cu_seqlens.size());
  const GpuWorkspace ws = scratch(attention_backward_workspace_bytes(shape));
  const double flops = 4.0 * batch.sum_squared_lengths * layout.heads * layout.head_dim;
  // The bert-base rows keep their plain name (estimate_step_us looks them up).
  char name[32] = "attention";
  if (layout.heads != kHeads || layout.head_dim != kHeadDim)
    std::snprintf(name, sizeof name, "attention %dx%d", layout.heads, layout.head_dim);
  const std::string note = "4·ΣL²·H·D fwd, 2.5× bwd";
  for (const double p : {0.0, options_.dropout}) {
    const DropoutSpec spec = dropout_spec(p, 0, DropoutKind::kAttentionProbs);
    // The plain rows time the default kernels (what training runs: BERT_ATTENTION_KERNEL);
    // the others each other implementation ("mma_one_pass": the one-pass backward candidate;
    // "mma_lean": the default's kernels built for more resident blocks per SM;
    // "scalar": the fp32-FMA bf16 kernels), for comparison.
    const AttentionImpl chosen = default_attention_impl();
    std::vector<AttentionImpl> impls{chosen};
    for (const AttentionImpl other : kAttentionImpls)
      if (other != chosen) impls.push_back(other);
    std::vector<float> chosen_ctx, chosen_d_qkv;  // what the checked default kernels produced
    for (const AttentionImpl impl : impls) {
      const bool is_default = impl == chosen;
      char op[80];
      std::snprintf(op, sizeof op, "%s%s%s (dropout %.2g)", name, is_default ? "" : " ",
                    is_default ? "" : attention_impl_name(impl), p);
      // The table checks what the backend runs: the default kernels. Each other variant is
      // compared with the default's outputs on this batch before it is timed, so its rows are
      // covered by the same check ("attention").
      if (!is_default) {
        attention_forward_cuda(ctx.data(), lse.data(), qkv.data(), cu.data(), shape, spec, timer_.stream(), impl);
        attention_backward_cuda(d_qkv.data(), d_ctx.data(), qkv.data(), ctx.data(), lse.data(), cu.data(), shape,
                                spec, ws, timer_.stream(), impl);
        const std::string differs = variant_differs(ctx, chosen_ctx, "ctx") + variant_differs(d_qkv, chosen_d_qkv, "d_qkv");
        if (!differs.empty()) {
          for (const char* pass : {"fwd", "bwd"})
            results_.push_back(Result{batch.label, op, pass, 0, 0, flops, "TFLOP/s",
                                      "differs from the default kernels: " + differs, "", true});
          std::fprintf(stderr, "  %-8s %-34s WRONG (%s)\n", batch.label.c_str(), op, differs.c_str());
          continue;
        }
      }
      add(
          "attention", batch.label, op, "fwd",
          [&] {
            attention_forward_cuda(ctx.data(), lse.data(), qkv.data(), cu.data(), shape, spec, timer_.stream(),
                                   impl);
          },
          flops, "TFLOP/s", note);
      require_finite(ctx, "attention ctx");
      add(
          "attention", batch.label, op, "bwd",
          [&] {
            attention_backward_cuda(d_qkv.data(), d_ctx.data(), qkv.data(), ctx.data(), lse.data(), cu.data(),
                                    shape, spec, ws, timer_.stream(), impl);
          },
          2.5 * flops, "TFLOP/s", note);
      require_finite(d_qkv, "attention d_qkv");
      if (is_default) {
        chosen_ctx = download_floats(ctx);
        chosen_d_qkv = download_floats(d_qkv);
      }
    }
    if (p == options_.dropout) break;  // --dropout 0: one variant only
  }
}

void KernelBench::norms_and_activations(const Batch& batch) {
  const int rows = batch.tokens;
  const size_t n = size_t(rows) * kHidden;
  auto inp = random_buffer<bf16>(n, -2.0f, 2.0f), residual = random_buffer<bf16>(n, -2.0f, 2.0f);
  auto out = random_buffer<bf16>(n, -1.0f, 1.0f), sum = random_buffer<bf16>(n, -1.0f, 1.0f);
  auto d_out = random_buffer<bf16>(n, -1.0f, 1.0f), d_inp = random_buffer<bf16>(n, -1.0f, 1.0f);
  auto d_branch = random_buffer<bf16>(n, -1.0f, 1.0f);
  auto gamma = random_buffer<bf16>(kHidden, 0.5f, 1.5f), beta = random_buffer<bf16>(kHidden, -0.5f, 0.5f);
  auto mean = random_buffer<float>(rows, -0.1f, 0.1f), rstd = random_buffer<float>(rows, 0.5f, 2.0f);
  auto d_gamma = random_buffer<float>(kHidden, -1.0f, 1.0f),
       d_beta = random_buffer<float>(kHidden, -1.0f, 1.0f);
  const GpuWorkspace ws = scratch(layernorm_backward_workspace_bytes(rows, kHidden));
  const GpuStream s = timer_.stream();
  const std::string& b = batch.label;
  // The plain LayerNorm kernels run inside the Backend's embeddings op, which checks them.
  add(
      "embeddings", b, "layernorm [T,768]", "fwd",
      [&] {
        layernorm_forward_cuda(out.data(), mean.data(), rstd.data(), inp.data(), gamma.data(), beta.data(),
                               rows, kHidden, 1e-12f, s);
      },
      2.0 * n * 2 + 8.0 * rows, "GB/s", "x in, out (bf16) + stats");
  require_finite(out, "layernorm out");
  add(
      "embeddings", b, "layernorm [T,768]", "bwd",
      [&] {
        layernorm_backward_cuda(d_inp.data(), d_gamma.data(), d_beta.data(), d_out.data(), inp.data(),
                                gamma.data(), mean.data(), rstd.data(), rows, kHidden, Accumulate::kOverwrite,
                                ws, s);
      },
      3.0 * n * 2 + 8.0 * rows, "GB/s", "d_out, x in, d_x out + stats");
  const DropoutSpec spec = dropout_spec(options_.dropout, 0, DropoutKind::kFfnOutput);
  add(
      "residual_layernorm", b, "residual+dropout+layernorm", "fwd",
      [&] {
        residual_dropout_layernorm_forward_cuda(out.data(), sum.data(), mean.data(), rstd.data(), inp.data(),
                                                residual.data(), gamma.data(), beta.data(), rows, kHidden,
                                                1e-12f, spec, s);
      },
      4.0 * n * 2 + 8.0 * rows, "GB/s", "branch, residual in; out, sum out");
  require_finite(out, "residual layernorm out");
  add(
      "residual_layernorm", b, "residual+dropout+layernorm", "bwd",
      [&] {
        residual_dropout_layernorm_backward_cuda(
            d_branch.data(), d_inp.data(), d_gamma.data(), d_beta.data(), d_out.data(), sum.data(),
            gamma.data(), mean.data(), rstd.data(), rows, kHidden, spec, Accumulate::kOverwrite, ws, s);
      },
      4.0 * n * 2 + 8.0 * rows, "GB/s", "d_out, sum in; d_branch, d_residual out");

  const size_t m = size_t(rows) * kIntermediate;
  auto pre = random_buffer<bf16>(m, -3.0f, 3.0f), act = random_buffer<bf16>(m, -1.0f, 1.0f);
  auto d_act = random_buffer<bf16>(m, -1.0f, 1.0f), d_pre = random_buffer<bf16>(m, -1.0f, 1.0f);
  auto bias = random_buffer<bf16>(kIntermediate, -0.5f, 0.5f);
  auto d_bias = random_buffer<float>(kIntermediate, -1.0f, 1.0f);
  const GpuWorkspace gws = scratch(bias_gelu_backward_workspace_bytes(rows, kIntermediate));
  add(
      "bias_gelu", b, "bias+gelu [T,3072]", "fwd",
      [&] {
        bias_activation_forward_cuda(Activation::kGeluErf, act.data(), pre.data(), bias.data(),
                                     rows, kIntermediate, s);
      },
      2.0 * m * 2, "GB/s", "pre in, out (bf16)");
  require_finite(act, "bias_gelu out");
  add(
      "bias_gelu", b, "bias+gelu [T,3072]", "bwd",
      [&] {
        bias_activation_backward_cuda(Activation::kGeluErf, d_pre.data(), d_bias.data(),
                                      d_act.data(), pre.data(), bias.data(), rows, kIntermediate,
                                      gws, s);
      },
      3.0 * m * 2, "GB/s", "d_out, pre in; d_pre out");
}

void KernelBench::embedding_and_loss(const Batch& batch) {
  const int t = batch.tokens;
  std::mt19937 rng(static_cast<uint32_t>(options_.seed));
  std::vector<int32_t> ids(t), types(t);
  for (int i = 0; i < t; ++i) {
    ids[i] = static_cast<int32_t>(rng() % kVocab);
    types[i] = static_cast<int32_t>(rng() % kTypeVocab);
  }
  DeviceBuffer<int32_t> d_ids(t), d_types(t), d_pos(t);
  d_ids.upload(ids.data(), t);
  d_types.upload(types.data(), t);
  d_pos.upload(batch.positions.data(), t);
  auto word = random_buffer<bf16>(size_t{kVocab} * kHidden, -0.1f, 0.1f);
  auto position = random_buffer<bf16>(size_t{kMaxPositions} * kHidden, -0.1f, 0.1f);
  auto type = random_buffer<bf16>(size_t{kTypeVocab} * kHidden, -0.1f, 0.1f);
  auto out = random_buffer<bf16>(size_t(t) * kHidden, -1.0f, 1.0f),
       d_out = random_buffer<bf16>(size_t(t) * kHidden, -1.0f, 1.0f);
  auto d_word = random_buffer<float>(size_t{kVocab} * kHidden, -1.0f, 1.0f);
  auto d_position = random_buffer<float>(size_t{kMaxPositions} * kHidden, -1.0f, 1.0f);
  auto d_type = random_buffer<float>(size_t{kTypeVocab} * kHidden, -1.0f, 1.0f);
  const EmbeddingTableSizes sizes{kVocab, kMaxPositions, kTypeVocab};
  const GpuWorkspace ws = scratch(embedding_backward_workspace_bytes(t, kHidden, sizes));
  const GpuStream s = timer_.stream();
  const double row_bytes = double(t) * kHidden;
  add(
      "embeddings", batch.label, "embedding", "fwd",
      [&] {
        embedding_forward_cuda(out.data(), d_ids.data(), d_types.data(), d_pos.data(), word.data(),
                               position.data(), type.data(), t, kHidden, s);
      },
      4 * row_bytes * 2, "GB/s", "3 gathered rows in, out (bf16)");
  require_finite(out, "embedding out");
  add(
      "embeddings", batch.label, "embedding", "bwd",
      [&] {
        embedding_backward_cuda(d_word.data(), d_position.data(), d_type.data(), d_out.data(), d_ids.data(),
                                d_types.data(), d_pos.data(), t, kHidden, sizes, /*padding_idx=*/0, ws, s);
      },
      row_bytes * 2 + 3 * row_bytes * 8, "GB/s", "d_out in; 3 fp32 rows read+written per token");

  std::vector<int32_t> starts, ends;
  for (const int32_t length : batch.lengths) {
    const int32_t a = static_cast<int32_t>(rng() % length), c = static_cast<int32_t>(rng() % length);
    starts.push_back(std::min(a, c));
    ends.push_back(std::max(a, c));
  }
  const int count = static_cast<int>(batch.lengths.size());
  DeviceBuffer<int32_t> d_starts(count), d_ends(count), cu(count + 1);
  d_starts.upload(starts.data(), count);
  d_ends.upload(ends.data(), count);
  cu.upload(batch.cu_seqlens.data(), count + 1);
  auto logits = random_buffer<bf16>(size_t(t) * 2, -3.0f, 3.0f),
       d_logits = random_buffer<bf16>(size_t(t) * 2, -1.0f, 1.0f);
  DeviceBuffer<float> losses(size_t(count) * 2);
  add(
      "qa_loss", batch.label, "qa_loss (fused fwd+bwd)", "both",
      [&] {
        qa_loss_forward_backward_cuda(d_logits.data(), losses.data(), logits.data(), cu.data(),
                                      d_starts.data(), d_ends.data(), count, 1.0f, s);
      },
      0, "", "");
}

void KernelBench::gemms(const Batch& batch) {
  const int rows = batch.tokens;
  const GpuStream s = timer_.stream();
  for (const LayerGemm& g : kLayerGemms) {
    const LinearInputs inputs = random_linear_inputs(g, rows);
    const DeviceBuffer<bf16>&inp = inputs.inp, &weight = inputs.weight, &bias = inputs.bias, &d_out = inputs.d_out;
    auto out = random_buffer<bf16>(size_t(rows) * g.out, -1.0f, 1.0f);
    auto d_inp = random_buffer<bf16>(size_t(rows) * g.in, -1.0f, 1.0f);
    auto d_weight = random_buffer<float>(size_t(g.out) * g.in, -0.01f, 0.01f);
    auto d_bias = random_buffer<float>(g.out, -0.01f, 0.01f);
    const GpuWorkspace ws = scratch(matmul_backward_workspace_bytes(rows, g.out));
    const double flops = 2.0 * rows * g.in * g.out;
    add(
        "matmul", batch.label, g.name, "fwd",
        [&] {
          matmul_forward_cuda(matmul_, out.data(), inp.data(), weight.data(), g.bias ? bias.data() : nullptr,
                              rows, g.in, g.out, s);
        },
        flops, "TFLOP/s", "2·T·in·out fwd, 2× bwd");
    require_finite(out, std::string(g.name) + " out");
    add(
        "matmul", batch.label, g.name, "bwd",
        [&] {
          matmul_backward_cuda(matmul_, d_inp.data(), d_weight.data(), g.bias ? d_bias.data() : nullptr,
                               d_out.data(), inp.data(), weight.data(), rows, g.in, g.out,
                               Accumulate::kOverwrite, Accumulate::kOverwrite, ws, s);
        },
        2 * flops, "TFLOP/s", "2·T·in·out fwd, 2× bwd");
    require_finite(d_inp, std::string(g.name) + " d_inp");
    if (g.bias) wgrad_bias_candidate(batch.label, g.name, rows, g.in, g.out, inp, d_out, ws);
    if (g.out == kIntermediate) {  // the fused candidate of matmul.h, for comparison only
      auto pre = random_buffer<bf16>(size_t(rows) * g.out, -1.0f, 1.0f);
      add(
          "", batch.label, "gemm ffn1 + GELU epilogue (tanh)", "fwd",
          [&] {
            matmul_bias_gelu_forward_cuda(matmul_, out.data(), pre.data(), inp.data(), weight.data(),
                                          bias.data(), rows, g.in, g.out, s);
          },
          flops, "TFLOP/s", "candidate fusion, not used");
    }
  }
}

void KernelBench::gemm_algorithms(const Batch& batch) {
  const int rows = batch.tokens;
  for (const LayerGemm& g : kLayerGemms) {
    const LinearInputs x = random_linear_inputs(g, rows);
    const bench::LinearOperands operands{x.inp.data(), x.weight.data(), g.bias ? x.bias.data() : nullptr,
                                         x.d_out.data(), rows, g.in, g.out};
    auto survey = bench::survey_gemm_algorithms(matmul_, time_launches(), batch.label, g.name, operands,
                                                options_.gemm_algorithms, timer_.stream());
    gemm_survey_.insert(gemm_survey_.end(), survey.begin(), survey.end());
  }
}

void KernelBench::run_batch(const Batch& batch) {
  embedding_and_loss(batch);
  norms_and_activations(batch);
  for (const AttentionHeads& layout : options_.attention_heads) attention(batch, layout);
  gemms(batch);
}

void KernelBench::run_optimizer() {
  AdamWState adamw;
  const size_t n = AdamWState::kCount;
  DeviceBuffer<double> sum(1);
  const GpuWorkspace ws = scratch(sum_squares_workspace_bytes());
  const GpuStream s = timer_.stream();
  add(
      "", "params", "sum_squares (grad norm) 108.9M", "fwd",
      [&] {
        sum_squares_cuda(sum.data(), adamw.grad.data(), n, ws, s);
        clip_scale_from_sum_squares_cuda(adamw.scale.data(), sum.data(), 1.0, s);
      },
      4.0 * n, "GB/s", "fp32 grad in");
  add(
      "adamw", "params", "adamw 108.9M (+bf16 copy)", "fwd", [&] { adamw.update(s); }, AdamWState::kBytes, "GB/s",
      "p,m,v,g in; p,m,v out (fp32); bf16 p out");
  require_finite(adamw.param_bf16, "adamw bf16 params");
}

// Can AdamW hide behind the next step's forward GEMMs (issue 13's lever; benchmarks/overlap_probe.h)?
// The 12 layers' forward GEMMs at this batch's token count on the main stream, AdamW over all
// parameters on a second one: each alone, then both together. Rows of batch "overlap", outside
// the step estimate.
void KernelBench::run_overlap(const Batch& batch) {
  const int rows = batch.tokens;
  struct Layer {
    LinearInputs inputs;
    DeviceBuffer<bf16> out;
    LayerGemm shape;
  };
  std::vector<Layer> gemms;
  double flops = 0;
  for (const LayerGemm& g : kLayerGemms) {
    gemms.push_back(Layer{random_linear_inputs(g, rows), DeviceBuffer<bf16>(size_t(rows) * g.out), g});
    flops += kLayers * 2.0 * rows * g.in * g.out;
  }
  AdamWState adamw;
  const auto forward_gemms = [&](GpuStream stream) {
    for (int layer = 0; layer < kLayers; ++layer)
      for (Layer& g : gemms)
        matmul_forward_cuda(matmul_, g.out.data(), g.inputs.inp.data(), g.inputs.weight.data(),
                            g.shape.bias ? g.inputs.bias.data() : nullptr, rows, g.shape.in, g.shape.out, stream);
  };
  const bench::OverlapTimes times = bench::time_overlap(time_launches(), timer_.stream(), forward_gemms,
                                                        [&](GpuStream stream) { adamw.update(stream); });
  record("overlap", "forward GEMMs of 12 layers (" + std::to_string(rows) + " tokens)", "both", times.first, flops,
         "TFLOP/s", "alone, main stream");
  record("overlap", "adamw 108.9M (+bf16 copy)", "both", times.second, AdamWState::kBytes, "GB/s",
         "alone, main stream");
  char note[160];
  std::snprintf(note, sizeof note, "AdamW on a second stream; serial sum %.1f µs, the longer alone %.1f µs",
                times.first.first + times.second.first, std::max(times.first.first, times.second.first));
  record("overlap", "both: forward GEMMs ‖ adamw", "both", times.together, 0, "", note);
  record("overlap", "both, GEMMs' stream above adamw's", "both", times.prioritized, 0, "",
         "as BERT_ADAMW_BESIDE_FORWARD runs them: AdamW at the lowest priority");
}

void KernelBench::run_ceilings() {
  const size_t bytes = size_t{1} << 30;
  DeviceBuffer<unsigned char> a(bytes), b(bytes);
  CUDA_CHECK(cudaMemset(a.data(), 1, bytes));
  add(
      "", "ceiling", "device-to-device copy 1 GiB", "fwd",
      [&] {
        CUDA_CHECK(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, timer_.stream()));
      },
      2.0 * bytes, "GB/s", "read + write");
  const int n = 8192;
  auto x = random_buffer<bf16>(size_t(n) * n, -1.0f, 1.0f),
       w = random_buffer<bf16>(size_t(n) * n, -1.0f, 1.0f);
  DeviceBuffer<bf16> y(size_t(n) * n);
  add(
      "", "ceiling", "gemm 8192^3 (bf16, cuBLASLt)", "fwd",
      [&] { matmul_forward_cuda(matmul_, y.data(), x.data(), w.data(), nullptr, n, n, n, timer_.stream()); },
      2.0 * n * n * n, "TFLOP/s", "2·n³");
}

// The weight and bias gradients of one linear layer two ways (pass "wgrad", outside the step
// estimate): matmul_backward_cuda's d_weight GEMM + deterministic column sum, and the candidate
// CUBLASLT_EPILOGUE_BGRADB GEMM (kernels/matmul.h), checked against the first before it is timed.
void KernelBench::wgrad_bias_candidate(const std::string& batch_label, const std::string& name, int rows, int in,
                                 int out, const DeviceBuffer<bf16>& inp, const DeviceBuffer<bf16>& d_out,
                                 GpuWorkspace ws) {
  const GpuStream s = timer_.stream();
  DeviceBuffer<float> weight_a(size_t(out) * in), bias_a(out), weight_b(size_t(out) * in), bias_b(out);
  const double flops = 2.0 * rows * in * out;
  add(
      "matmul", batch_label, name + " (column-sum bias)", "wgrad",
      [&] {
        bias_a.zero(s);  // matmul_backward adds d_bias; the epilogue writes it
        matmul_backward_cuda(matmul_, static_cast<bf16*>(nullptr), weight_a.data(), bias_a.data(), d_out.data(),
                             inp.data(), static_cast<const bf16*>(nullptr), rows, in, out, Accumulate::kOverwrite,
                             Accumulate::kOverwrite, ws, s);
      },
      flops, "TFLOP/s", "d_weight GEMM + d_bias column sum (+ a memset)");
  const std::string candidate = name + " (BGRADB epilogue)";
  if (!matmul_weight_bias_grad_epilogue_cuda(matmul_, weight_b.data(), bias_b.data(), d_out.data(), inp.data(),
                                             rows, in, out, s)) {
    std::fprintf(stderr, "  %-8s %-34s no cuBLASLt algorithm: not timed\n", batch_label.c_str(), candidate.c_str());
    return;
  }
  CUDA_CHECK(cudaStreamSynchronize(s));
  // The candidate against the path in use: same d_weight (same GEMM) and d_bias up to fp32
  // summation order.
  std::vector<float> wa(weight_a.size()), wb(wa.size()), ba(out), bb(out);
  weight_a.download(wa.data(), wa.size());
  weight_b.download(wb.data(), wb.size());
  bias_a.download(ba.data(), ba.size());
  bias_b.download(bb.data(), bb.size());
  // The tests' closeness rule (tests/tolerance.h): within 1e-4 of each tensor's largest value.
  const test::Tolerance tolerance{0, 1e-4, 0};
  const test::CloseReport weight_report = test::within(wb, wa, tolerance), bias_report = test::within(bb, ba, tolerance);
  if (!weight_report.ok || !bias_report.ok) {
    const std::string found = !weight_report.ok ? weight_report.describe("d_weight") : bias_report.describe("d_bias");
    results_.push_back(Result{batch_label, candidate, "wgrad", 0, 0, flops, "TFLOP/s",
                              "differs from the column-sum path: " + found, "", true});
    std::fprintf(stderr, "  %-8s %-34s wgrad WRONG (%s)\n", batch_label.c_str(), candidate.c_str(), found.c_str());
    return;
  }
  add(
      "", batch_label, candidate, "wgrad",
      [&] {
        matmul_weight_bias_grad_epilogue_cuda(matmul_, weight_b.data(), bias_b.data(), d_out.data(), inp.data(),
                                              rows, in, out, s);
      },
      flops, "TFLOP/s", "candidate fusion, not used; checked against the column-sum path");
}

// Σ of the medians of one training step's launches for this batch (12 layers, dropout variant
// of attention, no candidate fusion), plus the optimizer.
double KernelBench::estimate_step_us(const Batch& batch) const {
  // A row that failed its check makes the estimate NaN (printed WRONG).
  auto median = [&](const std::string& batch_label, const std::string& prefix, const std::string& pass) {
    for (const Result& r : results_)
      if (r.batch == batch_label && r.op.rfind(prefix, 0) == 0 && r.pass == pass)
        return r.wrong ? std::nan("") : r.median_us;
    return 0.0;
  };
  char attention[64];
  std::snprintf(attention, sizeof attention, "attention (dropout %.2g)", options_.dropout);
  double layer = 0;
  for (const char* pass : {"fwd", "bwd"}) {
    for (const char* op : {"gemm qkv", "gemm attn-out", "gemm ffn1 768", "gemm ffn2", "bias+gelu"})
      layer += median(batch.label, op, pass);
    layer +=
        median(batch.label, attention, pass) + 2 * median(batch.label, "residual+dropout+layernorm", pass);
  }
  double rest = median(batch.label, "embedding", "fwd") + median(batch.label, "embedding", "bwd") +
                median(batch.label, "layernorm [T,768]", "fwd") +
                median(batch.label, "layernorm [T,768]", "bwd") + median(batch.label, "qa_loss", "both") +
                median("params", "sum_squares", "fwd") + median("params", "adamw", "fwd");
  return kLayers * layer + rest;
}
}  // namespace bert::bench
