// Hugging Face model directories: config.json + a vocabulary (vocab.txt or tokenizer.json for
// WordPiece, or a SentencePiece model: spiece.model, sentencepiece.bpe.model, tokenizer.model) +
// model.safetensors or model.safetensors.index.json with its shards, or the older
// pytorch_model.bin or pytorch_model.bin.index.json with its shards (+ tokenizer_config.json),
// loaded into canonical BertForQuestionAnswering parameters and saved so that transformers'
// from_pretrained loads them back.
//
// Loading accepts names with or without the "bert." prefix and LayerNorm "gamma"/"beta";
// ignores tensors a QA model does not use (bert.pooler.*, cls.*, position_ids buffers);
// initialises a missing qa_outputs head; refuses anything else missing, any shape that
// disagrees with config.json, and a vocab.txt with more lines than vocab_size (fewer is
// allowed, as in transformers: word embeddings are often padded to a multiple of 8; a
// SentencePiece model's size is checked by the apps against the loaded tokenizer:
// check_tokenizer_fits).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "io/bert_config.h"
#include "io/param_specs.h"

namespace bert {

struct LoadedModel {
  BertConfig config;
  std::map<std::string, std::vector<float>> tensors;  // canonical names -> float32 values
  std::string vocab_file;          // the directory's vocabulary (find_vocab_file)
  std::vector<std::string> notes;  // what was initialised, renamed, converted, ignored
  bool random_init = false;        // true when the directory held no weights at all
  bool qa_head_initialised = false;  // true when the checkpoint had no qa_outputs (a base model)
};

// The directory's vocabulary file: vocab.txt when present, else the first SentencePiece model
// of spiece.model, sentencepiece.bpe.model, tokenizer.model, else tokenizer.json
// (load_tokenizer's order); InputError naming the directory when there is none. A
// tokenizer.json is a WordPiece tokenizer transformers 5 saved without its vocab.txt; its size,
// like a SentencePiece model's, is checked by the apps against the loaded tokenizer.
std::string find_vocab_file(const std::string& dir);
std::string vocab_file_in(const std::string& dir);  // the same, "" when there is none
bool is_wordpiece_vocab(const std::string& vocab_path);  // any name but *.model
bool is_vocab_txt(const std::string& vocab_path);        // WordPiece, and not tokenizer.json

// Token ids must index the word embeddings: InputError naming the vocabulary file when the
// tokenizer has more tokens than config.json's vocab_size.
void check_tokenizer_fits(int64_t tokenizer_vocab_size, const BertConfig& config, const std::string& vocab_path);

// Loads <dir>: config.json (required), a vocabulary (required, find_vocab_file; a vocab.txt may
// not have more lines than vocab_size), and the weights find_checkpoint names (model.safetensors,
// model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json; F32/F16/BF16/F64,
// converted to float32) when present. A directory with no weights file at all is a config-only
// directory: every parameter is initialised from `seed` (see init_param). A directory whose only
// weights are in a form not read here (TF/Flax files, shards without their index, other
// *.safetensors names) is refused naming them. A Hub id is the apps' to resolve first
// (apps/model_location.h: the Hugging Face cache, or the command that downloads it).
// Throws InputError naming the file and the tensor/field.
LoadedModel load_model_dir(const std::string& dir, uint64_t seed);

// Maps a checkpoint name to the canonical one: adds "bert." before embeddings./encoder./
// pooler., and renames LayerNorm .gamma/.beta to .weight/.bias. Other names are unchanged.
std::string canonical_param_name(const std::string& name);

// Number of lines (tokens) in a vocab.txt.
int64_t count_vocab_lines(const std::string& path);

// Whether save_model_dir can write a file of this name (its vocabulary under any of the names
// find_vocab_file reads): what checkpoint and output directories recognise as theirs.
bool is_saved_model_file_name(const std::string& name);

// What a saved model's tokenizer_config.json records of the tokenizer the run used.
struct SavedTokenizer {
  bool do_lower_case = true;
  bool keep_accents = true;  // a SentencePiece model's (AlbertTokenizer)
  // The source's tokenizer_config.json limit, kept as save_pretrained keeps it (a saved model
  // then clamps --max_seq_length as its source did); 0: none, max_position_embeddings is written.
  int64_t model_max_length = 0;
};

// Writes <dir> (created if needed): config.json, model.safetensors (F32, canonical names,
// metadata {"format": "pt"}), the vocabulary copied from vocab_path (a WordPiece text as
// vocab.txt, a tokenizer.json or SentencePiece *.model under its own name) and
// tokenizer_config.json ({"do_lower_case", "model_max_length" (tokenizer's, else
// max_position_embeddings), "tokenizer_class": "BertTokenizer", or for a SentencePiece model
// "AlbertTokenizer" and "keep_accents"}), each written atomically. `tensors` must hold exactly the
// parameters of bert_qa_param_specs(config) with matching sizes (BertError otherwise); a vocab.txt
// may not have more lines than vocab_size (InputError otherwise). Nothing is written on error.
void save_model_dir(const std::string& dir, const BertConfig& config,
                    const std::map<std::string, std::vector<float>>& tensors,
                    const std::string& vocab_path, const SavedTokenizer& tokenizer = {});

}  // namespace bert
