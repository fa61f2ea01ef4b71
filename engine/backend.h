// The ops interface the model's forward/backward/optimizer sequence is written against
// (engine/bert_qa_model.cpp). The CPU backend (engine/cpu_backend.*) implements it with the
// references in kernels/*_ref.cpp in float or double; the CUDA backend with kernels/*.cu in
// bf16 with fp32 master weights. Tensors are flat, typed device (or host) buffers owned by
// the backend; shapes are given per call and documented at each method.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/activation.h"
#include "core/tensor.h"
#include "kernels/accumulate.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/dropout_rng.h"
#include "kernels/kernel_limits.h"

namespace bert {

// Roles decide a buffer's element type: activations in the compute type, master weights,
// gradients and Adam moments in fp32 (or double), indices in int32. kStatistic is for what must
// stay fp32 even when activations are bf16: LayerNorm mean/rstd, the attention log-sum-exp and
// the per-sequence losses (the compute type on the CPU). kStepStats is the per-step statistics
// tensor (StepStat below), kF64 on every backend.
enum class BufferRole {
  kActivation,
  kMasterParam,
  kWorkingParam,
  kGradient,
  kOptimizerState,
  kIndex,
  kStatistic,
  kStepStats
};

// Per-step statistics kept in backend memory so a training step never waits for the device:
// one kF64 tensor of kStepStatsCount elements, allocated with BufferRole::kStepStats (kF64 on
// every backend). The host reads them when it wants to (stage_download/collect_download).
enum StepStat : size_t {
  kStepLossSum = 0,         // Σ weight·loss over the step's micro-batches (accumulate_loss)
  kStepGradSumSquares = 1,  // Σ grad² (grad_norm_and_clip)
  kStepClipScale = 2,       // the clipping factor applied to the gradients
  kStepApplied = 3,         // 1 when loss and gradient norm are finite (the update runs), else 0
  kStepUpdatesDone = 4,     // updates applied so far (the AdamW bias-correction step − 1)
  kStepStatsCount = 8
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual ScalarType dtype_for(BufferRole role) const = 0;
  // True when the compute copy of the parameters is a separate buffer from the master copy
  // (bf16 working weights on the GPU); false when they are the same memory (CPU).
  virtual bool has_working_params() const = 0;
  // Empty when this backend's kernels run a BERT of these sizes; otherwise the config.json field
  // to blame and why (the CUDA kernels' bounds, kernels/kernel_limits.h). The CPU runs any size.
  virtual std::optional<ModelSizeProblem> model_size_problem(int hidden_size, int num_attention_heads) const {
    (void)hidden_size;
    (void)num_attention_heads;
    return std::nullopt;
  }

  // ---- memory: allocated once up front, zero-filled, freed with the backend ----
  virtual Tensor allocate(size_t numel, BufferRole role) = 0;
  virtual void fill_zero(Tensor tensor) = 0;
  // Floating-point uploads convert to dst's dtype; a kStepStats tensor takes them too (e.g. to
  // restore kStepUpdatesDone on resume). Uploads never wait for the device to drain.
  virtual void upload(Tensor dst, const float* src, size_t count) = 0;       // converts
  virtual void upload(Tensor dst, const double* src, size_t count) = 0;      // converts
  virtual void upload(Tensor dst, const int32_t* src, size_t count) = 0;     // kIndex
  virtual std::vector<double> download(const Tensor& src) = 0;               // converts (synchronises)
  // A tensor's values as floats into out[0, src.numel) (synchronises): the bulk readback of
  // checkpoints, an fp32 tensor copied as it is, without download()'s double staging.
  virtual void download_f32(const Tensor& src, float* out) {
    const std::vector<double> values = download(src);
    for (size_t i = 0; i < values.size(); ++i) out[i] = static_cast<float>(values[i]);
  }
  virtual void copy(Tensor dst, const Tensor& src) = 0;  // same count, converts dtype
  virtual void synchronize() = 0;
  // The backend's native queue for libraries that must order work with it (NCCL): the CUDA
  // backend's cudaStream_t; null for the CPU backends.
  virtual void* native_stream() { return nullptr; }
  // Brackets a stretch of work for a profiler started with collection off (Nsight Compute's and
  // Nsight Systems' --profile-from-start off): true before it, false after (which also waits for
  // the work to finish). The CUDA backend calls cudaProfilerStart/Stop; the CPU backends have no
  // such profiler and ignore it.
  virtual void profile_range(bool begin) { (void)begin; }

  // ---- ops (see kernels/<op>.h for formulas and what is saved) ----
  // out = dropout(LayerNorm(word[ids] + position[pos] + type[types])); saves sum, mean, rstd.
  virtual void embeddings_forward(Tensor out, Tensor sum, Tensor mean, Tensor rstd,  // [T,H] [T,H] [T] [T]
                                  const Tensor& input_ids, const Tensor& token_type_ids,
                                  const Tensor& position_ids,                         // [T] each
                                  const Tensor& word, const Tensor& position, const Tensor& token_type,
                                  const Tensor& gamma, const Tensor& beta, int tokens, int hidden,
                                  double eps, const DropoutSpec& dropout) = 0;
  // Accumulates into every parameter gradient; d_word's row padding_idx (-1: none) gets none.
  virtual void embeddings_backward(Tensor d_word, Tensor d_position, Tensor d_token_type,
                                   Tensor d_gamma, Tensor d_beta, const Tensor& d_out,  // d_out [T,H]
                                   const Tensor& sum, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& gamma, const Tensor& input_ids,
                                   const Tensor& token_type_ids, const Tensor& position_ids,
                                   int tokens, int hidden, int padding_idx,
                                   const DropoutSpec& dropout) = 0;

  // out = inp·weightᵀ + bias.
  virtual void matmul_forward(Tensor out, const Tensor& inp, const Tensor& weight, const Tensor& bias,
                              int rows, int in_features, int out_features) = 0;
  // d_inp (skipped when empty) and d_weight overwrite or add per their modes; d_bias accumulates.
  virtual void matmul_backward(Tensor d_inp, Tensor d_weight, Tensor d_bias, const Tensor& d_out,
                               const Tensor& inp, const Tensor& weight, int rows, int in_features,
                               int out_features, Accumulate d_inp_mode, Accumulate d_weight_mode) = 0;

  // The feed-forward activation (config.json's hidden_act) with its bias (kernels/gelu.h).
  virtual void bias_activation_forward(Activation act, Tensor out, const Tensor& pre,
                                       const Tensor& bias, int rows, int width) = 0;
  virtual void bias_activation_backward(Activation act, Tensor d_pre, Tensor d_bias,
                                        const Tensor& d_out, const Tensor& pre, const Tensor& bias,
                                        int rows, int width) = 0;

  virtual void attention_forward(Tensor ctx, Tensor lse, const Tensor& qkv, const Tensor& cu_seqlens,
                                 const AttentionShape& shape, const DropoutSpec& dropout) = 0;
  virtual void attention_backward(Tensor d_qkv, const Tensor& d_ctx, const Tensor& qkv,
                                  const Tensor& ctx, const Tensor& lse, const Tensor& cu_seqlens,
                                  const AttentionShape& shape, const DropoutSpec& dropout) = 0;

  // out = LayerNorm(residual + dropout(branch)); saves sum = residual + dropout(branch), mean, rstd.
  virtual void residual_layernorm_forward(Tensor out, Tensor sum, Tensor mean, Tensor rstd,
                                          const Tensor& branch, const Tensor& residual,
                                          const Tensor& gamma, const Tensor& beta, int rows,
                                          int width, double eps, const DropoutSpec& dropout) = 0;
  // d_branch overwrites; d_residual overwrites or adds per mode; d_gamma, d_beta accumulate.
  virtual void residual_layernorm_backward(Tensor d_branch, Tensor d_residual, Tensor d_gamma,
                                           Tensor d_beta, const Tensor& d_out, const Tensor& sum,
                                           const Tensor& mean, const Tensor& rstd,
                                           const Tensor& gamma, int rows, int width,
                                           const DropoutSpec& dropout, Accumulate residual_mode) = 0;

  // Writes d_logits [T,2] and per-sequence losses [B,2] (see kernels/qa_loss.h).
  virtual void qa_loss(Tensor d_logits, Tensor losses, const Tensor& logits, const Tensor& cu_seqlens,
                       const Tensor& start_positions, const Tensor& end_positions, int batch,
                       double d_loss_scale) = 0;

  // ---- optimizer ----
  virtual double sum_squares(const Tensor& values) = 0;  // Σ x² over the tensor (synchronises)
  // AdamW on master weights; writes the working copy too when has_working_params().
  virtual void adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq,
                            const Tensor& grad, const AdamWHyper& hyper, double grad_scale) = 0;

  // ---- device-resident step statistics (StepStat): no host synchronisation in a step ----
  // stats[0..3] = 0; kStepUpdatesDone and the spare elements are kept.
  virtual void step_stats_begin(Tensor stats) = 0;
  // stats[kStepLossSum] += weight · Σ losses[0..count) (losses: the kStatistic per-sequence loss
  // buffer), summed in double in index order.
  virtual void accumulate_loss(Tensor stats, const Tensor& losses, size_t count, double weight) = 0;
  // stats[1] = Σ grads² (double), stats[2] = max_norm > 0 ? min(1, max_norm / (sqrt(stats[1]) + 1e-6)) : 1,
  // stats[3] = (isfinite(stats[0]) && isfinite(stats[1])) ? 1 : 0.
  virtual void grad_norm_and_clip(Tensor stats, const Tensor& grads, double max_norm) = 0;
  // AdamW driven by stats: does nothing when stats[3] == 0 (neither decay nor moments change);
  // otherwise grad scale = stats[2] and the bias-correction step = stats[kStepUpdatesDone] + 1
  // (hyper.step is ignored). Same math as the grad_scale overload.
  virtual void adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq,
                            const Tensor& grad, const AdamWHyper& hyper, const Tensor& stats) = 0;
  // stats[kStepUpdatesDone] += stats[kStepApplied].
  virtual void step_stats_end(Tensor stats) = 0;

  // ---- AdamW beside the next forward pass (engine/optimizer.h's update_beside_forward) ----
  // Between begin_side_updates() and end_side_updates(), adamw_update queues its work on a
  // second stream, after everything queued on the main stream so far (every other op stays on
  // the main stream); mark_side_updates(m) marks the side work queued so far as mark m (m ≥ 0;
  // the model's stages, engine/param_layout.h). wait_side_updates(m) makes the main stream's
  // later work wait for mark m (nothing when m is not pending) and join_side_updates() for all
  // side work. download(), synchronize() and sum_squares() join first; no other op waits by
  // itself: whoever queues side work waits for it before the main stream touches what it writes.
  // A backend that runs every op in call order (the CPU's) keeps these defaults.
  virtual void begin_side_updates() {}
  virtual void mark_side_updates(int mark) { (void)mark; }
  virtual void end_side_updates() {}
  virtual void wait_side_updates(int mark) { (void)mark; }
  virtual void join_side_updates() {}

  // Asynchronous readback: stage_download queues a copy of src (kF64, at most
  // kMaxStagedDownload elements) into pinned host memory and returns at once; collect_download
  // waits for that copy only and returns the values. One staged download at a time (staging
  // while one is pending, or collecting with none pending, throws BertError).
  static constexpr size_t kMaxStagedDownload = 64;
  virtual void stage_download(const Tensor& src) = 0;
  virtual std::vector<double> collect_download() = 0;
};

// "cpu" (float), "cpu-double" (the double-precision oracle), "cuda".
std::unique_ptr<Backend> make_cpu_backend(bool double_precision);

}  // namespace bert
