// The parameters of BertForQuestionAnswering under Hugging Face's names, with shapes,
// weight-decay grouping and initialisation, plus a reproducible normal RNG for that init.
//
// Names (canonical: what HF's state_dict holds, in named_parameters() order):
//   bert.embeddings.{word,position,token_type}_embeddings.weight   [vocab|max_pos|types, hidden]
//   bert.embeddings.LayerNorm.{weight,bias}                        [hidden]
//   bert.encoder.layer.{i}.attention.self.{query,key,value}.{weight [hidden, hidden], bias}
//   bert.encoder.layer.{i}.attention.output.dense.{weight [hidden, hidden], bias}
//   bert.encoder.layer.{i}.attention.output.LayerNorm.{weight,bias}
//   bert.encoder.layer.{i}.intermediate.dense.{weight [inter, hidden], bias [inter]}
//   bert.encoder.layer.{i}.output.dense.{weight [hidden, inter], bias [hidden]}
//   bert.encoder.layer.{i}.output.LayerNorm.{weight,bias}
//   qa_outputs.{weight [2, hidden], bias [2]}
// Linear weights are [out, in] as in PyTorch. Init as HF's BertPreTrainedModel:
// N(0, initializer_range) for Linear weights and embeddings (the padding_idx row of the word
// embeddings zeroed), 1 for LayerNorm weights, 0 for every bias.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/bert_config.h"

namespace bert {

enum class InitKind { kNormal, kOnes, kZeros };

struct ParamSpec {
  std::string name;
  std::vector<int64_t> shape;
  bool decay = true;       // false for names ending in ".bias" or containing "LayerNorm"
  InitKind init = InitKind::kNormal;
  int64_t zero_row = -1;   // row zeroed after a normal init (word_embeddings' padding_idx)
  int64_t numel() const;
};

// Every parameter of BertForQuestionAnswering for this config, in HF's order.
std::vector<ParamSpec> bert_qa_param_specs(const BertConfig& config);

// HF Trainer's grouping: no weight decay on biases and LayerNorm parameters.
bool param_has_decay(const std::string& name);

// Standard normal samples: std::mt19937_64 + Box-Muller written out here, so a seed gives
// the same values with every standard library (std::normal_distribution is not portable).
class NormalRng {
 public:
  explicit NormalRng(uint64_t seed) : engine_(seed) {}
  double next();

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// A parameter's initial values. The stream is seeded from (seed, spec.name), so a
// parameter's values do not depend on which other parameters are initialised.
std::vector<float> init_param(const ParamSpec& spec, float initializer_range, uint64_t seed);

// Every parameter of the config, initialised as above; keys are canonical names.
std::map<std::string, std::vector<float>> init_bert_qa_params(const BertConfig& config,
                                                              uint64_t seed);

}  // namespace bert
