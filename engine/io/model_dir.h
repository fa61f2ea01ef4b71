// Hugging Face model directories: config.json + vocab.txt + model.safetensors (+
// tokenizer_config.json), loaded into canonical BertForQuestionAnswering parameters and
// saved so that transformers' from_pretrained loads them back.
//
// Loading accepts names with or without the "bert." prefix and LayerNorm "gamma"/"beta";
// ignores tensors a QA model does not use (bert.pooler.*, cls.*, position_ids buffers);
// initialises a missing qa_outputs head; refuses anything else missing, any shape that
// disagrees with config.json, and a vocab.txt whose line count is not vocab_size.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/io/bert_config.h"
#include "engine/io/param_specs.h"

namespace bert {

struct LoadedModel {
  BertConfig config;
  std::map<std::string, std::vector<float>> tensors;  // canonical names -> float32 values
  std::vector<std::string> notes;  // what was initialised, renamed, converted, ignored
  bool random_init = false;        // true when there was no model.safetensors
};

// Loads <dir>: config.json (required), vocab.txt (required; its line count must equal
// vocab_size), model.safetensors (F32/F16/BF16/F64, converted to float32) when present,
// otherwise every parameter is initialised from `seed` (see init_param). A directory with
// only pytorch_model.bin or a sharded checkpoint is refused with a message saying so.
// Throws InputError naming the file and the tensor/field.
LoadedModel load_model_dir(const std::string& dir, uint64_t seed);

// Maps a checkpoint name to the canonical one: adds "bert." before embeddings./encoder./
// pooler., and renames LayerNorm .gamma/.beta to .weight/.bias. Other names are unchanged.
std::string canonical_param_name(const std::string& name);

// Number of lines (tokens) in a vocab.txt.
int64_t count_vocab_lines(const std::string& path);

// Writes <dir> (created if needed): config.json, model.safetensors (F32, canonical names,
// metadata {"format": "pt"}), vocab.txt (copied from vocab_path) and tokenizer_config.json
// ({"do_lower_case", "model_max_length": max_position_embeddings, "tokenizer_class":
// "BertTokenizer"}), each written atomically. `tensors` must hold exactly the parameters
// of bert_qa_param_specs(config) with matching sizes (BertError otherwise); the vocab's
// line count must equal vocab_size (InputError otherwise). Nothing is written on error.
void save_model_dir(const std::string& dir, const BertConfig& config,
                    const std::map<std::string, std::vector<float>>& tensors,
                    const std::string& vocab_path, bool do_lower_case = true);

}  // namespace bert
