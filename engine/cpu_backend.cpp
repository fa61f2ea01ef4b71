// CPU backend: the ops interface on the references in kernels/*_ref.cpp, in float (a complete
// trainer for machines without a GPU) or double (the oracle the golden test and the GPU
// tests compare against). Master and working weights are the same memory.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "core/error.h"
#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/cpu_parallel.h"
#include "kernels/dropout.h"
#include "kernels/embedding.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/qa_loss.h"

namespace bert {
namespace {

template <typename T>
constexpr ScalarType kComputeType = std::is_same_v<T, double> ? ScalarType::kF64 : ScalarType::kF32;

template <typename T>
class CpuBackend final : public Backend {
 public:
  std::string name() const override { return std::is_same_v<T, double> ? "cpu-double" : "cpu"; }
  ScalarType dtype_for(BufferRole role) const override {
    if (role == BufferRole::kStepStats) return ScalarType::kF64;
    return role == BufferRole::kIndex ? ScalarType::kI32 : kComputeType<T>;
  }
  bool has_working_params() const override { return false; }

  Tensor allocate(size_t numel, BufferRole role) override {
    const ScalarType dtype = dtype_for(role);
    // 64-byte alignment for BLAS; zero-filled like every backend's allocations.
    const size_t bytes = std::max<size_t>(64, (numel * scalar_size(dtype) + 63) / 64 * 64);
    void* data = std::aligned_alloc(64, bytes);
    if (!data) throw BertError("cpu backend: out of memory allocating " + std::to_string(bytes) + " bytes");
    std::memset(data, 0, bytes);
    buffers_.emplace_back(data, &std::free);
    return Tensor{data, numel, dtype};
  }
  void fill_zero(Tensor tensor) override {
    std::memset(tensor.data, 0, tensor.numel * scalar_size(tensor.dtype));
  }
  void upload(Tensor dst, const float* src, size_t count) override { convert_in(dst, src, count); }
  void upload(Tensor dst, const double* src, size_t count) override { convert_in(dst, src, count); }
  void upload(Tensor dst, const int32_t* src, size_t count) override {
    BERT_CHECK(dst.dtype == ScalarType::kI32 && count <= dst.numel, "index upload");
    std::memcpy(dst.data, src, count * sizeof(int32_t));
  }
  std::vector<double> download(const Tensor& src) override {
    if (src.dtype == ScalarType::kI32) {
      const int32_t* values = static_cast<const int32_t*>(src.data);
      return std::vector<double>(values, values + src.numel);
    }
    if (src.dtype == ScalarType::kF64) {
      const double* values = static_cast<const double*>(src.data);
      return std::vector<double>(values, values + src.numel);
    }
    const T* values = as(src);
    return std::vector<double>(values, values + src.numel);
  }
  void download_f32(const Tensor& src, float* out) override {
    if (src.dtype == ScalarType::kF32)
      std::memcpy(out, src.data, src.numel * sizeof(float));
    else
      Backend::download_f32(src, out);
  }
  void copy(Tensor dst, const Tensor& src) override {
    BERT_CHECK(dst.numel == src.numel && dst.dtype == src.dtype, "copy between tensors of different shape");
    std::memmove(dst.data, src.data, src.numel * scalar_size(src.dtype));
  }
  void synchronize() override {}

  void embeddings_forward(Tensor out, Tensor sum, Tensor mean, Tensor rstd, const Tensor& input_ids,
                          const Tensor& token_type_ids, const Tensor& position_ids, const Tensor& word,
                          const Tensor& position, const Tensor& token_type, const Tensor& gamma,
                          const Tensor& beta, int tokens, int hidden, double eps,
                          const DropoutSpec& dropout) override {
    embedding_forward_ref(as(sum), ids(input_ids), ids(token_type_ids), ids(position_ids), as(word),
                          as(position), as(token_type), tokens, hidden);
    layernorm_forward_ref(as(out), as(mean), as(rstd), as(sum), as(gamma), as(beta), tokens, hidden, eps);
    if (dropout.active()) dropout_forward_ref(as(out), as(out), size_t(tokens) * hidden, dropout);
  }

  void embeddings_backward(Tensor d_word, Tensor d_position, Tensor d_token_type, Tensor d_gamma,
                           Tensor d_beta, const Tensor& d_out, const Tensor& sum, const Tensor& mean,
                           const Tensor& rstd, const Tensor& gamma, const Tensor& input_ids,
                           const Tensor& token_type_ids, const Tensor& position_ids, int tokens,
                           int hidden, int padding_idx, const DropoutSpec& dropout) override {
    const size_t count = size_t(tokens) * hidden;
    scratch_a_.resize(count);
    scratch_b_.resize(count);
    dropout_backward_ref(scratch_a_.data(), as(d_out), count, dropout, Accumulate::kOverwrite);
    layernorm_backward_ref(scratch_b_.data(), as(d_gamma), as(d_beta), scratch_a_.data(), as(sum),
                           as(gamma), as(mean), as(rstd), tokens, hidden, Accumulate::kOverwrite);
    embedding_backward_ref(as(d_word), as(d_position), as(d_token_type), scratch_b_.data(),
                           ids(input_ids), ids(token_type_ids), ids(position_ids), tokens, hidden,
                           padding_idx);
  }

  void matmul_forward(Tensor out, const Tensor& inp, const Tensor& weight, const Tensor& bias, int rows,
                      int in_features, int out_features) override {
    matmul_forward_ref(as(out), as(inp), as(weight), bias.empty() ? nullptr : as(bias), rows,
                       in_features, out_features);
  }
  void matmul_backward(Tensor d_inp, Tensor d_weight, Tensor d_bias, const Tensor& d_out,
                       const Tensor& inp, const Tensor& weight, int rows, int in_features,
                       int out_features, Accumulate d_inp_mode, Accumulate d_weight_mode) override {
    matmul_backward_ref(d_inp.empty() ? nullptr : as(d_inp), as(d_weight),
                        d_bias.empty() ? nullptr : as(d_bias), as(d_out), as(inp), as(weight), rows,
                        in_features, out_features, d_inp_mode, d_weight_mode);
  }

  void bias_activation_forward(Activation act, Tensor out, const Tensor& pre, const Tensor& bias,
                               int rows, int width) override {
    bias_activation_forward_ref(act, as(out), as(pre), as(bias), rows, width);
  }
  void bias_activation_backward(Activation act, Tensor d_pre, Tensor d_bias, const Tensor& d_out,
                                const Tensor& pre, const Tensor& bias, int rows,
                                int width) override {
    bias_activation_backward_ref(act, as(d_pre), as(d_bias), as(d_out), as(pre), as(bias), rows,
                                 width);
  }

  void attention_forward(Tensor ctx, Tensor lse, const Tensor& qkv, const Tensor& cu_seqlens,
                         const AttentionShape& shape, const DropoutSpec& dropout) override {
    attention_forward_ref(as(ctx), as(lse), as(qkv), ids(cu_seqlens), shape, dropout);
  }
  void attention_backward(Tensor d_qkv, const Tensor& d_ctx, const Tensor& qkv, const Tensor& ctx,
                          const Tensor& lse, const Tensor& cu_seqlens, const AttentionShape& shape,
                          const DropoutSpec& dropout) override {
    attention_backward_ref(as(d_qkv), as(d_ctx), as(qkv), as(ctx), as(lse), ids(cu_seqlens), shape,
                           dropout);
  }

  void residual_layernorm_forward(Tensor out, Tensor sum, Tensor mean, Tensor rstd, const Tensor& branch,
                                  const Tensor& residual, const Tensor& gamma, const Tensor& beta,
                                  int rows, int width, double eps, const DropoutSpec& dropout) override {
    residual_dropout_layernorm_forward_ref(as(out), as(sum), as(mean), as(rstd), as(branch), as(residual),
                                           as(gamma), as(beta), rows, width, eps, dropout);
  }
  void residual_layernorm_backward(Tensor d_branch, Tensor d_residual, Tensor d_gamma, Tensor d_beta,
                                   const Tensor& d_out, const Tensor& sum, const Tensor& mean,
                                   const Tensor& rstd, const Tensor& gamma, int rows, int width,
                                   const DropoutSpec& dropout, Accumulate residual_mode) override {
    residual_dropout_layernorm_backward_ref(d_branch.empty() ? nullptr : as(d_branch), as(d_residual),
                                            as(d_gamma), as(d_beta), as(d_out), as(sum), as(gamma),
                                            as(mean), as(rstd), rows, width, dropout, residual_mode);
  }

  void qa_loss(Tensor d_logits, Tensor losses, const Tensor& logits, const Tensor& cu_seqlens,
               const Tensor& start_positions, const Tensor& end_positions, int batch,
               double d_loss_scale) override {
    qa_loss_forward_backward_ref(as(d_logits), as(losses), as(logits), ids(cu_seqlens),
                                 ids(start_positions), ids(end_positions), batch,
                                 static_cast<T>(d_loss_scale));
  }

  double sum_squares(const Tensor& values) override { return sum_squares_ref(as(values), values.numel); }
  void adamw_update(Tensor master, Tensor /*working*/, Tensor exp_avg, Tensor exp_avg_sq,
                    const Tensor& grad, const AdamWHyper& hyper, double grad_scale) override {
    adamw_update_ref(as(master), as(exp_avg), as(exp_avg_sq), as(grad), master.numel, hyper, grad_scale);
  }

  void step_stats_begin(Tensor stats) override {
    double* s = step_stats(stats);
    std::fill(s, s + kStepUpdatesDone, 0.0);
  }
  void accumulate_loss(Tensor stats, const Tensor& losses, size_t count, double weight) override {
    BERT_CHECK(count <= losses.numel, "accumulate_loss: " + std::to_string(count) + " losses of " +
                                          std::to_string(losses.numel));
    const T* values = as(losses);
    double sum = 0;
    for (size_t i = 0; i < count; ++i) sum += static_cast<double>(values[i]);
    step_stats(stats)[kStepLossSum] += weight * sum;
  }
  void grad_norm_and_clip(Tensor stats, const Tensor& grads, double max_norm) override {
    double* s = step_stats(stats);
    s[kStepGradSumSquares] = sum_squares_ref(as(grads), grads.numel);
    s[kStepClipScale] = clip_scale_from_sum_squares(s[kStepGradSumSquares], max_norm);
    s[kStepApplied] = std::isfinite(s[kStepLossSum]) && std::isfinite(s[kStepGradSumSquares]) ? 1.0 : 0.0;
  }
  void adamw_update(Tensor master, Tensor working, Tensor exp_avg, Tensor exp_avg_sq, const Tensor& grad,
                    const AdamWHyper& hyper, const Tensor& stats) override {
    const double* s = step_stats(stats);
    if (s[kStepApplied] == 0.0) return;
    AdamWHyper stepped = hyper;
    stepped.step = static_cast<int64_t>(s[kStepUpdatesDone]) + 1;
    adamw_update(master, working, exp_avg, exp_avg_sq, grad, stepped, s[kStepClipScale]);
  }
  void step_stats_end(Tensor stats) override {
    double* s = step_stats(stats);
    s[kStepUpdatesDone] += s[kStepApplied];
  }
  void stage_download(const Tensor& src) override {
    BERT_CHECK(!staged_pending_, "stage_download: a staged download is still pending");
    BERT_CHECK(src.dtype == ScalarType::kF64 && src.numel <= kMaxStagedDownload,
               std::string("stage_download: expected a f64 tensor of at most ") +
                   std::to_string(kMaxStagedDownload) + " elements, got a " + scalar_name(src.dtype) +
                   " tensor of " + std::to_string(src.numel));
    const double* values = static_cast<const double*>(src.data);
    staged_.assign(values, values + src.numel);
    staged_pending_ = true;
  }
  std::vector<double> collect_download() override {
    BERT_CHECK(staged_pending_, "collect_download: nothing staged");
    staged_pending_ = false;
    return staged_;
  }

 private:
  static T* as(const Tensor& tensor) {
    BERT_CHECK(tensor.dtype == kComputeType<T>, std::string("expected a ") +
                                                    scalar_name(kComputeType<T>) + " tensor, got " +
                                                    scalar_name(tensor.dtype));
    return static_cast<T*>(tensor.data);
  }
  static double* step_stats(const Tensor& tensor) {
    BERT_CHECK(tensor.dtype == ScalarType::kF64 && tensor.numel >= kStepStatsCount,
               "expected a kStepStats tensor (f64, " + std::to_string(kStepStatsCount) + " elements)");
    return static_cast<double*>(tensor.data);
  }
  static const int32_t* ids(const Tensor& tensor) {
    BERT_CHECK(tensor.dtype == ScalarType::kI32, "expected an index tensor");
    return static_cast<const int32_t*>(tensor.data);
  }
  template <typename Source>
  void convert_in(Tensor dst, const Source* src, size_t count) {
    BERT_CHECK(count <= dst.numel, "upload of " + std::to_string(count) + " values into " +
                                       std::to_string(dst.numel));
    if (dst.dtype == ScalarType::kF64 && kComputeType<T> != ScalarType::kF64) {  // step statistics
      double* out = static_cast<double*>(dst.data);
      for (size_t i = 0; i < count; ++i) out[i] = static_cast<double>(src[i]);
      return;
    }
    T* out = as(dst);
    for (size_t i = 0; i < count; ++i) out[i] = static_cast<T>(src[i]);
  }

  std::vector<std::unique_ptr<void, decltype(&std::free)>> buffers_;
  std::vector<T> scratch_a_, scratch_b_;  // backward temporaries, grown once to the largest use
  std::vector<double> staged_;            // stage_download's copy
  bool staged_pending_ = false;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(bool double_precision) {
  cpu::check_cpu_features();
  if (double_precision) return std::make_unique<CpuBackend<double>>();
  return std::make_unique<CpuBackend<float>>();
}

}  // namespace bert
