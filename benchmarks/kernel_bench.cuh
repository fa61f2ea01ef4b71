// bench_kernels' benchmarks (benchmarks/bench_kernels.cu says what is timed and how): the
// bert-base shapes, the rows each measurement leaves, and KernelBench, which checks (through the
// op table, benchmarks/bench_checks.h) and times every launcher of kernels/ on a packed batch.
#pragma once

#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "benchmarks/bench_checks.h"
#include "benchmarks/bench_kernels_support.cuh"
#include "benchmarks/gemm_algorithm_survey.h"
#include "benchmarks/gemm_survey_report.h"
#include "kernels/adamw.h"
#include "kernels/device_buffer.h"
#include "kernels/gpu_types.h"
#include "kernels/matmul.h"

namespace bert::bench {

inline constexpr int kHidden = 768, kHeads = 12, kHeadDim = 64, kIntermediate = 3072, kLayers = 12;
inline constexpr int kVocab = 30522, kTypeVocab = 2;
inline constexpr size_t kBertBaseQaParams = 108893186;  // bert-base + qa_outputs, without the pooler

// One encoder layer's linear layers; FFN1's bias goes into bias+gelu, the others use the epilogue.
struct LayerGemm {
  const char* name;
  int in, out;
  bool bias;
};
inline constexpr LayerGemm kLayerGemms[] = {{"gemm qkv 768->2304", kHidden, 3 * kHidden, true},
                                     {"gemm attn-out 768->768", kHidden, kHidden, true},
                                     {"gemm ffn1 768->3072", kHidden, kIntermediate, false},
                                     {"gemm ffn2 3072->768", kIntermediate, kHidden, true}};

// One linear layer's random inputs at `rows` tokens (gemms, the survey, the overlap probe).
struct LinearInputs {
  DeviceBuffer<bf16> inp, weight, bias, d_out;
};
LinearInputs random_linear_inputs(const LayerGemm& g, int rows);

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

class KernelBench {
 public:
  KernelBench(const Options& options, Timer& timer, const OpChecks& checks)
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

}  // namespace bert::bench
