#include "engine/param_layout.h"

#include <algorithm>

#include "core/error.h"
#include "io/param_specs.h"

namespace bert {

ParamLayout::ParamLayout(const BertConfig& config) : num_layers_(config.num_hidden_layers) {
  std::vector<ParamSpec> specs = bert_qa_param_specs(config);
  std::stable_partition(specs.begin(), specs.end(), [](const ParamSpec& spec) { return spec.decay; });
  const auto aligned = [](size_t offset) { return (offset + kSlotAlignment - 1) / kSlotAlignment * kSlotAlignment; };
  for (const ParamSpec& spec : specs) {
    ParamSlot slot;
    slot.name = spec.name;
    slot.shape = spec.shape;
    slot.numel = 1;
    for (int64_t dim : spec.shape) slot.numel *= static_cast<size_t>(dim);
    // Key and value follow query directly (the fused QKV views); every other tensor starts
    // on a boundary, whatever sizes came before (an intermediate_size of 273 left the
    // LayerNorm parameters after its bias misaligned for the CUDA kernels).
    const bool follows_query = spec.name.find(".attention.self.key.") != std::string::npos ||
                               spec.name.find(".attention.self.value.") != std::string::npos;
    if (!follows_query) total_ = aligned(total_);
    slot.offset = total_;
    slot.decay = spec.decay;
    slot.stage = stage_of(spec.name, config.num_hidden_layers);
    total_ += slot.numel;
    parameter_count_ += slot.numel;
    index_[slot.name] = slots_.size();
    slots_.push_back(slot);
  }
  // The no-decay range starts at its first tensor (aligned, after the gap), or at the end.
  const auto first_no_decay =
      std::find_if(slots_.begin(), slots_.end(), [](const ParamSlot& slot) { return !slot.decay; });
  decay_count_ = first_no_decay == slots_.end() ? total_ : first_no_decay->offset;
  // The fused QKV views rely on query, key and value being adjacent.
  for (int layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string prefix = "bert.encoder.layer." + std::to_string(layer) + ".attention.self.";
    for (const char* kind : {"weight", "bias"}) {
      const ParamSlot& query = slot(prefix + "query." + kind);
      const ParamSlot& key = slot(prefix + "key." + kind);
      const ParamSlot& value = slot(prefix + "value." + kind);
      BERT_CHECK(key.offset == query.offset + query.numel && value.offset == key.offset + key.numel,
                 "query/key/value parameters must be adjacent in the flat layout");
    }
  }
}

int ParamLayout::stage_of(const std::string& name, int num_layers) {
  static const std::string kLayerPrefix = "bert.encoder.layer.";
  if (name.rfind(kLayerPrefix, 0) == 0) {
    const size_t digits = name.find_first_not_of("0123456789", kLayerPrefix.size());
    if (digits > kLayerPrefix.size() && digits <= kLayerPrefix.size() + 6 &&
        digits != std::string::npos && name[digits] == '.') {
      const int layer = std::stoi(name.substr(kLayerPrefix.size(), digits - kLayerPrefix.size()));
      if (layer < num_layers) return layer + 1;
    }
  } else if (name.rfind("bert.embeddings.", 0) == 0) {
    return 0;
  } else if (name.rfind("qa_outputs.", 0) == 0) {
    return num_layers + 1;
  }
  throw BertError("parameter " + name + " belongs to no stage of a " + std::to_string(num_layers) +
                  "-layer BertForQuestionAnswering");
}

std::vector<StageRange> ParamLayout::stage_ranges() const {
  std::vector<StageRange> ranges;
  for (int stage = 0; stage < stage_count(); ++stage) {
    for (const bool decay : {true, false}) {
      // Slots of one stage and decay group are adjacent: the layout keeps the canonical order
      // inside each group.
      for (size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].stage != stage || slots_[i].decay != decay) continue;
        const size_t end = slot_end(i);
        if (!ranges.empty() && ranges.back().stage == stage && ranges.back().decay == decay &&
            ranges.back().offset + ranges.back().count == slots_[i].offset) {
          ranges.back().count = end - ranges.back().offset;
        } else {
          ranges.push_back(StageRange{stage, slots_[i].offset, end - slots_[i].offset, decay});
        }
      }
    }
  }
  return ranges;
}

size_t ParamLayout::slot_end(size_t index) const {
  return index + 1 < slots_.size() ? slots_[index + 1].offset : total_;
}

const ParamSlot& ParamLayout::slot(const std::string& name) const {
  auto found = index_.find(name);
  if (found == index_.end()) throw BertError("unknown parameter " + name);
  return slots_[found->second];
}

size_t ParamLayout::qkv_weight_offset(int layer) const {
  return slot("bert.encoder.layer." + std::to_string(layer) + ".attention.self.query.weight").offset;
}

size_t ParamLayout::qkv_bias_offset(int layer) const {
  return slot("bert.encoder.layer." + std::to_string(layer) + ".attention.self.query.bias").offset;
}

}  // namespace bert
