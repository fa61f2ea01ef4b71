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
// Exit status: 0, 1 on an error or when a kernel failed its check (after the whole report), 2 on
// a bad command line, 77 when no CUDA device exists.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "apps/flags.h"
#include "benchmarks/bench_checks.h"
#include "benchmarks/bench_kernels_support.cuh"
#include "benchmarks/gemm_survey_report.h"
#include "benchmarks/kernel_bench.cuh"
#include "core/file_io.h"
#include "core/json_text.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_device_probe.h"

namespace bert {
namespace {

using bench::Batch;
using bench::KernelBench;
using bench::make_batch;
using bench::OpChecks;
using bench::Options;
using bench::parse_attention_heads;
using bench::parse_lengths;
using bench::Result;
using bench::squad_like_lengths;
using bench::Timer;

// "384, 200, ...": a batch's window lengths for the JSON (benchmarks/attention_baseline.py
// times PyTorch's fused attention on the same sequences).
std::string join_lengths(const std::vector<int32_t>& lengths) {
  std::string text;
  for (size_t i = 0; i < lengths.size(); ++i) text += (i ? ", " : "") + std::to_string(lengths[i]);
  return text;
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

// The result rows from the first-th on, as one markdown table.
void print_rows(const KernelBench& bench, size_t first) {
  std::printf(
      "\n| batch | op | pass | median µs | min µs | rate | counted | checked by |\n| --- | --- | --- | --- | --- | "
      "--- | --- | --- |\n");
  for (size_t i = first; i < bench.results().size(); ++i) {
    const Result& r = bench.results()[i];
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
}

// The Markdown report on stdout; each batch's estimated step (µs, NaN when a row it sums is WRONG).
std::vector<double> print_report(const Options& o, const cudaDeviceProp& prop, const std::vector<Batch>& batches,
                                 const OpChecks& checks, const KernelBench& bench) {
  std::printf("## bench_kernels on %s (sm_%d%d), %d repeats after %d warm-up, L2 %s, dropout %.2g\n\n",
              prop.name, prop.major, prop.minor, o.repeats, o.warmup, o.flush_l2 ? "flushed" : "warm",
              o.dropout);
  for (const Batch& batch : batches)
    std::printf("- batch `%s`: %zu windows, T = %d tokens (mean %.1f), ΣL² = %.0f\n", batch.label.c_str(),
                batch.lengths.size(), batch.tokens, double(batch.tokens) / batch.lengths.size(),
                batch.sum_squared_lengths);
  std::printf("- checked first: %d op-table cases on the CUDA backend (bf16) against the CPU, %d failed\n",
              checks.cases(), checks.failed_cases());
  print_rows(bench, 0);
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
  return estimates;
}

// What the optional probes added after print_report: their rows, then the GEMM survey.
void print_probe_report(const KernelBench& bench, size_t first_row) {
  if (bench.results().size() > first_row) print_rows(bench, first_row);
  if (!bench.gemm_survey().empty())
    std::printf(
        "\n### cuBLASLt algorithms per GEMM (#0 is the heuristic's first, what training runs; each other "
        "candidate checked against it first)\n\n%s",
        bench::gemm_survey_markdown(bench.gemm_survey()).c_str());
}

// The same rows as JSON (--json), with the GEMM survey's.
void write_json(const Options& o, const cudaDeviceProp& prop, const std::vector<Batch>& batches,
                const std::vector<double>& estimates, const KernelBench& bench) {
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
  KernelBench bench(o, timer, checks);
  for (const Batch& batch : batches) {
    std::fprintf(stderr, "[bench] %s: %zu windows, %d tokens, mean length %.1f\n", batch.label.c_str(),
                 batch.lengths.size(), batch.tokens, double(batch.tokens) / batch.lengths.size());
    bench.run_batch(batch);
  }
  bench.run_optimizer();
  bench.run_ceilings();
  // Reported now, before the long probes: a run cut short by a timeout keeps every kernel's row.
  const std::vector<double> estimates = print_report(o, prop, batches, checks, bench);
  if (!o.json.empty()) write_json(o, prop, batches, estimates, bench);
  std::fflush(stdout);
  const size_t probe_rows = bench.results().size();
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

  print_probe_report(bench, probe_rows);
  if (!o.json.empty()) write_json(o, prop, batches, estimates, bench);  // now with the probes'
  // A wrong kernel fails the run (exit 1) after its report: the device script's summary must not
  // read PASS over WRONG rows or failed checks.
  const size_t wrong_rows = size_t(std::count_if(bench.results().begin(), bench.results().end(),
                                                 [](const Result& r) { return r.wrong; }));
  if (checks.failed_cases() > 0 || wrong_rows > 0) {
    std::fprintf(stderr, "[bench] FAILED: %d of %d op checks, %zu rows WRONG\n",
                 checks.failed_cases(), checks.cases(), wrong_rows);
    return 1;
  }
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

