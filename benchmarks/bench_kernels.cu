// bench_kernels: times every CUDA launcher of kernels/ at bert-base shapes (hidden 768, 12 heads
// of 64, intermediate 3072, vocab 30522) on packed batches, forward and backward, and prints a
// Markdown table; --json writes the same rows as JSON. Attention is also timed at the head
// layouts of --attention_heads (default 12x64, bert-base, and 12x32, all-MiniLM-L6-v2's; rows of
// layouts other than 12x64 are labelled "attention HxD").
//   bench_kernels [--batch 32] [--shapes squad,uniform] [--repeats 50] [--warmup 10]
//                 [--lengths 384,200,...] [--dropout 0.1] [--flush_l2 true] [--json out.json]
//                 [--attention_heads 12x64,12x32] [--gemm_algorithms 8] [--overlap true]
// Batches: "squad" draws window lengths like the SQuAD v1.1 dev windows at 384/128 (mean 176,
// median 164, p90 264, about 1-2% full: lognormal(ln 164, 0.376) clamped to [32, 384], seeded);
// "uniform" is every window 384 long (the shape of DEVICE.md's anchors); --lengths gives one.
// Timing: each launcher runs --warmup times, then --repeats times between two CUDA events with
// the stream synchronised after each; the median and the minimum are reported. Before every
// timed run a 256 MiB memset evicts the 50 MB L2, so activations come from HBM as in training
// (--flush_l2 false measures warm caches instead). Inputs are random, never zeros.
// Rates: attention counts 4·ΣL²·heads·head_dim FLOPs forward and 2.5× that backward (fwd+bwd =
// 3.5×, as DEVICE.md's anchors); GEMMs 2·rows·in·out forward and twice that backward (d_inp +
// d_weight); memory-bound ops the fewest bytes they must move (each input read once, each output
// written once, in its storage type), stated per row in the table. The "estimated step" sums the
// medians of one training step's launches (12 layers + embeddings + loss + optimizer): a floor
// for the CUDA backend's step, since it excludes launch gaps, host work and copies.
// Checked first: every case of the op table (tests/ops/op_cases.h) runs on the CUDA backend
// against the CPU backend (benchmarks/bench_checks.h); a row whose op failed is not timed and
// reads WRONG, and so does an estimated step that would include it. Rows of kernels no table op
// runs (the candidate fusion, sum_squares, the ceilings) say "unchecked"; the other attention
// variants (kernels/attention_variants.h) and the BGRADB candidate are first compared with the
// kernels in use on the same inputs, and read WRONG if they differ.
// GEMM algorithms (benchmarks/gemm_algorithm_survey.h, a table of its own, outside the step
// estimate): each layer GEMM's fwd, d_inp and d_weight with the first --gemm_algorithms
// candidates of cuBLASLt's heuristic and with split-K 2/4/8 forced, each checked against the
// heuristic's first (what training runs) before it is timed; 0 skips the survey.
// Overlap (benchmarks/overlap_probe.h, rows of batch "overlap", --overlap false skips it): the
// 12 layers' forward GEMMs and AdamW over all parameters, each alone and then AdamW on a second
// stream beside the GEMMs: whether the update could hide behind the next step's forward.
// Exit status: 0, 1 on an error, 2 on a bad command line, 77 when no CUDA device exists.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "apps/flags.h"
#include "benchmarks/bench_checks.h"
#include "benchmarks/bench_kernels_support.cuh"
#include "benchmarks/device_values.h"
#include "benchmarks/gemm_algorithm_survey.h"
#include "benchmarks/overlap_probe.h"
#include "core/file_io.h"
#include "core/json_text.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/attention_variants.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_device_probe.h"
#include "kernels/device_buffer.h"
#include "kernels/embedding.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/qa_loss.h"
#include "tests/tolerance.h"

namespace bert {
namespace {

using bench::AttentionHeads;
using bench::download_floats;
using bench::Batch;
using bench::kMaxPositions;
using bench::make_batch;
using bench::OpChecks;
using bench::parse_attention_heads;
using bench::parse_lengths;
using bench::random_buffer;
using bench::require_finite;
using bench::squad_like_lengths;
using bench::Timer;

constexpr int kHidden = 768, kHeads = 12, kHeadDim = 64, kIntermediate = 3072, kLayers = 12;
constexpr int kVocab = 30522, kTypeVocab = 2;
constexpr size_t kBertBaseQaParams = 108893186;  // bert-base + qa_outputs, without the pooler

// One encoder layer's linear layers; FFN1's bias goes into bias+gelu, the others use the epilogue.
struct LayerGemm {
  const char* name;
  int in, out;
  bool bias;
};
constexpr LayerGemm kLayerGemms[] = {{"gemm qkv 768->2304", kHidden, 3 * kHidden, true},
                                     {"gemm attn-out 768->768", kHidden, kHidden, true},
                                     {"gemm ffn1 768->3072", kHidden, kIntermediate, false},
                                     {"gemm ffn2 3072->768", kIntermediate, kHidden, true}};

// One linear layer's random inputs at `rows` tokens (gemms, the survey, the overlap probe).
struct LinearInputs {
  DeviceBuffer<bf16> inp, weight, bias, d_out;
};
LinearInputs random_linear_inputs(const LayerGemm& g, int rows) {
  return LinearInputs{bench::random_buffer<bf16>(size_t(rows) * g.in, -1.0f, 1.0f),
                      bench::random_buffer<bf16>(size_t(g.out) * g.in, -0.05f, 0.05f),
                      bench::random_buffer<bf16>(g.out, -0.1f, 0.1f),
                      bench::random_buffer<bf16>(size_t(rows) * g.out, -0.1f, 0.1f)};
}

// AdamW over all of bert-base's parameters (run_optimizer, the overlap probe): random moments
// and gradient, the clipping factor 1 until sum_squares' row writes one.
struct AdamWState {
  static constexpr size_t kCount = kBertBaseQaParams;
  static constexpr double kBytes = 30.0 * kCount;  // p, m, v, g in; p, m, v out (fp32); bf16 p out
  DeviceBuffer<float> param = bench::random_buffer<float>(kCount, -0.1f, 0.1f),
                      m = bench::random_buffer<float>(kCount, -0.01f, 0.01f),
                      v = bench::random_buffer<float>(kCount, 0.0f, 1e-4f),
                      grad = bench::random_buffer<float>(kCount, -0.01f, 0.01f);
  DeviceBuffer<bf16> param_bf16{kCount};
  DeviceBuffer<float> scale{1};
  AdamWHyper hyper;
  AdamWState() {
    const float one = 1.0f;
    scale.upload(&one, 1);
    hyper.learning_rate = 3e-5;
    hyper.weight_decay = 0.01;
    hyper.step = 10;
  }
  void update(GpuStream stream) {
    adamw_update_cuda(param.data(), m.data(), v.data(), param_bf16.data(), grad.data(), kCount, hyper, 1.0f,
                      scale.data(), stream);
  }
};

struct Options {
  int32_t batch = 32, repeats = 50, warmup = 10, gemm_algorithms = 8;
  std::string shapes = "squad,uniform", lengths, json;
  std::vector<AttentionHeads> attention_heads = {{12, 64}, {12, 32}};
  double dropout = 0.1;
  bool flush_l2 = true, overlap = true;
  int64_t seed = 1234;
};

struct Result {
  std::string batch, op, pass;
  double median_us = 0, min_us = 0;
  double work = 0;   // FLOPs or bytes
  std::string unit;  // "TFLOP/s", "GB/s" or "" (time only)
  std::string note;  // how the work was counted
  std::string checked_by;  // the op table's op whose check covers this kernel, or ""
  bool wrong = false;      // that check failed: not timed
  double rate() const {
    return unit.empty() ? 0 : work / (median_us * 1e-6) / (unit == "TFLOP/s" ? 1e12 : 1e9);
  }
};

// "384, 200, ...": a batch's window lengths for the JSON (benchmarks/attention_baseline.py
// times PyTorch's fused attention on the same sequences).
std::string join_lengths(const std::vector<int32_t>& lengths) {
  std::string text;
  for (size_t i = 0; i < lengths.size(); ++i) text += (i ? ", " : "") + std::to_string(lengths[i]);
  return text;
}

// ---- the benchmarks -------------------------------------------------------------------------
class Bench {
 public:
  Bench(const Options& options, Timer& timer, const OpChecks& checks)
      : options_(options), timer_(timer), checks_(checks) {}
  const std::vector<Result>& results() const { return results_; }
  const std::vector<bench::GemmSurveyRow>& gemm_survey() const { return gemm_survey_; }

  void run_batch(const Batch& batch);
  // The survey of cuBLASLt's algorithms (last: a failure there loses none of the other rows).
  void run_gemm_algorithms(const Batch& batch) {
    try {
      gemm_algorithms(batch);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "  %-8s GEMM algorithm survey stopped: %s\n", batch.label.c_str(), e.what());
      gemm_survey_.push_back(bench::GemmSurveyRow{batch.label, "survey stopped", "", "", "", e.what()});
    }
  }
  void run_optimizer();
  void run_overlap(const Batch& batch);
  void run_ceilings();
  double estimate_step_us(const Batch& batch) const;

 private:
  // Times launch() unless the check of `table_op` (the op table's op that runs this kernel;
  // "" for none) failed.
  Result& add(const std::string& table_op, const std::string& batch, const std::string& op,
              const std::string& pass, const std::function<void()>& launch, double work,
              const std::string& unit, const std::string& note) {
    const bool checked = !table_op.empty();
    if (checked && !checks_.passed(table_op)) {
      results_.push_back(Result{batch, op, pass, 0, 0, work, unit, note, table_op, true});
      std::fprintf(stderr, "  %-8s %-34s %-4s WRONG (%s failed its check)\n", batch.c_str(), op.c_str(),
                   pass.c_str(), table_op.c_str());
      return results_.back();
    }
    return record(batch, op, pass, timer_.time(launch), work, unit, note, checked ? table_op : "");
  }
  // A timed row; `times` (median, minimum µs) may come from elsewhere (the overlap probe).
  Result& record(const std::string& batch, const std::string& op, const std::string& pass,
                 std::pair<double, double> times, double work, const std::string& unit, const std::string& note,
                 const std::string& checked_by = "") {
    results_.push_back(Result{batch, op, pass, times.first, times.second, work, unit, note, checked_by});
    std::fprintf(stderr, "  %-8s %-34s %-4s %9.1f us\n", batch.c_str(), op.c_str(), pass.c_str(), times.first);
    return results_.back();
  }
  // timer_.time as the survey and the overlap probe take it.
  bench::TimeLaunches time_launches() {
    return [this](const std::function<void()>& launch) { return timer_.time(launch); };
  }
  void attention(const Batch& batch, const AttentionHeads& layout);
  void norms_and_activations(const Batch& batch);
  void embedding_and_loss(const Batch& batch);
  void gemms(const Batch& batch);
  void gemm_algorithms(const Batch& batch);
  void wgrad_bias_candidate(const std::string& batch_label, const std::string& name, int rows, int in,
                            int out, const DeviceBuffer<bf16>& inp, const DeviceBuffer<bf16>& d_out,
                            GpuWorkspace ws);
  GpuWorkspace scratch(size_t bytes) {
    if (scratch_.bytes() < bytes) scratch_.resize(bytes);
    return GpuWorkspace{scratch_.data(), bytes};
  }

  const Options& options_;
  Timer& timer_;
  const OpChecks& checks_;
  MatmulContext matmul_;
  DeviceBuffer<unsigned char> scratch_;
  std::vector<Result> results_;
  std::vector<bench::GemmSurveyRow> gemm_survey_;
};

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

void Bench::attention(const Batch& batch, const AttentionHeads& layout) {
  AttentionShape shape{batch.tokens, static_cast<int>(batch.lengths.size()), layout.heads, layout.head_dim,
                       kMaxPositions};
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

void Bench::norms_and_activations(const Batch& batch) {
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
      [&] { bias_gelu_forward_cuda(act.data(), pre.data(), bias.data(), rows, kIntermediate, s); },
      2.0 * m * 2, "GB/s", "pre in, out (bf16)");
  require_finite(act, "bias_gelu out");
  add(
      "bias_gelu", b, "bias+gelu [T,3072]", "bwd",
      [&] {
        bias_gelu_backward_cuda(d_pre.data(), d_bias.data(), d_act.data(), pre.data(), bias.data(), rows,
                                kIntermediate, gws, s);
      },
      3.0 * m * 2, "GB/s", "d_out, pre in; d_pre out");
}

void Bench::embedding_and_loss(const Batch& batch) {
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

void Bench::gemms(const Batch& batch) {
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

void Bench::gemm_algorithms(const Batch& batch) {
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

void Bench::run_batch(const Batch& batch) {
  embedding_and_loss(batch);
  norms_and_activations(batch);
  for (const AttentionHeads& layout : options_.attention_heads) attention(batch, layout);
  gemms(batch);
}

void Bench::run_optimizer() {
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
void Bench::run_overlap(const Batch& batch) {
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
}

void Bench::run_ceilings() {
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
void Bench::wgrad_bias_candidate(const std::string& batch_label, const std::string& name, int rows, int in,
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
double Bench::estimate_step_us(const Batch& batch) const {
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

// The flags into o; false when --help was asked for (printed).
bool parse_options(int argc, char** argv, Options& o) {
  FlagParser parser("bench_kernels",
                    "Times every CUDA kernel launcher at bert-base shapes on packed batches.");
  parser.add_int("batch", &o.batch, "windows per packed batch");
  parser.add_string("shapes", &o.shapes, "comma-separated: squad (SQuAD-like lengths), uniform (all 384)");
  parser.add_string("lengths", &o.lengths,
                    "comma-separated window lengths: one custom batch (replaces --shapes)");
  parser.add_int("repeats", &o.repeats, "timed runs per launcher (the median is reported)");
  parser.add_int("warmup", &o.warmup, "untimed runs first");
  parser.add_double("dropout", &o.dropout, "dropout probability for attention and the residual LayerNorm");
  parser.add_bool("flush_l2", &o.flush_l2, "evict L2 before every timed run (HBM-resident inputs)");
  parser.add_bool("overlap", &o.overlap,
                  "time AdamW on a second stream beside 12 layers' forward GEMMs (the first non-uniform batch)");
  parser.add_int64("seed", &o.seed, "seed of the SQuAD-like lengths and the ids");
  parser.add_string("json", &o.json, "also write the results to this JSON file");
  parser.add_int("gemm_algorithms", &o.gemm_algorithms,
                 "cuBLASLt heuristic candidates timed per layer GEMM in the algorithm survey (0: no survey)");
  std::string attention_heads = "12x64,12x32";
  parser.add_string("attention_heads", &attention_heads,
                    "comma-separated HEADSxHEAD_DIM layouts timed by the attention rows (12x64: bert-base, "
                    "12x32: all-MiniLM-L6-v2)");
  if (!parser.parse(argc, argv)) return false;
  if (o.batch < 1 || o.repeats < 1 || o.warmup < 0) throw FlagError("--batch and --repeats must be positive");
  if (o.gemm_algorithms < 0 || o.gemm_algorithms > 32)
    throw FlagError("--gemm_algorithms must lie in [0, 32], got " + std::to_string(o.gemm_algorithms));
  if (o.dropout < 0 || o.dropout >= 1) throw FlagError("--dropout must lie in [0, 1)");
  o.attention_heads = parse_attention_heads(attention_heads);
  return true;
}

// --lengths' batch, or --shapes' squad-like and uniform ones.
std::vector<Batch> make_batches(const Options& o) {
  std::vector<Batch> batches;
  if (!o.lengths.empty()) {
    batches.push_back(make_batch("custom", parse_lengths(o.lengths)));
  } else {
    std::stringstream stream(o.shapes);
    std::string shape;
    while (std::getline(stream, shape, ',')) {
      if (shape == "squad")
        batches.push_back(make_batch("squad", squad_like_lengths(o.batch, uint64_t(o.seed))));
      else if (shape == "uniform")
        batches.push_back(make_batch("uniform", std::vector<int32_t>(o.batch, 384)));
      else
        throw FlagError("--shapes: expected squad and/or uniform, got '" + shape + "'");
    }
  }
  return batches;
}

// The Markdown report on stdout; each batch's estimated step (µs, NaN when a row it sums is WRONG).
std::vector<double> print_report(const Options& o, const cudaDeviceProp& prop, const std::vector<Batch>& batches,
                                 const OpChecks& checks, const Bench& bench) {
  std::printf("## bench_kernels on %s (sm_%d%d), %d repeats after %d warm-up, L2 %s, dropout %.2g\n\n",
              prop.name, prop.major, prop.minor, o.repeats, o.warmup, o.flush_l2 ? "flushed" : "warm",
              o.dropout);
  for (const Batch& batch : batches)
    std::printf("- batch `%s`: %zu windows, T = %d tokens (mean %.1f), ΣL² = %.0f\n", batch.label.c_str(),
                batch.lengths.size(), batch.tokens, double(batch.tokens) / batch.lengths.size(),
                batch.sum_squared_lengths);
  std::printf("- checked first: %d op-table cases on the CUDA backend (bf16) against the CPU, %d failed\n",
              checks.cases(), checks.failed_cases());
  std::printf(
      "\n| batch | op | pass | median µs | min µs | rate | counted | checked by |\n| --- | --- | --- | --- | --- | "
      "--- | --- | --- |\n");
  for (const Result& r : bench.results()) {
    const std::string checked_by = r.checked_by.empty() ? "unchecked" : r.checked_by;
    if (r.wrong) {
      std::printf("| %s | %s | %s | WRONG | WRONG | WRONG | %s | %s |\n", r.batch.c_str(), r.op.c_str(),
                  r.pass.c_str(), r.note.c_str(), checked_by.c_str());
      continue;
    }
    char rate[48] = "";
    if (!r.unit.empty()) std::snprintf(rate, sizeof rate, "%.1f %s", r.rate(), r.unit.c_str());
    std::printf("| %s | %s | %s | %.1f | %.1f | %s | %s | %s |\n", r.batch.c_str(), r.op.c_str(), r.pass.c_str(),
                r.median_us, r.min_us, rate, r.note.c_str(), checked_by.c_str());
  }
  std::printf(
      "\n| batch | estimated step (Σ kernel medians) | windows/s at that step |\n| --- | --- | --- |\n");
  std::vector<double> estimates;
  for (const Batch& batch : batches) {
    const double us = bench.estimate_step_us(batch);
    estimates.push_back(us);
    if (std::isnan(us)) {
      std::printf("| %s | WRONG | WRONG |\n", batch.label.c_str());
      continue;
    }
    std::printf("| %s | %.2f ms | %.0f |\n", batch.label.c_str(), us / 1e3,
                batch.lengths.size() / (us * 1e-6));
  }
  if (!bench.gemm_survey().empty())
    std::printf(
        "\n### cuBLASLt algorithms per GEMM (#0 is the heuristic's first, what training runs; each other "
        "candidate checked against it first)\n\n%s",
        bench::gemm_survey_markdown(bench.gemm_survey()).c_str());
  return estimates;
}

// The same rows as JSON (--json), with the GEMM survey's.
void write_json(const Options& o, const cudaDeviceProp& prop, const std::vector<Batch>& batches,
                const std::vector<double>& estimates, const Bench& bench) {
  std::string text = "{\"device\": " + json_quote(prop.name) +
                     ", \"repeats\": " + std::to_string(o.repeats) +
                     ", \"flush_l2\": " + (o.flush_l2 ? "true" : "false") + ", \"batches\": [";
  for (size_t i = 0; i < batches.size(); ++i)
    text += (i ? ", " : "") + std::string("{\"label\": \"") + batches[i].label +
            "\", \"windows\": " + std::to_string(batches[i].lengths.size()) +
            ", \"tokens\": " + std::to_string(batches[i].tokens) +
            ", \"estimated_step_us\": " + format_json_number(estimates[i]) + ", \"lengths\": [" +
            join_lengths(batches[i].lengths) + "]}";
  text += "], \"results\": [\n";
  for (size_t i = 0; i < bench.results().size(); ++i) {
    const Result& r = bench.results()[i];
    text += std::string(i ? ",\n" : "") + "  {\"batch\": \"" + r.batch + "\", \"op\": " +
            json_quote(r.op) + ", \"pass\": \"" + r.pass +
            "\", \"median_us\": " + format_json_number(r.wrong ? std::nan("") : r.median_us) +
            ", \"min_us\": " + format_json_number(r.wrong ? std::nan("") : r.min_us) +
            ", \"rate\": " + format_json_number(r.wrong ? std::nan("") : r.rate()) + ", \"unit\": \"" + r.unit +
            "\", \"checked_by\": \"" + r.checked_by + "\", \"wrong\": " + (r.wrong ? "true" : "false") + "}";
  }
  text += "\n], \"gemm_algorithms\": " + bench::gemm_survey_json(bench.gemm_survey()) + "}\n";
  write_file_atomic(o.json, text);
}

int run(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) return 0;
  const std::vector<Batch> batches = make_batches(o);
  if (report_missing_cuda_device()) return kSkipExitCode;
  cudaDeviceProp prop{};
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));

  // bf16: the launchers timed below are the bf16 ones.
  const OpChecks checks = OpChecks::run(/*fp32=*/false);
  std::fprintf(stderr, "[check] %d op-table cases on the CUDA backend (bf16) against the CPU: %d failed\n",
               checks.cases(), checks.failed_cases());
  Timer timer(o.warmup, o.repeats, o.flush_l2);
  Bench bench(o, timer, checks);
  for (const Batch& batch : batches) {
    std::fprintf(stderr, "[bench] %s: %zu windows, %d tokens, mean length %.1f\n", batch.label.c_str(),
                 batch.lengths.size(), batch.tokens, double(batch.tokens) / batch.lengths.size());
    bench.run_batch(batch);
  }
  bench.run_optimizer();
  bench.run_ceilings();
  if (o.overlap)
    for (const Batch& batch : batches)
      if (batch.label != "uniform") {  // the training-like batch (or --lengths's)
        try {
          bench.run_overlap(batch);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "  overlap probe stopped: %s\n", e.what());
        }
        break;
      }
  if (o.gemm_algorithms > 0)
    for (const Batch& batch : batches) bench.run_gemm_algorithms(batch);

  const std::vector<double> estimates = print_report(o, prop, batches, checks, bench);
  if (!o.json.empty()) write_json(o, prop, batches, estimates, bench);
  return 0;
}

}  // namespace
}  // namespace bert

int main(int argc, char** argv) {
  try {
    return bert::run(argc, argv);
  } catch (const bert::FlagError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
