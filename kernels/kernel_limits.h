// The model sizes the CUDA kernels run, as host constants: a model can be checked against them
// before any device work, and on machines without a GPU (the CPU references run any size).
// The kernels take their bounds from here (attention_common.cuh, layernorm.cu).
#pragma once

#include <optional>
#include <string>

namespace bert {

// Attention: one thread block maps 64 head columns (the scalar kernels run any head_dim up to
// it; the tensor-core kernels are built for 32 and 64).
constexpr int kMaxAttentionHeadDim = 64;
// LayerNorm: a warp holds a row in registers, read in 4-element (8-byte bf16) pieces.
constexpr int kLayerNormMaxWidth = 1024;
constexpr int kLayerNormWidthMultiple = 4;

// Why a model cannot run: the config.json field to blame and the reason.
struct ModelSizeProblem {
  std::string field;
  std::string reason;
};

// Empty when the CUDA kernels run a BERT of this hidden size and head count (hidden_size a
// positive multiple of num_attention_heads, as config validation ensures).
std::optional<ModelSizeProblem> cuda_kernels_model_size_problem(int hidden_size, int num_attention_heads);

}  // namespace bert
