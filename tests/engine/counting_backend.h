// A Backend that forwards every call to another one and counts the calls by op name, so a test
// can say which work happened between two points of a run (e.g. inside the profiled step), and
// logs them in order (the side-update calls with their mark: "wait_side_updates 3").
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend.h"

namespace bert {
namespace test {

class CountingBackend final : public Backend {
 public:
  using Counts = std::map<std::string, int>;
  struct ProfileEvent {
    bool begin = false;
    Counts counts_before;  // the op counts when profile_range was called
  };

  explicit CountingBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

  const Counts& counts() const { return counts_; }
  const std::vector<std::string>& calls() const { return calls_; }
  const std::vector<ProfileEvent>& profile_events() const { return profile_events_; }

  std::string name() const override { return inner_->name(); }
  ScalarType dtype_for(BufferRole role) const override { return inner_->dtype_for(role); }
  bool has_working_params() const override { return inner_->has_working_params(); }
  std::optional<ModelSizeProblem> model_size_problem(int hidden_size, int heads) const override {
    return inner_->model_size_problem(hidden_size, heads);
  }
  Tensor allocate(size_t numel, BufferRole role) override { return inner_->allocate(numel, role); }
  void fill_zero(Tensor tensor) override {
    count("fill_zero");
    inner_->fill_zero(tensor);
  }
  void upload(Tensor dst, const float* src, size_t n) override {
    count("upload");
    inner_->upload(dst, src, n);
  }
  void upload(Tensor dst, const double* src, size_t n) override {
    count("upload");
    inner_->upload(dst, src, n);
  }
  void upload(Tensor dst, const int32_t* src, size_t n) override {
    count("upload");
    inner_->upload(dst, src, n);
  }
  std::vector<double> download(const Tensor& src) override {
    count("download");
    return inner_->download(src);
  }
  void copy(Tensor dst, const Tensor& src) override {
    count("copy");
    inner_->copy(dst, src);
  }
  void synchronize() override {
    count("synchronize");
    inner_->synchronize();
  }
  void* native_stream() override { return inner_->native_stream(); }
  void profile_range(bool begin) override {
    profile_events_.push_back({begin, counts_});
    inner_->profile_range(begin);
  }

  void embeddings_forward(Tensor out, Tensor sum, Tensor mean, Tensor rstd, const Tensor& input_ids,
                          const Tensor& token_type_ids, const Tensor& position_ids,
                          const Tensor& word, const Tensor& position, const Tensor& token_type,
                          const Tensor& gamma, const Tensor& beta, int tokens, int hidden,
                          double eps, const DropoutSpec& dropout) override {
    count("embeddings_forward");
    inner_->embeddings_forward(out, sum, mean, rstd, input_ids, token_type_ids, position_ids, word,
                               position, token_type, gamma, beta, tokens, hidden, eps, dropout);
  }
  void embeddings_backward(Tensor d_word, Tensor d_position, Tensor d_token_type, Tensor d_gamma,
                           Tensor d_beta, const Tensor& d_out, const Tensor& sum,
                           const Tensor& mean, const Tensor& rstd, const Tensor& gamma,
                           const Tensor& input_ids, const Tensor& token_type_ids,
                           const Tensor& position_ids, int tokens, int hidden, int padding_idx,
                           const DropoutSpec& dropout) override {
    count("embeddings_backward");
    inner_->embeddings_backward(d_word, d_position, d_token_type, d_gamma, d_beta, d_out, sum, mean,
                                rstd, gamma, input_ids, token_type_ids, position_ids, tokens,
                                hidden, padding_idx, dropout);
  }
  void matmul_forward(Tensor out, const Tensor& inp, const Tensor& weight, const Tensor& bias,
                      int rows, int in_features, int out_features) override {
    count("matmul_forward");
    inner_->matmul_forward(out, inp, weight, bias, rows, in_features, out_features);
  }
  void matmul_backward(Tensor d_inp, Tensor d_weight, Tensor d_bias, const Tensor& d_out,
                       const Tensor& inp, const Tensor& weight, int rows, int in_features,
                       int out_features, Accumulate d_inp_mode, Accumulate d_weight_mode) override {
    count("matmul_backward");
    inner_->matmul_backward(d_inp, d_weight, d_bias, d_out, inp, weight, rows, in_features,
                            out_features, d_inp_mode, d_weight_mode);
  }
  void bias_activation_forward(Activation act, Tensor out, const Tensor& pre, const Tensor& bias,
                               int rows, int width) override {
    count("bias_activation_forward");
    inner_->bias_activation_forward(act, out, pre, bias, rows, width);
  }
  void bias_activation_backward(Activation act, Tensor d_pre, Tensor d_bias, const Tensor& d_out,
                                const Tensor& pre, const Tensor& bias, int rows,
                                int width) override {
    count("bias_activation_backward");
    inner_->bias_activation_backward(act, d_pre, d_bias, d_out, pre, bias, rows, width);
  }
  void attention_forward(Tensor ctx, Tensor lse, const Tensor& qkv, const Tensor& cu_seqlens,
                         const AttentionShape& shape, const DropoutSpec& dropout) override {
    count("attention_forward");
    inner_->attention_forward(ctx, lse, qkv, cu_seqlens, shape, dropout);
  }
  void attention_backward(Tensor d_qkv, const Tensor& d_ctx, const Tensor& qkv, const Tensor& ctx,
                          const Tensor& lse, const Tensor& cu_seqlens, const AttentionShape& shape,
                          const DropoutSpec& dropout) override {
    count("attention_backward");
    inner_->attention_backward(d_qkv, d_ctx, qkv, ctx, lse, cu_seqlens, shape, dropout);
  }
  void residual_layernorm_forward(Tensor out, Tensor sum, Tensor mean, Tensor rstd,
                                  const Tensor& branch, const Tensor& residual, const Tensor& gamma,
                                  const Tensor& beta, int rows, int width, double eps,
                                  const DropoutSpec& dropout) override {
    count("residual_layernorm_forward");
    inner_->residual_layernorm_forward(out, sum, mean, rstd, branch, residual, gamma, beta, rows,
                                       width, eps, dropout);
  }
  void residual_layernorm_backward(Tensor d_branch, Tensor d_residual, Tensor d_gamma,
                                   Tensor d_beta, const Tensor& d_out, const Tensor& sum,
                                   const Tensor& mean, const Tensor& rstd, const Tensor& gamma,
                                   int rows, int width, const DropoutSpec& dropout,
                                   Accumulate residual_mode) override {
    count("residual_layernorm_backward");
    inner_->residual_layernorm_backward(d_branch, d_residual, d_gamma, d_beta, d_out, sum, mean,
                                        rstd, gamma, rows, width, dropout, residual_mode);
  }
  void qa_loss(Tensor d_logits, Tensor losses, const Tensor& logits, const Tensor& cu_seqlens,
               const Tensor& start_positions, const Tensor& end_positions, int batch,
               double d_loss_scale) override {
    count("qa_loss");
    inner_->qa_loss(d_logits, losses, logits, cu_seqlens, start_positions, end_positions, batch,
                    d_loss_scale);
  }

  double sum_squares(const Tensor& values) override {
    count("sum_squares");
    return inner_->sum_squares(values);
  }
  void adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq,
                    const Tensor& grad, const AdamWHyper& hyper, double grad_scale) override {
    count("adamw_update");
    inner_->adamw_update(master, working, exp_avg, exp_avg_sq, grad, hyper, grad_scale);
  }
  void step_stats_begin(Tensor stats) override {
    count("step_stats_begin");
    inner_->step_stats_begin(stats);
  }
  void accumulate_loss(Tensor stats, const Tensor& losses, size_t n, double weight) override {
    count("accumulate_loss");
    inner_->accumulate_loss(stats, losses, n, weight);
  }
  void grad_norm_and_clip(Tensor stats, const Tensor& grads, double max_norm) override {
    count("grad_norm_and_clip");
    inner_->grad_norm_and_clip(stats, grads, max_norm);
  }
  void adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq,
                    const Tensor& grad, const AdamWHyper& hyper, const Tensor& stats) override {
    count("adamw_update");
    inner_->adamw_update(master, working, exp_avg, exp_avg_sq, grad, hyper, stats);
  }
  void step_stats_end(Tensor stats) override {
    count("step_stats_end");
    inner_->step_stats_end(stats);
  }
  void begin_side_updates() override {
    count("begin_side_updates");
    inner_->begin_side_updates();
  }
  void mark_side_updates(int mark) override {
    count("mark_side_updates", mark);
    inner_->mark_side_updates(mark);
  }
  void end_side_updates() override {
    count("end_side_updates");
    inner_->end_side_updates();
  }
  void wait_side_updates(int mark) override {
    count("wait_side_updates", mark);
    inner_->wait_side_updates(mark);
  }
  void join_side_updates() override {
    count("join_side_updates");
    inner_->join_side_updates();
  }
  void stage_download(const Tensor& src) override {
    count("stage_download");
    inner_->stage_download(src);
  }
  std::vector<double> collect_download() override {
    count("collect_download");
    return inner_->collect_download();
  }

 private:
  void count(const char* op) {
    ++counts_[op];
    calls_.push_back(op);
  }
  void count(const char* op, int mark) {
    ++counts_[op];
    calls_.push_back(std::string(op) + " " + std::to_string(mark));
  }

  std::unique_ptr<Backend> inner_;
  Counts counts_;
  std::vector<std::string> calls_;
  std::vector<ProfileEvent> profile_events_;
};

}  // namespace test
}  // namespace bert
