// A Hugging Face tokenizer.json (the `tokenizers` library's serialisation) that describes BERT's
// WordPiece tokenizer, read into the vocabulary WordPieceTokenizer runs. transformers 5 saves a
// BERT tokenizer as tokenizer.json alone when it was loaded without a vocab.txt, so a model
// directory may hold no other vocabulary.
//
// Accepted is exactly what WordPieceTokenizer does: model WordPiece ("[UNK]", "##", 100
// characters per word), normalizer BertNormalizer (clean_text, handle_chinese_chars, strip_accents
// null or equal to lowercase), pre_tokenizer BertPreTokenizer, no added tokens but BERT's
// special ones (at their vocabulary ids, with lstrip, rstrip, single_word and normalized false),
// and truncation and padding, when set, on the right. Anything else is an InputError naming the
// file and the field: the text would be tokenized differently from how transformers tokenizes it.
#pragma once

#include <string>
#include <vector>

namespace bert {

struct WordPieceJson {
  std::vector<std::string> tokens;  // by id: model.vocab's ids are 0..n-1, each once
  bool lowercase = true;            // normalizer.lowercase
};

WordPieceJson read_wordpiece_tokenizer_json(const std::string& path);

// True for a file named tokenizer.json (any directory).
bool is_tokenizer_json(const std::string& path);

}  // namespace bert
