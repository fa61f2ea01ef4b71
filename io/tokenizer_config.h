// tokenizer_config.json: what transformers' tokenizer would do with a model directory's text,
// decided the way AutoTokenizer decides it, and refused by field where this engine's tokenizers
// (BERT's WordPiece, or a SentencePiece model) would tokenize differently.
#pragma once

#include <cstdint>
#include <string>

namespace bert {

struct TokenizerChoice {
  bool do_lower_case = true;
  bool keep_accents = true;      // a SentencePiece model's AlbertTokenizer keep_accents (the
                                 // file's; false, AlbertTokenizer's default, when absent)
  std::string note;              // which lower-casing and why, for the log
  int64_t model_max_length = 0;  // the file's "model_max_length"; 0 when it has none or an
                                 // unbounded one (transformers writes int(1e30) for that)
};

// Lower-casing: --do_lower_case when given (flag_given), else the file's "do_lower_case", else
// true (BertTokenizer's default); the note says which, and warns when the flag overrides the
// file. A tokenizer.json vocabulary whose normalizer.lowercase is false without either is
// refused: transformers 4 keeps the case there, transformers 5 lower-cases.
// For a WordPiece directory (vocab.txt or tokenizer.json, as find_vocab_file chooses; a directory
// with neither counts as WordPiece) the file is also held to what WordPiece here does,
// each refusal an InputError naming the file and field:
//   - "strip_accents": null/absent, or equal to the lower-casing (accents are stripped exactly
//     when lower-casing, BertTokenizer's default);
//   - "tokenize_chinese_chars": absent or true;
//   - "tokenizer_class": absent, BertTokenizer or BertTokenizerFast;
//   - added tokens ("added_tokens_decoder" here, and added_tokens.json beside it): only BERT's
//     special tokens [PAD] [UNK] [CLS] [SEP] [MASK], which the tokenizer already cuts out of the
//     text; any other added token would be matched whole by transformers and split here;
//   - "unk_token", "cls_token", "sep_token", "pad_token", "mask_token": BERT's own or absent;
//     "extra_special_tokens" / "additional_special_tokens" empty; "split_special_tokens" false;
//   - "truncation_side" and "padding_side": "right" or absent;
//   - added tokens and special tokens written as objects: "lstrip", "rstrip", "single_word",
//     "normalized" false or absent; a special token null is refused (transformers would have none);
//   - special_tokens_map.json beside it is held to the same special-token rules, and config.json's
//     "tokenizer_class" (which AutoTokenizer follows when tokenizer_config.json names none) to
//     BertTokenizer(Fast).
// For a SentencePiece directory (a *.model vocabulary), tokenized here as transformers'
// AlbertTokenizer (tokenizer/sentencepiece_tokenizer.h): the file is required, with
// "tokenizer_class" AlbertTokenizer(Fast); "keep_accents" is read (false when absent, as
// AlbertTokenizer has it); "add_prefix_space" false is refused; the special tokens (here and in
// special_tokens_map.json) must be AlbertTokenizer's <unk> [CLS] [SEP] <pad> [MASK] ([MASK] may
// have lstrip, as transformers 4 saved it), with the same switches, sides and
// split_special_tokens rules as above; whether the added and extra special tokens are pieces
// the model matches whole is checked when it is loaded (load_tokenizer); lower-casing defaults
// to true (AlbertTokenizer's default too).
// A missing file is otherwise no error (every default applies).
TokenizerChoice read_tokenizer_config(const std::string& dir, bool flag_given, bool flag_value);

}  // namespace bert
