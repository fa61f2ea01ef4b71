// CudaBackend against the CPU backend (float), in both compute modes (bf16 activations within
// 2e-2, the fp32 switch within 1e-4), for what the op table (tests/gpu/test_op_cases_gpu.cpp,
// every op's forward and backward) does not cover: memory roles, uploads, downloads and copies, a
// whole head_dim-32 BertQaModel step, sum of squares and AdamW's working copy, the step statistics,
// the pinned upload ring, errors and allocation behaviour, programmatic dependent launch.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "engine/bert_qa_model.h"
#include "core/error.h"
#include "engine/cuda/bf16_host.h"
#include "io/param_specs.h"
#include "kernels/kernel_launch.h"
#include "engine/cuda/pinned_host.h"
#include "engine/backend_registry.h"
#include "tests/gpu/backend_twins.h"
#include "tests/gpu/gpu_test_util.h"

namespace bert::test {
namespace {

using Role = BufferRole;
constexpr float kEps = 1e-12f;

std::vector<int32_t> prefix_sums(const std::vector<int>& lengths) {
  std::vector<int32_t> cu{0};
  for (int length : lengths) cu.push_back(cu.back() + length);
  return cu;
}

// Sequences of the given lengths with deterministic ids and labels inside each sequence.
PackedBatch model_batch(const std::vector<int>& lengths, int vocab) {
  PackedBatch batch;
  batch.cu_seqlens = prefix_sums(lengths);
  for (size_t b = 0; b < lengths.size(); ++b) {
    for (int t = 0; t < lengths[b]; ++t) {
      batch.input_ids.push_back((int(b) * 13 + t * 5 + 3) % vocab);
      batch.token_type_ids.push_back(t > lengths[b] / 2 ? 1 : 0);
      batch.position_ids.push_back(t);
    }
    batch.start_positions.push_back((3 + int(b)) % lengths[b]);
    batch.end_positions.push_back((5 + 2 * int(b)) % lengths[b]);
  }
  return batch;
}

double relative_l2(const std::vector<double>& got, const std::vector<double>& ref, double floor_norm = 0) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff += (got[i] - ref[i]) * (got[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), std::max(floor_norm, 1e-300));
}

// A 2-layer BERT of the given width and heads over a 60-token vocabulary, 96 positions.
BertConfig two_layer_config(int hidden_size, int heads) {
  BertConfig config;
  config.vocab_size = 60;
  config.hidden_size = hidden_size;
  config.num_hidden_layers = 2;
  config.num_attention_heads = heads;
  config.intermediate_size = 128;
  config.max_position_embeddings = 96;
  return config;
}

// What one training forward + backward of BertQaModel leaves.
struct ModelPass {
  double loss = 0;
  std::vector<double> logits, last_hidden;
  std::map<std::string, std::vector<double>> gradients;
};

ModelPass model_pass(Backend& backend, const BertConfig& config, const PackedBatch& batch,
                     const std::map<std::string, std::vector<float>>& params, const PassContext& context) {
  BertQaModel model(backend, config, batch.tokens(), batch.batch());
  model.set_parameters(params);
  model.load_batch(batch);
  // The Trainer's step over stale gradients: begin_gradient_step zeroes all but the linear
  // weights' gradients, which the backward overwrites (cuBLASLt beta = 0 on the GPU).
  const std::vector<double> stale(model.layout().total(), -3.5);
  backend.upload(model.gradients_flat(), stale.data(), stale.size());
  model.begin_gradient_step();
  ModelPass pass;
  pass.loss = model.forward(context, true);
  pass.logits = model.logits();
  pass.last_hidden = model.hidden_state(config.num_hidden_layers);
  model.backward(context);
  model.end_gradient_step();
  pass.gradients = model.gradients();
  return pass;
}

}  // namespace

TEST_CASE("cuda backend: roles, uploads, downloads, copies", "[gpu][backend]") {
  for (const bool fp32 : {false, true}) {
    CAPTURE(fp32);
    Twins twins(fp32);
    CudaBackend& gpu = twins.gpu();
    const ScalarType act = fp32 ? ScalarType::kF32 : ScalarType::kBF16;
    REQUIRE(gpu.dtype_for(Role::kActivation) == act);
    REQUIRE(gpu.dtype_for(Role::kWorkingParam) == act);
    for (Role role : {Role::kMasterParam, Role::kGradient, Role::kOptimizerState, Role::kStatistic})
      REQUIRE(gpu.dtype_for(role) == ScalarType::kF32);
    REQUIRE(gpu.dtype_for(Role::kIndex) == ScalarType::kI32);
    REQUIRE(gpu.has_working_params() == !fp32);
    REQUIRE(gpu.name() == (fp32 ? "cuda-fp32" : "cuda"));

    // Uploads round to nearest even on the way to bf16; downloads are exact.
    const std::vector<float> values{1.0f, 1.00390625f, 1.01171875f, -3.5e-3f, 65504.0f, 0.0f, -1e-30f};
    for (Role role : {Role::kActivation, Role::kMasterParam}) {
      Tensor tensor = gpu.allocate(values.size(), role);
      for (double value : gpu.download(tensor)) REQUIRE(value == 0.0);  // zero-filled
      gpu.upload(tensor, values.data(), values.size());
      const std::vector<float> expected = twins.representable(role, values);
      const std::vector<double> got = gpu.download(tensor);
      for (size_t i = 0; i < values.size(); ++i) REQUIRE(got[i] == expected[i]);
      const std::vector<double> doubles(values.begin(), values.end());
      gpu.fill_zero(tensor);
      gpu.upload(slice(tensor, 2, 3), doubles.data() + 2, 3);
      const std::vector<double> part = gpu.download(tensor);
      REQUIRE(part[1] == 0.0);
      REQUIRE(part[2] == expected[2]);
      REQUIRE(part[5] == 0.0);
    }
    // copy converts fp32 master weights into the working dtype.
    Tensor master = gpu.allocate(values.size(), Role::kMasterParam);
    Tensor working = gpu.allocate(values.size(), Role::kWorkingParam);
    gpu.upload(master, values.data(), values.size());
    gpu.copy(working, master);
    const std::vector<double> copied = gpu.download(working);
    const std::vector<float> rounded = twins.representable(Role::kWorkingParam, values);
    for (size_t i = 0; i < values.size(); ++i) REQUIRE(copied[i] == rounded[i]);
    Tensor back = gpu.allocate(values.size(), Role::kGradient);
    gpu.copy(back, working);
    REQUIRE(gpu.download(back) == copied);
    // download_f32 (checkpoints' readback): an fp32 tensor as it is, a bf16 one converted.
    for (const Tensor& tensor : {master, working}) {
      std::vector<float> floats(tensor.numel, -7.0f);
      gpu.download_f32(tensor, floats.data());
      const std::vector<double> exact = gpu.download(tensor);
      REQUIRE(std::vector<double>(floats.begin(), floats.end()) == exact);
    }

    const std::vector<int32_t> indices{3, -1, 7, 2147483647};
    Tensor index = gpu.allocate(indices.size(), Role::kIndex);
    gpu.upload(index, indices.data(), indices.size());
    REQUIRE(gpu.download(index) == std::vector<double>{3, -1, 7, 2147483647});

    REQUIRE_THROWS_AS(gpu.upload(index, values.data(), 1), BertError);     // floats into indices
    REQUIRE_THROWS_AS(gpu.upload(master, indices.data(), 1), BertError);   // indices into floats
    REQUIRE_THROWS_AS(gpu.upload(master, values.data(), 99), BertError);   // too many
    REQUIRE_THROWS_AS(gpu.copy(index, slice(master, 0, 4)), BertError);    // i32 <- f32
    REQUIRE_THROWS_AS(gpu.copy(master, slice(working, 0, 3)), BertError);  // counts differ
    gpu.synchronize();
  }
}

// The whole model through both backends with head_dim 32 (all-MiniLM-L6-v2's head size: 384 / 12)
// and 26 (TinyBERT's 312 / 12: the scalar attention kernels' generic instantiation, heads at
// 52-byte offsets), dropout on: every op of BertQaModel, the attention head slicing and the qkv
// layout included.
// Relative errors (L2; a tensor's floor is 1e-2 of the global gradient norm, for tensors whose
// true gradient is zero, e.g. the key bias): fp32 within 1e-4 everywhere (the Twins' rtol; the
// CPU emulation measured ≤ 2.5e-6); bf16 loss, logits, last hidden state and the whole gradient
// vector within 2e-2 (test_golden_parity_gpu's bound; measured ≤ 5.8e-3), each tensor within
// 5e-2 (measured ≤ 9.6e-3; room for cuBLASLt's summation order). A wrong head mapping is off by
// order 1.
TEST_CASE("cuda backend: models of head_dim 32 and 26 match the CPU backend end to end", "[gpu][backend]") {
  const int head_dim = GENERATE(32, 26);
  const int heads = head_dim == 32 ? 2 : 4;  // hidden 64 and 104
  CAPTURE(head_dim, heads);
  BertConfig config = two_layer_config(heads * head_dim, heads);
  config.hidden_dropout_prob = 0.1f;
  config.attention_probs_dropout_prob = 0.1f;
  const PackedBatch batch = model_batch({5, 37, 70}, config.vocab_size);  // 70: two query/key tiles
  const auto params = init_bert_qa_params(config, 5);
  PassContext context;
  context.training = true;
  context.seed = 77;
  context.micro_step = 3;
  auto cpu_backend = make_cpu_backend(false);
  const ModelPass ref = model_pass(*cpu_backend, config, batch, params, context);
  REQUIRE(std::isfinite(ref.loss));

  for (const bool fp32 : {false, true}) {
    CAPTURE(fp32);
    auto gpu_backend = make_cuda_backend(CudaBackendOptions{fp32});
    const ModelPass got = model_pass(*gpu_backend, config, batch, params, context);
    const double rtol = fp32 ? 1e-4 : 2e-2;
    INFO("loss " << got.loss << " vs " << ref.loss);
    REQUIRE(std::fabs(got.loss - ref.loss) <= rtol * std::fabs(ref.loss));
    const double logits_error = relative_l2(got.logits, ref.logits);
    const double hidden_error = relative_l2(got.last_hidden, ref.last_hidden);
    INFO("relative L2 error: logits " << logits_error << ", last hidden state " << hidden_error);
    REQUIRE(logits_error <= rtol);
    REQUIRE(hidden_error <= rtol);

    std::vector<double> all_got, all_ref;
    for (const auto& [name, values] : ref.gradients) {
      all_ref.insert(all_ref.end(), values.begin(), values.end());
      all_got.insert(all_got.end(), got.gradients.at(name).begin(), got.gradients.at(name).end());
    }
    double global_norm = 0;
    for (double g : all_ref) global_norm += g * g;
    global_norm = std::sqrt(global_norm);
    for (const auto& [name, values] : ref.gradients) {
      const double error = relative_l2(got.gradients.at(name), values, 1e-2 * global_norm);
      INFO("grad " << name << ": relative L2 error " << error);
      REQUIRE(error <= (fp32 ? rtol : 5e-2));
    }
    const double all_error = relative_l2(all_got, all_ref);
    INFO("all gradients: relative L2 error " << all_error);
    REQUIRE(all_error <= rtol);
  }
}

// Programmatic dependent launch (kernels/kernel_launch.cuh) moves only when the next kernel
// starts; each kernel still waits for the previous one before touching memory, so a training
// pass computes the same bits with it as without. A kernel that touched memory before its
// grid_dependency_sync() would race with the kernel before it and show here as a difference
// (on a GPU of compute capability 9.0 or later; below, and in the CPU emulation, the attribute
// changes nothing). head_dim 64 (the tensor-core attention), dropout on, sequences of one to
// three 64-token tiles; three passes with it, each against the pass without.
TEST_CASE("cuda backend: programmatic dependent launch computes the same bits", "[gpu][backend]") {
  BertConfig config = two_layer_config(128, 2);
  config.intermediate_size = 512;
  config.max_position_embeddings = 192;
  config.hidden_dropout_prob = 0.1f;
  config.attention_probs_dropout_prob = 0.1f;
  const PackedBatch batch = model_batch({160, 97, 64, 33, 130}, config.vocab_size);
  const auto params = init_bert_qa_params(config, 11);
  PassContext context;
  context.training = true;
  context.seed = 5;
  context.micro_step = 1;
  const bool was_enabled = programmatic_launch_enabled();
  auto backend = make_cuda_backend();
  set_programmatic_launch(false);
  const ModelPass plain = model_pass(*backend, config, batch, params, context);
  REQUIRE(std::isfinite(plain.loss));
  for (int run = 0; run < 3; ++run) {
    CAPTURE(run);
    set_programmatic_launch(true);
    const ModelPass programmatic = model_pass(*backend, config, batch, params, context);
    set_programmatic_launch(was_enabled);
    REQUIRE(programmatic.loss == plain.loss);
    REQUIRE(programmatic.logits == plain.logits);
    REQUIRE(programmatic.last_hidden == plain.last_hidden);
    for (const auto& [name, values] : plain.gradients) {
      INFO("grad " << name);
      REQUIRE(programmatic.gradients.at(name) == values);
    }
  }
}

// What the kernels cannot run is refused when the model is built, naming config.json's field
// (apps check the same before loading anything: check_backend_runs_model).
TEST_CASE("cuda backend: a model with heads wider than 64 is refused, naming the field", "[gpu][backend]") {
  BertConfig config = two_layer_config(256, 2);
  auto backend = make_cuda_backend();
  REQUIRE_THROWS_AS(BertQaModel(*backend, config, 16, 2), InputError);
  REQUIRE_THROWS_WITH(BertQaModel(*backend, config, 16, 2),
                      Catch::Contains("config.json: num_attention_heads") && Catch::Contains("head_dim 1 to 64"));
  config.num_attention_heads = 4;  // head_dim 64 is built
  BertQaModel model(*backend, config, 16, 2);
  CHECK(model.layout().total() > 0);
}

TEST_CASE("cuda backend: sum of squares and AdamW", "[gpu][backend]") {
  for (const bool fp32 : {false, true}) {
    CAPTURE(fp32);
    Twins twins(fp32, 31);
    const size_t count = 10007;
    const Twin grad = twins.random(Role::kGradient, count, -1, 1);
    const double cpu_sum = twins.cpu().sum_squares(grad.cpu), gpu_sum = twins.gpu().sum_squares(grad.gpu);
    REQUIRE(std::fabs(gpu_sum - cpu_sum) <= 1e-9 * cpu_sum);

    const Twin master = twins.random(Role::kMasterParam, count, -1, 1);
    const Twin exp_avg = twins.random(Role::kOptimizerState, count, -0.1f, 0.1f);
    const Twin exp_avg_sq = twins.random(Role::kOptimizerState, count, 0, 0.01f);
    const Tensor working =
        twins.gpu().has_working_params() ? twins.gpu().allocate(count, Role::kWorkingParam) : master.gpu;
    const std::vector<double> exp_avg_before = twins.cpu_values(exp_avg);
    AdamWHyper hyper;
    hyper.learning_rate = 1e-3;
    hyper.weight_decay = 0.01;
    hyper.step = 3;
    for (int repeat = 0; repeat < 2; ++repeat) {
      twins.cpu().adamw_update(master.cpu, master.cpu, exp_avg.cpu, exp_avg_sq.cpu, grad.cpu, hyper, 0.7);
      twins.gpu().adamw_update(master.gpu, working, exp_avg.gpu, exp_avg_sq.gpu, grad.gpu, hyper, 0.7);
      ++hyper.step;
    }
    const Tolerance optimizer{1e-6, 0, 1e-9};
    twins.require_close("adamw master", master, optimizer);
    // exp_avg's rounding error scales with the terms of β1·m + (1−β1)·g, which cancel, not with
    // the result (exp_avg_atol): 4 fp32 roundings per step.
    std::vector<double> scaled_grad = twins.cpu_values(grad);
    for (double& value : scaled_grad) value *= 0.7;
    REQUIRE_CLOSE(std::string("adamw exp_avg") + (fp32 ? " (fp32)" : " (bf16)"),
                  compare_close_each(twins.gpu_values(exp_avg), twins.cpu_values(exp_avg),
                                     exp_avg_atol(exp_avg_before, scaled_grad, hyper.beta1, 2, 4.0),
                                     optimizer.rtol));
    twins.require_close("adamw exp_avg_sq", exp_avg_sq, optimizer);
    if (twins.gpu().has_working_params()) {
      const std::vector<double> master_values = twins.gpu_values(master),
                                working_values = twins.gpu().download(working);
      for (size_t i = 0; i < count; ++i)
        REQUIRE(working_values[i] ==
                float_from_bf16_bits(bf16_bits_from_float(static_cast<float>(master_values[i]))));
    }
  }
}

TEST_CASE("cuda backend: sum of squares over misaligned slices is exact enough and reproducible",
          "[gpu][backend]") {
  Twins twins(false, 41);
  const size_t count = 3000017;  // several float4 sweeps of the fixed grid, odd tail
  const Twin grad = twins.random(Role::kGradient, count + 3, -2, 2);
  for (const size_t offset : {size_t{0}, size_t{1}, size_t{2}, size_t{3}}) {
    for (const size_t length : {size_t{0}, size_t{3}, size_t{1001}, count}) {
      CAPTURE(offset, length);
      const Twin part{slice(grad.cpu, offset, length), slice(grad.gpu, offset, length)};
      const double cpu_sum = twins.cpu().sum_squares(part.cpu), gpu_sum = twins.gpu().sum_squares(part.gpu);
      REQUIRE(std::fabs(gpu_sum - cpu_sum) <= 1e-12 * cpu_sum);
      const double again = twins.gpu().sum_squares(part.gpu);
      REQUIRE(std::memcmp(&gpu_sum, &again, sizeof(double)) == 0);
    }
  }
}

namespace {

// One optimizer step on the step statistics: begin, two micro-batch losses, norm and clip, AdamW
// on two parameter groups, end.
void stats_step(Backend& backend, const Tensor& stats, const Tensor& losses, const Tensor& master,
                const Tensor& working, const Tensor& exp_avg, const Tensor& exp_avg_sq, const Tensor& grad,
                double max_norm) {
  backend.step_stats_begin(stats);
  backend.accumulate_loss(stats, losses, 3, 0.25);
  backend.accumulate_loss(stats, slice(losses, 3, 5), 5, 0.25);
  backend.grad_norm_and_clip(stats, grad, max_norm);
  AdamWHyper hyper;
  hyper.learning_rate = 1e-3;
  hyper.step = 77;  // ignored: the statistics count the steps
  const size_t split = master.numel / 3;
  for (const bool decayed : {true, false}) {
    const size_t begin = decayed ? 0 : split, count = decayed ? split : master.numel - split;
    hyper.weight_decay = decayed ? 0.01 : 0.0;
    const Tensor work = working.data == master.data ? slice(master, begin, count) : slice(working, begin, count);
    backend.adamw_update(slice(master, begin, count), work, slice(exp_avg, begin, count),
                         slice(exp_avg_sq, begin, count), slice(grad, begin, count), hyper, stats);
  }
  backend.step_stats_end(stats);
}

}  // namespace

TEST_CASE("cuda backend: step statistics and the stats-driven AdamW match the CPU backend",
          "[gpu][backend][step_stats]") {
  for (const bool fp32 : {false, true}) {
    CAPTURE(fp32);
    Twins twins(fp32, 43);
    CudaBackend& gpu = twins.gpu();
    Backend& cpu = twins.cpu();
    REQUIRE(gpu.dtype_for(Role::kStepStats) == ScalarType::kF64);
    const size_t count = 10007;
    const Twin master = twins.random(Role::kMasterParam, count, -1, 1);
    const Twin exp_avg = twins.random(Role::kOptimizerState, count, -0.1f, 0.1f);
    const Twin exp_avg_sq = twins.random(Role::kOptimizerState, count, 0, 0.01f);
    const Twin grad = twins.zeros(Role::kGradient, count);
    const Twin losses = twins.zeros(Role::kStatistic, 8);
    const Twin stats = twins.zeros(Role::kStepStats, kStepStatsCount);
    const Tensor working = gpu.has_working_params() ? gpu.allocate(count, Role::kWorkingParam) : master.gpu;
    // A second GPU copy updated through the host-scale overload with the GPU's own statistics: the
    // stats-driven kernel must reproduce it bit for bit.
    const Tensor master2 = gpu.allocate(count, Role::kMasterParam), m2 = gpu.allocate(count, Role::kOptimizerState),
                 v2 = gpu.allocate(count, Role::kOptimizerState);
    gpu.copy(master2, master.gpu);
    gpu.copy(m2, exp_avg.gpu);
    gpu.copy(v2, exp_avg_sq.gpu);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> gradient(-1, 1), loss(0, 6);
    int64_t updates = 0;
    // Step 1 has a NaN loss, step 3 an infinite gradient: skipped, nothing moves.
    for (int step = 0; step < 5; ++step) {
      CAPTURE(step);
      std::vector<float> g(count), l(8);
      for (float& value : g) value = gradient(rng);
      for (float& value : l) value = loss(rng);
      if (step == 1) l[6] = std::nanf("");
      if (step == 3) g[count / 2] = INFINITY;
      const bool finite = step != 1 && step != 3;
      cpu.upload(grad.cpu, g.data(), count);
      gpu.upload(grad.gpu, g.data(), count);
      cpu.upload(losses.cpu, l.data(), l.size());
      gpu.upload(losses.gpu, l.data(), l.size());
      const std::vector<double> before_master = twins.gpu_values(master), before_m = twins.gpu_values(exp_avg),
                                before_v = twins.gpu_values(exp_avg_sq);
      const double max_norm = step == 4 ? 0.0 : 1.0;  // clipping off on the last step
      stats_step(cpu, stats.cpu, losses.cpu, master.cpu, master.cpu, exp_avg.cpu, exp_avg_sq.cpu, grad.cpu,
                 max_norm);
      stats_step(gpu, stats.gpu, losses.gpu, master.gpu, working, exp_avg.gpu, exp_avg_sq.gpu, grad.gpu,
                 max_norm);
      gpu.stage_download(stats.gpu);
      REQUIRE_THROWS_AS(gpu.stage_download(stats.gpu), BertError);  // one at a time
      const std::vector<double> got = gpu.collect_download(), want = twins.cpu_values(stats);
      REQUIRE(got.size() == kStepStatsCount);
      updates += finite;
      REQUIRE(got[kStepApplied] == (finite ? 1.0 : 0.0));
      REQUIRE(want[kStepApplied] == got[kStepApplied]);
      REQUIRE(got[kStepUpdatesDone] == static_cast<double>(updates));
      REQUIRE(want[kStepUpdatesDone] == static_cast<double>(updates));
      if (step != 1) REQUIRE(std::fabs(got[kStepLossSum] - want[kStepLossSum]) <= 1e-14 * want[kStepLossSum]);
      if (finite) {
        REQUIRE(std::fabs(got[kStepGradSumSquares] - want[kStepGradSumSquares]) <= 1e-12 * want[kStepGradSumSquares]);
        REQUIRE(std::fabs(got[kStepClipScale] - want[kStepClipScale]) <= 1e-12 * want[kStepClipScale]);
        REQUIRE(got[kStepClipScale] == (max_norm > 0 ? std::min(1.0, 1.0 / (std::sqrt(got[1]) + 1e-6)) : 1.0));
        if (max_norm > 0) REQUIRE(got[kStepClipScale] < 1.0);  // these gradients are clipped
        AdamWHyper hyper;
        hyper.learning_rate = 1e-3;
        hyper.step = updates;
        const size_t split = count / 3;
        for (const bool decayed : {true, false}) {
          const size_t begin = decayed ? 0 : split, part = decayed ? split : count - split;
          hyper.weight_decay = decayed ? 0.01 : 0.0;
          gpu.adamw_update(slice(master2, begin, part), slice(master2, begin, part), slice(m2, begin, part),
                           slice(v2, begin, part), slice(grad.gpu, begin, part), hyper, got[kStepClipScale]);
        }
        REQUIRE(gpu.download(master2) == twins.gpu_values(master));
        REQUIRE(gpu.download(m2) == twins.gpu_values(exp_avg));
        REQUIRE(gpu.download(v2) == twins.gpu_values(exp_avg_sq));
      } else {
        REQUIRE(twins.gpu_values(master) == before_master);
        REQUIRE(twins.gpu_values(exp_avg) == before_m);
        REQUIRE(twins.gpu_values(exp_avg_sq) == before_v);
      }
      // Against the CPU backend: weights move by ~lr per step, so compare with lr-sized slack.
      twins.require_close("stats adamw master", master, Tolerance{1e-6, 0, 1e-8});
      twins.require_close("stats adamw exp_avg_sq", exp_avg_sq, Tolerance{1e-5, 0, 1e-12});
      if (gpu.has_working_params()) {
        const std::vector<double> master_values = twins.gpu_values(master), working_values = gpu.download(working);
        for (size_t i = 0; i < count; ++i)
          REQUIRE(working_values[i] == float_from_bf16_bits(bf16_bits_from_float(static_cast<float>(master_values[i]))));
      }
    }
    REQUIRE(updates == 3);
    // Uploading restores the update count (resume); begin keeps it.
    const std::vector<double> restored{9, 9, 9, 9, 12, 0, 0, 0};
    gpu.upload(stats.gpu, restored.data(), restored.size());
    gpu.step_stats_begin(stats.gpu);
    const std::vector<double> reset = gpu.download(stats.gpu);
    REQUIRE(reset == std::vector<double>{0, 0, 0, 0, 12, 0, 0, 0});
    REQUIRE_THROWS_AS(gpu.collect_download(), BertError);
    REQUIRE_THROWS_AS(gpu.stage_download(grad.gpu), BertError);       // not f64
    REQUIRE_THROWS_AS(gpu.step_stats_begin(losses.gpu), BertError);   // not a stats tensor
    gpu.synchronize();
  }
}

TEST_CASE("cuda backend: uploads go through the pinned ring, large ones in chunks", "[gpu][backend]") {
  for (const bool fp32 : {false, true}) {
    CAPTURE(fp32);
    Twins twins(fp32, 47);
    CudaBackend& gpu = twins.gpu();
    // Larger than a staging slot: several chunks, every element in its place.
    const size_t large = PinnedStagingRing::kMaxSlotBytes / sizeof(float) * 2 + 12345;
    std::vector<float> values(large);
    for (size_t i = 0; i < large; ++i) values[i] = static_cast<float>(i % 1000) * 0.125f - 60.0f;
    for (Role role : {Role::kActivation, Role::kMasterParam}) {
      const Tensor tensor = gpu.allocate(large, role);
      gpu.upload(tensor, values.data(), large);
      const std::vector<float> expected = twins.representable(role, values);
      REQUIRE(gpu.download(tensor) == std::vector<double>(expected.begin(), expected.end()));
    }
    std::vector<int32_t> indices(large);
    std::iota(indices.begin(), indices.end(), -7);
    const Tensor index = gpu.allocate(large, Role::kIndex);
    gpu.upload(index, indices.data(), large);
    REQUIRE(gpu.download(index) == std::vector<double>(indices.begin(), indices.end()));

    // Steady state: batches of varying size reuse the slots; nothing is allocated any more.
    const Tensor batch = gpu.allocate(50000, Role::kIndex);
    const Tensor sink = gpu.allocate(50000, Role::kActivation);
    auto upload_batch = [&](size_t tokens, int32_t value) {
      std::vector<int32_t> ids(tokens, value);
      std::vector<float> floats(tokens, static_cast<float>(value));
      gpu.upload(batch, ids.data(), tokens);
      gpu.upload(sink, floats.data(), tokens);
    };
    for (int step = 0; step < 2 * int(PinnedStagingRing::kSlots); ++step) upload_batch(40000, step);
    const CudaBackendStats warm = gpu.stats();
    for (int step = 0; step < 3 * int(PinnedStagingRing::kSlots); ++step) upload_batch(1000 + 1500 * step, step);
    upload_batch(50000, 99);
    REQUIRE(gpu.stats().pinned_allocations == warm.pinned_allocations);
    REQUIRE(gpu.stats().device_allocations == warm.device_allocations);
    REQUIRE(gpu.download(batch) == std::vector<double>(50000, 99.0));
    REQUIRE(gpu.download(sink) == std::vector<double>(50000, 99.0));
  }
}

TEST_CASE("cuda backend: running out of device memory names the request and the flags", "[gpu][backend]") {
  Twins twins(false, 53);
  CudaBackend& gpu = twins.gpu();
  const size_t absurd = size_t{1} << 46;  // 256 TiB of fp32 gradients
  try {
    gpu.allocate(absurd, Role::kGradient);
    FAIL("allocating 256 TiB succeeded");
  } catch (const BertError& error) {
    const std::string message = error.what();
    INFO(message);
    REQUIRE(message.rfind("CUDA out of memory allocating 262144.00 GiB for gradients (free ", 0) == 0);
    REQUIRE(message.find(" GiB on ") != std::string::npos);
    REQUIRE(message.find("try a smaller --per_device_train_batch_size (or --max_seq_length)") != std::string::npos);
  }
  // The failure left no error behind: the backend still allocates, copies and computes.
  const Twin grad = twins.random(Role::kGradient, 1000, -1, 1);
  REQUIRE(std::fabs(twins.gpu().sum_squares(grad.gpu) - twins.cpu().sum_squares(grad.cpu)) <=
          1e-12 * twins.cpu().sum_squares(grad.cpu));
  gpu.synchronize();
}

TEST_CASE("cuda backend: tensors of the wrong dtype or size are refused", "[gpu][backend]") {
  for (const bool fp32 : {false, true}) {
    CAPTURE(fp32);
    Twins twins(fp32);
    CudaBackend& gpu = twins.gpu();
    const int rows = 8, in = 16, out = 8;
    const Tensor inp = gpu.allocate(rows * in, Role::kActivation);
    const Tensor weight = gpu.allocate(out * in, Role::kWorkingParam);
    const Tensor result = gpu.allocate(rows * out, Role::kActivation);
    const Tensor grad = gpu.allocate(out * in, Role::kGradient);
    const Tensor index = gpu.allocate(rows * in, Role::kIndex);
    REQUIRE_NOTHROW(gpu.matmul_forward(result, inp, weight, Tensor{}, rows, in, out));
    REQUIRE_THROWS_AS(gpu.matmul_forward(result, index, weight, Tensor{}, rows, in, out), BertError);
    REQUIRE_THROWS_AS(gpu.matmul_forward(result, slice(inp, 0, 10), weight, Tensor{}, rows, in, out),
                      BertError);
    REQUIRE_THROWS_AS(gpu.matmul_backward(Tensor{}, index, Tensor{}, result, inp, weight, rows, in, out,
                                          Accumulate::kOverwrite, Accumulate::kOverwrite),
                      BertError);  // d_weight must be an fp32 gradient
    if (!fp32) REQUIRE_THROWS_AS(gpu.matmul_forward(result, inp, grad, Tensor{}, rows, in, out), BertError);
    const Tensor stats = gpu.allocate(rows, Role::kStatistic);
    REQUIRE_NOTHROW(gpu.residual_layernorm_forward(result, result, stats, stats, result, result, weight,
                                                   weight, rows, out, kEps, DropoutSpec{}));
    REQUIRE_THROWS_AS(gpu.residual_layernorm_forward(result, result, index, stats, result, result, weight,
                                                     weight, rows, out, kEps, DropoutSpec{}),
                      BertError);  // mean must be an fp32 statistic
    REQUIRE_THROWS_AS(gpu.sum_squares(index), BertError);
    REQUIRE_THROWS_AS(
        gpu.attention_forward(result, stats, inp, index, AttentionShape{2, 1, 1, 64, 8}, DropoutSpec{}),
        BertError);  // qkv holds too few values for 2 tokens of 3·64
    gpu.synchronize();
  }
}

TEST_CASE("cuda backend: repeated ops allocate nothing after the first call", "[gpu][backend]") {
  Twins twins(false, 37);
  CudaBackend& gpu = twins.gpu();
  const int rows = 130, width = 768;
  const Tensor d_out = gpu.allocate(size_t(rows) * width, Role::kActivation);
  const Tensor sum = gpu.allocate(size_t(rows) * width, Role::kActivation);
  const Tensor d_branch = gpu.allocate(size_t(rows) * width, Role::kActivation);
  const Tensor d_residual = gpu.allocate(size_t(rows) * width, Role::kActivation);
  const Tensor gamma = gpu.allocate(width, Role::kWorkingParam);
  const Tensor d_gamma = gpu.allocate(width, Role::kGradient), d_beta = gpu.allocate(width, Role::kGradient);
  const Tensor mean = gpu.allocate(rows, Role::kStatistic), rstd = gpu.allocate(rows, Role::kStatistic);
  auto backward = [&](int used_rows) {
    gpu.residual_layernorm_backward(
        slice(d_branch, 0, size_t(used_rows) * width), slice(d_residual, 0, size_t(used_rows) * width),
        d_gamma, d_beta, slice(d_out, 0, size_t(used_rows) * width), slice(sum, 0, size_t(used_rows) * width),
        slice(mean, 0, used_rows), slice(rstd, 0, used_rows), gamma, used_rows, width, DropoutSpec{},
        Accumulate::kOverwrite);
  };
  backward(3);  // a small first batch sizes scratch for the buffers' full capacity
  const size_t allocations = gpu.stats().device_allocations;
  backward(rows);
  backward(64);
  gpu.synchronize();
  REQUIRE(gpu.stats().device_allocations == allocations);
  REQUIRE(gpu.stats().scratch_bytes > 0);
}

TEST_CASE("make_backend finds the linked CUDA backend", "[gpu][backend]") {
  REQUIRE(make_backend("cuda")->name() == "cuda");
  REQUIRE(make_backend("auto")->name() == "cuda");
  REQUIRE(make_backend("cpu")->name() == "cpu");
  setenv("BERT_CUDA_COMPUTE", "fp32", 1);
  REQUIRE(make_backend("cuda")->name() == "cuda-fp32");
  setenv("BERT_CUDA_COMPUTE", "fp16", 1);
  REQUIRE_THROWS_AS(make_backend("cuda"), InputError);
  REQUIRE(make_backend("cpu")->name() == "cpu");  // the variable only matters to CUDA
  unsetenv("BERT_CUDA_COMPUTE");
  REQUIRE(make_backend("cuda", CudaBackendOptions{true})->name() == "cuda-fp32");
}

}  // namespace bert::test
