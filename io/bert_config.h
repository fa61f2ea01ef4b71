// config.json of a Hugging Face BERT model: read with HF's defaults for missing fields,
// validated against what this engine implements, and written back so that transformers
// loads the directory as BertForQuestionAnswering.
#pragma once

#include <map>
#include <string>

#include "core/activation.h"

namespace bert {

struct BertConfig {
  int vocab_size = 30522;
  int hidden_size = 768;
  int num_hidden_layers = 12;
  int num_attention_heads = 12;
  int intermediate_size = 3072;
  int max_position_embeddings = 512;
  int type_vocab_size = 2;
  double layer_norm_eps = 1e-12;  // a double as in transformers: the float kernels round it, the
                                  // double CPU reference (the test oracle) does not
  float hidden_dropout_prob = 0.1f;
  float attention_probs_dropout_prob = 0.1f;
  float initializer_range = 0.02f;
  std::string hidden_act = "gelu";  // transformers' ACT2FN name (core/activation.h), kept as read
  int pad_token_id = 0;             // -1 when config.json has null (no padding row)
  // The other keys of the config.json read (id2label, classifier_dropout, tie_word_embeddings,
  // ...), each with its value as JSON text, written back as save_pretrained keeps them. Not
  // kept: the keys written from the fields above or fixed (architectures, dtype, model_type,
  // ...), _name_or_path, transformers_version (this engine is not transformers), the labels
  // (num_labels, id2label, label2id: transformers would size the QA head by them), pruned_heads,
  // and a key holding an integer of 20 or more digits (read as a float, it would change; a whole
  // float of 1e19 or more cannot be told from one, and is left out too).
  std::map<std::string, std::string> other_fields;

  int head_dim() const { return hidden_size / num_attention_heads; }
  // The function hidden_act names (a validated config names one).
  Activation activation() const;
};

// Reads and validates config.json. Missing optional fields take HF's defaults; a field of
// the wrong type or value is an InputError naming the file, the field and the expectation:
// sizes positive, hidden_size divisible by num_attention_heads, dropouts in [0, 1),
// layer_norm_eps > 0, hidden_act one of core/activation.h's, model_type (if present) "bert",
// position_embedding_type (if present) "absolute", 0 <= pad_token_id < vocab_size.
BertConfig read_bert_config(const std::string& path);

// Same, from JSON text; `file` is used in messages.
BertConfig parse_bert_config(const std::string& json, const std::string& file);

// Checks the values above; throws InputError naming `file` and the field. Sizes also have
// upper bounds far above any BERT (kMaxConfigSizes below), so that no size arithmetic
// overflows and no absurd model is allocated before check_config_fits_memory can refuse it.
void validate_bert_config(const BertConfig& config, const std::string& file);

// Upper bounds of config.json's sizes (bert-large: 30522, 1024, 24, 16, 4096, 512, 2).
struct ConfigSizeLimits {
  int vocab_size = 1 << 24;
  int hidden_size = 1 << 16;
  int num_hidden_layers = 1 << 10;
  int intermediate_size = 1 << 20;
  int max_position_embeddings = 1 << 20;
  int type_vocab_size = 1 << 16;
};
inline constexpr ConfigSizeLimits kMaxConfigSizes{};

// Parameters of BertForQuestionAnswering for this config (bert-base: 108,893,186), as a
// double so that no size overflows.
double bert_qa_parameter_count(const BertConfig& config);
// Without the three embedding tables (transformers' num_parameters(exclude_embeddings=True):
// every nn.Embedding's weight left out), as Trainer.floating_point_ops counts for total_flos.
double bert_qa_non_embedding_parameter_count(const BertConfig& config);
// The config.json field whose parameters dominate the count ("num_hidden_layers",
// "vocab_size", "max_position_embeddings", ...): what a message about the model's size names.
const char* largest_size_field(const BertConfig& config);

// Throws InputError naming `file`, the dominating field, the parameter count and the bytes
// when bytes_per_parameter x the parameter count exceeds available_bytes (the machine's
// memory), before anything of that size is allocated.
void check_config_fits_memory(const BertConfig& config, const std::string& file, double bytes_per_parameter,
                              double available_bytes);

// config.json text (sorted keys, 2-space indent, like save_pretrained) with
// architectures ["BertForQuestionAnswering"], model_type "bert", dtype/torch_dtype float32.
// Floats are written with the fewest digits that read back as the same float.
// The other_fields follow in the same sorted order (classifier_dropout and use_cache as read,
// else null and true).
std::string bert_config_to_json(const BertConfig& config);
// Whether the two configs describe the same model (other_fields aside): a checkpoint's config
// against the run's.
bool same_model_fields(const BertConfig& a, const BertConfig& b);

}  // namespace bert
