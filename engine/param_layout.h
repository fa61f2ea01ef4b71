// Where each BertForQuestionAnswering parameter lives in the flat parameter buffers
// (master weights, working copy, gradients and both Adam moments share one layout).
//
// Order: every weight-decayed tensor first, then the no-decay ones (biases, LayerNorm), so
// AdamW runs as two contiguous ranges; inside each range the canonical (Hugging Face) order
// is kept, which puts query/key/value of a layer back to back: their weights form one fused
// [3·hidden, hidden] matrix and their biases one [3·hidden] vector.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/bert_config.h"

namespace bert {

struct ParamSlot {
  std::string name;  // canonical Hugging Face name, e.g. "bert.encoder.layer.0.attention.self.query.weight"
  std::vector<int64_t> shape;
  size_t offset = 0;  // elements from the start of the flat buffer
  size_t numel = 0;
  bool decay = true;
  // The model stage that uses it (ParamLayout::stage_of): backward finishes the stages from the
  // highest down and the forward pass needs them from 0 up.
  int stage = 0;
};

// A run of the flat buffers that one stage's tensors fill (their alignment gaps included), all
// weight-decayed or none.
struct StageRange {
  int stage = 0;
  size_t offset = 0, count = 0;
  bool decay = true;
};

class ParamLayout {
 public:
  // Every tensor but the key and value (which follow the query) starts at a multiple of this
  // many elements: 32 bytes in bf16, 64 in fp32, what the CUDA kernels' vector loads and
  // cuBLASLt's pointers want. BERT's usual sizes are multiples already, so their layout has
  // no gaps; the gaps of other sizes hold zeros in every buffer (allocations are zero-filled
  // and only tensors are ever written) and are never saved (checkpoints go by name).
  static constexpr size_t kSlotAlignment = 16;

  explicit ParamLayout(const BertConfig& config);

  const std::vector<ParamSlot>& slots() const { return slots_; }  // in offset order
  // Where the extent of slots()[index] ends: the next slot's offset (its alignment gap
  // included), or total() for the last one. The extents tile the buffers.
  size_t slot_end(size_t index) const;
  const ParamSlot& slot(const std::string& name) const;  // throws BertError when unknown
  size_t total() const { return total_; }                      // elements of each flat buffer
  size_t parameter_count() const { return parameter_count_; }  // the tensors' elements alone
  // [0, decay_count) is weight-decayed, [decay_count, total) is not.
  size_t decay_count() const { return decay_count_; }
  // Stages: 0 = the embeddings, l + 1 = encoder layer l, num_layers + 1 = the QA head.
  int stage_count() const { return num_layers_ + 2; }
  // The stage of a canonical parameter name; throws BertError for a name outside the model.
  static int stage_of(const std::string& name, int num_layers);
  // The buffers cut into StageRanges, stage 0 first; each stage's weight-decayed run before its
  // other one. They tile [0, total()).
  std::vector<StageRange> stage_ranges() const;
  // Offset of layer l's fused query/key/value weight [3H, H] and bias [3H].
  size_t qkv_weight_offset(int layer) const;
  size_t qkv_bias_offset(int layer) const;

 private:
  std::vector<ParamSlot> slots_;
  std::map<std::string, size_t> index_;
  size_t total_ = 0;
  size_t parameter_count_ = 0;
  size_t decay_count_ = 0;
  int num_layers_ = 0;
};

}  // namespace bert
