// The model's ops on the CUDA kernels, for T = bf16 (default) or float (the fp32 compute
// switch): CudaBackendOps<T> adds them to CudaBackendBase. Each op checks every tensor's dtype
// and size, then queues kernels on the backend's stream; none synchronises. Ops that need
// scratch size it from the capacity of the buffers they are given (see capacity_rows()).
#include <cuda_runtime_api.h>

#include <algorithm>
#include <type_traits>

#include "core/error.h"
#include "engine/cuda/cuda_backend_base.h"
#include "kernels/attention.h"
#include "kernels/cuda_check.h"
#include "kernels/dropout.h"
#include "kernels/embedding.h"
#include "kernels/gelu.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/qa_loss.h"

namespace bert {
namespace {

size_t align256(size_t bytes) { return (bytes + 255) / 256 * 256; }
size_t count_of(int rows, int width) { return static_cast<size_t>(rows) * static_cast<size_t>(width); }

template <typename T>
class CudaBackendOps final : public CudaBackendBase {
 public:
  using CudaBackendBase::CudaBackendBase;

  std::string name() const override { return std::is_same_v<T, float> ? "cuda-fp32" : "cuda"; }

  void embeddings_forward(Tensor out, Tensor sum, Tensor mean, Tensor rstd, const Tensor& input_ids,
                          const Tensor& token_type_ids, const Tensor& position_ids, const Tensor& word,
                          const Tensor& position, const Tensor& token_type, const Tensor& gamma,
                          const Tensor& beta, int tokens, int hidden, double eps,
                          const DropoutSpec& dropout) override {
    const char* op = "embeddings_forward";
    check_dims(tokens, hidden, op);
    const size_t count = count_of(tokens, hidden);
    T* out_data = act(out, count, op, "out");
    T* sum_data = act(sum, count, op, "sum");
    embedding_forward_cuda(sum_data, ids(input_ids, tokens, op, "input_ids"),
                           ids(token_type_ids, tokens, op, "token_type_ids"),
                           ids(position_ids, tokens, op, "position_ids"), act(word, hidden, op, "word"),
                           act(position, hidden, op, "position"), act(token_type, hidden, op, "token_type"),
                           tokens, hidden, stream());
    layernorm_forward_cuda(out_data, f32(mean, tokens, op, "mean"), f32(rstd, tokens, op, "rstd"), sum_data,
                           act(gamma, hidden, op, "gamma"), act(beta, hidden, op, "beta"), tokens, hidden,
                           static_cast<float>(eps), stream());
    if (dropout.active()) dropout_forward_cuda(out_data, out_data, count, dropout, stream());
  }

  void embeddings_backward(Tensor d_word, Tensor d_position, Tensor d_token_type, Tensor d_gamma,
                           Tensor d_beta, const Tensor& d_out, const Tensor& sum, const Tensor& mean,
                           const Tensor& rstd, const Tensor& gamma, const Tensor& input_ids,
                           const Tensor& token_type_ids, const Tensor& position_ids, int tokens, int hidden,
                           int padding_idx, const DropoutSpec& dropout) override {
    const char* op = "embeddings_backward";
    check_dims(tokens, hidden, op);
    const size_t count = count_of(tokens, hidden);
    const EmbeddingTableSizes sizes{table_rows(d_word, hidden, op, "d_word"),
                                    table_rows(d_position, hidden, op, "d_position"),
                                    table_rows(d_token_type, hidden, op, "d_token_type")};
    const T* d_out_data = act(d_out, count, op, "d_out");
    // Scratch: [dropout backward output | LayerNorm input gradient | kernel workspace].
    const int cap = capacity_rows(d_out, hidden, tokens);
    const size_t temp_bytes = align256(count_of(cap, hidden) * scalar_size(activation_dtype()));
    const size_t workspace_bytes = std::max({layernorm_backward_workspace_bytes(cap, hidden),
                                             layernorm_backward_workspace_bytes(tokens, hidden),
                                             embedding_backward_workspace_bytes(cap, hidden, sizes),
                                             embedding_backward_workspace_bytes(tokens, hidden, sizes)});
    const GpuWorkspace block = scratch(2 * temp_bytes + workspace_bytes);
    char* base = static_cast<char*>(block.data);
    T* dropped = reinterpret_cast<T*>(base);
    T* d_sum = reinterpret_cast<T*>(base + temp_bytes);
    const GpuWorkspace workspace{base + 2 * temp_bytes, block.bytes - 2 * temp_bytes};

    const T* d_normalized = d_out_data;
    if (dropout.active()) {
      dropout_backward_cuda(dropped, d_out_data, count, dropout, Accumulate::kOverwrite, stream());
      d_normalized = dropped;
    }
    layernorm_backward_cuda(d_sum, f32(d_gamma, hidden, op, "d_gamma"), f32(d_beta, hidden, op, "d_beta"),
                            d_normalized, act(sum, count, op, "sum"), act(gamma, hidden, op, "gamma"),
                            f32(mean, tokens, op, "mean"), f32(rstd, tokens, op, "rstd"), tokens, hidden,
                            Accumulate::kOverwrite, workspace, stream());
    embedding_backward_cuda(
        f32(d_word, hidden, op, "d_word"), f32(d_position, hidden, op, "d_position"),
        f32(d_token_type, hidden, op, "d_token_type"), d_sum, ids(input_ids, tokens, op, "input_ids"),
        ids(token_type_ids, tokens, op, "token_type_ids"), ids(position_ids, tokens, op, "position_ids"),
        tokens, hidden, sizes, padding_idx, workspace, stream());
  }

  void matmul_forward(Tensor out, const Tensor& inp, const Tensor& weight, const Tensor& bias, int rows,
                      int in_features, int out_features) override {
    const char* op = "matmul_forward";
    check_dims(rows, in_features, op);
    check_dims(rows, out_features, op);
    matmul_forward_cuda(matmul(), act(out, count_of(rows, out_features), op, "out"),
                        act(inp, count_of(rows, in_features), op, "inp"),
                        act(weight, count_of(out_features, in_features), op, "weight"),
                        act_or_null(bias, out_features, op, "bias"), rows, in_features, out_features,
                        stream());
  }

  void matmul_backward(Tensor d_inp, Tensor d_weight, Tensor d_bias, const Tensor& d_out, const Tensor& inp,
                       const Tensor& weight, int rows, int in_features, int out_features,
                       Accumulate d_inp_mode, Accumulate d_weight_mode) override {
    const char* op = "matmul_backward";
    check_dims(rows, in_features, op);
    check_dims(rows, out_features, op);
    GpuWorkspace workspace;
    if (!d_bias.empty()) {
      workspace = scratch_for_rows(matmul_backward_workspace_bytes, d_out, out_features, rows);
    }
    matmul_backward_cuda(matmul(), act_or_null(d_inp, count_of(rows, in_features), op, "d_inp"),
                         f32(d_weight, count_of(out_features, in_features), op, "d_weight"),
                         f32_or_null(d_bias, out_features, op, "d_bias"),
                         act(d_out, count_of(rows, out_features), op, "d_out"),
                         act(inp, count_of(rows, in_features), op, "inp"),
                         act(weight, count_of(out_features, in_features), op, "weight"), rows, in_features,
                         out_features, d_inp_mode, d_weight_mode, workspace, stream());
  }

  void bias_activation_forward(Activation activation, Tensor out, const Tensor& pre,
                               const Tensor& bias, int rows, int width) override {
    const char* op = "bias_activation_forward";
    check_dims(rows, width, op);
    const size_t count = count_of(rows, width);
    bias_activation_forward_cuda(activation, act(out, count, op, "out"), act(pre, count, op, "pre"),
                                 act(bias, width, op, "bias"), rows, width, stream());
  }

  void bias_activation_backward(Activation activation, Tensor d_pre, Tensor d_bias,
                                const Tensor& d_out, const Tensor& pre, const Tensor& bias,
                                int rows, int width) override {
    const char* op = "bias_activation_backward";
    check_dims(rows, width, op);
    const size_t count = count_of(rows, width);
    const GpuWorkspace workspace = scratch_for_rows(bias_gelu_backward_workspace_bytes, d_out, width, rows);
    bias_activation_backward_cuda(activation, act(d_pre, count, op, "d_pre"),
                                  f32(d_bias, width, op, "d_bias"), act(d_out, count, op, "d_out"),
                                  act(pre, count, op, "pre"), act(bias, width, op, "bias"), rows,
                                  width, workspace, stream());
  }

  void attention_forward(Tensor ctx, Tensor lse, const Tensor& qkv, const Tensor& cu_seqlens,
                         const AttentionShape& shape, const DropoutSpec& dropout) override {
    const char* op = "attention_forward";
    check_shape(shape, op);
    const int hidden = shape.heads * shape.head_dim;
    attention_forward_cuda(act(ctx, count_of(shape.tokens, hidden), op, "ctx"),
                           f32(lse, count_of(shape.tokens, shape.heads), op, "lse"),
                           act(qkv, count_of(shape.tokens, 3 * hidden), op, "qkv"),
                           ids(cu_seqlens, static_cast<size_t>(shape.batch) + 1, op, "cu_seqlens"), shape,
                           dropout, stream());
  }

  void attention_backward(Tensor d_qkv, const Tensor& d_ctx, const Tensor& qkv, const Tensor& ctx,
                          const Tensor& lse, const Tensor& cu_seqlens, const AttentionShape& shape,
                          const DropoutSpec& dropout) override {
    const char* op = "attention_backward";
    check_shape(shape, op);
    const int hidden = shape.heads * shape.head_dim;
    AttentionShape capacity = shape;
    capacity.tokens = capacity_rows(lse, shape.heads, shape.tokens);
    const GpuWorkspace workspace = scratch(
        std::max(attention_backward_workspace_bytes(capacity), attention_backward_workspace_bytes(shape)));
    attention_backward_cuda(act(d_qkv, count_of(shape.tokens, 3 * hidden), op, "d_qkv"),
                            act(d_ctx, count_of(shape.tokens, hidden), op, "d_ctx"),
                            act(qkv, count_of(shape.tokens, 3 * hidden), op, "qkv"),
                            act(ctx, count_of(shape.tokens, hidden), op, "ctx"),
                            f32(lse, count_of(shape.tokens, shape.heads), op, "lse"),
                            ids(cu_seqlens, static_cast<size_t>(shape.batch) + 1, op, "cu_seqlens"), shape,
                            dropout, workspace, stream());
  }

  void residual_layernorm_forward(Tensor out, Tensor sum, Tensor mean, Tensor rstd, const Tensor& branch,
                                  const Tensor& residual, const Tensor& gamma, const Tensor& beta, int rows,
                                  int width, double eps, const DropoutSpec& dropout) override {
    const char* op = "residual_layernorm_forward";
    check_dims(rows, width, op);
    const size_t count = count_of(rows, width);
    residual_dropout_layernorm_forward_cuda(
        act(out, count, op, "out"), act(sum, count, op, "sum"), f32(mean, rows, op, "mean"),
        f32(rstd, rows, op, "rstd"), act(branch, count, op, "branch"), act(residual, count, op, "residual"),
        act(gamma, width, op, "gamma"), act(beta, width, op, "beta"), rows, width,
        static_cast<float>(eps), dropout, stream());
  }

  void residual_layernorm_backward(Tensor d_branch, Tensor d_residual, Tensor d_gamma, Tensor d_beta,
                                   const Tensor& d_out, const Tensor& sum, const Tensor& mean,
                                   const Tensor& rstd, const Tensor& gamma, int rows, int width,
                                   const DropoutSpec& dropout, Accumulate residual_mode) override {
    const char* op = "residual_layernorm_backward";
    check_dims(rows, width, op);
    const size_t count = count_of(rows, width);
    const GpuWorkspace workspace = scratch_for_rows(layernorm_backward_workspace_bytes, d_out, width, rows);
    residual_dropout_layernorm_backward_cuda(
        act(d_branch, count, op, "d_branch"), act(d_residual, count, op, "d_residual"),
        f32(d_gamma, width, op, "d_gamma"), f32(d_beta, width, op, "d_beta"), act(d_out, count, op, "d_out"),
        act(sum, count, op, "sum"), act(gamma, width, op, "gamma"), f32(mean, rows, op, "mean"),
        f32(rstd, rows, op, "rstd"), rows, width, dropout, residual_mode, workspace, stream());
  }

  void qa_loss(Tensor d_logits, Tensor losses, const Tensor& logits, const Tensor& cu_seqlens,
               const Tensor& start_positions, const Tensor& end_positions, int batch,
               double d_loss_scale) override {
    const char* op = "qa_loss";
    BERT_CHECK(batch > 0, std::string("cuda backend: ") + op + ": batch " + std::to_string(batch));
    BERT_CHECK(logits.numel % 2 == 0 && d_logits.numel >= logits.numel,
               std::string("cuda backend: ") + op + ": logits of " + std::to_string(logits.numel) +
                   " values (expected [tokens, 2]), d_logits of " + std::to_string(d_logits.numel));
    qa_loss_forward_backward_cuda(
        act(d_logits, logits.numel, op, "d_logits"),
        f32(losses, static_cast<size_t>(batch) * 2, op, "losses"), act(logits, logits.numel, op, "logits"),
        ids(cu_seqlens, static_cast<size_t>(batch) + 1, op, "cu_seqlens"),
        ids(start_positions, batch, op, "start_positions"), ids(end_positions, batch, op, "end_positions"),
        batch, static_cast<float>(d_loss_scale), stream());
  }

 private:
  T* act(const Tensor& tensor, size_t need, const char* op, const char* what) const {
    return static_cast<T*>(checked(tensor, activation_dtype(), need, op, what));
  }
  T* act_or_null(const Tensor& tensor, size_t need, const char* op, const char* what) const {
    return tensor.empty() ? nullptr : act(tensor, need, op, what);
  }
  static void check_dims(int rows, int width, const char* op) {
    BERT_CHECK(rows >= 0 && width > 0, std::string("cuda backend: ") + op + ": rows " + std::to_string(rows) +
                                           ", width " + std::to_string(width));
  }
  static void check_shape(const AttentionShape& shape, const char* op) {
    BERT_CHECK(shape.tokens >= 0 && shape.batch >= 0 && shape.heads > 0 && shape.head_dim > 0,
               std::string("cuda backend: ") + op + ": tokens " + std::to_string(shape.tokens) + ", batch " +
                   std::to_string(shape.batch) + ", heads " + std::to_string(shape.heads) + ", head_dim " +
                   std::to_string(shape.head_dim));
  }
  // Rows of a [rows, hidden] gradient table (its numel must be a multiple of hidden).
  static int table_rows(const Tensor& table, int hidden, const char* op, const char* what) {
    BERT_CHECK(table.numel > 0 && table.numel % hidden == 0,
               std::string("cuda backend: ") + op + ": " + what + " holds " + std::to_string(table.numel) +
                   " values, not a [rows, " + std::to_string(hidden) + "] table");
    return static_cast<int>(table.numel / hidden);
  }
};

std::unique_ptr<Backend> cuda_factory(const CudaBackendOptions& options, std::string* note) {
  std::string why_not;
  if (cuda_device_count(&why_not) == 0) {
    if (note != nullptr) *note = why_not;
    return nullptr;
  }
  std::unique_ptr<CudaBackend> backend = make_cuda_backend(options);
  if (note != nullptr) *note = backend->device_description();
  return backend;
}

}  // namespace

int cuda_device_count(std::string* why_not) {
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    if (why_not != nullptr)
      *why_not = std::string("no usable CUDA device (") + cudaGetErrorString(status) + ")";
    return 0;
  }
  if (devices == 0 && why_not != nullptr) *why_not = "no CUDA device found";
  return devices;
}

std::unique_ptr<CudaBackend> make_cuda_backend(const CudaBackendOptions& options) {
  std::string why_not;
  if (cuda_device_count(&why_not) == 0) throw BertError("cuda backend: " + why_not);
  if (options.fp32_compute) return std::make_unique<CudaBackendOps<float>>(options);
  return std::make_unique<CudaBackendOps<bf16>>(options);
}

void register_cuda_backend() { register_cuda_backend_factory(&cuda_factory); }

}  // namespace bert
