// See kernel_limits.h.
#include "kernels/kernel_limits.h"

namespace bert {

std::optional<ModelSizeProblem> cuda_kernels_model_size_problem(int hidden_size, int num_attention_heads) {
  const std::string hidden = std::to_string(hidden_size);
  if (hidden_size % kLayerNormWidthMultiple != 0)
    return ModelSizeProblem{"hidden_size", hidden + " is not a multiple of " +
                                               std::to_string(kLayerNormWidthMultiple) +
                                               ", which the CUDA LayerNorm kernels need"};
  if (hidden_size > kLayerNormMaxWidth)
    return ModelSizeProblem{"hidden_size", hidden + " is above " + std::to_string(kLayerNormMaxWidth) +
                                               ", the widest row the CUDA LayerNorm kernels hold"};
  const int head_dim = num_attention_heads > 0 ? hidden_size / num_attention_heads : 0;
  if (head_dim > kMaxAttentionHeadDim)
    return ModelSizeProblem{"num_attention_heads",
                            std::to_string(num_attention_heads) + " heads of hidden_size " + hidden +
                                " are heads of " + std::to_string(head_dim) +
                                " dimensions; the CUDA attention kernels run head_dim 1 to " +
                                std::to_string(kMaxAttentionHeadDim)};
  return std::nullopt;
}

}  // namespace bert
