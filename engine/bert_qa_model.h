// BertForQuestionAnswering, forward and hand-derived backward, written once against the
// Backend ops interface. Tokens are packed (no padding); see engine/packed_batch.h.
//
// Forward (T packed tokens, H hidden, F intermediate, L layers):
//   x0 = dropout(LN(word[ids] + pos[p] + type[tt]))
//   per layer: qkv = x·Wqkvᵀ + bqkv; ctx = attention(qkv); a = ctx·Woᵀ + bo;
//              h = LN(x + dropout(a)); f = act(h·W1ᵀ + b1); x' = LN(h + dropout(f·W2ᵀ + b2))
//   (act: config.json's hidden_act, BERT's erf GELU or another of core/activation.h)
//   logits = x_L·Wqaᵀ + bqa  ([T, 2]: start, end); loss per kernels/qa_loss.h.
// Saved for backward per layer: x, qkv, ctx, lse, both LayerNorm inputs and statistics,
// h, the activation's input and output. Dropout masks are regenerated, never stored.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "io/bert_config.h"
#include "engine/packed_batch.h"
#include "engine/model_tensors.h"
#include "engine/param_layout.h"

namespace bert {

// What a forward/backward pass needs beyond the batch.
struct PassContext {
  bool training = false;        // dropout on
  uint64_t seed = 0;            // dropout key
  uint32_t micro_step = 0;      // distinct for every training forward pass
  double loss_scale = 1.0;      // multiplies d_loss (1 / gradient_accumulation_steps)
  // Packed tokens that precede this batch in the global batch (data parallelism,
  // engine/data_parallel.h): shifts every dropout element index by token_offset × the site's
  // elements per token, so a rank draws the masks one process draws for the same tokens.
  uint64_t token_offset = 0;
};

// Bytes a BertQaModel (and with `training` AdamW's two moments) takes on `backend` for
// max_tokens packed tokens in max_batch sequences: the parameter buffers (master, working
// copy, gradients, moments) and the activations, as the constructors allocate them. Computed in
// double, so that absurd sizes are reported instead of overflowing.
struct ModelMemory {
  double parameter_bytes = 0, activation_bytes = 0;
  double total() const { return parameter_bytes + activation_bytes; }
};
ModelMemory model_memory_needed(const Backend& backend, const BertConfig& config, int64_t max_tokens,
                                int64_t max_batch, bool training);

// Whether a run fits this machine's memory (physical_memory_bytes), checked before the
// model's buffers are allocated: the float32 copy of the weights read from the model directory
// plus, on a host backend (no native stream: the CPU), the model's buffers
// (model_memory_needed). Empty when it fits; otherwise a message with the sizes, and
// *batch_to_blame says whether the activations of max_tokens (the batch flags) or the
// parameters (config.json) take the most. A CUDA backend's device memory is its own to report.
std::string describe_memory_shortfall(Backend& backend, const BertConfig& config, int64_t max_tokens,
                                      int64_t max_batch, bool training, bool* batch_to_blame);

// The OpenBLAS calls that can run at once on the CPU pool (cpu::thread_count threads) for
// batches of up to max_batch sequences and max_tokens tokens: attention's one per sequence and
// head, or a product's bands (blas::gemm_split), at most one per thread.
int concurrent_blas_callers(const BertConfig& config, int64_t max_tokens, int64_t max_batch);

// On a host backend under an address-space limit (RLIMIT_AS, `ulimit -v`): whether the run's
// buffers (with the weights unless weights_loaded: they are mapped already) and the OpenBLAS
// work buffer of each thread that can call it at once fit what the limit leaves
// (address_space_left). OpenBLAS retries forever when it cannot map its buffer, so a run that
// would not fit is refused before it starts. Empty when it fits (or there is no limit).
std::string describe_address_space_shortfall(Backend& backend, const BertConfig& config,
                                             int64_t max_tokens, int64_t max_batch, bool training,
                                             bool weights_loaded);

// Throws InputError naming config_file and the field to blame when the backend's kernels cannot
// run a model of this config's sizes (Backend::model_size_problem: the CUDA kernels' bounds), so
// that an app refuses such a model before it loads or prepares anything. BertQaModel's
// constructor checks the same (naming "config.json").
void check_backend_runs_model(const Backend& backend, const BertConfig& config, const std::string& config_file);

class BertQaModel;

// A model on `backend` holding `tensors`, with room for max_tokens in max_batch sequences;
// *placement_seconds: its allocation and the weights' upload, the backend synchronized (what a
// run without training reports as <K>_model_preparation_time, where Trainer times accelerate's
// prepare_model before its first evaluation).
std::unique_ptr<BertQaModel> place_bert_qa_model(
    Backend& backend, const BertConfig& config, int max_tokens, int max_batch,
    const std::map<std::string, std::vector<float>>& tensors, double* placement_seconds);

class BertQaModel {
 public:
  // Activations are sized once for at most max_tokens packed tokens in max_batch sequences.
  BertQaModel(Backend& backend, const BertConfig& config, int max_tokens, int max_batch);

  const BertConfig& config() const { return config_; }
  const ParamLayout& layout() const { return layout_; }
  Backend& backend() { return backend_; }

  // Parameters by canonical name (all of the layout's names must be present).
  void set_parameters(const std::map<std::string, std::vector<float>>& tensors);
  std::map<std::string, std::vector<float>> parameters();
  // The master weights at full precision (double on the double-precision backend).
  std::map<std::string, std::vector<double>> parameters_exact();
  std::map<std::string, std::vector<double>> gradients();

  // Uploads the batch (validated against the config) for the next forward/backward.
  void load_batch(const PackedBatch& batch);
  // Computes logits; with labels (`with_loss`), also the loss and d_logits. Returns the mean
  // loss (NaN when with_loss is false).
  // Downloads the losses, so it waits for the device: for evaluation and tests.
  double forward(const PassContext& context, bool with_loss);
  // The training forward: computes the loss and d_logits and adds loss_weight × (the batch's
  // mean loss) into step_stats[kStepLossSum] on the backend, without waiting for the device.
  void forward_train(const PassContext& context, Tensor step_stats, double loss_weight);

  // Backward stages as ParamSlot::stage (engine/param_layout.h) numbers them:
  // unit num_layers + 1 = the QA head, l + 1 = encoder layer l, 0 = the embeddings. Backward
  // calls on_unit_done(unit) as soon as the unit's parameter gradients are final (queued on
  // the backend), highest unit first, so their all-reduce can start while backward goes on.
  using UnitDoneFn = std::function<void(int unit)>;
  // Accumulates parameter gradients of the last forward's loss (forward with_loss first); the
  // first backward after begin_gradient_step() overwrites the linear layers' weight gradients.
  void backward(const PassContext& context, const UnitDoneFn& on_unit_done = nullptr);

  std::vector<double> logits();              // [tokens, 2] of the last forward (waits for the device)
  // Inference without a wait per batch (evaluation): stage_logits() appends the last forward's
  // logits [tokens, 2] to a staging buffer on the backend, which holds kLogitStages forwards of
  // max_tokens; take_staged_logits() downloads all that was staged since the last take, forward
  // after forward, and empties the buffer (it waits for the device).
  static constexpr int kLogitStages = 8;
  void stage_logits();
  std::vector<double> take_staged_logits();
  std::vector<double> hidden_state(int index);  // [tokens, H]: 0 = embeddings, l = layer l output

  // Flat parameter state for the optimizer, checkpoints and all-reduce.
  Tensor master_params() const { return master_; }
  Tensor working_params() const { return working_; }
  Tensor gradients_flat() const { return grads_; }
  // Every gradient to zero; backward then adds.
  void zero_gradients();
  // A training step's gradients without zeroing the linear layers' weight gradients (78% of
  // bert-base's parameters): begin_gradient_step() zeroes every other gradient, the step's first
  // backward writes those weight gradients (GEMM beta = 0) and later ones add;
  // end_gradient_step() zeroes them when no backward ran (a rank given no windows in the step).
  // Afterwards the gradients equal zero_gradients() followed by the same backwards.
  // The zeroing is queued by the step's first backward (or end_gradient_step), after the forward
  // pass: the previous step's AdamW may still be reading the gradients beside it (the
  // optimizer's update_beside_forward). The forward pass waits for each stage's update
  // (Backend::wait_side_updates) before its first use of the stage's weights; backward, the
  // gradient zeroing and set_parameters wait for all of it.
  void begin_gradient_step();
  void end_gradient_step();
  // Copies the master weights into the working copy (after loading or an external update).
  void refresh_working_params();

 private:
  struct LayerActivations {
    Tensor input;  // x [T,H] (the previous layer's output; not owned here for layer 0)
    Tensor qkv, ctx, lse, attn_sum, attn_mean, attn_rstd, hidden, ffn_pre, ffn_act, out_sum,
        out_mean, out_rstd;
  };
  void run_forward(const PassContext& context, bool with_loss);  // queues everything, reads nothing
  void zero_other_grads_if_due();  // waits for the side updates, then begin_gradient_step's zeroing
  DropoutSpec dropout_spec(const PassContext& context, int layer, DropoutKind kind) const;
  Tensor rows(const Tensor& full, int row_width) const;  // the first tokens_ rows
  std::map<std::string, std::vector<double>> split_by_name(const Tensor& flat);

  Backend& backend_;
  BertConfig config_;
  Activation activation_;  // config_.hidden_act's function, looked up once
  ParamLayout layout_;
  int max_tokens_, max_batch_;
  int tokens_ = 0, batch_ = 0;
  int longest_ = 0;  // the loaded batch's longest sequence (AttentionShape::longest)
  bool have_loss_ = false;
  bool overwrite_weight_grads_ = false;  // set by begin_gradient_step until the next backward
  bool zero_other_grads_ = false;        // the same; zeroing is due before backward adds

  Tensor master_, working_, grads_;
  BertQaTensors weights_, weight_grads_;  // views of working_ and grads_, per parameter
  // grads_ split into the linear layers' weight gradients (matmul_backward writes them whole)
  // and everything else, each as few contiguous slices as the layout allows.
  std::vector<Tensor> linear_weight_grads_, other_grads_;
  Tensor input_ids_, token_type_ids_, position_ids_, cu_seqlens_, start_positions_, end_positions_;
  Tensor emb_sum_, emb_mean_, emb_rstd_;
  std::vector<Tensor> layer_outputs_;  // L+1 tensors [T,H]
  std::vector<LayerActivations> layers_;
  Tensor branch_, logits_, d_logits_, losses_;
  Tensor staged_logits_;     // [kLogitStages · max_tokens, 2], logits_' dtype
  size_t staged_tokens_ = 0;
  Tensor d_x_, d_hidden_, d_branch_, d_ctx_, d_qkv_, d_ffn_act_, d_ffn_pre_;
};

}  // namespace bert
