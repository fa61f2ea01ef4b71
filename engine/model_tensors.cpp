#include "engine/model_tensors.h"

#include <string>

namespace bert {
namespace {

Tensor view(const ParamLayout& layout, const Tensor& flat, const std::string& name) {
  const ParamSlot& slot = layout.slot(name);
  return slice(flat, slot.offset, slot.numel);
}

LinearTensors linear(const ParamLayout& layout, const Tensor& flat, const std::string& prefix) {
  return LinearTensors{view(layout, flat, prefix + ".weight"), view(layout, flat, prefix + ".bias")};
}

LayerNormTensors layer_norm(const ParamLayout& layout, const Tensor& flat, const std::string& prefix) {
  return LayerNormTensors{view(layout, flat, prefix + ".weight"), view(layout, flat, prefix + ".bias")};
}

}  // namespace

BertQaTensors resolve_model_tensors(const ParamLayout& layout, const Tensor& flat, int num_layers) {
  BertQaTensors t;
  t.word_embeddings = view(layout, flat, "bert.embeddings.word_embeddings.weight");
  t.position_embeddings = view(layout, flat, "bert.embeddings.position_embeddings.weight");
  t.token_type_embeddings = view(layout, flat, "bert.embeddings.token_type_embeddings.weight");
  t.embeddings_norm = layer_norm(layout, flat, "bert.embeddings.LayerNorm");
  for (int l = 0; l < num_layers; ++l) {
    const std::string layer = "bert.encoder.layer." + std::to_string(l) + ".";
    EncoderLayerTensors e;
    const ParamSlot& query_weight = layout.slot(layer + "attention.self.query.weight");
    const ParamSlot& query_bias = layout.slot(layer + "attention.self.query.bias");
    // ParamLayout checked that key and value follow query directly (weights and biases).
    e.qkv.weight = slice(flat, layout.qkv_weight_offset(l), 3 * query_weight.numel);
    e.qkv.bias = slice(flat, layout.qkv_bias_offset(l), 3 * query_bias.numel);
    e.attention_output = linear(layout, flat, layer + "attention.output.dense");
    e.attention_norm = layer_norm(layout, flat, layer + "attention.output.LayerNorm");
    e.intermediate = linear(layout, flat, layer + "intermediate.dense");
    e.output = linear(layout, flat, layer + "output.dense");
    e.output_norm = layer_norm(layout, flat, layer + "output.LayerNorm");
    t.layers.push_back(e);
  }
  t.qa_outputs = linear(layout, flat, "qa_outputs");
  return t;
}

}  // namespace bert
