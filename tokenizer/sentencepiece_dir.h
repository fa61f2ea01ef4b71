// The files transformers reads beside a SentencePiece model (tokenizer.json,
// tokenizer_config.json, special_tokens_map.json), held to the model SentencePieceTokenizer
// loaded: where transformers would tokenize otherwise, an InputError names the file and field.
#pragma once

#include <string>

#include "tokenizer/sentencepiece_tokenizer.h"

namespace bert {

// - tokenizer.json, when present: its unigram pieces and scores are the model's (transformers
//   tokenizes with that file), but for the number-comma pieces transformers 4's AlbertConverter
//   scored 100 lower, which are lowered in the model too (SentencePieceTokenizer::lower_scores);
//   its added_tokens are special or control pieces of the model at their ids;
// - tokenizer_config.json and special_tokens_map.json: every token transformers would match
//   whole (bos/eos/mask tokens, extra and additional special tokens, added_tokens_decoder) is a
//   special or control piece the model matches whole; AlbertTokenizer's default [MASK] is a piece
//   unless "mask_token" is null (and null only without one).
// (read_tokenizer_config has checked these files' syntax and the special tokens' names.)
void check_sentencepiece_directory(const std::string& model_path, SentencePieceTokenizer* model);

}  // namespace bert
