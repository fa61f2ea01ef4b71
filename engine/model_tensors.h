// The model's parameters as typed views into one flat buffer, resolved once from the layout
// (engine/param_layout.h) when the model is built: the forward/backward sequence names fields
// (layer.attention_output.weight) instead of building and looking up name strings on every
// call. One instance views the working copy, another the gradients.
#pragma once

#include <vector>

#include "core/tensor.h"
#include "engine/param_layout.h"

namespace bert {

struct LinearTensors {
  Tensor weight, bias;  // [out, in] and [out]
};

struct LayerNormTensors {
  Tensor weight, bias;  // gamma and beta, [hidden] each
};

struct EncoderLayerTensors {
  LinearTensors qkv;  // query, key, value adjacent in the layout: one [3H, H] weight, one [3H] bias
  LinearTensors attention_output;
  LayerNormTensors attention_norm;
  LinearTensors intermediate, output;  // [F, H] and [H, F]
  LayerNormTensors output_norm;
};

struct BertQaTensors {
  Tensor word_embeddings, position_embeddings, token_type_embeddings;
  LayerNormTensors embeddings_norm;
  std::vector<EncoderLayerTensors> layers;
  LinearTensors qa_outputs;  // [2, H]: start and end logits
};

// Views of `flat` (a buffer laid out by `layout`: working copy or gradients) for every parameter.
BertQaTensors resolve_model_tensors(const ParamLayout& layout, const Tensor& flat, int num_layers);

}  // namespace bert
