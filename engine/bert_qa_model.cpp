#include "engine/bert_qa_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "core/error.h"
#include "core/file_io.h"
#include "kernels/blas_split.h"
#include "kernels/cpu_parallel.h"

namespace bert {
namespace {

// The work buffer OpenBLAS maps for each thread calling it at once (its BUFFER_SIZE on x86-64,
// 32 << 22), and room for what else a run maps as it goes (the batch prefetcher's stack, the
// host pipeline's buffers): describe_address_space_shortfall.
constexpr double kOpenBlasBufferBytes = 128.0 * (1 << 20);
constexpr double kRunningRoomBytes = 64.0 * (1 << 20);

// `whole` split into the slices covered by `parts` (views into it, disjoint) and the slices
// between them, each list merged into maximal contiguous slices.
void split_covered(const Tensor& whole, const std::vector<Tensor>& parts, std::vector<Tensor>* covered,
                   std::vector<Tensor>* uncovered) {
  const size_t element = scalar_size(whole.dtype);
  std::vector<std::pair<size_t, size_t>> ranges;  // [first, last) in elements
  for (const Tensor& part : parts) {
    const size_t first = static_cast<size_t>(static_cast<const char*>(part.data) -
                                             static_cast<const char*>(whole.data)) / element;
    BERT_CHECK(part.dtype == whole.dtype && first + part.numel <= whole.numel, "a part outside its tensor");
    ranges.emplace_back(first, first + part.numel);
  }
  std::sort(ranges.begin(), ranges.end());
  size_t position = 0;
  for (size_t i = 0; i < ranges.size();) {
    BERT_CHECK(ranges[i].first >= position, "overlapping parts");
    if (ranges[i].first > position) uncovered->push_back(slice(whole, position, ranges[i].first - position));
    size_t last = ranges[i].second;
    const size_t first = ranges[i].first;
    for (++i; i < ranges.size() && ranges[i].first == last; ++i) last = ranges[i].second;
    covered->push_back(slice(whole, first, last - first));
    position = last;
  }
  if (position < whole.numel) uncovered->push_back(slice(whole, position, whole.numel - position));
}

}  // namespace

ModelMemory model_memory_needed(const Backend& backend, const BertConfig& config, int64_t max_tokens,
                                int64_t max_batch, bool training) {
  auto bytes = [&](BufferRole role) { return double(scalar_size(backend.dtype_for(role))); };
  const double params = bert_qa_parameter_count(config);
  ModelMemory out;
  out.parameter_bytes = params * (bytes(BufferRole::kMasterParam) + bytes(BufferRole::kGradient) +
                                  (backend.has_working_params() ? bytes(BufferRole::kWorkingParam) : 0.0) +
                                  (training ? 2 * bytes(BufferRole::kOptimizerState) : 0.0));
  // The buffers of the constructor below: per token, L+1 layer outputs, per layer qkv (3H),
  // ctx, attn_sum, hidden, out_sum (H each) and ffn_pre/ffn_act (F each); the embedding sum,
  // branch and backward scratch (d_x, d_hidden, d_branch, d_ctx: H; d_qkv: 3H; d_ffn_*: F each);
  // the statistics (means, rstds, lse), the logits, their gradient and their staging buffer.
  const double T = double(max_tokens), H = config.hidden_size, F = config.intermediate_size,
               L = config.num_hidden_layers, heads = config.num_attention_heads;
  const double activations =
      T * ((L + 1) * H + L * (7 * H + 2 * F) + H + H + 4 * H + 3 * H + 2 * F + 4 + 2 * BertQaModel::kLogitStages);
  const double statistics = T * (2 + L * (heads + 4)) + 2.0 * double(max_batch);
  out.activation_bytes = activations * bytes(BufferRole::kActivation) + statistics * bytes(BufferRole::kStatistic) +
                         T * 3 * bytes(BufferRole::kIndex);
  return out;
}

BertQaModel::BertQaModel(Backend& backend, const BertConfig& config, int max_tokens, int max_batch)
    : backend_(backend),
      config_(config),
      activation_(config.activation()),
      layout_(config),
      max_tokens_(max_tokens),
      max_batch_(max_batch) {
  BERT_CHECK(max_tokens > 0 && max_batch > 0, "model needs room for at least one token");
  check_backend_runs_model(backend, config, "config.json");
  const size_t T = static_cast<size_t>(max_tokens), H = config.hidden_size,
               F = config.intermediate_size, heads = config.num_attention_heads;
  master_ = backend.allocate(layout_.total(), BufferRole::kMasterParam);
  working_ = backend.has_working_params() ? backend.allocate(layout_.total(), BufferRole::kWorkingParam)
                                          : master_;
  grads_ = backend.allocate(layout_.total(), BufferRole::kGradient);
  weights_ = resolve_model_tensors(layout_, working_, config.num_hidden_layers);
  weight_grads_ = resolve_model_tensors(layout_, grads_, config.num_hidden_layers);
  std::vector<Tensor> linear_weights{weight_grads_.qa_outputs.weight};
  for (const EncoderLayerTensors& layer : weight_grads_.layers)
    for (const LinearTensors* linear : {&layer.qkv, &layer.attention_output, &layer.intermediate, &layer.output})
      linear_weights.push_back(linear->weight);
  split_covered(grads_, linear_weights, &linear_weight_grads_, &other_grads_);

  auto index = [&](size_t n) { return backend.allocate(n, BufferRole::kIndex); };
  auto act = [&](size_t n) { return backend.allocate(n, BufferRole::kActivation); };
  auto stat = [&](size_t n) { return backend.allocate(n, BufferRole::kStatistic); };
  input_ids_ = index(T);
  token_type_ids_ = index(T);
  position_ids_ = index(T);
  cu_seqlens_ = index(max_batch + 1);
  start_positions_ = index(max_batch);
  end_positions_ = index(max_batch);

  emb_sum_ = act(T * H);
  emb_mean_ = stat(T);
  emb_rstd_ = stat(T);
  for (int l = 0; l <= config.num_hidden_layers; ++l) layer_outputs_.push_back(act(T * H));
  layers_.resize(config.num_hidden_layers);
  for (int l = 0; l < config.num_hidden_layers; ++l) {
    LayerActivations& a = layers_[l];
    a.input = layer_outputs_[l];
    a.qkv = act(T * 3 * H);
    a.ctx = act(T * H);
    a.lse = stat(T * heads);
    a.attn_sum = act(T * H);
    a.attn_mean = stat(T);
    a.attn_rstd = stat(T);
    a.hidden = act(T * H);
    a.ffn_pre = act(T * F);
    a.ffn_act = act(T * F);
    a.out_sum = act(T * H);
    a.out_mean = stat(T);
    a.out_rstd = stat(T);
  }
  branch_ = act(T * H);
  logits_ = act(T * 2);
  staged_logits_ = act(kLogitStages * T * 2);
  d_logits_ = act(T * 2);
  losses_ = stat(static_cast<size_t>(max_batch) * 2);
  d_x_ = act(T * H);
  d_hidden_ = act(T * H);
  d_branch_ = act(T * H);
  d_ctx_ = act(T * H);
  d_qkv_ = act(T * 3 * H);
  d_ffn_act_ = act(T * F);
  d_ffn_pre_ = act(T * F);
}

Tensor BertQaModel::rows(const Tensor& full, int row_width) const {
  return slice(full, 0, static_cast<size_t>(tokens_) * row_width);
}

std::unique_ptr<BertQaModel> place_bert_qa_model(
    Backend& backend, const BertConfig& config, int max_tokens, int max_batch,
    const std::map<std::string, std::vector<float>>& tensors, double* placement_seconds) {
  const auto started = std::chrono::steady_clock::now();
  auto model = std::make_unique<BertQaModel>(backend, config, max_tokens, max_batch);
  model->set_parameters(tensors);
  backend.synchronize();
  *placement_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return model;
}

void BertQaModel::set_parameters(const std::map<std::string, std::vector<float>>& tensors) {
  backend_.join_side_updates();
  for (const ParamSlot& s : layout_.slots()) {
    auto found = tensors.find(s.name);
    if (found == tensors.end()) throw BertError("set_parameters: missing tensor " + s.name);
    BERT_CHECK(found->second.size() == s.numel, "set_parameters: " + s.name + " has " +
                                                    std::to_string(found->second.size()) +
                                                    " values, expected " + std::to_string(s.numel));
    backend_.upload(slice(master_, s.offset, s.numel), found->second.data(), s.numel);
  }
  refresh_working_params();
}

void BertQaModel::refresh_working_params() {
  if (backend_.has_working_params()) backend_.copy(working_, master_);
}

std::map<std::string, std::vector<float>> BertQaModel::parameters() {
  const std::vector<double> flat = backend_.download(master_);
  std::map<std::string, std::vector<float>> out;
  for (const ParamSlot& s : layout_.slots())
    out[s.name] = std::vector<float>(flat.begin() + s.offset, flat.begin() + s.offset + s.numel);
  return out;
}

std::map<std::string, std::vector<double>> BertQaModel::parameters_exact() { return split_by_name(master_); }

std::map<std::string, std::vector<double>> BertQaModel::gradients() { return split_by_name(grads_); }

std::map<std::string, std::vector<double>> BertQaModel::split_by_name(const Tensor& flat_tensor) {
  const std::vector<double> flat = backend_.download(flat_tensor);
  std::map<std::string, std::vector<double>> out;
  for (const ParamSlot& s : layout_.slots())
    out[s.name] = std::vector<double>(flat.begin() + s.offset, flat.begin() + s.offset + s.numel);
  return out;
}

void BertQaModel::zero_gradients() {
  backend_.join_side_updates();
  backend_.fill_zero(grads_);
  overwrite_weight_grads_ = false;
  zero_other_grads_ = false;
}

void BertQaModel::begin_gradient_step() {
  overwrite_weight_grads_ = true;
  zero_other_grads_ = true;
}

void BertQaModel::zero_other_grads_if_due() {
  backend_.join_side_updates();
  if (zero_other_grads_)
    for (const Tensor& part : other_grads_) backend_.fill_zero(part);
  zero_other_grads_ = false;
}

void BertQaModel::end_gradient_step() {
  zero_other_grads_if_due();
  if (overwrite_weight_grads_)
    for (const Tensor& part : linear_weight_grads_) backend_.fill_zero(part);
  overwrite_weight_grads_ = false;
}

void BertQaModel::load_batch(const PackedBatch& batch) {
  if (batch.tokens() > max_tokens_ || batch.batch() > max_batch_)
    throw BertError("batch of " + std::to_string(batch.batch()) + " sequences / " +
                    std::to_string(batch.tokens()) + " tokens exceeds the model's buffers (" +
                    std::to_string(max_batch_) + " / " + std::to_string(max_tokens_) + ")");
  validate_batch(batch, config_.vocab_size, config_.type_vocab_size, config_.max_position_embeddings);
  tokens_ = batch.tokens();
  batch_ = batch.batch();
  longest_ = batch.max_length();
  backend_.upload(input_ids_, batch.input_ids.data(), tokens_);
  backend_.upload(token_type_ids_, batch.token_type_ids.data(), tokens_);
  backend_.upload(position_ids_, batch.position_ids.data(), tokens_);
  backend_.upload(cu_seqlens_, batch.cu_seqlens.data(), batch_ + 1);
  backend_.upload(start_positions_, batch.start_positions.data(), batch_);
  backend_.upload(end_positions_, batch.end_positions.data(), batch_);
  have_loss_ = false;
}

DropoutSpec BertQaModel::dropout_spec(const PassContext& context, int layer, DropoutKind kind) const {
  DropoutSpec spec;
  if (!context.training) return spec;
  spec.probability = kind == DropoutKind::kAttentionProbs ? config_.attention_probs_dropout_prob
                                                          : config_.hidden_dropout_prob;
  spec.seed = context.seed;
  spec.micro_step = context.micro_step;
  spec.site = dropout_site(layer, kind);
  // Elements per token: attention numbers (token·heads + head)·max_positions + key
  // (kernels/attention.h), the hidden-sized sites token·hidden + h.
  const uint64_t per_token = kind == DropoutKind::kAttentionProbs
                                 ? uint64_t(config_.num_attention_heads) * config_.max_position_embeddings
                                 : uint64_t(config_.hidden_size);
  spec.element_offset = context.token_offset * per_token;
  return spec;
}

double BertQaModel::forward(const PassContext& context, bool with_loss) {
  run_forward(context, with_loss);
  if (!with_loss) return std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> losses = backend_.download(slice(losses_, 0, size_t(batch_) * 2));
  double total = 0;
  for (double value : losses) total += value;
  return total / (2.0 * batch_);
}

void BertQaModel::forward_train(const PassContext& context, Tensor step_stats, double loss_weight) {
  run_forward(context, true);
  // The batch's mean loss is Σ (start + end losses) / (2 · batch).
  backend_.accumulate_loss(step_stats, slice(losses_, 0, size_t(batch_) * 2), size_t(batch_) * 2,
                           loss_weight / (2.0 * batch_));
}

void BertQaModel::run_forward(const PassContext& context, bool with_loss) {
  BERT_CHECK(tokens_ > 0, "forward before load_batch");
  const int H = config_.hidden_size, F = config_.intermediate_size, heads = config_.num_attention_heads;
  const double eps = config_.layer_norm_eps;
  const int T = tokens_;
  const AttentionShape shape{
      T, batch_, heads, config_.head_dim(), config_.max_position_embeddings, longest_};

  // Each stage's weights may still be being updated beside this pass (update_beside_forward).
  backend_.wait_side_updates(0);
  backend_.embeddings_forward(rows(layer_outputs_[0], H), rows(emb_sum_, H), rows(emb_mean_, 1),
                              rows(emb_rstd_, 1), input_ids_, token_type_ids_, position_ids_,
                              weights_.word_embeddings,
                              weights_.position_embeddings,
                              weights_.token_type_embeddings,
                              weights_.embeddings_norm.weight,
                              weights_.embeddings_norm.bias, T, H, eps,
                              dropout_spec(context, -1, DropoutKind::kEmbeddings));
  for (int l = 0; l < config_.num_hidden_layers; ++l) {
    LayerActivations& a = layers_[l];
    const Tensor x = rows(a.input, H);
    backend_.wait_side_updates(l + 1);
    backend_.matmul_forward(rows(a.qkv, 3 * H), x, weights_.layers[l].qkv.weight,
                            weights_.layers[l].qkv.bias, T, H, 3 * H);
    backend_.attention_forward(rows(a.ctx, H), rows(a.lse, heads), rows(a.qkv, 3 * H), cu_seqlens_, shape,
                               dropout_spec(context, l, DropoutKind::kAttentionProbs));
    backend_.matmul_forward(rows(branch_, H), rows(a.ctx, H), weights_.layers[l].attention_output.weight,
                            weights_.layers[l].attention_output.bias, T, H, H);
    backend_.residual_layernorm_forward(rows(a.hidden, H), rows(a.attn_sum, H), rows(a.attn_mean, 1),
                                        rows(a.attn_rstd, 1), rows(branch_, H), x,
                                        weights_.layers[l].attention_norm.weight,
                                        weights_.layers[l].attention_norm.bias, T, H, eps,
                                        dropout_spec(context, l, DropoutKind::kAttentionOutput));
    backend_.matmul_forward(rows(a.ffn_pre, F), rows(a.hidden, H),
                            weights_.layers[l].intermediate.weight, Tensor{}, T, H, F);
    backend_.bias_activation_forward(activation_, rows(a.ffn_act, F), rows(a.ffn_pre, F),
                                     weights_.layers[l].intermediate.bias, T, F);
    backend_.matmul_forward(rows(branch_, H), rows(a.ffn_act, F), weights_.layers[l].output.weight,
                            weights_.layers[l].output.bias, T, F, H);
    backend_.residual_layernorm_forward(rows(layer_outputs_[l + 1], H), rows(a.out_sum, H),
                                        rows(a.out_mean, 1), rows(a.out_rstd, 1), rows(branch_, H),
                                        rows(a.hidden, H), weights_.layers[l].output_norm.weight,
                                        weights_.layers[l].output_norm.bias, T, H, eps,
                                        dropout_spec(context, l, DropoutKind::kFfnOutput));
  }
  backend_.wait_side_updates(config_.num_hidden_layers + 1);
  backend_.matmul_forward(rows(logits_, 2), rows(layer_outputs_.back(), H), weights_.qa_outputs.weight,
                          weights_.qa_outputs.bias, T, H, 2);
  have_loss_ = with_loss;
  if (!with_loss) return;
  backend_.qa_loss(rows(d_logits_, 2), slice(losses_, 0, size_t(batch_) * 2), rows(logits_, 2),
                   cu_seqlens_, start_positions_, end_positions_, batch_, context.loss_scale);
}

void BertQaModel::backward(const PassContext& context, const UnitDoneFn& on_unit_done) {
  auto unit_done = [&on_unit_done](int unit) {
    if (on_unit_done) on_unit_done(unit);
  };
  BERT_CHECK(have_loss_, "backward needs a forward with the loss first");
  const int H = config_.hidden_size, F = config_.intermediate_size, heads = config_.num_attention_heads;
  const int T = tokens_;
  const AttentionShape shape{
      T, batch_, heads, config_.head_dim(), config_.max_position_embeddings, longest_};
  const Tensor d_x = rows(d_x_, H), d_hidden = rows(d_hidden_, H), d_branch = rows(d_branch_, H);
  zero_other_grads_if_due();
  const Accumulate weight_mode = overwrite_weight_grads_ ? Accumulate::kOverwrite : Accumulate::kAdd;
  overwrite_weight_grads_ = false;

  backend_.matmul_backward(d_x, weight_grads_.qa_outputs.weight, weight_grads_.qa_outputs.bias, rows(d_logits_, 2),
                           rows(layer_outputs_.back(), H), weights_.qa_outputs.weight, T, H, 2,
                           Accumulate::kOverwrite, weight_mode);
  unit_done(config_.num_hidden_layers + 1);
  for (int l = config_.num_hidden_layers - 1; l >= 0; --l) {
    LayerActivations& a = layers_[l];
    // d_x holds d(layer output). FFN block: x' = LN(h + dropout(f·W2ᵀ + b2)).
    backend_.residual_layernorm_backward(d_branch, d_hidden, weight_grads_.layers[l].output_norm.weight,
                                         weight_grads_.layers[l].output_norm.bias, d_x,
                                         rows(a.out_sum, H), rows(a.out_mean, 1), rows(a.out_rstd, 1),
                                         weights_.layers[l].output_norm.weight, T, H,
                                         dropout_spec(context, l, DropoutKind::kFfnOutput),
                                         Accumulate::kOverwrite);
    backend_.matmul_backward(rows(d_ffn_act_, F), weight_grads_.layers[l].output.weight,
                             weight_grads_.layers[l].output.bias, d_branch, rows(a.ffn_act, F),
                             weights_.layers[l].output.weight, T, F, H, Accumulate::kOverwrite, weight_mode);
    backend_.bias_activation_backward(
        activation_, rows(d_ffn_pre_, F), weight_grads_.layers[l].intermediate.bias,
        rows(d_ffn_act_, F), rows(a.ffn_pre, F), weights_.layers[l].intermediate.bias, T, F);
    backend_.matmul_backward(d_hidden, weight_grads_.layers[l].intermediate.weight, Tensor{},
                             rows(d_ffn_pre_, F), rows(a.hidden, H),
                             weights_.layers[l].intermediate.weight, T, H, F, Accumulate::kAdd, weight_mode);
    // Attention block: h = LN(x + dropout(ctx·Woᵀ + bo)); d_x becomes d(layer input).
    backend_.residual_layernorm_backward(d_branch, d_x, weight_grads_.layers[l].attention_norm.weight,
                                         weight_grads_.layers[l].attention_norm.bias, d_hidden,
                                         rows(a.attn_sum, H), rows(a.attn_mean, 1), rows(a.attn_rstd, 1),
                                         weights_.layers[l].attention_norm.weight, T, H,
                                         dropout_spec(context, l, DropoutKind::kAttentionOutput),
                                         Accumulate::kOverwrite);
    backend_.matmul_backward(rows(d_ctx_, H), weight_grads_.layers[l].attention_output.weight,
                             weight_grads_.layers[l].attention_output.bias, d_branch, rows(a.ctx, H),
                             weights_.layers[l].attention_output.weight, T, H, H,
                             Accumulate::kOverwrite, weight_mode);
    backend_.attention_backward(rows(d_qkv_, 3 * H), rows(d_ctx_, H), rows(a.qkv, 3 * H), rows(a.ctx, H),
                                rows(a.lse, heads), cu_seqlens_, shape,
                                dropout_spec(context, l, DropoutKind::kAttentionProbs));
    backend_.matmul_backward(d_x, weight_grads_.layers[l].qkv.weight,
                             weight_grads_.layers[l].qkv.bias, rows(d_qkv_, 3 * H),
                             rows(a.input, H), weights_.layers[l].qkv.weight, T,
                             H, 3 * H, Accumulate::kAdd, weight_mode);
    unit_done(l + 1);
  }
  backend_.embeddings_backward(weight_grads_.word_embeddings,
                               weight_grads_.position_embeddings,
                               weight_grads_.token_type_embeddings,
                               weight_grads_.embeddings_norm.weight, weight_grads_.embeddings_norm.bias,
                               d_x, rows(emb_sum_, H), rows(emb_mean_, 1), rows(emb_rstd_, 1),
                               weights_.embeddings_norm.weight, input_ids_, token_type_ids_,
                               position_ids_, T, H, config_.pad_token_id,
                               dropout_spec(context, -1, DropoutKind::kEmbeddings));
  unit_done(0);
}

std::vector<double> BertQaModel::logits() { return backend_.download(rows(logits_, 2)); }

void BertQaModel::stage_logits() {
  const size_t tokens = static_cast<size_t>(tokens_);
  BERT_CHECK(staged_tokens_ + tokens <= staged_logits_.numel / 2,
             "stage_logits: the staging buffer holds " + std::to_string(kLogitStages) +
                 " forwards of max_tokens; take_staged_logits() first");
  backend_.copy(slice(staged_logits_, 2 * staged_tokens_, 2 * tokens), rows(logits_, 2));
  staged_tokens_ += tokens;
}

std::vector<double> BertQaModel::take_staged_logits() {
  std::vector<double> out = backend_.download(slice(staged_logits_, 0, 2 * staged_tokens_));
  staged_tokens_ = 0;
  return out;
}

std::vector<double> BertQaModel::hidden_state(int index) {
  BERT_CHECK(index >= 0 && index <= config_.num_hidden_layers, "hidden state index out of range");
  return backend_.download(rows(layer_outputs_[index], config_.hidden_size));
}

void check_backend_runs_model(const Backend& backend, const BertConfig& config, const std::string& config_file) {
  const std::optional<ModelSizeProblem> problem =
      backend.model_size_problem(config.hidden_size, config.num_attention_heads);
  if (problem)
    throw_input_error(config_file, problem->field,
                      problem->reason + " (the " + backend.name() + " backend cannot run this model; --device cpu runs any size)");
}

std::string describe_memory_shortfall(Backend& backend, const BertConfig& config, int64_t max_tokens,
                                      int64_t max_batch, bool training, bool* batch_to_blame) {
  const double loaded = 4.0 * bert_qa_parameter_count(config);  // float32 weights from model.safetensors
  ModelMemory model;
  if (backend.native_stream() == nullptr) model = model_memory_needed(backend, config, max_tokens, max_batch, training);
  const double needed = loaded + model.total(), available = double(physical_memory_bytes());
  *batch_to_blame = model.activation_bytes > loaded + model.parameter_bytes;
  if (needed <= available) return "";
  return "needs about " + format_bytes(needed) + " of memory (" +
         format_bytes(loaded + model.parameter_bytes) + " for the parameters" +
         (training ? " and optimizer state" : "") + ", " + format_bytes(model.activation_bytes) +
         " for the activations of " + std::to_string(max_tokens) +
         " tokens), more than this machine's " + format_bytes(available);
}

int concurrent_blas_callers(const BertConfig& config, int64_t max_tokens, int64_t max_batch) {
  // kernels/attention_ref.cpp calls OpenBLAS once per sequence and head, spread over the pool;
  // the widest linear layer's three products are cut into bands by blas::gemm_split, one call
  // per band at once. With one head a batch may hold one sequence: cpu::parallel_for then runs
  // its single piece inline, and that sequence's products (length x length x head_dim and
  // length x head_dim x length, a sequence at most max_tokens / max_batch long) are cut into
  // bands too.
  const int threads = cpu::thread_count();
  const int tokens = int(std::min<int64_t>(max_tokens, std::numeric_limits<int>::max()));
  const int widest = std::max(config.intermediate_size, 3 * config.hidden_size);
  const int hidden = config.hidden_size;
  const int64_t products = std::max({blas::gemm_split(tokens, widest, hidden, threads).calls(),
                                     blas::gemm_split(tokens, hidden, widest, threads).calls(),
                                     blas::gemm_split(widest, hidden, tokens, threads).calls()});
  const int64_t batch = std::max<int64_t>(1, max_batch);
  int64_t attention = batch * config.num_attention_heads;
  if (config.num_attention_heads == 1) {
    const int length = int((tokens + batch - 1) / batch);
    attention =
        std::max<int64_t>({attention, blas::gemm_split(length, length, hidden, threads).calls(),
                           blas::gemm_split(length, hidden, length, threads).calls()});
  }
  return int(std::clamp<int64_t>(std::max(products, attention), 1, threads));
}

std::string describe_address_space_shortfall(Backend& backend, const BertConfig& config,
                                             int64_t max_tokens, int64_t max_batch, bool training,
                                             bool weights_loaded) {
  if (backend.native_stream() != nullptr) return "";
  // Under an address-space limit (ulimit -v), OpenBLAS must not run out: when it cannot map the
  // work buffer of a thread calling it, it retries forever (a hang, not an error). What is mapped
  // already (the pool's stacks; with weights_loaded the weights read) is in address_space_left.
  const ModelMemory model = model_memory_needed(backend, config, max_tokens, max_batch, training);
  const double weights = weights_loaded ? 0.0 : 4.0 * bert_qa_parameter_count(config);
  const int callers = concurrent_blas_callers(config, max_tokens, max_batch);
  const double blas = callers * kOpenBlasBufferBytes;
  const double needed = weights + model.total() + blas + kRunningRoomBytes;
  const double left = double(address_space_left());
  if (needed <= left) return "";
  return "needs about " + format_bytes(needed) + " of address space (" +
         format_bytes(weights + model.total()) + " for the model" +
         (training ? ", its optimizer state" : "") + " and the activations of " +
         std::to_string(max_tokens) + " tokens, " + format_bytes(blas) +
         " for the OpenBLAS work buffers of " + std::to_string(callers) +
         " CPU threads), more than the " + format_bytes(left) +
         " the address-space limit (ulimit -v) leaves: raise the limit, or run fewer threads "
         "(BERT_CPU_THREADS)";
}

}  // namespace bert
